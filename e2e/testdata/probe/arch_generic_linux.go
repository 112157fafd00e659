//go:build arm64 || riscv64 || loong64

package main

// The asm-generic syscall table (include/uapi/asm-generic/unistd.h).
const sysProcessVMReadv = 270

// Foreign syscall ABIs reachable from a 64-bit process exist on amd64
// only (i386 via INT $0x80, x32); elsewhere the probes do not apply.

func int80Socket() string { return "skip" }

func x32Getpid() string { return "skip" }

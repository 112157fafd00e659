package main

import (
	"strconv"
	"syscall"
)

// int80 is in arch_linux_amd64.s.
func int80(trap, a1, a2, a3 uintptr) (r uintptr)

const (
	// i386SysSocket is socket(2) in the i386 table
	// (arch/x86/entry/syscalls/syscall_32.tbl); the i386 gate is reached
	// through INT $0x80 even from a 64-bit process.
	i386SysSocket = 359
	// x32SyscallBit marks a syscall number as x32 ABI (__X32_SYSCALL_BIT).
	x32SyscallBit = 0x40000000
	// sysProcessVMReadv is missing from the frozen syscall package on
	// amd64 (arch/x86/entry/syscalls/syscall_64.tbl).
	sysProcessVMReadv = 310
)

// int80Socket makes an i386 socket(AF_INET, SOCK_STREAM) call. A seccomp
// filter written against the x86_64 table only must kill the process
// here (exit status 159 through zbox); "calling" is printed first so the
// kill is seen to happen at the call.
func int80Socket() string {
	out("int80-socket: calling")
	r := int(int32(int80(i386SysSocket, syscall.AF_INET, syscall.SOCK_STREAM, 0)))
	if r < 0 {
		return result(syscall.Errno(-r))
	}
	syscall.Close(r)
	return "ok (fd " + strconv.Itoa(r) + ")"
}

// x32Getpid makes an x32-ABI getpid call (ENOSYS on kernels without
// CONFIG_X86_X32_ABI, which seccomp still sees first).
func x32Getpid() string {
	out("x32-getpid: calling")
	_, _, e := syscall.RawSyscall(syscall.SYS_GETPID|x32SyscallBit, 0, 0, 0)
	return result(errno(e))
}

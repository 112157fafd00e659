// Adapted from the Go standard library's syscall.rawVforkSyscall
// (src/syscall/asm_linux_arm64.s; BSD-style licence, The Go Authors).

#include "textflag.h"

// func rawVfork(flags uintptr) (pid, errno uintptr)
//
// clone(flags, 0, 0, 0, 0) with CLONE_VM|CLONE_VFORK: the child runs on
// this very stack until it execs or exits. The return address is in LR,
// not on the stack, so the child cannot clobber it.
TEXT ·rawVfork(SB),NOSPLIT,$0-24
	MOVD	flags+0(FP), R0
	MOVD	$0, R1
	MOVD	$0, R2
	MOVD	$0, R3
	MOVD	$0, R4
	MOVD	$0, R5
	MOVD	$220, R8	// SYS_clone
	SVC
	CMN	$4095, R0
	BCC	ok
	MOVD	ZR, pid+8(FP)
	NEG	R0, R0
	MOVD	R0, errno+16(FP)
	RET
ok:
	MOVD	R0, pid+8(FP)
	MOVD	ZR, errno+16(FP)
	RET

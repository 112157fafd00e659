// Adapted from the Go standard library's syscall.rawVforkSyscall
// (src/syscall/asm_linux_amd64.s; BSD-style licence, The Go Authors).

#include "textflag.h"

// func rawVfork(flags uintptr) (pid, errno uintptr)
//
// clone(flags, 0, 0, 0, 0) with CLONE_VM|CLONE_VFORK: the child runs on
// this very stack until it execs or exits, while the parent sleeps in the
// kernel. The return address is kept in a register across the syscall:
// the child, returning first, may reuse the stack slot it was in.
TEXT ·rawVfork(SB),NOSPLIT|NOFRAME,$0-24
	MOVQ	flags+0(FP), DI
	MOVQ	$0, SI
	MOVQ	$0, DX
	MOVQ	$0, R10
	MOVQ	$0, R8
	MOVQ	$0, R9
	MOVQ	$56, AX	// SYS_clone
	POPQ	R12	// preserve return address
	SYSCALL
	PUSHQ	R12
	CMPQ	AX, $0xfffffffffffff001
	JLS	ok
	MOVQ	$0, pid+8(FP)
	NEGQ	AX
	MOVQ	AX, errno+16(FP)
	RET
ok:
	MOVQ	AX, pid+8(FP)
	MOVQ	$0, errno+16(FP)
	RET

//go:build linux

#include "textflag.h"

// func getNofile(old *[2]uint64) (errno uintptr)
//
// prlimit64(0, RLIMIT_NOFILE, NULL, old); returns 0 or -errno.
TEXT ·getNofile(SB),NOSPLIT,$0-16
	MOVQ	$0, DI	// pid: this process
	MOVQ	$7, SI	// RLIMIT_NOFILE
	MOVQ	$0, DX	// new: none
	MOVQ	old+0(FP), R10
	MOVQ	$302, AX	// SYS_prlimit64
	SYSCALL
	MOVQ	AX, errno+8(FP)
	RET

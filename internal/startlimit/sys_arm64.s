//go:build linux

#include "textflag.h"

// func getNofile(old *[2]uint64) (errno uintptr)
//
// prlimit64(0, RLIMIT_NOFILE, NULL, old); returns 0 or -errno.
TEXT ·getNofile(SB),NOSPLIT,$0-16
	MOVD	$0, R0	// pid: this process
	MOVD	$7, R1	// RLIMIT_NOFILE
	MOVD	$0, R2	// new: none
	MOVD	old+0(FP), R3
	MOVD	$261, R8	// SYS_prlimit64
	SVC
	MOVD	R0, errno+8(FP)
	RET

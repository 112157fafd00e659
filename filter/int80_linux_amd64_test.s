#include "textflag.h"

// func int80(trap, a1, a2, a3 uintptr) (r uintptr)
//
// Issues a system call through the i386 compat gate (INT $0x80) from this
// 64-bit process. The kernel then reports AUDIT_ARCH_I386 to seccomp and
// uses the i386 syscall table (socket = 359). Arguments are truncated to
// 32 bits by the gate.
TEXT ·int80(SB),NOSPLIT,$0-40
	MOVQ trap+0(FP), AX
	MOVQ a1+8(FP), BX
	MOVQ a2+16(FP), CX
	MOVQ a3+24(FP), DX
	INT  $0x80
	MOVQ AX, r+32(FP)
	RET

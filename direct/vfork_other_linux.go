//go:build linux && !amd64 && !arm64

package direct

import "syscall"

// rawVfork falls back to a plain fork where no assembly is provided.
//
//go:nosplit
func rawVfork(flags uintptr) (pid, errno uintptr) {
	r, _, e := syscall.RawSyscall6(syscall.SYS_CLONE, flags&^vforkFlags, 0, 0, 0, 0, 0)
	return r, uintptr(e)
}

const vforkFlags = 0x100 | 0x4000 // CLONE_VM | CLONE_VFORK

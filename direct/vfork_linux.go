//go:build amd64 || arm64

package direct

// rawVfork is in vfork_$GOARCH.s.
//
//go:noescape
func rawVfork(flags uintptr) (pid, errno uintptr)

// vforkFlags start the target sharing pid 1's memory until its execve:
// no copy of the address space (a fork of a Go process costs ~0.2 ms in
// page tables alone, and the exec would free the copy again).
const vforkFlags = 0x100 | 0x4000 // CLONE_VM | CLONE_VFORK

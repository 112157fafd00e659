// Package startlimit records the RLIMIT_NOFILE this process was started
// with, before package syscall's init raises the soft limit.
//
// Since Go 1.19, package syscall raises the soft open-files limit to
// (nearly) the hard one when it initialises, and syscall.ForkExec and
// syscall.Exec put the original back in the child, so that programs
// that use select(2), or close every fd up to the limit, see what their
// caller gave them. zbox starts commands with its own fork code (the
// direct start's pid 1, direct.Spawn), which must do the same; but the
// original value is kept in an unexported variable of package syscall.
//
// So this package reads it first. The Go spec initialises packages in
// import-path order, each as soon as its imports are initialised; this
// package imports nothing and its path sorts before "syscall", so its
// init always runs before syscall's. It must stay free of imports (an
// import of syscall, directly or not, would order it after), which is
// why the read is a raw system call in assembly.
package startlimit

// nofile is the (soft, hard) RLIMIT_NOFILE at start; captured says
// whether the read worked (always, on amd64 and arm64).
var (
	nofile   [2]uint64
	captured bool
)

func init() {
	captured = getNofile(&nofile) == 0
}

// NoFile returns the soft and hard RLIMIT_NOFILE the process started
// with, and whether they are known.
func NoFile() (cur, max uint64, ok bool) {
	return nofile[0], nofile[1], captured
}

// Restore says what soft and hard limit a child should get back, given
// the process's current ones: the start values, when the current ones
// are still exactly what package syscall's init set (the soft limit at
// the hard limit or one below it, the hard limit unchanged). Anything
// else means someone set the limit on purpose (a --limit, a prlimit(1)
// from outside), and it stays.
func Restore(curNow, maxNow uint64) (cur, max uint64, ok bool) {
	if !captured || maxNow != nofile[1] || curNow == nofile[0] {
		return 0, 0, false
	}
	if curNow != maxNow && curNow != maxNow-1 {
		return 0, 0, false
	}
	return nofile[0], nofile[1], true
}

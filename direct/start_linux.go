package direct

import (
	"encoding/binary"
	"fmt"
	"syscall"
	_ "unsafe" // go:linkname

	"golang.org/x/sys/unix"

	"github.com/zbox-sandbox/zbox/policy"
)

// The runtime's fork hooks, as syscall.forkExec uses them: BeforeFork
// blocks every signal on this thread and poisons the stack guard (a stack
// check in the child then crashes instead of deadlocking); AfterFork
// restores both in the parent. The runtime exports them to packages
// outside the standard library on purpose (see "hall of shame" in
// runtime/proc.go: gVisor needs the same).
//
//go:linkname runtimeBeforeFork syscall.runtime_BeforeFork
func runtimeBeforeFork()

//go:linkname runtimeAfterFork syscall.runtime_AfterFork
func runtimeAfterFork()

// Start forks the sandbox's pid 1 for the program Compile sealed, with
// the given clone flags (namespace flags; SIGCHLD is added), and returns
// its pid. The child writes its records on Host.ErrW, which must be the
// write end of a close-on-exec pipe that the caller closes right after
// Start and reads to EOF (ReadRecords). The arena holds one program at a
// time: Start the last one compiled.
//
// The caller must hold its OS thread locked (runtime.LockOSThread) from
// before Start until the sandbox is reaped: a parent-death signal is tied
// to the thread that forked, not to the process (golang/go#27505).
func Start(p *Prog, flags uintptr) (int, error) {
	// ForkLock: no other goroutine of ours is between creating an fd and
	// marking it close-on-exec while we copy the fd table (the child
	// closes or marks every inherited fd anyway; this is the standard
	// library's convention).
	syscall.ForkLock.Lock()
	runtimeBeforeFork()
	pid, errno := rawFork(flags)
	runtimeAfterFork()
	syscall.ForkLock.Unlock()
	if errno != 0 {
		return 0, errno
	}
	return pid, nil
}

// ReadRecords decodes what the child wrote on the error pipe: the
// failure, if any (nil when the target has been exec'd), and fills in
// the identity of each ghost it reported.
func ReadRecords(p *Prog, b []byte) *Failure {
	var f *Failure
	for len(b) >= recSize {
		var r [4]uint64
		for i := range r {
			r[i] = binary.NativeEndian.Uint64(b[8*i:])
		}
		b = b[recSize:]
		switch r[0] {
		case recFailure:
			f = &Failure{Phase: int(int32(r[1])), Step: int(int32(r[2])), Errno: syscall.Errno(r[3])}
		case recGhost:
			if i := int(r[1]); i < len(p.Ghosts) {
				g := &p.Ghosts[i]
				g.Dev, g.Ino = r[2], r[3]
			}
		}
	}
	return f
}

// CloneFlags are the clone flags for a plan's namespaces.
func CloneFlags(ns policy.Namespaces) uintptr { return cloneFlags(ns) }

// syscallNames names the syscalls a compiled program makes, for errors.
var syscallNames = map[uintptr]string{
	unix.SYS_MOUNT: "mount", unix.SYS_UMOUNT2: "umount2", unix.SYS_PIVOT_ROOT: "pivot_root",
	unix.SYS_OPEN_TREE: "open_tree", unix.SYS_MOVE_MOUNT: "move_mount", unix.SYS_MOUNT_SETATTR: "mount_setattr",
	unix.SYS_OPENAT2: "openat2", unix.SYS_OPENAT: "openat", unix.SYS_MKDIRAT: "mkdirat", unix.SYS_SYMLINKAT: "symlinkat",
	unix.SYS_UNLINKAT: "unlinkat", unix.SYS_FCHMODAT: "fchmodat", unix.SYS_FCHMOD: "fchmod", unix.SYS_WRITE: "write",
	unix.SYS_CHDIR: "chdir", unix.SYS_SETHOSTNAME: "sethostname", unix.SYS_SOCKET: "socket", unix.SYS_IOCTL: "ioctl",
	unix.SYS_PRCTL: "prctl", unix.SYS_CAPSET: "capset", unix.SYS_KEYCTL: "keyctl", unix.SYS_CLOSE_RANGE: "close_range",
	unix.SYS_LANDLOCK_CREATE_RULESET: "landlock_create_ruleset", unix.SYS_LANDLOCK_RESTRICT_SELF: "landlock_restrict_self",
	unix.SYS_RT_SIGACTION: "rt_sigaction", unix.SYS_RT_SIGPROCMASK: "rt_sigprocmask", unix.SYS_SETSID: "setsid",
	unix.SYS_SETPGID: "setpgid", unix.SYS_DUP3: "dup3", sysFstatat: "fstatat",
}

// Describe says in a few words what failed: the syscall and its errno.
func (p *Prog) Describe(f *Failure) string {
	var steps []Step
	switch f.Phase {
	case PhaseSetup:
		steps = p.Setup
	case PhaseTarget:
		steps = p.Target
	}
	what := fmt.Sprintf("step %d", f.Step)
	switch {
	case f.Phase == PhaseSetup && f.Step == -1:
		what = "signalfd"
	case f.Phase == PhaseSetup && f.Step == -2:
		what = "clone (the command's process)"
	case f.Phase == PhaseTarget && f.Step == len(p.Target):
		what = "execve"
	case f.Step >= 0 && f.Step < len(steps) && steps[f.Step].Kind == kSys:
		if n, ok := syscallNames[steps[f.Step].Nr]; ok {
			what = n
		} else {
			what = fmt.Sprintf("syscall %d", steps[f.Step].Nr)
		}
	}
	return fmt.Sprintf("%s failed: %v (phase %d, step %d)", what, f.Errno, f.Phase, f.Step)
}

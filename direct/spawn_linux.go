package direct

import (
	"errors"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/zbox-sandbox/zbox/internal/startlimit"
)

// Spawn is the general init's fork+exec of the command: what
// syscall.ForkExec does, plus resource limits set in the child just
// before its execve.
//
// Why not syscall.ForkExec: it has no hook between fork and execve, so an
// address-space limit (RLIMIT_AS) could only be put on the command with
// prlimit(2) after it had started, and a command that maps a large region
// in its first instructions kept it. Setting the limit on the init itself
// and letting the child inherit it is no way out either: the init's Go
// runtime already holds more address space than a small limit allows, so
// its next mmap would fail, and without CAP_SYS_RESOURCE in the initial
// user namespace it could never raise the hard limit again. The direct
// start sets the limits in its vfork child; Spawn does the same for the
// general init, with the same discipline (child_linux.go).
//
// The calling thread's state is the child's: its credentials, no_new_privs,
// Landlock domain and seccomp filters (the general init restricts a
// disposable thread and spawns from it), and its parent-death signal ties
// the child to that thread.
type Spawn struct {
	Path      string
	Argv, Env []string
	Dir       string
	// Files[i] becomes the child's fd i; ^uintptr(0) leaves i closed.
	// Every other fd is close-on-exec in the init.
	Files     []uintptr
	Setsid    bool
	Pdeathsig syscall.Signal
	// Rlimits are set on the child just before execve, after the
	// open-files limit the process started with is put back (as
	// syscall.ForkExec does; see internal/startlimit).
	Rlimits []Rlimit
}

// Rlimit is one resource limit for Spawn: soft and hard both Value.
type Rlimit struct {
	Resource int
	Value    uint64
}

// spawnImage is what the child reads: plain words and pointers to
// NUL-terminated strings that the parent's frame keeps alive. The child
// shares the parent's memory (CLONE_VM) and writes only the fds scratch
// array and the errno word, neither of which holds a Go pointer.
type spawnImage struct {
	path, dir    *byte
	argv, envp   **byte
	fds          *int
	nfds         int
	nextFD       int
	errFD        int
	setsid       bool
	pdeathsig    uintptr
	ppid         uintptr
	rlimits      *unix.Rlimit
	resources    *int
	nrlimits     int
	resetSigs    *uintptr
	nresetSigs   int
	rec          [2]uint64 // the failure record: step, errno
	emptySigmask uint64
	dfl          [4]uint64 // struct kernel_sigaction for SIG_DFL
}

// Start forks and execs the command and returns its pid once execve has
// succeeded. An execve failure comes back as the syscall.Errno it
// returned (after the child has been reaped); a failure of an earlier
// step in the child as that step's errno, wrapped with its name.
func (s *Spawn) Start() (int, error) {
	if len(s.Argv) == 0 {
		return 0, errors.New("spawn: empty argv")
	}
	path, err := syscall.BytePtrFromString(s.Path)
	if err != nil {
		return 0, err
	}
	dir, err := syscall.BytePtrFromString(s.Dir)
	if err != nil {
		return 0, err
	}
	argv, err := cstrings(s.Argv)
	if err != nil {
		return 0, err
	}
	envp, err := cstrings(s.Env)
	if err != nil {
		return 0, err
	}
	img := &spawnImage{path: path, dir: dir, argv: &argv[0], envp: &envp[0], setsid: s.Setsid, pdeathsig: uintptr(s.Pdeathsig)}
	fds := make([]int, len(s.Files)+1) // +1: never empty
	img.nextFD = len(s.Files)
	for i, f := range s.Files {
		fds[i] = int(f)
		if f == ^uintptr(0) {
			fds[i] = -1
		}
		if fds[i] >= img.nextFD {
			img.nextFD = fds[i] + 1
		}
	}
	img.fds, img.nfds = &fds[0], len(s.Files)
	lims := make([]unix.Rlimit, 0, len(s.Rlimits)+2)
	res := make([]int, 0, len(s.Rlimits)+2)
	if l, ok := nofileAtStart(); ok {
		lims, res = append(lims, l), append(res, unix.RLIMIT_NOFILE)
	}
	for _, r := range s.Rlimits {
		lims, res = append(lims, unix.Rlimit{Cur: r.Value, Max: r.Value}), append(res, r.Resource)
	}
	img.nrlimits = len(lims)
	lims, res = append(lims, unix.Rlimit{}), append(res, 0) // never empty
	img.rlimits, img.resources = &lims[0], &res[0]
	// Default dispositions before the child unblocks signals: the
	// handlers installed are the Go runtime's, which must not run in a
	// process that shares the init's memory. Ignored signals stay
	// ignored, as execve keeps them.
	sigs := signalsToReset()
	img.nresetSigs = len(sigs)
	sigs = append(sigs, 0) // never empty
	img.resetSigs = &sigs[0]
	if s.Pdeathsig != 0 {
		img.ppid = uintptr(syscall.Getpid())
	}

	// The error pipe: close-on-exec, so the parent reads EOF once the
	// command has exec'd, or one errno word if the child failed.
	syscall.ForkLock.Lock()
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		syscall.ForkLock.Unlock()
		return 0, err
	}
	img.errFD = p[1]
	runtimeBeforeFork()
	pid, errno := vforkSpawn(img)
	runtimeAfterFork()
	syscall.ForkLock.Unlock()
	syscall.Close(p[1])
	defer syscall.Close(p[0])
	if errno != 0 {
		return 0, &SpawnError{Step: "clone", Errno: syscall.Errno(errno)}
	}
	var rec [16]byte
	n := 0
	var readErr error
	for n < len(rec) {
		m, err := syscall.Read(p[0], rec[n:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			readErr = err
			break
		}
		if m == 0 {
			break
		}
		n += m
	}
	// Keep everything the child read alive until it has exec'd.
	runtime.KeepAlive(img)
	runtime.KeepAlive(argv)
	runtime.KeepAlive(envp)
	runtime.KeepAlive(fds)
	runtime.KeepAlive(lims)
	runtime.KeepAlive(res)
	runtime.KeepAlive(sigs)
	if n == 0 && readErr == nil {
		return int(pid), nil
	}
	var ws syscall.WaitStatus
	for {
		if _, err := syscall.Wait4(int(pid), &ws, 0, nil); err != syscall.EINTR {
			break
		}
	}
	if readErr != nil {
		return 0, &SpawnError{Step: "read the child's error pipe", Errno: readErr.(syscall.Errno)}
	}
	if n != len(rec) {
		return 0, errors.New("spawn: short error record from the child")
	}
	step := *(*uint64)(unsafe.Pointer(&rec[0]))
	e := syscall.Errno(*(*uint64)(unsafe.Pointer(&rec[8])))
	if step == spawnStepExec {
		return 0, e
	}
	return 0, &SpawnError{Step: spawnStepNames[step%uint64(len(spawnStepNames))], Errno: e}
}

// SpawnError is a failure of the child before its execve.
type SpawnError struct {
	Step  string
	Errno syscall.Errno
}

func (e *SpawnError) Error() string { return "start the command: " + e.Step + ": " + e.Errno.Error() }
func (e *SpawnError) Unwrap() error { return e.Errno }

// The child's steps, as reported on the error pipe.
const (
	spawnStepFDs = iota
	spawnStepSetsid
	spawnStepPdeathsig
	spawnStepChdir
	spawnStepRlimit
	spawnStepExec
)

var spawnStepNames = [...]string{"move fds", "setsid", "parent-death signal", "chdir", "set resource limit", "execve"}

// cstrings is a NULL-terminated array of C strings. Real pointers, not
// uintptrs: the strings must stay alive as long as the array does.
func cstrings(ss []string) ([]*byte, error) {
	v := make([]*byte, len(ss)+1)
	for i, s := range ss {
		b, err := syscall.BytePtrFromString(s)
		if err != nil {
			return nil, err
		}
		v[i] = b
	}
	return v, nil
}

// vforkSpawn starts the child with CLONE_VM|CLONE_VFORK: it runs on this
// stack, in this frame's callees only, until its execve or exit, while
// this thread sleeps in clone. The child never returns from here.
//
// Never inlined: the child must not run in Start's frame, whose locals
// the parent still needs when it resumes.
//
//go:noinline
//go:nosplit
//go:norace
func vforkSpawn(img *spawnImage) (uintptr, uintptr) {
	pid, errno := rawVfork(vforkFlags | sigCHLD)
	if errno != 0 || pid != 0 {
		return pid, errno
	}
	spawnChild(img)
	return 0, 0 // not reached
}

// spawnChild is the child: the rules of child_linux.go apply (nosplit, no
// allocation, no pointer stores, raw syscalls only). Signals are blocked
// (runtime_BeforeFork) until just before execve.
//
//go:nosplit
//go:norace
func spawnChild(img *spawnImage) {
	fds := unsafe.Slice(img.fds, img.nfds+1)[:img.nfds]
	if img.setsid {
		// EPERM only for a group leader, which a fresh child is not.
		if _, _, e := syscall.RawSyscall(syscall.SYS_SETSID, 0, 0, 0); e != 0 && e != syscall.EPERM {
			spawnFail(img, spawnStepSetsid, e)
		}
	}
	if img.pdeathsig != 0 {
		if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, unix.PR_SET_PDEATHSIG, img.pdeathsig, 0); e != 0 {
			spawnFail(img, spawnStepPdeathsig, e)
		}
		// The parent may have died before the signal was armed.
		if r, _, _ := syscall.RawSyscall(syscall.SYS_GETPPID, 0, 0, 0); r != img.ppid {
			pid, _, _ := syscall.RawSyscall(syscall.SYS_GETPID, 0, 0, 0)
			syscall.RawSyscall(syscall.SYS_KILL, pid, img.pdeathsig, 0)
		}
	}
	// fds, as forkAndExecInChild1 moves them: first every source that
	// sits below its own target index goes above all of them (so the
	// second pass cannot overwrite a source it still needs), the error
	// pipe too; then each goes down to its index.
	next := uintptr(img.nextFD)
	if uintptr(img.errFD) < next {
		if _, _, e := syscall.RawSyscall(syscall.SYS_DUP3, uintptr(img.errFD), next, syscall.O_CLOEXEC); e != 0 {
			spawnFail(img, spawnStepFDs, e)
		}
		img.errFD = int(next)
		next++
	}
	for i := 0; i < len(fds); i++ {
		if fds[i] >= 0 && fds[i] < i {
			if next == uintptr(img.errFD) {
				next++ // the error pipe sits above all the sources already
			}
			if _, _, e := syscall.RawSyscall(syscall.SYS_DUP3, uintptr(fds[i]), next, syscall.O_CLOEXEC); e != 0 {
				spawnFail(img, spawnStepFDs, e)
			}
			fds[i] = int(next)
			next++
		}
	}
	for i := 0; i < len(fds); i++ {
		switch {
		case fds[i] < 0:
			syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(i), 0, 0)
		case fds[i] == i:
			// Already in place: only the close-on-exec flag goes.
			if _, _, e := syscall.RawSyscall(syscall.SYS_FCNTL, uintptr(i), syscall.F_SETFD, 0); e != 0 {
				spawnFail(img, spawnStepFDs, e)
			}
		default:
			if _, _, e := syscall.RawSyscall(syscall.SYS_DUP3, uintptr(fds[i]), uintptr(i), 0); e != 0 {
				spawnFail(img, spawnStepFDs, e)
			}
		}
	}
	if *img.dir != 0 {
		if _, _, e := syscall.RawSyscall(syscall.SYS_CHDIR, uintptr(unsafe.Pointer(img.dir)), 0, 0); e != 0 {
			spawnFail(img, spawnStepChdir, e)
		}
	}
	// The limits last before execve: nothing of the init's runs under
	// them, and the command runs under them from its first instruction.
	lims := unsafe.Slice(img.rlimits, img.nrlimits+1)
	res := unsafe.Slice(img.resources, img.nrlimits+1)
	for i := 0; i < img.nrlimits; i++ {
		if _, _, e := syscall.RawSyscall6(unix.SYS_PRLIMIT64, 0, uintptr(res[i]), uintptr(unsafe.Pointer(&lims[i])), 0, 0, 0); e != 0 {
			spawnFail(img, spawnStepRlimit, e)
		}
	}
	sigs := unsafe.Slice(img.resetSigs, img.nresetSigs+1)
	for i := 0; i < img.nresetSigs; i++ {
		syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, sigs[i], uintptr(unsafe.Pointer(&img.dfl)), 0, 8, 0, 0)
	}
	syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&img.emptySigmask)), 0, 8, 0, 0)
	_, _, e := syscall.RawSyscall(syscall.SYS_EXECVE, uintptr(unsafe.Pointer(img.path)), uintptr(unsafe.Pointer(img.argv)), uintptr(unsafe.Pointer(img.envp)))
	spawnFail(img, spawnStepExec, e)
}

// spawnFail reports (step, errno) on the error pipe and exits 127.
//
//go:nosplit
//go:norace
func spawnFail(img *spawnImage, step uint64, e syscall.Errno) {
	img.rec[0], img.rec[1] = step, uint64(e)
	syscall.RawSyscall(syscall.SYS_WRITE, uintptr(img.errFD), uintptr(unsafe.Pointer(&img.rec[0])), 16)
	for {
		syscall.RawSyscall(syscall.SYS_EXIT_GROUP, execFailCode, 0, 0)
	}
}

// nofileAtStart is the open-files limit to put back in a child: the one
// this process started with, while the current one is still what package
// syscall's init raised it to (internal/startlimit).
func nofileAtStart() (unix.Rlimit, bool) {
	var now unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &now) != nil {
		return now, false
	}
	cur, max, ok := startlimit.Restore(now.Cur, now.Max)
	return unix.Rlimit{Cur: cur, Max: max}, ok
}

package direct

import (
	"syscall"
	"unsafe"
)

// Everything in this file runs in the forked child, which has a copy of
// the parent's memory but only the one thread that called clone: the Go
// runtime's other threads, its scheduler and its allocator are not there.
// So every function is go:nosplit (a stack check could call into the
// runtime; runtime_BeforeFork also poisons the stack guard so that one
// would crash loudly instead of deadlocking), nothing allocates, nothing
// stores a pointer into memory (a write barrier could be armed in the
// copy), and only raw syscalls are made — the rules of the standard
// library's forkAndExecInChild1. Signals stay blocked throughout (the
// mask runtime_BeforeFork set); the target unblocks them just before
// execve.

const (
	sigCHLD       = 17
	sigPWR        = 30
	exitSetupCode = 1
	execFailCode  = 127
)

// rawFork clones with flags (fork semantics: no CLONE_VM). In the child
// it runs the sealed program in the arena and never returns.
//
// The call chains below are kept short: the linker checks that every
// chain of nosplit frames fits the 792-byte nosplit limit, also under
// fuzzing instrumentation, whose coverage counters add a bounds check
// (a panicBounds frame, ~300 bytes) to every function. So nothing is
// more than rawFork → pid1 → run/execCandidates deep.
//
//go:nosplit
//go:norace
func rawFork(flags uintptr) (int, syscall.Errno) {
	r, _, e := syscall.RawSyscall6(syscall.SYS_CLONE, flags|sigCHLD, 0, 0, 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	if r == 0 {
		p := (*image)(unsafe.Pointer(&arena[0]))
		run(p, p.setup, PhaseSetup)
		pid1(p)
	}
	return int(r), 0
}

// steps returns the sealed step list sp.
//
//go:nosplit
//go:norace
func steps(sp span) []Step {
	if sp.n == 0 {
		return nil
	}
	return unsafe.Slice((*Step)(unsafe.Pointer(&arena[sp.off])), sp.n)
}

// run executes steps; a failing step reports and exits.
//
//go:nosplit
//go:norace
func run(p *image, sp span, phase int32) {
	list := steps(sp)
	i := 0
	for {
		if uint(i) >= uint(len(list)) { // unsigned: no bounds check below
			break
		}
		s := &list[i]
		var a [6]uintptr
		for j := 0; j < 6; j++ {
			a[j] = s.Args[j]
			if r := s.ArgReg[j]; r >= 0 {
				a[j] = p.regs[r&7]
			}
		}
		var r1 uintptr
		var e syscall.Errno
		switch s.Kind {
		case kSys:
			r1, _, e = syscall.RawSyscall6(s.Nr, a[0], a[1], a[2], a[3], a[4], a[5])
		case kSet:
			r1 = a[0]
		case kFail:
			e = syscall.Errno(a[0])
		case kGhost:
			g := &p.ghosts[a[0]&(maxGhosts-1)]
			g[0] = *(*uint64)(unsafe.Pointer(&p.statbuf[statDev]))
			g[1] = *(*uint64)(unsafe.Pointer(&p.statbuf[statIno]))
			p.rec[0], p.rec[1], p.rec[2], p.rec[3] = recGhost, uint64(a[0]), g[0], g[1]
			syscall.RawSyscall6(syscall.SYS_WRITE, p.errFD, uintptr(unsafe.Pointer(&p.rec[0])), recSize, 0, 0, 0)
		case kUnlinkSame:
			g := &p.ghosts[a[1]&(maxGhosts-1)]
			_, _, se := syscall.RawSyscall6(sysFstatat, atFDCWD, a[0], uintptr(unsafe.Pointer(&p.statbuf[0])), 0x100, 0, 0) // AT_SYMLINK_NOFOLLOW
			if se == 0 && g[1] != 0 &&
				*(*uint64)(unsafe.Pointer(&p.statbuf[statDev])) == g[0] &&
				*(*uint64)(unsafe.Pointer(&p.statbuf[statIno])) == g[1] {
				// rmdir fails, harmlessly, on a non-empty directory; a
				// file must still be empty.
				if a[2] != 0 || *(*int64)(unsafe.Pointer(&p.statbuf[statSize])) == 0 {
					syscall.RawSyscall6(syscall.SYS_UNLINKAT, atFDCWD, a[0], a[2], 0, 0, 0)
				}
			}
		case kTitle:
			const name = "zbox-init"
			for k := range titleArea {
				var ch byte
				if k < len(name) {
					ch = name[k]
				}
				titleArea[k] = ch
			}
		}
		if e != 0 {
			if matches(s.Ignore, e) {
				e = 0
			} else if matches(s.JumpOn, e) {
				i = int(s.JumpTo)
				continue
			} else {
				fail(p, phase, int32(i), e)
			}
		}
		if s.Save >= 0 {
			p.regs[s.Save&7] = r1
		}
		if s.OKTo > 0 {
			i = int(s.OKTo)
		} else {
			i++
		}
	}
}

//go:nosplit
//go:norace
func matches(mask uint64, e syscall.Errno) bool {
	if e >= 63 {
		return mask&(1<<63) != 0
	}
	return mask&(1<<uint(e)) != 0
}

// execCandidates tries each candidate path of the command with the
// environment the cwd choice picked (register rEnvIx), as execvp does: a missing file moves on, a
// permission error is remembered, anything else stops. It returns only
// on failure.
//
//go:nosplit
//go:norace
func execCandidates(p *image) syscall.Errno {
	env := p.regs[rEnvIx&7]
	var envp uintptr
	if env < p.envs.n {
		envp = *(*uintptr)(unsafe.Pointer(&arena[p.envs.off+8*env]))
	}
	var last syscall.Errno = syscall.ENOENT
	sawEACCES := false
	for k := uintptr(0); k < p.paths.n; k++ {
		path := *(*uintptr)(unsafe.Pointer(&arena[p.paths.off+8*k]))
		_, _, e := syscall.RawSyscall6(syscall.SYS_EXECVE, path, p.argv, envp, 0, 0, 0)
		switch e {
		case syscall.EACCES:
			sawEACCES = true
		case syscall.ENOENT, syscall.ENOTDIR, syscall.ESTALE:
		default:
			return e
		}
		last = e
	}
	if sawEACCES {
		return syscall.EACCES
	}
	return last
}

// fail reports (phase, step, errno) on the error pipe and exits.
//
//go:nosplit
//go:norace
func fail(p *image, phase, step int32, e syscall.Errno) {
	p.rec[0], p.rec[1], p.rec[2], p.rec[3] = recFailure, uint64(uint32(phase)), uint64(uint32(step)), uint64(e)
	syscall.RawSyscall6(syscall.SYS_WRITE, p.errFD, uintptr(unsafe.Pointer(&p.rec[0])), recSize, 0, 0, 0)
	code := uintptr(exitSetupCode)
	if phase == PhaseTarget {
		code = execFailCode
	}
	for {
		syscall.RawSyscall6(syscall.SYS_EXIT_GROUP, code, 0, 0, 0, 0, 0)
	}
}

// pid1 is the sandbox's init once the root is built: it starts the
// target, forwards the signals zbox relays to it, reaps every process
// that ends up in its care, and when the target exits, kills whatever is
// left and exits with the target's status (128+N for a signal), which is
// what zbox reports.
//
//go:nosplit
//go:norace
func pid1(p *image) {
	// SIGCHLD and the relayed signals are already blocked (the whole
	// mask is, since runtime_BeforeFork); read them from a signalfd.
	sfd, _, e := syscall.RawSyscall6(syscall.SYS_SIGNALFD4, ^uintptr(0), uintptr(unsafe.Pointer(&p.mask)), 8, syscall.O_CLOEXEC, 0, 0)
	if e != 0 {
		fail(p, PhaseSetup, -1, e)
	}
	target, errno := rawVfork(vforkFlags | sigCHLD)
	if errno != 0 {
		fail(p, PhaseSetup, -2, syscall.Errno(errno))
	}
	if target == 0 {
		// The target's process, on our stack until its execve: it only
		// ever calls deeper, never returns into frames we still need.
		run(p, p.target, PhaseTarget)
		fail(p, PhaseTarget, int32(p.target.n), execCandidates(p))
	}
	// Only the target (until its execve) and zbox may hold the error
	// pipe now: zbox sees EOF exactly when the command has started.
	syscall.RawSyscall6(syscall.SYS_CLOSE, p.errFD, 0, 0, 0, 0, 0)
	for {
		n, _, e := syscall.RawSyscall6(syscall.SYS_READ, sfd, uintptr(unsafe.Pointer(&p.sigbuf[0])), uintptr(len(p.sigbuf)), 0, 0, 0)
		if e == syscall.EINTR || e == syscall.EAGAIN {
			continue
		}
		if e != 0 || n < 16 {
			// Cannot happen with a valid signalfd; do not spin.
			killAllAndExit(p, 128+9)
		}
		signo := *(*uint32)(unsafe.Pointer(&p.sigbuf[0]))
		code := *(*int32)(unsafe.Pointer(&p.sigbuf[8]))     // ssi_code
		sender := *(*uint32)(unsafe.Pointer(&p.sigbuf[12])) // ssi_pid
		// Signals count only from outside the sandbox: zbox, whose pid
		// does not exist in a new pid namespace (ssi_pid 0), or is its
		// own without one. The target signalling pid 1 reaches nothing.
		// Only kill(2)-style signals (SI_USER, SI_QUEUE, SI_TKILL): a
		// terminal's ^C (SI_KERNEL) reaches the command directly when
		// the sandbox shares zbox's process group.
		sent := code == 0 || code == -1 || code == -6
		fromZbox := sent && (sender == 0 || (p.pidns == 0 && sender == p.parent))
		if signo == sigPWR && fromZbox {
			// zbox died (the parent-death signal of a sandbox with
			// ghosts): end everything, remove the ghosts, exit.
			victim := ^uintptr(0) // the whole pid namespace
			if p.pidns == 0 {
				victim = target
			}
			syscall.RawSyscall6(syscall.SYS_KILL, victim, 9, 0, 0, 0, 0)
			for {
				_, _, e := syscall.RawSyscall6(syscall.SYS_WAIT4, ^uintptr(0), uintptr(unsafe.Pointer(&p.status)), 0, 0, 0, 0)
				if e == syscall.ECHILD {
					break
				}
			}
			run(p, p.cleanup, PhaseCleanup)
			for {
				syscall.RawSyscall6(syscall.SYS_EXIT_GROUP, 128+9, 0, 0, 0, 0, 0)
			}
		}
		if signo != sigCHLD {
			if fromZbox && target != 0 {
				syscall.RawSyscall6(syscall.SYS_KILL, target, uintptr(signo), 0, 0, 0, 0)
			}
			continue
		}
		for {
			pid, _, e := syscall.RawSyscall6(syscall.SYS_WAIT4, ^uintptr(0), uintptr(unsafe.Pointer(&p.status)), syscall.WNOHANG, 0, 0, 0)
			if e == syscall.EINTR {
				continue
			}
			if e == syscall.ECHILD && target == 0 {
				// The command is gone and so is everything it started.
				for {
					syscall.RawSyscall6(syscall.SYS_EXIT_GROUP, p.exitCode, 0, 0, 0, 0, 0)
				}
			}
			if e != 0 || pid == 0 {
				break
			}
			if pid == target {
				st := uint32(p.status)
				code := uintptr((st >> 8) & 0xff)
				if st&0x7f != 0 {
					code = 128 + uintptr(st&0x7f)
				}
				if p.statusFD == 0 {
					killAllAndExit(p, code)
				}
				// bwrap's semantics: report the command's status
				// (zbox returns at once), then go on reaping what it
				// left running; exit when nothing is left.
				p.exitCode = code
				p.rec[0] = uint64(code)
				syscall.RawSyscall6(syscall.SYS_WRITE, p.statusFD, uintptr(unsafe.Pointer(&p.rec[0])), 8, 0, 0, 0)
				syscall.RawSyscall6(syscall.SYS_CLOSE, p.statusFD, 0, 0, 0, 0, 0)
				p.statusFD = 0
				target = 0
			}
		}
	}
}

// killAllAndExit kills every other process of the pid namespace, reaps
// them, and exits with code.
//
//go:nosplit
//go:norace
func killAllAndExit(p *image, code uintptr) {
	if p.pidns == 0 {
		// Not a namespace's init: kill(-1) would reach every process
		// of the user. The command has exited; its children are not
		// ours to wait for.
		for {
			syscall.RawSyscall6(syscall.SYS_EXIT_GROUP, code, 0, 0, 0, 0, 0)
		}
	}
	syscall.RawSyscall6(syscall.SYS_KILL, ^uintptr(0), 9, 0, 0, 0, 0)
	for {
		_, _, e := syscall.RawSyscall6(syscall.SYS_WAIT4, ^uintptr(0), uintptr(unsafe.Pointer(&p.status)), 0, 0, 0, 0)
		if e == syscall.ECHILD {
			break
		}
	}
	for {
		syscall.RawSyscall6(syscall.SYS_EXIT_GROUP, code, 0, 0, 0, 0, 0)
	}
}

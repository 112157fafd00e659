package filter

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// InstallOnThread loads progs, in order, on the calling OS thread only.
//
// The caller must hold runtime.LockOSThread and must never unlock it
// afterwards: seccomp filters and no_new_privs are per-thread attributes,
// and an unlocked filtered thread would go back to the Go scheduler and
// start running arbitrary goroutines under the sandbox's rules. Let the
// goroutine exit while still locked (the runtime then terminates the
// thread), or exec/fork+exec the target from it. Filters are inherited
// by every child created by clone/fork on this thread and survive execve.
//
// Deliberately no SECCOMP_FILTER_FLAG_TSYNC: the other threads of zbox
// (the Go runtime's, the proxy bridges', the supervisor's) must stay
// unfiltered. The Go runtime creates new threads from an unfiltered
// template thread when the current one is locked, so they do not
// inherit the filter either.
//
// no_new_privs is set first: the kernel refuses a filter from a task
// without CAP_SYS_ADMIN in its user namespace unless no_new_privs is set,
// and with it a setuid binary exec'd in the sandbox cannot shed the
// filter by gaining privileges. It is set even for caller-supplied
// programs alone, as bwrap does. With an empty progs nothing is done
// (no_new_privs included: the helper only sets it when a filter is
// installed, so setuid-based launchers keep working).
//
// Programs are loaded with prctl(PR_SET_SECCOMP) - what bwrap uses -
// rather than seccomp(2): a caller-supplied program stacked before ours
// only has to allow prctl, as bwrap documents. If a later program is
// rejected, the earlier ones stay installed (filters cannot be removed):
// the error says so, and the thread must not run the target.
func InstallOnThread(progs []Program) error {
	if len(progs) == 0 {
		return nil
	}
	// Check everything before changing any thread state.
	for _, p := range progs {
		if err := p.check(); err != nil {
			return err
		}
	}

	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("filter: prctl(PR_SET_NO_NEW_PRIVS): %w; the kernel must be 3.5 or newer", err)
	}

	for i, p := range progs {
		if err := load(p); err != nil {
			if i > 0 {
				return fmt.Errorf("%w (programs before %q are already installed on this thread, which must now exit without running the target)", err, p.Name)
			}
			return err
		}
	}
	return nil
}

// load installs one program on the calling thread.
func load(p Program) error {
	insns := p.SockFilters()
	prog := unix.SockFprog{Len: uint16(len(insns)), Filter: &insns[0]}
	// Flags are implicitly 0 with prctl: no TSYNC (per-thread), no LOG,
	// and SSB mitigation left at the kernel's default for seccomp tasks.
	// The pointer conversion is inside the Syscall argument list, where
	// the compiler keeps prog alive and unmoved for the call.
	_, _, errno := unix.Syscall6(unix.SYS_PRCTL, unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER,
		uintptr(unsafe.Pointer(&prog)), 0, 0, 0)
	runtime.KeepAlive(insns)
	if errno == 0 {
		return nil
	}
	var hint string
	switch {
	case errors.Is(errno, unix.EINVAL):
		hint = "the kernel rejected the program (or was built without CONFIG_SECCOMP_FILTER)"
	case errors.Is(errno, unix.EACCES):
		hint = "no_new_privs is not set on this thread and it lacks CAP_SYS_ADMIN"
	case errors.Is(errno, unix.ENOMEM):
		hint = "too many stacked filters: their instructions exceed the kernel's 32768 per-thread limit"
	case errors.Is(errno, unix.EFAULT):
		hint = "bad program pointer"
	default:
		hint = "a filter installed earlier (outside zbox, or a previous program) may deny prctl(PR_SET_SECCOMP)"
	}
	return fmt.Errorf("filter: prctl(PR_SET_SECCOMP) for program %q (%d instructions): %w: %s", p.Name, len(p.Insns), errno, hint)
}

// SockFilters is p in the kernel's struct sock_filter layout (for a
// struct sock_fprog; package direct lays one out in its arena).
func (p Program) SockFilters() []unix.SockFilter {
	insns := make([]unix.SockFilter, len(p.Insns))
	for i, in := range p.Insns {
		insns[i] = unix.SockFilter{Code: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	return insns
}

// check refuses a program this thread cannot load: built for another
// architecture, empty, or longer than the kernel accepts.
func (p Program) check() error {
	if p.Arch != "" && p.Arch != runtime.GOARCH {
		return fmt.Errorf("filter: seccomp program %q was built for %s but this is %s: rebuild it with filter.Build(spec, runtime.GOARCH)", p.Name, p.Arch, runtime.GOARCH)
	}
	if len(p.Insns) == 0 || len(p.Insns) > bpfMaxInsns {
		return fmt.Errorf("filter: seccomp program %q has %d instructions; the kernel accepts 1 to %d", p.Name, len(p.Insns), bpfMaxInsns)
	}
	return nil
}

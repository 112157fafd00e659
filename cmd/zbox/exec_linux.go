package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/zbox-sandbox/zbox/direct"
	"github.com/zbox-sandbox/zbox/filter"
	"github.com/zbox-sandbox/zbox/lsm"
	"github.com/zbox-sandbox/zbox/policy"
)

// execInPlace runs plan's command in this very process, with no new
// namespaces: the helper's full-disk-write shortcut, its inner stage
// (--apply-seccomp-then-exec, already inside bwrap's namespaces), and the
// Landlock-only mode for hosts without user namespaces.
//
// The restrictions go on the calling thread, which is locked and then
// replaced by execve: the new program image keeps that thread's
// credentials, no_new_privs, Landlock domain and seccomp filter, and every
// other thread of the Go runtime disappears with the old image.
//
// It returns only on failure: *ExecError when the command cannot be
// executed, another error when a restriction cannot be applied.
func execInPlace(plan *policy.Plan) error {
	if len(plan.Command) == 0 {
		return &SetupError{Msg: "no command to run"}
	}
	env := plan.Env
	if env == nil {
		env = os.Environ()
	}
	if plan.Chdir != "" {
		if err := os.Chdir(plan.Chdir); err != nil {
			return &SetupError{Msg: fmt.Sprintf("chdir %s: %s", plan.Chdir, errnoText(err))}
		}
	}
	path, err := lookPath(plan.Command[0], env)
	if err != nil {
		var errno syscall.Errno
		errors.As(err, &errno)
		return &ExecError{Cmd: plan.Command[0], Errno: int(errno), Text: errnoText(err)}
	}
	argv := append([]string(nil), plan.Command...)
	if plan.Argv0 != "" {
		argv[0] = plan.Argv0
	}
	var progs []filter.Program
	if plan.Filter.Enabled || len(plan.Filter.Programs) > 0 {
		if progs, err = filter.Build(plan.Filter, runtime.GOARCH); err != nil {
			return &SetupError{Msg: fmt.Sprintf("build seccomp filter: %v", err)}
		}
	}
	// Inherited descriptors other than stdio (and those a front-end keeps)
	// must not reach the command.
	closeRangeCloexec(3)
	for _, fd := range plan.Status.KeepFDs {
		_, _ = unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0)
	}

	runtime.LockOSThread() // never unlocked: this thread becomes the command
	if plan.DieWithParent {
		// The command dies with our parent. On this thread: the signal
		// is a per-thread setting (a Go runtime thread starts with none)
		// and this one execs. SIGKILL, not the init's SIGPWR: a pid
		// namespace's init (bwrap --as-pid-1) ignores every signal it
		// has no handler for, but not SIGKILL from outside.
		if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
			return &SetupError{Msg: fmt.Sprintf("parent-death signal: %v", err)}
		}
	}
	if plan.NewSession {
		if _, err := unix.Setsid(); err != nil && !errors.Is(err, unix.EPERM) {
			return &SetupError{Msg: fmt.Sprintf("setsid: %v", err)}
		}
	}
	if err := restrictThread(plan, progs, restrictOpts{beforeExec: true}); err != nil {
		return &SetupError{Msg: err.Error()}
	}
	err = unix.Exec(path, argv, env)
	var errno syscall.Errno
	errors.As(err, &errno)
	return &ExecError{Cmd: plan.Command[0], Errno: int(errno), Text: errnoText(err)}
}

// landlockFromPlan derives the Landlock-only equivalent of a namespace
// plan, for hosts without user namespaces: binds become read or write
// rules on their sources, the tmpfs root becomes "read only the bound
// paths". What Landlock cannot express is returned in weaker, one short
// phrase each, for the warning line: deny masks inside readable paths
// (Landlock only grants), protected read-only subpaths inside writable
// roots, the private /proc, /dev and /tmp, and the pid/ipc/uts/net
// namespaces.
func landlockFromPlan(plan *policy.Plan) (spec policy.LandlockSpec, weaker []string) {
	spec = policy.LandlockSpec{FS: true, Scope: true, Required: true}
	var masks, protected bool
	writable := map[string]bool{}
	for _, op := range plan.Mounts {
		switch op.Kind {
		case policy.OpROBind:
			if op.Source == "/dev/null" {
				masks = true
				continue
			}
			for w := range writable {
				if op.Source == w || strings.HasPrefix(op.Source, strings.TrimSuffix(w, "/")+"/") {
					protected = true
				}
			}
			spec.ReadPaths = append(spec.ReadPaths, op.Source)
		case policy.OpBind, policy.OpDevBind:
			spec.WritePaths = append(spec.WritePaths, op.Source)
			writable[op.Source] = true
		case policy.OpROBindData, policy.OpBindData:
			masks = true
		case policy.OpTmpfs:
			if op.Dest != "/" {
				masks = true
			}
		}
	}
	// Programs need /dev and /proc even when the plan built private ones.
	spec.ReadPaths = append(spec.ReadPaths, "/proc", "/dev")
	if masks {
		weaker = append(weaker, "deny-read paths are not hidden")
	}
	if protected {
		weaker = append(weaker, "read-only paths inside writable ones (.git, .codex) stay writable")
	}
	if plan.Namespaces.Net && plan.Network.Mode == policy.NetProxyOnly {
		weaker = append(weaker, "no proxy bridge: all IP networking is denied")
	}
	weaker = append(weaker, "no private /proc, /dev, pid, ipc or uts namespace")
	if !slices.ContainsFunc(plan.Mounts, func(op policy.MountOp) bool { return op.Kind == policy.OpProc }) {
		weaker = append(weaker, "--no-proc is not honoured: /proc stays readable")
	}
	// Landlock controls content, not metadata: no read-only bind here.
	weaker = append(weaker, "the user's files outside the writable paths can still be chmod-ed, re-timed and given extended attributes")
	return spec, weaker
}

// runLandlockOnly runs plan's command in this process with no namespaces:
// Landlock (from landlockFromPlan) and the plan's seccomp filter, then
// execve. Proxy-only networking fails closed there: the filter denies
// every IP socket. It returns only on failure.
func runLandlockOnly(plan *policy.Plan) error {
	p := *plan
	spec, _ := landlockFromPlan(plan)
	if p.Landlock != nil {
		spec.Scope = p.Landlock.Scope
	}
	p.Landlock = &spec
	if p.Network.Mode == policy.NetProxyOnly {
		p.Filter.Enabled = true
		p.Filter.Network = policy.SeccompRestricted
	}
	p.Namespaces = policy.Namespaces{}
	p.Mounts = nil
	return execInPlace(&p)
}

// restrictOpts tune restrictThread for its three callers.
type restrictOpts struct {
	// beforeExec: the thread execs next (so it may be the main thread).
	beforeExec bool
	// alwaysNoNewPrivs sets no_new_privs even with no filter or
	// Landlock rules (sandboxes built by the init; bwrap does the same).
	// The helper's in-place shortcut leaves it off then, as the helper
	// does, so that setuid programs keep working under
	// danger-full-access.
	alwaysNoNewPrivs bool
	// step, if set, is told when each restriction is in place.
	step func(string)
	// connectNotify, if set, installs filter.ConnectNotifyProgram with a
	// listener before the policy filter and hands the listener fd (in
	// this process, close-on-exec) to connectNotify, which owns it. A
	// failure to install it is not an error: it is reported to
	// connectNotify as -1 and the reason, and the bridge listeners relay.
	connectNotify func(fd int, err error)
}

// restrictThread puts on the calling thread — locked, and about to fork
// or exec the target — everything the target must carry, in this order:
// a fresh anonymous session keyring (keyrings are not namespaced), the
// capability sets reduced to plan.Caps (the bounding set first, which
// needs CAP_SETPCAP), no_new_privs, Landlock, and the seccomp filter last
// so that it need not allow anything zbox itself does. All of it is
// per-thread and copied by fork and kept by execve.
func restrictThread(plan *policy.Plan, progs []filter.Program, o restrictOpts) error {
	step := o.step
	if step == nil {
		step = func(string) {}
	}
	if err := joinAnonymousKeyring(); err != nil {
		return err
	}
	step("session keyring")
	if err := dropCapsThread(plan.Caps.Keep, plan.Caps.Ambient, plan.Caps.KeepBounding); err != nil {
		return fmt.Errorf("drop capabilities: %w", err)
	}
	step("capabilities dropped")
	if o.alwaysNoNewPrivs {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("no_new_privs: %w", err)
		}
	}
	if plan.Landlock != nil {
		restrict := lsm.RestrictThread
		if o.beforeExec {
			restrict = lsm.RestrictThreadBeforeExec
		}
		rep, err := restrict(*plan.Landlock)
		if err != nil {
			return fmt.Errorf("landlock: %w", err)
		}
		step("landlock: " + rep.String())
	}
	if o.connectNotify != nil {
		// Before the policy filter, which then need not allow seccomp(2);
		// no_new_privs is already set (alwaysNoNewPrivs).
		fd, err := installConnectNotify()
		o.connectNotify(fd, err)
		if err == nil {
			step("seccomp connect-notify")
		}
	}
	if len(progs) > 0 {
		if err := filter.InstallOnThread(progs); err != nil {
			return fmt.Errorf("seccomp: %w", err)
		}
		step("seccomp")
	}
	return nil
}

// installConnectNotify puts the proxy redirect's filter on the calling
// thread and returns its listener (netns.Redirector serves it).
func installConnectNotify() (int, error) {
	p, err := filter.ConnectNotifyProgram(runtime.GOARCH)
	if err != nil {
		return -1, err
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return -1, fmt.Errorf("no_new_privs: %w", err)
	}
	return filter.InstallWithListener(p)
}

// startRestricted starts sp from a disposable thread that first takes on
// plan's restrictions (restrictThread), and returns the child's pid. An
// execve failure is an *ExecError. The thread is locked, is never the
// main thread (whose credentials the kernel checks for signals and /proc
// access to this process) and stays alive until done is closed: a
// parent-death signal is tied to the forking thread, not the process
// (golang/go#27505). The runtime destroys it afterwards.
//
// The fork is direct.Spawn's rather than syscall.ForkExec's so that the
// plan's resource limits, the address space included, are set in the
// child just before execve (see there).
func startRestricted(plan *policy.Plan, progs []filter.Program, o restrictOpts, sp *direct.Spawn, done <-chan struct{}) (int, error) {
	if l := plan.Limits; l != nil && l.MemoryBytes > 0 {
		sp.Rlimits = append(sp.Rlimits, direct.Rlimit{Resource: unix.RLIMIT_AS, Value: l.MemoryBytes})
	}
	type result struct {
		pid int
		err error
	}
	ch := make(chan result, 1)
	go lsm.RunOnDisposableThread(func() {
		if err := restrictThread(plan, progs, o); err != nil {
			ch <- result{err: err}
			return
		}
		pid, err := sp.Start()
		if err != nil {
			var errno syscall.Errno
			if errors.As(err, &errno) && !errors.As(err, new(*direct.SpawnError)) {
				err = &ExecError{Cmd: plan.Command[0], Errno: int(errno), Text: errnoText(err)}
			}
			ch <- result{err: err}
			return
		}
		ch <- result{pid: pid}
		<-done
	})
	r := <-ch
	return r.pid, r.err
}

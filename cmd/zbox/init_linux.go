package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/zbox-sandbox/zbox/direct"
	"github.com/zbox-sandbox/zbox/filter"
	"github.com/zbox-sandbox/zbox/mountns"
	"github.com/zbox-sandbox/zbox/netns"
	"github.com/zbox-sandbox/zbox/policy"
)

// runInit is pid 1 of the sandbox. It never returns.
func runInit() {
	mainAt := time.Now()
	// "zbox-init" in ps and /proc/1/comm (the exec'd path is
	// /proc/self/exe, so the kernel's name would be "exe").
	_ = unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&[]byte("zbox-init\x00")[0])), 0, 0, 0)
	ctl := 4
	// Nothing the outer inherited (and so nothing we inherited) may reach
	// the target: mark every fd above stderr close-on-exec, the control
	// socket included (the outer sees EOF on it when we exit).
	closeRangeCloexec(3)

	cfgFile := os.NewFile(3, "config")
	var cfg initConfig
	err := json.NewDecoder(cfgFile).Decode(&cfg)
	cfgFile.Close()
	if err != nil {
		initFail(ctl, fmt.Sprintf("read sandbox config: %v", err))
	}
	in := &initProc{cfg: cfg, plan: cfg.Plan, ctl: ctl, start: time.Now()}
	if cfg.Debug {
		in.log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("stage", "init")
		// How long the Go runtime took to reach main after the outer saw
		// the exec succeed, and how long the config took to arrive.
		in.log.Debug("init running", "runtime_start", mainAt.Sub(time.Unix(0, cfg.StartedNS)).Round(time.Microsecond), "config", in.start.Sub(mainAt).Round(time.Microsecond))
	}
	status := in.run()
	runBeforeExit()
	os.Exit(status)
}

type initProc struct {
	cfg   initConfig
	plan  *policy.Plan
	ctl   int
	log   *slog.Logger
	start time.Time
	last  time.Time
}

func (in *initProc) step(name string, args ...any) {
	if in.log == nil {
		return
	}
	now := time.Now()
	if in.last.IsZero() {
		in.last = in.start
	}
	in.log.Debug(name, append(args, "took", now.Sub(in.last).Round(time.Microsecond))...)
	in.last = now
}

func (in *initProc) run() int {
	p := in.plan
	// Signals for the target arrive here first (from the outer, which
	// forwards what it receives). Install the handler before anything
	// else so none is lost while we set up.
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT,
		syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH, syscall.SIGCHLD, parentDeathSignal)
	// A parent-death signal that came before Notify was dropped (the Go
	// runtime ignores SIGPWR until asked for it): zbox may have died while
	// this process started. Its end of the control socket would then be
	// closed; act as if the signal had come, so that the sandbox does not
	// run on unsupervised (no --timeout, nobody to report to).
	pfd := []unix.PollFd{{Fd: int32(in.ctl), Events: unix.POLLRDHUP}}
	if n, err := unix.Poll(pfd, 0); err == nil && n > 0 && pfd[0].Revents&(unix.POLLHUP|unix.POLLRDHUP) != 0 {
		sigs <- parentDeathSignal
	}

	// bwrap's --bind-fd/--ro-bind-fd: the source is a caller fd that the
	// outer passed on; bind it through our own /proc/self/fd entry.
	bindFDs := map[int]int{}
	for i, pf := range in.cfg.FDs {
		if pf.Role == "bind" {
			bindFDs[pf.Orig] = firstPassedFD + i
		}
	}
	for i := range p.Mounts {
		if op := &p.Mounts[i]; op.FD != nil {
			if fd, ok := bindFDs[*op.FD]; ok {
				op.Source = fmt.Sprintf("/proc/self/fd/%d", fd)
			}
		}
	}
	// The limits' cgroup (made by the outer, which removes it when the
	// sandbox ends) must also go when the outer is SIGKILLed. Open what
	// that takes now, while the host's /sys/fs/cgroup is reachable and
	// writable: after the pivot it is read-only or gone.
	if len(in.cfg.Cgroups) > 0 {
		if rm := prepareCgroupRemoval(in.cfg.Cgroups); rm != nil {
			atExit(rm)
		}
	}
	// The user-namespace limit is a per-namespace sysctl that applies to
	// whoever writes it, through any procfs: set it while the outer /proc
	// is still reachable, so it also works when the sandbox gets none.
	if p.DisableUserns || p.AssertUsernsDisabled {
		if err := disableUserns(p.DisableUserns); err != nil {
			initFail(in.ctl, err.Error())
		}
	}
	if p.Namespaces.Mount && !inNewMountNamespace() {
		// zbox-init run by hand (a symlink, exec -a) would pivot the
		// caller's own mount namespace.
		initFail(in.ctl, "zbox-init is zbox's internal sandbox stage and must be started by zbox itself")
	}
	if p.Namespaces.Mount {
		var logf func(string, ...any)
		if in.log != nil {
			logf = func(f string, a ...any) { in.log.Debug(fmt.Sprintf(f, a...)) }
		}
		res, err := mountns.Build(p.Mounts, mountns.Options{Logf: logf, HostRoot: in.cfg.HostRoot})
		if err != nil {
			if !in.cfg.KeepGhosts {
				mountns.RemoveGhostsInside(res.Ghosts, false)
			}
			initFail(in.ctl, err.Error())
		}
		if !in.cfg.KeepGhosts && len(res.Ghosts) > 0 {
			// From here on, every way out of the init first removes the
			// mount points the build created on the host.
			ghosts, covering := res.Ghosts, res.Covering
			atExit(func() {
				mountns.DetachCovering(covering)
				mountns.RemoveGhostsInside(ghosts, true)
			})
		}
		in.step("mounts built", "ops", len(p.Mounts), "proc", res.Proc)
		if len(res.Ghosts) > 0 {
			b, _ := json.Marshal(res.Ghosts)
			sendMsg(in.ctl, append([]byte{msgGhosts}, b...), nil)
		}
	}
	if p.Hostname != "" {
		if err := unix.Sethostname([]byte(p.Hostname)); err != nil {
			initFail(in.ctl, fmt.Sprintf("sethostname %q: %v", p.Hostname, err))
		}
	}

	env := p.Env
	if env == nil {
		env = os.Environ()
	}
	if p.Namespaces.Net {
		if err := netns.LoopbackUpFresh(); err != nil {
			initFail(in.ctl, err.Error())
		}
		in.step("loopback up")
		if p.Network.Mode == policy.NetProxyOnly {
			var err error
			env, err = in.proxyListeners(env)
			if err != nil {
				initFail(in.ctl, err.Error())
			}
			in.step("proxy listeners", "routes", len(p.Network.Routes))
		}
	}

	// Make pid 1 non-dumpable so that the target (same uid) can neither
	// ptrace it nor read its memory or environment through /proc.
	_ = unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)

	cwd := in.chooseCwd(env)
	argv := append([]string(nil), p.Command...)
	path, err := lookPath(argv[0], env)
	if err != nil {
		initExecFail(in.ctl, argv[0], err)
	}
	if p.Argv0 != "" {
		argv[0] = p.Argv0
	}
	var progs []filter.Program
	if p.Filter.Enabled || len(p.Filter.Programs) > 0 {
		progs, err = filter.Build(p.Filter, runtime.GOARCH)
	}
	if err != nil {
		initFail(in.ctl, fmt.Sprintf("build seccomp filter: %v", err))
	}
	// Default bwrap rule: cwd is also exported as PWD.
	env = policy.SetEnv(env, "PWD", cwd)

	// Per-process limits that are safe for pid 1 to carry itself are set
	// here and inherited through fork: the process count (a fork bomb is
	// stopped before its first fork), open files and CPU seconds (each
	// process's own counter starts at zero). The address-space limit is
	// set in the target's process just before its execve (startRestricted):
	// the init's Go runtime reserves over a gigabyte of address space and
	// would die under a small one.
	if l := p.Limits; l != nil {
		for _, rl := range []struct {
			res int
			v   uint64
		}{{unix.RLIMIT_NPROC, l.Processes}, {unix.RLIMIT_NOFILE, l.OpenFiles}, {unix.RLIMIT_CPU, l.CPUSeconds}} {
			if rl.v == 0 {
				continue
			}
			if err := unix.Setrlimit(rl.res, &unix.Rlimit{Cur: rl.v, Max: rl.v}); err != nil {
				initFail(in.ctl, fmt.Sprintf("set resource limit %d to %d: %v", rl.res, rl.v, err))
			}
		}
	}

	// bwrap's --lock-file: pid 1 holds a read lock on each file (opened
	// inside the sandbox) for as long as the sandbox lives.
	for _, lf := range p.Status.LockFiles {
		fd, err := unix.Open(lf, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			initFail(in.ctl, fmt.Sprintf("Unable to open lock file %s: %s", lf, errnoText(err)))
		}
		lk := unix.Flock_t{Type: unix.F_RDLCK, Whence: 0}
		if err := unix.FcntlFlock(uintptr(fd), unix.F_SETLK, &lk); err != nil {
			initFail(in.ctl, fmt.Sprintf("Unable to lock file %s: %s", lf, errnoText(err)))
		}
	}
	files := []uintptr{0, 1, 2}
	for i, pf := range in.cfg.FDs {
		fd := firstPassedFD + i
		switch pf.Role {
		case "block":
			// bwrap's --block-fd: wait for one byte (or EOF) before the
			// command starts.
			var b [1]byte
			for {
				if _, err := unix.Read(fd, b[:]); !errors.Is(err, unix.EINTR) {
					break
				}
			}
			unix.Close(fd)
		case "keep":
			for len(files) <= pf.Orig {
				files = append(files, ^uintptr(0)) // -1: closed in the child
			}
			files[pf.Orig] = uintptr(fd)
		}
		// "sync" stays open, close-on-exec, in pid 1 only: the caller
		// sees it close when the sandbox is gone.
	}

	if p.AsPID1 {
		// bwrap --as-pid-1: no reaper; the command replaces this process
		// and becomes pid 1 of the namespace itself.
		in.execAsPID1(env, cwd, files)
	}

	done := make(chan struct{})
	pid, err := in.spawn(path, argv, env, cwd, progs, files, done)
	if err != nil {
		var ee *ExecError
		if errors.As(err, &ee) {
			initExecFail(in.ctl, p.Command[0], syscall.Errno(ee.Errno))
		}
		initFail(in.ctl, err.Error())
	}
	in.step("target started", "pid", pid)
	sendMsg(in.ctl, append([]byte{msgStarted}, strconv.Itoa(pid)...), nil)
	return in.reap(pid, sigs, done)
}

// reap waits for the target, reaping every orphan that pid 1 inherits on
// the way, and forwards signals to the target. It returns the exit
// status zbox must report.
func (in *initProc) reap(target int, sigs chan os.Signal, done chan struct{}) int {
	status := -1
	for {
		// Reap everything that is ready before blocking again.
		for {
			var ws unix.WaitStatus
			pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil || pid <= 0 {
				if errors.Is(err, unix.ECHILD) && status >= 0 {
					return status
				}
				break
			}
			if pid == target {
				status = exitStatus(ws)
				close(done)
				sendMsg(in.ctl, append([]byte{msgExited}, strconv.Itoa(status)...), nil)
				in.step("target exited", "status", status)
				if !in.cfg.KeepReaping {
					// Nothing outlives the command: pid 1's exit would
					// make the kernel kill the rest anyway, but the
					// clean-up before it must not race them.
					in.killAll()
					return status
				}
			}
		}
		sig := <-sigs
		if sig == syscall.SIGCHLD {
			continue
		}
		if sig == parentDeathSignal {
			// zbox is gone (even SIGKILLed): end the sandbox, after the
			// clean-up zbox can no longer do.
			in.killAll()
			if status < 0 {
				status = 128 + int(syscall.SIGKILL)
			}
			return status
		}
		if status < 0 && (in.plan.NewSession || !ttySignal(sig)) {
			// (Without a new session the command shares our process
			// group and gets terminal signals directly.)
			_ = unix.Kill(target, sig.(syscall.Signal))
		}
	}
}

func exitStatus(ws unix.WaitStatus) int {
	switch {
	case ws.Exited():
		return ws.ExitStatus()
	case ws.Signaled():
		return 128 + int(ws.Signal())
	}
	return 255
}

// spawn forks the target from a dedicated, locked OS thread that first
// takes on the target's restrictions: no_new_privs, Landlock, then
// seccomp as the very last step (so the filter need not allow anything
// zbox itself does). fork copies the calling thread's seccomp filters,
// Landlock domain and credentials into the child; the init's other
// threads stay unrestricted.
//
// The thread is never unlocked: when its function returns, the Go
// runtime destroys it instead of reusing a restricted thread. It also
// stays alive until the target has exited, because a parent-death signal
// is tied to the forking thread, not the process (golang/go#27505).
func (in *initProc) spawn(path string, argv, env []string, cwd string, progs []filter.Program, files []uintptr, done chan struct{}) (int, error) {
	p := in.plan
	sp := &direct.Spawn{Path: path, Argv: argv, Env: env, Dir: cwd, Files: files, Setsid: p.NewSession}
	if p.DieWithParent && !p.Namespaces.PID {
		// Inside a pid namespace pid 1's death kills everything; without
		// one, the target needs its own death signal.
		sp.Pdeathsig = syscall.SIGKILL
	}
	o := restrictOpts{alwaysNoNewPrivs: true, step: func(what string) { in.step(what) }}
	if in.cfg.RedirectConnect {
		o.connectNotify = func(fd int, err error) {
			if err != nil {
				sendMsg(in.ctl, append([]byte{msgRedirect}, err.Error()...), nil)
				return
			}
			// The outer serves it; this copy must not stay open in pid 1,
			// or the listener would not see the target's end.
			sendMsg(in.ctl, []byte{msgRedirect}, []int{fd})
			unix.Close(fd)
		}
	}
	return startRestricted(p, progs, o, sp, done)
}

// chooseCwd applies Plan.Chdir, else bwrap's rule: the caller's cwd if it
// exists in the sandbox, else $HOME, else /.
func (in *initProc) chooseCwd(env []string) string {
	if d := in.plan.Chdir; d != "" {
		if err := os.Chdir(d); err != nil {
			initFail(in.ctl, fmt.Sprintf("Can't chdir to %s: %v", d, errnoText(err)))
		}
		return d
	}
	candidates := []string{in.cfg.Cwd, policy.GetEnv(env, "HOME"), "/"}
	for _, d := range candidates {
		if d != "" && os.Chdir(d) == nil {
			return d
		}
	}
	return "/"
}

// lookPath finds file on the target's PATH, inside the sandbox's root.
func lookPath(file string, env []string) (string, error) {
	if strings.Contains(file, "/") {
		if err := checkExec(file); err != nil {
			return "", err
		}
		return file, nil
	}
	var firstErr error = syscall.ENOENT
	for _, p := range policy.ExecCandidates(file, env) {
		err := checkExec(p)
		if err == nil {
			return p, nil
		}
		if errors.Is(err, syscall.EACCES) {
			firstErr = err
		}
	}
	return "", firstErr
}

func checkExec(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		// execvp reports EACCES when a PATH directory could not be
		// searched and nothing else was found.
		if errors.Is(err, syscall.EACCES) {
			return syscall.EACCES
		}
		return syscall.ENOENT
	}
	if fi.IsDir() {
		return syscall.EACCES
	}
	if err := unix.Access(p, unix.X_OK); err != nil {
		return err
	}
	return nil
}

func (in *initProc) proxyListeners(env []string) ([]string, error) {
	routes := in.plan.Network.Routes
	endpoints := netns.DistinctEndpoints(routes)
	ports := map[string]int{}
	var fds []int
	for _, ep := range endpoints {
		fd, port, err := listenLoopback()
		if err != nil {
			return nil, fmt.Errorf("proxy bridge: listen on 127.0.0.1 in the sandbox: %w", err)
		}
		fds = append(fds, fd)
		ports[ep] = port
	}
	msg, _ := json.Marshal(endpoints)
	if err := sendMsg(in.ctl, append([]byte{msgListeners}, msg...), fds); err != nil {
		return nil, fmt.Errorf("proxy bridge: hand listeners to zbox: %w", err)
	}
	for _, fd := range fds {
		unix.Close(fd)
	}
	return netns.RewriteEnv(env, routes, ports)
}

// listenLoopback opens a TCP listener on 127.0.0.1:0 in the sandbox's
// network namespace. The socket stays bound to this namespace when its fd
// is passed to the outer zbox, which accepts on it from the host side: no
// proxy code runs inside the sandbox and no socket file is needed.
func listenLoopback() (fd, port int, err error) {
	fd, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, 0, err
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		unix.Close(fd)
		return -1, 0, err
	}
	if err := unix.Listen(fd, 512); err != nil {
		unix.Close(fd)
		return -1, 0, err
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return -1, 0, err
	}
	return fd, sa.(*unix.SockaddrInet4).Port, nil
}

// dropCapsThread removes every capability not in keep from the calling
// thread (which must be locked): ambient set cleared, bounding set reduced
// (needs CAP_SETPCAP, so before capset), then effective, permitted and
// inheritable set to keep. Capabilities are per-thread and fork copies the
// forking thread's, so this is all the target needs. Doing it on one
// thread costs ~50 syscalls; syscall.AllThreadsSyscall would stop the
// world for each of them (~2 ms per sandbox start).
func dropCapsThread(keep []int, raiseAmbient, keepBounding bool) error {
	keepSet := map[int]bool{}
	for _, c := range keep {
		keepSet[c] = true
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("clear ambient capabilities: %w", err)
	}
	for c := 0; c <= unix.CAP_LAST_CAP+8 && !keepBounding; c++ {
		if keepSet[c] {
			continue
		}
		if r, _ := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0); r != 1 {
			continue // unknown to this kernel, or already dropped
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
			if errors.Is(err, unix.EPERM) {
				// No CAP_SETPCAP: an unprivileged caller running in
				// place (no user namespace of ours). It holds no
				// capabilities to lose, and no_new_privs (set with every
				// filter) stops it gaining any through setuid or file
				// capabilities; the bounding set cannot matter.
				break
			}
			return fmt.Errorf("drop capability %d from the bounding set: %w", c, err)
		}
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var cur [2]unix.CapUserData
	if err := unix.Capget(&hdr, &cur[0]); err != nil {
		return fmt.Errorf("capget: %w", err)
	}
	// Only capabilities we hold can be kept (a bwrap --uid switch or an
	// unprivileged caller may have fewer than asked for).
	var kept []int
	for c := range keepSet {
		if c >= 0 && c < 64 && cur[c/32].Permitted&(1<<(c%32)) != 0 {
			kept = append(kept, c)
		}
	}
	// A non-zero uid loses every capability at execve unless it is
	// ambient, and ambient needs it inheritable too. bwrap raises the
	// requested ones as ambient when --cap-add/--cap-drop was used, and
	// otherwise leaves the inheritable set alone.
	ambient := raiseAmbient
	hdr = unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	for _, c := range kept {
		data[c/32].Effective |= 1 << (c % 32)
		data[c/32].Permitted |= 1 << (c % 32)
		if ambient {
			data[c/32].Inheritable |= 1 << (c % 32)
		}
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	if ambient {
		for _, c := range kept {
			if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(c), 0, 0); err != nil {
				return fmt.Errorf("raise ambient capability %d: %w", c, err)
			}
		}
	}
	return nil
}

func closeRangeCloexec(from uint) {
	if err := unix.CloseRange(from, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err == nil {
		return
	}
	// Pre-5.11 kernels: walk the fd table.
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd >= int(from) {
			unix.CloseOnExec(fd)
		}
	}
}

func initFail(ctl int, msg string) {
	sendMsg(ctl, append([]byte{msgSetupError}, msg...), nil)
	runBeforeExit()
	os.Exit(exitSetup)
}

func initExecFail(ctl int, cmd string, err error) {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		errno = syscall.ENOENT
	}
	sendMsg(ctl, append([]byte{msgExecError}, fmt.Sprintf("%d\x00%s", int(errno), cmd)...), nil)
	runBeforeExit()
	os.Exit(exitSetup)
}

func sendMsg(ctl int, msg []byte, fds []int) error {
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	return unix.Sendmsg(ctl, msg, oob, nil, 0)
}

func errnoText(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		s := errno.Error()
		return strings.ToUpper(s[:1]) + s[1:]
	}
	return err.Error()
}

// disableUserns implements bwrap's --disable-userns: the limit on user
// namespaces is per user namespace and checked up the hierarchy, so
// setting the sandbox namespace's max_user_namespaces to 0 stops the
// target (and anything it starts) from creating one. bwrap does the same
// from a nested namespace; pid 1 never needs to create one, so zbox sets
// it directly. With only assert, check that it is already impossible.
func disableUserns(set bool) error {
	const knob = "/proc/sys/user/max_user_namespaces"
	if set {
		if err := os.WriteFile(knob, []byte("0\n"), 0); err != nil {
			return fmt.Errorf("--disable-userns: write 0 to %s: %v", knob, errnoText(err))
		}
	}
	b, err := os.ReadFile(knob)
	if err != nil {
		return fmt.Errorf("--assert-userns-disabled: read %s: %v", knob, errnoText(err))
	}
	if strings.TrimSpace(string(b)) != "0" {
		return errors.New("creation of new user namespaces was not disabled as requested")
	}
	return nil
}

// joinAnonymousKeyring gives the calling thread (and so what it forks or
// execs) a new anonymous session keyring, as runc does for containers.
// ENOSYS (no keyring support) is fine: nothing to leak then.
func joinAnonymousKeyring() error {
	_, _, e := unix.Syscall(unix.SYS_KEYCTL, unix.KEYCTL_JOIN_SESSION_KEYRING, 0, 0)
	if e != 0 && e != unix.ENOSYS {
		return fmt.Errorf("join a new session keyring: %w", e)
	}
	return nil
}

// execAsPID1 runs the command in place of the init (bwrap --as-pid-1). It
// returns only by exiting.
func (in *initProc) execAsPID1(env []string, cwd string, files []uintptr) {
	p := *in.plan
	p.Env, p.Chdir = env, cwd
	// Put the fds the command keeps at their numbers (the init holds
	// them at firstPassedFD+i).
	p.Status.KeepFDs = nil
	for i, fd := range files {
		if i > 2 && fd != ^uintptr(0) && int(fd) != i {
			if err := unix.Dup3(int(fd), i, 0); err != nil {
				initFail(in.ctl, fmt.Sprintf("keep fd %d: %v", i, err))
			}
			p.Status.KeepFDs = append(p.Status.KeepFDs, i)
		}
	}
	sendMsg(in.ctl, append([]byte{msgStarted}, '1'), nil)
	// bwrap sets no_new_privs for every sandbox.
	_ = unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
	err := execInPlace(&p)
	var ee *ExecError
	if errors.As(err, &ee) {
		initExecFail(in.ctl, ee.Cmd, syscall.Errno(ee.Errno))
	}
	initFail(in.ctl, err.Error())
}

// parentDeathSignal is the init's parent-death signal: not SIGKILL, so
// that the init can remove what it created on the host before the
// sandbox ends, and not one that is forwarded to the target.
const parentDeathSignal = syscall.SIGPWR

// beforeExit are the clean-ups every exit path of the init runs, newest
// first: the limits' cgroup, the ghost mount points.
var beforeExit []func()

func atExit(f func()) { beforeExit = append(beforeExit, f) }

func runBeforeExit() {
	for i := len(beforeExit) - 1; i >= 0; i-- {
		beforeExit[i]()
	}
	beforeExit = nil
}

// killAll kills every other process of the sandbox (pid 1's kill(-1)
// reaches the whole pid namespace but itself) and reaps them.
func (in *initProc) killAll() {
	if !in.plan.Namespaces.PID {
		return
	}
	_ = unix.Kill(-1, unix.SIGKILL)
	for {
		var ws unix.WaitStatus
		_, err := unix.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return // ECHILD: all gone
		}
	}
}

// inNewMountNamespace reports whether this process's mount namespace is
// not its parent's — a guard against misuse, not a security boundary
// (whoever can run zbox-init by hand can make the same mounts himself). pid 1 of a fresh pid namespace (ppid 0) was cloned by
// zbox with its namespaces; otherwise the namespace inodes are compared.
func inNewMountNamespace() bool {
	ppid := os.Getppid()
	if ppid == 0 {
		return true
	}
	var self, parent unix.Stat_t
	if unix.Stat("/proc/self/ns/mnt", &self) != nil {
		return false
	}
	// From inside a new user namespace the parent's namespace files are
	// out of reach (no ptrace access): then it cannot be ours either.
	if unix.Stat(fmt.Sprintf("/proc/%d/ns/mnt", ppid), &parent) != nil {
		return true
	}
	return self.Ino != parent.Ino || self.Dev != parent.Dev
}

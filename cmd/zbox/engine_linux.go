package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/zbox-sandbox/zbox/direct"
	"github.com/zbox-sandbox/zbox/mountns"
	"github.com/zbox-sandbox/zbox/netns"

	"github.com/zbox-sandbox/zbox/policy"
)

// nativeOptions are the runtime knobs of one native run that are not part
// of the plan.
type nativeOptions struct {
	Debug       bool
	KeepReaping bool
	// KeepGhosts leaves mount points created on the host in place
	// (bwrap's behaviour) instead of removing them afterwards.
	KeepGhosts bool
	Timeout    time.Duration
	// Proxy, when set, serves bridged connections in-process (zbox's own
	// allow-list) instead of dialing the route endpoints.
	Proxy *netns.Proxy
	// Logf receives debug lines.
	Logf func(format string, args ...any)
	// OnStart is called with the init's host pid once it runs (bwrap's
	// --info-fd / --json-status-fd).
	OnStart func(initPid int)
}

// nativeResult is the outcome of a native run.
type nativeResult struct {
	Status   int // the target's exit status (128+N for signal N)
	TimedOut bool
}

// runNative builds and runs the sandbox described by plan with syscalls
// alone, and waits for it.
func runNative(plan *policy.Plan, opt nativeOptions) (nativeResult, error) {
	if len(plan.Command) == 0 {
		return nativeResult{}, &SetupError{Msg: "no command to run"}
	}
	logf := opt.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	plan = clampLimits(plan, logf)
	if !plan.Namespaces.PID {
		// Without a pid namespace, the command's processes can outlive it
		// (a setsid daemon), and nothing tells when the last is gone.
		// Removing a mount point created on the host detaches the masks
		// on it in the sandbox (pid 1's detach, or the kernel's, for a
		// mount point unlinked from another namespace), which would
		// uncover what they hid to whatever still runs. So they stay, as
		// bwrap leaves them (only bwrap mode can ask for this).
		opt.KeepGhosts = true
	}
	if redirectConnect(plan, opt) && !plan.Filter.DenyInterfaceIoctls {
		// The redirect hands the sandbox sockets of the host's network
		// namespace: interface ioctls on them would describe the host's
		// interfaces (filter.ifaceIoctls).
		p := *plan
		p.Filter.DenyInterfaceIoctls = true
		plan = &p
	}
	if res, err, handled := runDirect(plan, opt, logf); handled {
		return res, err
	}
	t0 := time.Now()

	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return nativeResult{}, &SetupError{Msg: fmt.Sprintf("create config pipe: %v", err)}
	}
	defer cfgR.Close()
	defer cfgW.Close()
	// SOCK_SEQPACKET keeps message boundaries and carries SCM_RIGHTS, and
	// EOF tells us the init has exited.
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nativeResult{}, &SetupError{Msg: fmt.Sprintf("create control socket: %v", err)}
	}
	ctlParent := pair[0]
	ctlChild := os.NewFile(uintptr(pair[1]), "ctl")
	defer unix.Close(ctlParent)

	// syscall.ForkExec rather than os/exec: os/exec's first start probes
	// pidfd support by cloning a throw-away child, which every sandbox
	// would pay for. The init is waited for with wait4 directly.
	files := []uintptr{0, 1, 2, cfgR.Fd(), ctlChild.Fd()} // fd 3: config, fd 4: control
	// Caller fds the sandbox must see (bwrap front-end) follow at 5, 6, ...
	passed := passedFDs(plan)
	for _, pf := range passed {
		files = append(files, uintptr(pf.Orig))
	}
	sys, err := sysProcAttr(plan)
	if err != nil {
		ctlChild.Close()
		return nativeResult{}, err
	}
	// Signals are passed on from the moment the init exists; the relay
	// queues those that arrive while it is being started.
	pid, finishRelay, err := relayTo(!plan.NewSession, func() (int, error) {
		return syscall.ForkExec("/proc/self/exe", []string{initArg0}, &syscall.ProcAttr{Env: os.Environ(), Files: files, Sys: sys})
	})
	if err != nil {
		ctlChild.Close()
		return nativeResult{}, startError(err)
	}
	defer finishRelay()
	init := &initHandle{pid: pid}
	// The init is blocked reading its config: put it into the limits'
	// cgroup now, so that everything it starts is counted from the start.
	cg := newSandboxCgroup(plan.Limits, logf)
	defer cg.remove()
	if err := cg.add(pid); err != nil {
		init.kill()
		init.wait()
		return nativeResult{}, &SetupError{Msg: err.Error()}
	}
	ctlChild.Close()
	cfgR.Close()
	tStarted := time.Now()
	logf("init started pid=%d after %s", pid, tStarted.Sub(t0))
	if err := writeStartStatus(plan, pid); err != nil {
		init.kill()
		init.wait()
		return nativeResult{}, &SetupError{Msg: err.Error()}
	}
	if opt.OnStart != nil {
		opt.OnStart(pid)
	}

	cwd, _ := os.Getwd()
	cfg := initConfig{Plan: plan, Cwd: cwd, Home: os.Getenv("HOME"), Debug: opt.Debug, KeepReaping: opt.KeepReaping, KeepGhosts: opt.KeepGhosts, FDs: passed,
		// See direct's hostRoot: any uid inside maps to a root caller's 0.
		HostRoot: os.Geteuid() == 0}
	if opt.Debug {
		cfg.StartedNS = tStarted.UnixNano()
	}
	cfg.RedirectConnect = redirectConnect(plan, opt)
	if cg != nil {
		cfg.Cgroups = cg.dirs
	}
	if err := json.NewEncoder(cfgW).Encode(&cfg); err != nil {
		init.kill()
		init.wait()
		return nativeResult{}, &SetupError{Msg: fmt.Sprintf("send config to sandbox init: %v", err)}
	}
	cfgW.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ctlDone := make(chan ctlResult, 1)
	go func() { ctlDone <- readControl(ctx, ctlParent, plan, opt, logf) }()

	timedOut, stopTimer := init.killAfter(opt.Timeout)
	defer stopTimer()

	var ws syscall.WaitStatus
	var waitErr error
	var cr ctlResult
	if opt.KeepReaping {
		// bwrap returns as soon as the command exits, leaving pid 1 to
		// reap whatever the command left running.
		cr = <-ctlDone
		if cr.exited {
			writeExitStatus(plan, cr.status)
			return nativeResult{Status: cr.status}, nil
		}
		ws, waitErr = init.wait()
	} else {
		ws, waitErr = init.wait()
		cr = <-ctlDone
	}
	// The init is reaped: its pid may be reused from here on, so no
	// signal or timeout kill may go to it any more.
	finishRelay()
	stopTimer()
	timedOutNow := timedOut()
	cancel()
	cr.bridges.stop()
	if !opt.KeepGhosts {
		// Mount points the build had to create on host filesystems
		// (bwrap leaves them behind); the sandbox is gone, so nothing
		// covers them any more.
		mountns.RemoveGhosts(cr.ghosts)
	}
	logf("sandbox exited after %s", time.Since(t0))

	if cr.setupErr != nil {
		return nativeResult{}, cr.setupErr
	}
	if timedOutNow {
		return nativeResult{Status: 124, TimedOut: true}, nil
	}
	if waitErr != nil {
		return nativeResult{}, &SetupError{Msg: fmt.Sprintf("wait for sandbox: %v", waitErr)}
	}
	status := ws.ExitStatus()
	if ws.Signaled() {
		status = 128 + int(ws.Signal())
	}
	if cr.started {
		writeExitStatus(plan, status)
		return nativeResult{Status: status}, nil
	}
	return nativeResult{}, &SetupError{Msg: fmt.Sprintf("sandbox init exited before starting the command (status %d)", status)}
}

// initHandle is the sandbox's init as seen from the host side.
type initHandle struct{ pid int }

func (h *initHandle) kill() { _ = unix.Kill(h.pid, unix.SIGKILL) }

// killAfter SIGKILLs pid 1 after d (0: never), which tears down the whole
// pid namespace. timedOut reports whether that happened; stop cancels.
func (h *initHandle) killAfter(d time.Duration) (timedOut func() bool, stop func()) {
	var fired atomic.Bool
	if d <= 0 {
		return fired.Load, func() {}
	}
	t := time.AfterFunc(d, func() {
		fired.Store(true)
		h.kill()
	})
	return fired.Load, func() { t.Stop() }
}

// wait reaps the init, retrying EINTR.
func (h *initHandle) wait() (syscall.WaitStatus, error) {
	for {
		var ws syscall.WaitStatus
		_, err := syscall.Wait4(h.pid, &ws, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		return ws, err
	}
}

// sysProcAttr creates every namespace at clone time and maps the caller's
// uid and gid (or the plan's) with a single-id map, setgroups denied —
// the only map an unprivileged process may write.
func sysProcAttr(plan *policy.Plan) (*syscall.SysProcAttr, error) {
	ns := plan.Namespaces
	flags := direct.CloneFlags(ns)
	attr := &syscall.SysProcAttr{
		Cloneflags: flags,
		// With a new session for the command: an own process group, so
		// that a terminal's ^C reaches only us, and we forward it once.
		// Without one (bwrap's default) the sandbox stays in our
		// group, the terminal's foreground one, so that the command can
		// read the terminal (a background group gets SIGTTIN), and gets
		// ^C from it directly.
		Setpgid: plan.NewSession,
	}
	if plan.DieWithParent {
		// The init ends the sandbox when we die, even by SIGKILL: it gets
		// SIGPWR, removes what it created on the host, kills the rest and
		// exits; being pid 1, its exit kills every process left. (bwrap
		// without --die-with-parent lets the sandbox outlive it; so do
		// we.)
		attr.Pdeathsig = parentDeathSignal
	}
	if ns.User {
		uid, gid := os.Getuid(), os.Getgid()
		inUID, inGID := uid, gid
		if plan.UID != nil {
			inUID = *plan.UID
		}
		if uid == 0 && !hasCap(unix.CAP_SETFCAP) {
			// Since Linux 5.12 (verify_root_map) writing a uid map whose
			// lower range contains uid 0 needs CAP_SETFCAP in the parent
			// namespace. A capability-less root — typically zbox running
			// inside another root sandbox that dropped all capabilities —
			// therefore cannot map itself at all. Say so instead of
			// failing with a bare EPERM.
			return nil, &SetupError{Msg: "create sandbox namespaces: running as uid 0 without CAP_SETFCAP (for example inside another sandbox that dropped all capabilities): the kernel refuses to map uid 0 into a new user namespace without it (hint: run the outer sandbox as a non-root user, or give this process CAP_SETFCAP)"}
		}
		if plan.GID != nil {
			inGID = *plan.GID
		}
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: inUID, HostID: uid, Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: inGID, HostID: gid, Size: 1}}
		attr.GidMappingsEnableSetgroups = false
		if inUID != 0 {
			// execve recomputes capabilities; a non-zero uid would lose
			// all of them on the re-exec into the init. The init drops
			// these before anything else runs.
			// CAP_DAC_OVERRIDE: the build must create mount points
			// inside directories it has just made unreadable (a deny mask
			// with perms 000/111 over a directory that contains a
			// writable root). In a user namespace it only covers inodes
			// whose owner is mapped there, i.e. the caller's own files.
			attr.AmbientCaps = []uintptr{unix.CAP_SYS_ADMIN, unix.CAP_NET_ADMIN, unix.CAP_SETPCAP, unix.CAP_SYS_CHROOT, unix.CAP_DAC_OVERRIDE}
			if plan.DisableUserns {
				// Writing the namespace's user.max_user_namespaces.
				attr.AmbientCaps = append(attr.AmbientCaps, unix.CAP_SYS_RESOURCE)
			}
		}
	}
	return attr, nil
}

// startError explains a failed clone.
func startError(err error) error {
	msg := fmt.Sprintf("create sandbox namespaces: %v", err)
	switch {
	case errors.Is(err, syscall.EPERM), errors.Is(err, syscall.EACCES):
		msg += userNSHint()
	case errors.Is(err, syscall.ENOSPC):
		msg += " (hint: nesting depth or /proc/sys/user/max_user_namespaces exceeded)"
	case errors.Is(err, syscall.EINVAL):
		msg += " (hint: the kernel may lack user namespace support)"
	}
	return &SetupError{Msg: msg}
}

func userNSHint() string {
	if b, err := os.ReadFile("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"); err == nil && len(b) > 0 && b[0] == '1' {
		return " (hint: AppArmor restricts unprivileged user namespaces: kernel.apparmor_restrict_unprivileged_userns=1; load an AppArmor profile for zbox or set the sysctl to 0)"
	}
	if b, err := os.ReadFile("/proc/sys/kernel/unprivileged_userns_clone"); err == nil && len(b) > 0 && b[0] == '0' {
		return " (hint: unprivileged user namespaces are disabled: sysctl kernel.unprivileged_userns_clone=1)"
	}
	if b, err := os.ReadFile("/proc/sys/user/max_user_namespaces"); err == nil && len(b) > 0 && b[0] == '0' {
		return " (hint: user namespaces are disabled: sysctl user.max_user_namespaces is 0)"
	}
	return " (hint: user namespaces are not permitted here; in a container, a seccomp profile may block them — run zbox doctor)"
}

type ctlResult struct {
	ghosts   []mountns.Ghost
	setupErr error
	started  bool
	exited   bool
	status   int
	bridges  bridgeSet
}

// bridgeSet is the host side of a proxy-only sandbox's bridges, however
// the sandbox was started: the forwarders accepting on the listeners
// that live in its network namespace, and the connect redirect.
type bridgeSet struct {
	fwds []*netns.Forwarder
	// routes maps each listener's port to its proxy endpoint, and
	// nsProbe is a copy of one listener (it names the sandbox's network
	// namespace), for the connect redirect.
	routes   map[int]string
	nsProbe  int
	redirect *netns.Redirector
}

// listeners serves the bridge listeners fds (taking them), whose proxy
// endpoints are endpoints, in order.
func (b *bridgeSet) listeners(ctx context.Context, fds []int, endpoints []string, opt nativeOptions, logf func(string, ...any)) {
	for i, f := range fds {
		if i >= len(endpoints) {
			unix.Close(f)
			continue
		}
		if sa, err := unix.Getsockname(f); err == nil && opt.Proxy == nil {
			if b.routes == nil {
				b.routes = map[int]string{}
				b.nsProbe, _ = unix.FcntlInt(uintptr(f), unix.F_DUPFD_CLOEXEC, 3)
			}
			if in4, ok := sa.(*unix.SockaddrInet4); ok {
				b.routes[in4.Port] = endpoints[i]
			}
		}
		fw, err := serveBridge(ctx, f, endpoints[i], opt, logf)
		if err != nil {
			logf("bridge %s: %v", endpoints[i], err)
			continue
		}
		b.fwds = append(b.fwds, fw)
	}
}

// redirectFrom serves the connect-notify listener among fds (taking
// them all). It is served whatever happens: the target's IPv4 connects
// wait for it. Without a listener to name the sandbox's namespace
// (nsProbe) the Redirector lets every connect continue.
func (b *bridgeSet) redirectFrom(fds []int, logf func(string, ...any)) {
	if len(fds) == 0 {
		return
	}
	for _, f := range fds[1:] {
		unix.Close(f)
	}
	if b.redirect != nil {
		unix.Close(fds[0]) // cannot happen: one is sent
		return
	}
	probe := b.nsProbe
	if probe <= 0 {
		probe = -1
	}
	b.redirect = netns.NewRedirector(fds[0], probe, b.routes, logf)
}

// stop ends every bridge and the redirect.
func (b *bridgeSet) stop() {
	if b.redirect != nil {
		b.redirect.Close()
		b.redirect = nil
	}
	for _, f := range b.fwds {
		f.Close()
	}
	b.fwds = nil
	if b.nsProbe > 0 {
		unix.Close(b.nsProbe)
		b.nsProbe = 0
	}
}

// readControl reads the init's messages until it exits (EOF).
func readControl(ctx context.Context, fd int, plan *policy.Plan, opt nativeOptions, logf func(string, ...any)) ctlResult {
	var res ctlResult
	buf := make([]byte, 64*1024)
	oob := make([]byte, unix.CmsgSpace(64*4))
	for {
		n, oobn, _, _, err := unix.Recvmsg(fd, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || n == 0 {
			return res
		}
		msg := buf[:n]
		switch msg[0] {
		case msgSetupError:
			res.setupErr = &SetupError{Msg: string(msg[1:])}
		case msgExecError:
			res.setupErr = parseExecError(msg[1:])
		case msgGhosts:
			var g []mountns.Ghost
			if json.Unmarshal(msg[1:], &g) == nil {
				res.ghosts = append(res.ghosts, g...)
			}
		case msgStarted:
			res.started = true
		case msgExited:
			res.exited = true
			res.status, _ = strconv.Atoi(string(msg[1:]))
			if opt.KeepReaping {
				return res
			}
		case msgRedirect:
			fds := parseRights(oob[:oobn])
			if len(fds) == 0 {
				logf("connect redirect unavailable, the bridges relay: %s", msg[1:])
				continue
			}
			res.bridges.redirectFrom(fds, logf)
		case msgListeners:
			fds := parseRights(oob[:oobn])
			var endpoints []string
			if err := json.Unmarshal(msg[1:], &endpoints); err != nil || len(endpoints) != len(fds) {
				for _, f := range fds {
					unix.Close(f)
				}
				continue
			}
			res.bridges.listeners(ctx, fds, endpoints, opt, logf)
		}
	}
}

func parseRights(oob []byte) []int {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var fds []int
	for _, m := range msgs {
		if f, err := unix.ParseUnixRights(&m); err == nil {
			fds = append(fds, f...)
		}
	}
	return fds
}

func parseExecError(b []byte) error {
	for i, c := range b {
		if c == 0 {
			n, _ := strconv.Atoi(string(b[:i]))
			errno := syscall.Errno(n)
			return &ExecError{Cmd: string(b[i+1:]), Errno: n, Text: errnoText(errno)}
		}
	}
	return &SetupError{Msg: "exec failed"}
}

// serveBridge accepts, on the host side, connections made to a listener
// that lives in the sandbox's network namespace, and carries each to the
// proxy endpoint on the host (or to zbox's in-process allow-list proxy).
func serveBridge(ctx context.Context, fd int, endpoint string, opt nativeOptions, logf func(string, ...any)) (*netns.Forwarder, error) {
	f := os.NewFile(uintptr(fd), "bridge-listener")
	l, err := net.FileListener(f)
	f.Close()
	if err != nil {
		return nil, err
	}
	if opt.Proxy != nil {
		return netns.NewHandlerForwarder(l, opt.Proxy.ServeConn, logf), nil
	}
	d := net.Dialer{Timeout: 10 * time.Second}
	return netns.NewForwarder(l, func(ctx context.Context) (net.Conn, error) {
		return d.DialContext(ctx, "tcp", endpoint)
	}, logf), nil
}

// redirectConnect says whether the sandbox's connects to its proxy
// bridges get direct connections to the proxies (netns.Redirector):
// proxy-only sandboxes whose routes lead to proxies on the host, and
// only when ZBOX_BRIDGE=redirect asks for it. zbox's own allow-list
// proxy is served in-process and keeps the listeners.
//
// Off by default because it is not a boundary against the program it
// serves: the socket it swaps in belongs to zbox's (the host's) network
// namespace, and TCP lets a connected socket be dissolved with
// connect(AF_UNSPEC) and connected again. The filter cannot read the
// address family (it is in the program's memory), the supervisor cannot
// tell a reconnect from any other connect without a race (a "continue"
// re-reads the fd and the address after the check), and the kernel then
// connects from the host's namespace: to any address the host reaches.
// The relay keeps every socket of the sandbox in the sandbox's own
// namespace. ZBOX_BRIDGE=redirect is for trusted programs that need
// loopback-speed proxy streams (README, "Network").
func redirectConnect(plan *policy.Plan, opt nativeOptions) bool {
	return plan.Network.Mode == policy.NetProxyOnly && plan.Namespaces.Net && opt.Proxy == nil &&
		len(plan.Network.Routes) > 0 && os.Getenv("ZBOX_BRIDGE") == "redirect"
}

// hasCap reports whether the calling thread has capability c effective.
func hasCap(c int) bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	return data[c/32].Effective&(1<<(c%32)) != 0
}

// passedFDs lists the caller fds a plan hands to the sandbox.
func passedFDs(plan *policy.Plan) []passedFD {
	var out []passedFD
	st := plan.Status
	for _, fd := range st.KeepFDs {
		out = append(out, passedFD{Orig: fd, Role: "keep"})
	}
	if st.SyncFD != nil {
		out = append(out, passedFD{Orig: *st.SyncFD, Role: "sync"})
	}
	if st.BlockFD != nil {
		out = append(out, passedFD{Orig: *st.BlockFD, Role: "block"})
	}
	for _, op := range plan.Mounts {
		if op.FD != nil {
			out = append(out, passedFD{Orig: *op.FD, Role: "bind"})
		}
	}
	return out
}

// namespaceJSON is bwrap's status object: child-pid, then the inode of
// each namespace that was unshared, in bwrap's fixed order (cgroup, ipc,
// mnt, net, pid, uts; never user).
func namespaceJSON(plan *policy.Plan, pid int, sep, indent string) string {
	ns := plan.Namespaces
	parts := []string{fmt.Sprintf("%s\"child-pid\": %d", indent, pid)}
	for _, n := range []struct {
		name string
		on   bool
	}{{"cgroup", ns.Cgroup}, {"ipc", ns.IPC}, {"mnt", true}, {"net", ns.Net}, {"pid", ns.PID}, {"uts", ns.UTS}} {
		if !n.on {
			continue
		}
		var st unix.Stat_t
		if err := unix.Stat(fmt.Sprintf("/proc/%d/ns/%s", pid, n.name), &st); err != nil {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s\"%s-namespace\": %d", indent, n.name, st.Ino))
	}
	return strings.Join(parts, sep)
}

// writeStartStatus writes --info-fd (then closes it) and the first
// --json-status-fd line, as bwrap does right after the clone.
func writeStartStatus(plan *policy.Plan, pid int) error {
	st := plan.Status
	if st.InfoFD != nil {
		body := "{\n" + namespaceJSON(plan, pid, ",\n", "    ") + "\n}\n"
		if _, err := unix.Write(*st.InfoFD, []byte(body)); err != nil {
			return fmt.Errorf("Write to info_fd: %v", errnoText(err))
		}
		unix.Close(*st.InfoFD)
	}
	if st.JSONStatusFD != nil {
		line := "{ " + namespaceJSON(plan, pid, ", ", "") + " }\n"
		if _, err := unix.Write(*st.JSONStatusFD, []byte(line)); err != nil {
			return fmt.Errorf("Write to json_status_fd: %v", errnoText(err))
		}
	}
	if st.UsernsBlockFD != nil {
		// The caller may now act on the child (bwrap: write its id
		// maps); wait for its byte. zbox has written the maps itself.
		var b [1]byte
		_, _ = unix.Read(*st.UsernsBlockFD, b[:])
	}
	return nil
}

// writeExitStatus writes bwrap's final json-status line.
func writeExitStatus(plan *policy.Plan, status int) {
	if fd := plan.Status.JSONStatusFD; fd != nil {
		_, _ = unix.Write(*fd, []byte(fmt.Sprintf("{ \"exit-code\": %d }\n", status)))
		unix.Close(*fd)
	}
}

// clampLimits caps each --limit rlimit at the hard limit zbox inherited:
// a limit above it cannot be set without privilege (RLIMIT_NOFILE not
// even by root, above fs.nr_open), and the hard limit already bounds the
// command more tightly than asked. It returns plan itself when nothing
// changes, else a copy. (A cgroup made for the limits gets the same
// values: never more than asked.)
func clampLimits(plan *policy.Plan, logf func(string, ...any)) *policy.Plan {
	l := plan.Limits
	if l == nil {
		return plan
	}
	c := *l
	for _, rl := range []struct {
		res  int
		name string
		v    *uint64
	}{{unix.RLIMIT_AS, "memory", &c.MemoryBytes}, {unix.RLIMIT_NPROC, "processes", &c.Processes},
		{unix.RLIMIT_NOFILE, "files", &c.OpenFiles}, {unix.RLIMIT_CPU, "cpu", &c.CPUSeconds}} {
		var cur unix.Rlimit
		if *rl.v == 0 || unix.Getrlimit(rl.res, &cur) != nil || *rl.v <= cur.Max {
			continue
		}
		logf("--limit %s=%d is above the inherited hard limit %d: using that", rl.name, *rl.v, cur.Max)
		*rl.v = cur.Max
	}
	if c == *l {
		return plan
	}
	p := *plan
	p.Limits = &c
	return &p
}

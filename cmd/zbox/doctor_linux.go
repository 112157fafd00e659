package main

// zbox doctor: what this host offers, what each missing piece disables,
// and what the user can do about it. Every check really exercises the
// kernel feature (a user namespace is created, a filter is loaded, a
// sandbox with a fresh /proc is started), because the sysctls alone do
// not tell: a container's seccomp profile, for one, is invisible there.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/zbox-sandbox/zbox/filter"
	"github.com/zbox-sandbox/zbox/lsm"
	"github.com/zbox-sandbox/zbox/policy"
)

// finding is one doctor line.
type finding struct {
	Name string `json:"name"`
	// Status is "ok", "warn" (works, with less) or "missing".
	Status string `json:"status"`
	Detail string `json:"detail"`
	// Disables says what zbox cannot do because of it.
	Disables string `json:"disables,omitempty"`
	Fix      string `json:"fix,omitempty"`
}

type doctorReport struct {
	Version   string    `json:"version"`
	Kernel    string    `json:"kernel"`
	Arch      string    `json:"arch"`
	UID       int       `json:"uid"`
	Container string    `json:"container,omitempty"`
	Findings  []finding `json:"findings"`
	// AutoEngine is what --engine auto would use: native, landlock, or
	// none.
	AutoEngine string `json:"auto_engine"`
	AutoReason string `json:"auto_reason"`
}

func (c *cli) doctor(asJSON bool) int {
	r := runDoctor()
	if asJSON {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return c.fail(err)
		}
		return 0
	}
	writeDoctor(c.stdout, r)
	return 0
}

func writeDoctor(w io.Writer, r doctorReport) {
	where := "not in a container"
	if r.Container != "" {
		where = "in a container (" + r.Container + ")"
	}
	fmt.Fprintf(w, "%s; kernel %s %s; uid %d; %s\n\n", r.Version, r.Kernel, r.Arch, r.UID, where)
	for _, f := range r.Findings {
		tag := map[string]string{"ok": "[ok]     ", "warn": "[warn]   ", "missing": "[missing]"}[f.Status]
		fmt.Fprintf(w, "%s %s: %s\n", tag, f.Name, f.Detail)
		if f.Disables != "" {
			fmt.Fprintf(w, "          disables: %s\n", f.Disables)
		}
		if f.Fix != "" {
			fmt.Fprintf(w, "          fix: %s\n", f.Fix)
		}
	}
	fmt.Fprintf(w, "\nengine auto would use: %s (%s)\n", r.AutoEngine, r.AutoReason)
}

func runDoctor() doctorReport {
	r := doctorReport{Version: versionLine(), Arch: runtime.GOARCH, UID: os.Getuid(), Container: detectContainer()}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		r.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	self := selfSeccomp()

	userns := checkUserns(self)
	r.Findings = append(r.Findings, userns)
	if userns.Status == "ok" {
		sb := checkSandbox()
		r.Findings = append(r.Findings, sb)
		if sb.Status == "ok" {
			r.Findings = append(r.Findings, checkDirect())
		}
	} else {
		r.Findings = append(r.Findings, finding{Name: "fresh /proc", Status: "missing",
			Detail: "not checked: it needs a user namespace", Disables: "a private /proc (pid namespace view)"})
	}
	ll := lsm.Probe()
	r.Findings = append(r.Findings, checkLandlock(ll))
	r.Findings = append(r.Findings, checkSeccomp(self))
	r.Findings = append(r.Findings, checkRedirect())
	r.Findings = append(r.Findings, checkCgroup())
	r.Findings = append(r.Findings, checkBwrap())

	switch {
	case userns.Status == "ok":
		r.AutoEngine, r.AutoReason = "native", "user namespaces available"
	case ll.Available:
		r.AutoEngine, r.AutoReason = "landlock", "no user namespaces; Landlock-only mode with a warning (--strict refuses it)"
	default:
		r.AutoEngine, r.AutoReason = "none", "neither user namespaces nor Landlock: zbox cannot sandbox here"
	}
	return r
}

// seccompState is the Seccomp line of /proc/self/status.
type seccompState struct {
	Known   bool
	Mode    int // 0 none, 1 strict, 2 filter
	Filters int
	NoNew   bool
}

func selfSeccomp() seccompState {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return seccompState{}
	}
	defer f.Close()
	var st seccompState
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "Seccomp":
			st.Known = true
			fmt.Sscan(v, &st.Mode)
		case "Seccomp_filters":
			fmt.Sscan(v, &st.Filters)
		case "NoNewPrivs":
			st.NoNew = v == "1"
		}
	}
	return st
}

func detectContainer() string {
	if v := os.Getenv("container"); v != "" {
		return v
	}
	if _, err := os.Stat("/.dockerenv"); err == nil {
		return "docker"
	}
	if _, err := os.Stat("/run/.containerenv"); err == nil {
		return "podman"
	}
	if b, err := os.ReadFile("/proc/1/cgroup"); err == nil {
		s := string(b)
		for _, k := range []string{"kubepods", "docker", "containerd", "lxc", "libpod"} {
			if strings.Contains(s, k) {
				return k
			}
		}
	}
	return ""
}

// checkUserns creates a user namespace for real (a child of this process
// with a uid map, as the native engine does) and explains a refusal.
func checkUserns(self seccompState) finding {
	f := finding{Name: "user namespaces"}
	sys := probeUsernsSysctls()
	exe, err := os.Executable()
	if err != nil {
		exe = "/proc/self/exe"
	}
	cmd := exec.Command(exe, "version")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	uid, gid := os.Getuid(), os.Getgid()
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:                 syscall.CLONE_NEWUSER,
		UidMappings:                []syscall.SysProcIDMap{{ContainerID: uid, HostID: uid, Size: 1}},
		GidMappings:                []syscall.SysProcIDMap{{ContainerID: gid, HostID: gid, Size: 1}},
		GidMappingsEnableSetgroups: false,
	}
	err = cmd.Run()
	if err == nil && sys.OK {
		f.Status, f.Detail = "ok", "a user namespace with a uid map can be created"
		return f
	}
	f.Status = "missing"
	f.Disables = "the native engine (mount, pid and network namespaces, a private root); zbox falls back to Landlock-only mode, or fails with --strict"
	switch {
	case !sys.OK:
		f.Detail = sys.Reason
		f.Fix = sys.Fix
	case errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES):
		f.Detail = fmt.Sprintf("clone(CLONE_NEWUSER) refused: %v", errnoOf(err))
		if self.Mode == 2 {
			f.Detail += fmt.Sprintf("; zbox itself runs under %d seccomp filter(s), as in a container whose runtime's profile blocks clone/unshare with CLONE_NEWUSER", self.Filters)
			f.Fix = "run the container with a seccomp profile that allows user namespaces (docker/podman: --security-opt seccomp=unconfined, or a custom profile allowing clone/unshare with CLONE_NEWUSER; Kubernetes: securityContext.seccompProfile Unconfined)"
		} else {
			f.Fix = "check the sysctls user.max_user_namespaces, kernel.unprivileged_userns_clone and kernel.apparmor_restrict_unprivileged_userns, and any LSM policy"
		}
	case errors.Is(err, syscall.ENOSPC):
		f.Detail = "clone(CLONE_NEWUSER): no space left: user.max_user_namespaces exhausted or nesting deeper than 32"
		f.Fix = "raise user.max_user_namespaces, or nest fewer sandboxes"
	case errors.Is(err, syscall.EINVAL):
		f.Detail = "clone(CLONE_NEWUSER): invalid argument: the kernel lacks user namespace support (CONFIG_USER_NS)"
		f.Fix = "use a kernel built with CONFIG_USER_NS=y"
	default:
		f.Detail = fmt.Sprintf("creating a user namespace failed: %v", err)
	}
	return f
}

func errnoOf(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return err
}

// checkDirect starts the same sandbox as checkSandbox with the direct
// start forced (ZBOX_INIT=direct): no fallback, so a failure says why.
func checkDirect() finding {
	f := finding{Name: "direct start"}
	out, err := runDoctorSandbox(initEnvVar + "=direct")
	if err == nil {
		f.Status, f.Detail = "ok", "sandboxes start without a second Go runtime (open_tree, move_mount, openat2, mount_setattr)"
		return f
	}
	f.Status = "warn"
	f.Detail = firstLine(out)
	if i := strings.Index(f.Detail, initEnvVar+"=direct): "); i >= 0 {
		f.Detail = f.Detail[i+len(initEnvVar+"=direct): "):]
	}
	f.Disables = "the fast start: every sandbox uses the general init (a re-exec of zbox; about 3 ms more per sandbox)"
	f.Fix = "Linux 5.12 or newer, with open_tree/move_mount/openat2/mount_setattr allowed by any seccomp profile zbox runs under"
	return f
}

// checkRedirect installs the proxy redirect's filter, with its listener,
// on a thread that is destroyed afterwards, and checks that the listener
// can swap fds (SECCOMP_IOCTL_NOTIF_ADDFD: a made-up notification id
// gets ENOENT from a kernel that knows the ioctl).
func checkRedirect() finding {
	f := finding{Name: "proxy redirect"}
	err := probeConnectNotify()
	if err == nil {
		f.Status, f.Detail = "ok", "ZBOX_BRIDGE=redirect can make connections to a proxy-only sandbox's bridges direct connections to the host's proxies (seccomp user notification; for trusted programs only, off by default)"
		return f
	}
	f.Status, f.Detail = "warn", err.Error()
	f.Disables = "ZBOX_BRIDGE=redirect (opt-in, for trusted programs): bridged connections are relayed, as by default"
	f.Fix = "Linux 5.9 or newer, and no other seccomp supervisor (a listener) over zbox"
	return f
}

func probeConnectNotify() error {
	ch := make(chan error, 1)
	lsm.RunOnDisposableThread(func() {
		fd, err := installConnectNotify()
		if err != nil {
			ch <- err
			return
		}
		defer unix.Close(fd)
		if err := filter.Listener(fd).ReplaceFD(0, 0, 0, false); !errors.Is(err, unix.ENOENT) {
			ch <- fmt.Errorf("SECCOMP_IOCTL_NOTIF_ADDFD: %v (Linux 5.9 has it)", err)
			return
		}
		ch <- nil
	})
	return <-ch
}

// checkSandbox starts a real native sandbox (every namespace, a fresh
// /proc that may not fall back, loopback up, seccomp, Landlock scope)
// through the exec-plan entry point, running "zbox version" inside.
func checkSandbox() finding {
	f := finding{Name: "fresh /proc"}
	msg, err := runDoctorSandbox(initEnvVar + "=go")
	if err == nil {
		f.Status, f.Detail = "ok", "a full sandbox starts: mount, pid, net, ipc and uts namespaces, a fresh /proc, loopback, seccomp"
		return f
	}
	if strings.Contains(msg, "proc") {
		f.Status = "warn"
		f.Detail = "the kernel refuses a fresh /proc here (" + firstLine(msg) + ")"
		f.Disables = "a private /proc: zbox binds the host's /proc instead, so the command sees every process of the host's pid namespace"
		f.Fix = "the /proc of this environment is masked (typical in containers): run the container with unmasked paths (docker: --security-opt systempaths=unconfined) or accept the fallback"
		return f
	}
	f.Status = "missing"
	f.Detail = "a sandbox does not start: " + firstLine(msg)
	f.Disables = "the native engine"
	f.Fix = "run 'zbox --debug -- true' to see the failing step"
	return f
}

// runDoctorSandbox runs the doctor's sandbox, with the extra environment
// entry env, and returns what it printed.
func runDoctorSandbox(env string) (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Sprintf("cannot find zbox's own executable: %v", err), err
	}
	plan := &policy.Plan{
		Namespaces: policy.Namespaces{User: true, Mount: true, PID: true, Net: true, IPC: true, UTS: true},
		Mounts: []policy.MountOp{
			{Kind: policy.OpROBind, Source: "/", Dest: "/"},
			{Kind: policy.OpDev, Dest: "/dev"},
			{Kind: policy.OpProc, Dest: "/proc"},
		},
		Network:    policy.NetworkSpec{Mode: policy.NetIsolated},
		Filter:     policy.FilterSpec{Enabled: true, Network: policy.SeccompRestricted},
		Landlock:   &policy.LandlockSpec{Scope: true},
		NewSession: true, DieWithParent: true,
		Command: []string{exe, "version"},
		Env:     []string{"PATH=/usr/bin:/bin"},
	}
	data, _ := json.Marshal(plan)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "exec-plan", "-")
	cmd.Env = append(os.Environ(), env)
	cmd.Stdin = bytes.NewReader(data)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	return strings.TrimSpace(out.String()), err
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func checkLandlock(st lsm.Status) finding {
	f := finding{Name: "Landlock"}
	switch {
	case !st.Available:
		f.Status = "missing"
		f.Detail = strings.TrimPrefix(st.String(), "Landlock: ")
		f.Disables = "the Landlock-only mode for hosts without user namespaces, and signal/abstract-unix-socket scoping"
		f.Fix = "use Linux 5.13+ with CONFIG_SECURITY_LANDLOCK=y and 'landlock' in the lsm= boot parameter"
	case st.EffectiveABI() < 6:
		f.Status = "warn"
		f.Detail = strings.TrimPrefix(st.String(), "Landlock: ")
		f.Disables = "scoping (ABI 6): a sandboxed process can signal processes outside and reach their abstract unix sockets"
		f.Fix = "upgrade to Linux 6.12 or later"
	default:
		f.Status, f.Detail = "ok", strings.TrimPrefix(st.String(), "Landlock: ")
	}
	return f
}

// checkSeccomp loads zbox's own filter on a throwaway thread: the thread
// is locked and its goroutine exits without unlocking, so the runtime
// destroys it with the filter (and no_new_privs) on it.
func checkSeccomp(self seccompState) finding {
	f := finding{Name: "seccomp"}
	if !self.Known {
		f.Status = "missing"
		f.Detail = "the kernel reports no seccomp support (no Seccomp line in /proc/self/status)"
		f.Disables = "every syscall filter: network cut for the sandbox relies on the network namespace alone; ptrace and io_uring stay open"
		f.Fix = "use a kernel built with CONFIG_SECCOMP_FILTER=y"
		return f
	}
	progs, err := filter.Build(policy.FilterSpec{Enabled: true, Network: policy.SeccompRestricted, DenyProcessVM: true}, runtime.GOARCH)
	if err == nil {
		done := make(chan error, 1)
		go func() {
			runtime.LockOSThread()
			done <- filter.InstallOnThread(progs)
			// Exit still locked: the thread dies with its filter.
		}()
		err = <-done
	}
	if err != nil {
		f.Status = "missing"
		f.Detail = fmt.Sprintf("loading a filter failed: %v", err)
		f.Disables = "the sandbox's syscall filter; zbox refuses to run without it"
		f.Fix = "use a kernel with CONFIG_SECCOMP_FILTER=y; in a container, allow prctl(PR_SET_SECCOMP)"
		return f
	}
	f.Status = "ok"
	f.Detail = "filters load (with no_new_privs)"
	if self.Mode == 2 {
		f.Detail += fmt.Sprintf("; zbox itself already runs under %d filter(s) from its parent", self.Filters)
	}
	return f
}

// checkCgroup says whether --limit can use a cgroup here, with the same
// look-up the engine uses (cgroup_linux.go): a cgroup v2 subtree with the
// pids and memory controllers delegated to us, or writable cgroup v1
// pids/memory hierarchies.
func checkCgroup() finding {
	f := finding{Name: "cgroups for --limit"}
	writable := func(dir string) bool { return dir != "" && unix.Access(dir, unix.W_OK) == nil }
	if dir := cgroup2Path(); writable(dir) {
		f.Status = "ok"
		f.Detail = fmt.Sprintf("cgroup v2 at %s with pids and memory delegated: --limit processes/memory count the whole sandbox from its first page", dir)
		return f
	}
	var v1 []string
	for _, c := range []string{"pids", "memory"} {
		if dir := cgroup1Path(c); writable(dir) {
			v1 = append(v1, c+" at "+dir)
		}
	}
	if len(v1) == 2 {
		f.Status = "ok"
		f.Detail = "cgroup v1: " + strings.Join(v1, ", ") + ": --limit processes/memory count the whole sandbox"
		return f
	}
	f.Status = "warn"
	f.Detail = "no cgroup zbox can create (no delegated cgroup v2 subtree with pids and memory, no writable v1 pids and memory hierarchies): --limit uses per-process rlimits only"
	f.Disables = "containing a root caller's fork bomb (the kernel exempts uid 0 from RLIMIT_NPROC); a memory limit for the sandbox as a whole (RLIMIT_AS bounds each process's address space)"
	f.Fix = "start zbox in a delegated scope: systemd-run --user --scope -p Delegate=yes zbox ..."
	return f
}

func checkBwrap() finding {
	f := finding{Name: "bwrap"}
	p, err := exec.LookPath("bwrap")
	if err != nil {
		f.Status = "warn"
		f.Detail = "no bwrap on PATH"
		f.Disables = "--engine bwrap (the native engine does not need it)"
		f.Fix = "install bubblewrap (apt install bubblewrap / dnf install bubblewrap)"
		return f
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, p, "--version").Output()
	ver := strings.TrimSpace(string(out))
	if err != nil || ver == "" {
		f.Status, f.Detail = "warn", fmt.Sprintf("%s does not answer --version: %v", p, err)
		f.Disables = "--engine bwrap"
		return f
	}
	f.Status = "ok"
	f.Detail = fmt.Sprintf("%s, %s", p, ver)
	if st, err := os.Stat(p); err == nil && st.Mode()&os.ModeSetuid != 0 {
		f.Detail += " (setuid)"
	}
	return f
}

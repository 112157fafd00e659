package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/zbox-sandbox/zbox/direct"
	"github.com/zbox-sandbox/zbox/filter"
	"github.com/zbox-sandbox/zbox/lsm"
	"github.com/zbox-sandbox/zbox/netns"
	"github.com/zbox-sandbox/zbox/policy"
)

func lsmLegacySpec(roots []string) policy.LandlockSpec { return lsm.LegacySpec(roots) }

// helperProxyRoutes collects the loopback proxies named in the
// environment (spec §6.1 steps 1-4; [::1] accepted too).
func helperProxyRoutes() ([]policy.ProxyRoute, error) {
	return netns.CollectProxyRoutesHelperCompat(os.Environ())
}

// innerFilter is the seccomp mode of the helper's inner stage (spec §5.3
// "which mode is installed"): a filter iff the network is not enabled or
// proxy mode is on; ProxyRouted in proxy mode, else Restricted.
func innerFilter(pols policy.ResolvedPolicies, proxy bool) policy.FilterSpec {
	switch {
	case proxy:
		return policy.FilterSpec{Enabled: true, Network: policy.SeccompProxyRouted}
	case !pols.Net.IsEnabled():
		return policy.FilterSpec{Enabled: true, Network: policy.SeccompRestricted}
	}
	return policy.FilterSpec{Enabled: true, Network: policy.SeccompNone}
}

// runHelperInner is the helper's inner stage (spec §2.2 step 5), run
// inside namespaces that were already built (by bwrap).
func runHelperInner(h *helperArgs, pols policy.ResolvedPolicies) int {
	plan := &policy.Plan{Command: h.Command, Filter: innerFilter(pols, h.ProxyMode)}
	if h.CommandCwd != "" {
		plan.Chdir = ""
	}
	if !h.ProxyMode {
		return helperExecInPlace(plan)
	}
	if !h.hasRouteSpec {
		return helperPanic("managed proxy mode requires --proxy-route-spec")
	}
	routes, err := netns.ParseRouteSpec(h.ProxyRouteSpec)
	if err == nil {
		var ports map[string]int
		var closer func()
		ports, closer, err = netns.StartInnerUDSBridges(routes)
		if err == nil {
			defer closer()
			plan.Env, err = netns.RewriteEnv(os.Environ(), routes, ports)
		}
	}
	if err != nil {
		return helperPanic("error activating Linux proxy routing bridge: " + err.Error())
	}
	// The bridges are goroutines of this process, so the command cannot
	// replace it: fork it from a restricted thread and wait. This process
	// stays outside the command's filter, so it must not be dumpable:
	// the command (same uid) could otherwise write its memory through
	// /proc/PID/mem or process_vm_writev and run code unfiltered, as pid
	// 1 is protected in the other stages.
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return helperPanic("error applying Linux sandbox restrictions: PR_SET_DUMPABLE: " + err.Error())
	}
	status, err := forkRestricted(plan)
	if err != nil {
		var ee *ExecError
		if errors.As(err, &ee) {
			return helperPanic(fmt.Sprintf("Failed to execvp %s: %s", ee.Cmd, rustIOError(ee)))
		}
		return helperPanic(fmt.Sprintf("error applying Linux sandbox restrictions: %v", err))
	}
	return status
}

// forkRestricted runs plan's command as a child forked from a disposable
// thread carrying the plan's filter, and returns its exit status.
func forkRestricted(plan *policy.Plan) (int, error) {
	path, err := lookPath(plan.Command[0], plan.Env)
	if err != nil {
		var errno syscall.Errno
		errors.As(err, &errno)
		return 0, &ExecError{Cmd: plan.Command[0], Errno: int(errno), Text: errnoText(err)}
	}
	progs, err := filter.Build(plan.Filter, runtime.GOARCH)
	if err != nil {
		return 0, err
	}
	done := make(chan struct{})
	pid, finishRelay, err := relayTo(false, func() (int, error) {
		return startRestricted(plan, progs, restrictOpts{}, &direct.Spawn{Path: path, Argv: plan.Command, Env: plan.Env, Files: []uintptr{0, 1, 2}}, done)
	})
	if err != nil {
		return 0, err
	}
	defer finishRelay()
	defer close(done)
	for {
		var ws unix.WaitStatus
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return 0, err
		}
		return exitStatus(ws), nil
	}
}

// runHelperViaBwrap is helper mode with --engine bwrap: the same plan run
// by the system bwrap, whose command is zbox's own helper inner stage
// (spec §7.2), exactly as the real helper builds it.
func runHelperViaBwrap(h *helperArgs, pols policy.ResolvedPolicies, plan *policy.Plan) int {
	self, err := os.Executable()
	if err != nil {
		return helperPanic(fmt.Sprintf("locate the zbox binary: %v", err))
	}
	ser := func(v any, what string) string {
		b, err := json.Marshal(v)
		if err != nil {
			panic("failed to serialize " + what)
		}
		return string(b)
	}
	inner := []string{self, "linux-sandbox", "--sandbox-policy-cwd", h.PolicyCwd}
	if h.CommandCwd != "" {
		inner = append(inner, "--command-cwd", h.CommandCwd)
	}
	inner = append(inner,
		"--sandbox-policy", ser(pols.Legacy, "sandbox policy"),
		"--file-system-sandbox-policy", ser(pols.FS, "filesystem sandbox policy"),
		"--network-sandbox-policy", ser(pols.Net, "network sandbox policy"),
		"--apply-seccomp-then-exec")
	p := *plan
	p.Mounts = append([]policy.MountOp(nil), plan.Mounts...)
	// The inner stage is this binary: make it visible in a tmpfs root.
	p.Mounts = append(p.Mounts, policy.MountOp{Kind: policy.OpROBind, Source: self, Dest: self})
	if h.ProxyMode {
		// Spec §6.1 step 5: $CODEX_HOME/tmp when it can be created and
		// forced to 0700, else the default temp dir chain ("").
		parent := ""
		if home := os.Getenv("CODEX_HOME"); home != "" {
			dir := home + "/tmp"
			// Newer helpers also fall back when the socket paths would not
			// fit sun_path (107 bytes); keep a margin for the run's
			// directory and socket names.
			if len(dir)+48 <= 107 && os.MkdirAll(dir, 0o700) == nil && os.Chmod(dir, 0o700) == nil {
				parent = dir
			}
		}
		br, err := netns.PrepareHostUDSBridges(parent, plan.Network.Routes)
		if err != nil {
			return helperPanic("failed to prepare host proxy routing bridge: " + err.Error())
		}
		defer br.Close()
		spec, err := br.Spec()
		if err != nil {
			return helperPanic("failed to prepare host proxy routing bridge: " + err.Error())
		}
		inner = append(inner, "--allow-network-for-proxy", "--proxy-route-spec", spec)
		p.Mounts = append(p.Mounts, policy.MountOp{Kind: policy.OpROBind, Source: br.Dir, Dest: br.Dir})
	}
	inner = append(inner, "--")
	inner = append(inner, h.Command...)
	if !h.NoProc && bwrapProcRefused(&p) {
		// The helper's /proc preflight (spec §4): bwrap cannot mount a
		// fresh procfs here (masked /proc in a container), so run without
		// --proc, silently, as the helper does.
		var kept []policy.MountOp
		for _, op := range p.Mounts {
			if op.Kind != policy.OpProc {
				kept = append(kept, op)
			}
		}
		p.Mounts = kept
	}
	status, err := runBwrapEngine(&p, inner)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bwrap: %v\n", err)
		return exitSetup
	}
	return status
}

// bwrapProcRefused runs the plan once under the system bwrap with true as
// the command and reports whether bwrap failed to mount /proc. It accepts
// both bwrap's old "/newroot/proc" and 0.12's "/proc" wording (the
// helper's matcher misses the latter: Codex issues #44304, #44329).
func bwrapProcRefused(plan *policy.Plan) bool {
	bw, err := findBwrap()
	if err != nil {
		return false
	}
	trueBin := "true"
	for _, c := range []string{"/usr/bin/true", "/bin/true"} {
		if _, err := os.Stat(c); err == nil {
			trueBin = c
			break
		}
	}
	r := &bwrapRun{}
	defer func() {
		for _, f := range r.files {
			f.Close()
		}
	}()
	args, err := policy.BwrapArgs(plan, r.dataFD, []string{trueBin})
	if err != nil {
		return false
	}
	cmd := exec.Command(bw, args...)
	cmd.ExtraFiles = r.files
	var stderr strings.Builder
	cmd.Stderr = &stderr
	_ = cmd.Run()
	msg := stderr.String()
	if len(msg) > 64<<10 {
		msg = msg[:64<<10]
	}
	return strings.Contains(msg, "Can't mount proc") &&
		(strings.Contains(msg, "/newroot/proc") || strings.Contains(msg, "on /proc")) &&
		(strings.Contains(msg, "Invalid argument") || strings.Contains(msg, "Operation not permitted") || strings.Contains(msg, "Permission denied"))
}

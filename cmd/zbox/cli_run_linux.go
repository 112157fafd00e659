package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/zbox-sandbox/zbox/lsm"
	"github.com/zbox-sandbox/zbox/netns"
	"github.com/zbox-sandbox/zbox/policy"
)

// engineFunc runs a plan and waits for it.
type engineFunc func(plan *policy.Plan, opt nativeOptions) (nativeResult, error)

// engineChoice is the engine a run uses, and why.
type engineChoice struct {
	Name string `json:"name"` // native, bwrap, landlock
	// Reason explains an "auto" choice.
	Reason string     `json:"reason,omitempty"`
	run    engineFunc `json:"-"`
}

// The engines other than the native one, adapted to the native engine's
// signature. What they cannot do is refused with a setup error rather
// than silently dropped.
var (
	bwrapEngine engineFunc = func(plan *policy.Plan, opt nativeOptions) (nativeResult, error) {
		if err := notWith("--engine bwrap", plan, opt); err != nil {
			return nativeResult{}, err
		}
		st, err := runBwrapEngine(plan, nil)
		return nativeResult{Status: st}, err
	}
	// landlockEngine replaces zbox with the command (execve) and returns
	// only on failure.
	landlockEngine engineFunc = func(plan *policy.Plan, opt nativeOptions) (nativeResult, error) {
		if err := notWith("the Landlock-only mode (no user namespaces)", plan, opt); err != nil {
			return nativeResult{}, err
		}
		return nativeResult{}, runLandlockOnly(plan)
	}
)

// notWith refuses what only the native engine's supervisor can do.
func notWith(mode string, plan *policy.Plan, opt nativeOptions) error {
	var missing []string
	if opt.Timeout > 0 {
		missing = append(missing, "--timeout")
	}
	if plan.Limits != nil {
		missing = append(missing, "--limit")
	}
	if plan.Network.Mode == policy.NetProxyOnly && mode == "--engine bwrap" {
		// (Landlock-only fails closed instead: every IP socket denied.)
		missing = append(missing, "--allow-net=DOMAINS (the allow-list proxy)")
	}
	if len(missing) == 0 {
		return nil
	}
	return &SetupError{Msg: fmt.Sprintf("%s cannot apply %s: they need the native engine (user namespaces); drop them or use --engine native", mode, strings.Join(missing, ", "))}
}

// usernsStatus is the cheap answer to "can we create user namespaces".
type usernsStatus struct {
	OK     bool   `json:"ok"`
	Reason string `json:"reason,omitempty"`
	Fix    string `json:"fix,omitempty"`
}

// probeUsernsSysctls reads the knobs that switch user namespaces off,
// without creating one (a few file reads; run on every "auto" start).
// A container's seccomp filter is not visible here: that case is caught
// when the clone fails.
func probeUsernsSysctls() usernsStatus {
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(b))
	}
	if read("/proc/sys/user/max_user_namespaces") == "0" {
		return usernsStatus{Reason: "sysctl user.max_user_namespaces is 0", Fix: "sysctl -w user.max_user_namespaces=15000 (and persist it in /etc/sysctl.d/)"}
	}
	if os.Geteuid() != 0 {
		if read("/proc/sys/kernel/unprivileged_userns_clone") == "0" {
			return usernsStatus{Reason: "sysctl kernel.unprivileged_userns_clone is 0 (unprivileged user namespaces disabled)", Fix: "sysctl -w kernel.unprivileged_userns_clone=1"}
		}
		if read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == "1" {
			// The namespace can be created but is confined by AppArmor's
			// unprivileged_userns profile: no capabilities inside, so no
			// mounts. Ubuntu 23.10+.
			return usernsStatus{Reason: "AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns=1)",
				Fix: "load an AppArmor profile that allows userns for zbox (abi <abi/4.0>, profile zbox /path/to/zbox flags=(unconfined) { userns, }), or sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"}
		}
	}
	return usernsStatus{OK: true}
}

// selectEngine picks the engine for want ("native", "bwrap", "auto").
// An auto choice of the Landlock-only mode carries the reason in
// Reason; with strict it is an error instead.
func selectEngine(want string, strict bool, probe func() usernsStatus) (engineChoice, error) {
	switch want {
	case "native":
		return engineChoice{Name: "native", run: runNative}, nil
	case "bwrap":
		return engineChoice{Name: "bwrap", run: bwrapEngine}, nil
	}
	st := probe()
	if st.OK {
		return engineChoice{Name: "native", Reason: "user namespaces available", run: runNative}, nil
	}
	if strict {
		return engineChoice{}, &SetupError{Msg: fmt.Sprintf("user namespaces are unavailable (%s) and --strict refuses the weaker Landlock-only mode; fix: %s", st.Reason, st.Fix)}
	}
	return engineChoice{Name: "landlock", Reason: st.Reason, run: landlockEngine}, nil
}

// landlockWarning is the one line printed when auto falls back: why, and
// what is weaker for this plan.
func landlockWarning(reason string, plan *policy.Plan) string {
	spec, weaker := landlockFromPlan(plan)
	// And what this kernel's Landlock cannot enforce (truncate before ABI
	// 3, scoping before ABI 6, ...).
	weaker = append(weaker, lsm.Plan(spec, lsm.Probe().EffectiveABI()).Missing...)
	return "zbox: warning: user namespaces unavailable (" + reason + "); running in Landlock-only mode, which is weaker: " + strings.Join(weaker, "; ") + " (see zbox doctor)"
}

// isUsernsFailure says whether the native engine failed to create its
// namespaces (the clone itself), as opposed to any later setup step.
func isUsernsFailure(err error) bool {
	var se *SetupError
	return errors.As(err, &se) && strings.HasPrefix(se.Msg, "create sandbox namespaces:")
}

// runSpec runs the sandbox and returns zbox's exit status.
func (c *cli) runSpec(spec *sandboxSpec, log *slog.Logger) int {
	s := spec.Settings
	choice, err := selectEngine(s.Engine, s.Strict, probeUsernsSysctls)
	if err != nil {
		return c.fail(err)
	}
	if choice.Name == "landlock" {
		fmt.Fprintln(c.stderr, landlockWarning(choice.Reason, spec.Plan))
	}
	log.Debug("engine selected", "engine", choice.Name, "reason", choice.Reason)

	opt := nativeOptions{Debug: s.Debug, Timeout: s.Timeout}
	if s.Debug {
		opt.Logf = func(f string, a ...any) { log.Debug(fmt.Sprintf(f, a...)) }
	}
	if spec.Proxy != nil {
		// Refusals are logged with --debug only: the command sees a 403
		// or a SOCKS refusal, and its stderr stays its own.
		var plog func(string, ...any)
		if s.Debug {
			plog = func(f string, a ...any) { log.Debug("proxy: " + fmt.Sprintf(f, a...)) }
		}
		p := netns.NewProxy(spec.Proxy.Rules, plog)
		p.AllowNonPublic = spec.Proxy.AllowNonPublic
		opt.Proxy = p
	}

	t := time.Now()
	res, err := choice.run(spec.Plan, opt)
	if err != nil && s.Engine == "auto" && choice.Name == "native" && isUsernsFailure(err) {
		// The sysctls said yes but the clone failed: typically a
		// container runtime's seccomp profile.
		if s.Strict {
			return c.fail(&SetupError{Msg: err.Error() + "; --strict refuses the weaker Landlock-only mode"})
		}
		fmt.Fprintln(c.stderr, landlockWarning(strings.TrimPrefix(err.Error(), "create sandbox namespaces: "), spec.Plan))
		res, err = landlockEngine(spec.Plan, opt)
	}
	log.Debug("sandbox finished", "status", res.Status, "timed_out", res.TimedOut, "took", time.Since(t).Round(time.Microsecond))
	if err != nil {
		return c.fail(err)
	}
	if res.TimedOut {
		fmt.Fprintf(c.stderr, "zbox: timed out after %s; the sandbox was killed\n", s.Timeout)
		return 124
	}
	return res.Status
}

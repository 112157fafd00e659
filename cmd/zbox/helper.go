package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/zbox-sandbox/zbox/policy"
)

// The Codex/Zerobox Linux sandbox helper front-end: the exact command line
// of `codex-linux-sandbox` (v0.117-v0.127 three-flag CLI, spec
// codex-helper.md §2), carried out by zbox's native engine.

// helperNames are the argv[0] basenames that select helper mode.
var helperNames = map[string]bool{"codex-linux-sandbox": true, "zerobox-linux-sandbox": true}

// helperArgs is the helper's parsed command line.
type helperArgs struct {
	PolicyCwd       string
	CommandCwd      string
	SandboxPolicy   string
	FSPolicy        string
	NetPolicy       string
	hasSandbox      bool
	hasFS           bool
	hasNet          bool
	LegacyLandlock  bool
	ApplySeccomp    bool
	ProxyMode       bool
	ProxyRouteSpec  string
	hasRouteSpec    bool
	NoProc          bool
	Engine          string // zbox extension: native (default) | bwrap
	Command         []string
	sawPolicyCwdArg bool
}

// helperUsageError is clap's usage error: exit status 2.
type helperUsageError struct{ msg string }

func (e *helperUsageError) Error() string { return e.msg }

// parseHelperArgs parses like clap does for the helper: long flags with
// a separate value or "=value", flags in any order, then the command
// after "--" (or from the first positional argument on).
func parseHelperArgs(args []string) (*helperArgs, error) {
	h := &helperArgs{Engine: os.Getenv("ZBOX_ENGINE")}
	valueFlags := map[string]*string{
		"--sandbox-policy-cwd":         &h.PolicyCwd,
		"--command-cwd":                &h.CommandCwd,
		"--sandbox-policy":             &h.SandboxPolicy,
		"--file-system-sandbox-policy": &h.FSPolicy,
		"--network-sandbox-policy":     &h.NetPolicy,
		"--proxy-route-spec":           &h.ProxyRouteSpec,
		"--engine":                     &h.Engine,
	}
	seen := map[string]bool{}
	boolFlags := map[string]*bool{
		"--use-legacy-landlock":     &h.LegacyLandlock,
		"--apply-seccomp-then-exec": &h.ApplySeccomp,
		"--allow-network-for-proxy": &h.ProxyMode,
		"--no-proc":                 &h.NoProc,
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			h.Command = args[i+1:]
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			h.Command = args[i:]
			break
		}
		name, val, hasVal := strings.Cut(a, "=")
		if p, ok := valueFlags[name]; ok {
			if seen[name] {
				return nil, &helperUsageError{fmt.Sprintf("error: the argument '%s <%s>' cannot be used multiple times", name, clapValueName(name))}
			}
			seen[name] = true
			if !hasVal {
				if i+1 >= len(args) {
					return nil, &helperUsageError{fmt.Sprintf("error: a value is required for '%s <%s>' but none was supplied", name, clapValueName(name))}
				}
				i++
				val = args[i]
			}
			*p = val
			continue
		}
		if p, ok := boolFlags[name]; ok && !hasVal {
			*p = true
			continue
		}
		return nil, &helperUsageError{fmt.Sprintf("error: unexpected argument '%s' found", a)}
	}
	h.hasSandbox = seen["--sandbox-policy"]
	h.hasFS = seen["--file-system-sandbox-policy"]
	h.hasNet = seen["--network-sandbox-policy"]
	h.hasRouteSpec = seen["--proxy-route-spec"]
	if !seen["--sandbox-policy-cwd"] {
		return nil, &helperUsageError{"error: the following required arguments were not provided:\n  --sandbox-policy-cwd <SANDBOX_POLICY_CWD>"}
	}
	switch h.Engine {
	case "", "native", "auto":
		h.Engine = "native"
	case "bwrap":
	default:
		return nil, &helperUsageError{fmt.Sprintf("error: invalid value '%s' for '--engine <ENGINE>': one of native, bwrap, auto", h.Engine)}
	}
	return h, nil
}

func clapValueName(flag string) string {
	return strings.ToUpper(strings.ReplaceAll(strings.TrimPrefix(flag, "--"), "-", "_"))
}

// helperPanic prints msg the way the helper's Rust panic does and returns
// the panic's exit status. Callers (codex-core, zerobox) match the
// message by substring.
func helperPanic(msg string) int {
	fmt.Fprintf(os.Stderr, "thread 'main' (%d) panicked at linux-sandbox/src/linux_run_main.rs:1:1:\n%s\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n", os.Getpid(), msg)
	return 101
}

// rustIOError renders an errno like Rust's io::Error Display.
func rustIOError(e *ExecError) string {
	return fmt.Sprintf("%s (os error %d)", e.Text, e.Errno)
}

// runHelper is the helper's run_main (spec §2.2), step by step.
func runHelper(args []string) int {
	h, err := parseHelperArgs(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%v\n\nUsage: codex-linux-sandbox --sandbox-policy-cwd <SANDBOX_POLICY_CWD> [COMMAND]...\n\nFor more information, try '--help'.\n", err)
		return 2
	}
	// 1. Empty command.
	if len(h.Command) == 0 {
		return helperPanic("No command specified to execute.")
	}
	// 2. Invalid stage combination.
	if h.ApplySeccomp && h.LegacyLandlock {
		return helperPanic("--apply-seccomp-then-exec is incompatible with --use-legacy-landlock")
	}
	// 3. Resolve the three policy flags (spec §1.8).
	legacy, fsj, netj := "", "", ""
	if h.hasSandbox {
		legacy = h.SandboxPolicy
	}
	if h.hasFS {
		fsj = h.FSPolicy
	}
	if h.hasNet {
		netj = h.NetPolicy
	}
	pols, err := policy.ResolveHelperPolicies(policy.HostFS, legacy, fsj, netj, h.PolicyCwd)
	if err != nil {
		return helperPanic(err.Error())
	}
	// 4. Legacy guard.
	if h.LegacyLandlock && pols.FS.NeedsDirectRuntimeEnforcement(policy.HostFS, pols.Net, h.PolicyCwd) {
		return helperPanic("split sandbox policies requiring direct runtime enforcement are incompatible with --use-legacy-landlock")
	}
	// 5. Inner stage: already inside the namespaces (zbox's own bwrap
	// engine, or a caller that built them).
	if h.ApplySeccomp {
		return runHelperInner(h, pols)
	}
	in := policy.HelperInput{
		Policies: pols, PolicyCwd: h.PolicyCwd, CommandCwd: h.CommandCwd,
		NoProc: h.NoProc, ProxyMode: h.ProxyMode, Command: h.Command,
		Hardened: true,
	}
	// 6. Full-disk-write shortcut: no namespaces, only the network filter.
	if pols.FS.HasFullDiskWriteAccess() && !h.ProxyMode {
		plan, err := policy.HelperPlan(policy.HostFS, in)
		if err != nil {
			return helperPanic(err.Error())
		}
		return helperExecInPlace(plan)
	}
	// 8. Legacy Landlock pipeline.
	if h.LegacyLandlock {
		plan, err := helperLegacyPlan(h, pols)
		if err != nil {
			return helperPanic("error applying legacy Linux sandbox restrictions: " + err.Error())
		}
		return helperExecInPlace(plan)
	}
	// 7. The namespace sandbox.
	plan, err := policy.HelperPlan(policy.HostFS, in)
	if err != nil {
		return helperPanic("error building bubblewrap command: " + err.Error())
	}
	if h.ProxyMode {
		routes, err := helperProxyRoutes()
		if err != nil {
			return helperPanic("failed to prepare host proxy routing bridge: " + err.Error())
		}
		plan.Network.Routes = routes
	}
	if h.Engine == "bwrap" {
		return runHelperViaBwrap(h, pols, plan)
	}
	res, err := runNative(plan, nativeOptions{})
	if err != nil {
		return helperEngineError(err)
	}
	return res.Status
}

// helperEngineError maps an engine failure onto the helper's outward
// behaviour: an exec failure is the inner stage's panic (101); any other
// setup failure is what bwrap would print, with bwrap's status 1.
func helperEngineError(err error) int {
	if ee, ok := err.(*ExecError); ok {
		return helperPanic(fmt.Sprintf("Failed to execvp %s: %s", ee.Cmd, rustIOError(ee)))
	}
	fmt.Fprintf(os.Stderr, "bwrap: %v\n", err)
	return exitSetup
}

func helperExecInPlace(plan *policy.Plan) int {
	err := execInPlace(plan)
	if ee, ok := err.(*ExecError); ok {
		return helperPanic(fmt.Sprintf("Failed to execvp %s: %s", ee.Cmd, rustIOError(ee)))
	}
	return helperPanic(fmt.Sprintf("error applying Linux sandbox restrictions: %v", err))
}

// helperLegacyPlan is the legacy Landlock pipeline (spec §5.4): no
// namespaces; Landlock read on / and write on the legacy writable roots;
// seccomp when the network is restricted or in proxy mode (fail closed:
// there is no bridge, so all IP sockets are denied).
func helperLegacyPlan(h *helperArgs, pols policy.ResolvedPolicies) (*policy.Plan, error) {
	if !pols.Legacy.HasFullDiskReadAccess() {
		return nil, fmt.Errorf("Restricted read-only access is not supported by the legacy Linux Landlock filesystem backend.")
	}
	var roots []string
	for _, r := range pols.Legacy.WritableRootsWithCwd(policy.HostFS, h.PolicyCwd) {
		roots = append(roots, r.Root)
	}
	plan := &policy.Plan{Command: h.Command, Network: policy.NetworkSpec{Mode: policy.NetFull}}
	if !pols.FS.HasFullDiskWriteAccess() {
		spec := lsmLegacySpec(roots)
		plan.Landlock = &spec
	}
	if !pols.Net.IsEnabled() || h.ProxyMode {
		plan.Filter = policy.FilterSpec{Enabled: true, Network: policy.SeccompRestricted}
	}
	return plan, nil
}

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/zbox-sandbox/zbox/policy"
)

// The Codex/Zerobox Linux sandbox helper front-end: the exact command line
// of `codex-linux-sandbox` (v0.117-v0.127 three-flag CLI, spec
// codex-helper.md §2), carried out by zbox's native engine.

// helperNames are the argv[0] basenames that select helper mode.
var helperNames = map[string]bool{"codex-linux-sandbox": true, "zerobox-linux-sandbox": true}

// helperArgs is the helper's parsed command line.
type helperArgs struct {
	PolicyCwd      string
	CommandCwd     string
	SandboxPolicy  string
	FSPolicy       string
	NetPolicy      string
	hasSandbox     bool
	hasFS          bool
	hasNet         bool
	LegacyLandlock bool
	ApplySeccomp   bool
	ProxyMode      bool
	ProxyRouteSpec string
	hasRouteSpec   bool
	NoProc         bool
	Engine         string // zbox extension: native (default) | bwrap
	Command        []string
}

// helperUsageError is one of clap's argument errors: printed to stderr,
// exit status 2. The rendering follows clap 4 as the real helper (0.125)
// prints it, usage line included, because callers show it to users.
type helperUsageError struct {
	msg string
	// tip is clap's "to pass X as a value" hint for an unexpected flag.
	tip string
	// usage is the Usage line ("" for the errors clap prints without one).
	usage string
}

func (e *helperUsageError) Error() string { return e.msg }

// render is exactly what clap writes to stderr.
func (e *helperUsageError) render() string {
	var b strings.Builder
	b.WriteString(e.msg + "\n")
	if e.tip != "" {
		b.WriteString("\n  tip: " + e.tip + "\n")
	}
	if e.usage != "" {
		b.WriteString("\n" + e.usage + "\n")
	}
	b.WriteString("\nFor more information, try '--help'.\n")
	return b.String()
}

// helperHelpRequested is -h/--help: clap prints the help to stdout and
// exits 0.
type helperHelpRequested struct{ long bool }

func (helperHelpRequested) Error() string { return "help requested" }

// helperBinName is the name clap shows in the usage line: argv[0]'s base
// name when it is one of the helper names, else the upstream name.
func helperBinName() string {
	if len(os.Args) > 0 {
		if b := filepath.Base(os.Args[0]); helperNames[b] {
			return b
		}
	}
	return "codex-linux-sandbox"
}

// Usage lines as clap renders them. The full one (with [OPTIONS]) is used
// for --help and for errors raised before any other argument was used;
// the "smart" one lists the required flag, then the visible optional
// flags that were used, then COMMAND (as <COMMAND>... once given).
func helperFullUsage() string {
	return "Usage: " + helperBinName() + " [OPTIONS] --sandbox-policy-cwd <SANDBOX_POLICY_CWD> [COMMAND]..."
}

func helperSmartUsage(noProcUsed, commandUsed bool) string {
	u := "Usage: " + helperBinName() + " --sandbox-policy-cwd <SANDBOX_POLICY_CWD>"
	if noProcUsed {
		u += " --no-proc"
	}
	if commandUsed {
		return u + " <COMMAND>..."
	}
	return u + " [COMMAND]..."
}

// helperHelp is clap's --help (long) or -h (short) text of the 0.125
// helper; every other flag is hidden.
func helperHelp(long bool) string {
	if long {
		return "CLI surface for the Linux sandbox helper.\n\n" +
			"The type name remains `LandlockCommand` for compatibility with existing wiring, but bubblewrap is\n" +
			"now the default filesystem sandbox and Landlock is the legacy fallback.\n\n" +
			helperFullUsage() + "\n\n" +
			"Arguments:\n" +
			"  [COMMAND]...\n" +
			"          Full command args to run under the Linux sandbox helper\n\n" +
			"Options:\n" +
			"      --sandbox-policy-cwd <SANDBOX_POLICY_CWD>\n" +
			"          It is possible that the cwd used in the context of the sandbox policy is different from\n" +
			"          the cwd of the process to spawn\n\n" +
			"      --no-proc\n" +
			"          When set, skip mounting a fresh `/proc` even though PID isolation is still enabled. This\n" +
			"          is primarily intended for restrictive container environments that deny `--proc /proc`\n\n" +
			"  -h, --help\n" +
			"          Print help (see a summary with '-h')\n"
	}
	return "CLI surface for the Linux sandbox helper\n\n" +
		helperFullUsage() + "\n\n" +
		"Arguments:\n" +
		"  [COMMAND]...  Full command args to run under the Linux sandbox helper\n\n" +
		"Options:\n" +
		"      --sandbox-policy-cwd <SANDBOX_POLICY_CWD>\n" +
		"          It is possible that the cwd used in the context of the sandbox policy is different from\n" +
		"          the cwd of the process to spawn\n" +
		"      --no-proc\n" +
		"          When set, skip mounting a fresh `/proc` even though PID isolation is still enabled. This\n" +
		"          is primarily intended for restrictive container environments that deny `--proc /proc`\n" +
		"  -h, --help\n" +
		"          Print help (see more with '--help')\n"
}

// helperJSONFlags are the flags whose value clap parses as JSON while it
// reads the command line (FromStr = serde_json::from_str): a bad value is
// a usage error (status 2), not a panic.
var helperJSONFlags = map[string]func(string) error{
	"--sandbox-policy": func(s string) error {
		_, err := policy.ParseSandboxPolicy(s)
		return err
	},
	"--file-system-sandbox-policy": func(s string) error {
		_, err := policy.ParseFileSystemPolicy(s)
		return err
	},
	"--network-sandbox-policy": func(s string) error {
		_, err := policy.ParseNetworkPolicy(s)
		return err
	},
}

// parseHelperArgs parses like clap does for the helper: long flags with
// a separate value or "=value", flags in any order, each at most once,
// then the command after "--" (or from the first positional argument on).
// Errors are *helperUsageError (status 2) or helperHelpRequested.
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
	// used: some flag was given before an unknown long flag, so clap
	// renders its "smart" usage line instead of the full one (an unknown
	// short flag always gets the full one).
	used := false
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
		if a == "-h" || a == "--help" {
			return nil, helperHelpRequested{long: a == "--help"}
		}
		name, val, hasVal := strings.Cut(a, "=")
		if !strings.HasPrefix(a, "--") {
			name, hasVal = a, false
		}
		if p, ok := valueFlags[name]; ok {
			if seen[name] {
				return nil, &helperUsageError{
					msg:   fmt.Sprintf("error: the argument '%s <%s>' cannot be used multiple times", name, clapValueName(name)),
					usage: helperFullUsage(),
				}
			}
			seen[name] = true
			if !hasVal {
				if i+1 >= len(args) {
					return nil, &helperUsageError{msg: fmt.Sprintf("error: a value is required for '%s <%s>' but none was supplied", name, clapValueName(name))}
				}
				i++
				val = args[i]
			}
			if parse := helperJSONFlags[name]; parse != nil {
				if err := parse(val); err != nil {
					return nil, &helperUsageError{msg: fmt.Sprintf("error: invalid value '%s' for '%s <%s>': %s", val, name, clapValueName(name), jsonErrorText(err))}
				}
			}
			*p = val
			used = true
			continue
		}
		if p, ok := boolFlags[name]; ok {
			if hasVal {
				return nil, &helperUsageError{
					msg:   fmt.Sprintf("error: unexpected value '%s' for '%s' found; no more were expected", val, name),
					usage: helperSmartUsage(h.NoProc || name == "--no-proc", false),
				}
			}
			if seen[name] {
				return nil, &helperUsageError{
					msg:   fmt.Sprintf("error: the argument '%s' cannot be used multiple times", name),
					usage: helperFullUsage(),
				}
			}
			seen[name] = true
			*p = true
			used = true
			continue
		}
		usage := helperFullUsage()
		if used && strings.HasPrefix(a, "--") {
			usage = helperSmartUsage(h.NoProc, false)
		}
		return nil, &helperUsageError{
			msg:   fmt.Sprintf("error: unexpected argument '%s' found", a),
			tip:   fmt.Sprintf("to pass '%s' as a value, use '-- %s'", a, a),
			usage: usage,
		}
	}
	h.hasSandbox = seen["--sandbox-policy"]
	h.hasFS = seen["--file-system-sandbox-policy"]
	h.hasNet = seen["--network-sandbox-policy"]
	h.hasRouteSpec = seen["--proxy-route-spec"]
	if !seen["--sandbox-policy-cwd"] {
		return nil, &helperUsageError{
			msg:   "error: the following required arguments were not provided:\n  --sandbox-policy-cwd <SANDBOX_POLICY_CWD>",
			usage: helperSmartUsage(h.NoProc, len(h.Command) > 0),
		}
	}
	switch h.Engine {
	case "", "native", "auto":
		h.Engine = "native"
	case "bwrap":
	default:
		return nil, &helperUsageError{msg: fmt.Sprintf("error: invalid value '%s' for '--engine <ENGINE>': one of native, bwrap, auto", h.Engine)}
	}
	return h, nil
}

// jsonErrorText is the parse error without the flag-specific prefixes the
// policy package adds ("sandbox policy: "), closer to serde's text.
func jsonErrorText(err error) string {
	msg := err.Error()
	for _, p := range []string{"sandbox policy: ", "file-system sandbox policy: ", "network sandbox policy: "} {
		msg = strings.TrimPrefix(msg, p)
	}
	return msg
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
	var help helperHelpRequested
	var usage *helperUsageError
	switch {
	case errors.As(err, &help):
		fmt.Print(helperHelp(help.long))
		return 0
	case errors.As(err, &usage):
		fmt.Fprint(os.Stderr, usage.render())
		return exitUsage
	case err != nil:
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		return exitUsage
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
		return helperPanic("error building bubblewrap command: " + helperBuildError(err))
	}
	if h.ProxyMode {
		routes, err := helperProxyRoutes()
		if err != nil {
			return helperPanic("failed to prepare host proxy routing bridge: " + err.Error())
		}
		plan.Network.Routes = routes
	}
	if plan.DieWithParent {
		// The helper's bwrap runs with --die-with-parent: the sandbox
		// goes when the helper's caller goes. zbox's init already dies
		// with this process; this process must die with its caller.
		dieWithParent()
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

// helperBuildError renders an argv-building error as the helper's panic
// shows it: its fail-closed errors are Rust's Debug of
// BwrapBuildError::Fatal(String), i.e. Fatal("<message>").
func helperBuildError(err error) string {
	var ws *policy.WritableSymlinkError
	if errors.As(err, &ws) {
		return "Fatal(" + rustDebugString(ws.Error()) + ")"
	}
	return err.Error()
}

// rustDebugString quotes s the way Rust's <str as Debug> does.
func rustDebugString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '"':
			b.WriteString(`\"`)
		case r == 0:
			b.WriteString(`\0`)
		case r == utf8.RuneError || !unicode.IsPrint(r) && r != ' ':
			fmt.Fprintf(&b, `\u{%x}`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
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

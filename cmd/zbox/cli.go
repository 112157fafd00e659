package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/zbox-sandbox/zbox/policy"
)

// runCLI is a placeholder grammar until the kong CLI lands: zbox [--debug]
// [--no-proc] [--allow-net] -- CMD...
func runCLI(args []string) int {
	if len(args) >= 1 && args[0] == "exec-plan" {
		return runExecPlan(args[1:])
	}
	var debug, noProc, net bool
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		a := args[0]
		args = args[1:]
		if a == "--" {
			break
		}
		switch a {
		case "--debug":
			debug = true
		case "--no-proc":
			noProc = true
		case "--allow-net":
			net = true
		case "--engine=native":
		default:
			fmt.Fprintf(os.Stderr, "zbox: unknown flag %s\n", a)
			return exitUsage
		}
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "zbox: no command given (usage: zbox [FLAGS] -- CMD [ARGS...])")
		return exitUsage
	}
	plan := &policy.Plan{
		Namespaces: policy.Namespaces{User: true, Mount: true, PID: true, IPC: true, UTS: true, Net: !net},
		Mounts: []policy.MountOp{
			{Kind: policy.OpROBind, Source: "/", Dest: "/"},
			{Kind: policy.OpDev, Dest: "/dev"},
		},
		Network:    policy.NetworkSpec{Mode: policy.NetIsolated},
		Filter:     policy.FilterSpec{Enabled: true, Network: policy.SeccompRestricted},
		Landlock:   &policy.LandlockSpec{Scope: true},
		NewSession: true, DieWithParent: true,
		Command: args,
	}
	if net {
		plan.Network.Mode = policy.NetFull
		plan.Filter.Network = policy.SeccompNone
	}
	if !noProc {
		plan.Mounts = append(plan.Mounts, policy.MountOp{Kind: policy.OpProc, Dest: "/proc", Fallback: policy.ProcBindHost})
	}
	var logf func(string, ...any)
	if debug {
		logf = func(f string, a ...any) { fmt.Fprintf(os.Stderr, "zbox: "+f+"\n", a...) }
	}
	res, err := runNative(plan, nativeOptions{Debug: debug, Logf: logf})
	if err != nil {
		return reportError("zbox", err)
	}
	return res.Status
}

// reportError prints err in zbox's one-line form and returns the exit
// status for it.
func reportError(prog string, err error) int {
	var ee *ExecError
	if errors.As(err, &ee) {
		fmt.Fprintf(os.Stderr, "%s: %s: %s\n", prog, ee.Cmd, ee.Text)
		if ee.Errno == 2 {
			return 127
		}
		return 126
	}
	fmt.Fprintf(os.Stderr, "%s: %v\n", prog, err)
	return exitSetup
}

// runExecPlan runs a plan given as JSON (a file, or - for stdin): zbox
// exec-plan [--debug] FILE. It is the engine's test and debugging entry
// point: e2e tests drive the native engine with plans they build
// themselves, independent of any front-end.
func runExecPlan(args []string) int {
	debug := false
	if len(args) > 0 && args[0] == "--debug" {
		debug = true
		args = args[1:]
	}
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "zbox: usage: zbox exec-plan [--debug] FILE|-")
		return exitUsage
	}
	var data []byte
	var err error
	if args[0] == "-" {
		data, err = io.ReadAll(os.Stdin)
	} else {
		data, err = os.ReadFile(args[0])
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "zbox: read plan: %v\n", err)
		return exitUsage
	}
	var plan policy.Plan
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&plan); err != nil {
		fmt.Fprintf(os.Stderr, "zbox: parse plan %s: %v\n", args[0], err)
		return exitUsage
	}
	var logf func(string, ...any)
	if debug {
		logf = func(f string, a ...any) { fmt.Fprintf(os.Stderr, "zbox: "+f+"\n", a...) }
	}
	res, err := runNative(&plan, nativeOptions{Debug: debug, Logf: logf})
	if err != nil {
		return reportError("zbox", err)
	}
	return res.Status
}

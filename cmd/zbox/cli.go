package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/zbox-sandbox/zbox/policy"
)

// runCLI is a placeholder grammar until the kong CLI lands: zbox [--debug]
// [--no-proc] [--allow-net] -- CMD...
func runCLI(args []string) int {
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

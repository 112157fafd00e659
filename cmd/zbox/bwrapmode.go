package main

import (
	"fmt"
	"os"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/zbox-sandbox/zbox/cmd/zbox/bwrapcli"
)

// runBwrapMode is `zbox bwrap ARGS` and zbox run through a symlink named
// bwrap: bubblewrap's command line with bubblewrap's semantics (no
// implicit seccomp, a uid-0 caller keeps its capabilities unless it uses
// --cap-drop, errors as "bwrap: ..." with status 1), carried out by the
// native engine.
func runBwrapMode(argv0 string, args []string) int {
	// bwrap prints its usage with argv[0] exactly as it was invoked
	// ("usage: /usr/bin/bwrap [OPTIONS...]"); diagnostics always say
	// "bwrap: ".
	name := argv0
	opts, err := bwrapcli.Parse(args, bwrapcli.OSEnv{})
	if err != nil {
		if e, ok := err.(*bwrapcli.Error); ok {
			for _, w := range e.Warnings {
				fmt.Fprintln(os.Stderr, w)
			}
			fmt.Fprint(os.Stderr, e.Stderr(name))
		} else {
			fmt.Fprintf(os.Stderr, "bwrap: %v\n", err)
		}
		return exitSetup
	}
	for _, w := range opts.Warnings {
		fmt.Fprintln(os.Stderr, w)
	}
	switch {
	case opts.Help:
		fmt.Print(bwrapcli.Usage(name))
		return 0
	case opts.Version:
		fmt.Println(bwrapcli.VersionString())
		return 0
	}
	// bwrap raises the capabilities it keeps as ambient only when the
	// caller chose them (--cap-add/--cap-drop).
	opts.Plan.Caps.Ambient = opts.CapsExplicit
	// Without a new user namespace bwrap leaves the bounding set alone.
	opts.Plan.Caps.KeepBounding = !opts.Plan.Namespaces.User
	if opts.Plan.DisableUserns {
		// zbox sets the sandbox namespace's max_user_namespaces to 0
		// where bwrap sets 1 and runs the command in a nested namespace.
		// CAP_SYS_RESOURCE in the sandbox's namespace could raise it
		// again, so the command never keeps it (bwrap's command has it
		// only over its nested namespace, where it lifts nothing).
		opts.Plan.Caps.Keep = slices.DeleteFunc(opts.Plan.Caps.Keep, func(c int) bool { return c == unix.CAP_SYS_RESOURCE })
	}
	prefix := "bwrap: "
	if opts.LevelPrefix {
		prefix = "<3>bwrap: "
	}
	// bwrap hands the command every fd it inherited and did not consume
	// itself (callers pass fds into the sandbox this way); zbox's own
	// front-ends close them instead.
	opts.Plan.Status.KeepFDs = inheritedFDs(opts.Plan)
	if err := checkPlanFDs(opts.Plan); err != nil {
		fmt.Fprintf(os.Stderr, "%s%v\n", prefix, err)
		return exitSetup
	}
	if opts.Plan.DieWithParent {
		// bwrap's monitor (this process) dies with its parent too, which
		// takes the sandbox down with it.
		dieWithParent()
	}
	// bwrap's monitor returns as soon as the command exits; pid 1 keeps
	// reaping whatever the command left behind.
	res, err := runNative(opts.Plan, nativeOptions{KeepReaping: opts.Plan.Namespaces.PID})
	if err != nil {
		if ee, ok := err.(*ExecError); ok {
			fmt.Fprintf(os.Stderr, "%sexecvp %s: %s\n", prefix, ee.Cmd, ee.Text)
			return exitSetup
		}
		fmt.Fprintf(os.Stderr, "%s%v\n", prefix, err)
		return exitSetup
	}
	return res.Status
}

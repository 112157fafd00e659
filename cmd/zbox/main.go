// Command zbox runs a command in a Linux sandbox built natively from
// namespaces, bind mounts, pivot_root, Landlock and seccomp.
//
// It is also a drop-in for bubblewrap (argv[0] "bwrap", or "zbox bwrap
// ARGS") and for the Codex/Zerobox Linux sandbox helper (argv[0]
// "codex-linux-sandbox" or "zerobox-linux-sandbox", or "zbox
// linux-sandbox ARGS").
package main

import (
	"os"
	"path/filepath"
)

func main() {
	// Stage dispatch happens before any flag parsing: the init is not a
	// user-facing command and must not be reachable through the grammar.
	base := filepath.Base(os.Args[0])
	switch {
	case base == initArg0:
		runInit()
		return
	case base == "bwrap":
		startSignalRelay()
		os.Exit(runBwrapMode(os.Args[0], os.Args[1:]))
	case helperNames[base]:
		startSignalRelay()
		os.Exit(runHelper(os.Args[1:]))
	}
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "explain", "doctor", "profile", "version", "help", "-h", "--help", "-V", "--version", "exec-inner":
		default:
			// Everything else may run a sandbox: get the signal relay
			// going while the command line is parsed.
			startSignalRelay()
		}
		switch os.Args[1] {
		case "bwrap":
			os.Exit(runBwrapMode("bwrap", os.Args[2:]))
		case "linux-sandbox":
			os.Exit(runHelper(os.Args[2:]))
		case "exec-inner":
			// zbox's inner stage under the bwrap engine (internal).
			os.Exit(runExecInner(os.Args[2:]))
		}
	}
	os.Exit(runCLI(os.Args[1:]))
}

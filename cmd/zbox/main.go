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
	switch filepath.Base(os.Args[0]) {
	case initArg0:
		runInit()
		return
	}
	os.Exit(runCLI(os.Args[1:]))
}

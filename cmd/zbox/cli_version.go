package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is set at link time (-ldflags "-X main.version=v1.2.3"); by
// default the module version or the VCS revision is used.
var version = ""

// versionLine is "zbox VERSION (go1.26.x linux/amd64)".
func versionLine() string {
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		if v == "" {
			var rev, dirty string
			for _, s := range bi.Settings {
				switch s.Key {
				case "vcs.revision":
					rev = s.Value
				case "vcs.modified":
					if s.Value == "true" {
						dirty = "+dirty"
					}
				}
			}
			if len(rev) > 12 {
				rev = rev[:12]
			}
			if rev != "" {
				v = "devel-" + rev + dirty
			}
		}
	}
	if v == "" {
		v = "devel"
	}
	return fmt.Sprintf("zbox %s (%s %s/%s)", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// The static probe (testdata/probe) is what the inner-stage tests run
// inside sandboxes: one line per check, no libc, no shell.

var (
	probeOnce sync.Once
	probePath string
	probeErr  error
	probeSkip string
)

// probeBin returns the path of the probe binary, building it once per test
// process with CGO_ENABLED=0 into a directory every uid can read and
// execute. A prebuilt probe is used instead when $ZBOX_PROBE_BIN names one
// or when a file "zbox-probe" sits next to $ZBOX_BIN (for runs where the
// Go toolchain or the source tree is not at hand, e.g. the compiled suite
// run as another user). Without any the calling test is skipped, naming
// what is missing.
func probeBin(t testing.TB) string {
	t.Helper()
	probeOnce.Do(buildProbe)
	if probeSkip != "" {
		t.Skip(probeSkip)
	}
	if probeErr != nil {
		t.Fatalf("build the e2e probe: %v", probeErr)
	}
	return probePath
}

func buildProbe() {
	if p := os.Getenv("ZBOX_PROBE_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			probeErr = fmt.Errorf("ZBOX_PROBE_BIN=%s: %w", p, err)
		}
		probePath = p
		return
	}
	if os.Getenv("ZBOX_BIN") != "" {
		if p := filepath.Join(filepath.Dir(zboxBin), "zbox-probe"); fileExists(p) {
			probePath = p
			return
		}
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		probeSkip = "the probe needs the Go toolchain to build (go is not on PATH); set ZBOX_PROBE_BIN to a prebuilt probe"
		return
	}
	_, self, _, _ := runtime.Caller(0)
	src := filepath.Join(filepath.Dir(self), "testdata", "probe")
	if !fileExists(filepath.Join(src, "main.go")) {
		probeSkip = fmt.Sprintf("the probe source %s is not readable here; set ZBOX_PROBE_BIN to a prebuilt probe", src)
		return
	}
	// Next to a zbox that TestMain built (its directory is ours and
	// world-readable already), else in a fresh temporary directory.
	dir := filepath.Dir(zboxBin)
	if !strings.HasPrefix(filepath.Base(dir), "zbox-e2e-bin-") || !dirWritable(dir) {
		if dir, err = os.MkdirTemp("", "zbox-e2e-probe-"); err != nil {
			probeErr = err
			return
		}
		// Sandboxes of any uid (and root with no capabilities) must be
		// able to execute it.
		if err = os.Chmod(dir, 0o755); err != nil {
			probeErr = err
			return
		}
	}
	out := filepath.Join(dir, "zbox-probe")
	// -buildvcs=false: an unprivileged user building in a root-owned
	// checkout would otherwise fail on git's "dubious ownership" check.
	cmd := exec.Command(goTool, "build", "-buildvcs=false", "-trimpath", "-o", out, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		probeErr = fmt.Errorf("go build in %s: %v\n%s", src, err, b)
		return
	}
	probePath = out
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func dirWritable(dir string) bool {
	f, err := os.CreateTemp(dir, ".probe-check-")
	if err != nil {
		return false
	}
	f.Close()
	os.Remove(f.Name())
	return true
}

// probeLines parses the probe's output: "<subcommand words>: <result>"
// per line, keyed by the subcommand words. Later lines with the same key
// win (int80-socket prints "calling" first, then its result if it lives).
func probeLines(stdout string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(stdout, "\n") {
		if k, v, ok := strings.Cut(line, ": "); ok {
			m[k] = v
		}
	}
	return m
}

// capsLine parses the caps probe's "K=V K=V ..." result.
func capsLine(s string) map[string]string {
	m := map[string]string{}
	for _, f := range strings.Fields(s) {
		if k, v, ok := strings.Cut(f, "="); ok {
			m[k] = v
		}
	}
	return m
}

// Package e2e runs the built zbox binary against the real kernel: user,
// mount, pid and net namespaces, Landlock and seccomp. CI runs the suite
// twice, as root and as an unprivileged user (see .ci/run); every test
// that depends on who runs it says so in its name or skip reason.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zbox-sandbox/zbox/policy"
)

// zboxBin is the binary under test: $ZBOX_BIN, or built once by TestMain.
var zboxBin string

func TestMain(m *testing.M) {
	code, err := setup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e setup:", err)
		os.Exit(1)
	}
	if code >= 0 {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

func setup() (int, error) {
	// Drop PATH entries this user cannot search (CI's su keeps root's
	// PATH, with /root/... in it): execvp reports EACCES instead of
	// ENOENT for a missing command when a directory on PATH is
	// unsearchable, which would blur every "command not found" check.
	var keep []string
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		if d != "" && syscall.Access(d, 1 /* X_OK */) == nil {
			keep = append(keep, d)
		}
	}
	os.Setenv("PATH", strings.Join(keep, string(os.PathListSeparator)))
	if b := os.Getenv("ZBOX_BIN"); b != "" {
		zboxBin = b
		return -1, nil
	}
	dir, err := os.MkdirTemp("", "zbox-e2e-bin-")
	if err != nil {
		return 0, err
	}
	// World-readable so that sandboxes of any uid can run it.
	os.Chmod(dir, 0o755)
	zboxBin = filepath.Join(dir, "zbox")
	_, self, _, _ := runtime.Caller(0)
	root := filepath.Dir(filepath.Dir(self))
	cmd := exec.Command("go", "build", "-o", zboxBin, "./cmd/zbox")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("go build: %v\n%s", err, out)
	}
	return -1, nil
}

// result is what a run of zbox showed.
type result struct {
	Stdout, Stderr string
	Code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit=%d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
}

// runCmd runs a command with a deadline and returns what it showed.
func runCmd(t testing.TB, stdin string, name string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	err := cmd.Run()
	r := result{Stdout: out.String(), Stderr: errb.String()}
	code, ok := exitCode(err)
	if !ok {
		t.Fatalf("run %s %v: %v", name, args, err)
	}
	r.Code = code
	if ctx.Err() != nil {
		t.Fatalf("run %s %v: timed out\n%s", name, args, r)
	}
	return r
}

// zbox runs the binary under test.
func zbox(t testing.TB, args ...string) result {
	t.Helper()
	return runCmd(t, "", zboxBin, args...)
}

// runPlan runs plan through the engine's test entry point.
func runPlan(t testing.TB, plan *policy.Plan) result {
	t.Helper()
	data, err := json.Marshal(plan)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "plan.json")
	if err := os.WriteFile(f, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return runCmd(t, "", zboxBin, "exec-plan", f)
}

// basePlan is the engine's usual sandbox: read-only root, fresh /dev and
// /proc, isolated network, no capabilities, the command run by sh -c.
func basePlan(script string, extra ...policy.MountOp) *policy.Plan {
	mounts := []policy.MountOp{
		{Kind: policy.OpROBind, Source: "/", Dest: "/"},
		{Kind: policy.OpDev, Dest: "/dev"},
	}
	mounts = append(mounts, extra...)
	mounts = append(mounts, policy.MountOp{Kind: policy.OpProc, Dest: "/proc"})
	return &policy.Plan{
		Namespaces: policy.Namespaces{User: true, Mount: true, PID: true, Net: true, IPC: true, UTS: true},
		Mounts:     mounts,
		Network:    policy.NetworkSpec{Mode: policy.NetIsolated},
		Filter:     policy.FilterSpec{Enabled: true, Network: policy.SeccompRestricted},
		NewSession: true, DieWithParent: true,
		Command: []string{"/bin/sh", "-c", script},
	}
}

func isRoot() bool { return os.Getuid() == 0 }

// who names the identity the suite runs as, for messages.
func who() string {
	if isRoot() {
		return "root"
	}
	return fmt.Sprintf("uid %d", os.Getuid())
}

// hostDir makes a directory on the host that every uid can use, for
// sandboxes to read or write.
func hostDir(t testing.TB) string {
	t.Helper()
	d := t.TempDir()
	return d
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustContain(t testing.TB, r result, want string) {
	t.Helper()
	if !strings.Contains(r.Stdout+r.Stderr, want) {
		t.Fatalf("output lacks %q\n%s", want, r)
	}
}

func mustExit(t testing.TB, r result, code int) {
	t.Helper()
	if r.Code != code {
		t.Fatalf("exit status %d, want %d (as %s)\n%s", r.Code, code, who(), r)
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// exitCode turns cmd.Run's error into the exit status a shell would show
// (128+N for death by signal N); ok is false when the command could not
// be run or waited for at all.
func exitCode(err error) (code int, ok bool) {
	if err == nil {
		return 0, true
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return 0, false
	}
	ws := ee.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		return 128 + int(ws.Signal()), true
	}
	return ws.ExitStatus(), true
}

// checkDiesWithParent runs, for each binary, a shell script (made by
// script from the binary, a host directory and a marker path in it) that
// starts a sandbox in the background and exits at once; the sandbox would
// create the marker after 0.4 s. It must die with its parent instead.
func checkDiesWithParent(t *testing.T, bins []string, what string, script func(bin, dir, marker string) string) {
	t.Helper()
	markers := map[string]string{}
	var cmds []*exec.Cmd
	for _, bin := range bins {
		d := hostDir(t)
		markers[bin] = filepath.Join(d, "survived")
		cmd := exec.Command("sh", "-c", script(bin, d, markers[bin]))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(700 * time.Millisecond)
	for bin, m := range markers {
		if _, err := os.Stat(m); err == nil {
			t.Errorf("%s: %s", bin, what)
		}
	}
}

// onPTY runs the shell command line on a pseudo-terminal made by
// script(1), types input half a second in (after the sandbox has started:
// a ^C before the command set its trap would end it), and returns what
// the terminal showed (carriage returns removed). It fails the test if
// the command hangs, as one stopped by SIGTTIN would.
func onPTY(t *testing.T, line string, env []string, input string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "script", "-qec", line, "/dev/null")
	cmd.Env = append(os.Environ(), env...)
	// An *os.File, so that Wait does not wait for stdin's end.
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	cmd.Stdin = pr
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pr.Close()
	go func() {
		time.Sleep(500 * time.Millisecond)
		io.WriteString(pw, input)
	}()
	err = cmd.Wait()
	code, _ := exitCode(err)
	if ctx.Err() != nil {
		t.Fatalf("%s: hung (stopped by SIGTTIN?)\n%s", line, out.String())
	}
	return result{Code: code, Stdout: strings.ReplaceAll(out.String(), "\r", "")}
}

package lsm

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/zbox-sandbox/zbox/policy"
)

// The kernel tests restrict a thread of a CHILD process (this test binary
// re-executed with childEnv set), so a mistake can never leave the test
// runner itself sandboxed. The child runs the requested operations on
// the restricted thread (or, for Thread == "other", on an ordinary
// goroutine of the same process) and prints the results as JSON.

const (
	childEnv  = "ZBOX_LSM_TEST_CHILD"  // JSON childReq
	leaderEnv = "ZBOX_LSM_TEST_LEADER" // "1": run the child's main on the main thread
)

func init() {
	// LockOSThread in init makes main (and so TestMain) run on the
	// process's main thread: the only way to test the leader refusal.
	if os.Getenv(leaderEnv) == "1" {
		runtime.LockOSThread()
	}
}

func TestMain(m *testing.M) {
	if req := os.Getenv(childEnv); req != "" {
		os.Exit(childMain(req))
	}
	os.Exit(m.Run())
}

type childOp struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"` // create, write, read, readdir, mkdir, rename, kill, abstract, nnp, sh
	Path   string `json:"path,omitempty"`
	Path2  string `json:"path2,omitempty"`
	PID    int    `json:"pid,omitempty"`
	Script string `json:"script,omitempty"`
	Other  bool   `json:"other,omitempty"` // run on another, unrestricted thread
}

type childReq struct {
	Spec policy.LandlockSpec `json:"spec"`
	Ops  []childOp           `json:"ops"`
	// OnMain: call RestrictThread straight from main (on the main thread,
	// see leaderEnv) instead of inside RunOnDisposableThread.
	OnMain bool `json:"on_main,omitempty"`
}

type opResult struct {
	Errno  string `json:"errno"` // "" on success, errno name, or "exit N" for sh
	Output string `json:"output,omitempty"`
	Tid    int    `json:"tid"`
}

type childResult struct {
	Report  Report              `json:"report"`
	Err     string              `json:"err,omitempty"`
	Tid     int                 `json:"tid"`
	Results map[string]opResult `json:"results"`
}

func childMain(raw string) int {
	var req childReq
	if err := json.Unmarshal([]byte(raw), &req); err != nil {
		fmt.Fprintln(os.Stderr, "child: bad request:", err)
		return 2
	}
	res := childResult{Results: map[string]opResult{}}
	body := func() {
		res.Tid = unix.Gettid()
		rep, err := RestrictThread(req.Spec)
		res.Report = rep
		if err != nil {
			res.Err = err.Error()
			if !req.OnMain {
				return
			}
			// OnMain: the refusal must have left the thread untouched;
			// the ops check that.
		}
		for _, op := range req.Ops {
			if op.Other {
				// This goroutine keeps the restricted thread locked (and
				// blocked), so the op's goroutine runs on another thread.
				ch := make(chan opResult)
				go func() { ch <- runOp(op) }()
				res.Results[op.Name] = <-ch
			} else {
				res.Results[op.Name] = runOp(op)
			}
		}
	}
	if req.OnMain {
		body()
	} else {
		RunOnDisposableThread(body)
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	return 0
}

func errnoName(err error) string {
	if err == nil {
		return ""
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		if n := unix.ErrnoName(errno); n != "" {
			return n
		}
	}
	return err.Error()
}

func runOp(op childOp) opResult {
	r := opResult{Tid: unix.Gettid()}
	var err error
	switch op.Kind {
	case "create":
		err = os.WriteFile(op.Path, []byte("x"), 0o644)
	case "write": // existing file, O_TRUNC like a shell's ">"
		var f *os.File
		if f, err = os.OpenFile(op.Path, os.O_WRONLY|os.O_TRUNC, 0); err == nil {
			_, err = f.Write([]byte("y"))
			f.Close()
		}
	case "read": // one read: also works on endless files like /dev/zero
		var f *os.File
		if f, err = os.Open(op.Path); err == nil {
			_, err = f.Read(make([]byte, 4096))
			f.Close()
		}
	case "readdir":
		_, err = os.ReadDir(op.Path)
	case "mkdir":
		err = os.Mkdir(op.Path, 0o755)
	case "rename":
		err = os.Rename(op.Path, op.Path2)
	case "kill":
		err = unix.Kill(op.PID, 0)
	case "abstract":
		var fd int
		if fd, err = unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0); err == nil {
			err = unix.Connect(fd, &unix.SockaddrUnix{Name: "@" + op.Path})
			unix.Close(fd)
		}
	case "nnp":
		var v int
		v, err = unix.PrctlRetInt(unix.PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0)
		r.Output = fmt.Sprint(v)
	case "sh":
		// Fork+exec from this goroutine's (locked) thread: the child
		// inherits that thread's credentials and Landlock domain.
		cmd := exec.Command("/bin/sh", "-c", op.Script)
		cmd.Env = []string{"PATH=/usr/bin:/bin"}
		out, e := cmd.CombinedOutput()
		r.Output = string(out)
		var ee *exec.ExitError
		if errors.As(e, &ee) {
			r.Errno = fmt.Sprintf("exit %d", ee.ExitCode())
			return r
		}
		err = e
	default:
		err = fmt.Errorf("unknown op kind %q", op.Kind)
	}
	r.Errno = errnoName(err)
	return r
}

// runChild runs req in a child process and returns its results.
func runChild(t *testing.T, req childReq, onMainThread bool) childResult {
	t.Helper()
	raw, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(raw))
	if onMainThread {
		cmd.Env = append(cmd.Env, leaderEnv+"=1")
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child failed: %v\nstderr: %s", err, stderr.String())
	}
	var res childResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("child output %q: %v\nstderr: %s", out, err, stderr.String())
	}
	return res
}

func requireLandlock(t *testing.T, minABI int) Status {
	t.Helper()
	st := Probe()
	if !st.Available {
		t.Skipf("Landlock unavailable on this kernel: %s", st.Reason)
	}
	if st.EffectiveABI() < minABI {
		t.Skipf("needs Landlock ABI %d, kernel offers %d (%s)", minABI, st.EffectiveABI(), st)
	}
	return st
}

// expect is an op with the result the test wants.
type expect struct {
	op        childOp
	errno     string // "" success; "exit" any non-zero sh exit
	outSubstr string
}

func checkResults(t *testing.T, res childResult, exps []expect) {
	t.Helper()
	for _, e := range exps {
		got, ok := res.Results[e.op.Name]
		if !ok {
			t.Errorf("%s: no result", e.op.Name)
			continue
		}
		errOK := got.Errno == e.errno || (e.errno == "exit" && strings.HasPrefix(got.Errno, "exit "))
		if !errOK {
			t.Errorf("%s: got %q (output %q); want %q", e.op.Name, got.Errno, got.Output, e.errno)
		}
		if !strings.Contains(got.Output, e.outSubstr) {
			t.Errorf("%s: output %q does not contain %q", e.op.Name, got.Output, e.outSubstr)
		}
		if e.op.Other == (got.Tid == res.Tid) {
			t.Errorf("%s: ran on tid %d, restricted thread is %d, other=%v", e.op.Name, got.Tid, res.Tid, e.op.Other)
		}
	}
}

func ops(exps []expect) []childOp {
	o := make([]childOp, len(exps))
	for i, e := range exps {
		o[i] = e.op
	}
	return o
}

// sysRead are the directories /bin/sh needs to run.
var sysRead = []string{"/usr", "/bin", "/lib", "/lib64", "/etc"}

// testTree makes ro/ (read rule), rw/ (write rule), no/ (no rule) with
// some files in them.
func testTree(t *testing.T) (ro, rw, no string) {
	base := t.TempDir()
	ro, rw, no = filepath.Join(base, "ro"), filepath.Join(base, "rw"), filepath.Join(base, "no")
	for _, d := range []string{ro, rw, no} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"ro/file", "ro/rwfile", "no/secret", "no/allowed"} {
		if err := os.WriteFile(filepath.Join(base, f), []byte("data\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return ro, rw, no
}

func TestRestrictThreadFilesystem(t *testing.T) {
	st := requireLandlock(t, 1)
	ro, rw, no := testTree(t)
	const missing = "/nonexistent-zbox-lsm-test"
	spec := policy.LandlockSpec{
		FS:         true,
		ReadPaths:  append(append([]string{}, sysRead...), ro, filepath.Join(no, "allowed"), missing),
		WritePaths: []string{rw, filepath.Join(ro, "rwfile")},
	}
	exps := []expect{
		{op: childOp{Name: "nnp restricted", Kind: "nnp"}, outSubstr: "1"},
		{op: childOp{Name: "nnp other thread", Kind: "nnp", Other: true}, outSubstr: "0"},
		{op: childOp{Name: "create in write root", Kind: "create", Path: rw + "/new"}},
		{op: childOp{Name: "mkdir a", Kind: "mkdir", Path: rw + "/a"}},
		{op: childOp{Name: "mkdir b", Kind: "mkdir", Path: rw + "/b"}},
		{op: childOp{Name: "create a/f", Kind: "create", Path: rw + "/a/f"}},
		{op: childOp{Name: "create in read root", Kind: "create", Path: ro + "/new"}, errno: "EACCES"},
		{op: childOp{Name: "write file in read root", Kind: "write", Path: ro + "/file"}, errno: "EACCES"},
		{op: childOp{Name: "read file in read root", Kind: "read", Path: ro + "/file"}},
		{op: childOp{Name: "list read root", Kind: "readdir", Path: ro}},
		{op: childOp{Name: "write file rule", Kind: "write", Path: ro + "/rwfile"}},
		{op: childOp{Name: "read outside", Kind: "read", Path: no + "/secret"}, errno: "EACCES"},
		{op: childOp{Name: "list outside", Kind: "readdir", Path: no}, errno: "EACCES"},
		{op: childOp{Name: "create outside", Kind: "create", Path: no + "/new"}, errno: "EACCES"},
		{op: childOp{Name: "read file rule", Kind: "read", Path: no + "/allowed"}},
		{op: childOp{Name: "write /dev/null with O_TRUNC", Kind: "write", Path: "/dev/null"}},
		{op: childOp{Name: "read /dev/zero", Kind: "read", Path: "/dev/zero"}},
		{op: childOp{Name: "other thread reads outside", Kind: "read", Path: no + "/secret", Other: true}},
		{op: childOp{Name: "other thread writes outside", Kind: "create", Path: no + "/other", Other: true}},
		{op: childOp{Name: "sh write inside", Kind: "sh", Script: "echo hi > " + rw + "/sh.txt && cat " + rw + "/sh.txt"}, outSubstr: "hi"},
		{op: childOp{Name: "sh write outside", Kind: "sh", Script: "echo x > " + no + "/sh.txt"}, errno: "exit", outSubstr: "Permission denied"},
		{op: childOp{Name: "sh read outside", Kind: "sh", Script: "cat " + no + "/secret"}, errno: "exit", outSubstr: "Permission denied"},
		{op: childOp{Name: "sh /dev/null", Kind: "sh", Script: "echo x > /dev/null && cat /dev/null"}},
	}
	if st.EffectiveABI() >= 2 {
		// refer: write roots get it, so moving across directories works.
		exps = append(exps, expect{op: childOp{Name: "rename across dirs", Kind: "rename", Path: rw + "/a/f", Path2: rw + "/b/f"}})
	}
	res := runChild(t, childReq{Spec: spec, Ops: ops(exps)}, false)
	if res.Err != "" {
		t.Fatalf("RestrictThread: %s", res.Err)
	}
	if !res.Report.FS || res.Report.ABI != st.EffectiveABI() {
		t.Errorf("report %+v: want FS at ABI %d", res.Report, st.EffectiveABI())
	}
	if !contains(res.Report.Skipped, missing) {
		t.Errorf("Skipped = %q; want it to list %s", res.Report.Skipped, missing)
	}
	t.Logf("report: %s", res.Report)
	checkResults(t, res, exps)
	if _, err := os.Stat(filepath.Join(no, "other")); err != nil {
		t.Errorf("the unrestricted thread's file is missing: %v", err)
	}
}

func TestRestrictThreadLegacy(t *testing.T) {
	requireLandlock(t, 1)
	_, rw, no := testTree(t)
	exps := []expect{
		{op: childOp{Name: "read anywhere", Kind: "read", Path: no + "/secret"}},
		{op: childOp{Name: "write outside roots", Kind: "create", Path: no + "/x"}, errno: "EACCES"},
		{op: childOp{Name: "write root", Kind: "create", Path: rw + "/x"}},
		{op: childOp{Name: "dev null", Kind: "write", Path: "/dev/null"}},
		{op: childOp{Name: "sh", Kind: "sh", Script: "cat " + no + "/secret && echo x > " + rw + "/y && ! echo x > " + no + "/y"}, outSubstr: "data"},
	}
	res := runChild(t, childReq{Spec: LegacySpec([]string{rw}), Ops: ops(exps)}, false)
	if res.Err != "" {
		t.Fatalf("RestrictThread: %s", res.Err)
	}
	checkResults(t, res, exps)
}

func TestRestrictThreadScope(t *testing.T) {
	requireLandlock(t, 6)
	// An abstract socket served by this (outside) process.
	name := fmt.Sprintf("zbox-lsm-test-%d", os.Getpid())
	ln, err := net.Listen("unix", "@"+name)
	if err != nil {
		t.Fatalf("listening on abstract socket @%s: %v", name, err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	outside := os.Getpid() // the child's parent: outside any domain

	for _, tt := range []struct {
		scope bool
		deny  string // errno for ops reaching outside
	}{{true, "EPERM"}, {false, ""}} {
		t.Run(fmt.Sprintf("scope=%v", tt.scope), func(t *testing.T) {
			shWant := ""
			if tt.deny != "" {
				shWant = "exit"
			}
			exps := []expect{
				{op: childOp{Name: "signal outside", Kind: "kill", PID: outside}, errno: tt.deny},
				{op: childOp{Name: "abstract socket outside", Kind: "abstract", Path: name}, errno: tt.deny},
				{op: childOp{Name: "sh signals outside", Kind: "sh", Script: fmt.Sprintf("kill -0 %d", outside)}, errno: shWant},
				{op: childOp{Name: "sh signals itself", Kind: "sh", Script: "kill -0 $$"}},
				{op: childOp{Name: "other thread signals outside", Kind: "kill", PID: outside, Other: true}},
				{op: childOp{Name: "other thread abstract socket", Kind: "abstract", Path: name, Other: true}},
			}
			res := runChild(t, childReq{Spec: policy.LandlockSpec{Scope: tt.scope}, Ops: ops(exps)}, false)
			if res.Err != "" {
				t.Fatalf("RestrictThread: %s", res.Err)
			}
			if res.Report.Scoped != tt.scope || res.Report.FS {
				t.Errorf("report %+v: want Scoped=%v, no FS", res.Report, tt.scope)
			}
			checkResults(t, res, exps)
		})
	}
}

func TestRestrictThreadRefusesMainThread(t *testing.T) {
	requireLandlock(t, 1)
	_, _, no := testTree(t)
	spec := policy.LandlockSpec{FS: true, ReadPaths: []string{"/usr"}}
	exps := []expect{
		// Refused before any change: the thread must still read freely.
		{op: childOp{Name: "read after refusal", Kind: "read", Path: no + "/secret"}},
		{op: childOp{Name: "nnp after refusal", Kind: "nnp"}, outSubstr: "0"},
	}
	res := runChild(t, childReq{Spec: spec, Ops: ops(exps), OnMain: true}, true)
	checkResults(t, res, exps)
	if !strings.Contains(res.Err, "refusing to restrict the process's main thread") {
		t.Fatalf("err = %q; want the main-thread refusal", res.Err)
	}
}

// TestRestrictRequiredUnavailable covers the fail-closed branch without
// needing a kernel that lacks Landlock: the status is injected, and the
// error comes before any syscall.
func TestRestrictRequiredUnavailable(t *testing.T) {
	st := Status{Reason: "kernel has no Landlock system calls (ENOSYS)"}
	_, err := restrictThread(LegacySpec([]string{"/tmp"}), st, false)
	if !errors.Is(err, ErrNotEnforced) {
		t.Fatalf("err = %v; want ErrNotEnforced", err)
	}
	if !strings.Contains(err.Error(), "ENOSYS") || !strings.Contains(err.Error(), "enable Landlock") {
		t.Errorf("error does not name the cause and the fix: %v", err)
	}
	// Not required: best effort, nothing enforced, no error.
	spec := LegacySpec([]string{"/tmp"})
	spec.Required = false
	rep, err := restrictThread(spec, st, false)
	if err != nil || rep.FS || rep.ABI != 0 {
		t.Fatalf("best effort on no Landlock: rep=%+v err=%v", rep, err)
	}
}

func TestRestrictThreadRejectsRelativePath(t *testing.T) {
	// validateSpec runs before the thread is locked or touched, so this is
	// safe in the test process itself.
	_, err := RestrictThread(policy.LandlockSpec{FS: true, WritePaths: []string{"work"}})
	if err == nil || !strings.Contains(err.Error(), "not absolute") {
		t.Fatalf("err = %v; want a not-absolute error", err)
	}
}

func TestRunOnDisposableThread(t *testing.T) {
	t.Run("not main thread", func(t *testing.T) {
		var tid int
		RunOnDisposableThread(func() { tid = unix.Gettid() })
		if tid == 0 || tid == unix.Getpid() {
			t.Fatalf("fn ran on tid %d (pid %d)", tid, unix.Getpid())
		}
	})
	t.Run("landed on main thread", func(t *testing.T) {
		// Simulate the scheduler placing the first goroutine on the main
		// thread: the nested goroutine must run fn, on a different thread.
		var calls atomic.Int32
		var firstTid atomic.Int64
		orig := onMainThread
		onMainThread = func() bool {
			if calls.Add(1) == 1 {
				firstTid.Store(int64(unix.Gettid()))
				return true
			}
			return false
		}
		defer func() { onMainThread = orig }()
		var tid int
		RunOnDisposableThread(func() { tid = unix.Gettid() })
		if calls.Load() != 2 || tid == 0 || int64(tid) == firstTid.Load() {
			t.Fatalf("calls=%d fn tid=%d first tid=%d", calls.Load(), tid, firstTid.Load())
		}
	})
	t.Run("panic propagates", func(t *testing.T) {
		defer func() {
			if p := recover(); p != "boom" {
				t.Fatalf("recovered %v; want boom", p)
			}
		}()
		RunOnDisposableThread(func() { panic("boom") })
	})
}

func TestProbe(t *testing.T) {
	st := Probe()
	t.Logf("%s", st)
	if st.Available != (st.ABI >= 1) {
		t.Fatalf("inconsistent status %+v", st)
	}
	if !st.Available && st.Reason == "" {
		t.Fatalf("unavailable without a reason: %+v", st)
	}
	if _, err := os.Stat("/sys/kernel/security/landlock"); err == nil && !st.Available {
		t.Errorf("securityfs has a landlock directory but Probe says unavailable: %s", st)
	}
}

func TestConstantsMatchKernelHeaders(t *testing.T) {
	for _, c := range []struct {
		name      string
		ours, sys uint64
	}{
		{"EXECUTE", accessExecute, unix.LANDLOCK_ACCESS_FS_EXECUTE},
		{"WRITE_FILE", accessWriteFile, unix.LANDLOCK_ACCESS_FS_WRITE_FILE},
		{"READ_FILE", accessReadFile, unix.LANDLOCK_ACCESS_FS_READ_FILE},
		{"READ_DIR", accessReadDir, unix.LANDLOCK_ACCESS_FS_READ_DIR},
		{"REMOVE_DIR", accessRemoveDir, unix.LANDLOCK_ACCESS_FS_REMOVE_DIR},
		{"REMOVE_FILE", accessRemoveFile, unix.LANDLOCK_ACCESS_FS_REMOVE_FILE},
		{"MAKE_CHAR", accessMakeChar, unix.LANDLOCK_ACCESS_FS_MAKE_CHAR},
		{"MAKE_DIR", accessMakeDir, unix.LANDLOCK_ACCESS_FS_MAKE_DIR},
		{"MAKE_REG", accessMakeReg, unix.LANDLOCK_ACCESS_FS_MAKE_REG},
		{"MAKE_SOCK", accessMakeSock, unix.LANDLOCK_ACCESS_FS_MAKE_SOCK},
		{"MAKE_FIFO", accessMakeFifo, unix.LANDLOCK_ACCESS_FS_MAKE_FIFO},
		{"MAKE_BLOCK", accessMakeBlock, unix.LANDLOCK_ACCESS_FS_MAKE_BLOCK},
		{"MAKE_SYM", accessMakeSym, unix.LANDLOCK_ACCESS_FS_MAKE_SYM},
		{"REFER", accessRefer, unix.LANDLOCK_ACCESS_FS_REFER},
		{"TRUNCATE", accessTruncate, unix.LANDLOCK_ACCESS_FS_TRUNCATE},
		{"IOCTL_DEV", accessIoctlDev, unix.LANDLOCK_ACCESS_FS_IOCTL_DEV},
		{"RESOLVE_UNIX", accessResolveUnix, unix.LANDLOCK_ACCESS_FS_RESOLVE_UNIX},
		{"SCOPE_ABSTRACT_UNIX_SOCKET", scopeAbstractUnix, unix.LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET},
		{"SCOPE_SIGNAL", scopeSignal, unix.LANDLOCK_SCOPE_SIGNAL},
	} {
		if c.ours != c.sys {
			t.Errorf("LANDLOCK_%s = %#x here, %#x in x/sys/unix", c.name, c.ours, c.sys)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

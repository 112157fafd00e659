package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zbox-sandbox/zbox/policy"
)

// testCLI is a cli whose output is captured and whose environment is
// fixed: HOME and XDG_CONFIG_HOME point into a temporary directory.
type testCLI struct {
	*cli
	out, errb *bytes.Buffer
	home      string
	env       map[string]string
}

func newTestCLI(t *testing.T) *testCLI {
	t.Helper()
	home := t.TempDir()
	cwd := t.TempDir()
	env := map[string]string{"HOME": home, "XDG_CONFIG_HOME": filepath.Join(home, ".config"), "PATH": "/usr/bin:/bin"}
	tc := &testCLI{out: &bytes.Buffer{}, errb: &bytes.Buffer{}, home: home, env: env}
	tc.cli = &cli{
		stdout: tc.out, stderr: tc.errb,
		getenv: func(k string) string { return env[k] },
		host: hostInfo{Cwd: cwd, Home: home, TmpDir: "/tmp",
			Env: []string{"HOME=" + home, "PATH=/usr/bin:/bin", "LC_ALL=C", "SECRET_TOKEN=x", "AWS_KEY=y", "http_proxy=http://corp:3128", "NO_PROXY=internal.example"}},
		start: time.Now(),
	}
	return tc
}

func (tc *testCLI) run(args ...string) int {
	tc.out.Reset()
	tc.errb.Reset()
	return tc.main(args)
}

// explain runs "zbox explain --json ARGS" and decodes the result.
func (tc *testCLI) explain(t *testing.T, args ...string) explanation {
	t.Helper()
	code := tc.run(append([]string{"explain", "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("explain %v: exit %d\n%s", args, code, tc.errb)
	}
	var e explanation
	if err := json.Unmarshal(tc.out.Bytes(), &e); err != nil {
		t.Fatalf("explain %v: %v\n%s", args, err, tc.out)
	}
	return e
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no args", nil, "no command given"},
		{"no command", []string{"--allow-write"}, "no command given"},
		{"unknown flag", []string{"--typo", "--", "true"}, "unknown flag --typo"},
		{"unknown flag run", []string{"run", "--typo", "true"}, "unknown flag --typo"},
		{"bad duration", []string{"--timeout", "5x", "--", "true"}, "--timeout 5x: not a duration"},
		{"zero duration", []string{"--timeout=0", "--", "true"}, "positive duration"},
		{"bad engine", []string{"--engine=qemu", "--", "true"}, "--engine must be one of"},
		{"missing profile", []string{"--profile=nope", "--", "true"}, `unknown profile "nope"`},
		{"impossible path", []string{"--allow-read=/etc/passwd/x", "--", "true"}, "cannot exist: /etc/passwd is not a directory"},
		{"impossible deny path", []string{"--deny-read=/etc/hostname/x/y", "--", "true"}, "cannot exist"},
		{"empty value", []string{"--allow-read=", "--", "true"}, "--allow-read=: empty value"},
		{"empty item", []string{"--deny-read=/a,,/b", "--", "true"}, "empty item"},
		{"tilde user", []string{"--deny-read=~root/x", "--", "true"}, "~user is not supported"},
		{"dir as command", []string{"--allow-write", dir, "--", "true"}, "is a directory, not a command"},
		{"bad limit", []string{"--limit=memory=lots", "--", "true"}, "is not a size"},
		{"unknown limit", []string{"--limit=disk=1G", "--", "true"}, `unknown resource "disk"`},
		{"tiny memory", []string{"--limit=memory=1K", "--", "true"}, "below 1M"},
		{"bad env", []string{"--env", "NOVALUE", "--", "true"}, "expected KEY=VALUE"},
		{"bad env pattern", []string{"--allow-env=A[", "--", "true"}, "bad pattern"},
		{"bad domain", []string{"--allow-net=http://example.com", "--", "true"}, "URL scheme"},
		{"too broad wildcard", []string{"--allow-net=*.com", "--", "true"}, "allow-list entry"},
		{"missing cwd", []string{"-C", "/nonexistent-zbox", "--", "true"}, "/nonexistent-zbox: no such file"},
		{"cwd not dir", []string{"-C", "/etc/hostname", "--", "true"}, "not a directory"},
		{"missing policy", []string{"--policy", "/nonexistent.json", "--", "true"}, "--policy /nonexistent.json"},
		{"bad profile name", []string{"--profile=a b", "--", "true"}, "profile name"},
		{"explain no command", []string{"explain"}, "no command given"},
		{"profile show missing", []string{"profile", "show", "nope"}, "unknown profile"},
		{"doctor extra arg", []string{"doctor", "x"}, "unexpected argument x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc := newTestCLI(t)
			code := tc.run(tt.args...)
			if code != exitUsage {
				t.Fatalf("exit %d, want 2\nstderr: %s", code, tc.errb)
			}
			msg := tc.errb.String()
			if strings.Count(msg, "\n") != 1 || !strings.HasPrefix(msg, "zbox: ") {
				t.Errorf("want exactly one line starting with 'zbox: ', got %q", msg)
			}
			if !strings.Contains(msg, tt.want) {
				t.Errorf("stderr %q lacks %q", msg, tt.want)
			}
			if tc.out.Len() != 0 {
				t.Errorf("stdout not empty: %q", tc.out)
			}
		})
	}
}

func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"run", "--help"}, {"help", "explain"}, {"--allow-write", "--help"}} {
		tc := newTestCLI(t)
		if code := tc.run(args...); code != 0 {
			t.Errorf("%v: exit %d, want 0\n%s", args, code, tc.errb)
		}
		if !strings.Contains(tc.out.String(), "Usage: zbox") {
			t.Errorf("%v: no usage on stdout: %q", args, tc.out)
		}
	}
	tc := newTestCLI(t)
	if code := tc.run("version"); code != 0 || !strings.HasPrefix(tc.out.String(), "zbox ") {
		t.Fatalf("version: exit %d, %q", code, tc.out)
	}
}

func TestOptListParsing(t *testing.T) {
	tests := []struct {
		args      []string
		wantAll   bool
		wantVals  []string
		wantCmd   []string
		wantFlags string
	}{
		{[]string{"--allow-write", "--", "ls", "-l"}, true, nil, []string{"--", "ls", "-l"}, ""},
		{[]string{"--allow-write=/a,/b", "--allow-write=/c", "ls"}, false, []string{"/a,/b", "/c"}, []string{"ls"}, ""},
		{[]string{"--allow-write", "--allow-write=/x", "--", "ls"}, true, []string{"/x"}, []string{"--", "ls"}, ""},
		{[]string{"--allow-write", "ls", "--typo"}, true, nil, []string{"ls", "--typo"}, ""},
	}
	for _, tt := range tests {
		var root cliRoot
		tc := newTestCLI(t)
		k, err := tc.parser(&root)
		if err != nil {
			t.Fatal(err)
		}
		_, exit, err := parse(k, append([]string{"run"}, tt.args...))
		if err != nil || exit >= 0 {
			t.Fatalf("%v: %v (exit %d)", tt.args, err, exit)
		}
		f := root.Run.AllowWrite
		if f.All != tt.wantAll || !slices.Equal(f.Values, tt.wantVals) || !slices.Equal(root.Run.Command, tt.wantCmd) {
			t.Errorf("%v: got all=%v vals=%q cmd=%q", tt.args, f.All, f.Values, root.Run.Command)
		}
	}
}

func TestSplitList(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  bool
	}{
		{"a", []string{"a"}, false},
		{"a,b", []string{"a", "b"}, false},
		{`a\,b,c`, []string{"a,b", "c"}, false},
		{`a\\,b`, []string{`a\`, "b"}, false},
		{`a\b`, []string{`a\b`}, false},
		{"a,,b", nil, true},
		{"a,", nil, true},
		{",", nil, true},
		{" ", nil, true},
	}
	for _, tt := range tests {
		got, err := splitList(tt.in)
		if (err != nil) != tt.err || !slices.Equal(got, tt.want) {
			t.Errorf("splitList(%q) = %q, %v", tt.in, got, err)
		}
	}
}

func TestParseLimitAndTimeout(t *testing.T) {
	var l policy.Limits
	for _, v := range []string{"memory=512M", "processes=100", "files=1024", "cpu=90s", "mem=1GiB"} {
		if err := parseLimit(v, &l); err != nil {
			t.Fatalf("%s: %v", v, err)
		}
	}
	want := policy.Limits{MemoryBytes: 1 << 30, Processes: 100, OpenFiles: 1024, CPUSeconds: 90}
	if l != want {
		t.Fatalf("limits %+v, want %+v", l, want)
	}
	for _, bad := range []string{"memory", "memory=", "memory=-1", "memory=1X", "processes=0", "processes=1.5", "files=3", "cpu=0", "cpu=-5s", "memory=99999999999T"} {
		if err := parseLimit(bad, &l); err == nil {
			t.Errorf("parseLimit(%q) accepted", bad)
		}
	}
	for in, want := range map[string]time.Duration{"5": 5 * time.Second, "1.5": 1500 * time.Millisecond, "2m": 2 * time.Minute, "1h30m": 90 * time.Minute} {
		if d, err := parseTimeout(in); err != nil || d != want {
			t.Errorf("parseTimeout(%q) = %v, %v", in, d, err)
		}
	}
	for _, bad := range []string{"", "x", "-1s", "0", "0s", "NaN", "1e300"} {
		if _, err := parseTimeout(bad); err == nil {
			t.Errorf("parseTimeout(%q) accepted", bad)
		}
	}
}

func TestExpanderPaths(t *testing.T) {
	base := t.TempDir()
	real := filepath.Join(base, "real")
	os.Mkdir(real, 0o755)
	os.Symlink(real, filepath.Join(base, "link"))
	h := hostInfo{Cwd: base, Home: "/home/u", TmpDir: "/var/tmp"}
	x := expander{h: h, cwd: base}
	tests := []struct {
		it   item
		want string
		err  string
	}{
		{item{Value: "~"}, "/home/u", ""},
		{item{Value: "~/.ssh"}, "/home/u/.ssh", ""},
		{item{Value: "rel/x"}, filepath.Join(base, "rel/x"), ""},
		{item{Value: "./a/../b"}, filepath.Join(base, "b"), ""},
		{item{Value: "link/f"}, filepath.Join(real, "f"), ""},
		{item{Value: "$HOME/x", Expand: true}, "/home/u/x", ""},
		{item{Value: "${TMPDIR}/y", Expand: true}, "/var/tmp/y", ""},
		{item{Value: "$CWD", Expand: true}, base, ""},
		{item{Value: "$HOME/x"}, filepath.Join(base, "$HOME/x"), ""},
		{item{Value: "/a$$b", Expand: true}, "/a$b", ""},
		{item{Value: "$FOO/x", Expand: true}, "", "unknown variable $FOO"},
		{item{Value: "/x$", Expand: true}, "", "lone '$'"},
		{item{Value: "~bob/x"}, "", "~user"},
		{item{Value: "/etc/hostname/x"}, "", "cannot exist"},
		{item{Value: "a\x00b"}, "", "NUL"},
	}
	for _, tt := range tests {
		got, err := x.path(tt.it)
		switch {
		case tt.err != "":
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: err %v, want %q", tt.it.Value, err, tt.err)
			}
		case err != nil || got != tt.want:
			t.Errorf("%q: got %q, %v; want %q", tt.it.Value, got, err, tt.want)
		}
	}
}

func TestBuildEnv(t *testing.T) {
	host := []string{"PATH=/bin", "HOME=/h", "LC_ALL=C", "LC_TIME=x", "SECRET=s", "AWS_A=1", "AWS_B=2", "NO_PROXY=corp", "TMPDIR=/t"}
	tests := []struct {
		name  string
		s     settings
		proxy bool
		want  []string
	}{
		{"defaults", settings{}, false, []string{"HOME=/h", "LC_ALL=C", "LC_TIME=x", "PATH=/bin", "TMPDIR=/t"}},
		{"allow keys", settings{EnvKeys: []string{"AWS_*"}}, false, []string{"AWS_A=1", "AWS_B=2", "HOME=/h", "LC_ALL=C", "LC_TIME=x", "PATH=/bin", "TMPDIR=/t"}},
		{"deny beats allow", settings{EnvKeys: []string{"AWS_*"}, DenyEnv: []string{"AWS_B", "LC_*"}}, false, []string{"AWS_A=1", "HOME=/h", "PATH=/bin", "TMPDIR=/t"}},
		{"all minus deny", settings{EnvAll: true, DenyEnv: []string{"AWS_*", "SECRET"}}, false, []string{"HOME=/h", "LC_ALL=C", "LC_TIME=x", "NO_PROXY=corp", "PATH=/bin", "TMPDIR=/t"}},
		{"set beats deny", settings{DenyEnv: []string{"PATH"}, SetEnv: []string{"PATH=/x", "NEW=a=b"}}, false, []string{"HOME=/h", "LC_ALL=C", "LC_TIME=x", "NEW=a=b", "PATH=/x", "TMPDIR=/t"}},
		{"proxy", settings{EnvAll: true, DenyEnv: []string{"AWS_*", "SECRET", "LC_*", "TMPDIR"}}, true, []string{
			"ALL_PROXY=http://127.0.0.1:0", "HOME=/h", "HTTPS_PROXY=http://127.0.0.1:0", "HTTP_PROXY=http://127.0.0.1:0",
			"NODE_USE_ENV_PROXY=1", "PATH=/bin", "all_proxy=http://127.0.0.1:0", "http_proxy=http://127.0.0.1:0", "https_proxy=http://127.0.0.1:0"}},
	}
	for _, tt := range tests {
		if got := buildEnv(host, tt.s, tt.proxy); !slices.Equal(got, tt.want) {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
}

func hasOp(p *policy.Plan, kind policy.OpKind, dest string) int {
	for i, op := range p.Mounts {
		if op.Kind == kind && op.Dest == dest {
			return i
		}
	}
	return -1
}

// TestExplainPlans checks the plan each flag produces.
func TestExplainPlans(t *testing.T) {
	d := t.TempDir()
	for _, p := range []string{"proj/sub", "proj/.git", "secret", "other"} {
		os.MkdirAll(filepath.Join(d, p), 0o755)
	}
	os.WriteFile(filepath.Join(d, "proj/.env"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(d, "proj/a"), []byte("x"), 0o644)
	proj := filepath.Join(d, "proj")

	t.Run("defaults", func(t *testing.T) {
		tc := newTestCLI(t)
		e := tc.explain(t, "--", "true")
		p := e.Plan
		if !p.Namespaces.User || !p.Namespaces.Net || !p.Namespaces.PID || !p.Namespaces.IPC || !p.Namespaces.UTS || !p.Namespaces.Mount {
			t.Errorf("namespaces %+v", p.Namespaces)
		}
		if hasOp(p, policy.OpROBind, "/") != 0 || hasOp(p, policy.OpDev, "/dev") != 1 {
			t.Errorf("mounts %+v", p.Mounts)
		}
		if i := hasOp(p, policy.OpProc, "/proc"); i < 0 || p.Mounts[i].Fallback != policy.ProcBindHost {
			t.Errorf("proc op missing or without bind-host fallback: %+v", p.Mounts)
		}
		if p.Network.Mode != policy.NetIsolated || p.Filter.Network != policy.SeccompRestricted || !p.Filter.DenyProcessVM {
			t.Errorf("network %+v filter %+v", p.Network, p.Filter)
		}
		if p.Landlock == nil || !p.Landlock.Scope {
			t.Errorf("landlock %+v", p.Landlock)
		}
		if !slices.Equal(e.Settings.Profiles, []string{"default"}) {
			t.Errorf("profiles %q", e.Settings.Profiles)
		}
		if !slices.Equal(p.Env, []string{"HOME=" + tc.home, "LC_ALL=C", "PATH=/usr/bin:/bin"}) {
			t.Errorf("env %q", p.Env)
		}
		if e.Policy.Legacy == nil || e.Policy.Legacy.Type != policy.PolicyReadOnly {
			t.Errorf("legacy %+v", e.Policy.Legacy)
		}
		if e.Bwrap.Argv[0] != "bwrap" || !slices.Contains(e.Bwrap.Argv, "--unshare-net") || !slices.Contains(e.Bwrap.Argv, "--clearenv") {
			t.Errorf("bwrap argv %q", e.Bwrap.Argv)
		}
	})
	t.Run("no-proc", func(t *testing.T) {
		e := newTestCLI(t).explain(t, "--no-proc", "--", "true")
		if hasOp(e.Plan, policy.OpProc, "/proc") >= 0 || hasOp(e.Plan, policy.OpTmpfs, "/proc") < 0 {
			t.Errorf("proc mounted or host /proc not hidden: %+v", e.Plan.Mounts)
		}
		e = newTestCLI(t).explain(t, "--no-proc", "--allow-read=/usr", "--", "true")
		if hasOp(e.Plan, policy.OpProc, "/proc") >= 0 || hasOp(e.Plan, policy.OpTmpfs, "/proc") >= 0 {
			t.Errorf("tmpfs root: %+v", e.Plan.Mounts)
		}
	})
	t.Run("write anywhere keeps namespaces and a fresh dev", func(t *testing.T) {
		e := newTestCLI(t).explain(t, "--allow-write", "--", "true")
		p := e.Plan
		if !p.Namespaces.User || !p.Namespaces.Net || !p.Namespaces.PID {
			t.Errorf("namespaces %+v", p.Namespaces)
		}
		// Write anywhere but zbox's own profile directory
		// (protectProfiles): "/" bound writable, a fresh /dev over it.
		b := hasOp(p, policy.OpBind, "/")
		if b < 0 || p.Mounts[b+1].Kind != policy.OpDev {
			t.Errorf("mounts %+v", p.Mounts)
		}
		if !slices.ContainsFunc(p.Mounts, func(op policy.MountOp) bool {
			return op.Kind == policy.OpROBind && strings.HasSuffix(op.Dest, "/zbox")
		}) {
			t.Errorf("zbox's profile directory is not read-only: %+v", p.Mounts)
		}
		if p.Filter.Network != policy.SeccompRestricted {
			t.Errorf("filter %+v", p.Filter)
		}
	})
	t.Run("write anywhere but one path", func(t *testing.T) {
		e := newTestCLI(t).explain(t, "--allow-write", "--deny-write="+proj, "--", "true")
		p := e.Plan
		b := hasOp(p, policy.OpBind, "/")
		if b < 0 || p.Mounts[b+1].Kind != policy.OpDev || hasOp(p, policy.OpROBind, proj) < b {
			t.Errorf("mounts %+v", p.Mounts)
		}
	})
	t.Run("bare allow-net is the host network", func(t *testing.T) {
		e := newTestCLI(t).explain(t, "--allow-net", "--", "true")
		if e.Plan.Network.Mode != policy.NetFull || e.Plan.Namespaces.Net || e.Plan.Filter.Network != policy.SeccompNone || e.Proxy != nil {
			t.Errorf("network %+v ns %+v proxy %+v", e.Plan.Network, e.Plan.Namespaces, e.Proxy)
		}
	})
	t.Run("allow-net domains go through the proxy", func(t *testing.T) {
		e := newTestCLI(t).explain(t, "--allow-net=example.com,*.example.org", "--deny-net=bad.example.org", "--", "true")
		p := e.Plan
		if p.Network.Mode != policy.NetProxyOnly || !p.Namespaces.Net || p.Filter.Network != policy.SeccompProxyRouted {
			t.Fatalf("network %+v filter %+v", p.Network, p.Filter)
		}
		if len(p.Network.Routes) != 6 || !slices.Equal(p.Network.AllowDomains, []string{"example.com", "*.example.org"}) || !slices.Equal(p.Network.DenyDomains, []string{"bad.example.org"}) {
			t.Errorf("network %+v", p.Network)
		}
		for _, r := range p.Network.Routes {
			if r.Endpoint != proxyEndpoint || !slices.Contains(p.Env, r.EnvKey+"=http://127.0.0.1:0") {
				t.Errorf("route %+v has no placeholder in env %q", r, p.Env)
			}
		}
		for _, kv := range p.Env {
			if strings.HasPrefix(strings.ToUpper(kv), "NO_PROXY=") {
				t.Errorf("inherited %s kept", kv)
			}
		}
		if e.Proxy == nil || e.Proxy.AllowNonPublic {
			t.Errorf("proxy %+v", e.Proxy)
		}
	})
	t.Run("allow-net minus deny-net", func(t *testing.T) {
		e := newTestCLI(t).explain(t, "--allow-net", "--deny-net=example.com", "--", "true")
		if e.Plan.Network.Mode != policy.NetProxyOnly || e.Proxy == nil || !slices.Equal(e.Proxy.Allow, []string{"*"}) || !e.Proxy.AllowNonPublic {
			t.Errorf("network %+v proxy %+v", e.Plan.Network, e.Proxy)
		}
	})
	t.Run("restricted reads", func(t *testing.T) {
		e := newTestCLI(t).explain(t, "--allow-read="+proj, "--", "true")
		p := e.Plan
		if hasOp(p, policy.OpTmpfs, "/") != 0 || hasOp(p, policy.OpROBind, "/usr") < 0 || hasOp(p, policy.OpROBind, proj) < 0 || hasOp(p, policy.OpRemountRO, "/") < 0 {
			t.Errorf("mounts %+v", p.Mounts)
		}
		if hasOp(p, policy.OpROBind, filepath.Join(d, "other")) >= 0 {
			t.Errorf("unlisted path bound: %+v", p.Mounts)
		}
	})
	t.Run("cwd", func(t *testing.T) {
		e := newTestCLI(t).explain(t, "-C", proj, "--allow-write=.", "--", "true")
		if e.Plan.Chdir != proj || hasOp(e.Plan, policy.OpBind, proj) < 0 {
			t.Errorf("chdir %q mounts %+v", e.Plan.Chdir, e.Plan.Mounts)
		}
		// .git under a writable root stays read-only (Codex protection).
		if hasOp(e.Plan, policy.OpROBind, filepath.Join(proj, ".git")) < 0 {
			t.Errorf(".git not protected: %+v", e.Plan.Mounts)
		}
	})
	t.Run("cwd not readable", func(t *testing.T) {
		tc := newTestCLI(t)
		if code := tc.run("explain", "-C", filepath.Join(d, "other"), "--allow-read="+proj, "--", "true"); code != 2 || !strings.Contains(tc.errb.String(), "not readable in the sandbox") {
			t.Errorf("exit %d: %s", code, tc.errb)
		}
	})
	t.Run("limits and timeout", func(t *testing.T) {
		e := newTestCLI(t).explain(t, "--limit=memory=256M,processes=50", "--limit", "files=64", "--timeout=90s", "--", "true")
		want := policy.Limits{MemoryBytes: 256 << 20, Processes: 50, OpenFiles: 64}
		if e.Plan.Limits == nil || *e.Plan.Limits != want || e.Settings.Timeout != 90*time.Second {
			t.Errorf("limits %+v timeout %v", e.Plan.Limits, e.Settings.Timeout)
		}
	})
	t.Run("engine", func(t *testing.T) {
		e := newTestCLI(t).explain(t, "--engine=native", "--", "true")
		if e.Engine.Name != "native" {
			t.Errorf("engine %+v", e.Engine)
		}
	})
}

// TestPrecedence checks "the most specific rule wins; on the same path
// deny beats allow" on the resolved policy.
func TestPrecedence(t *testing.T) {
	d := t.TempDir()
	for _, p := range []string{"a/b/c", "x"} {
		os.MkdirAll(filepath.Join(d, p), 0o755)
	}
	a, b, c, x := filepath.Join(d, "a"), filepath.Join(d, "a/b"), filepath.Join(d, "a/b/c"), filepath.Join(d, "x")
	tests := []struct {
		name  string
		flags []string
		want  map[string]policy.FSAccess
	}{
		{"default", nil, map[string]policy.FSAccess{a: policy.AccessRead, "/": policy.AccessRead}},
		{"deny-read beats allow-read same path", []string{"--allow-read=" + a, "--deny-read=" + a},
			map[string]policy.FSAccess{a: policy.AccessNone, b: policy.AccessNone}},
		{"deny-read beats allow-write same path", []string{"--allow-write=" + a, "--deny-read=" + a},
			map[string]policy.FSAccess{a: policy.AccessNone}},
		{"deny-write beats allow-write same path", []string{"--allow-write=" + a, "--deny-write=" + a},
			map[string]policy.FSAccess{a: policy.AccessRead, b: policy.AccessRead}},
		{"deny-write inside allow-write", []string{"--allow-write=" + a, "--deny-write=" + b},
			map[string]policy.FSAccess{a: policy.AccessWrite, b: policy.AccessRead, c: policy.AccessRead}},
		{"allow-write deeper than deny-write", []string{"--allow-write=" + c, "--deny-write=" + a, "--allow-write=" + a},
			map[string]policy.FSAccess{a: policy.AccessRead, b: policy.AccessRead, c: policy.AccessWrite}},
		{"allow-read deeper than deny-read", []string{"--deny-read=" + a, "--allow-read=" + b},
			map[string]policy.FSAccess{a: policy.AccessNone, b: policy.AccessRead, c: policy.AccessRead, x: policy.AccessNone}},
		{"read all, minus a, plus a/b", []string{"--allow-read", "--deny-read=" + a, "--allow-read=" + b},
			map[string]policy.FSAccess{a: policy.AccessNone, b: policy.AccessRead, c: policy.AccessRead, x: policy.AccessRead}},
		{"deny-read deeper than allow-read", []string{"--allow-read=" + a, "--deny-read=" + b},
			map[string]policy.FSAccess{a: policy.AccessRead, b: policy.AccessNone, c: policy.AccessNone, x: policy.AccessNone}},
		{"allow-write deeper than deny-read", []string{"--deny-read=" + a, "--allow-write=" + b},
			map[string]policy.FSAccess{a: policy.AccessNone, b: policy.AccessWrite}},
		{"allow-read never takes writes away", []string{"--allow-write=" + a, "--allow-read=" + b},
			map[string]policy.FSAccess{b: policy.AccessWrite}},
		{"deny-write does not grant reads", []string{"--allow-read=" + a, "--deny-write=" + x},
			map[string]policy.FSAccess{x: policy.AccessNone, a: policy.AccessRead}},
		{"order does not matter", []string{"--deny-read=" + b, "--allow-read=" + c, "--deny-read=" + a},
			map[string]policy.FSAccess{a: policy.AccessNone, b: policy.AccessNone, c: policy.AccessRead}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestCLI(t).explain(t, append(tt.flags, "--", "true")...)
			for p, want := range tt.want {
				if got := e.Policy.FileSystem.ResolveAccess(policy.HostFS, p, d); got != want {
					t.Errorf("%s: %s, want %s", p, got, want)
				}
			}
		})
	}
}

func TestReexposeReadable(t *testing.T) {
	d := t.TempDir()
	home := filepath.Join(d, "home")
	proj := filepath.Join(home, "proj")
	os.MkdirAll(filepath.Join(proj, "keys"), 0o755)
	os.WriteFile(filepath.Join(proj, ".env"), []byte("x"), 0o644)
	deny := "--deny-read=" + filepath.Join(proj, ".env") + "," + filepath.Join(proj, "keys")
	for _, full := range []bool{true, false} {
		args := []string{"--deny-read=" + home, "--allow-read=" + proj, deny, "--", "true"}
		if full {
			args = append([]string{"--allow-read"}, args...)
		}
		p := newTestCLI(t).explain(t, args...).Plan
		mask := hasOp(p, policy.OpTmpfs, home)
		if mask < 0 || p.Mounts[mask].Perms == nil || *p.Mounts[mask].Perms != 0o111 {
			t.Fatalf("full=%v: home mask missing or not 0111: %+v", full, p.Mounts)
		}
		bind := -1
		for i := mask; i < len(p.Mounts); i++ {
			if p.Mounts[i].Kind == policy.OpROBind && p.Mounts[i].Dest == proj {
				bind = i
				break
			}
		}
		env := hasOp(p, policy.OpROBindData, filepath.Join(proj, ".env"))
		keys := hasOp(p, policy.OpTmpfs, filepath.Join(proj, "keys"))
		ro := hasOp(p, policy.OpRemountRO, home)
		if !(mask < bind && bind < env && bind < keys && keys < ro) {
			t.Fatalf("full=%v: order mask=%d bind=%d env=%d keys=%d remount=%d: %+v", full, mask, bind, env, keys, ro, p.Mounts)
		}
	}
}

func TestPolicyFile(t *testing.T) {
	d := t.TempDir()
	w := filepath.Join(d, "w")
	os.Mkdir(w, 0o755)
	write := func(name, content string) string {
		p := filepath.Join(d, name)
		os.WriteFile(p, []byte(content), 0o644)
		return p
	}
	fsOnly := write("fs.json", `{"kind":"restricted","entries":[{"path":{"type":"special","value":{"kind":"root"}},"access":"read"},{"path":{"type":"path","path":"`+w+`"},"access":"write"}]}`)
	legacy := write("legacy.json", `{"type":"read-only","network_access":true}`)
	combined := write("all.json", `{"sandbox_policy":{"type":"read-only"},"file_system_sandbox_policy":{"kind":"restricted","entries":[{"path":{"type":"special","value":{"kind":"root"}},"access":"read"}]},"network_sandbox_policy":"restricted"}`)
	bad := write("bad.json", `{"kind":"restricted","bogus":1}`)

	e := newTestCLI(t).explain(t, "--policy", fsOnly, "--", "true")
	if hasOp(e.Plan, policy.OpBind, w) < 0 {
		t.Errorf("fs policy: %+v", e.Plan.Mounts)
	}
	e = newTestCLI(t).explain(t, "--policy", legacy, "--", "true")
	if e.Plan.Network.Mode != policy.NetFull {
		t.Errorf("legacy policy network: %+v", e.Plan.Network)
	}
	e = newTestCLI(t).explain(t, "--policy", combined, "--deny-read="+w, "--", "true")
	if e.Policy.FileSystem.ResolveAccess(policy.HostFS, w, d) != policy.AccessNone || e.Plan.Network.Mode != policy.NetIsolated {
		t.Errorf("combined policy + flag: %+v", e.Policy)
	}
	tc := newTestCLI(t)
	if code := tc.run("explain", "--policy", bad, "--", "true"); code != 2 || !strings.Contains(tc.errb.String(), "bogus") {
		t.Errorf("bad policy: exit %d %s", code, tc.errb)
	}
}

func TestExplainText(t *testing.T) {
	tc := newTestCLI(t)
	if code := tc.run("explain", "--deny-read=/etc/shadow", "--timeout=5s", "--", "sh", "-c", "echo 'hi'"); code != 0 {
		t.Fatalf("exit %d: %s", code, tc.errb)
	}
	out := tc.out.String()
	for _, want := range []string{"Command: sh -c 'echo '\\''hi'\\'''", "--file-system-sandbox-policy", "Plan", "hide file /etc/shadow",
		"seccomp:", "timeout: kill the whole sandbox after 5s", "Equivalent bwrap command", "3</dev/null"} {
		if !strings.Contains(out, want) {
			t.Errorf("explain output lacks %q:\n%s", want, out)
		}
	}
}

func FuzzSplitList(f *testing.F) {
	for _, s := range []string{"a,b", `a\,b`, `\\,`, ",", "", `\`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		items, err := splitList(s)
		if err != nil {
			return
		}
		// Re-joining with escapes gives the same items back.
		var parts []string
		for _, it := range items {
			if strings.TrimSpace(it) == "" {
				t.Fatalf("empty item from %q", s)
			}
			parts = append(parts, strings.ReplaceAll(strings.ReplaceAll(it, `\`, `\\`), ",", `\,`))
		}
		again, err := splitList(strings.Join(parts, ","))
		if err != nil || !slices.Equal(again, items) {
			t.Fatalf("round trip of %q: %q vs %q (%v)", s, items, again, err)
		}
	})
}

func FuzzParseLimit(f *testing.F) {
	for _, s := range []string{"memory=1G", "processes=10", "cpu=1m", "files=8", "x=y", "memory=18446744073709551615"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var l policy.Limits
		if err := parseLimit(s, &l); err == nil && l == (policy.Limits{}) {
			t.Fatalf("%q accepted but set nothing", s)
		}
	})
}

// FuzzCLIArgs feeds arbitrary argument lists through the grammar and the
// settings resolution (never running anything): no panic, and a failure
// is always a one-line usage error.
func FuzzCLIArgs(f *testing.F) {
	for _, s := range []string{
		"--allow-write\x00--\x00ls", "--allow-read=/a,/b\x00--deny-read=~/x\x00true", "--timeout\x00x",
		"--env\x00A=B\x00--allow-env=A*\x00--\x00env", "--limit=memory=1G\x00--\x00true", "explain\x00--json\x00--\x00x",
		"--profile=agent\x00--\x00x", "--allow-net=*.example.com:443\x00--\x00x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		args := strings.Split(s, "\x00")
		var root cliRoot
		tc := &cli{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, getenv: func(string) string { return "" },
			host: hostInfo{Cwd: "/", Home: "/nonexistent-home", TmpDir: "/tmp"}}
		k, err := tc.parser(&root)
		if err != nil {
			t.Fatal(err)
		}
		if len(args) == 0 || !slices.Contains(subcommands, args[0]) {
			args = append([]string{"run"}, args...)
		}
		ctx, exit, err := parse(k, args)
		if err != nil || exit >= 0 || ctx == nil {
			return
		}
		var pf *policyFlags
		switch strings.Fields(ctx.Command())[0] {
		case "run":
			pf = &root.Run.policyFlags
		case "explain":
			pf = &root.Explain.policyFlags
		default:
			return
		}
		if len(pf.Profile) > 0 {
			return // would read profile files
		}
		l, err := cliLayer(pf)
		if err == nil {
			_, err = resolveSettings([]layer{l}, tc.host)
		}
		if err != nil {
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Fatalf("non-usage error %T: %v", err, err)
			}
		}
	})
}

// TestWritableSymlinkOn: a path component that is a symlink in a
// directory under a writable root is reported; symlinks elsewhere, and
// paths without symlinks, are not.
func TestWritableSymlinkOn(t *testing.T) {
	d := t.TempDir()
	ws, out := filepath.Join(d, "ws"), filepath.Join(d, "out")
	for _, p := range []string{filepath.Join(ws, "real", "sub"), out} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{
		filepath.Join(ws, "cache"): out,    // planted in the workspace
		filepath.Join(d, "wslink"): ws,     // outside it: the user's
		filepath.Join(ws, "rel"):   "real", // relative, still planted
		filepath.Join(out, "back"): filepath.Join(ws, "real"),
	} {
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
	}
	writable := []string{policy.EffectivePath(policy.HostFS, ws)}
	for _, c := range []struct {
		path, want string
	}{
		{filepath.Join(ws, "cache"), filepath.Join(ws, "cache")},
		{filepath.Join(ws, "cache", "x"), filepath.Join(ws, "cache")},
		{filepath.Join(ws, "rel", "sub"), filepath.Join(ws, "rel")},
		{filepath.Join(d, "wslink", "cache"), filepath.Join(d, "wslink", "cache")}, // through the user's link into ws
		{filepath.Join(d, "wslink", "real"), ""},
		{filepath.Join(ws, "real", "sub"), ""},
		{filepath.Join(out, "back"), ""}, // a symlink outside the writable roots
		{filepath.Join(ws, "missing", "x"), ""},
	} {
		if got := writableSymlinkOn(c.path, writable); got != c.want {
			t.Errorf("writableSymlinkOn(%s) = %q, want %q", c.path, got, c.want)
		}
	}
}

// TestProtectProfiles: zbox's profile directory is made read-only (and
// created) exactly when the sandbox could otherwise write it.
func TestProtectProfiles(t *testing.T) {
	home := t.TempDir()
	userDir := filepath.Join(home, ".config", "zbox", "profiles")
	cfg := filepath.Join(home, ".config", "zbox")
	for _, c := range []struct {
		name string
		s    settings
		want bool
	}{
		{"home writable", settings{Write: []string{home}}, true},
		{"write everywhere", settings{WriteAll: true}, true},
		{"elsewhere writable", settings{Write: []string{t.TempDir()}}, false},
		{"nothing writable", settings{}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := c.s
			if err := protectProfiles(&s, userDir); err != nil {
				t.Fatal(err)
			}
			if got := slices.Contains(s.DenyWrite, cfg); got != c.want {
				t.Errorf("deny-write %v, want %s protected: %v", s.DenyWrite, cfg, c.want)
			}
			if st, err := os.Stat(cfg); c.want && (err != nil || !st.IsDir()) {
				t.Errorf("%s not created: %v", cfg, err)
			}
		})
	}
	if err := protectProfiles(&settings{Write: []string{home}}, ""); err != nil {
		t.Errorf("no user directory: %v", err)
	}
}

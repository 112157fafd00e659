package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// End-to-end proof of zbox's Codex/Zerobox helper front-end against the
// real helper: `codex-linux-sandbox` from @openai/codex 0.125.0 (run
// through a symlink of that name, as Codex does), whose binary .ci/run
// installs and names in $ZBOX_REF_HELPER. Every case runs the same
// command line under the real helper (which drives the system bwrap) and
// under zbox's helper mode (a symlink named codex-linux-sandbox to zbox),
// and compares what the sandboxed command observed.
//
// zbox is deliberately stricter in a few places (see
// cmd/zbox/helper.go and policy.HelperInput.Hardened); each such
// difference is asserted explicitly, with the reason, rather than
// ignored:
//   - the target never holds capabilities, also when the caller is root
//     (the helper's bwrap keeps a root caller's full set), so mode-000
//     deny masks hold against root too;
//   - a tmpfs root (restricted reads) is remounted read-only after setup
//     (zerobox's deny-default-write), so nothing can be created at /x;
//   - own IPC and UTS namespaces (the helper shares the host's);
//   - its seccomp filter (ptrace, io_uring, process_vm_* denied) stays on
//     in namespace sandboxes with the network enabled, where the helper
//     installs none;
//   - unknown fields in the policy JSON are rejected, not ignored.

// refHelperBin is the real helper binary, or skips the test.
func refHelperBin(t testing.TB) string {
	t.Helper()
	p := os.Getenv("ZBOX_REF_HELPER")
	if p == "" {
		t.Skip("needs the reference helper: set ZBOX_REF_HELPER to the codex binary of @openai/codex@0.125.0-linux-x64 (.ci/run installs it)")
	}
	if _, err := os.Stat(p); err != nil {
		t.Skipf("needs the reference helper: ZBOX_REF_HELPER=%s: %v", p, err)
	}
	return p
}

// needBwrap skips unless the system bwrap the peers use is installed.
func needBwrap(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("bwrap")
	if err != nil {
		t.Skip("needs bubblewrap (bwrap) on PATH")
	}
	return p
}

// aliasDir makes a fresh directory holding a symlink called name to
// target, the way Codex invokes its helper (arg0 dispatch).
func aliasDir(t testing.TB, name, target string) string {
	t.Helper()
	d := t.TempDir()
	if err := os.Symlink(target, filepath.Join(d, name)); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(d, name)
}

// peers are the two implementations of one front-end under comparison.
type peers struct {
	ref, zb string // paths of the symlinks to run
}

func helperPeers(t testing.TB) peers {
	t.Helper()
	ref := refHelperBin(t)
	needBwrap(t)
	return peers{
		ref: aliasDir(t, "codex-linux-sandbox", ref),
		zb:  aliasDir(t, "codex-linux-sandbox", zboxBin),
	}
}

// invocation is one run of a peer.
type invocation struct {
	args  []string
	stdin string
	env   []string // extra environment entries
	dir   string   // working directory ("" = the test's)
	// files become fds 3, 4, ... of the peer.
	files []*os.File
}

// run runs bin with inv and returns what it showed.
func (inv invocation) run(t testing.TB, bin string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, inv.args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Stdin = strings.NewReader(inv.stdin)
	cmd.Env = append(os.Environ(), inv.env...)
	cmd.Dir = inv.dir
	cmd.ExtraFiles = inv.files
	err := cmd.Run()
	r := result{Stdout: out.String(), Stderr: errb.String()}
	code, ok := exitCode(err)
	if !ok {
		t.Fatalf("run %s %q: %v", bin, inv.args, err)
	}
	r.Code = code
	if ctx.Err() != nil {
		t.Fatalf("run %s %q: timed out\n%s", bin, inv.args, r)
	}
	return r
}

// helperWorld is the host layout the helper cases run against.
type helperWorld struct {
	ws      string // the workspace: --sandbox-policy-cwd and the cwd
	outside string // never writable, readable only with full reads
	extra   string // writable only as an explicit writable root
	tmp     string // a directory under /tmp (writable with workspace-write)
	// readRoots are the directories a restricted-read sandbox needs to
	// run the peers: both helpers' symlink and binary directories.
	readRoots []string
}

func newHelperWorld(t *testing.T, p peers) *helperWorld {
	t.Helper()
	w := &helperWorld{ws: hostDir(t)}
	writeFile(t, filepath.Join(w.ws, "readme"), "README")
	writeFile(t, filepath.Join(w.ws, ".git", "HEAD"), "ref: refs/heads/main\n")
	writeFile(t, filepath.Join(w.ws, ".codex", "config.toml"), "x = 1\n")
	writeFile(t, filepath.Join(w.ws, "secret.txt"), "TOPSECRET\n")
	writeFile(t, filepath.Join(w.ws, "private", "key"), "KEYDATA\n")
	// Outside /tmp: workspace-write makes /tmp writable.
	varTmp := func(prefix string) string {
		d, err := os.MkdirTemp("/var/tmp", prefix)
		if err != nil {
			t.Skipf("needs a writable /var/tmp for directories outside /tmp: %v", err)
		}
		t.Cleanup(func() { os.RemoveAll(d) })
		return d
	}
	w.outside = varTmp("zbox-e2e-outside-")
	writeFile(t, filepath.Join(w.outside, "readme"), "OUTSIDE")
	w.extra = varTmp("zbox-e2e-extra-")
	d, err := os.MkdirTemp("/tmp", "zbox-e2e-tmp-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	w.tmp = d
	seen := map[string]bool{}
	add := func(dir string) {
		if !seen[dir] {
			seen[dir] = true
			w.readRoots = append(w.readRoots, dir)
		}
	}
	for _, bin := range []string{p.ref, p.zb} {
		add(filepath.Dir(bin))
		if real, err := filepath.EvalSymlinks(bin); err == nil {
			add(filepath.Dir(real))
		}
	}
	return w
}

func acceptAndClose(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Close()
	}
}

// script is the probe script run inside every helper sandbox. $1 tags the
// files it creates, so that the two peers never see each other's.
func (w *helperWorld) script() string {
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
	lines := []string{
		`t=$1`,
		`p() { if "$@" >/dev/null 2>&1; then echo ok; else echo denied; fi; }`,
		`echo "w_cwd=$(p touch ./cwd_$t)"`,
		`echo "w_ws=$(p touch ` + q(w.ws) + `/ws_$t)"`,
		`echo "w_outside=$(p touch ` + q(w.outside) + `/f_$t)"`,
		`echo "w_extra=$(p touch ` + q(w.extra) + `/f_$t)"`,
		`echo "w_tmp=$(p touch ` + q(w.tmp) + `/f_$t)"`,
		`echo "w_git=$(p touch ` + q(w.ws+"/.git") + `/f_$t)"`,
		`echo "w_codex=$(p touch ` + q(w.ws+"/.codex") + `/f_$t)"`,
		`echo "r_readme=$(cat ` + q(w.ws+"/readme") + ` 2>/dev/null || echo denied)"`,
		`echo "r_secret=$(cat ` + q(w.ws+"/secret.txt") + ` 2>/dev/null || echo denied)"`,
		`echo "ls_private=$(ls ` + q(w.ws+"/private") + ` 2>/dev/null || echo denied)"`,
		`echo "r_private_key=$(cat ` + q(w.ws+"/private/key") + ` 2>/dev/null || echo denied)"`,
		`echo "r_outside=$(cat ` + q(w.outside+"/readme") + ` 2>/dev/null || echo denied)"`,
		`echo "r_home=$(p ls /home)"`,
		// Globbed by the shell itself: no child process races the count.
		`set -- /proc/[0-9]*; echo "pids=$#"`,
		`echo "ids=$(id -u):$(id -g)"`,
		`echo "cwd=$(pwd)"`,
		`echo "nnp=$(grep '^NoNewPrivs:' /proc/self/status | tr -d ' \t' | cut -d: -f2)"`,
		`echo "seccomp=$(grep '^Seccomp:' /proc/self/status | tr -d ' \t' | cut -d: -f2)"`,
		`echo "dev_null=$(p sh -c 'echo x > /dev/null')"`,
		`echo "ipc_shm=$(p test -w /dev/shm)"`,
	}
	return strings.Join(lines, "\n")
}

// probeLines parses the key=value output of the probe script; the number
// of pids is reduced to "host" when it is not a fresh pid namespace's.
func helperProbes(t testing.TB, r result) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			t.Fatalf("probe line %q is not key=value\n%s", l, r)
		}
		m[k] = v
	}
	if n, err := strconv.Atoi(m["pids"]); err == nil && n > 4 {
		m["pids"] = "host"
	}
	return m
}

// helperPolicy is one row of the policy table.
type helperPolicy struct {
	name string
	args func(w *helperWorld) []string
	// want are probe results both peers must show (a sanity check that
	// the case tests what it says, beyond "both agree").
	want map[string]string
	// zbDiff are intended differences: key -> zbox's value, asserted;
	// the real helper's value is then not compared. rootOnly limits
	// them to a root caller.
	zbDiff     map[string]string
	rootZbDiff map[string]string
	// net are results of the network probe (TestHelperNetwork) the real
	// helper must show; zbox must show the same as the helper, except for
	// the intended differences in zbNet.
	net, zbNet map[string]string
}

const (
	roPolicy = `{"type":"read-only"}`
	wwPolicy = `{"type":"workspace-write"}`
)

func fsEntry(path, access string) string {
	return fmt.Sprintf(`{"path":{"type":"path","path":%q},"access":%q}`, path, access)
}

func specialEntry(kind, access string) string {
	return fmt.Sprintf(`{"path":{"type":"special","value":{"kind":%q}},"access":%q}`, kind, access)
}

func helperPolicies() []helperPolicy {
	cwd := func(w *helperWorld, rest ...string) []string {
		return append([]string{"--sandbox-policy-cwd", w.ws}, rest...)
	}
	// Root keeps CAP_DAC_OVERRIDE under the real helper (bwrap does not
	// drop a uid-0 caller's capabilities), so mode-000 masks read as
	// empty for root there; zbox's target has no capabilities.
	rootDenyDiff := map[string]string{"r_secret": "denied", "ls_private": "denied", "r_private_key": "denied"}
	return []helperPolicy{
		{
			name: "read-only",
			args: func(w *helperWorld) []string { return cwd(w, "--sandbox-policy", roPolicy) },
			want: map[string]string{
				"w_cwd": "denied", "w_outside": "denied", "w_tmp": "denied", "r_readme": "README",
				"r_outside": "OUTSIDE", "nnp": "1", "seccomp": "2", "dev_null": "ok", "pids": "2",
			},
			net: map[string]string{"socket inet": "EPERM", "connect tcp": "EPERM at socket", "socket unix": "ok", "socketpair unix": "ok", "ptrace-pid1": "EPERM"},
		},
		{
			name: "read-only/no-proc",
			args: func(w *helperWorld) []string { return cwd(w, "--no-proc", "--sandbox-policy", roPolicy) },
			want: map[string]string{"w_cwd": "denied", "pids": "host"},
		},
		{
			name: "workspace-write/network-off",
			args: func(w *helperWorld) []string { return cwd(w, "--sandbox-policy", wwPolicy) },
			want: map[string]string{
				"w_cwd": "ok", "w_ws": "ok", "w_tmp": "ok", "w_outside": "denied", "w_extra": "denied",
				"w_git": "denied", "w_codex": "denied",
			},
			net: map[string]string{"socket inet": "EPERM", "connect tcp": "EPERM at socket"},
		},
		{
			name: "workspace-write/network-on",
			args: func(w *helperWorld) []string {
				return cwd(w, "--sandbox-policy", `{"type":"workspace-write","network_access":true}`)
			},
			want: map[string]string{"w_cwd": "ok", "w_outside": "denied", "w_git": "denied", "seccomp": "0"},
			// The helper installs no filter at all once the network is
			// enabled; zbox keeps its filter (ptrace, io_uring and
			// process_vm_* denied, no network rules) in every namespace
			// sandbox (policy.HelperPlan, Hardened).
			zbDiff: map[string]string{"seccomp": "2"},
			net:    map[string]string{"socket inet": "ok", "connect tcp": "ok", "socket unix": "ok", "ptrace-pid1": "ok (seized)"},
			zbNet:  map[string]string{"ptrace-pid1": "EPERM"},
		},
		{
			name: "workspace-write/extra-root",
			args: func(w *helperWorld) []string {
				return cwd(w, "--sandbox-policy", fmt.Sprintf(
					`{"type":"workspace-write","writable_roots":[%q],"exclude_slash_tmp":true,"exclude_tmpdir_env_var":true}`, w.extra))
			},
			want: map[string]string{"w_cwd": "ok", "w_extra": "ok", "w_outside": "denied", "w_tmp": "denied", "w_git": "denied"},
		},
		{
			name: "split/deny-read-file-and-dir",
			args: func(w *helperWorld) []string {
				fs := `{"kind":"restricted","entries":[` + strings.Join([]string{
					specialEntry("root", "read"),
					fsEntry(w.ws, "write"),
					fsEntry(w.ws+"/secret.txt", "none"),
					fsEntry(w.ws+"/private", "none"),
				}, ",") + `]}`
				return cwd(w,
					"--sandbox-policy", `{"type":"workspace-write","network_access":false,"exclude_tmpdir_env_var":true,"exclude_slash_tmp":true}`,
					"--file-system-sandbox-policy", fs,
					"--network-sandbox-policy", `"restricted"`)
			},
			want: map[string]string{
				"w_cwd": "ok", "w_tmp": "denied", "w_git": "denied", "r_readme": "README",
				"r_secret": "denied", "ls_private": "denied", "r_private_key": "denied",
			},
			rootZbDiff: rootDenyDiff,
		},
		{
			name: "restricted-reads/platform-defaults",
			args: func(w *helperWorld) []string {
				roots, _ := jsonStrings(w.readRoots)
				return cwd(w, "--sandbox-policy", fmt.Sprintf(
					`{"type":"read-only","access":{"type":"restricted","include_platform_defaults":true,"readable_roots":%s}}`, roots))
			},
			want: map[string]string{
				"w_cwd": "denied", "r_readme": "README", "r_outside": "denied", "r_home": "denied",
			},
			net: map[string]string{"socket inet": "EPERM"},
		},
		{
			name: "danger-full-access",
			args: func(w *helperWorld) []string {
				return cwd(w, "--sandbox-policy", `{"type":"danger-full-access"}`)
			},
			want: map[string]string{
				"w_cwd": "ok", "w_outside": "ok", "w_git": "ok", "pids": "host", "seccomp": "0",
			},
			net: map[string]string{"socket inet": "ok", "connect tcp": "ok", "socket unix": "ok"},
			// zbox drops a root caller's capabilities even here, which
			// needs no_new_privs-free capset only; the helper execs the
			// command untouched.
		},
		{
			name: "external-sandbox/network-restricted",
			args: func(w *helperWorld) []string {
				return cwd(w, "--sandbox-policy", `{"type":"external-sandbox","network_access":"restricted"}`)
			},
			want: map[string]string{
				"w_outside": "ok", "pids": "host", "seccomp": "2",
			},
			net: map[string]string{"socket inet": "EPERM", "socket unix": "ok", "ptrace-pid1": "EPERM"},
		},
		{
			name: "legacy-landlock/workspace-write",
			args: func(w *helperWorld) []string {
				return cwd(w, "--use-legacy-landlock", "--sandbox-policy", wwPolicy)
			},
			// No namespaces and no .git protection in the legacy pipeline
			// (spec §5.4): Landlock alone decides.
			want: map[string]string{
				"w_cwd": "ok", "w_tmp": "ok", "w_outside": "denied", "w_git": "ok", "pids": "host",
			},
			net: map[string]string{"socket inet": "EPERM"},
		},
	}
}

func jsonStrings(ss []string) (string, error) {
	b, err := json.Marshal(ss)
	return string(b), err
}

// TestHelperPolicies runs the policy table under both helpers and
// compares every probe.
func TestHelperPolicies(t *testing.T) {
	p := helperPeers(t)
	for _, pol := range helperPolicies() {
		t.Run(pol.name, func(t *testing.T) {
			w := newHelperWorld(t, p)
			args := append(pol.args(w), "--", "sh", "-c", w.script(), "sh")
			ref := invocation{args: append(args, "ref"), dir: w.ws}.run(t, p.ref)
			zb := invocation{args: append(args, "zb"), dir: w.ws}.run(t, p.zb)
			compareProbes(t, pol, ref, zb)
		})
	}
}

// TestHelperNetwork runs the static probe (testdata/probe) under each
// policy of the table: what the seccomp filter and the network namespace
// let through (sockets by family, a TCP connect to a host listener,
// ptrace of the sandbox's pid 1).
func TestHelperNetwork(t *testing.T) {
	p := helperPeers(t)
	probe := probeBin(t)
	for _, pol := range helperPolicies() {
		if pol.net == nil {
			continue
		}
		t.Run(pol.name, func(t *testing.T) {
			w := newHelperWorld(t, p)
			w.readRoots = append(w.readRoots, filepath.Dir(probe))
			ln, err := net.Listen("tcp4", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			go acceptAndClose(ln)
			addr := ln.Addr().String()
			cmd := []string{probe, "socket", "inet", "connect", "tcp", addr, "socket", "unix", "socketpair", "unix"}
			if _, ok := pol.net["ptrace-pid1"]; ok {
				// Only where pid 1 is the sandbox's own (or ptrace is
				// filtered): never attach to the host's init.
				cmd = append(cmd, "ptrace-pid1")
			}
			args := append(append(pol.args(w), "--"), cmd...)
			ref := invocation{args: args, dir: w.ws}.run(t, p.ref)
			zb := invocation{args: args, dir: w.ws}.run(t, p.zb)
			norm := func(r result) map[string]string {
				m := probeLines(r.Stdout)
				if v, ok := m["connect tcp "+addr]; ok {
					delete(m, "connect tcp "+addr)
					m["connect tcp"] = v
				}
				return m
			}
			rm, zm := norm(ref), norm(zb)
			for k, want := range pol.zbNet {
				if zm[k] != want {
					t.Errorf("%s: zbox shows %q, want %q (zbox's documented, stricter behaviour)", k, zm[k], want)
				}
				zm[k] = rm[k]
			}
			if ref.Code != 0 || zb.Code != 0 || fmt.Sprint(rm) != fmt.Sprint(zm) {
				t.Fatalf("probes differ\nhelper:\n%s\nzbox:\n%s", ref, zb)
			}
			for k, want := range pol.net {
				if rm[k] != want {
					t.Errorf("%s: the reference helper shows %q, the case expects %q", k, rm[k], want)
				}
			}
		})
	}
}

// TestHelperEngineBwrap runs a few policies through zbox's --engine bwrap
// (zbox helper -> system bwrap -> zbox's own inner stage) and compares
// with the real helper, which has the same process structure.
func TestHelperEngineBwrap(t *testing.T) {
	p := helperPeers(t)
	for _, pol := range helperPolicies() {
		switch pol.name {
		case "read-only", "workspace-write/network-off", "workspace-write/network-on",
			"split/deny-read-file-and-dir", "restricted-reads/platform-defaults":
		default:
			continue
		}
		t.Run(pol.name, func(t *testing.T) {
			w := newHelperWorld(t, p)
			args := append(pol.args(w), "--", "sh", "-c", w.script(), "sh")
			ref := invocation{args: append(args, "ref"), dir: w.ws}.run(t, p.ref)
			zb := invocation{args: append(append([]string{"--engine", "bwrap"}, args...), "zb"), dir: w.ws}.run(t, p.zb)
			compareProbes(t, pol, ref, zb)
		})
	}
}

func compareProbes(t *testing.T, pol helperPolicy, ref, zb result) {
	t.Helper()
	if ref.Code != 0 || zb.Code != 0 {
		t.Fatalf("exit status ref=%d zbox=%d, want 0 for both\nref:\n%s\nzbox:\n%s", ref.Code, zb.Code, ref, zb)
	}
	rm, zm := helperProbes(t, ref), helperProbes(t, zb)
	if os.Getenv("ZBOX_E2E_VERBOSE") != "" {
		t.Logf("ref:\n%s\nzbox:\n%s", ref.Stdout, zb.Stdout)
	}
	diff := map[string]string{}
	for k, v := range pol.zbDiff {
		diff[k] = v
	}
	if isRoot() {
		for k, v := range pol.rootZbDiff {
			diff[k] = v
		}
	}
	keys := map[string]bool{}
	for k := range rm {
		keys[k] = true
	}
	for k := range zm {
		keys[k] = true
	}
	var sorted []string
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		if want, ok := diff[k]; ok {
			if zm[k] != want {
				t.Errorf("%s: zbox shows %q, want %q (zbox's documented, stricter behaviour; the helper shows %q)", k, zm[k], want, rm[k])
			}
			continue
		}
		if rm[k] != zm[k] {
			t.Errorf("%s: helper shows %q, zbox shows %q", k, rm[k], zm[k])
		}
	}
	for k, want := range pol.want {
		if got := rm[k]; got != want {
			if _, d := diff[k]; !d {
				t.Errorf("%s: the reference helper shows %q, the case expects %q", k, got, want)
			}
		}
	}
	if t.Failed() {
		t.Logf("ref:\n%s\nzbox:\n%s", ref, zb)
	}
}

// TestHelperExitStatus: the command's exit status and death by signal
// come back unchanged (a signal as 128+N, from bwrap or from zbox).
func TestHelperExitStatus(t *testing.T) {
	p := helperPeers(t)
	ws := hostDir(t)
	for _, pol := range []string{roPolicy, `{"type":"danger-full-access"}`} {
		for _, tc := range []struct {
			script string
			want   int
		}{
			{"exit 0", 0},
			{"exit 7", 7},
			{"kill -TERM $$", 143},
		} {
			t.Run(pol+"/"+tc.script, func(t *testing.T) {
				args := []string{"--sandbox-policy-cwd", ws, "--sandbox-policy", pol, "--", "sh", "-c", tc.script}
				ref := invocation{args: args}.run(t, p.ref)
				zb := invocation{args: args}.run(t, p.zb)
				if ref.Code != tc.want || zb.Code != tc.want {
					t.Fatalf("exit status ref=%d zbox=%d, want %d\nref:\n%s\nzbox:\n%s", ref.Code, zb.Code, tc.want, ref, zb)
				}
			})
		}
	}
}

// TestHelperPassthrough: stdin, stdout, stderr, the environment and the
// exit status reach the caller unchanged, in namespace sandboxes and in
// the full-access shortcut alike.
func TestHelperPassthrough(t *testing.T) {
	p := helperPeers(t)
	ws := hostDir(t)
	for _, pol := range []string{roPolicy, wwPolicy, `{"type":"danger-full-access"}`} {
		t.Run(pol, func(t *testing.T) {
			inv := invocation{
				args:  []string{"--sandbox-policy-cwd", ws, "--sandbox-policy", pol, "--", "sh", "-c", `cat; echo "var=$ZBOX_E2E_VAR"; echo "pwd=$(pwd)"; echo to-stderr >&2; exit 3`},
				stdin: "from-stdin\n",
				env:   []string{"ZBOX_E2E_VAR=value with spaces"},
				dir:   ws,
			}
			ref, zb := inv.run(t, p.ref), inv.run(t, p.zb)
			if ref.String() != zb.String() {
				t.Fatalf("outputs differ\nref:\n%s\nzbox:\n%s", ref, zb)
			}
			want := "from-stdin\nvar=value with spaces\npwd=" + ws + "\n"
			if ref.Code != 3 || ref.Stdout != want || ref.Stderr != "to-stderr\n" {
				t.Fatalf("unexpected result, want stdout %q, stderr to-stderr, status 3\n%s", want, ref)
			}
		})
	}
}

// panicMessage is the message of a Rust panic (zbox prints the same
// message with its own location and thread id, and no backtrace), or the
// whole stderr when it is not a panic.
func panicMessage(stderr string) string {
	_, rest, ok := strings.Cut(stderr, "panicked at ")
	if !ok {
		return stderr
	}
	_, msg, _ := strings.Cut(rest, "\n")
	for _, end := range []string{"\nstack backtrace:", "\nnote: "} {
		if i := strings.Index(msg, end); i >= 0 {
			msg = msg[:i]
		}
	}
	return strings.TrimSpace(msg)
}

// TestHelperSymlinkedCwd: a policy cwd that is a symlinked alias is bound
// at its canonical target and the command starts there (--chdir rule,
// spec §3.1), unless the alias itself lies inside a writable root, where
// the protected .git/.codex paths under it could be re-pointed: then both
// fail closed (v0.122+).
func TestHelperSymlinkedCwd(t *testing.T) {
	p := helperPeers(t)
	ws := hostDir(t)
	writeFile(t, filepath.Join(ws, ".git", "HEAD"), "ref: x\n")
	// /var/tmp: outside the writable /tmp of a default workspace-write.
	aliasDir, err := os.MkdirTemp("/var/tmp", "zbox-e2e-alias-")
	if err != nil {
		t.Skipf("needs a writable /var/tmp: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(aliasDir) })
	varAlias := filepath.Join(aliasDir, "alias")
	tmpAlias := filepath.Join(hostDir(t), "alias")
	for _, a := range []string{varAlias, tmpAlias} {
		if err := os.Symlink(ws, a); err != nil {
			t.Fatal(err)
		}
	}
	script := `echo "pwd=$(pwd)"; touch ./f_$1 2>/dev/null && echo w=ok || echo w=denied; touch .git/f_$1 2>/dev/null && echo git=ok || echo git=denied`
	for _, tc := range []struct {
		name, alias, pol string
		failClosed       bool
	}{
		{"read-only", tmpAlias, roPolicy, false},
		{"workspace-write alias outside writable roots", varAlias, wwPolicy, false},
		{"workspace-write alias inside writable /tmp", tmpAlias, wwPolicy, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"--sandbox-policy-cwd", tc.alias, "--sandbox-policy", tc.pol, "--", "sh", "-c", script, "sh"}
			ref := invocation{args: append(args, "ref"), dir: tc.alias}.run(t, p.ref)
			zb := invocation{args: append(args, "zb"), dir: tc.alias}.run(t, p.zb)
			if tc.failClosed {
				for _, r := range []result{ref, zb} {
					if r.Code != 101 || !strings.Contains(r.Stderr, "because it crosses writable symlink "+tc.alias) {
						t.Fatalf("want a fail-closed panic naming the symlink, status 101\nhelper:\n%s\nzbox:\n%s", ref, zb)
					}
				}
				if panicMessage(ref.Stderr) != panicMessage(zb.Stderr) {
					t.Fatalf("panic messages differ\nhelper: %s\nzbox:   %s", panicMessage(ref.Stderr), panicMessage(zb.Stderr))
				}
				return
			}
			if ref.String() != zb.String() || ref.Code != 0 {
				t.Fatalf("outputs differ\nhelper:\n%s\nzbox:\n%s", ref, zb)
			}
			if !strings.HasPrefix(zb.Stdout, "pwd="+ws+"\n") {
				t.Fatalf("the command did not start in the canonical cwd %s:\n%s", ws, zb)
			}
		})
	}
}

// TestHelperCommandCwd: --command-cwd decides the --chdir rule.
func TestHelperCommandCwd(t *testing.T) {
	p := helperPeers(t)
	ws := hostDir(t)
	alias := filepath.Join(hostDir(t), "alias")
	if err := os.Symlink(ws, alias); err != nil {
		t.Fatal(err)
	}
	inv := invocation{
		args: []string{"--sandbox-policy-cwd", ws, "--command-cwd", alias, "--sandbox-policy", wwPolicy, "--", "pwd"},
		dir:  ws,
	}
	ref, zb := inv.run(t, p.ref), inv.run(t, p.zb)
	if ref.String() != zb.String() || ref.Code != 0 {
		t.Fatalf("outputs differ\nref:\n%s\nzbox:\n%s", ref, zb)
	}
	if strings.TrimSpace(zb.Stdout) != ws {
		t.Fatalf("pwd %q, want the canonical cwd %s", zb.Stdout, ws)
	}
}

// TestHelperCapabilities documents the one deliberate difference for a
// root caller: the helper's bwrap keeps root's capabilities (inside the
// new user namespace) and its full-access shortcut execs with them; zbox's
// target holds none. Unprivileged callers hold none either way (their
// bounding set stays full outside a user namespace: only CAP_SETPCAP
// could drop it, and it grants nothing without permitted capabilities).
func TestHelperCapabilities(t *testing.T) {
	p := helperPeers(t)
	ws := hostDir(t)
	for _, tc := range []struct {
		pol       string
		namespace bool
	}{
		{roPolicy, true},
		{`{"type":"danger-full-access"}`, false},
	} {
		t.Run(tc.pol, func(t *testing.T) {
			inv := invocation{args: []string{"--sandbox-policy-cwd", ws, "--sandbox-policy", tc.pol, "--", "grep", "-E", "^Cap(Prm|Eff|Bnd|Amb)", "/proc/self/status"}}
			ref, zb := inv.run(t, p.ref), inv.run(t, p.zb)
			mustExit(t, ref, 0)
			mustExit(t, zb, 0)
			zero := regexp.MustCompile(`^Cap(Prm|Eff|Amb):\s+0+$`)
			if tc.namespace || isRoot() {
				zero = regexp.MustCompile(`^Cap(Prm|Eff|Bnd|Amb):\s+0+$`)
			}
			for _, l := range strings.Split(strings.TrimSpace(zb.Stdout), "\n") {
				if !strings.HasPrefix(l, "CapBnd") || tc.namespace || isRoot() {
					if !zero.MatchString(l) {
						t.Errorf("zbox target holds capabilities: %q", l)
					}
				}
			}
			if !isRoot() && ref.Stdout != zb.Stdout {
				t.Errorf("unprivileged: capabilities differ\nref:\n%s\nzbox:\n%s", ref, zb)
			}
			if isRoot() && !strings.Contains(ref.Stdout, "CapEff:\t000001ff") {
				t.Logf("note: the reference helper no longer keeps root's capabilities:\n%s", ref.Stdout)
			}
		})
	}
}

// TestHelperTmpfsRootReadOnly documents zerobox's deny-default-write,
// which zbox adopts: the throwaway tmpfs root of a restricted-read
// sandbox is read-only, so the target cannot create /x (the real helper
// leaves that tmpfs writable).
func TestHelperTmpfsRootReadOnly(t *testing.T) {
	p := helperPeers(t)
	w := newHelperWorld(t, p)
	roots, _ := jsonStrings(w.readRoots)
	args := []string{"--sandbox-policy-cwd", w.ws, "--sandbox-policy", fmt.Sprintf(
		`{"type":"read-only","access":{"type":"restricted","include_platform_defaults":true,"readable_roots":%s}}`, roots),
		"--", "sh", "-c", `touch /zbox-e2e-x 2>/dev/null && echo created || echo refused; ls / | tr '\n' ' '`}
	ref := invocation{args: args, dir: w.ws}.run(t, p.ref)
	zb := invocation{args: args, dir: w.ws}.run(t, p.zb)
	mustExit(t, ref, 0)
	mustExit(t, zb, 0)
	if !strings.HasPrefix(zb.Stdout, "refused") {
		t.Fatalf("zbox's tmpfs root is writable:\n%s", zb)
	}
	// Apart from the file the helper's sandbox could create, the root
	// shows the same entries.
	refLs := strings.Replace(strings.SplitN(ref.Stdout, "\n", 2)[1], "zbox-e2e-x ", "", 1)
	zbLs := strings.SplitN(zb.Stdout, "\n", 2)[1]
	if refLs != zbLs {
		t.Fatalf("the roots differ\nref: %s\nzbox: %s", refLs, zbLs)
	}
}

// TestHelperErrors: the helper's argument errors (clap, status 2) and
// panics (status 101) with the messages callers match on (spec §2.2,
// §1.8, §5.4).
func TestHelperErrors(t *testing.T) {
	p := helperPeers(t)
	ws := hostDir(t)
	writeFile(t, filepath.Join(ws, "secret"), "s")
	outside := hostDir(t)
	splitDeny := `{"kind":"restricted","entries":[` + specialEntry("root", "read") + "," +
		specialEntry("current_working_directory", "write") + "," + fsEntry(ws+"/secret", "none") + `]}`
	splitOutside := `{"kind":"restricted","entries":[` + specialEntry("root", "read") + "," +
		fsEntry(outside, "write") + `]}`
	cwd := []string{"--sandbox-policy-cwd", ws}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string // substrings both must print
		// exact: both print the same stderr, apart from the panic's
		// source location and thread id.
		exact bool
	}{
		{"no command", append(cwd, "--sandbox-policy", roPolicy), 101, []string{"panicked at", "No command specified to execute."}, false},
		{"no command after --", append(cwd, "--sandbox-policy", roPolicy, "--"), 101, []string{"No command specified to execute."}, false},
		{"seccomp stage with legacy landlock", append(cwd, "--sandbox-policy", roPolicy, "--apply-seccomp-then-exec", "--use-legacy-landlock", "--", "true"), 101,
			[]string{"--apply-seccomp-then-exec is incompatible with --use-legacy-landlock"}, false},
		{"no policy", append(cwd, "--", "true"), 101, []string{"missing sandbox policy configuration"}, false},
		{"only the fs policy", append(cwd, "--file-system-sandbox-policy", `{"kind":"unrestricted"}`, "--", "true"), 101,
			[]string{"file-system and network sandbox policies must be provided together"}, false},
		{"only the network policy", append(cwd, "--network-sandbox-policy", `"enabled"`, "--", "true"), 101,
			[]string{"file-system and network sandbox policies must be provided together"}, false},
		{"legacy does not match split", append(cwd, "--sandbox-policy", roPolicy, "--file-system-sandbox-policy",
			`{"kind":"restricted","entries":[`+specialEntry("root", "write")+`]}`, "--network-sandbox-policy", `"restricted"`, "--", "true"), 101,
			[]string{"legacy sandbox policy must match split sandbox policies: provided="}, false},
		{"split writes outside cwd without legacy", append(cwd, "--file-system-sandbox-policy", splitOutside, "--network-sandbox-policy", `"restricted"`, "--", "true"), 101,
			[]string{"failed to derive legacy sandbox policy from split policies: permissions profile requests filesystem writes outside the workspace root"}, false},
		{"legacy landlock with deny entries", append(cwd, "--use-legacy-landlock", "--sandbox-policy", wwPolicy, "--file-system-sandbox-policy", splitDeny,
			"--network-sandbox-policy", `"restricted"`, "--", "true"), 101,
			[]string{"split sandbox policies requiring direct runtime enforcement are incompatible with --use-legacy-landlock"}, false},
		{"legacy landlock with restricted reads", append(cwd, "--use-legacy-landlock", "--sandbox-policy",
			`{"type":"read-only","access":{"type":"restricted","readable_roots":[]}}`, "--", "true"), 101,
			[]string{"error applying legacy Linux sandbox restrictions", "Restricted read-only access is not supported by the legacy Linux Landlock filesystem backend."}, false},
		{"exec failure", append(cwd, "--sandbox-policy", roPolicy, "--", "zbox-e2e-no-such-command"), 101,
			[]string{"Failed to execvp zbox-e2e-no-such-command: No such file or directory (os error 2)"}, false},
		{"exec failure full access", append(cwd, "--sandbox-policy", `{"type":"danger-full-access"}`, "--", "zbox-e2e-no-such-command"), 101,
			[]string{"Failed to execvp zbox-e2e-no-such-command: No such file or directory (os error 2)"}, false},
		{"invalid legacy JSON", append(cwd, "--sandbox-policy", "nope", "--", "true"), 2,
			[]string{"error: invalid value 'nope' for '--sandbox-policy <SANDBOX_POLICY>': "}, false},
		{"invalid network JSON", append(cwd, "--network-sandbox-policy", `"bad"`, "--file-system-sandbox-policy", `{"kind":"unrestricted"}`, "--", "true"), 2,
			[]string{`error: invalid value '"bad"' for '--network-sandbox-policy <NETWORK_SANDBOX_POLICY>': `}, false},
		{"relative writable root", append(cwd, "--sandbox-policy", `{"type":"workspace-write","writable_roots":["rel"]}`, "--", "true"), 2,
			[]string{`for '--sandbox-policy <SANDBOX_POLICY>': `, "AbsolutePathBuf deserialized without a base path"}, false},
		{"missing cwd", []string{"--sandbox-policy", roPolicy, "--", "true"}, 2,
			[]string{"error: the following required arguments were not provided:\n  --sandbox-policy-cwd <SANDBOX_POLICY_CWD>"}, true},
		{"unknown flag", append(cwd, "--bogus", "--", "true"), 2, []string{"error: unexpected argument '--bogus' found"}, true},
		{"unknown flag after hidden one", append(cwd, "--sandbox-policy", roPolicy, "--bogus", "--", "true"), 2, []string{"error: unexpected argument '--bogus' found"}, true},
		{"flag twice", append(cwd, "--sandbox-policy", roPolicy, "--sandbox-policy", roPolicy, "--", "true"), 2,
			[]string{"error: the argument '--sandbox-policy <SANDBOX_POLICY>' cannot be used multiple times"}, true},
		{"missing value", append(cwd, "--sandbox-policy"), 2,
			[]string{"error: a value is required for '--sandbox-policy <SANDBOX_POLICY>' but none was supplied"}, true},
		{"value for a switch", append(cwd, "--no-proc=1", "--", "true"), 2,
			[]string{"error: unexpected value '1' for '--no-proc' found; no more were expected"}, true},
		{"version is not a flag", []string{"--version"}, 2, []string{"error: unexpected argument '--version' found"}, true},
		{"no arguments", nil, 2, []string{"error: the following required arguments were not provided:"}, true},
		{"unknown short flag", append(cwd, "-x", "--", "true"), 2, []string{"error: unexpected argument '-x' found"}, true},
		{"unknown flag after a switch", []string{"--no-proc", "--bogus"}, 2, []string{"error: unexpected argument '--bogus' found"}, true},
		{"switch twice", append(cwd, "--no-proc", "--no-proc", "--", "true"), 2, []string{"error: the argument '--no-proc' cannot be used multiple times"}, true},
		{"missing cwd with a command", []string{"--no-proc", "--", "true"}, 2, []string{"--no-proc <COMMAND>..."}, true},
		{"empty JSON value", append(cwd, "--sandbox-policy=", "--", "true"), 2, []string{"error: invalid value '' for '--sandbox-policy <SANDBOX_POLICY>': "}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A fixed PATH: an unsearchable directory on it turns
			// execvp's ENOENT into EACCES (see TestHelperExecEACCES).
			inv := invocation{args: tc.args, dir: ws, env: []string{"PATH=" + cleanPath}}
			ref, zb := inv.run(t, p.ref), inv.run(t, p.zb)
			for _, r := range []struct {
				who string
				r   result
			}{{"helper", ref}, {"zbox", zb}} {
				if r.r.Code != tc.code {
					t.Errorf("%s: exit status %d, want %d\n%s", r.who, r.r.Code, tc.code, r.r)
				}
				for _, w := range tc.want {
					if !strings.Contains(r.r.Stderr, w) {
						t.Errorf("%s: stderr lacks %q\n%s", r.who, w, r.r)
					}
				}
			}
			if tc.exact && ref.Stderr != zb.Stderr {
				t.Errorf("stderr differs\nhelper:\n%s\nzbox:\n%s", ref.Stderr, zb.Stderr)
			}
		})
	}
}

// cleanPath is a PATH every uid can search.
const cleanPath = "/usr/local/bin:/usr/bin:/bin"

// TestHelperExecEACCES: like execvp(3), a command not found on PATH is
// EACCES, not ENOENT, when some PATH directory could not be searched.
func TestHelperExecEACCES(t *testing.T) {
	p := helperPeers(t)
	if isRoot() {
		t.Skip("needs an unprivileged caller: the real helper keeps root's CAP_DAC_READ_SEARCH, so nothing is unsearchable to it")
	}
	skipEngineBug(t, "lookPath/checkExec (cmd/zbox/init_linux.go) turn every stat error into ENOENT; execvp(3) reports EACCES when a PATH directory could not be searched (helper: \"Failed to execvp X: Permission denied (os error 13)\", bwrap: \"execvp X: Permission denied\")")
	ws := hostDir(t)
	locked := filepath.Join(hostDir(t), "locked")
	if err := os.MkdirAll(filepath.Join(locked, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(locked, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(locked, 0o755) })
	for _, pol := range []string{roPolicy, `{"type":"danger-full-access"}`} {
		inv := invocation{
			args: []string{"--sandbox-policy-cwd", ws, "--sandbox-policy", pol, "--", "zbox-e2e-no-such-command"},
			env:  []string{"PATH=" + filepath.Join(locked, "bin") + ":" + cleanPath},
		}
		ref, zb := inv.run(t, p.ref), inv.run(t, p.zb)
		for _, r := range []result{ref, zb} {
			if r.Code != 101 || !strings.Contains(r.Stderr, "Failed to execvp zbox-e2e-no-such-command: Permission denied (os error 13)") {
				t.Errorf("%s: want the EACCES panic\nhelper:\n%s\nzbox:\n%s", pol, ref, zb)
			}
		}
	}
}

// TestHelperHelp: --help and -h print clap's help to stdout, status 0.
func TestHelperHelp(t *testing.T) {
	p := helperPeers(t)
	for _, flag := range []string{"--help", "-h"} {
		inv := invocation{args: []string{flag}}
		ref, zb := inv.run(t, p.ref), inv.run(t, p.zb)
		mustExit(t, ref, 0)
		if ref.String() != zb.String() {
			t.Errorf("%s differs\nhelper:\n%s\nzbox:\n%s", flag, ref, zb)
		}
	}
}

// TestHelperDieWithParent: when the helper's caller dies, the sandbox
// dies too (the helper runs bwrap with --die-with-parent).
func TestHelperDieWithParent(t *testing.T) {
	p := helperPeers(t)
	ws := hostDir(t)
	// The shell starts the helper in the background and exits.
	checkDiesWithParent(t, []string{p.ref, p.zb}, "the sandbox outlived the helper's caller", func(bin, d, marker string) string {
		pol := fmt.Sprintf(`{"type":"workspace-write","writable_roots":[%q]}`, d)
		return fmt.Sprintf(`%s --sandbox-policy-cwd %s --sandbox-policy '%s' -- sh -c 'sleep 0.4; touch %s' >/dev/null 2>&1 </dev/null & sleep 0.1`, bin, ws, pol, marker)
	})
}

// TestHelperUnknownJSONField documents a deliberate difference: the
// helper's serde ignores unknown policy fields, zbox's parser rejects
// them (a usage error, status 2), because a field zbox does not know may
// carry a restriction it would otherwise silently drop (policy package,
// ParseSandboxPolicy/ParseFileSystemPolicy).
func TestHelperUnknownJSONField(t *testing.T) {
	p := helperPeers(t)
	ws := hostDir(t)
	args := []string{"--sandbox-policy-cwd", ws, "--sandbox-policy", `{"type":"read-only","future_field":1}`, "--", "echo", "ran"}
	ref := invocation{args: args}.run(t, p.ref)
	zb := invocation{args: args}.run(t, p.zb)
	if ref.Code != 0 || ref.Stdout != "ran\n" {
		t.Logf("note: the reference helper no longer ignores unknown fields:\n%s", ref)
	}
	mustExit(t, zb, 2)
	mustContain(t, zb, `error: invalid value '{"type":"read-only","future_field":1}' for '--sandbox-policy <SANDBOX_POLICY>': `)
	mustContain(t, zb, "future_field")
}

// TestHelperOwnIPCAndUTS documents that zbox's namespace sandboxes also
// get their own IPC and UTS namespaces (System V IPC and the hostname are
// not shared with the host), where the helper's bwrap shares both.
func TestHelperOwnIPCAndUTS(t *testing.T) {
	p := helperPeers(t)
	ws := hostDir(t)
	var host []string
	for _, ns := range []string{"ipc", "uts", "net", "pid", "mnt"} {
		l, err := os.Readlink("/proc/self/ns/" + ns)
		if err != nil {
			t.Fatal(err)
		}
		host = append(host, l)
	}
	args := []string{"--sandbox-policy-cwd", ws, "--sandbox-policy", roPolicy, "--", "readlink",
		"/proc/self/ns/ipc", "/proc/self/ns/uts", "/proc/self/ns/net", "/proc/self/ns/pid", "/proc/self/ns/mnt"}
	ref := invocation{args: args}.run(t, p.ref)
	zb := invocation{args: args}.run(t, p.zb)
	mustExit(t, ref, 0)
	mustExit(t, zb, 0)
	same := func(r result) []bool {
		var out []bool
		for i, l := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
			out = append(out, i < len(host) && l == host[i])
		}
		return out
	}
	// ipc, uts, net, pid, mnt: shared with the host or not.
	if got, want := fmt.Sprint(same(ref)), fmt.Sprint([]bool{true, true, false, false, false}); got != want {
		t.Logf("note: the reference helper's namespaces changed: %s, was %s", got, want)
	}
	if got, want := fmt.Sprint(same(zb)), fmt.Sprint([]bool{false, false, false, false, false}); got != want {
		t.Errorf("zbox shares namespaces with the host (ipc, uts, net, pid, mnt): %s, want %s\n%s", got, want, zb)
	}
}

// TestHelperProtectedGitUnderPins: the directories zbox binds onto
// themselves (so that they cannot be renamed between runs) never re-open
// what is protected: with the cwd a git submodule of a repository that is
// a writable root, the repository's .git (where the submodule's gitdir
// lives) stays read-only, as under the reference helper. A hook written
// there would run outside any sandbox.
func TestHelperProtectedGitUnderPins(t *testing.T) {
	p := helperPeers(t)
	repo := hostDir(t)
	writeFile(t, filepath.Join(repo, ".git", "modules", "sub", "hooks", "README"), "hooks\n")
	writeFile(t, filepath.Join(repo, "sub", ".git"), "gitdir: ../.git/modules/sub\n")
	sub := filepath.Join(repo, "sub")
	pol := fmt.Sprintf(`{"type":"workspace-write","writable_roots":[%q]}`, repo)
	script := fmt.Sprintf(`(echo evil > %[1]s/.git/hooks-pre-commit) 2>/dev/null && echo git=ok || echo git=denied; (echo evil > %[1]s/.git/modules/sub/hooks/pre-commit) 2>/dev/null && echo hooks=ok || echo hooks=denied; (echo x > %[1]s/f) 2>/dev/null && echo repo=ok || echo repo=denied`, repo)
	args := []string{"--sandbox-policy-cwd", sub, "--sandbox-policy", pol, "--", "sh", "-c", script}
	ref := invocation{args: args, dir: sub}.run(t, p.ref)
	zb := invocation{args: args, dir: sub}.run(t, p.zb)
	if ref.String() != zb.String() || !strings.Contains(zb.Stdout, "git=denied\nhooks=denied\nrepo=ok") {
		t.Fatalf("helper:\n%s\nzbox:\n%s", ref, zb)
	}
}

package policy

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zbox-sandbox/zbox/policy/internal/goldengen"
)

const systemBwrap = "/usr/bin/bwrap"

// needBwrap skips unless a real bwrap can create a user namespace here.
func needBwrap(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(systemBwrap); err != nil {
		t.Skipf("system bubblewrap not installed (%v): cannot run rendered argv", err)
	}
	out, err := exec.Command(systemBwrap, "--unshare-user", "--ro-bind", "/", "/", "true").CombinedOutput()
	if err != nil {
		t.Skipf("bwrap cannot create a user namespace here (%v: %s)", err, out)
	}
}

// fdFiles hands bwrap one fresh fd per data op through exec.Cmd's
// ExtraFiles (fd 3 onwards), as an engine would: /dev/null for empty data,
// an unlinked temp file holding the bytes otherwise.
type fdFiles struct {
	t     *testing.T
	files []*os.File
}

func (a *fdFiles) fd(data []byte) (int, error) {
	var f *os.File
	var err error
	if len(data) == 0 {
		f, err = os.Open(os.DevNull)
	} else {
		f, err = os.CreateTemp(a.t.TempDir(), "data")
		if err == nil {
			_, err = f.Write(data)
		}
		if err == nil {
			_, err = f.Seek(0, io.SeekStart)
		}
	}
	if err != nil {
		return 0, err
	}
	a.t.Cleanup(func() { f.Close() })
	a.files = append(a.files, f)
	return 2 + len(a.files), nil
}

func runRendered(t *testing.T, p *Plan, script string) (string, error) {
	t.Helper()
	fds := &fdFiles{t: t}
	args, err := BwrapArgs(p, fds.fd, []string{"/bin/sh", "-euc", script})
	if err != nil {
		t.Fatalf("BwrapArgs: %v", err)
	}
	cmd := exec.Command(systemBwrap, args...)
	cmd.ExtraFiles = fds.files
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Logf("argv: bwrap %s", strings.Join(args, " "))
	}
	return string(out), err
}

// TestBwrapArgsRealBwrap renders a plan using every op the renderer knows
// that bwrap 0.8 supports and runs it with the system bwrap: the sandbox
// checks each effect from the inside.
func TestBwrapArgsRealBwrap(t *testing.T) {
	needBwrap(t)
	host := t.TempDir()
	p := &Plan{
		Namespaces: Namespaces{User: true, Mount: true, PID: true, Net: true, IPC: true, UTS: true},
		Hostname:   "zbox-test",
		NewSession: true, DieWithParent: true,
		Caps: Caps{Keep: []int{12}}, // CAP_NET_ADMIN
		Mounts: []MountOp{
			{Kind: OpTmpfs, Dest: "/"},
			{Kind: OpDev, Dest: "/dev"},
			{Kind: OpROBind, Source: "/usr", Dest: "/usr"},
			{Kind: OpROBind, Source: "/bin", Dest: "/bin", Try: true},
			{Kind: OpROBind, Source: "/lib", Dest: "/lib", Try: true},
			{Kind: OpROBind, Source: "/lib64", Dest: "/lib64", Try: true},
			{Kind: OpROBind, Source: "/nonexistent-zbox", Dest: "/nope", Try: true},
			{Kind: OpBind, Source: host, Dest: "/w"},
			{Kind: OpTmpfs, Dest: "/t", Perms: Uint32(0o700), Size: 1 << 20},
			{Kind: OpDir, Dest: "/t/d", Perms: Uint32(0o750)},
			{Kind: OpChmod, Dest: "/t/d", Perms: Uint32(0o711)},
			{Kind: OpFile, Dest: "/t/file", Data: []byte("hello\n"), Perms: Uint32(0o640)},
			{Kind: OpROBindData, Dest: "/t/ro", Data: []byte("ro-data")},
			{Kind: OpROBindData, Dest: "/t/empty", Perms: Uint32(0)},
			{Kind: OpBindData, Dest: "/t/rw", Data: []byte("rw")},
			{Kind: OpSymlink, Source: "file", Dest: "/t/link"},
			{Kind: OpRemountRO, Dest: "/t"},
			{Kind: OpMqueue, Dest: "/dev/mqueue"},
			{Kind: OpProc, Dest: "/proc", Fallback: ProcSkip},
		},
		Chdir: "/t",
	}
	script := `fail() { echo "FAIL: $*"; exit 1; }
[ "$(cat /t/file)" = hello ]
[ "$(stat -c %a /t/file)" = 640 ]
[ "$(stat -c %a /t)" = 700 ]
[ "$(stat -c %a /t/d)" = 711 ]
[ "$(cat /t/ro)" = ro-data ]
! (echo x > /t/ro) 2>/dev/null || fail '(echo x > /t/ro)'
[ "$(stat -c %a /t/empty)" = 0 ]
[ ! -s /t/empty ]
echo more >> /t/rw
[ "$(readlink /t/link)" = file ]
! touch /t/new 2>/dev/null || fail 'touch /t/new'
[ ! -e /nope ]
[ ! -e /etc/passwd ]
echo out > /w/out
[ "$(pwd)" = /t ]
[ "$(hostname)" = zbox-test ]
grep -q '^CapEff:	0000000000001000$' /proc/self/status
grep -q ' /dev/mqueue mqueue ' /proc/self/mounts
[ "$(grep -c : /proc/net/dev)" = 1 ]
echo ok
`
	out, err := runRendered(t, p, script)
	if err != nil || strings.TrimSpace(out) != "ok" {
		t.Fatalf("sandbox check failed: %v\n%s", err, out)
	}
	if b, err := os.ReadFile(filepath.Join(host, "out")); err != nil || string(b) != "out\n" {
		t.Fatalf("write through --bind not visible on the host: %q, %v", b, err)
	}
}

// TestHelperPlanRealBwrap runs helper plans with the system bwrap and
// checks the policy from inside: two denied files (the case where the
// v0.117 helper's reused fd breaks bwrap), a denied directory, protected
// .git, a writable workspace, no capabilities even for a root caller, and
// zerobox's read-only tmpfs root under Hardened.
func TestHelperPlanRealBwrap(t *testing.T) {
	needBwrap(t)
	root := t.TempDir()
	tree := []goldengen.Node{
		goldengen.F("ws/.git/HEAD", "ref\n"), goldengen.F("ws/secret.txt", "s1\n"), goldengen.F("ws/secret2.txt", "s2\n"),
		goldengen.F("ws/secrets/key", "k\n"), goldengen.D("ws/.codex"),
	}
	if err := goldengen.Build(root, goldengen.Case{Name: "real", Tree: tree}); err != nil {
		t.Fatal(err)
	}
	ws := filepath.Join(root, "ws")
	t.Setenv("TMPDIR", "")
	entry := func(p, a string) string { return fmt.Sprintf(`{"path":{"type":"path","path":%q},"access":%q}`, p, a) }
	split := restrictedJSON(`{"path":{"type":"special","value":{"kind":"root"}},"access":"read"}`,
		`{"path":{"type":"special","value":{"kind":"current_working_directory"}},"access":"write"}`,
		entry(ws+"/secret.txt", "none"), entry(ws+"/secret2.txt", "none"), entry(ws+"/secrets", "none"))
	legacy := `{"type":"workspace-write","exclude_slash_tmp":true,"exclude_tmpdir_env_var":true}`
	denyScript := fmt.Sprintf(`fail() { echo "FAIL: $*"; exit 1; }
cd %[1]q
! cat secret.txt 2>/dev/null || fail 'cat secret.txt'
! cat secret2.txt 2>/dev/null || fail 'cat secret2.txt'
! ls secrets 2>/dev/null || fail 'ls secrets'
echo new > new
! touch .git/x 2>/dev/null || fail 'touch .git/x'
! touch .codex/x 2>/dev/null || fail 'touch .codex/x'
grep -q '^CapEff:	0000000000000000$' /proc/self/status
[ $$ -le 3 ] || fail "not in a new pid namespace: pid $$"
[ "$(grep -c : /proc/net/dev)" = 1 ]
echo ok
`, ws)
	for _, hardened := range []bool{false, true} {
		t.Run(fmt.Sprintf("deny/hardened=%v", hardened), func(t *testing.T) {
			pols := resolveT(t, HostFS, legacy, split, `"restricted"`, ws)
			p, err := HelperPlan(HostFS, HelperInput{Policies: pols, PolicyCwd: ws, Command: []string{"true"}, Hardened: hardened})
			if err != nil {
				t.Fatal(err)
			}
			out, err := runRendered(t, p, denyScript)
			if err != nil || strings.TrimSpace(out) != "ok" {
				t.Fatalf("sandbox check failed: %v\n%s", err, out)
			}
			if b, _ := os.ReadFile(filepath.Join(ws, "secret2.txt")); string(b) != "s2\n" {
				t.Fatalf("host file changed: %q", b)
			}
			if _, err := os.Stat(filepath.Join(ws, "new")); err != nil {
				t.Fatalf("write in the workspace not visible on the host: %v", err)
			}
			os.Remove(filepath.Join(ws, "new"))
		})
	}

	// A denied file inside a denied directory, outside writable roots: the
	// helper's argv (reproduced by the goldens, deny-ancestor) makes bwrap
	// fail; Hardened skips the redundant mask and works.
	if err := os.MkdirAll(filepath.Join(root, "o"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "o", "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	nested := restrictedJSON(`{"path":{"type":"special","value":{"kind":"root"}},"access":"read"}`,
		`{"path":{"type":"special","value":{"kind":"current_working_directory"}},"access":"write"}`,
		entry(root+"/o", "none"), entry(root+"/o/f", "none"))
	for _, hardened := range []bool{false, true} {
		t.Run(fmt.Sprintf("nested-deny/hardened=%v", hardened), func(t *testing.T) {
			pols := resolveT(t, HostFS, legacy, nested, `"restricted"`, ws)
			p, err := HelperPlan(HostFS, HelperInput{Policies: pols, PolicyCwd: ws, Command: []string{"true"}, Hardened: hardened})
			if err != nil {
				t.Fatal(err)
			}
			out, err := runRendered(t, p, fmt.Sprintf(`! ls %q 2>/dev/null || exit 3; echo ok`, root+"/o"))
			if hardened {
				if err != nil || strings.TrimSpace(out) != "ok" {
					t.Fatalf("hardened plan failed: %v\n%s", err, out)
				}
			} else if err == nil || !strings.Contains(out, "Read-only file system") {
				t.Fatalf("helper-compatible plan: want bwrap's read-only tmpfs failure, got %v\n%s", err, out)
			}
		})
	}

	// Restricted reads: a tmpfs root with the platform defaults. Only
	// Hardened makes the root itself read-only (zerobox's remount-ro /).
	ro := `{"type":"read-only","access":{"type":"restricted","include_platform_defaults":true,"readable_roots":[]}}`
	for _, hardened := range []bool{false, true} {
		t.Run(fmt.Sprintf("tmpfs-root/hardened=%v", hardened), func(t *testing.T) {
			pols := resolveT(t, HostFS, ro, "", "", ws)
			p, err := HelperPlan(HostFS, HelperInput{Policies: pols, PolicyCwd: ws, Command: []string{"true"}, Hardened: hardened})
			if err != nil {
				t.Fatal(err)
			}
			want := "created"
			if hardened {
				want = "read-only"
			}
			script := fmt.Sprintf(`
[ -r %q/.git/HEAD ]
[ ! -e %q ]
if touch /zbox-probe 2>/dev/null; then echo created; else echo read-only; fi
`, ws, filepath.Join(root, "elsewhere"))
			out, err := runRendered(t, p, script)
			if err != nil || strings.TrimSpace(out) != want {
				t.Fatalf("got %v %q, want %q", err, out, want)
			}
		})
	}
}

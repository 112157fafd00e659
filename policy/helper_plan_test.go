package policy

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zbox-sandbox/zbox/policy/internal/goldengen"
)

// zboxOnlyArgs are argv elements BwrapArgs adds on purpose that the real
// helper never emits (documented in testdata/golden/README.md); the golden
// comparison removes exactly these.
var zboxOnlyArgs = [][]string{{"--cap-drop", "ALL"}}

func stripZboxOnly(t *testing.T, args []string) []string {
	t.Helper()
	out := slices.Clone(args)
	for _, seq := range zboxOnlyArgs {
		i := indexSeq(out, seq)
		if i < 0 {
			t.Fatalf("rendered argv lacks zbox's %q: %q", seq, args)
		}
		out = slices.Delete(out, i, i+len(seq))
	}
	return out
}

func indexSeq(s, seq []string) int {
	for i := 0; i+len(seq) <= len(s); i++ {
		if slices.Equal(s[i:i+len(seq)], seq) {
			return i
		}
	}
	return -1
}

// countingFD is a dataFD for tests: distinct fd numbers, records the data.
type countingFD struct {
	next int
	data [][]byte
}

func (c *countingFD) fd(d []byte) (int, error) {
	c.data = append(c.data, d)
	c.next++
	return 100 + c.next, nil
}

func hostPlatformRoots() []string {
	var out []string
	for _, r := range PlatformDefaultReadRoots {
		if _, err := os.Stat(r); err == nil {
			out = append(out, r)
		}
	}
	slices.Sort(out)
	return out
}

// TestHelperPlanGolden replays every case of the goldens made by the real
// codex-linux-sandbox 0.125.0 (testdata/gen-golden.sh): same tree, same
// flags, HelperPlan + BwrapArgs must give the same bwrap argv.
func TestHelperPlanGolden(t *testing.T) {
	// The trees live under /tmp (not t.TempDir(), which follows $TMPDIR)
	// because the generator used /tmp/zbox-golden/<case>: the goldens'
	// order depends on where the case root sorts relative to /tmp and the
	// platform roots (/etc < /tmp < /usr), and /tmp is itself a writable
	// root in the workspace-write-tmp case.
	base, err := os.MkdirTemp("/tmp", "zbox-golden-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	for _, name := range []string{".git", ".agents", ".codex"} {
		if _, err := os.Lstat(filepath.Join("/tmp", name)); err == nil {
			t.Skipf("/tmp/%s exists on this host: /tmp's protected subpaths would differ from the goldens", name)
		}
	}
	platformOK := slices.Equal(hostPlatformRoots(), goldengen.HostPlatformRoots)

	cases := goldengen.Cases()
	seen := map[string]bool{}
	for _, c := range cases {
		seen[c.Name+".args"] = true
		t.Run(c.Name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "golden", c.Name+".args"))
			if err != nil {
				t.Fatalf("%v (run policy/testdata/gen-golden.sh)", err)
			}
			want, err := goldengen.Parse(data)
			if err != nil {
				t.Fatalf("%s.args: %v", c.Name, err)
			}
			if c.PlatformDefaults && !platformOK {
				t.Skipf("host platform read roots %q differ from the goldens' %q", hostPlatformRoots(), goldengen.HostPlatformRoots)
			}
			root := filepath.Join(base, c.Name)
			if err := os.Mkdir(root, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := goldengen.Build(root, c); err != nil {
				t.Fatal(err)
			}
			x := func(s string) string { return goldengen.Expand(s, root) }
			// The generator's environment: $TMPDIR only when the case
			// sets it, HOME pointing nowhere.
			t.Setenv("TMPDIR", x(c.TMPDIR))
			t.Setenv("HOME", "/nonexistent")

			pols, err := ResolveHelperPolicies(HostFS, x(c.Legacy), x(c.FS), x(c.Net), x(c.Cwd))
			if err != nil {
				t.Fatalf("ResolveHelperPolicies: %v", err)
			}
			plan, err := HelperPlan(HostFS, HelperInput{
				Policies: pols, PolicyCwd: x(c.Cwd), CommandCwd: x(c.CommandCwd),
				NoProc: c.NoProc, ProxyMode: c.Proxy, Command: []string{"true"},
			})
			switch {
			case want.Error != "":
				var se *WritableSymlinkError
				if !errors.As(err, &se) {
					t.Fatalf("HelperPlan error = %v, want %q", err, want.Error)
				}
				if got := goldengen.NormalizeMessage(err.Error(), root); got != want.Error {
					t.Fatalf("HelperPlan error\n got %q\nwant %q", got, want.Error)
				}
				return
			case err != nil:
				t.Fatalf("HelperPlan: %v", err)
			case want.NoBwrap:
				if plan.Namespaces != (Namespaces{}) || len(plan.Mounts) != 0 || plan.NewSession {
					t.Fatalf("want the direct-exec shortcut plan, got %+v", plan)
				}
				if _, err := BwrapArgs(plan, nil, nil); err == nil {
					t.Fatal("BwrapArgs rendered a direct-exec plan")
				}
				return
			}
			fds := &countingFD{}
			args, err := BwrapArgs(plan, fds.fd, nil)
			if err != nil {
				t.Fatalf("BwrapArgs: %v", err)
			}
			got := goldengen.Normalize(stripZboxOnly(t, args), root)
			if !slices.Equal(got, want.Args) {
				t.Fatalf("argv mismatch\n got: %s\nwant: %s", strings.Join(got, " "), strings.Join(want.Args, " "))
			}
			for i, d := range fds.data {
				if len(d) != 0 {
					t.Errorf("data op %d carries %d bytes, want an empty (/dev/null) mask", i, len(d))
				}
			}
		})
	}
	// Every golden file belongs to a case (no stale goldens).
	ents, err := os.ReadDir(filepath.Join("testdata", "golden"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".args") && !seen[e.Name()] {
			t.Errorf("stale golden %s has no case in goldengen.Cases()", e.Name())
		}
	}
}

// planMemFS is an in-memory FS for synthetic trees that cannot be built on
// the host (a writable "/", fixed platform roots). Keys are clean absolute
// paths; symlinks are resolved like the kernel does.
type planMemFS map[string]planMemNode

type planMemNode struct {
	mode   fs.FileMode // fs.ModeDir, fs.ModeSymlink or 0 (file)
	target string
	data   string
}

type planMemInfo struct {
	name string
	n    planMemNode
}

func (i planMemInfo) Name() string       { return i.name }
func (i planMemInfo) Size() int64        { return int64(len(i.n.data)) }
func (i planMemInfo) Mode() fs.FileMode  { return i.n.mode | 0o755 }
func (i planMemInfo) ModTime() time.Time { return time.Time{} }
func (i planMemInfo) IsDir() bool        { return i.n.mode&fs.ModeDir != 0 }
func (i planMemInfo) Sys() any           { return nil }

func newPlanMemFS(entries ...string) planMemFS {
	m := planMemFS{"/": {mode: fs.ModeDir}}
	for _, e := range entries {
		switch {
		case strings.Contains(e, " -> "):
			p, t, _ := strings.Cut(e, " -> ")
			m.mkparents(p)
			m[p] = planMemNode{mode: fs.ModeSymlink, target: t}
		case strings.HasSuffix(e, "/"):
			p := strings.TrimSuffix(e, "/")
			m.mkparents(p)
			m[p] = planMemNode{mode: fs.ModeDir}
		default:
			m.mkparents(e)
			m[e] = planMemNode{}
		}
	}
	return m
}

func (m planMemFS) mkparents(p string) {
	for d := filepath.Dir(p); d != "/"; d = filepath.Dir(d) {
		if _, ok := m[d]; !ok {
			m[d] = planMemNode{mode: fs.ModeDir}
		}
	}
}

func (m planMemFS) resolve(p string, followLast bool, hops int) (string, error) {
	if hops > 40 {
		return "", &fs.PathError{Op: "resolve", Path: p, Err: syscall.ELOOP}
	}
	if !filepath.IsAbs(p) {
		return "", &fs.PathError{Op: "resolve", Path: p, Err: fs.ErrInvalid}
	}
	parts := strings.Split(filepath.Clean(p), "/")[1:]
	cur := "/"
	for i, c := range parts {
		if c == "" {
			continue
		}
		next := filepath.Join(cur, c)
		n, ok := m[next]
		if !ok {
			return "", &fs.PathError{Op: "stat", Path: p, Err: fs.ErrNotExist}
		}
		if n.mode&fs.ModeSymlink != 0 && (i < len(parts)-1 || followLast) {
			t := n.target
			if !filepath.IsAbs(t) {
				t = filepath.Join(cur, t)
			}
			r, err := m.resolve(t, true, hops+1)
			if err != nil {
				return "", err
			}
			next = r
		} else if i < len(parts)-1 && n.mode&fs.ModeDir == 0 {
			return "", &fs.PathError{Op: "stat", Path: p, Err: syscall.ENOTDIR}
		}
		cur = next
	}
	return cur, nil
}

func (m planMemFS) Lstat(p string) (fs.FileInfo, error) {
	r, err := m.resolve(p, false, 0)
	if err != nil {
		return nil, err
	}
	return planMemInfo{filepath.Base(r), m[r]}, nil
}

func (m planMemFS) Stat(p string) (fs.FileInfo, error) {
	r, err := m.resolve(p, true, 0)
	if err != nil {
		return nil, err
	}
	return planMemInfo{filepath.Base(r), m[r]}, nil
}

func (m planMemFS) ReadFile(p string) ([]byte, error) {
	r, err := m.resolve(p, true, 0)
	if err != nil {
		return nil, err
	}
	if m[r].mode&fs.ModeDir != 0 {
		return nil, &fs.PathError{Op: "read", Path: p, Err: syscall.EISDIR}
	}
	return []byte(m[r].data), nil
}

func (m planMemFS) EvalSymlinks(p string) (string, error) { return m.resolve(p, true, 0) }

// opStr is a compact, engine-free spelling of a mount op for test tables:
// "kind[(perms)] [src] dst [fallback]".
func opStr(op MountOp) string {
	s := string(op.Kind)
	if op.Perms != nil {
		s += fmt.Sprintf("(%03o)", *op.Perms)
	}
	if op.Source != "" {
		s += " " + op.Source
	}
	s += " " + op.Dest
	if op.Fallback != "" {
		s += " " + string(op.Fallback)
	}
	if len(op.Data) != 0 {
		s += fmt.Sprintf(" data=%q", op.Data)
	}
	return s
}

func opStrs(ops []MountOp) []string {
	out := make([]string, len(ops))
	for i, op := range ops {
		out[i] = opStr(op)
	}
	return out
}

func expandAll(ss []string, root string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = goldengen.Expand(s, root)
	}
	return out
}

// TestFilesystemOps drives create_filesystem_args directly with explicit
// policy results, on real trees under t.TempDir(), so each rule of spec
// §3.3-§3.6 is checked independently of the policy algebra.
func TestFilesystemOps(t *testing.T) {
	wr := func(root string, subs ...string) WritableRoot {
		return WritableRoot{Root: root, ReadOnlySubpaths: subs}
	}
	tests := []struct {
		name             string
		tree             []goldengen.Node
		layout           fsLayout
		legacySymlinks   bool
		hardened         bool
		want             []string
		wantSymlinkErr   *WritableSymlinkError
		wantUsedTmpfsRot bool
	}{
		{
			name:   "full read, one writable root with protected dirs",
			tree:   []goldengen.Node{goldengen.D("ws/.git"), goldengen.D("ws/.codex")},
			layout: fsLayout{FullRead: true, Writable: []WritableRoot{wr("$ROOT/ws", "$ROOT/ws/.git", "$ROOT/ws/.codex")}},
			want: []string{"ro-bind / /", "dev /dev", "bind $ROOT/ws $ROOT/ws",
				"ro-bind $ROOT/ws/.git $ROOT/ws/.git", "ro-bind $ROOT/ws/.codex $ROOT/ws/.codex"},
		},
		{
			name:   "missing writable root dropped",
			tree:   []goldengen.Node{goldengen.D("ws")},
			layout: fsLayout{FullRead: true, Writable: []WritableRoot{wr("$ROOT/gone"), wr("$ROOT/ws")}},
			want:   []string{"ro-bind / /", "dev /dev", "bind $ROOT/ws $ROOT/ws"},
		},
		{
			name:   "writable roots bound by depth, stable",
			tree:   []goldengen.Node{goldengen.D("a/b/c"), goldengen.D("x"), goldengen.D("y")},
			layout: fsLayout{FullRead: true, Writable: []WritableRoot{wr("$ROOT/a/b/c"), wr("$ROOT/y"), wr("$ROOT/x"), wr("$ROOT/a")}},
			want: []string{"ro-bind / /", "dev /dev", "bind $ROOT/y $ROOT/y", "bind $ROOT/x $ROOT/x",
				"bind $ROOT/a $ROOT/a", "bind $ROOT/a/b/c $ROOT/a/b/c"},
		},
		{
			name:           "symlink in writable root fails closed (deny-read)",
			tree:           []goldengen.Node{goldengen.F("ws/real/f", "x"), goldengen.L("ws/link", "real")},
			layout:         fsLayout{FullRead: true, Writable: []WritableRoot{wr("$ROOT/ws")}, Unreadable: []string{"$ROOT/ws/link/f"}},
			wantSymlinkErr: &WritableSymlinkError{Kind: "deny-read", Path: "$ROOT/ws/link/f", Symlink: "$ROOT/ws/link"},
		},
		{
			name:           "symlink in writable root masked (v0.117)",
			tree:           []goldengen.Node{goldengen.F("ws/real/f", "x"), goldengen.L("ws/link", "real")},
			layout:         fsLayout{FullRead: true, Writable: []WritableRoot{wr("$ROOT/ws")}, Unreadable: []string{"$ROOT/ws/link/f"}},
			legacySymlinks: true,
			want:           []string{"ro-bind / /", "dev /dev", "bind $ROOT/ws $ROOT/ws", "ro-bind /dev/null $ROOT/ws/link"},
		},
		{
			name:           "symlinked protected .codex fails closed (read-only)",
			tree:           []goldengen.Node{goldengen.D("decoy"), goldengen.L("ws/.codex", "$ROOT/decoy")},
			layout:         fsLayout{FullRead: true, Writable: []WritableRoot{wr("$ROOT/ws", "$ROOT/ws/.codex")}},
			wantSymlinkErr: &WritableSymlinkError{Kind: "read-only", Path: "$ROOT/ws/.codex", Symlink: "$ROOT/ws/.codex"},
		},
		{
			name:           "symlinked protected .codex masked (v0.117)",
			tree:           []goldengen.Node{goldengen.D("decoy"), goldengen.L("ws/.codex", "$ROOT/decoy")},
			layout:         fsLayout{FullRead: true, Writable: []WritableRoot{wr("$ROOT/ws", "$ROOT/ws/.codex")}},
			legacySymlinks: true,
			want:           []string{"ro-bind / /", "dev /dev", "bind $ROOT/ws $ROOT/ws", "ro-bind /dev/null $ROOT/ws/.codex"},
		},
		{
			name: "symlink outside writable roots is followed",
			tree: []goldengen.Node{goldengen.D("ws"), goldengen.F("real/f", "x"), goldengen.L("link", "real")},
			layout: fsLayout{FullRead: true, Writable: []WritableRoot{wr("$ROOT/ws")},
				Unreadable: []string{"$ROOT/link/f"}},
			want: []string{"ro-bind / /", "dev /dev", "bind $ROOT/ws $ROOT/ws", "ro-bind-data(000) $ROOT/link/f"},
		},
		{
			name: "missing deny path: first missing component masked only under a writable root",
			tree: []goldengen.Node{goldengen.D("ws")},
			layout: fsLayout{FullRead: true, Writable: []WritableRoot{wr("$ROOT/ws")},
				Unreadable: []string{"$ROOT/ws/nope/deeper", "$ROOT/gone/x"}},
			want: []string{"ro-bind / /", "dev /dev", "bind $ROOT/ws $ROOT/ws", "ro-bind /dev/null $ROOT/ws/nope"},
		},
		{
			name: "missing protected path masked, protected path outside writable roots skipped",
			tree: []goldengen.Node{goldengen.D("ws"), goldengen.D("gitdir")},
			layout: fsLayout{FullRead: true, Writable: []WritableRoot{
				wr("$ROOT/ws", "$ROOT/gitdir", "$ROOT/ws/.codex", "$ROOT/elsewhere/x")}},
			want: []string{"ro-bind / /", "dev /dev", "bind $ROOT/ws $ROOT/ws", "ro-bind /dev/null $ROOT/ws/.codex"},
		},
		{
			name: "spec §3.3 example /repo=write /repo/a=none /repo/a/b=write",
			tree: []goldengen.Node{goldengen.D("repo/a/b")},
			layout: fsLayout{FullRead: true, Writable: []WritableRoot{wr("$ROOT/repo", "$ROOT/repo/a"), wr("$ROOT/repo/a/b")},
				Unreadable: []string{"$ROOT/repo/a"}},
			want: []string{"ro-bind / /", "dev /dev", "bind $ROOT/repo $ROOT/repo",
				"tmpfs(111) $ROOT/repo/a", "dir $ROOT/repo/a/b", "remount-ro $ROOT/repo/a",
				"dir $ROOT/repo/a/b", "bind $ROOT/repo/a/b $ROOT/repo/a/b"},
		},
		{
			name: "deny file and dir under full read (§3.7)",
			tree: []goldengen.Node{goldengen.F("x/blocked.txt", "s"), goldengen.D("x/dir/sub")},
			layout: fsLayout{FullRead: true,
				Unreadable: []string{"$ROOT/x/dir", "$ROOT/x/blocked.txt"}},
			// Same depth: policy order is kept (stable sort).
			want: []string{"ro-bind / /", "dev /dev", "tmpfs(000) $ROOT/x/dir", "remount-ro $ROOT/x/dir", "ro-bind-data(000) $ROOT/x/blocked.txt"},
		},
		{
			name: "denied ancestor of writable roots: masked first, chains rebuilt, file root chain stops at parent",
			tree: []goldengen.Node{goldengen.D("p/a/w1"), goldengen.F("p/b/wf", "f"), goldengen.D("ws")},
			layout: fsLayout{FullRead: true,
				Writable:   []WritableRoot{wr("$ROOT/ws"), wr("$ROOT/p/a/w1"), wr("$ROOT/p/b/wf")},
				Unreadable: []string{"$ROOT/p"}},
			want: []string{"ro-bind / /", "dev /dev",
				"tmpfs(111) $ROOT/p", "dir $ROOT/p/a", "dir $ROOT/p/a/w1", "dir $ROOT/p/b", "remount-ro $ROOT/p",
				"bind $ROOT/ws $ROOT/ws",
				"dir $ROOT/p/a", "dir $ROOT/p/a/w1", "bind $ROOT/p/a/w1 $ROOT/p/a/w1",
				"dir $ROOT/p/b", "bind $ROOT/p/b/wf $ROOT/p/b/wf"},
		},
		{
			name: "unreadable subpath is masked as deny, not re-bound read-only",
			tree: []goldengen.Node{goldengen.D("ws/sec")},
			layout: fsLayout{FullRead: true, Writable: []WritableRoot{wr("$ROOT/ws", "$ROOT/ws/sec")},
				Unreadable: []string{"$ROOT/ws/sec"}},
			want: []string{"ro-bind / /", "dev /dev", "bind $ROOT/ws $ROOT/ws", "tmpfs(000) $ROOT/ws/sec", "remount-ro $ROOT/ws/sec"},
		},
		{
			name: "tmpfs root: component order, missing skipped, duplicates once",
			tree: []goldengen.Node{goldengen.D("a/b"), goldengen.D("a-c"), goldengen.D("ws")},
			layout: fsLayout{Readable: []string{"$ROOT/ws", "$ROOT/a-c", "$ROOT/a/b", "$ROOT/missing", "$ROOT/a/b"},
				Writable: []WritableRoot{wr("$ROOT/ws")}},
			want: []string{"tmpfs /", "dev /dev", "ro-bind $ROOT/a/b $ROOT/a/b", "ro-bind $ROOT/a-c $ROOT/a-c",
				"ro-bind $ROOT/ws $ROOT/ws", "bind $ROOT/ws $ROOT/ws"},
			wantUsedTmpfsRot: true,
		},
		{
			name:             "tmpfs root, hardened: nested readable roots pruned",
			tree:             []goldengen.Node{goldengen.D("data/nested"), goldengen.D("ws")},
			layout:           fsLayout{Readable: []string{"$ROOT/data/nested", "$ROOT/ws", "$ROOT/data"}},
			hardened:         true,
			want:             []string{"tmpfs /", "dev /dev", "ro-bind $ROOT/data $ROOT/data", "ro-bind $ROOT/ws $ROOT/ws"},
			wantUsedTmpfsRot: true,
		},
		{
			name: "deny inside a denied directory: emitted as the helper does",
			tree: []goldengen.Node{goldengen.F("o/f", "x"), goldengen.F("p/w/f", "x")},
			layout: fsLayout{FullRead: true, Writable: []WritableRoot{wr("$ROOT/p/w")},
				Unreadable: []string{"$ROOT/o", "$ROOT/o/f", "$ROOT/p", "$ROOT/p/w/f"}},
			want: []string{"ro-bind / /", "dev /dev",
				"tmpfs(111) $ROOT/p", "dir $ROOT/p/w", "remount-ro $ROOT/p",
				"dir $ROOT/p/w", "bind $ROOT/p/w $ROOT/p/w", "ro-bind-data(000) $ROOT/p/w/f",
				"tmpfs(000) $ROOT/o", "remount-ro $ROOT/o", "ro-bind-data(000) $ROOT/o/f"},
		},
		{
			name: "deny inside a denied directory: hardened skips it unless a writable root re-opens it",
			tree: []goldengen.Node{goldengen.F("o/f", "x"), goldengen.F("p/w/f", "x")},
			layout: fsLayout{FullRead: true, Writable: []WritableRoot{wr("$ROOT/p/w")},
				Unreadable: []string{"$ROOT/o", "$ROOT/o/f", "$ROOT/p", "$ROOT/p/w/f"}},
			hardened: true,
			want: []string{"ro-bind / /", "dev /dev",
				"tmpfs(111) $ROOT/p", "dir $ROOT/p/w", "remount-ro $ROOT/p",
				"dir $ROOT/p/w", "bind $ROOT/p/w $ROOT/p/w", "ro-bind-data(000) $ROOT/p/w/f",
				"tmpfs(000) $ROOT/o", "remount-ro $ROOT/o"},
		},
		{
			name: "carve-out denied under another spelling is left to the deny mask",
			tree: []goldengen.Node{goldengen.D("ws/sec"), goldengen.L("via", "ws/sec")},
			layout: fsLayout{FullRead: true, Writable: []WritableRoot{wr("$ROOT/ws", "$ROOT/ws/sec")},
				Unreadable: []string{"$ROOT/via"}},
			want: []string{"ro-bind / /", "dev /dev", "bind $ROOT/ws $ROOT/ws", "tmpfs(000) $ROOT/via", "remount-ro $ROOT/via"},
		},
		{
			name: "hardened: directories between a writable root and a deny or read-only path are pinned",
			tree: []goldengen.Node{goldengen.F("ws/x/y/key", "k"), goldengen.F("ws/x/cfg", "c")},
			layout: fsLayout{FullRead: true, Writable: []WritableRoot{wr("$ROOT/ws", "$ROOT/ws/x/cfg")},
				Unreadable: []string{"$ROOT/ws/x/y/key"}},
			hardened: true,
			want: []string{"ro-bind / /", "dev /dev", "bind $ROOT/ws $ROOT/ws",
				"bind $ROOT/ws/x $ROOT/ws/x", "ro-bind $ROOT/ws/x/cfg $ROOT/ws/x/cfg",
				"bind $ROOT/ws/x/y $ROOT/ws/x/y", "ro-bind-data(000) $ROOT/ws/x/y/key"},
		},
		{
			name: "not hardened (the reference helper's plan): no pins",
			tree: []goldengen.Node{goldengen.F("ws/x/y/key", "k"), goldengen.F("ws/x/cfg", "c")},
			layout: fsLayout{FullRead: true, Writable: []WritableRoot{wr("$ROOT/ws", "$ROOT/ws/x/cfg")},
				Unreadable: []string{"$ROOT/ws/x/y/key"}},
			want: []string{"ro-bind / /", "dev /dev", "bind $ROOT/ws $ROOT/ws",
				"ro-bind $ROOT/ws/x/cfg $ROOT/ws/x/cfg", "ro-bind-data(000) $ROOT/ws/x/y/key"},
		},
		{
			name: "hardened: pins under a deeper writable root are made again after its bind",
			tree: []goldengen.Node{goldengen.F("ws/a/b/c/f", "x")},
			layout: fsLayout{FullRead: true, Writable: []WritableRoot{wr("$ROOT/ws"), wr("$ROOT/ws/a/b")},
				Unreadable: []string{"$ROOT/ws/a/b/c/f"}},
			hardened: true,
			want: []string{"ro-bind / /", "dev /dev", "bind $ROOT/ws $ROOT/ws",
				"bind $ROOT/ws/a $ROOT/ws/a", "bind $ROOT/ws/a/b/c $ROOT/ws/a/b/c", "ro-bind-data(000) $ROOT/ws/a/b/c/f",
				"bind $ROOT/ws/a/b $ROOT/ws/a/b", "bind $ROOT/ws/a/b/c $ROOT/ws/a/b/c", "ro-bind-data(000) $ROOT/ws/a/b/c/f"},
		},
		{
			name: "hardened: a missing deny path's existing parents are pinned",
			tree: []goldengen.Node{goldengen.D("ws/x")},
			layout: fsLayout{FullRead: true, Writable: []WritableRoot{wr("$ROOT/ws")},
				Unreadable: []string{"$ROOT/ws/x/nope/f"}},
			hardened: true,
			want: []string{"ro-bind / /", "dev /dev", "bind $ROOT/ws $ROOT/ws",
				"bind $ROOT/ws/x $ROOT/ws/x", "ro-bind /dev/null $ROOT/ws/x/nope"},
		},
		// Pins never re-open what a read-only bind or a mask covers (each
		// of these once made a protected directory writable again).
		{
			name:     "hardened: no pin under a protected .git (submodule gitdir inside it)",
			tree:     []goldengen.Node{goldengen.D("ws/.git/modules/sub/hooks")},
			layout:   fsLayout{FullRead: true, Writable: []WritableRoot{wr("$ROOT/ws", "$ROOT/ws/.git", "$ROOT/ws/.git/modules/sub")}},
			hardened: true,
			want: []string{"ro-bind / /", "dev /dev", "bind $ROOT/ws $ROOT/ws",
				"ro-bind $ROOT/ws/.git $ROOT/ws/.git", "ro-bind $ROOT/ws/.git/modules/sub $ROOT/ws/.git/modules/sub"},
		},
		{
			name: "hardened: no pin of .git for a deny inside it",
			tree: []goldengen.Node{goldengen.F("ws/.git/config", "c")},
			layout: fsLayout{FullRead: true, Writable: []WritableRoot{wr("$ROOT/ws", "$ROOT/ws/.git")},
				Unreadable: []string{"$ROOT/ws/.git/config"}},
			hardened: true,
			want: []string{"ro-bind / /", "dev /dev", "bind $ROOT/ws $ROOT/ws",
				"ro-bind $ROOT/ws/.git $ROOT/ws/.git", "ro-bind-data(000) $ROOT/ws/.git/config"},
		},
		{
			name: "hardened: no pin of a read-only carve-out for a deny below it",
			tree: []goldengen.Node{goldengen.D("ws/sub/deep")},
			layout: fsLayout{FullRead: true, Writable: []WritableRoot{wr("$ROOT/ws", "$ROOT/ws/sub")},
				Unreadable: []string{"$ROOT/ws/sub/deep"}},
			hardened: true,
			want: []string{"ro-bind / /", "dev /dev", "bind $ROOT/ws $ROOT/ws",
				"ro-bind $ROOT/ws/sub $ROOT/ws/sub", "tmpfs(000) $ROOT/ws/sub/deep", "remount-ro $ROOT/ws/sub/deep"},
		},
		{
			name: "hardened: no pin of a denied directory above a writable root",
			tree: []goldengen.Node{goldengen.D("ws/sub/deep/.git"), goldengen.F("ws/sub/secret", "s")},
			layout: fsLayout{FullRead: true, Writable: []WritableRoot{wr("$ROOT/ws"), wr("$ROOT/ws/sub/deep", "$ROOT/ws/sub/deep/.git")},
				Unreadable: []string{"$ROOT/ws/sub"}},
			hardened: true,
			want: []string{"ro-bind / /", "dev /dev", "bind $ROOT/ws $ROOT/ws",
				"tmpfs(111) $ROOT/ws/sub", "dir $ROOT/ws/sub/deep", "remount-ro $ROOT/ws/sub",
				"dir $ROOT/ws/sub/deep", "bind $ROOT/ws/sub/deep $ROOT/ws/sub/deep", "ro-bind $ROOT/ws/sub/deep/.git $ROOT/ws/sub/deep/.git"},
		},
		{
			name: "hardened: a writable root through a symlink inside another writable root fails closed",
			tree: []goldengen.Node{goldengen.D("ws"), goldengen.D("outside"), goldengen.L("ws/cache", "$ROOT/outside")},
			layout: fsLayout{FullRead: true, Writable: []WritableRoot{wr("$ROOT/ws"), wr("$ROOT/outside")},
				RawWritable: []string{"$ROOT/ws", "$ROOT/ws/cache"}},
			hardened:       true,
			wantSymlinkErr: &WritableSymlinkError{Kind: "writable", Path: "$ROOT/ws/cache", Symlink: "$ROOT/ws/cache"},
		},
		{
			name: "not hardened: the same writable symlink is followed, as by the reference helper",
			tree: []goldengen.Node{goldengen.D("ws"), goldengen.D("outside"), goldengen.L("ws/cache", "$ROOT/outside")},
			layout: fsLayout{FullRead: true, Writable: []WritableRoot{wr("$ROOT/ws"), wr("$ROOT/outside")},
				RawWritable: []string{"$ROOT/ws", "$ROOT/ws/cache"}},
			want: []string{"ro-bind / /", "dev /dev", "bind $ROOT/ws $ROOT/ws", "bind $ROOT/outside $ROOT/outside"},
		},
		{
			name: "hardened: a readable root through a symlink inside a writable root fails closed",
			tree: []goldengen.Node{goldengen.D("ws"), goldengen.D("secret"), goldengen.L("ws/docs", "$ROOT/secret")},
			layout: fsLayout{Readable: []string{"$ROOT/ws", "$ROOT/secret"}, Writable: []WritableRoot{wr("$ROOT/ws")},
				RawReadable: []string{"$ROOT/ws", "$ROOT/ws/docs"}, RawWritable: []string{"$ROOT/ws"}},
			hardened:       true,
			wantSymlinkErr: &WritableSymlinkError{Kind: "readable", Path: "$ROOT/ws/docs", Symlink: "$ROOT/ws/docs"},
		},
		{
			name:   "readable / gives the ro-bind base again",
			tree:   []goldengen.Node{goldengen.D("ws")},
			layout: fsLayout{Readable: []string{"$ROOT/ws", "/"}},
			want:   []string{"ro-bind / /", "dev /dev"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			if err := goldengen.Build(root, goldengen.Case{Name: tc.name, Tree: tc.tree}); err != nil {
				t.Fatal(err)
			}
			x := func(s string) string { return goldengen.Expand(s, root) }
			l := tc.layout
			l.Readable = expandAll(l.Readable, root)
			l.Unreadable = expandAll(l.Unreadable, root)
			l.RawWritable = expandAll(l.RawWritable, root)
			l.RawReadable = expandAll(l.RawReadable, root)
			l.Writable = nil
			for _, w := range tc.layout.Writable {
				l.Writable = append(l.Writable, WritableRoot{Root: x(w.Root), ReadOnlySubpaths: expandAll(w.ReadOnlySubpaths, root)})
			}
			b := &fsBuilder{fsys: HostFS, legacySymlinks: tc.legacySymlinks, hardened: tc.hardened}
			err := b.build(l)
			if tc.wantSymlinkErr != nil {
				var se *WritableSymlinkError
				if !errors.As(err, &se) {
					t.Fatalf("err = %v, want %v", err, tc.wantSymlinkErr)
				}
				want := WritableSymlinkError{Kind: tc.wantSymlinkErr.Kind, Path: x(tc.wantSymlinkErr.Path), Symlink: x(tc.wantSymlinkErr.Symlink)}
				if *se != want {
					t.Fatalf("err = %+v, want %+v", *se, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, want := opStrs(b.ops), expandAll(tc.want, root); !slices.Equal(got, want) {
				t.Fatalf("ops\n got %q\nwant %q", got, want)
			}
			if b.usedTmpfsRoot != tc.wantUsedTmpfsRot {
				t.Fatalf("usedTmpfsRoot = %v, want %v", b.usedTmpfsRoot, tc.wantUsedTmpfsRot)
			}
		})
	}
}

// TestHelperPlanWritableDev is spec §3.7's writable_roots=["/dev"] with
// cwd "/": a writable host root, then /dev re-bound writable over the
// fresh --dev. Late helpers also mask the missing /.codex of the cwd root.
func TestHelperPlanWritableDev(t *testing.T) {
	m := newPlanMemFS("/dev/", "/dev/null", "/tmp/", "/usr/bin/")
	pols, err := ResolveHelperPolicies(m, `{"type":"workspace-write","writable_roots":["/dev"],"exclude_slash_tmp":true,"exclude_tmpdir_env_var":true}`, "", "", "/")
	if err != nil {
		t.Fatal(err)
	}
	p, err := HelperPlan(m, HelperInput{Policies: pols, PolicyCwd: "/", Command: []string{"true"}, NoProc: true})
	if err != nil {
		t.Fatal(err)
	}
	// 0.125 (as spec §3.7 says of late helpers): the cwd root "/" also
	// masks its missing /.codex.
	want := []string{"ro-bind / /", "dev /dev", "bind / /", "ro-bind /dev/null /.codex", "bind /dev /dev"}
	if got := opStrs(p.Mounts); !slices.Equal(got, want) {
		t.Fatalf("ops\n got %q\nwant %q", got, want)
	}
}

// TestHelperPlanPlatformDefaults checks the tmpfs root with the platform
// default read roots on a fixed synthetic host.
func TestHelperPlanPlatformDefaults(t *testing.T) {
	m := newPlanMemFS("/usr/bin/", "/etc/", "/lib/", "/bin -> usr/bin", "/nix/store/", "/home/me/ws/.codex/", "/opt/data/")
	pols, err := ResolveHelperPolicies(m, `{"type":"read-only","access":{"type":"restricted","include_platform_defaults":true,"readable_roots":["/opt/data"]}}`, "", "", "/home/me/ws")
	if err != nil {
		t.Fatal(err)
	}
	for _, hardened := range []bool{false, true} {
		p, err := HelperPlan(m, HelperInput{Policies: pols, PolicyCwd: "/home/me/ws", Command: []string{"true"}, Hardened: hardened})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"tmpfs /", "dev /dev", "ro-bind /bin /bin", "ro-bind /etc /etc", "ro-bind /home/me/ws /home/me/ws",
			"ro-bind /lib /lib", "ro-bind /nix/store /nix/store", "ro-bind /opt/data /opt/data", "ro-bind /usr /usr", "proc /proc skip"}
		if hardened {
			want = append(want, "remount-ro /")
		}
		if got := opStrs(p.Mounts); !slices.Equal(got, want) {
			t.Fatalf("hardened=%v ops\n got %q\nwant %q", hardened, got, want)
		}
	}
}

// TestHelperPlanSymlinkedRootMasks pins two places where zbox is stricter
// than the 0.125 helper (testdata/golden/README.md, "Not reproduced"):
// with a writable root spelled through a symlink (wl -> extra), 0.125
// drops a deny entry and a read-only carve-out spelled through the
// canonical path (extra/...). zbox keeps both.
func TestHelperPlanSymlinkedRootMasks(t *testing.T) {
	d := realTemp(t)
	t.Setenv("TMPDIR", "")
	mkdirs(t, d+"/ws", d+"/extra/q", d+"/extra/ro")
	symlink(t, "extra", d+"/wl")
	legacy := `{"type":"workspace-write","writable_roots":["` + d + `/wl"],"exclude_slash_tmp":true,"exclude_tmpdir_env_var":true}`
	fsJSON := restrictedJSON(
		`{"path":{"type":"special","value":{"kind":"root"}},"access":"read"}`,
		`{"path":{"type":"special","value":{"kind":"current_working_directory"}},"access":"write"}`,
		`{"path":{"type":"path","path":"`+d+`/wl"},"access":"write"}`,
		`{"path":{"type":"path","path":"`+d+`/extra/q"},"access":"none"}`,
		`{"path":{"type":"path","path":"`+d+`/extra/ro"},"access":"read"}`,
	)
	pols := resolveT(t, HostFS, legacy, fsJSON, `"restricted"`, d+"/ws")
	p, err := HelperPlan(HostFS, HelperInput{Policies: pols, PolicyCwd: d + "/ws", Command: []string{"true"}, NoProc: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"ro-bind / /", "dev /dev",
		"bind " + d + "/ws " + d + "/ws", "ro-bind /dev/null " + d + "/ws/.codex",
		"bind " + d + "/extra " + d + "/extra", "ro-bind " + d + "/extra/ro " + d + "/extra/ro",
		"tmpfs(000) " + d + "/extra/q", "remount-ro " + d + "/extra/q"}
	if got := opStrs(p.Mounts); !slices.Equal(got, want) {
		t.Fatalf("ops\n got %q\nwant %q", got, want)
	}
}

func resolveT(t *testing.T, fsys FS, legacy, fsJSON, net, cwd string) ResolvedPolicies {
	t.Helper()
	p, err := ResolveHelperPolicies(fsys, legacy, fsJSON, net, cwd)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestHelperPlanModes covers the plan fields around the mounts: the
// full-write shortcut, proxy mode with full write (§3.1 case 1), the
// network mode table (§5.1), seccomp modes (§5.3), --no-proc and
// Hardened.
func TestHelperPlanModes(t *testing.T) {
	root := t.TempDir()
	ws := filepath.Join(root, "ws")
	if err := os.MkdirAll(filepath.Join(ws, ".codex"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("ws", filepath.Join(root, "alias")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", "")
	wsNet := func(on bool) string {
		return fmt.Sprintf(`{"type":"workspace-write","network_access":%v,"exclude_slash_tmp":true,"exclude_tmpdir_env_var":true}`, on)
	}
	tests := []struct {
		name      string
		legacy    string
		cwd       string
		proxy     bool
		noProc    bool
		hardened  bool
		wantNS    Namespaces
		wantMode  NetworkMode
		wantSec   FilterSpec
		wantOps   []string // nil: not checked
		wantChdir string
		wantLL    *LandlockSpec
		direct    bool
	}{
		{
			name: "danger-full-access: direct exec, no filter", legacy: `{"type":"danger-full-access"}`, cwd: ws,
			wantMode: NetFull, wantSec: FilterSpec{}, wantOps: []string{}, direct: true,
		},
		{
			name: "external-sandbox restricted: direct exec, restricted seccomp", legacy: `{"type":"external-sandbox","network_access":"restricted"}`, cwd: ws,
			wantMode: NetFull, wantSec: FilterSpec{Enabled: true, Network: SeccompRestricted}, wantOps: []string{}, direct: true,
		},
		{
			name: "proxy + full write: bind / /, proc, no chdir", legacy: `{"type":"danger-full-access"}`, cwd: filepath.Join(root, "alias"), proxy: true,
			wantNS: Namespaces{User: true, Mount: true, PID: true, Net: true}, wantMode: NetProxyOnly,
			wantSec: FilterSpec{Enabled: true, Network: SeccompProxyRouted}, wantOps: []string{"bind / /", "proc /proc skip"},
		},
		{
			name: "proxy + full write, no proc", legacy: `{"type":"danger-full-access"}`, cwd: ws, proxy: true, noProc: true,
			wantNS: Namespaces{User: true, Mount: true, PID: true, Net: true}, wantMode: NetProxyOnly,
			wantSec: FilterSpec{Enabled: true, Network: SeccompProxyRouted}, wantOps: []string{"bind / /"},
		},
		{
			name: "network restricted: isolated", legacy: wsNet(false), cwd: ws,
			wantNS: Namespaces{User: true, Mount: true, PID: true, Net: true}, wantMode: NetIsolated,
			wantSec: FilterSpec{Enabled: true, Network: SeccompRestricted},
			wantOps: []string{"ro-bind / /", "dev /dev", "bind " + ws + " " + ws, "ro-bind " + ws + "/.codex " + ws + "/.codex", "proc /proc skip"},
		},
		{
			name: "network enabled: host netns, no network rules", legacy: wsNet(true), cwd: ws,
			wantNS: Namespaces{User: true, Mount: true, PID: true}, wantMode: NetFull,
			wantSec: FilterSpec{Enabled: true, Network: SeccompNone},
		},
		{
			name: "proxy wins over enabled", legacy: wsNet(true), cwd: ws, proxy: true,
			wantNS: Namespaces{User: true, Mount: true, PID: true, Net: true}, wantMode: NetProxyOnly,
			wantSec: FilterSpec{Enabled: true, Network: SeccompProxyRouted},
		},
		{
			name: "no proc", legacy: `{"type":"read-only"}`, cwd: ws, noProc: true,
			wantNS: Namespaces{User: true, Mount: true, PID: true, Net: true}, wantMode: NetIsolated,
			wantSec: FilterSpec{Enabled: true, Network: SeccompRestricted}, wantOps: []string{"ro-bind / /", "dev /dev"},
		},
		{
			name: "symlinked cwd: chdir to the canonical cwd", legacy: `{"type":"read-only"}`, cwd: filepath.Join(root, "alias"),
			wantNS: Namespaces{User: true, Mount: true, PID: true, Net: true}, wantMode: NetIsolated,
			wantSec: FilterSpec{Enabled: true, Network: SeccompRestricted}, wantChdir: ws,
		},
		{
			name: "hardened", legacy: wsNet(false), cwd: ws, hardened: true,
			wantNS:   Namespaces{User: true, Mount: true, PID: true, Net: true, IPC: true, UTS: true},
			wantMode: NetIsolated, wantSec: FilterSpec{Enabled: true, Network: SeccompRestricted, DenyProcessVM: true},
			wantLL: &LandlockSpec{Scope: true},
			// ro-bind / base: no --remount-ro / (that is for the tmpfs root).
			wantOps: []string{"ro-bind / /", "dev /dev", "bind " + ws + " " + ws, "ro-bind " + ws + "/.codex " + ws + "/.codex", "proc /proc skip"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pols := resolveT(t, HostFS, tc.legacy, "", "", tc.cwd)
			p, err := HelperPlan(HostFS, HelperInput{Policies: pols, PolicyCwd: tc.cwd, ProxyMode: tc.proxy, NoProc: tc.noProc,
				Hardened: tc.hardened, Command: []string{"sh", "-c", "x"}})
			if err != nil {
				t.Fatal(err)
			}
			if p.Namespaces != tc.wantNS {
				t.Errorf("namespaces = %+v, want %+v", p.Namespaces, tc.wantNS)
			}
			if p.Network.Mode != tc.wantMode {
				t.Errorf("network mode = %q, want %q", p.Network.Mode, tc.wantMode)
			}
			if !reflect.DeepEqual(p.Filter, tc.wantSec) {
				t.Errorf("filter = %+v, want %+v", p.Filter, tc.wantSec)
			}
			if tc.wantOps != nil {
				if got := opStrs(p.Mounts); !slices.Equal(got, tc.wantOps) {
					t.Errorf("ops\n got %q\nwant %q", got, tc.wantOps)
				}
			}
			if p.Chdir != tc.wantChdir {
				t.Errorf("chdir = %q, want %q", p.Chdir, tc.wantChdir)
			}
			if !reflect.DeepEqual(p.Landlock, tc.wantLL) {
				t.Errorf("landlock = %+v, want %+v", p.Landlock, tc.wantLL)
			}
			if p.NewSession == tc.direct || p.DieWithParent == tc.direct {
				t.Errorf("new session/die with parent = %v/%v, want %v", p.NewSession, p.DieWithParent, !tc.direct)
			}
			if len(p.Caps.Keep) != 0 {
				t.Errorf("caps kept: %v", p.Caps.Keep)
			}
			if !slices.Equal(p.Command, []string{"sh", "-c", "x"}) || p.Argv0 != "" {
				t.Errorf("command = %q argv0 = %q", p.Command, p.Argv0)
			}
		})
	}
}

// TestHelperChdir pins the --chdir rule of §3.1 against what the real
// 0.125 helper did (see the command-cwd goldens): Rust path equality.
func TestHelperChdir(t *testing.T) {
	root := t.TempDir()
	real := filepath.Join(root, "real")
	if err := os.MkdirAll(filepath.Join(real, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real", filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ policyCwd, commandCwd, want string }{
		{real, "", ""},
		{filepath.Join(root, "link"), "", real},
		{real, filepath.Join(root, "link"), real},
		{real, filepath.Join(root, "link") + "/sub", real + "/sub"},
		{real, real + "/", ""},
		{real, root + "//real", ""},
		{real, root + "/./real", ""},
		{real, real + "/../real", real},
		{real, filepath.Join(root, "nonexistent"), ""},
	}
	for _, tc := range tests {
		got, err := helperChdir(HostFS, HelperInput{PolicyCwd: tc.policyCwd, CommandCwd: tc.commandCwd})
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("policy cwd %q, command cwd %q: chdir %q, want %q", tc.policyCwd, tc.commandCwd, got, tc.want)
		}
	}
}

func TestHelperPlanErrors(t *testing.T) {
	pols := resolveT(t, HostFS, `{"type":"read-only"}`, "", "", "/")
	if _, err := HelperPlan(HostFS, HelperInput{Policies: pols, PolicyCwd: "/"}); err == nil || err.Error() != "No command specified to execute." {
		t.Errorf("empty command: err = %v", err)
	}
	if _, err := HelperPlan(HostFS, HelperInput{Policies: pols, Command: []string{"true"}}); err == nil {
		t.Error("empty policy cwd accepted")
	}
}

func TestHelperPlanPathHelpers(t *testing.T) {
	eq := []struct {
		a, b string
		want bool
	}{
		{"/a/b", "/a/b/", true},
		{"/a//b", "/a/b", true},
		{"/a/./b", "/a/b", true},
		{"/a/../b", "/b", false},
		{"a/b", "/a/b", false},
		{"./a", "a", false},
		{"/", "//", true},
	}
	for _, tc := range eq {
		if got := rustPathEqual(tc.a, tc.b); got != tc.want {
			t.Errorf("rustPathEqual(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
	order := []string{"/", "/a", "/a/b", "/a-c", "/ab", "/b"}
	for i := range order {
		for j := range order {
			got := comparePaths(order[i], order[j])
			if (i < j && got >= 0) || (i > j && got <= 0) || (i == j && got != 0) {
				t.Errorf("comparePaths(%q, %q) = %d", order[i], order[j], got)
			}
		}
	}
	within := []struct {
		p, root string
		want    bool
	}{
		{"/a/b", "/a", true}, {"/a", "/a", true}, {"/ab", "/a", false}, {"/x", "/", true}, {"/", "/", true}, {"/a", "/a/b", false},
	}
	for _, tc := range within {
		if got := pathUnder(tc.p, tc.root); got != tc.want {
			t.Errorf("pathUnder(%q, %q) = %v", tc.p, tc.root, got)
		}
	}
	if got := pathPrefixes("/a/b/c"); !slices.Equal(got, []string{"/a", "/a/b", "/a/b/c"}) {
		t.Errorf("pathPrefixes = %q", got)
	}
	if got := sortedByDepth([]string{"/a/b/c", "/x", "/a/b", "/y"}); !slices.Equal(got, []string{"/x", "/y", "/a/b", "/a/b/c"}) {
		t.Errorf("sortedByDepth = %q", got)
	}
}

// FuzzHelperPlan runs arbitrary helper policy JSON (untrusted command-line
// input) through ResolveHelperPolicies and HelperPlan on a small real tree
// with symlinks, .git files and nested roots. Whatever is accepted must
// give a plan BwrapArgs can render, starting with a root layer, with
// absolute destinations and only empty, mode-000 data masks.
func FuzzHelperPlan(f *testing.F) {
	root := f.TempDir()
	tree := []goldengen.Node{
		goldengen.D("ws/.codex"), goldengen.F("ws/.git", "gitdir: gd\n"), goldengen.D("ws/gd"),
		goldengen.D("ws/sub/.git"), goldengen.F("ws/secret", "s"), goldengen.L("ws/link", "sub"),
		goldengen.D("data/nested"), goldengen.L("alias", "ws"), goldengen.F("file", "f"),
	}
	if err := goldengen.Build(root, goldengen.Case{Name: "fuzz", Tree: tree}); err != nil {
		f.Fatal(err)
	}
	for _, c := range goldengen.Cases() {
		f.Add(c.Legacy, c.FS, c.Net, byte(0))
	}
	f.Add(`{"type":"workspace-write","writable_roots":["$ROOT/ws/sub","$ROOT/file"]}`,
		restrictedJSON(`{"path":{"type":"special","value":{"kind":"root"}},"access":"read"}`,
			`{"path":{"type":"path","path":"$ROOT/ws"},"access":"write"}`,
			`{"path":{"type":"path","path":"$ROOT/ws/secret"},"access":"none"}`,
			`{"path":{"type":"path","path":"$ROOT/ws/sub"},"access":"none"}`,
			`{"path":{"type":"path","path":"$ROOT/ws/sub/x"},"access":"write"}`),
		`"restricted"`, byte(7))
	f.Fuzz(func(t *testing.T, legacy, fsJSON, net string, flags byte) {
		x := func(s string) string { return goldengen.Expand(s, root) }
		cwd := filepath.Join(root, "ws")
		if flags&8 != 0 {
			cwd = filepath.Join(root, "alias")
		}
		pols, err := ResolveHelperPolicies(HostFS, x(legacy), x(fsJSON), x(net), cwd)
		if err != nil {
			return
		}
		p, err := HelperPlan(HostFS, HelperInput{
			Policies: pols, PolicyCwd: cwd, Command: []string{"true"},
			NoProc: flags&1 != 0, ProxyMode: flags&2 != 0, Hardened: flags&4 != 0, LegacySymlinkMask: flags&16 != 0,
		})
		if err != nil {
			var se *WritableSymlinkError
			if !errors.As(err, &se) {
				t.Fatalf("unexpected HelperPlan error: %v", err)
			}
			return
		}
		if p.Namespaces == (Namespaces{}) {
			if len(p.Mounts) != 0 {
				t.Fatalf("direct-exec plan with mounts: %q", opStrs(p.Mounts))
			}
			return
		}
		if len(p.Mounts) == 0 || p.Mounts[0].Dest != "/" {
			t.Fatalf("plan does not start with a root layer: %q", opStrs(p.Mounts))
		}
		for _, op := range p.Mounts {
			if !filepath.IsAbs(op.Dest) {
				t.Fatalf("relative destination: %q", opStr(op))
			}
			if op.Kind == OpROBindData && (len(op.Data) != 0 || op.Perms == nil || *op.Perms != 0) {
				t.Fatalf("data mask is not an empty mode-000 file: %q", opStr(op))
			}
		}
		if _, err := BwrapArgs(p, (&countingFD{}).fd, nil); err != nil {
			t.Fatalf("BwrapArgs: %v", err)
		}
	})
}

func restrictedJSON(entries ...string) string {
	return `{"kind":"restricted","entries":[` + strings.Join(entries, ",") + `]}`
}

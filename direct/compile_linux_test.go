package direct

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/zbox-sandbox/zbox/mountns"
	"github.com/zbox-sandbox/zbox/policy"
)

func defaultPlan() *policy.Plan {
	return &policy.Plan{
		Namespaces: policy.Namespaces{User: true, Mount: true, PID: true, Net: true, IPC: true, UTS: true},
		Mounts: []policy.MountOp{
			{Kind: policy.OpROBind, Source: "/", Dest: "/"},
			{Kind: policy.OpDev, Dest: "/dev"},
			{Kind: policy.OpProc, Dest: "/proc", Fallback: policy.ProcBindHost},
		},
		DieWithParent: true, NewSession: true,
		Landlock: &policy.LandlockSpec{Scope: true},
		Network:  policy.NetworkSpec{Mode: policy.NetIsolated},
		Filter:   policy.FilterSpec{Enabled: true, Network: policy.SeccompRestricted},
		Command:  []string{"/bin/true"},
	}
}

func testHost() Host {
	return Host{UID: os.Getuid(), GID: os.Getgid(), Cwd: "/", Env: []string{"PATH=/usr/bin:/bin"}, LifeR: 5, LifeW: 6, SpareFD: 7}
}

func TestEligiblePlan(t *testing.T) {
	one := 1
	cases := []struct {
		name   string
		mutate func(p *policy.Plan)
		reason string // "" = eligible
	}{
		{"default", func(p *policy.Plan) {}, ""},
		{"no user namespace", func(p *policy.Plan) { p.Namespaces.User = false }, ""}, // root only: checked by Compile
		{"no pid namespace", func(p *policy.Plan) { p.Namespaces.PID = false }, ""},
		{"no mount namespace", func(p *policy.Plan) { p.Namespaces.Mount = false }, "mount namespace"},
		{"as pid 1", func(p *policy.Plan) { p.AsPID1 = true }, "as-pid-1"},
		{"limits (rlimits; a cgroup is the caller's call)", func(p *policy.Plan) { p.Limits = &policy.Limits{Processes: 10, MemoryBytes: 1 << 30} }, ""},
		{"kept capability", func(p *policy.Plan) { p.Caps.Keep = []int{1} }, ""},
		{"proxy", func(p *policy.Plan) { p.Network.Mode = policy.NetProxyOnly }, ""}, // ports: checked by Compile
		{"proxy without a network namespace", func(p *policy.Plan) {
			p.Network.Mode = policy.NetProxyOnly
			p.Namespaces.Net = false
		}, "network namespace"},
		{"landlock fs", func(p *policy.Plan) { p.Landlock.FS = true }, "Landlock"},
		{"caller seccomp", func(p *policy.Plan) { p.Filter.Programs = [][]byte{{0}} }, "seccomp"},
		{"info fd", func(p *policy.Plan) { p.Status.InfoFD = &one }, "fds"},
		{"lock file", func(p *policy.Plan) { p.Status.LockFiles = []string{"/x"} }, "lock files"},
		{"kept fds", func(p *policy.Plan) { p.Status.KeepFDs = []int{5} }, ""},
		{"disable userns", func(p *policy.Plan) { p.DisableUserns = true }, "user namespace"},
		{"no command", func(p *policy.Plan) { p.Command = nil }, "command"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := defaultPlan()
			tc.mutate(p)
			err := eligiblePlan(p)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("not eligible: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("got %v, want a reason mentioning %q", err, tc.reason)
			}
		})
	}
}

func TestCompileDestinations(t *testing.T) {
	if !kernelOK() {
		t.Skip("the kernel lacks mount_setattr (Linux 5.12+)")
	}
	d := t.TempDir()
	for _, sub := range []string{"ws/.git", "ws/real", "other"} {
		if err := os.MkdirAll(filepath.Join(d, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(d, "ws/real"), filepath.Join(d, "ws/link")); err != nil {
		t.Fatal(err)
	}
	ws := filepath.Join(d, "ws")
	bind := func(src, dst string) policy.MountOp {
		return policy.MountOp{Kind: policy.OpBind, Source: src, Dest: dst}
	}
	ro := func(src, dst string) policy.MountOp {
		return policy.MountOp{Kind: policy.OpROBind, Source: src, Dest: dst}
	}
	cases := []struct {
		name   string
		ops    []policy.MountOp
		reason string // "" = eligible
		ghosts []string
	}{
		{"protected subpath", []policy.MountOp{bind(ws, ws), ro(ws+"/.git", ws+"/.git")}, "", nil},
		{"missing mask target is a ghost", []policy.MountOp{bind(ws, ws), ro("/dev/null", ws+"/.codex")}, "", []string{ws + "/.codex"}},
		{"the same ghost bound twice", []policy.MountOp{bind(d, d), ro("/dev/null", ws+"/.codex"), bind(ws, ws), ro("/dev/null", ws+"/.codex")}, "", []string{ws + "/.codex"}},
		{"missing parents", []policy.MountOp{bind(ws, ws), ro("/dev/null", ws+"/a/b/.codex")}, "missing on the host", nil},
		{"symlink in destination", []policy.MountOp{bind(ws, ws), {Kind: policy.OpTmpfs, Dest: ws + "/link/x"}}, "symlink", nil},
		{"tmpfs and mqueue on the fresh /dev", []policy.MountOp{{Kind: policy.OpTmpfs, Dest: "/dev/shm"}, {Kind: policy.OpMqueue, Dest: "/dev/mqueue"}}, "", nil},
		{"under /dev/pts", []policy.MountOp{{Kind: policy.OpTmpfs, Dest: "/dev/pts/x"}}, "under /dev/pts", nil},
		{"through a /dev symlink", []policy.MountOp{{Kind: policy.OpTmpfs, Dest: "/dev/fd/x"}}, "symlink in destination", nil},
		{"dir to create on the host", []policy.MountOp{{Kind: policy.OpDir, Dest: d + "/newdir"}}, "to create on the host", nil},
		{"dir, symlink, file, chmod and mqueue on a tmpfs", []policy.MountOp{{Kind: policy.OpTmpfs, Dest: ws},
			{Kind: policy.OpDir, Dest: ws + "/a/b", Perms: policy.Uint32(0o1777)}, {Kind: policy.OpSymlink, Source: "a/b", Dest: ws + "/l"},
			{Kind: policy.OpSymlink, Source: "a/b", Dest: ws + "/l"}, {Kind: policy.OpFile, Dest: ws + "/f", Data: []byte("x")},
			{Kind: policy.OpChmod, Dest: ws + "/f", Perms: policy.Uint32(0o600)}, {Kind: policy.OpMqueue, Dest: ws + "/mq"}}, "", nil},
		{"a different symlink over a symlink", []policy.MountOp{{Kind: policy.OpTmpfs, Dest: ws},
			{Kind: policy.OpSymlink, Source: "x", Dest: ws + "/l"}, {Kind: policy.OpSymlink, Source: "y", Dest: ws + "/l"}}, "over an existing entry", nil},
		{"through a created symlink", []policy.MountOp{{Kind: policy.OpTmpfs, Dest: ws},
			{Kind: policy.OpSymlink, Source: "x", Dest: ws + "/l"}, {Kind: policy.OpDir, Dest: ws + "/l/d"}}, "symlink in destination", nil},
		{"bind from fd", []policy.MountOp{{Kind: policy.OpBind, Source: "/proc/self/fd/3", Dest: ws, FD: new(int)}}, "fd", nil},
		{"missing bind source", []policy.MountOp{bind(d+"/nope", ws)}, "bind source", nil},
		{"missing try source is skipped", []policy.MountOp{{Kind: policy.OpBind, Source: d + "/nope", Dest: ws, Try: true}}, "", nil},
		{"wrong destination type", []policy.MountOp{ro("/dev/null", ws)}, "wrong type", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := defaultPlan()
			p.Mounts = append(p.Mounts[:2:2], tc.ops...)
			prog, _, err := Compile(p, testHost())
			if tc.reason != "" {
				if err == nil || !strings.Contains(err.Error(), tc.reason) {
					t.Fatalf("got %v, want a refusal mentioning %q", err, tc.reason)
				}
				return
			}
			if err != nil {
				t.Fatalf("not eligible: %v", err)
			}
			var got []string
			for _, g := range prog.Ghosts {
				got = append(got, g.HostPath)
			}
			if strings.Join(got, ",") != strings.Join(tc.ghosts, ",") {
				t.Fatalf("ghosts %q, want %q", got, tc.ghosts)
			}
			if len(tc.ghosts) > 0 && len(prog.Cleanup) == 0 {
				t.Fatal("ghosts without a clean-up program")
			}
		})
	}
}

// TestRestrictedReadsCreateOnlyOnTmpfs: binds into a tmpfs root create
// their mount points there, never on the host.
func TestRestrictedReadsCreateOnlyOnTmpfs(t *testing.T) {
	if !kernelOK() {
		t.Skip("the kernel lacks mount_setattr (Linux 5.12+)")
	}
	p := defaultPlan()
	p.Mounts = []policy.MountOp{
		{Kind: policy.OpTmpfs, Dest: "/"},
		{Kind: policy.OpROBind, Source: "/usr", Dest: "/usr"},
		{Kind: policy.OpROBind, Source: "/etc", Dest: "/a/b/etc"},
		{Kind: policy.OpDev, Dest: "/dev"},
		{Kind: policy.OpProc, Dest: "/proc"},
	}
	prog, _, err := Compile(p, testHost())
	if err != nil {
		t.Fatal(err)
	}
	if len(prog.Ghosts) != 0 {
		t.Fatalf("ghosts on a tmpfs root: %+v", prog.Ghosts)
	}
	var mkdirs []string
	for _, s := range prog.Setup {
		if s.Kind == kSys && s.Nr == unix.SYS_MKDIRAT {
			mkdirs = append(mkdirs, cstring(prog, s.Args[1]))
		}
	}
	want := "newroot oldroot /newroot/usr /newroot/a /newroot/a/b /newroot/a/b/etc /newroot/dev /newroot/dev/shm /newroot/dev/pts /newroot/proc"
	if got := strings.Join(mkdirs, " "); got != want {
		t.Fatalf("mkdirs:\n got %s\nwant %s", got, want)
	}
}

// TestCleanupDetachesCoveringMounts: Codex's plan covers the .codex ghost
// twice; pid 1's clean-up must detach both masks and the workspace bind
// (every mount since the ghost), newest first, and keep the older layers.
func TestCleanupDetachesCoveringMounts(t *testing.T) {
	if !kernelOK() {
		t.Skip("the kernel lacks mount_setattr (Linux 5.12+)")
	}
	d := t.TempDir()
	ws := filepath.Join(d, "ws")
	if err := os.Mkdir(ws, 0o755); err != nil {
		t.Fatal(err)
	}
	p := defaultPlan()
	p.Mounts = []policy.MountOp{
		{Kind: policy.OpROBind, Source: "/", Dest: "/"},
		{Kind: policy.OpDev, Dest: "/dev"},
		{Kind: policy.OpBind, Source: d, Dest: d},
		{Kind: policy.OpROBind, Source: "/dev/null", Dest: ws + "/.codex"},
		{Kind: policy.OpBind, Source: ws, Dest: ws},
		{Kind: policy.OpROBind, Source: "/dev/null", Dest: ws + "/.codex"},
		{Kind: policy.OpProc, Dest: "/proc"},
	}
	prog, _, err := Compile(p, testHost())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range prog.Cleanup {
		switch {
		case s.Kind == kSys && s.Nr == unix.SYS_UMOUNT2:
			got = append(got, "umount "+cstring(prog, s.Args[0]))
		case s.Kind == kUnlinkSame:
			got = append(got, "unlink "+cstring(prog, s.Args[0]))
		}
	}
	want := []string{"umount /proc", "umount " + ws + "/.codex", "umount " + ws, "umount " + ws + "/.codex", "unlink " + ws + "/.codex"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("clean-up:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestReadRecords(t *testing.T) {
	p := &Prog{Ghosts: []mountns.Ghost{{HostPath: "/a"}, {HostPath: "/b"}}}
	rec := func(v ...uint64) []byte {
		b := make([]byte, 32)
		for i, x := range v {
			binary.NativeEndian.PutUint64(b[8*i:], x)
		}
		return b
	}
	var b []byte
	b = append(b, rec(recGhost, 1, 7, 42)...)
	b = append(b, rec(recGhost, 9, 1, 1)...) // out of range: ignored
	if f := ReadRecords(p, b); f != nil {
		t.Fatalf("failure from ghost records: %+v", f)
	}
	if g := p.Ghosts[1]; g.Dev != 7 || g.Ino != 42 || p.Ghosts[0].Ino != 0 { // 0: not reported
		t.Fatalf("ghosts: %+v", p.Ghosts)
	}
	b = append(b, rec(recFailure, PhaseTarget, 3, uint64(unix.ENOENT))...)
	b = append(b, 1, 2, 3) // a torn tail is ignored
	f := ReadRecords(p, b)
	if f == nil || f.Phase != PhaseTarget || f.Step != 3 || f.Errno != unix.ENOENT {
		t.Fatalf("failure: %+v", f)
	}
	if ReadRecords(p, nil) != nil {
		t.Fatal("no records, but a failure")
	}
}

// cstring reads the NUL-terminated string at address p in the arena.
func cstring(_ *Prog, p uintptr) string {
	off := p - addr(0)
	if off >= uintptr(len(arena)) {
		return "?"
	}
	b := arena[off:]
	if i := strings.IndexByte(string(b[:min(len(b), 4096)]), 0); i >= 0 {
		return string(b[:i])
	}
	return "?"
}

// TestCompileTooBigForArena: a program that does not fit the arena (here
// a 5 MiB environment, kept once per cwd candidate) is not eligible; it
// does not crash.
func TestCompileTooBigForArena(t *testing.T) {
	if !kernelOK() {
		t.Skip("the kernel lacks mount_setattr (Linux 5.12+)")
	}
	h := testHost()
	h.Env = append(h.Env, "BIG="+strings.Repeat("x", 5<<20))
	_, _, err := Compile(defaultPlan(), h)
	if err == nil || !strings.Contains(err.Error(), "arena") {
		t.Fatalf("got %v, want the arena refusal", err)
	}
	// The arena is reset for the next program.
	if _, _, err := Compile(defaultPlan(), testHost()); err != nil {
		t.Fatal(err)
	}
}

// TestCompileBridges: a proxy-only plan needs its bridges' ports; pid 1
// then binds one listener per port on 127.0.0.1 at fixed fds above every
// other fd it keeps, sends them in one "L" message, and closes them; with
// Redirect the command's process installs the connect-notify filter
// (killable wait first) and sends its listener in an "R" message, before
// the policy filter.
func TestCompileBridges(t *testing.T) {
	if !kernelOK() {
		t.Skip("the kernel lacks mount_setattr (Linux 5.12+)")
	}
	p := defaultPlan()
	p.Network = policy.NetworkSpec{Mode: policy.NetProxyOnly, Routes: []policy.ProxyRoute{{EnvKey: "HTTP_PROXY", Endpoint: "127.0.0.1:3128"}}}
	p.Filter = policy.FilterSpec{Enabled: true, Network: policy.SeccompProxyRouted}
	if _, _, err := Compile(p, testHost()); err == nil || !strings.Contains(err.Error(), "ports") {
		t.Fatalf("without ports: %v, want a reason mentioning ports", err)
	}
	h := testHost()
	h.BridgeFD, h.BridgePorts, h.Redirect = 9, []int{12345, 23456}, true
	h.CgroupDirs = []string{"/sys/fs/cgroup/x"}
	prog, _, err := Compile(p, h)
	if err != nil {
		t.Fatal(err)
	}
	// Fixed fds: above BridgeFD (9) and the cgroup's two.
	first := 9 + 1 + 2
	var binds []string
	var sent []string
	for _, st := range prog.Setup {
		switch {
		case st.Kind == kSys && st.Nr == unix.SYS_BIND:
			off := st.Args[1] - addr(0)
			sa := arena[off : off+16]
			binds = append(binds, fmt.Sprintf("fd %d port %d addr %v", st.Args[0], int(sa[2])<<8|int(sa[3]), sa[4:8]))
		case st.Kind == kSys && st.Nr == unix.SYS_SENDMSG:
			sent = append(sent, fmt.Sprintf("setup: sendmsg fd %d", st.Args[0]))
		}
	}
	want := []string{fmt.Sprintf("fd %d port 12345 addr [127 0 0 1]", first), fmt.Sprintf("fd %d port 23456 addr [127 0 0 1]", first+1)}
	if strings.Join(binds, "\n") != strings.Join(want, "\n") {
		t.Errorf("binds:\n%s\nwant:\n%s", strings.Join(binds, "\n"), strings.Join(want, "\n"))
	}
	var order []string
	for _, st := range prog.Target {
		switch {
		case st.Kind == kSys && st.Nr == unix.SYS_SECCOMP:
			order = append(order, fmt.Sprintf("seccomp flags %#x", st.Args[1]))
		case st.Kind == kSys && st.Nr == unix.SYS_SENDMSG:
			order = append(order, fmt.Sprintf("sendmsg fd %d", st.Args[0]))
		case st.Kind == kSys && st.Nr == unix.SYS_PRCTL && st.Args[0] == unix.PR_SET_SECCOMP:
			order = append(order, "policy filter")
		}
	}
	wantOrder := []string{
		fmt.Sprintf("seccomp flags %#x", unix.SECCOMP_FILTER_FLAG_NEW_LISTENER|unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV),
		fmt.Sprintf("seccomp flags %#x", unix.SECCOMP_FILTER_FLAG_NEW_LISTENER),
		"sendmsg fd 9", "policy filter",
	}
	if strings.Join(order, "\n") != strings.Join(wantOrder, "\n") || len(sent) != 1 {
		t.Errorf("command's process:\n%s\nwant:\n%s\n(pid 1: %v)", strings.Join(order, "\n"), strings.Join(wantOrder, "\n"), sent)
	}
	h.Redirect = false
	prog, _, err = Compile(p, h)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range prog.Target {
		if st.Kind == kSys && (st.Nr == unix.SYS_SECCOMP || st.Nr == unix.SYS_SENDMSG) {
			t.Errorf("without Redirect the command's process still runs syscall %d", st.Nr)
		}
	}
}

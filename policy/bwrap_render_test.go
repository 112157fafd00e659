package policy

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

func intp(v int) *int { return &v }

// basePlan is the smallest plan the renderer accepts.
func basePlan(ops ...MountOp) *Plan {
	return &Plan{
		Namespaces: Namespaces{User: true, Mount: true, PID: true},
		Mounts:     ops,
		Command:    []string{"cmd", "arg"},
	}
}

func TestBwrapArgs(t *testing.T) {
	tests := []struct {
		name  string
		plan  *Plan
		inner []string
		want  string // space-joined argv
	}{
		{
			name: "helper shape: fs ops, switches, proc, chdir",
			plan: &Plan{
				Namespaces: Namespaces{User: true, Mount: true, PID: true, Net: true},
				NewSession: true, DieWithParent: true,
				Mounts: []MountOp{
					{Kind: OpROBind, Source: "/", Dest: "/"},
					{Kind: OpDev, Dest: "/dev"},
					{Kind: OpTmpfs, Dest: "/x", Perms: Uint32(0o111)},
					{Kind: OpDir, Dest: "/x/y"},
					{Kind: OpRemountRO, Dest: "/x"},
					{Kind: OpROBindData, Dest: "/f", Perms: Uint32(0)},
					{Kind: OpProc, Dest: "/proc", Fallback: ProcSkip},
					{Kind: OpRemountRO, Dest: "/"},
				},
				Chdir:   "/work",
				Command: []string{"true"},
			},
			want: "--new-session --die-with-parent --ro-bind / / --dev /dev --perms 111 --tmpfs /x --dir /x/y --remount-ro /x " +
				"--perms 000 --ro-bind-data 101 /f --unshare-user --unshare-pid --unshare-net --cap-drop ALL " +
				"--proc /proc --remount-ro / --chdir /work -- true",
		},
		{
			name: "no proc: switches after the ops",
			plan: basePlan(MountOp{Kind: OpROBind, Source: "/", Dest: "/"}),
			want: "--ro-bind / / --unshare-user --unshare-pid --cap-drop ALL -- cmd arg",
		},
		{
			name:  "inner command replaces Plan.Command; argv0",
			plan:  &Plan{Namespaces: Namespaces{User: true, Mount: true}, Argv0: "codex-linux-sandbox", Command: []string{"x"}},
			inner: []string{"/proc/self/exe", "--inner", "--", "x"},
			want:  "--unshare-user --cap-drop ALL --argv0 codex-linux-sandbox -- /proc/self/exe --inner -- x",
		},
		{
			name: "every op kind",
			plan: basePlan(
				MountOp{Kind: OpBind, Source: "/a", Dest: "/b"},
				MountOp{Kind: OpBind, Source: "/a", Dest: "/b", Try: true},
				MountOp{Kind: OpROBind, Source: "/a", Dest: "/b", Try: true},
				MountOp{Kind: OpDevBind, Source: "/dev", Dest: "/dev"},
				MountOp{Kind: OpDevBind, Source: "/dev", Dest: "/dev", Try: true},
				MountOp{Kind: OpBind, Source: "/proc/self/fd/7", Dest: "/b", FD: intp(7)},
				MountOp{Kind: OpROBind, Source: "/proc/self/fd/8", Dest: "/b", FD: intp(8)},
				MountOp{Kind: OpTmpfs, Dest: "/t"},
				MountOp{Kind: OpTmpfs, Dest: "/t", Perms: Uint32(0o1777), Size: 1 << 20},
				MountOp{Kind: OpMqueue, Dest: "/dev/mqueue"},
				MountOp{Kind: OpDir, Dest: "/d", Perms: Uint32(0o700)},
				MountOp{Kind: OpFile, Dest: "/f", Data: []byte("hi")},
				MountOp{Kind: OpBindData, Dest: "/g", Perms: Uint32(0o600), Data: []byte("x")},
				MountOp{Kind: OpROBindData, Dest: "/h"},
				MountOp{Kind: OpSymlink, Source: "usr/bin", Dest: "/bin"},
				MountOp{Kind: OpChmod, Dest: "/d", Perms: Uint32(0o755)},
				MountOp{Kind: OpProc, Dest: "/proc"},
			),
			want: "--bind /a /b --bind-try /a /b --ro-bind-try /a /b --dev-bind /dev /dev --dev-bind-try /dev /dev " +
				"--bind-fd 7 /b --ro-bind-fd 8 /b --tmpfs /t --perms 1777 --size 1048576 --tmpfs /t --mqueue /dev/mqueue " +
				"--perms 700 --dir /d --file 101 /f --perms 600 --bind-data 102 /g --ro-bind-data 103 /h " +
				"--symlink usr/bin /bin --chmod 755 /d --unshare-user --unshare-pid --cap-drop ALL --proc /proc -- cmd arg",
		},
		{
			name: "identity, caps, status, lock files",
			plan: &Plan{
				Namespaces: Namespaces{User: true, Mount: true, PID: true, IPC: true, UTS: true, Cgroup: true},
				UID:        intp(0), GID: intp(1000), Hostname: "box",
				DisableUserns: true, AssertUsernsDisabled: true, AsPID1: true,
				Caps: Caps{Keep: []int{12, 21}},
				Status: StatusSpec{
					InfoFD: intp(5), JSONStatusFD: intp(6), BlockFD: intp(7), UsernsBlockFD: intp(8), SyncFD: intp(9),
					LockFiles: []string{"/lock"},
				},
				Mounts:  []MountOp{{Kind: OpProc, Dest: "/proc"}, {Kind: OpFile, Dest: "/lock"}},
				Command: []string{"sh"},
			},
			want: "--unshare-user --unshare-pid --unshare-ipc --unshare-uts --unshare-cgroup --uid 0 --gid 1000 --hostname box " +
				"--disable-userns --assert-userns-disabled --as-pid-1 --cap-drop ALL --cap-add CAP_NET_ADMIN --cap-add CAP_SYS_ADMIN " +
				"--info-fd 5 --json-status-fd 6 --block-fd 7 --userns-block-fd 8 --sync-fd 9 " +
				"--proc /proc --file 101 /lock --lock-file /lock -- sh",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fds := &countingFD{}
			got, err := BwrapArgs(tc.plan, fds.fd, tc.inner)
			if err != nil {
				t.Fatal(err)
			}
			if g := strings.Join(got, " "); g != tc.want {
				t.Fatalf("argv\n got %s\nwant %s", g, tc.want)
			}
		})
	}
}

// TestBwrapArgsDataFDs: one fd per data op, in argv order, with the op's
// data (the v0.117 helper reused one fd, which bwrap consumes).
func TestBwrapArgsDataFDs(t *testing.T) {
	p := basePlan(
		MountOp{Kind: OpROBindData, Dest: "/a", Perms: Uint32(0)},
		MountOp{Kind: OpROBindData, Dest: "/b", Perms: Uint32(0)},
		MountOp{Kind: OpFile, Dest: "/c", Data: []byte("c")},
	)
	fds := &countingFD{}
	args, err := BwrapArgs(p, fds.fd, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(fds.data) != 3 || len(fds.data[0]) != 0 || len(fds.data[1]) != 0 || string(fds.data[2]) != "c" {
		t.Fatalf("dataFD calls: %q", fds.data)
	}
	for _, want := range [][]string{{"--ro-bind-data", "101", "/a"}, {"--ro-bind-data", "102", "/b"}, {"--file", "103", "/c"}} {
		if indexSeq(args, want) < 0 {
			t.Errorf("argv %q lacks %q", args, want)
		}
	}

	boom := errors.New("boom")
	if _, err := BwrapArgs(p, func([]byte) (int, error) { return 0, boom }, nil); !errors.Is(err, boom) {
		t.Errorf("dataFD error not wrapped: %v", err)
	}
	if _, err := BwrapArgs(p, func([]byte) (int, error) { return -1, nil }, nil); err == nil {
		t.Error("negative fd accepted")
	}
	if _, err := BwrapArgs(p, nil, nil); err == nil {
		t.Error("nil dataFD accepted for a plan with data ops")
	}
}

func TestBwrapArgsErrors(t *testing.T) {
	tests := []struct {
		name    string
		plan    *Plan
		inner   []string
		wantErr string
	}{
		{"nil plan", nil, nil, "nil plan"},
		{"direct exec plan", &Plan{Command: []string{"x"}}, nil, "no namespaces"},
		{"no mount ns", &Plan{Namespaces: Namespaces{User: true}, Command: []string{"x"}}, nil, "mount namespace"},
		{"no command", &Plan{Namespaces: Namespaces{Mount: true}}, nil, "no command"},
		{"hostname without uts", &Plan{Namespaces: Namespaces{Mount: true}, Hostname: "h", Command: []string{"x"}}, nil, "UTS"},
		{"uid without userns", &Plan{Namespaces: Namespaces{Mount: true}, UID: intp(1), Command: []string{"x"}}, nil, "user namespace"},
		{"as-pid-1 without pidns", &Plan{Namespaces: Namespaces{Mount: true}, AsPID1: true, Command: []string{"x"}}, nil, "PID namespace"},
		{"disable-userns without userns", &Plan{Namespaces: Namespaces{Mount: true}, DisableUserns: true, Command: []string{"x"}}, nil, "user namespace"},
		{"negative uid", &Plan{Namespaces: Namespaces{User: true, Mount: true}, UID: intp(-1), Command: []string{"x"}}, nil, "invalid uid"},
		{"unknown cap", &Plan{Namespaces: Namespaces{User: true, Mount: true}, Caps: Caps{Keep: []int{99}}, Command: []string{"x"}}, nil, "capability"},
		{"negative status fd", &Plan{Namespaces: Namespaces{Mount: true}, Status: StatusSpec{SyncFD: intp(-2)}, Command: []string{"x"}}, nil, "invalid fd"},
		{"perms on bind", basePlan(MountOp{Kind: OpBind, Source: "/a", Dest: "/a", Perms: Uint32(0)}), nil, "--perms"},
		{"perms too large", basePlan(MountOp{Kind: OpDir, Dest: "/a", Perms: Uint32(0o17777)}), nil, "07777"},
		{"try on tmpfs", basePlan(MountOp{Kind: OpTmpfs, Dest: "/a", Try: true}), nil, "-try"},
		{"size on dir", basePlan(MountOp{Kind: OpDir, Dest: "/a", Size: 1}), nil, "size"},
		{"data on dir", basePlan(MountOp{Kind: OpDir, Dest: "/a", Data: []byte("x")}), nil, "data"},
		{"fallback on tmpfs", basePlan(MountOp{Kind: OpTmpfs, Dest: "/a", Fallback: ProcSkip}), nil, "fallback"},
		{"bind without source", basePlan(MountOp{Kind: OpBind, Dest: "/a"}), nil, "empty source"},
		{"tmpfs with source", basePlan(MountOp{Kind: OpTmpfs, Source: "/x", Dest: "/a"}), nil, "no source"},
		{"empty dest", basePlan(MountOp{Kind: OpTmpfs}), nil, "empty destination"},
		{"NUL in dest", basePlan(MountOp{Kind: OpTmpfs, Dest: "/a\x00b"}), nil, "NUL"},
		{"NUL in command", basePlan(), []string{"a\x00"}, "NUL"},
		{"chmod without mode", basePlan(MountOp{Kind: OpChmod, Dest: "/a"}), nil, "no mode"},
		{"unknown kind", basePlan(MountOp{Kind: "overlay", Dest: "/a"}), nil, "unknown op kind"},
		{"fd on dev-bind", basePlan(MountOp{Kind: OpDevBind, Source: "/a", Dest: "/a", FD: intp(3)}), nil, "bind an fd"},
		{"fd bind try", basePlan(MountOp{Kind: OpBind, Source: "/a", Dest: "/a", FD: intp(3), Try: true}), nil, "-try"},
		{"negative bind fd", basePlan(MountOp{Kind: OpBind, Source: "/a", Dest: "/a", FD: intp(-1)}), nil, "invalid fd"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fds := &countingFD{}
			_, err := BwrapArgs(tc.plan, fds.fd, tc.inner)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.wantErr)
			}
		})
	}
}

func TestCapNames(t *testing.T) {
	for i := range capNames {
		if capNames[i] == "" {
			t.Fatalf("capability %d has no name", i)
		}
		if n, ok := CapByName(capNames[i]); !ok || n != i {
			t.Errorf("CapByName(%q) = %d, %v", capNames[i], n, ok)
		}
	}
	if n, ok := CapByName("sys_admin"); !ok || n != 21 {
		t.Errorf("CapByName(sys_admin) = %d, %v", n, ok)
	}
	if _, ok := CapByName("CAP_NOPE"); ok {
		t.Error("unknown cap accepted")
	}
	if CapName(-1) != "" || CapName(len(capNames)) != "" {
		t.Error("out-of-range CapName not empty")
	}
}

// FuzzBwrapArgs feeds arbitrary JSON plans (the Plan travels between
// processes) to the renderer: it must never panic, and whatever it
// accepts must keep bwrap's argv shape: "--" exactly once before the
// command, every op's destination present, one fd request per data op.
func FuzzBwrapArgs(f *testing.F) {
	seeds := []*Plan{
		basePlan(MountOp{Kind: OpROBind, Source: "/", Dest: "/"}, MountOp{Kind: OpProc, Dest: "/proc"}),
		basePlan(MountOp{Kind: OpTmpfs, Dest: "/t", Perms: Uint32(0o700), Size: 4096}, MountOp{Kind: OpROBindData, Dest: "/f"}),
		{Namespaces: Namespaces{User: true, Mount: true, UTS: true}, Hostname: "h", UID: intp(0), Caps: Caps{Keep: []int{0}}, Command: []string{"--"}},
	}
	for _, s := range seeds {
		b, err := json.Marshal(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var p Plan
		if err := json.Unmarshal(data, &p); err != nil {
			return
		}
		fds := &countingFD{}
		args, err := BwrapArgs(&p, fds.fd, nil)
		if err != nil {
			return
		}
		// Option values may themselves be "--" (bwrap reads them
		// positionally), so locate the separator from the end.
		sep := len(args) - len(p.Command) - 1
		if sep < 0 || args[sep] != "--" || !slices.Equal(args[sep+1:], p.Command) {
			t.Fatalf("argv %q does not end with -- %q", args, p.Command)
		}
		dataOps := 0
		for _, op := range p.Mounts {
			if !slices.Contains(args[:sep], op.Dest) {
				t.Fatalf("argv %q lacks destination %q", args, op.Dest)
			}
			switch op.Kind {
			case OpFile, OpBindData, OpROBindData:
				dataOps++
			}
		}
		if dataOps != len(fds.data) {
			t.Fatalf("%d data ops, %d fd requests", dataOps, len(fds.data))
		}
	})
}

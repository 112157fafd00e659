package direct

import (
	"os"
	"testing"

	"github.com/zbox-sandbox/zbox/policy"
)

func TestDumpDefault(t *testing.T) {
	if os.Getenv("ZBOX_DUMP") == "" {
		t.Skip()
	}
	plan := &policy.Plan{Namespaces: policy.Namespaces{User: true, Mount: true, PID: true, Net: true, IPC: true, UTS: true},
		Mounts:        []policy.MountOp{{Kind: policy.OpROBind, Source: "/", Dest: "/"}, {Kind: policy.OpDev, Dest: "/dev"}, {Kind: policy.OpProc, Dest: "/proc", Fallback: policy.ProcBindHost}},
		DieWithParent: true, NewSession: true, Landlock: &policy.LandlockSpec{Scope: true}, Network: policy.NetworkSpec{Mode: policy.NetIsolated}, Command: []string{"/bin/true"}, Filter: policy.FilterSpec{Enabled: true, Network: policy.SeccompRestricted}}
	p, _, err := Compile(plan, Host{UID: 0, GID: 0, Cwd: "/", LifeR: 5, LifeW: 6, SpareFD: 7})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(p.Dump())
}

func BenchmarkCompileDefault(b *testing.B) {
	plan := &policy.Plan{Namespaces: policy.Namespaces{User: true, Mount: true, PID: true, Net: true, IPC: true, UTS: true},
		Mounts:        []policy.MountOp{{Kind: policy.OpROBind, Source: "/", Dest: "/"}, {Kind: policy.OpDev, Dest: "/dev"}, {Kind: policy.OpProc, Dest: "/proc", Fallback: policy.ProcBindHost}},
		DieWithParent: true, NewSession: true, Landlock: &policy.LandlockSpec{Scope: true}, Network: policy.NetworkSpec{Mode: policy.NetIsolated}, Command: []string{"/bin/true"}, Filter: policy.FilterSpec{Enabled: true, Network: policy.SeccompRestricted}}
	for i := 0; i < b.N; i++ {
		if _, _, err := Compile(plan, Host{Cwd: "/", LifeR: 5, LifeW: 6, SpareFD: 7, Env: os.Environ()}); err != nil {
			b.Fatal(err)
		}
	}
}

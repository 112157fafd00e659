package direct

import (
	"fmt"
	"os"
	"testing"

	"github.com/zbox-sandbox/zbox/policy"
)

// BenchmarkCompile1000Binds: compiling stays linear in the number of
// mounts (bwrap 0.8 needs over a second to carry out as many).
func BenchmarkCompile1000Binds(b *testing.B) {
	src := b.TempDir()
	plan := &policy.Plan{
		Namespaces: policy.Namespaces{User: true, Mount: true, PID: true, Net: true},
		Mounts:     []policy.MountOp{{Kind: policy.OpROBind, Source: "/", Dest: "/"}, {Kind: policy.OpTmpfs, Dest: "/mnt"}},
		Network:    policy.NetworkSpec{Mode: policy.NetIsolated},
		Command:    []string{"/bin/true"},
	}
	for i := 0; i < 1000; i++ {
		plan.Mounts = append(plan.Mounts, policy.MountOp{Kind: policy.OpROBind, Source: src, Dest: fmt.Sprintf("/mnt/b%d", i)})
	}
	for i := 0; i < b.N; i++ {
		if _, _, err := Compile(plan, Host{Cwd: "/", Env: os.Environ(), LifeR: -1, LifeW: -1, SpareFD: 7, ErrW: 8, StatusW: -1}); err != nil {
			b.Fatal(err)
		}
	}
}

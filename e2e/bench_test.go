package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/zbox-sandbox/zbox/policy"
)

// Benchmarks print medians and ratios against the tools zbox replaces, run
// in the same process on the same machine. They are measurements, never
// pass/fail: run them with
//
//	go test -run '^$' -bench . -benchtime 50x ./e2e
//
// (e2e/bench.sh does that and formats the figures for the README).

// timeCmd runs argv once and returns its wall time; a failure aborts the
// benchmark with the command's output.
func timeCmd(b *testing.B, argv []string) time.Duration {
	b.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	d := time.Since(start)
	if err != nil {
		b.Fatalf("%v: %v\n%s", argv, err, out)
	}
	return d
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// compare runs each named command b.N times, interleaved so that machine
// noise hits all of them alike, and reports each median in ms and each
// ratio to the reference (the first entry whose name is ref).
func compare(b *testing.B, ref string, cmds map[string][]string, order []string) {
	b.Helper()
	times := map[string][]time.Duration{}
	for _, name := range order {
		timeCmd(b, cmds[name]) // warm caches
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, name := range order {
			times[name] = append(times[name], timeCmd(b, cmds[name]))
		}
	}
	b.StopTimer()
	refMed := median(times[ref])
	for _, name := range order {
		m := median(times[name])
		b.ReportMetric(float64(m.Microseconds())/1000, name+"-ms")
		if name != ref {
			b.ReportMetric(float64(m)/float64(refMed), name+"/"+ref)
		}
	}
	b.ReportMetric(0, "ns/op") // the loop time mixes commands; not meaningful
}

func BenchmarkStartup(b *testing.B) {
	bw, err := exec.LookPath("bwrap")
	if err != nil {
		b.Skip("bubblewrap is not installed")
	}
	cmds := map[string][]string{
		"zbox":    {zboxBin, "--", "/bin/true"},
		"bwrap":   {bw, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-user", "--unshare-pid", "--unshare-net", "--new-session", "--die-with-parent", "/bin/true"},
		"unshare": {"unshare", "-Urmpn", "--fork", "--mount-proc", "/bin/true"},
	}
	compare(b, "bwrap", cmds, []string{"bwrap", "zbox", "unshare"})
}

// BenchmarkBinds times N read-only binds in one sandbox: bwrap 0.8
// re-reads mountinfo for every bind (quadratic); zbox applies flags with
// mount_setattr and stays linear.
func BenchmarkBinds(b *testing.B) {
	bw, err := exec.LookPath("bwrap")
	if err != nil {
		b.Skip("bubblewrap is not installed")
	}
	src := b.TempDir()
	for _, n := range []int{100, 1000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			plan := &policy.Plan{
				Namespaces: policy.Namespaces{User: true, Mount: true, PID: true, Net: true},
				Mounts: []policy.MountOp{
					{Kind: policy.OpROBind, Source: "/", Dest: "/"},
					{Kind: policy.OpTmpfs, Dest: "/mnt"},
				},
				Network: policy.NetworkSpec{Mode: policy.NetIsolated},
				Command: []string{"/bin/true"},
			}
			bargs := []string{bw, "--ro-bind", "/", "/", "--tmpfs", "/mnt", "--unshare-user", "--unshare-pid", "--unshare-net"}
			for i := 0; i < n; i++ {
				dst := fmt.Sprintf("/mnt/b%d", i)
				plan.Mounts = append(plan.Mounts, policy.MountOp{Kind: policy.OpROBind, Source: src, Dest: dst})
				bargs = append(bargs, "--ro-bind", src, dst)
			}
			bargs = append(bargs, "/bin/true")
			f := filepath.Join(b.TempDir(), "plan.json")
			if err := os.WriteFile(f, mustJSON(b, plan), 0o644); err != nil {
				b.Fatal(err)
			}
			compare(b, "bwrap", map[string][]string{
				"zbox":  {zboxBin, "exec-plan", f},
				"bwrap": bargs,
			}, []string{"bwrap", "zbox"})
		})
	}
}

package policy

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

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

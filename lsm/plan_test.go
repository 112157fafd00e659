package lsm

import (
	"math/bits"
	"reflect"
	"strings"
	"testing"

	"github.com/zbox-sandbox/zbox/policy"
)

// missingKeys reduces Report.Missing to the phrase before " (", so tests
// do not pin the advice text.
func missingKeys(m []string) []string {
	var out []string
	for _, s := range m {
		k, _, _ := strings.Cut(s, " (")
		out = append(out, k)
	}
	return out
}

func TestPlan(t *testing.T) {
	full := policy.LandlockSpec{
		FS:         true,
		ReadPaths:  []string{"/usr", "/etc/", "/usr"},
		WritePaths: []string{"/work//tmp/..", "/tmp"},
		Scope:      true,
	}
	const (
		abi1FS = 0x1fff  // EXECUTE..MAKE_SYM
		abi3FS = 0x7fff  // + REFER, TRUNCATE
		abi5FS = 0xffff  // + IOCTL_DEV
		abi9FS = 0x1ffff // + RESOLVE_UNIX
	)
	tests := []struct {
		name        string
		spec        policy.LandlockSpec
		abi         int
		wantFS      bool
		wantScoped  bool
		wantHandled uint64
		wantScope   uint64
		wantMissing []string
	}{
		{"abi0", full, 0, false, false, 0, 0, []string{"filesystem rules", "scope"}},
		{"abi-negative", full, -3, false, false, 0, 0, []string{"filesystem rules", "scope"}},
		{"abi1", full, 1, true, false, abi1FS, 0, []string{"refer", "truncate control", "device ioctl control", "unix socket control", "scope"}},
		{"abi3", full, 3, true, false, abi3FS, 0, []string{"device ioctl control", "unix socket control", "scope"}},
		{"abi5", full, 5, true, false, abi5FS, 0, []string{"unix socket control", "scope"}},
		{"abi6", full, 6, true, true, abi5FS, 3, []string{"unix socket control"}},
		{"abi7", full, 7, true, true, abi5FS, 3, []string{"unix socket control"}},
		{"abi9", full, 9, true, true, abi9FS, 3, nil},
		{"abi-future", full, 42, true, true, abi9FS, 3, nil},
		{"scope-only-abi7", policy.LandlockSpec{Scope: true}, 7, false, true, 0, 3, nil},
		{"scope-only-abi5", policy.LandlockSpec{Scope: true}, 5, false, false, 0, 0, []string{"scope"}},
		{"fs-only-abi7", policy.LandlockSpec{FS: true, ReadPaths: []string{"/"}}, 7, true, false, abi5FS, 0, []string{"unix socket control"}},
		{"nothing", policy.LandlockSpec{ReadPaths: []string{"/ignored"}}, 7, false, false, 0, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Plan(tt.spec, tt.abi)
			if r.FS != tt.wantFS || r.Scoped != tt.wantScoped {
				t.Errorf("FS, Scoped = %v, %v; want %v, %v", r.FS, r.Scoped, tt.wantFS, tt.wantScoped)
			}
			if r.HandledFS != tt.wantHandled || r.ScopeFlags != tt.wantScope {
				t.Errorf("HandledFS, ScopeFlags = %#x, %#x; want %#x, %#x", r.HandledFS, r.ScopeFlags, tt.wantHandled, tt.wantScope)
			}
			if got := missingKeys(r.Missing); !reflect.DeepEqual(got, tt.wantMissing) {
				t.Errorf("Missing = %q; want keys %q", r.Missing, tt.wantMissing)
			}
			if tt.abi >= 0 && r.ABI != tt.abi {
				t.Errorf("ABI = %d; want %d", r.ABI, tt.abi)
			}
			if tt.spec.FS {
				if want := []string{"/usr", "/etc"}; tt.spec.ReadPaths[0] == "/usr" && !reflect.DeepEqual(r.Read, want) {
					t.Errorf("Read = %q; want %q", r.Read, want)
				}
			} else if r.Read != nil || r.Write != nil {
				t.Errorf("FS off but Read=%q Write=%q", r.Read, r.Write)
			}
		})
	}
}

func TestPlanRights(t *testing.T) {
	// Rights granted per rule kind at each ABI.
	for _, tt := range []struct {
		abi                    int
		wantRead, wantWriteOpt uint64 // wantWriteOpt: rights beyond plain write that the ABI adds
		wantDevice             uint64
	}{
		{1, accessRead, 0, accessReadFile | accessWriteFile | accessReadDir},
		{2, accessRead, accessRefer, accessReadFile | accessWriteFile | accessReadDir},
		{3, accessRead, accessRefer | accessTruncate, accessReadFile | accessWriteFile | accessReadDir | accessTruncate},
		{5, accessRead, accessRefer | accessTruncate | accessIoctlDev, accessDevice},
		{7, accessRead, accessRefer | accessTruncate | accessIoctlDev, accessDevice},
		{9, accessRead, accessRefer | accessTruncate | accessIoctlDev | accessResolveUnix, accessDevice},
	} {
		r := Plan(policy.LandlockSpec{FS: true}, tt.abi)
		if got := r.readRights(); got != tt.wantRead {
			t.Errorf("ABI %d read rights = %#x; want %#x", tt.abi, got, tt.wantRead)
		}
		if got := r.writeRights(); got&tt.wantWriteOpt != tt.wantWriteOpt || got&accessRead != accessRead || got&accessMakeReg == 0 {
			t.Errorf("ABI %d write rights = %#x; want read+write incl. %#x", tt.abi, got, tt.wantWriteOpt)
		}
		if got := r.deviceRights(); got != tt.wantDevice {
			t.Errorf("ABI %d device rights = %#x; want %#x", tt.abi, got, tt.wantDevice)
		}
	}
}

func TestLegacySpec(t *testing.T) {
	got := LegacySpec([]string{"/work", "/tmp"})
	want := policy.LandlockSpec{
		FS:         true,
		ReadPaths:  []string{"/"},
		WritePaths: []string{"/dev/null", "/work", "/tmp"},
		Required:   true,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("LegacySpec = %+v; want %+v", got, want)
	}
	if ErrNotEnforced.Error() != "Landlock was not able to fully enforce all sandbox rules" {
		t.Fatalf("ErrNotEnforced text changed: %q (must match the Codex helper)", ErrNotEnforced)
	}
}

func TestValidateSpec(t *testing.T) {
	for _, tt := range []struct {
		name    string
		spec    policy.LandlockSpec
		wantErr string
	}{
		{"ok", policy.LandlockSpec{ReadPaths: []string{"/"}, WritePaths: []string{"/a/../b"}}, ""},
		{"empty", policy.LandlockSpec{ReadPaths: []string{""}}, "empty path in the read rules"},
		{"relative", policy.LandlockSpec{WritePaths: []string{"work"}}, `"work" in the write rules is not absolute`},
		{"nul", policy.LandlockSpec{WritePaths: []string{"/a\x00b"}}, "NUL byte"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := validateSpec(tt.spec)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v; want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestStatus(t *testing.T) {
	for _, tt := range []struct {
		name    string
		s       Status
		wantEff int
		wantIn  string
	}{
		{"unavailable", Status{Reason: "ENOSYS"}, 0, "Landlock: unavailable: ENOSYS"},
		{"abi7-fixed", Status{ABI: 7, Errata: 7, Available: true}, 7, "ABI 7, errata 0x7; filesystem rules and signal/abstract-unix scopes"},
		{"abi6-no-erratum", Status{ABI: 6, Errata: 1, Available: true}, 5, "used as ABI 5"},
		{"abi5", Status{ABI: 5, Available: true}, 5, "scopes need ABI 6"},
		{"abi1", Status{ABI: 1, Available: true}, 1, "filesystem rules enforceable"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.EffectiveABI(); got != tt.wantEff {
				t.Errorf("EffectiveABI = %d; want %d", got, tt.wantEff)
			}
			if got := tt.s.String(); !strings.Contains(got, tt.wantIn) || strings.Contains(got, "\n") {
				t.Errorf("String = %q; want one line containing %q", got, tt.wantIn)
			}
		})
	}
}

func TestReportString(t *testing.T) {
	spec := policy.LandlockSpec{FS: true, Scope: true, ReadPaths: []string{"/usr", "/etc", "/bin", "/lib", "/opt"}, WritePaths: []string{"/work"}}
	for _, tt := range []struct {
		abi  int
		want string
	}{
		{7, "Landlock ABI 7: filesystem (read /usr,/etc,/bin,/lib…+1; write /work; devices rw), scope signals+abstract-unix; missing: unix socket control"},
		{0, "Landlock unavailable: nothing enforced; missing: filesystem rules"},
	} {
		if got := Plan(spec, tt.abi).String(); !strings.HasPrefix(got, tt.want) {
			t.Errorf("ABI %d: String = %q; want prefix %q", tt.abi, got, tt.want)
		}
	}
}

// FuzzPlan checks Plan's invariants for arbitrary specs and ABIs: every
// right granted is handled, nothing is handled without a request, file
// rights are a subset, and String never panics or spans lines.
func FuzzPlan(f *testing.F) {
	f.Add(7, true, true, "/usr\n/etc", "/work")
	f.Add(0, true, false, "/", "")
	f.Add(6, false, true, "", "rel\x00")
	f.Add(-1, true, true, "\n\n", "/a/../..")
	f.Fuzz(func(t *testing.T, abi int, fs, scope bool, read, write string) {
		spec := policy.LandlockSpec{FS: fs, Scope: scope, ReadPaths: strings.Split(read, "\n"), WritePaths: strings.Split(write, "\n")}
		r := Plan(spec, abi)
		if !fs && (r.HandledFS != 0 || r.FS) {
			t.Fatalf("FS not requested but handled %#x", r.HandledFS)
		}
		if !scope && r.ScopeFlags != 0 {
			t.Fatalf("scope not requested but %#x", r.ScopeFlags)
		}
		if r.HandledFS&^handledFSAt(abi) != 0 || r.ScopeFlags&^scopeAt(abi) != 0 {
			t.Fatalf("ABI %d: handled %#x / scoped %#x exceed the ABI", abi, r.HandledFS, r.ScopeFlags)
		}
		for _, g := range []uint64{r.readRights(), r.writeRights(), r.deviceRights()} {
			if g&^r.HandledFS != 0 {
				t.Fatalf("grant %#x outside handled %#x", g, r.HandledFS)
			}
		}
		if r.FS != (r.HandledFS != 0) || r.Scoped != (r.ScopeFlags != 0) {
			t.Fatalf("flags disagree with masks: %+v", r)
		}
		if r.FS && bits.OnesCount64(r.HandledFS) < 13 {
			t.Fatalf("FS enforced with too few rights: %#x", r.HandledFS)
		}
		for _, p := range append(append([]string{}, r.Read...), r.Write...) {
			if p == "" {
				t.Fatalf("empty rule path in %+v", r)
			}
		}
		if s := r.String(); strings.Contains(s, "\n") {
			t.Fatalf("String spans lines: %q", s)
		}
		_ = validateSpec(spec)
	})
}

package filter

import (
	"runtime"
	"testing"

	seccomparch "github.com/elastic/go-seccomp-bpf/arch"
)

// TestArchTablesMatchGoSeccompBPF cross-checks zbox's spelled-out syscall
// numbers and audit arch values against go-seccomp-bpf's generated tables.
func TestArchTablesMatchGoSeccompBPF(t *testing.T) {
	ref := map[string]*seccomparch.Info{"amd64": seccomparch.X86_64, "arm64": seccomparch.AARCH64}
	for goarch, ai := range arches {
		r := ref[goarch]
		if r == nil {
			t.Fatalf("no go-seccomp-bpf table for %s", goarch)
		}
		if ai.audit != uint32(r.ID) {
			t.Errorf("%s: audit arch %#x, go-seccomp-bpf says %#x", goarch, ai.audit, uint32(r.ID))
		}
		for name, nr := range ai.nums {
			want, ok := r.SyscallNames[name]
			if !ok || want != nr {
				t.Errorf("%s: %s = %d, go-seccomp-bpf says %d (present %v)", goarch, name, nr, want, ok)
			}
		}
	}
	if _, ok := arches[runtime.GOARCH]; !ok {
		t.Skipf("host arch %s has no zbox table", runtime.GOARCH)
	}
}

// TestArchTablesCoverRules: every syscall a rule names has a number on
// both architectures.
func TestArchTablesCoverRules(t *testing.T) {
	names := append(append(append([]string{}, alwaysDenied...), processVM...), restrictedDenied...)
	names = append(names, "socket", "socketpair")
	for goarch, ai := range arches {
		for _, n := range names {
			if _, err := ai.number(n); err != nil {
				t.Errorf("%s: %v", goarch, err)
			}
		}
	}
}

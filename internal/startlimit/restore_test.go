package startlimit_test

import (
	"testing"

	"github.com/zbox-sandbox/zbox/internal/startlimit"
)

func TestRestore(t *testing.T) {
	defer startlimit.SetStart(1024, 4096, true)()
	for _, c := range []struct {
		curNow, maxNow uint64
		want           bool
	}{
		{4095, 4096, true},  // Go 1.26's raise: hard-1
		{4096, 4096, true},  // older Go's raise: hard
		{1024, 4096, false}, // never raised
		{32, 32, false},     // a --limit files=32
		{2000, 4096, false}, // set on purpose
		{4095, 8192, false}, // hard limit changed since
	} {
		cur, max, ok := startlimit.Restore(c.curNow, c.maxNow)
		if ok != c.want || (ok && (cur != 1024 || max != 4096)) {
			t.Errorf("Restore(%d, %d) = %d, %d, %v; want %v", c.curNow, c.maxNow, cur, max, ok, c.want)
		}
	}
	startlimit.SetStart(1024, 4096, false)
	if _, _, ok := startlimit.Restore(4095, 4096); ok {
		t.Error("Restore without a captured start value")
	}
}

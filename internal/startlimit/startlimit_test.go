package startlimit_test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/zbox-sandbox/zbox/internal/startlimit"
)

// An external test package: the package's own test files import
// syscall, which would order its init after syscall's in the test
// binary; this way the package under test imports nothing, as in zbox.

// TestMain doubles as the child of TestNoFileIsTheStartValue.
func TestMain(m *testing.M) {
	if os.Getenv("STARTLIMIT_CHILD") == "1" {
		cur, max, ok := startlimit.NoFile()
		var now syscall.Rlimit
		syscall.Getrlimit(syscall.RLIMIT_NOFILE, &now)
		fmt.Printf("start %d %d %v now %d %d\n", cur, max, ok, now.Cur, now.Max)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestNoFileIsTheStartValue starts this test binary with a soft limit of
// 512 and checks that the child reports 512 as its start value, although
// package syscall's init raised its limit before any test code ran.
func TestNoFileIsTheStartValue(t *testing.T) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Max < 1024 {
		t.Skipf("hard RLIMIT_NOFILE is %d here; the test needs room above 512", lim.Max)
	}
	// prlimit(1)'s way: set the child's limit from outside, so that no Go
	// code of the child runs before the read.
	cmd := exec.Command("prlimit", "--nofile=512:", os.Args[0], "-test.run=^$")
	if _, err := exec.LookPath("prlimit"); err != nil {
		t.Skip("prlimit (util-linux) is not installed")
	}
	cmd.Env = append(os.Environ(), "STARTLIMIT_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %v\n%s", cmd.Args, err, out)
	}
	var cur, max, nowCur, nowMax uint64
	var ok bool
	if _, err := fmt.Sscanf(strings.TrimSpace(string(out)), "start %d %d %v now %d %d", &cur, &max, &ok, &nowCur, &nowMax); err != nil {
		t.Fatalf("child said %q: %v", out, err)
	}
	if !ok || cur != 512 || max != lim.Max {
		t.Errorf("start value %d/%d (known %v), want 512/%d", cur, max, ok, lim.Max)
	}
	if nowCur == 512 {
		t.Errorf("the child's soft limit is still 512: package syscall no longer raises it, and this package is not needed")
	}
}

package main

import (
	"os"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/zbox-sandbox/zbox/policy"
)

// inheritable returns a fresh fd without close-on-exec, as a caller would
// pass one to bwrap.
func inheritable(t *testing.T) int {
	t.Helper()
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Dup(int(f.Fd()))
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd // dup(2) never sets FD_CLOEXEC
}

func TestInheritedFDs(t *testing.T) {
	keep, info, sync, bind := inheritable(t), inheritable(t), inheritable(t), inheritable(t)
	own, err := os.Open(os.DevNull) // close-on-exec, like every fd Go opens
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	plan := &policy.Plan{
		Status: policy.StatusSpec{InfoFD: &info, SyncFD: &sync},
		Mounts: []policy.MountOp{{Kind: policy.OpBind, Source: "/proc/self/fd/x", Dest: "/mnt", FD: &bind}},
	}
	got := inheritedFDs(plan)
	if !slices.Contains(got, keep) {
		t.Errorf("inherited fd %d not kept: %v", keep, got)
	}
	for _, fd := range []int{0, 1, 2, info, sync, bind, int(own.Fd())} {
		if slices.Contains(got, fd) {
			t.Errorf("fd %d must not be passed on: %v", fd, got)
		}
	}
}

func TestCheckPlanFDs(t *testing.T) {
	open := inheritable(t)
	closed := inheritable(t)
	unix.Close(closed)
	plan := &policy.Plan{Status: policy.StatusSpec{SyncFD: &closed, BlockFD: &open}}
	if err := checkPlanFDs(plan); err != nil {
		t.Fatal(err)
	}
	if plan.Status.SyncFD != nil || plan.Status.BlockFD == nil {
		t.Errorf("a closed --sync-fd must be dropped and an open --block-fd kept: %+v", plan.Status)
	}
	plan = &policy.Plan{Mounts: []policy.MountOp{{Kind: policy.OpROBind, Source: "/proc/self/fd/99999", Dest: "/mnt", FD: new(int)}}}
	*plan.Mounts[0].FD = closed
	err := checkPlanFDs(plan)
	if err == nil || err.Error() != "Can't find source path /proc/self/fd/99999: No such file or directory" {
		t.Errorf("closed --bind-fd: %v", err)
	}
}

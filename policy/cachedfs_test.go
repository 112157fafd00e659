package policy

import (
	"errors"
	"io/fs"
	"testing"
)

// countingFS answers from HostFS and counts the questions.
type countingFS struct{ n map[string]int }

func (c countingFS) Lstat(p string) (fs.FileInfo, error) { c.n["lstat "+p]++; return HostFS.Lstat(p) }
func (c countingFS) Stat(p string) (fs.FileInfo, error)  { c.n["stat "+p]++; return HostFS.Stat(p) }
func (c countingFS) ReadFile(p string) ([]byte, error)   { c.n["read "+p]++; return HostFS.ReadFile(p) }
func (c countingFS) EvalSymlinks(p string) (string, error) {
	c.n["eval "+p]++
	return HostFS.EvalSymlinks(p)
}

// TestSnapshotAsksOnce: each question reaches the wrapped FS once, errors
// included, and the answers are the wrapped FS's; wrapping twice adds no
// layer.
func TestSnapshotAsksOnce(t *testing.T) {
	d := t.TempDir()
	c := countingFS{n: map[string]int{}}
	s := Snapshot(c)
	for i := 0; i < 3; i++ {
		if fi, err := s.Stat(d); err != nil || !fi.IsDir() {
			t.Fatalf("Stat(%s) = %v, %v", d, fi, err)
		}
		if _, err := s.Lstat(d + "/missing"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("Lstat of a missing path: %v", err)
		}
		if p, err := s.EvalSymlinks(d); err != nil || p == "" {
			t.Fatalf("EvalSymlinks: %q, %v", p, err)
		}
	}
	for k, n := range c.n {
		if n != 1 {
			t.Errorf("%s asked %d times, want once", k, n)
		}
	}
	if len(c.n) != 3 {
		t.Errorf("questions %v, want 3", c.n)
	}
	if Snapshot(s) != s {
		t.Error("a snapshot of a snapshot is a new layer")
	}
}

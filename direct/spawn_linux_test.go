package direct

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// spawnRun starts sp with stdout (and stderr) on a pipe, waits for it and
// returns what it printed and its exit status.
func spawnRun(t *testing.T, sp *Spawn) (string, int) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if sp.Files == nil {
		sp.Files = []uintptr{0, w.Fd(), w.Fd()}
	}
	pid, err := sp.Start()
	w.Close()
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	out, _ := io.ReadAll(r)
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
		t.Fatal(err)
	}
	return string(out), ws.ExitStatus()
}

func TestSpawnFilesAndDir(t *testing.T) {
	dir := t.TempDir()
	out, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	a, aw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, bw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// Slots up to just above the pipes' fds: 3..n-3 closed, the last two
	// get the pipes' write ends, crossed, so each source sits below its
	// target index (the first pass must lift them out of the way).
	n := int(max(aw.Fd(), bw.Fd())) + 4
	files := make([]uintptr, n)
	for i := range files {
		files[i] = ^uintptr(0)
	}
	files[0], files[1], files[2] = 0, w.Fd(), w.Fd()
	files[n-2], files[n-1] = bw.Fd(), aw.Fd()
	// (dash redirects only fds 0-9, hence /proc/self/fd; ls lists its
	// own directory fd too, the lowest free one: 3.)
	script := fmt.Sprintf(`echo low >/proc/self/fd/%d; echo high >/proc/self/fd/%d; pwd; ls /proc/self/fd | tr '\n' ' '`, n-2, n-1)
	sp := &Spawn{Path: "/bin/sh", Argv: []string{"sh", "-c", script}, Env: []string{"PATH=/usr/bin:/bin"}, Dir: dir, Files: files}
	pid, err := sp.Start()
	w.Close()
	aw.Close()
	bw.Close()
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	got, _ := io.ReadAll(out)
	ga, _ := io.ReadAll(a)
	gb, _ := io.ReadAll(b)
	var ws syscall.WaitStatus
	syscall.Wait4(pid, &ws, 0, nil)
	if ws.ExitStatus() != 0 {
		t.Fatalf("exit %d: %s", ws.ExitStatus(), got)
	}
	lines := strings.SplitN(string(got), "\n", 2)
	if lines[0] != dir {
		t.Errorf("cwd %q, want %q", lines[0], dir)
	}
	open := map[int]bool{}
	for _, f := range strings.Fields(lines[len(lines)-1]) {
		i, _ := strconv.Atoi(f)
		open[i] = true
	}
	// Below n only 0-2, ls's own 3 and the two kept (fds above are
	// whatever the test's caller left inheritable).
	for i := 0; i < n; i++ {
		if want := i <= 3 || i >= n-2; open[i] != want {
			t.Errorf("fd %d open=%v in the child, want %v (%s)", i, open[i], want, got)
		}
	}
	if string(gb) != "low\n" || string(ga) != "high\n" {
		t.Errorf("fd %d wrote %q to b, fd %d %q to a", n-2, gb, n-1, ga)
	}
}

func TestSpawnErrors(t *testing.T) {
	_, err := (&Spawn{Path: "/nonexistent/cmd", Argv: []string{"cmd"}, Files: []uintptr{0, 1, 2}}).Start()
	if !errors.Is(err, syscall.ENOENT) || errors.As(err, new(*SpawnError)) {
		t.Errorf("missing command: %v, want the bare ENOENT of execve", err)
	}
	_, err = (&Spawn{Path: "/bin/true", Argv: []string{"true"}, Dir: "/nonexistent", Files: []uintptr{0, 1, 2}}).Start()
	var se *SpawnError
	if !errors.As(err, &se) || se.Step != "chdir" || se.Errno != syscall.ENOENT {
		t.Errorf("missing dir: %v, want a chdir SpawnError with ENOENT", err)
	}
	_, err = (&Spawn{Path: "/bin/true", Argv: []string{"true"}, Files: []uintptr{0, 1, 2, 999}}).Start()
	if !errors.As(err, &se) || se.Step != "move fds" || se.Errno != syscall.EBADF {
		t.Errorf("bad fd: %v, want a move-fds SpawnError with EBADF", err)
	}
	if _, err := (&Spawn{Path: "/bin/true"}).Start(); err == nil {
		t.Error("empty argv accepted")
	}
}

// TestSpawnLimitsBeforeExec: the limits are in place at the command's
// first instruction. dd allocates its 256 MiB block at once; under a
// 64 MiB address-space limit set after execve it could win the race.
func TestSpawnLimitsBeforeExec(t *testing.T) {
	const as = 64 << 20
	lims := []Rlimit{{syscall.RLIMIT_AS, as}, {syscall.RLIMIT_NOFILE, 32}}
	out, code := spawnRun(t, &Spawn{Path: "/bin/cat", Argv: []string{"cat", "/proc/self/limits"}, Rlimits: lims})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	for _, want := range []string{"Max address space", "Max open files"} {
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, want) {
				f := strings.Fields(strings.TrimPrefix(line, want))
				v := strconv.Itoa(as)
				if want == "Max open files" {
					v = "32"
				}
				if len(f) < 2 || f[0] != v || f[1] != v {
					t.Errorf("%s: %q, want soft and hard %s", want, line, v)
				}
			}
		}
	}
	out, code = spawnRun(t, &Spawn{Path: "/bin/dd", Argv: []string{"dd", "if=/dev/zero", "of=/dev/null", "bs=256M", "count=1"}, Rlimits: lims[:1]})
	if code == 0 || !strings.Contains(out, "memory exhausted") {
		t.Errorf("dd under a 64 MiB limit: exit %d, %q; want memory exhausted", code, out)
	}
}

// TestSpawnSignalsAndSession: the child starts with no signal blocked
// (Start runs with all of them blocked), no Go handler installed, the
// caller's ignored signals still ignored, and in its own session when
// asked.
func TestSpawnSignalsAndSession(t *testing.T) {
	signal.Ignore(syscall.SIGHUP)
	defer signal.Reset(syscall.SIGHUP)
	out, code := spawnRun(t, &Spawn{Path: "/bin/cat", Argv: []string{"cat", "/proc/self/status", "/proc/self/stat"}, Setsid: true})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	field := func(name string) string {
		for _, line := range strings.Split(out, "\n") {
			if v, ok := strings.CutPrefix(line, name+":"); ok {
				return strings.TrimSpace(v)
			}
		}
		return ""
	}
	if got := field("SigBlk"); got != "0000000000000000" {
		t.Errorf("SigBlk %s, want none blocked", got)
	}
	if got := field("SigCgt"); got != "0000000000000000" {
		t.Errorf("SigCgt %s, want no handler (the Go runtime's must not survive)", got)
	}
	if got, _ := strconv.ParseUint(field("SigIgn"), 16, 64); got&1 == 0 {
		t.Errorf("SigIgn %x: SIGHUP is no longer ignored", got)
	}
	// /proc/self/stat: pid (comm) state ppid pgrp session ...
	lines := strings.Split(strings.TrimSpace(out), "\n")
	stat := lines[len(lines)-1]
	f := strings.Fields(stat[strings.LastIndexByte(stat, ')')+1:])
	pid := strings.Fields(stat)[0]
	if len(f) < 4 || f[3] != pid {
		t.Errorf("session %v, want the child's own (%s): %s", f, pid, stat)
	}
}

// TestSpawnErrorPipeAboveSources: when the error pipe's write end is the
// very fd the first pass would lift a source to, the source must go
// elsewhere, or an execve failure would be written into the source and
// Start would report success.
func TestSpawnErrorPipeAboveSources(t *testing.T) {
	ar, aw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer ar.Close()
	defer aw.Close()
	// Occupy every fd up to top, so that Start's pipe gets top+1 (read
	// end) and top+2 (write end), while len(Files) is top+1.
	top := int(aw.Fd()) + 3
	var fill []int
	defer func() {
		for _, fd := range fill {
			syscall.Close(fd)
		}
	}()
	for {
		fd, err := syscall.Open("/dev/null", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		fill = append(fill, fd)
		if fd >= top {
			break
		}
	}
	n := top + 1
	files := make([]uintptr, n)
	for i := range files {
		files[i] = ^uintptr(0)
	}
	files[0], files[1], files[2] = 0, 1, 2
	// Two sources below their indices: the first is lifted to n, the
	// second would be to n+1, the error pipe's write end.
	files[n-2], files[n-1] = aw.Fd(), aw.Fd()
	_, err = (&Spawn{Path: "/nonexistent/cmd", Argv: []string{"cmd"}, Files: files}).Start()
	if !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("Start = %v, want the execve's ENOENT", err)
	}
}

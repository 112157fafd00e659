package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/zbox-sandbox/zbox/policy"
)

// Resource limits through cgroups, where zbox may create one.
//
// rlimits alone leave two holes: the kernel exempts uid 0 from
// RLIMIT_NPROC whatever its capabilities (so a root caller's fork bomb is
// not contained), and RLIMIT_AS bounds each process's address space, not
// the memory the sandbox uses as a whole (n processes may each map up to
// the limit). A cgroup holding the sandbox's init — created and configured
// before the init is told to go on, so everything it forks starts inside —
// closes both: pids.max counts every task of the sandbox, memory.max /
// memory.limit_in_bytes charges every page any of them uses. zbox uses a
// cgroup when it can write one (root, or a delegated cgroup v2 subtree)
// and keeps the rlimits in every case.

// sandboxCgroup is the set of cgroup directories made for one sandbox.
type sandboxCgroup struct {
	dirs []string
}

// newSandboxCgroup creates and configures cgroups for l, or returns nil
// when none is needed or none can be made (the rlimits still apply).
func newSandboxCgroup(l *policy.Limits, logf func(string, ...any)) *sandboxCgroup {
	if l == nil || (l.Processes == 0 && l.MemoryBytes == 0) {
		return nil
	}
	cg := &sandboxCgroup{}
	name := fmt.Sprintf("zbox-%d-%d", os.Getpid(), time.Now().UnixNano()%1e9)
	if v2 := cgroup2Path(); v2 != "" {
		removeStale(v2)
		dir := filepath.Join(v2, name)
		if err := os.Mkdir(dir, 0o755); err == nil {
			ok := true
			if l.Processes > 0 {
				ok = ok && writeCg(dir, "pids.max", l.Processes)
			}
			if l.MemoryBytes > 0 {
				ok = ok && writeCg(dir, "memory.max", l.MemoryBytes) && writeCg(dir, "memory.swap.max", 0)
			}
			if ok {
				cg.dirs = append(cg.dirs, dir)
				return cg
			}
			os.Remove(dir)
		}
	}
	// cgroup v1: one hierarchy per controller.
	for _, c := range []struct {
		ctrl, file string
		v          uint64
	}{{"pids", "pids.max", l.Processes}, {"memory", "memory.limit_in_bytes", l.MemoryBytes}} {
		if c.v == 0 {
			continue
		}
		base := cgroup1Path(c.ctrl)
		if base == "" {
			continue
		}
		removeStale(base)
		dir := filepath.Join(base, name)
		if os.Mkdir(dir, 0o755) != nil {
			continue
		}
		if !writeCg(dir, c.file, c.v) {
			os.Remove(dir)
			continue
		}
		cg.dirs = append(cg.dirs, dir)
	}
	if len(cg.dirs) == 0 {
		logf("no writable cgroup: limits rely on rlimits only")
		return nil
	}
	return cg
}

// removeStale deletes cgroups of earlier zbox runs under base whose zbox
// is gone (SIGKILLed before it could remove them). rmdir only succeeds on
// an empty cgroup, so a live sandbox's is never touched.
func removeStale(base string) {
	ents, err := os.ReadDir(base)
	if err != nil {
		return
	}
	for _, e := range ents {
		name := e.Name()
		if !e.IsDir() || !strings.HasPrefix(name, "zbox-") {
			continue
		}
		f := strings.Split(name, "-")
		if len(f) != 3 {
			continue
		}
		pid, err := strconv.Atoi(f[1])
		if err != nil || pid <= 0 {
			continue
		}
		if err := syscall.Kill(pid, 0); err == syscall.ESRCH {
			_ = os.Remove(filepath.Join(base, name))
		}
	}
}

func writeCg(dir, file string, v uint64) bool {
	return os.WriteFile(filepath.Join(dir, file), []byte(strconv.FormatUint(v, 10)), 0) == nil
}

// add moves pid (the init, before it starts anything) into the cgroups.
func (c *sandboxCgroup) add(pid int) error {
	if c == nil {
		return nil
	}
	for _, d := range c.dirs {
		if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
			return fmt.Errorf("move the sandbox into cgroup %s: %w", d, err)
		}
	}
	return nil
}

// remove deletes the cgroups once the sandbox is gone (its last tasks may
// take a moment to leave after the init's death).
func (c *sandboxCgroup) remove() {
	if c == nil {
		return
	}
	for _, d := range c.dirs {
		for i := 0; i < 50; i++ {
			if err := os.Remove(d); err == nil || os.IsNotExist(err) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// cgroup2Path is our own cgroup v2 directory, if cgroup2 is mounted at
// /sys/fs/cgroup and has the pids and memory controllers delegated to
// our subtree.
func cgroup2Path() string {
	rel := ""
	forEachLine("/proc/self/cgroup", func(line string) {
		if strings.HasPrefix(line, "0::") {
			rel = strings.TrimPrefix(line, "0::")
		}
	})
	if rel == "" {
		return ""
	}
	dir := filepath.Join("/sys/fs/cgroup", rel)
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control"))
	if err != nil {
		return ""
	}
	ctrls := " " + strings.TrimSpace(string(b)) + " "
	if !strings.Contains(ctrls, " pids ") || !strings.Contains(ctrls, " memory ") {
		return ""
	}
	return dir
}

// cgroup1Path is our cgroup directory in the v1 hierarchy of ctrl.
func cgroup1Path(ctrl string) string {
	rel := ""
	forEachLine("/proc/self/cgroup", func(line string) {
		f := strings.SplitN(line, ":", 3)
		if len(f) == 3 {
			for _, c := range strings.Split(f[1], ",") {
				if c == ctrl {
					rel = f[2]
				}
			}
		}
	})
	if rel == "" {
		return ""
	}
	dir := filepath.Join("/sys/fs/cgroup", ctrl, rel)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return ""
	}
	return dir
}

func forEachLine(path string, fn func(string)) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fn(sc.Text())
	}
}

// prepareCgroupRemoval opens, for each of the sandbox's cgroup
// directories, its parent directory and the parent's cgroup.procs, and
// returns the clean-up the init runs last: move itself back to the parent
// cgroup (a cgroup with a task in it cannot be removed) and remove the
// directory. It runs after every other process of the sandbox is dead.
// The fds stay valid after the pivot; they point into the host's cgroup
// file system. Nil if nothing could be opened (the outer still removes
// the cgroups when it outlives the sandbox).
func prepareCgroupRemoval(dirs []string) func() {
	type handle struct {
		procs  *os.File
		parent int
		name   string
	}
	var hs []handle
	for _, d := range dirs {
		parent := filepath.Dir(d)
		procs, err := os.OpenFile(filepath.Join(parent, "cgroup.procs"), os.O_WRONLY, 0)
		if err != nil {
			continue
		}
		pfd, err := syscall.Open(parent, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
		if err != nil {
			procs.Close()
			continue
		}
		hs = append(hs, handle{procs: procs, parent: pfd, name: filepath.Base(d)})
	}
	if len(hs) == 0 {
		return nil
	}
	return func() {
		for _, h := range hs {
			_, _ = h.procs.WriteString("0") // 0: the writing process itself
			_ = unlinkatDir(h.parent, h.name)
		}
	}
}

func unlinkatDir(dirfd int, name string) error {
	return unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR)
}

package lsm

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/zbox-sandbox/zbox/policy"
)

// rulesetAttr is struct landlock_ruleset_attr up to and including the
// ABI 6 "scoped" field. We pass exactly these 24 bytes: older kernels
// accept a larger struct only if the tail is zero (copy_struct_from_user),
// and we never need the later (ABI 10 "quiet") fields.
type rulesetAttr struct {
	handledAccessFS  uint64
	handledAccessNet uint64 // always 0: zbox never handles network rights
	scoped           uint64
}

// pathBeneathAttr is struct landlock_path_beneath_attr, which the kernel
// declares __packed (12 bytes). The Go struct has 4 bytes of tail padding;
// the kernel copies only the first 12, so the layout matches.
type pathBeneathAttr struct {
	allowedAccess uint64
	parentFD      int32
}

func landlockCreateRuleset(attr *rulesetAttr, size uintptr, flags uint32) (int, error) {
	r, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(attr)), size, uintptr(flags))
	if errno != 0 {
		return -1, errno
	}
	return int(r), nil
}

func landlockAddPathRule(rulesetFD int, attr *pathBeneathAttr) error {
	_, _, errno := unix.Syscall6(unix.SYS_LANDLOCK_ADD_RULE, uintptr(rulesetFD), unix.LANDLOCK_RULE_PATH_BENEATH, uintptr(unsafe.Pointer(attr)), 0, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// landlockRestrictSelf without LANDLOCK_RESTRICT_SELF_TSYNC: the kernel
// applies the domain to the calling thread only. unix.Syscall runs on the
// current OS thread, which the caller has locked.
func landlockRestrictSelf(rulesetFD int) error {
	_, _, errno := unix.Syscall(unix.SYS_LANDLOCK_RESTRICT_SELF, uintptr(rulesetFD), 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// RestrictThread enforces spec on the calling OS thread only: it builds a
// ruleset for the kernel's ABI (best effort, see Plan), sets no_new_privs
// on this thread and calls landlock_restrict_self without TSYNC. Other
// threads of the process are untouched; processes forked or exec'd from
// this thread inherit the domain.
//
// The thread is tainted for good: RestrictThread calls
// runtime.LockOSThread and never unlocks, so the Go scheduler can never
// run another goroutine on it; when the calling goroutine returns, the
// runtime destroys the thread. That holds whenever an error comes after
// the lock too (the thread may already have no_new_privs). It refuses to run on the process's main
// thread (the thread-group leader): the kernel checks kill(pid) and
// /proc/<pid> accesses against the leader's domain, so a restricted
// leader would put the whole process within reach of the target. Use
// RunOnDisposableThread to get a suitable thread.
//
// If spec.Required && spec.FS and the kernel cannot enforce filesystem
// rules, it returns an error wrapping ErrNotEnforced and restricts
// nothing. Paths that do not exist are skipped and listed in
// Report.Skipped.
func RestrictThread(spec policy.LandlockSpec) (Report, error) {
	return restrictThread(spec, Probe(), false)
}

// RestrictThreadBeforeExec is RestrictThread for a caller that is about to
// execve(2) on this very thread (the exec-in-place stages): the main
// thread is allowed, because execve replaces the whole process and makes
// the restricted thread its only one, so no unrestricted part remains for
// the target to reach. The caller must not do anything but exec after it.
func RestrictThreadBeforeExec(spec policy.LandlockSpec) (Report, error) {
	return restrictThread(spec, Probe(), true)
}

// restrictThread is RestrictThread with the kernel status injected (tests).
func restrictThread(spec policy.LandlockSpec, st Status, allowMain bool) (Report, error) {
	if err := validateSpec(spec); err != nil {
		return Report{}, err
	}
	rep := Plan(spec, st.EffectiveABI())
	if st.Available && st.EffectiveABI() != st.ABI && spec.Scope {
		rep.Missing = append(rep.Missing, fmt.Sprintf("kernel ABI %d lacks the signal-scoping fix (Landlock erratum 2), so rules use ABI %d without scopes", st.ABI, st.EffectiveABI()))
	}
	if spec.Required && spec.FS && !rep.FS {
		why := st.Reason
		if why == "" {
			why = fmt.Sprintf("kernel Landlock ABI %d", st.ABI)
		}
		return rep, fmt.Errorf("%w: the filesystem rules need Landlock ABI 1 or later, but %s; enable Landlock (Linux 5.13+, lsm=...,landlock) or use the namespace sandbox instead of --use-legacy-landlock", ErrNotEnforced, why)
	}
	if rep.HandledFS == 0 && rep.ScopeFlags == 0 {
		return rep, nil // nothing this kernel can enforce, nothing required
	}

	// Pin this goroutine to its thread before any per-thread state
	// changes, and never unpin: see the doc comment. LockOSThread also
	// makes the runtime create any new threads from its clean "template
	// thread" instead of cloning this one (runtime.newm checks lockedExt),
	// so the domain cannot leak into threads that run other goroutines.
	runtime.LockOSThread()
	if !allowMain && onMainThread() {
		// Nothing was changed yet: the thread may go back to the pool.
		runtime.UnlockOSThread()
		return rep, fmt.Errorf("landlock: refusing to restrict the process's main thread (tid %d): the kernel checks signals and /proc/<pid> access against it, so the sandboxed target could reach this process; call RestrictThread inside lsm.RunOnDisposableThread", unix.Gettid())
	}

	attr := rulesetAttr{handledAccessFS: rep.HandledFS, scoped: rep.ScopeFlags}
	rulesetFD, err := landlockCreateRuleset(&attr, unsafe.Sizeof(attr), 0)
	if err != nil {
		return rep, fmt.Errorf("landlock: creating the ruleset for ABI %d (handled fs %#x, scoped %#x): %w", rep.ABI, rep.HandledFS, rep.ScopeFlags, err)
	}
	defer unix.Close(rulesetFD)

	if rep.FS {
		rules := []struct {
			paths  []string
			rights uint64
			what   string
		}{
			{rep.Read, rep.readRights(), "read"},
			{rep.Write, rep.writeRights(), "write"},
			{append(slices.Clone(DevicePaths), StdioTerminals()...), rep.deviceRights(), "device"},
		}
		for _, set := range rules {
			for _, p := range set.paths {
				skipped, err := addPathRule(rulesetFD, p, set.rights)
				if err != nil {
					return rep, fmt.Errorf("landlock: adding the %s rule for %q: %w", set.what, p, err)
				}
				if skipped {
					rep.Skipped = append(rep.Skipped, p)
				}
			}
		}
	}

	// landlock_restrict_self requires no_new_privs on the calling thread
	// (unless it has CAP_SYS_ADMIN in its user namespace; we do not rely
	// on that). prctl is per-thread, which is what we want: the target
	// inherits it across fork and exec, the rest of the process does not.
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return rep, fmt.Errorf("landlock: setting no_new_privs on this thread: %w", err)
	}
	if err := landlockRestrictSelf(rulesetFD); err != nil {
		if errors.Is(err, unix.E2BIG) {
			return rep, fmt.Errorf("landlock: this thread already has 16 stacked Landlock domains (the kernel limit); run zbox outside of so many nested sandboxes: %w", err)
		}
		return rep, fmt.Errorf("landlock: landlock_restrict_self on thread %d: %w", unix.Gettid(), err)
	}
	return rep, nil
}

// addPathRule grants rights beneath path. A path that does not exist (or
// has a non-directory in its prefix) is skipped: the target cannot reach
// it either, and a missing rule only ever means less access.
func addPathRule(rulesetFD int, path string, rights uint64) (skipped bool, err error) {
	// O_PATH: the rule needs a reference to the inode, not read access to
	// it (works on files the caller may not read, and on device nodes
	// without opening the device). Symlinks are followed on purpose: the
	// rule then covers what the target will actually reach at that path.
	fd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
			return true, nil
		}
		return false, fmt.Errorf("opening it with O_PATH (check the path and its permissions): %w", err)
	}
	defer unix.Close(fd)

	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return false, fmt.Errorf("fstat: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		// Directory rights on a non-directory make the kernel fail the
		// whole rule with EINVAL.
		rights &= accessFile
	}
	if rights == 0 {
		return false, nil // a rule with no rights is ENOMSG; nothing to grant
	}
	attr := pathBeneathAttr{allowedAccess: rights, parentFD: int32(fd)}
	if err := landlockAddPathRule(rulesetFD, &attr); err != nil {
		return false, fmt.Errorf("landlock_add_rule(rights %#x): %w", rights, err)
	}
	return false, nil
}

// onMainThread reports whether the calling (locked) goroutine runs on the
// thread-group leader. A variable so tests can simulate landing there.
var onMainThread = func() bool { return unix.Gettid() == unix.Getpid() }

// RunOnDisposableThread runs fn on a fresh goroutine locked to an OS
// thread that is not the process's main thread, waits for it, and lets
// the runtime destroy that thread afterwards (the goroutine exits still
// locked). Call RestrictThread and then fork+exec or exec the target from
// inside fn. A panic in fn is re-raised in the caller.
func RunOnDisposableThread(fn func()) {
	done := make(chan any, 1)
	go func() {
		runtime.LockOSThread()
		if onMainThread() {
			// We landed on the main thread. While this goroutine holds it
			// locked (and blocks), the scheduler cannot place another
			// goroutine there, so the nested call gets another thread.
			// The main thread was not modified: give it back.
			defer runtime.UnlockOSThread()
			defer func() { done <- recover() }()
			RunOnDisposableThread(fn)
			return
		}
		// Deliberately no UnlockOSThread: exiting locked kills the thread.
		defer func() { done <- recover() }()
		fn()
	}()
	if p := <-done; p != nil {
		panic(p)
	}
}

// StdioTerminals lists the pty devices (/dev/pts/N) that fds 0-2 of this
// process are open on, for the device rules (see DevicePaths).
func StdioTerminals() []string {
	var out []string
	for fd := 0; fd <= 2; fd++ {
		l, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
		if err == nil && strings.HasPrefix(l, "/dev/pts/") && !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out
}

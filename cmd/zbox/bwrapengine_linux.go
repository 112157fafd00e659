package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/zbox-sandbox/zbox/mountns"
	"github.com/zbox-sandbox/zbox/policy"
)

// The bwrap engine: the same plan, rendered as argv for the system
// bubblewrap. It exists for comparison and for hosts that prefer bwrap;
// the native engine is the default.

// findBwrap returns the first bwrap on PATH that is not under the current
// directory (a workspace could otherwise plant its own "bwrap"; helper
// v0.118+ does the same).
func findBwrap() (string, error) {
	cwd, _ := os.Getwd()
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		if dir == "" || !filepath.IsAbs(dir) {
			continue
		}
		p := filepath.Join(dir, "bwrap")
		if cwd != "" && (p == cwd || strings.HasPrefix(p, strings.TrimSuffix(cwd, "/")+"/")) {
			continue
		}
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", errors.New("bubblewrap is unavailable: no system bwrap was found on PATH (install the bubblewrap package, or use --engine native)")
}

// innerSpec is what zbox's inner stage applies inside bwrap's namespaces
// before exec'ing the command: the parts of a plan that bwrap has no
// options for.
type innerSpec struct {
	Filter   policy.FilterSpec    `json:"filter"`
	Landlock *policy.LandlockSpec `json:"landlock,omitempty"`
	Env      []string             `json:"env"`
}

// bwrapRun carries out a rendered bwrap command line and waits for it.
type bwrapRun struct {
	files []*os.File // fds handed to bwrap, at 3, 4, ... in order
}

// dataFD gives bwrap an fd that reads as data: /dev/null when empty (the
// helper's deny masks), otherwise a memfd. One fd per op: bwrap reads and
// closes each.
func (r *bwrapRun) dataFD(data []byte) (int, error) {
	var f *os.File
	if len(data) == 0 {
		var err error
		if f, err = os.Open("/dev/null"); err != nil {
			return 0, err
		}
	} else {
		fd, err := unix.MemfdCreate("zbox-bwrap-data", unix.MFD_CLOEXEC)
		if err != nil {
			return 0, fmt.Errorf("memfd for bwrap data: %w", err)
		}
		f = os.NewFile(uintptr(fd), "zbox-bwrap-data")
		if _, err := f.Write(data); err != nil {
			f.Close()
			return 0, err
		}
		if _, err := f.Seek(0, 0); err != nil {
			f.Close()
			return 0, err
		}
	}
	r.files = append(r.files, f)
	return 2 + len(r.files), nil
}

// runBwrapEngine renders plan and runs it under the system bwrap. When
// inner is empty, bwrap runs zbox's own inner stage, which applies the
// plan's seccomp filter and Landlock rules (bwrap has no equivalent) and
// then execs the command. It returns the command's exit status.
func runBwrapEngine(plan *policy.Plan, inner []string) (int, error) {
	bw, err := findBwrap()
	if err != nil {
		return 0, &SetupError{Msg: err.Error()}
	}
	self, err := os.Executable()
	if err != nil {
		return 0, &SetupError{Msg: fmt.Sprintf("locate the zbox binary: %v", err)}
	}
	p := *plan
	if len(inner) == 0 {
		spec, _ := json.Marshal(innerSpec{Filter: plan.Filter, Landlock: plan.Landlock, Env: plan.Env})
		inner = append([]string{self, "exec-inner", string(spec), "--"}, plan.Command...)
		// The inner stage must be able to run: make the binary visible
		// inside even when the root is a tmpfs.
		p.Mounts = append(append([]policy.MountOp(nil), plan.Mounts...), policy.MountOp{Kind: policy.OpROBind, Source: self, Dest: self})
	}
	if os.Geteuid() == 0 && slices.ContainsFunc(plan.Mounts, func(op policy.MountOp) bool { return op.Kind == policy.OpProc && op.Dest == "/proc" }) {
		// A root caller's sandbox is host uid 0, the owner of the
		// kernel's machine-wide /proc files (core_pattern, sysrq), and
		// bwrap's fresh /proc leaves them writable. Cover them with the
		// host's, read-only, as the native engine does with its own
		// (mountns.ProcGlobals); the host's /proc/sys also shows the
		// host namespace's net.* values, read-only. bwrap's device
		// nodes in /dev stay writable inodes (chmod) under this engine:
		// bwrap has no read-only device bind.
		p.Mounts = slices.Clone(p.Mounts)
		for _, sub := range mountns.ProcGlobals {
			if _, err := os.Lstat("/proc/" + sub); err == nil {
				p.Mounts = append(p.Mounts, policy.MountOp{Kind: policy.OpROBind, Source: "/proc/" + sub, Dest: "/proc/" + sub})
			}
		}
	}
	r := &bwrapRun{}
	defer func() {
		for _, f := range r.files {
			f.Close()
		}
	}()
	args, err := policy.BwrapArgs(&p, r.dataFD, inner)
	if err != nil {
		return 0, &SetupError{Msg: fmt.Sprintf("render bwrap command: %v", err)}
	}
	cmd := exec.Command(bw, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = r.files
	if plan.Env != nil {
		cmd.Env = plan.Env
	}
	// zbox's signals go to bwrap, which passes them on.
	_, finishRelay, err := relayTo(false, func() (int, error) {
		if err := cmd.Start(); err != nil {
			return 0, err
		}
		return cmd.Process.Pid, nil
	})
	if err != nil {
		return 0, &SetupError{Msg: fmt.Sprintf("start %s: %v", bw, err)}
	}
	defer finishRelay()
	err = cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		ws := ee.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ws.ExitStatus(), nil
	}
	if err != nil {
		return 0, &SetupError{Msg: fmt.Sprintf("wait for bwrap: %v", err)}
	}
	return 0, nil
}

// startPPID is the parent this process was started by, recorded before
// anything else runs, so that dieWithParent can tell whether that parent
// is already gone.
var startPPID = os.Getppid()

// dieWithParent makes this process die by SIGKILL when its parent exits
// (bwrap --die-with-parent sets it in its monitor, and the helper's bwrap
// gets --die-with-parent). The init is already tied to this process and,
// being pid 1 or holding its own death signal, takes the sandbox with it.
//
// The kernel delivers the signal when the parent *thread* exits; the
// caller's thread that forked us is its main thread in practice.
// prctl only arms the signal for the future: a parent that already
// exited before it was armed is detected by the changed ppid.
func dieWithParent() {
	_ = unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0)
	if os.Getppid() != startPPID {
		_ = unix.Kill(os.Getpid(), unix.SIGKILL)
	}
}

// inheritedFDs lists the fds above 2 that this process inherited and that
// bwrap would pass on to the command: every open fd without close-on-exec
// (the Go runtime opens all of its own with O_CLOEXEC, and the fds bwrap
// consumes while parsing, --args, --file, --bind-data, --ro-bind-data and
// --seccomp, are closed by then), except those bwrap closes in the
// sandbox: --info-fd, --json-status-fd, --sync-fd, --block-fd,
// --userns-block-fd and the --bind-fd/--ro-bind-fd fds.
func inheritedFDs(plan *policy.Plan) []int {
	skip := map[int]bool{}
	st := plan.Status
	for _, p := range []*int{st.InfoFD, st.JSONStatusFD, st.SyncFD, st.BlockFD, st.UsernsBlockFD} {
		if p != nil {
			skip[*p] = true
		}
	}
	for _, op := range plan.Mounts {
		if op.FD != nil {
			skip[*op.FD] = true
		}
	}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil
	}
	var fds []int
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd <= 2 || skip[fd] {
			continue
		}
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil || flags&unix.FD_CLOEXEC != 0 {
			// Closed meanwhile (the ReadDir fd itself), or zbox's own.
			continue
		}
		fds = append(fds, fd)
	}
	return fds
}

// fdOpen reports whether fd is an open descriptor of this process.
func fdOpen(fd int) bool {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return err == nil
}

// checkPlanFDs gives fds that are not open bwrap's outcome instead of a
// failure to hand them to the sandbox: bwrap ignores a closed --sync-fd
// (its reaper merely keeps it) and a closed --block-fd (the read fails
// and it carries on), and reports a closed --bind-fd/--ro-bind-fd fd when
// it resolves the bind source.
func checkPlanFDs(plan *policy.Plan) error {
	st := &plan.Status
	if st.SyncFD != nil && !fdOpen(*st.SyncFD) {
		st.SyncFD = nil
	}
	if st.BlockFD != nil && !fdOpen(*st.BlockFD) {
		st.BlockFD = nil
	}
	for _, op := range plan.Mounts {
		if op.FD != nil && !fdOpen(*op.FD) {
			return fmt.Errorf("Can't find source path %s: No such file or directory", op.Source)
		}
	}
	return nil
}

// runExecInner is zbox's inner stage under the bwrap engine:
// `zbox exec-inner SPEC -- CMD...`, run by bwrap inside its namespaces.
func runExecInner(args []string) int {
	if len(args) < 3 || args[1] != "--" {
		fmt.Fprintln(os.Stderr, "zbox: exec-inner: usage: zbox exec-inner SPEC -- CMD [ARGS...]")
		return exitUsage
	}
	var spec innerSpec
	if err := json.Unmarshal([]byte(args[0]), &spec); err != nil {
		fmt.Fprintf(os.Stderr, "zbox: exec-inner: bad spec: %v\n", err)
		return exitUsage
	}
	plan := &policy.Plan{Command: args[2:], Filter: spec.Filter, Landlock: spec.Landlock, Env: spec.Env}
	return reportError("zbox", execInPlace(plan))
}

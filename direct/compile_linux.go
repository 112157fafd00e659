package direct

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/zbox-sandbox/zbox/filter"
	"github.com/zbox-sandbox/zbox/lsm"
	"github.com/zbox-sandbox/zbox/mountns"
	"github.com/zbox-sandbox/zbox/policy"
)

// Host is what Compile needs to know about the calling process.
type Host struct {
	UID, GID int    // real ids of the caller
	Cwd      string // its working directory
	Env      []string
	// ErrW is the write end of the error pipe (Start's errFD).
	ErrW int
	// StatusW, with KeepReaping, is the write end of the pipe on which
	// pid 1 reports the command's exit status before it goes on
	// reaping (bwrap's semantics: zbox returns when the command exits,
	// whatever it left running); -1 otherwise.
	StatusW     int
	KeepReaping bool
	// CgroupDirs are the limits' cgroups zbox made (one per hierarchy):
	// pid 1 joins them first thing.
	CgroupDirs []string
	// SpareFD is an fd number the child may overwrite (zbox's end of
	// the error pipe, useless in the child): destinations are moved
	// there to be mounted on through /proc/self/fd/SpareFD.
	SpareFD int
	// LifeR/LifeW are the ends of a pipe (LifeR non-blocking) whose write
	// end zbox holds until the sandbox is reaped; -1 without
	// DieWithParent.
	LifeR, LifeW int
	// BridgePorts, for a proxy-only plan: pid 1 opens one listener on
	// 127.0.0.1 per port in the sandbox's fresh network namespace (where
	// every port is free, so zbox can pick them and rewrite the proxy
	// variables beforehand) and sends them to zbox over BridgeFD, the
	// child's end of a SOCK_SEQPACKET socketpair: one message "L" with
	// the listeners as SCM_RIGHTS, in port order. Empty otherwise; a
	// proxy-only plan without ports is not eligible.
	BridgePorts []int
	BridgeFD    int
	// Redirect puts filter.ConnectNotifyProgram on the command's
	// process, with a listener, which the process sends over BridgeFD
	// ("R" with SCM_RIGHTS) before execve. When the kernel refuses a
	// listener (EBUSY: zbox nested in a redirecting sandbox) nothing is
	// sent and the bridges relay.
	Redirect bool
	// KeepGhosts: pid 1's clean-up (zbox SIGKILLed) leaves the mount
	// points created on the host, and the mounts on them, in place. For
	// sandboxes without a pid namespace, whose processes pid 1 cannot
	// all find and kill first.
	KeepGhosts bool
}

// NotEligible says why a plan needs the general init.
type NotEligible struct{ Reason string }

func (e *NotEligible) Error() string { return "direct start not possible: " + e.Reason }

func ineligible(format string, a ...any) error {
	return &NotEligible{Reason: fmt.Sprintf(format, a...)}
}

// Registers.
const (
	rTree  int8 = 0 // open_tree / fsmount result
	rDest  int8 = 1 // the destination, opened with openat2
	rTmp   int8 = 2 // short-lived fds
	rLL    int8 = 3 // the Landlock ruleset
	rEnvIx int8 = 7 // which environment (cwd candidate) the target gets
)

// sizeofMountAttr is sizeof(struct mount_attr).
const sizeofMountAttr = unsafe.Sizeof(unix.MountAttr{})

const (
	oldRoot = "/oldroot"
	newRoot = "/newroot"
	// fdPrefix reaches an fd of ours through the host's procfs, still
	// attached at /oldroot/proc while the root is built; mounting on
	// that magic link mounts on exactly the directory the fd refers to.
	fdPrefix = oldRoot + "/proc/self/fd/"
)

// Compile turns plan into a Prog, or returns a *NotEligible error when
// some part of the plan needs the general init. It reads the host's
// filesystem (to resolve bind sources and destinations) and probes the
// kernel, but changes nothing.
func Compile(plan *policy.Plan, h Host) (prog *Prog, flags uintptr, err error) {
	if err := resetArena(); err != nil {
		return nil, 0, err
	}
	defer func() {
		if r := recover(); r != nil {
			if r != errArenaFull {
				panic(r)
			}
			prog, flags, err = nil, 0, errArenaFull
		}
	}()
	if err := eligiblePlan(plan); err != nil {
		return nil, 0, err
	}
	if !plan.Namespaces.User && os.Geteuid() != 0 {
		// Only root may create the other namespaces without a user
		// namespace (bwrap without --unshare-user run by root).
		return nil, 0, ineligible("namespaces without a user namespace need root")
	}
	if m := missingSyscall(); m != "" {
		return nil, 0, ineligible("%s (the direct start needs Linux 5.12+, and a seccomp profile that allows open_tree, move_mount, openat2 and mount_setattr)", m)
	}
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		return nil, 0, ineligible("no /proc/self/fd in the caller's view")
	}
	p := &Prog{statusFD: -1, pidns: plan.Namespaces.PID, parent: os.Getpid()}
	if h.KeepReaping {
		p.statusFD = h.StatusW
	}
	c := &compiler{p: p, b: builder{p: p, steps: &p.Setup}, plan: plan, h: h,
		// The sandbox's uid maps to the caller's: a root caller's sandbox
		// is host uid 0 whatever uid it has inside (--uid 1000 maps 1000
		// to 0), and the kernel's sysctl files check exactly that.
		hostRoot: os.Geteuid() == 0}
	if err := c.compile(); err != nil {
		return nil, 0, err
	}
	// Sealing copies the steps into the arena too: under the recover
	// above, so that a program too big for it is just not eligible.
	p.seal(h.ErrW)
	return p, cloneFlags(plan.Namespaces), nil
}

// eligiblePlan rejects, without touching the system, plans that use
// something only the general init implements.
func eligiblePlan(p *policy.Plan) error {
	ns := p.Namespaces
	switch {
	case !ns.Mount:
		return ineligible("needs a mount namespace")
	case len(p.Command) == 0:
		return ineligible("no command")
	case p.AsPID1:
		return ineligible("--as-pid-1")
	case p.DisableUserns || p.AssertUsernsDisabled:
		return ineligible("user namespace limits")
	case p.Network.Mode == policy.NetProxyOnly && !ns.Net:
		return ineligible("proxy bridges without a network namespace")
	case ns.Net && p.Network.Mode != policy.NetIsolated && p.Network.Mode != policy.NetProxyOnly:
		return ineligible("network mode %q with a network namespace", p.Network.Mode)
	case p.Landlock != nil && p.Landlock.FS:
		return ineligible("Landlock filesystem rules")
	case len(p.Filter.Programs) > 0:
		return ineligible("caller-supplied seccomp programs")
	}
	st := p.Status
	if st.InfoFD != nil || st.JSONStatusFD != nil || st.BlockFD != nil || st.SyncFD != nil ||
		st.UsernsBlockFD != nil || len(st.LockFiles) > 0 {
		return ineligible("status or sync fds, lock files")
	}
	return nil
}

// kernelOK reports whether the syscalls only the direct start uses are
// there: mount_setattr (5.12), open_tree and openat2. Each is
// called with invalid arguments; the kernel's EBADF, EFAULT or EINVAL
// proves it exists and is allowed, while ENOSYS or a container seccomp
// profile's EPERM means the general init is needed (and saves a doomed
// attempt at a direct setup).
func kernelOK() bool { return missingSyscall() == "" }

// missingSyscall names the first of those syscalls that is not usable,
// with the kernel's answer; "" when all are.
func missingSyscall() string {
	// Not move_mount: it checks CAP_SYS_ADMIN before its arguments, so an
	// unprivileged caller always gets EPERM here. (A seccomp profile that
	// refuses it alone makes the child's setup fail; the caller then
	// falls back to the general init.)
	for _, nr := range []uintptr{unix.SYS_MOUNT_SETATTR, unix.SYS_OPEN_TREE, unix.SYS_OPENAT2} {
		_, _, e := unix.Syscall6(nr, ^uintptr(0), 0, ^uintptr(0), 0, 0, 0)
		if e != unix.EBADF && e != unix.EINVAL && e != unix.EFAULT {
			return fmt.Sprintf("%s: %v", syscallNames[nr], e)
		}
	}
	return ""
}

func cloneFlags(ns policy.Namespaces) uintptr {
	var f uintptr
	for _, x := range []struct {
		on   bool
		flag uintptr
	}{
		{ns.User, unix.CLONE_NEWUSER}, {ns.Mount, unix.CLONE_NEWNS}, {ns.PID, unix.CLONE_NEWPID},
		{ns.Net, unix.CLONE_NEWNET}, {ns.IPC, unix.CLONE_NEWIPC}, {ns.UTS, unix.CLONE_NEWUTS},
		{ns.Cgroup, unix.CLONE_NEWCGROUP},
	} {
		if x.on {
			f |= x.flag
		}
	}
	return f
}

type compiler struct {
	p        *Prog
	b        builder
	plan     *policy.Plan
	h        Host
	hostRoot bool
	layers   []layer
	created  map[string]entry // entries made on our own tmpfs layers
	layerAt  map[string]int   // destination -> index in layers of the latest mount there
	sources  map[string]resolvedSource
	// hostCreated are the ghosts: host path -> is a directory.
	hostCreated map[string]bool
	// mounted lists the destination of every mount made, in order;
	// firstGhostMount is its length when the first ghost was created.
	mounted         []string
	firstGhostMount int
	dataSeq         int
}

// entry is something the setup creates on one of its own tmpfs layers.
type entry struct {
	kind   entryKind
	target string // eLink: the symlink's target
	// gen is len(layers) when it was made: a layer pushed later at one
	// of its parents hides it.
	gen int
}

type entryKind int

const (
	eDir entryKind = iota + 1
	eFile
	eLink
)

type layerKind int

const (
	lScratch layerKind = iota // the scratch tmpfs or a tmpfs op: we may create entries
	lHost                     // a host bind: entries exist or not, never created by us
	lSealed                   // /dev, /proc, data binds: nothing below may be addressed
)

type layer struct {
	dest string
	kind layerKind
	host string // lHost: the bind's resolved source
}

func (c *compiler) compile() error {
	b := &c.b
	c.created = map[string]entry{}
	c.hostCreated = map[string]bool{}
	c.layerAt = map[string]int{}
	c.sources = map[string]resolvedSource{}
	c.pushLayer(layer{dest: "/", kind: lScratch})

	pdeath := int32(-1)
	if c.plan.NewSession {
		// Own process group: a terminal's ^C reaches only zbox, which
		// relays it once. Without a new session (bwrap's default) the
		// sandbox stays in zbox's group, the terminal's foreground one:
		// the command can read the terminal and gets ^C from it.
		b.sys(unix.SYS_SETPGID, 0, 0)
	}
	if c.plan.DieWithParent {
		// The sandbox ends when zbox does, even by SIGKILL: pid 1 dies,
		// and with it the pid namespace. If zbox died before the prctl,
		// its end of the life pipe is already closed and the read sees
		// EOF instead of EAGAIN. With ghosts to remove, pid 1 gets
		// SIGPWR instead and cleans up before it ends the sandbox (the
		// instruction is patched once the mounts are compiled).
		pdeath = b.next()
		b.sys(unix.SYS_PRCTL, unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL))
		b.sys(unix.SYS_CLOSE, uintptr(c.h.LifeW))
		skip := b.next() + 2
		b.sys(unix.SYS_READ, uintptr(c.h.LifeR), c.p.buf(8), 1).jumpOn(skip, unix.EAGAIN)
		b.sys(unix.SYS_EXIT_GROUP, exitSetupCode)
		b.sys(unix.SYS_CLOSE, uintptr(c.h.LifeR))
	}
	c.joinCgroups()
	if c.plan.Namespaces.User {
		c.idMaps()
	}
	if err := c.mounts(); err != nil {
		return err
	}
	if len(c.p.Ghosts) > 0 && c.h.KeepReaping {
		// zbox returns before the sandbox ends: nobody would remove them.
		return ineligible("mount points to create on the host, with the command's orphans kept running")
	}
	if len(c.p.Ghosts) > 0 || len(c.h.CgroupDirs) > 0 {
		c.cleanup()
		if pdeath >= 0 {
			b.at(pdeath).Args[1] = uintptr(unix.SIGPWR)
		}
	}
	if c.plan.Hostname != "" {
		ptr, n := c.p.bytes([]byte(c.plan.Hostname))
		b.sys(unix.SYS_SETHOSTNAME, ptr, n)
	}
	if c.plan.Namespaces.Net {
		c.loopbackUp()
	}
	if c.plan.Network.Mode == policy.NetProxyOnly {
		if len(c.h.BridgePorts) == 0 {
			return ineligible("proxy bridges without ports")
		}
		c.bridges()
	}
	// pid 1 must not be ptraced or read through /proc by the target (same
	// uid): non-dumpable, as the general init.
	b.sys(unix.SYS_PRCTL, unix.PR_SET_DUMPABLE, 0)
	env, err := c.chdir()
	if err != nil {
		return err
	}
	c.closeFDs()
	c.title()

	c.p.mask = sigbit(unix.SIGCHLD) | sigbit(unix.SIGINT) | sigbit(unix.SIGTERM) | sigbit(unix.SIGHUP) |
		sigbit(unix.SIGQUIT) | sigbit(unix.SIGUSR1) | sigbit(unix.SIGUSR2) | sigbit(unix.SIGWINCH) | sigbit(unix.SIGPWR)
	return c.target(env)
}

func sigbit(s unix.Signal) uint64 { return 1 << (uint(s) - 1) }

// idMaps maps the caller's uid and gid (or the plan's) with single-id
// maps, setgroups denied: the only maps an unprivileged process may
// write, and it may write them for itself from inside the namespace.
func (c *compiler) idMaps() {
	inUID, inGID := c.h.UID, c.h.GID
	if c.plan.UID != nil {
		inUID = *c.plan.UID
	}
	if c.plan.GID != nil {
		inGID = *c.plan.GID
	}
	c.writeFile("/proc/self/setgroups", "deny")
	c.writeFile("/proc/self/uid_map", fmt.Sprintf("%d %d 1\n", inUID, c.h.UID))
	c.writeFile("/proc/self/gid_map", fmt.Sprintf("%d %d 1\n", inGID, c.h.GID))
}

func (c *compiler) writeFile(path, data string) {
	b := &c.b
	b.sys(unix.SYS_OPENAT, atFDCWD, c.p.cstr(path), unix.O_WRONLY|unix.O_CLOEXEC).save(rTmp)
	ptr, n := c.p.bytes([]byte(data))
	b.sys(unix.SYS_WRITE, 0, ptr, n).reg(0, rTmp)
	b.sys(unix.SYS_CLOSE).reg(0, rTmp)
}

// mounts is mountns.Build, decided ahead: the same scratch tmpfs and two
// pivots, and for each op the same syscalls — except that destinations
// on host filesystems are opened with openat2(RESOLVE_NO_SYMLINKS) and
// mounted on through that fd, so a symlink swapped in after Compile
// looked at the path fails the setup instead of redirecting a mount.
func (c *compiler) mounts() error {
	b := &c.b
	scratch, err := mountns.ScratchDir()
	if err != nil {
		return ineligible("%v", err)
	}
	empty := c.p.cstr("")
	// See mountns.(*builder).prepare for why each step is there.
	b.sys(unix.SYS_MOUNT, empty, c.p.cstr("/"), 0, unix.MS_REC|unix.MS_PRIVATE, 0)
	b.sys(unix.SYS_MOUNT, c.p.cstr("tmpfs"), c.p.cstr(scratch), c.p.cstr("tmpfs"), unix.MS_NODEV|unix.MS_NOSUID, c.p.cstr("mode=0755"))
	b.sys(unix.SYS_CHDIR, c.p.cstr(scratch))
	nr, or := c.p.cstr("newroot"), c.p.cstr("oldroot")
	b.sys(unix.SYS_MKDIRAT, atFDCWD, nr, 0o755)
	b.sys(unix.SYS_MKDIRAT, atFDCWD, or, 0o755)
	b.sys(unix.SYS_MOUNT, nr, nr, 0, unix.MS_BIND|unix.MS_REC, 0)
	b.sys(unix.SYS_PIVOT_ROOT, c.p.cstr("."), or)
	b.sys(unix.SYS_CHDIR, c.p.cstr("/"))

	for i := range c.plan.Mounts {
		if err := c.op(&c.plan.Mounts[i]); err != nil {
			return err
		}
	}

	// See mountns.(*builder).finish.
	b.sys(unix.SYS_MOUNT, empty, c.p.cstr(oldRoot), 0, unix.MS_REC|unix.MS_PRIVATE, 0)
	b.sys(unix.SYS_UMOUNT2, c.p.cstr(oldRoot), unix.MNT_DETACH)
	b.sys(unix.SYS_CHDIR, c.p.cstr(newRoot))
	dot := c.p.cstr(".")
	b.sys(unix.SYS_PIVOT_ROOT, dot, dot)
	b.sys(unix.SYS_UMOUNT2, dot, unix.MNT_DETACH)
	b.sys(unix.SYS_CHDIR, c.p.cstr("/"))
	return nil
}

func (c *compiler) op(op *policy.MountOp) error {
	switch op.Kind {
	case policy.OpBind, policy.OpROBind, policy.OpDevBind:
		return c.bind(op)
	case policy.OpTmpfs:
		return c.tmpfs(op)
	case policy.OpDev:
		return c.dev(op)
	case policy.OpProc:
		return c.proc(op)
	case policy.OpBindData, policy.OpROBindData:
		return c.bindData(op)
	case policy.OpDir:
		return c.dir(op)
	case policy.OpSymlink:
		return c.symlink(op)
	case policy.OpFile:
		return c.file(op)
	case policy.OpChmod:
		d, err := c.existing(op.Dest)
		if err != nil {
			return err
		}
		// Through the fd: a symlink swapped in cannot redirect it.
		c.openDest(d)
		c.b.sys(unix.SYS_FCHMODAT, atFDCWD, c.destPath(), uintptr(op.Mode(0o755)), 0)
		c.b.sys(unix.SYS_CLOSE).reg(0, rDest)
		return nil
	case policy.OpMqueue:
		d, err := c.mountPoint(op.Dest, true, mountns.ParentMode(op))
		if err != nil {
			return err
		}
		c.mountFS("mqueue", d, unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
		c.mounted = append(c.mounted, d)
		c.pushLayer(layer{dest: d, kind: lSealed})
		return nil
	case policy.OpRemountRO:
		d, err := c.existing(op.Dest)
		if err != nil {
			return err
		}
		c.openDest(d)
		c.b.sys(unix.SYS_MOUNT_SETATTR, 0, c.p.cstr(""), unix.AT_EMPTY_PATH,
			c.mountAttr(unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV), sizeofMountAttr).reg(0, rDest)
		c.b.sys(unix.SYS_CLOSE).reg(0, rDest)
		return nil
	}
	return ineligible("mount op %s", op.Kind)
}

func (c *compiler) mountAttr(set uint64) uintptr {
	return ptr(c.p, &unix.MountAttr{Attr_set: set})
}

// top is the layer a destination lands in: the latest mount whose
// destination is the path or one of its parents (a later mount at a
// shallower path hides earlier deeper ones).
func (c *compiler) top(d string) layer {
	return c.layers[c.topIndex(d)]
}

// topIndex is top's index in c.layers: the highest index among the
// layers mounted at d or at one of its parents (a map lookup per path
// component, so that a thousand binds stay linear).
func (c *compiler) topIndex(d string) int {
	best := 0
	if i, ok := c.layerAt["/"]; ok {
		best = i
	}
	for p := d; p != "/" && p != "." && p != ""; p = filepath.Dir(p) {
		if i, ok := c.layerAt[p]; ok && i > best {
			best = i
		}
	}
	return best
}

// pushLayer records a mount. What was created below its destination
// before is hidden from now on (see resolve: entries remember the layer
// count when they were made).
func (c *compiler) pushLayer(l layer) {
	c.layers = append(c.layers, l)
	c.layerAt[l.dest] = len(c.layers) - 1
}

// target resolves a destination as the general init would find it and
// says whether it exists (and is a directory). Anything that would need
// symlink resolution, or the creation of a mount point on a host
// filesystem, is not eligible.
func (c *compiler) resolve(dest string) (exists, isDir bool, err error) {
	if !filepath.IsAbs(dest) {
		return false, false, ineligible("relative destination %q", dest)
	}
	d := filepath.Clean(dest)
	l := c.top(d)
	rel := strings.TrimPrefix(strings.TrimPrefix(d, l.dest), "/")
	switch l.kind {
	case lSealed:
		if rel != "" {
			return false, false, ineligible("destination %s under %s", d, l.dest)
		}
		return true, true, nil
	case lHost:
		h := l.host
		if rel != "" {
			comps := strings.Split(rel, "/")
			for i, comp := range comps {
				h = filepath.Join(h, comp)
				if dir, ok := c.hostCreated[h]; ok {
					// A ghost an earlier op of this sandbox creates.
					if i == len(comps)-1 {
						return true, dir, nil
					}
					return false, false, ineligible("destination %s below a created mount point", d)
				}
				fi, err := os.Lstat(h)
				if err != nil {
					if os.IsNotExist(err) && i == len(comps)-1 {
						return false, false, nil // a ghost: see mountPoint
					}
					return false, false, ineligible("destination %s missing on the host", d)
				}
				if fi.Mode()&os.ModeSymlink != 0 {
					return false, false, ineligible("symlink in destination %s", d)
				}
			}
		}
		fi, err := os.Stat(h)
		if err != nil {
			return false, false, ineligible("destination %s: %v", d, err)
		}
		return true, fi.IsDir(), nil
	}
	// Our own tmpfs: only what we created exists.
	if rel == "" {
		return true, true, nil
	}
	p := l.dest
	comps := strings.Split(rel, "/")
	for i, comp := range comps {
		p = filepath.Join(p, comp)
		e, ok := c.visible(p)
		if !ok {
			if i < len(comps)-1 {
				return false, false, nil // parents to create too
			}
			return false, false, nil
		}
		if e.kind == eLink {
			return false, false, ineligible("symlink in destination %s", d)
		}
		if i < len(comps)-1 && e.kind != eDir {
			return false, false, ineligible("destination %s below a file", d)
		}
		if i == len(comps)-1 {
			return true, e.kind == eDir, nil
		}
	}
	return false, false, nil
}

// parents creates the missing parents of d on our own tmpfs layer l, as
// mountns.(*builder).mkdirAll does: mkdir 0700, then the mode bwrap
// gives missing parents, umask or not.
func (c *compiler) parents(l layer, d string, parentMode uint32) {
	p := l.dest
	rel := strings.TrimPrefix(strings.TrimPrefix(d, l.dest), "/")
	comps := strings.Split(rel, "/")
	for _, comp := range comps[:len(comps)-1] {
		p = filepath.Join(p, comp)
		if _, ok := c.visible(p); ok {
			continue
		}
		path := c.p.cstr(newRoot + p)
		c.b.sys(unix.SYS_MKDIRAT, atFDCWD, path, 0o700).ignore(unix.EEXIST)
		c.b.sys(unix.SYS_FCHMODAT, atFDCWD, path, uintptr(parentMode), 0)
		c.created[p] = c.entry(eDir, "")
	}
}

// mountPoint makes sure dest exists as a directory (dir) or a file,
// creating it and its parents on our own tmpfs where missing.
func (c *compiler) mountPoint(dest string, dir bool, parentMode uint32) (string, error) {
	d := filepath.Clean(dest)
	exists, isDir, err := c.resolve(d)
	if err != nil {
		return "", err
	}
	if exists {
		if isDir != dir {
			return "", ineligible("destination %s has the wrong type", d)
		}
		return d, nil
	}
	l := c.top(d)
	if l.kind == lHost {
		return d, c.ghost(l, d, dir)
	}
	// Parents: only reachable on a scratch layer (resolve refused the rest).
	c.parents(l, d, parentMode)
	if dir {
		c.b.sys(unix.SYS_MKDIRAT, atFDCWD, c.p.cstr(newRoot+d), 0o755).ignore(unix.EEXIST)
		c.created[d] = c.entry(eDir, "")
	} else {
		c.b.sys(unix.SYS_OPENAT, atFDCWD, c.p.cstr(newRoot+d), unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC, 0o444).save(rTmp)
		c.b.sys(unix.SYS_CLOSE).reg(0, rTmp)
		c.created[d] = c.entry(eFile, "")
	}
	return d, nil
}

// dir is --dir: an existing directory is left as it is; a missing one
// (on our own tmpfs only) is made with its parents, then given the op's
// mode exactly (sticky and setgid bits included, no umask).
func (c *compiler) dir(op *policy.MountOp) error {
	d := filepath.Clean(op.Dest)
	exists, isDir, err := c.resolve(d)
	if err != nil {
		return err
	}
	if exists {
		if !isDir {
			return ineligible("--dir over a file: %s", d)
		}
		return nil
	}
	l := c.top(d)
	if l.kind != lScratch {
		return ineligible("directory %s to create on the host", d)
	}
	c.parents(l, d, mountns.ParentMode(op))
	path := c.p.cstr(newRoot + d)
	c.b.sys(unix.SYS_MKDIRAT, atFDCWD, path, 0o700)
	c.b.sys(unix.SYS_FCHMODAT, atFDCWD, path, uintptr(op.Mode(0o755)), 0)
	c.created[d] = c.entry(eDir, "")
	return nil
}

// lastComponent resolves the parent of d and reports what is at d itself,
// without following it: on our own tmpfs only (creating there is ours).
func (c *compiler) lastComponent(d string) (l layer, e entry, exists bool, err error) {
	l = c.top(d)
	if l.kind != lScratch || d == l.dest {
		return l, entry{}, false, ineligible("%s is not on a tmpfs of the sandbox's own", d)
	}
	if pe, pdir, perr := c.resolve(filepath.Dir(d)); perr != nil {
		return l, entry{}, false, perr
	} else if pe && !pdir {
		return l, entry{}, false, ineligible("parent of %s is not a directory", d)
	}
	e, exists = c.visible(d)
	return l, e, exists, nil
}

// symlink is --symlink: an identical existing link is accepted, as bwrap
// does.
func (c *compiler) symlink(op *policy.MountOp) error {
	d := filepath.Clean(op.Dest)
	l, e, exists, err := c.lastComponent(d)
	if err != nil {
		return err
	}
	if exists {
		if e.kind == eLink && e.target == op.Source {
			return nil
		}
		return ineligible("symlink %s over an existing entry", d)
	}
	c.parents(l, d, mountns.ParentMode(op))
	c.b.sys(unix.SYS_SYMLINKAT, c.p.cstr(op.Source), atFDCWD, c.p.cstr(newRoot+d))
	c.created[d] = c.entry(eLink, op.Source)
	return nil
}

// file is --file: a file holding the op's data, with its mode exactly.
func (c *compiler) file(op *policy.MountOp) error {
	d := filepath.Clean(op.Dest)
	l, e, exists, err := c.lastComponent(d)
	if err != nil {
		return err
	}
	if exists && e.kind != eFile {
		return ineligible("file %s over a directory or a link", d)
	}
	c.parents(l, d, mountns.ParentMode(op))
	b := &c.b
	b.sys(unix.SYS_OPENAT, atFDCWD, c.p.cstr(newRoot+d), unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, 0o600).save(rTmp)
	if len(op.Data) > 0 {
		ptr, n := c.p.bytes(op.Data)
		b.sys(unix.SYS_WRITE, 0, ptr, n).reg(0, rTmp)
	}
	b.sys(unix.SYS_FCHMOD, 0, uintptr(op.Mode(0o666))).reg(0, rTmp)
	b.sys(unix.SYS_CLOSE).reg(0, rTmp)
	c.created[d] = c.entry(eFile, "")
	return nil
}

func (c *compiler) entry(k entryKind, target string) entry {
	return entry{kind: k, target: target, gen: len(c.layers)}
}

// visible looks up an entry we created, if no later mount hides it.
func (c *compiler) visible(p string) (entry, bool) {
	e, ok := c.created[p]
	if !ok || e.gen <= c.topIndex(filepath.Dir(p)) {
		return entry{}, false
	}
	return e, true
}

// maxGhosts bounds the mount points a direct start creates on the host.
const maxGhosts = 8

// ghost creates the missing mount point d in a host directory (bwrap
// does the same and leaves it behind; Codex protects a missing
// <cwd>/.codex this way). The child reports each one's device and inode
// on the error pipe as soon as it exists; zbox removes them once the
// sandbox is gone if they are still what was created (mountns.Ghost), and
// pid 1 removes them itself when zbox dies first (see Prog.Cleanup).
func (c *compiler) ghost(l layer, d string, dir bool) error {
	idx := len(c.p.Ghosts)
	if idx == 0 {
		c.firstGhostMount = len(c.mounted)
	}
	if idx >= maxGhosts {
		return ineligible("more than %d mount points to create on the host", maxGhosts)
	}
	host := filepath.Join(l.host, strings.TrimPrefix(d, l.dest))
	build := c.p.cstr(newRoot + d)
	b := &c.b
	stat := statAddr()
	if dir {
		b.sys(unix.SYS_MKDIRAT, atFDCWD, build, 0o755)
	} else {
		b.sys(unix.SYS_OPENAT, atFDCWD, build, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC, 0o444).save(rTmp)
		b.sys(unix.SYS_CLOSE).reg(0, rTmp)
	}
	b.sys(sysFstatat, atFDCWD, build, stat, unix.AT_SYMLINK_NOFOLLOW)
	b.add(kGhost, uintptr(idx))
	c.hostCreated[host] = dir
	c.p.Ghosts = append(c.p.Ghosts, mountns.Ghost{HostPath: host, BuildPath: newRoot + d, Path: d, Dir: dir})
	return nil
}

// cleanup is pid 1's removal of the ghosts when zbox dies before the
// sandbox ends (otherwise zbox removes them from the host side): newest
// first, detach what is mounted on each, then remove it if it is still
// the entry the setup created. Both the path after the pivot and the one
// during the build are tried; the identity check makes the wrong one a
// no-op.
func (c *compiler) cleanup() {
	b := builder{p: c.p, steps: &c.p.Cleanup}
	if c.h.KeepGhosts {
		c.cleanupCgroups(&b)
		return
	}
	// A ghost is a mount point in this namespace (unlink: EBUSY) until
	// every mount on it is detached, including one hidden under a later
	// mount (Codex binds /dev/null over <cwd>/.codex, binds <cwd> over
	// itself, then masks .codex again). Only mounts made since the first
	// ghost can cover one: detach those, newest first. The layers the
	// ghosts live in are older and stay, so each ghost's path leads to
	// its host directory again.
	for k := len(c.mounted) - 1; k >= c.firstGhostMount; k-- {
		if d := c.mounted[k]; d != "/" {
			b.sys(unix.SYS_UMOUNT2, c.p.cstr(d), unix.MNT_DETACH).Ignore = anyErrno
		}
	}
	for i := len(c.p.Ghosts) - 1; i >= 0; i-- {
		g := c.p.Ghosts[i]
		flags := uintptr(0)
		if g.Dir {
			flags = unix.AT_REMOVEDIR
		}
		b.add(kUnlinkSame, c.p.cstr(g.Path), uintptr(i), flags)
	}
	c.cleanupCgroups(&b)
}

// cleanupCgroups: the limits' cgroups last, as the general init does:
// pid 1 moves back to each parent cgroup (a cgroup with a task cannot
// go), then removes the directory, through the fds joinCgroups opened.
func (c *compiler) cleanupCgroups(b *builder) {
	zero := c.p.cstr("0")
	for i, d := range c.h.CgroupDirs {
		procs, parent := c.cgroupFD(i)
		b.sys(unix.SYS_WRITE, uintptr(procs), zero, 1).Ignore = anyErrno
		b.sys(unix.SYS_UNLINKAT, uintptr(parent), c.p.cstr(filepath.Base(d)), unix.AT_REMOVEDIR).Ignore = anyErrno
	}
}

// joinCgroups moves pid 1 into the limits' cgroups before it starts
// anything (the general init is put there by zbox before it reads its
// config; here the child does it itself, so that nothing it forks can
// start outside). For the clean-up when zbox dies (see cleanup), it also
// keeps each parent's cgroup.procs and the parent directory open at fixed
// numbers: after the pivot the host's cgroup file system is out of reach
// (or read-only), but these fds still lead into it.
func (c *compiler) joinCgroups() {
	b := &c.b
	zero := c.p.cstr("0")
	for i, d := range c.h.CgroupDirs {
		b.sys(unix.SYS_OPENAT, atFDCWD, c.p.cstr(filepath.Join(d, "cgroup.procs")), unix.O_WRONLY|unix.O_CLOEXEC).save(rTmp)
		b.sys(unix.SYS_WRITE, 0, zero, 1).reg(0, rTmp)
		b.sys(unix.SYS_CLOSE).reg(0, rTmp)
		procs, parent := c.cgroupFD(i)
		b.sys(unix.SYS_OPENAT, atFDCWD, c.p.cstr(filepath.Join(filepath.Dir(d), "cgroup.procs")), unix.O_WRONLY|unix.O_CLOEXEC).save(rTmp)
		b.sys(unix.SYS_DUP3, 0, uintptr(procs), unix.O_CLOEXEC).reg(0, rTmp)
		b.sys(unix.SYS_CLOSE).reg(0, rTmp)
		b.sys(unix.SYS_OPENAT, atFDCWD, c.p.cstr(filepath.Dir(d)), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC).save(rTmp)
		b.sys(unix.SYS_DUP3, 0, uintptr(parent), unix.O_CLOEXEC).reg(0, rTmp)
		b.sys(unix.SYS_CLOSE).reg(0, rTmp)
	}
}

// cgroupFD are the fixed fd numbers of cgroup i's parent cgroup.procs
// and parent directory: above every fd the child must keep or still
// uses (dup3 onto them closes whatever zbox had there, in the child only).
func (c *compiler) cgroupFD(i int) (procs, parent int) {
	top := c.topFD()
	return top + 1 + 2*i, top + 2 + 2*i
}

// topFD is the highest fd number the child must keep or still uses.
func (c *compiler) topFD() int {
	top := max(c.h.ErrW, c.h.StatusW, c.h.LifeR, c.h.LifeW, c.h.SpareFD, 2)
	if len(c.h.BridgePorts) > 0 {
		top = max(top, c.h.BridgeFD)
	}
	for _, fd := range c.plan.Status.KeepFDs {
		top = max(top, fd)
	}
	return top
}

// bridgeFD is the fixed fd number of bridge listener i, above the
// cgroup fds; the command's process uses bridgeFD(0) for its
// connect-notify listener (pid 1 has closed the listeners by then).
func (c *compiler) bridgeFD(i int) int {
	return c.topFD() + 1 + 2*len(c.h.CgroupDirs) + i
}

// bridges opens the proxy bridges' listeners in the sandbox's network
// namespace (lo is up) and sends them to zbox, which accepts on them
// from the host side (the general init's proxyListeners does the same
// with port 0). Each is moved to a fixed fd so that the SCM_RIGHTS
// message can be laid out here.
func (c *compiler) bridges() {
	b := &c.b
	n := len(c.h.BridgePorts)
	fds := make([]int, n)
	for i, port := range c.h.BridgePorts {
		fds[i] = c.bridgeFD(i)
		sa := make([]byte, 16) // struct sockaddr_in
		binary.LittleEndian.PutUint16(sa[0:], unix.AF_INET)
		binary.BigEndian.PutUint16(sa[2:], uint16(port))
		copy(sa[4:], []byte{127, 0, 0, 1})
		saAddr, saLen := c.p.bytes(sa)
		b.sys(unix.SYS_SOCKET, unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0).save(rTmp)
		b.sys(unix.SYS_DUP3, 0, uintptr(fds[i]), unix.O_CLOEXEC).reg(0, rTmp)
		b.sys(unix.SYS_CLOSE).reg(0, rTmp)
		b.sys(unix.SYS_BIND, uintptr(fds[i]), saAddr, saLen)
		b.sys(unix.SYS_LISTEN, uintptr(fds[i]), 512)
	}
	b.sys(unix.SYS_SENDMSG, uintptr(c.h.BridgeFD), c.fdMessage('L', fds), unix.MSG_NOSIGNAL)
	b.sys(unix.SYS_CLOSE_RANGE, uintptr(fds[0]), uintptr(fds[n-1]), 0)
}

// fdMessage lays out, in the arena, a struct msghdr carrying the one
// byte tag and fds as SCM_RIGHTS, and returns its address.
func (c *compiler) fdMessage(tag byte, fds []int) uintptr {
	tagAddr, tagLen := c.p.bytes([]byte{tag})
	iov := &struct{ Base, Len uintptr }{tagAddr, tagLen}
	ctl := make([]byte, unix.CmsgSpace(4*len(fds)))
	// struct cmsghdr: size_t len; int level; int type; then the fds.
	binary.NativeEndian.PutUint64(ctl[0:], uint64(unix.CmsgLen(4*len(fds))))
	binary.NativeEndian.PutUint32(ctl[8:], unix.SOL_SOCKET)
	binary.NativeEndian.PutUint32(ctl[12:], unix.SCM_RIGHTS)
	for i, fd := range fds {
		binary.NativeEndian.PutUint32(ctl[16+4*i:], uint32(fd))
	}
	ctlAddr, ctlLen := c.p.bytes(ctl)
	// struct msghdr with plain words (no Go pointer may live in the arena).
	msg := &struct {
		Name       uintptr
		Namelen    uint32
		_          uint32
		Iov        uintptr
		Iovlen     uintptr
		Control    uintptr
		Controllen uintptr
		Flags      int32
		_          int32
	}{Iov: ptr(c.p, iov), Iovlen: 1, Control: ctlAddr, Controllen: ctlLen}
	return ptr(c.p, msg)
}

// existing resolves a destination that must already exist.
func (c *compiler) existing(dest string) (string, error) {
	d := filepath.Clean(dest)
	exists, _, err := c.resolve(d)
	if err != nil {
		return "", err
	}
	if !exists {
		return "", ineligible("destination %s does not exist", d)
	}
	return d, nil
}

// openDest opens the destination into rDest without following any
// symlink.
func (c *compiler) openDest(d string) {
	how := &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_NO_SYMLINKS}
	c.b.sys(unix.SYS_OPENAT2, atFDCWD, c.p.cstr(newRoot+d), ptr(c.p, how), unsafe.Sizeof(*how)).save(rDest)
}

// destPath moves rDest to the fixed fd Host.SpareFD and returns that
// fd's magic link, for a mount(2) target (the name is decided here, so
// the child need not format numbers).
func (c *compiler) destPath() uintptr {
	c.b.sys(unix.SYS_DUP3, 0, uintptr(c.h.SpareFD), unix.O_CLOEXEC).reg(0, rDest)
	return c.p.cstr(fdPrefix + strconv.Itoa(c.h.SpareFD))
}

// attach moves the detached tree in rTree onto rDest and closes both.
func (c *compiler) attach() {
	empty := c.p.cstr("")
	c.b.sys(unix.SYS_MOVE_MOUNT, 0, empty, 0, empty, unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH).reg(0, rTree).reg(2, rDest)
	c.b.sys(unix.SYS_CLOSE).reg(0, rTree)
	c.b.sys(unix.SYS_CLOSE).reg(0, rDest)
}

// bind: a recursive clone of the source (open_tree), its flags added on
// the whole detached tree (mount_setattr AT_RECURSIVE, so never a
// quadratic walk of mountinfo), attached on the destination.
func (c *compiler) bind(op *policy.MountOp) error {
	if op.FD != nil {
		return ineligible("bind from an fd")
	}
	src, isDir, err := c.source(op.Source)
	if err != nil {
		if op.Try && errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return ineligible("bind source %s: %v", op.Source, err)
	}
	d, err := c.mountPoint(op.Dest, isDir, mountns.ParentMode(op))
	if err != nil {
		return err
	}
	attr := uint64(unix.MOUNT_ATTR_NOSUID)
	if op.Kind != policy.OpDevBind {
		attr |= unix.MOUNT_ATTR_NODEV
	}
	if op.Kind == policy.OpROBind {
		attr |= unix.MOUNT_ATTR_RDONLY
	}
	b := &c.b
	b.sys(unix.SYS_OPEN_TREE, atFDCWD, c.p.cstr(oldRoot+src), unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE).save(rTree)
	b.sys(unix.SYS_MOUNT_SETATTR, 0, c.p.cstr(""), unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, c.mountAttr(attr), sizeofMountAttr).reg(0, rTree)
	c.openDest(d)
	c.attach()
	c.mounted = append(c.mounted, d)
	c.pushLayer(layer{dest: d, kind: lHost, host: src})
	return nil
}

// source resolves a bind source in the host view (bwrap step 28), once
// per distinct source.
func (c *compiler) source(p string) (string, bool, error) {
	if r, ok := c.sources[p]; ok {
		return r.path, r.dir, r.err
	}
	src, err := filepath.EvalSymlinks(p)
	dir := false
	if err == nil {
		var fi os.FileInfo
		if fi, err = os.Stat(src); err == nil {
			dir = fi.IsDir()
		}
	}
	c.sources[p] = resolvedSource{src, dir, err}
	return src, dir, err
}

type resolvedSource struct {
	path string
	dir  bool
	err  error
}

func (c *compiler) tmpfs(op *policy.MountOp) error {
	d, err := c.mountPoint(op.Dest, true, mountns.ParentMode(op))
	if err != nil {
		return err
	}
	data := fmt.Sprintf("mode=%#o", op.Mode(0o755))
	if op.Size > 0 {
		data += fmt.Sprintf(",size=%d", op.Size)
	}
	c.mountFS("tmpfs", d, unix.MS_NOSUID|unix.MS_NODEV, data)
	c.mounted = append(c.mounted, d)
	c.pushLayer(layer{dest: d, kind: lScratch})
	return nil
}

// mountFS mounts a fresh filesystem on d through its fd.
func (c *compiler) mountFS(fstype, d string, flags uintptr, data string) {
	c.openDest(d)
	target := c.destPath()
	t := c.p.cstr(fstype)
	c.b.sys(unix.SYS_MOUNT, t, target, t, flags, c.p.cstr(data))
	c.b.sys(unix.SYS_CLOSE).reg(0, rDest)
}

// dev: see mountns.(*builder).dev; the same tree.
func (c *compiler) dev(op *policy.MountOp) error {
	d, err := c.mountPoint(op.Dest, true, mountns.ParentMode(op))
	if err != nil {
		return err
	}
	// nosuid but not nodev: the binds below are devices.
	c.mountFS("tmpfs", d, unix.MS_NOSUID, "mode=0755")
	c.mounted = append(c.mounted, d)
	b := &c.b
	at := atFDCWD
	for _, n := range mountns.DevNodes {
		dst := c.p.cstr(newRoot + filepath.Join(d, n))
		b.sys(unix.SYS_OPENAT, at, dst, unix.O_CREAT|unix.O_WRONLY|unix.O_CLOEXEC, 0o444).save(rTmp)
		b.sys(unix.SYS_CLOSE).reg(0, rTmp)
		// A host node missing (/dev/tty in some containers) is skipped.
		mnt := b.sys(unix.SYS_MOUNT, c.p.cstr(oldRoot+"/dev/"+n), dst, 0, unix.MS_BIND, 0)
		unlink := b.next()
		mnt.jumpOn(unlink, unix.ENOENT)
		mnt.OKTo = unlink + 1
		b.sys(unix.SYS_UNLINKAT, at, dst, 0).OKTo = unlink + 2
		// Read-only: the host's device inode (chmod, utimes), not its I/O
		// (mountns/dev_linux.go says why).
		b.sys(unix.SYS_MOUNT_SETATTR, at, dst, 0, c.mountAttr(unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_RDONLY), sizeofMountAttr)
	}
	for _, l := range mountns.DevLinks {
		b.sys(unix.SYS_SYMLINKAT, c.p.cstr(l[0]), at, c.p.cstr(newRoot+filepath.Join(d, l[1])))
	}
	b.sys(unix.SYS_MKDIRAT, at, c.p.cstr(newRoot+filepath.Join(d, "shm")), 0o755)
	pts := c.p.cstr(newRoot + filepath.Join(d, "pts"))
	b.sys(unix.SYS_MKDIRAT, at, pts, 0o755)
	devpts := c.p.cstr("devpts")
	b.sys(unix.SYS_MOUNT, devpts, pts, devpts, unix.MS_NOSUID|unix.MS_NOEXEC, c.p.cstr(mountns.DevptsData))
	// Later ops may use this tmpfs (bwrap's --mqueue /dev/mqueue,
	// --tmpfs /dev/shm): it is ours, with what was just made in it. A
	// missing host node (skipped above) shows up as a failed mount at
	// run time, and then the general init takes over.
	c.pushLayer(layer{dest: d, kind: lScratch})
	for _, n := range mountns.DevNodes {
		c.created[filepath.Join(d, n)] = c.entry(eFile, "")
	}
	for _, l := range mountns.DevLinks {
		c.created[filepath.Join(d, l[1])] = c.entry(eLink, l[0])
	}
	c.created[filepath.Join(d, "shm")] = c.entry(eDir, "")
	c.created[filepath.Join(d, "pts")] = c.entry(eDir, "")
	c.pushLayer(layer{dest: filepath.Join(d, "pts"), kind: lSealed})
	return nil
}

// proc: see mountns.(*builder).proc; the same attempts in the same order
// (fresh, fresh read-only on EPERM, then the op's fallback).
func (c *compiler) proc(op *policy.MountOp) error {
	d, err := c.mountPoint(op.Dest, true, mountns.ParentMode(op))
	if err != nil {
		return err
	}
	b := &c.b
	c.openDest(d)
	target := c.destPath()
	proc := c.p.cstr("proc")
	const flags = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	// Step indices: 0 fresh, 1 fresh read-only, 2.. fallback, then
	// protect.
	// Steps: fresh, fresh read-only (after EPERM), the fallback (after
	// any refusal), the protection binds, then END. Indices, not
	// pointers: appending may move the slice.
	iFresh := b.next()
	b.sys(unix.SYS_MOUNT, proc, target, proc, flags, 0).jumpOn(iFresh+1, unix.EPERM)
	b.at(iFresh).jumpOn(iFresh+2, unix.EINVAL, unix.EACCES)
	// A failed read-only attempt still falls back on the first refusal.
	b.sys(unix.SYS_MOUNT, proc, target, proc, flags|unix.MS_RDONLY, 0).jumpAny(iFresh + 2)
	skip := -1
	switch op.Fallback {
	case policy.ProcSkip:
		// Nothing mounted: /proc stays what the earlier ops made it.
		skip = int(b.next())
		b.add(kSet, 0).save(rTmp)
	case policy.ProcBindHost:
		b.sys(unix.SYS_OPEN_TREE, atFDCWD, c.p.cstr(oldRoot+"/proc"), unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE).save(rTree)
		b.sys(unix.SYS_MOUNT_SETATTR, 0, c.p.cstr(""), unix.AT_EMPTY_PATH|unix.AT_RECURSIVE,
			c.mountAttr(unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC), sizeofMountAttr).reg(0, rTree).Ignore = anyErrno
		empty := c.p.cstr("")
		b.sys(unix.SYS_MOVE_MOUNT, 0, empty, 0, empty, unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH).reg(0, rTree).reg(2, rDest)
		b.sys(unix.SYS_CLOSE).reg(0, rTree)
	default:
		// Fatal: the general init reports it in full.
		b.add(kFail, uintptr(unix.EPERM))
	}
	protect := b.next()
	b.at(iFresh).OKTo = protect
	b.at(iFresh + 1).OKTo = protect
	if c.hostRoot {
		// See mountns.(*builder).protectProc.
		for _, sub := range mountns.ProcGlobals {
			p := c.p.cstr(newRoot + filepath.Join(d, sub))
			b.sys(unix.SYS_MOUNT, p, p, 0, unix.MS_BIND|unix.MS_REC, 0).jumpOn(b.next()+1, unix.ENOENT) // b.next() is already the setattr
			b.sys(unix.SYS_MOUNT_SETATTR, atFDCWD, p, unix.AT_RECURSIVE,
				c.mountAttr(unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC), sizeofMountAttr)
		}
	}
	end := b.next()
	b.sys(unix.SYS_CLOSE).reg(0, rDest)
	c.mounted = append(c.mounted, d)
	if skip >= 0 {
		b.at(int32(skip)).OKTo = end
	}
	c.pushLayer(layer{dest: d, kind: lSealed})
	return nil
}

// bindData: the data goes into a file on the scratch tmpfs, which is
// bound onto the destination and unlinked (see mountns.bindData).
func (c *compiler) bindData(op *policy.MountOp) error {
	c.dataSeq++
	tmp := c.p.cstr(fmt.Sprintf("/bindfile%d", c.dataSeq))
	mode := op.Mode(0o600)
	d, err := c.mountPoint(op.Dest, false, mountns.ParentMode(op))
	if err != nil {
		return err
	}
	b := &c.b
	b.sys(unix.SYS_OPENAT, atFDCWD, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, 0o600).save(rTmp)
	if len(op.Data) > 0 {
		ptr, n := c.p.bytes(op.Data)
		b.sys(unix.SYS_WRITE, 0, ptr, n).reg(0, rTmp)
	}
	b.sys(unix.SYS_FCHMOD, 0, uintptr(mode)).reg(0, rTmp)
	b.sys(unix.SYS_CLOSE).reg(0, rTmp)
	b.sys(unix.SYS_OPEN_TREE, atFDCWD, tmp, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC).save(rTree)
	attr := uint64(unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV)
	if op.Kind == policy.OpROBindData {
		attr |= unix.MOUNT_ATTR_RDONLY
	}
	b.sys(unix.SYS_MOUNT_SETATTR, 0, c.p.cstr(""), unix.AT_EMPTY_PATH, c.mountAttr(attr), sizeofMountAttr).reg(0, rTree)
	c.openDest(d)
	c.attach()
	c.mounted = append(c.mounted, d)
	b.sys(unix.SYS_UNLINKAT, atFDCWD, tmp, 0)
	c.pushLayer(layer{dest: d, kind: lSealed})
	return nil
}

// loopbackUp brings lo up with SIOCSIFFLAGS on a throw-away AF_UNIX
// stream socket (any family works for interface ioctls). A fresh
// namespace's lo has exactly IFF_LOOPBACK set.
func (c *compiler) loopbackUp() {
	b := &c.b
	ifr := make([]byte, 40)
	copy(ifr, "lo")
	flags := uint16(unix.IFF_UP | unix.IFF_LOOPBACK | unix.IFF_RUNNING)
	ifr[16], ifr[17] = byte(flags), byte(flags>>8)
	b.sys(unix.SYS_SOCKET, unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0).save(rTmp)
	ifrAddr, _ := c.p.bytes(ifr)
	b.sys(unix.SYS_IOCTL, 0, unix.SIOCSIFFLAGS, ifrAddr).reg(0, rTmp)
	b.sys(unix.SYS_CLOSE).reg(0, rTmp)
}

// chdir applies Plan.Chdir, else bwrap's rule (the caller's cwd if it
// exists inside, else $HOME, else /), and returns the target's
// environment for each candidate (PWD differs); rEnvIx says which.
func (c *compiler) chdir() ([][]string, error) {
	env := c.h.Env
	if c.plan.Env != nil {
		env = c.plan.Env
	}
	b := &c.b
	var cands []string
	if d := c.plan.Chdir; d != "" {
		cands = []string{d}
	} else {
		for _, d := range []string{c.h.Cwd, policy.GetEnv(env, "HOME"), "/"} {
			if d != "" {
				cands = append(cands, d)
			}
		}
	}
	var envs [][]string
	var oks []int32
	for i, d := range cands {
		s := b.sys(unix.SYS_CHDIR, c.p.cstr(d))
		if c.plan.Chdir == "" && i < len(cands)-1 {
			s.jumpAny(b.next() + 1)
		}
		oks = append(oks, b.next())
		b.add(kSet, uintptr(i)).save(rEnvIx)
		envs = append(envs, policy.SetEnv(env, "PWD", d))
	}
	end := b.next()
	for _, i := range oks {
		b.at(i).OKTo = end
	}
	return envs, nil
}

// title makes pid 1 recognisable: comm "zbox-init", and the command line
// (which /proc/1/cmdline reads from our copy of zbox's argv memory)
// overwritten with "zbox-init" — as the general init's argv[0] is.
func (c *compiler) title() {
	c.b.sys(unix.SYS_PRCTL, unix.PR_SET_NAME, c.p.cstr("zbox-init"))
	if titleArea != nil {
		c.p.title = true
		c.b.add(kTitle)
	}
}

// argvArea is the memory of zbox's own argv strings, when they are laid
// out contiguously as the kernel placed them (the runtime's os.Args point
// into it without copying).
func argvArea() []byte {
	if len(os.Args) == 0 || len(os.Args[0]) == 0 {
		return nil
	}
	start := unsafe.StringData(os.Args[0])
	n := 0
	for i, a := range os.Args {
		if len(a) > 0 && unsafe.StringData(a) != (*byte)(unsafe.Add(unsafe.Pointer(start), n)) {
			return nil
		}
		if len(a) == 0 && i > 0 {
			return nil
		}
		n += len(a) + 1
	}
	if n < len("zbox-init")+1 {
		return nil
	}
	return unsafe.Slice(start, n-1)
}

// closeFDs leaves pid 1 with stdio, the error pipe, the status pipe and
// the plan's kept fds: everything else it inherited from zbox goes.
func (c *compiler) closeFDs() {
	// Kept fds (bwrap passes on every fd it inherited) stay at their
	// numbers: fork and vfork copy the table, and they are not
	// close-on-exec. So do the cgroup clean-up's (close-on-exec).
	var keep []int
	fds := append([]int{c.h.ErrW, c.h.StatusW}, c.plan.Status.KeepFDs...)
	if c.h.Redirect && len(c.h.BridgePorts) > 0 {
		// The command's process sends its connect-notify listener on it
		// (close-on-exec).
		fds = append(fds, c.h.BridgeFD)
	}
	for i := range c.h.CgroupDirs {
		procs, parent := c.cgroupFD(i)
		fds = append(fds, procs, parent)
	}
	for _, fd := range fds {
		if fd >= 3 && !slices.Contains(keep, fd) {
			keep = append(keep, fd)
		}
	}
	slices.Sort(keep)
	lo := 3
	for _, k := range keep {
		if k > lo {
			c.b.sys(unix.SYS_CLOSE_RANGE, uintptr(lo), uintptr(k-1), 0)
		}
		lo = k + 1
	}
	c.b.sys(unix.SYS_CLOSE_RANGE, uintptr(lo), ^uintptr(0), 0)
}

// restrict puts on the target's process, between fork and execve, what
// the target must carry, in the general init's order: a fresh session
// keyring, no capabilities in any set, no_new_privs, Landlock scopes,
// then the seccomp filter (last, so that it need not allow any of this).
// pid 1 stays outside all of it, as with the general init: the target's
// Landlock domain then cannot signal it, and being non-dumpable with
// capabilities the target lacks, it cannot be ptraced or read either.
func (c *compiler) restrict(b *builder) error {
	b.sys(unix.SYS_KEYCTL, unix.KEYCTL_JOIN_SESSION_KEYRING, 0).ignore(unix.ENOSYS)
	// Capabilities as the general init's dropCapsThread: ambient
	// cleared, the bounding set reduced to what the plan keeps (unless it
	// keeps the bounding set), then effective and permitted set to the
	// kept ones, inheritable and ambient too when bwrap would raise them.
	// In the new user namespace this process holds every capability, so
	// all of Caps.Keep can be kept.
	caps := c.plan.Caps
	keep := map[int]bool{}
	for _, k := range caps.Keep {
		if k < 0 || k > unix.CAP_LAST_CAP {
			return ineligible("capability %d unknown to zbox", k)
		}
		keep[k] = true
	}
	b.sys(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0).ignore(unix.EINVAL)
	if !caps.KeepBounding {
		for cp := 0; cp <= unix.CAP_LAST_CAP+8; cp++ {
			if !keep[cp] {
				b.sys(unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, uintptr(cp), 0, 0, 0).ignore(unix.EINVAL)
			}
		}
	}
	hdr := &unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := &[2]unix.CapUserData{}
	for k := range keep {
		data[k/32].Effective |= 1 << (k % 32)
		data[k/32].Permitted |= 1 << (k % 32)
		if caps.Ambient {
			data[k/32].Inheritable |= 1 << (k % 32)
		}
	}
	b.sys(unix.SYS_CAPSET, ptr(c.p, hdr), ptr(c.p, data))
	if caps.Ambient {
		for _, k := range slices.Sorted(maps.Keys(keep)) {
			b.sys(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(k), 0, 0)
		}
	}
	b.sys(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
	if spec := c.plan.Landlock; spec != nil && spec.Scope {
		st := lsm.Probe()
		rep := lsm.Plan(*spec, st.EffectiveABI())
		if rep.ScopeFlags != 0 {
			// struct landlock_ruleset_attr: handled_access_fs,
			// handled_access_net, scoped.
			attr := &[3]uint64{0, 0, rep.ScopeFlags}
			b.sys(unix.SYS_LANDLOCK_CREATE_RULESET, ptr(c.p, attr), 24, 0).save(rLL)
			b.sys(unix.SYS_LANDLOCK_RESTRICT_SELF, 0, 0).reg(0, rLL)
			b.sys(unix.SYS_CLOSE).reg(0, rLL)
		}
	}
	// The connect-notify filter goes on before the policy filter, so the
	// policy filter need not allow seccomp(2). Order does not change what
	// wins: the kernel runs every filter and takes the action of highest
	// precedence (ERRNO and KILL over USER_NOTIF), so a connect the policy
	// denies is never reported.
	if c.h.Redirect && len(c.h.BridgePorts) > 0 {
		if err := c.connectNotify(b); err != nil {
			return err
		}
	}
	if c.plan.Filter.Enabled {
		progs, err := filter.Build(c.plan.Filter, runtime.GOARCH)
		if err != nil {
			return ineligible("seccomp filter: %v", err)
		}
		for _, pr := range progs {
			b.sys(unix.SYS_PRCTL, unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, c.fprog(pr), 0, 0)
		}
	}
	return nil
}

// fprog places program pr in the arena as a struct sock_fprog and
// returns its address.
func (c *compiler) fprog(pr filter.Program) uintptr {
	insns := pr.SockFilters()
	code, _ := c.p.bytes(unsafe.Slice((*byte)(unsafe.Pointer(&insns[0])), uintptr(len(insns))*unsafe.Sizeof(insns[0])))
	// struct sock_fprog, with the filter's address as a plain word (no
	// Go pointer may live in the arena).
	fprog := &struct {
		Len    uint16
		_      [6]byte
		Filter uintptr
	}{Len: uint16(len(insns)), Filter: code}
	return ptr(c.p, fprog)
}

// connectNotify installs the proxy redirect's filter with a listener
// (the general init's installConnectNotify: killable wait first, then
// without on EINVAL) and sends the listener to zbox. EBUSY (a listener
// already over this process: zbox nested in a redirecting sandbox) or
// any other refusal skips it: the bridges relay. Once the listener
// exists it must reach zbox, or every IPv4 connect of the command would
// wait on a listener nobody reads: a failed send fails the start (the
// general init then runs the sandbox).
func (c *compiler) connectNotify(b *builder) error {
	pr, err := filter.ConnectNotifyProgram(runtime.GOARCH)
	if err != nil {
		return ineligible("connect-notify filter: %v", err)
	}
	fp := c.fprog(pr)
	fd := uintptr(c.bridgeFD(0))
	// Killable wait first; on any refusal try without it (Linux before
	// 5.19 says EINVAL; EBUSY and the rest refuse that too and skip).
	killable := b.next()
	b.sys(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		unix.SECCOMP_FILTER_FLAG_NEW_LISTENER|unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, fp).save(rTmp).jumpAny(killable + 1)
	plain := b.next()
	b.sys(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_NEW_LISTENER, fp).save(rTmp)
	send := b.next()
	b.at(killable).OKTo = send
	b.sys(unix.SYS_DUP3, 0, fd, unix.O_CLOEXEC).reg(0, rTmp)
	b.sys(unix.SYS_CLOSE).reg(0, rTmp)
	b.sys(unix.SYS_SENDMSG, uintptr(c.h.BridgeFD), c.fdMessage('R', []int{int(fd)}), unix.MSG_NOSIGNAL)
	b.sys(unix.SYS_CLOSE, fd)
	b.at(plain).jumpAny(b.next())
	return nil
}

// target is what the target's process does between fork and execve:
// signals unblocked (pid 1 keeps them blocked for its signalfd), a new
// session if asked, then execve along PATH.
func (c *compiler) target(envs [][]string) error {
	b := builder{p: c.p, steps: &c.p.Target}
	if c.plan.DieWithParent && !c.plan.Namespaces.PID {
		// No pid namespace whose end would take the command along: it
		// dies with pid 1 (which dies with zbox) on its own signal.
		b.sys(unix.SYS_PRCTL, unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL))
	}
	if c.plan.NewSession {
		// A new session: no controlling terminal, so no TIOCSTI into the
		// caller's, and the terminal's signals do not reach the command.
		// (EPERM only for a group leader, which a fresh child is not.)
		b.sys(unix.SYS_SETSID).ignore(unix.EPERM)
	}
	if err := c.restrict(&b); err != nil {
		return err
	}
	// Default dispositions before unblocking: the handlers installed now
	// are the Go runtime's, which must not run in this process (it shares
	// pid 1's memory until execve). Ignored signals stay ignored, as
	// execve would keep them (and as Go's own fork path does).
	dfl := &[4]uint64{} // struct kernel_sigaction: handler, flags, restorer, mask
	for _, sig := range signalsToReset() {
		b.sys(unix.SYS_RT_SIGACTION, sig, ptr(c.p, dfl), 0, 8).ignore(unix.EINVAL)
	}
	// Resource limits as rlimits on the command itself, set just before
	// execve: address space included, which pid 1 could not carry itself
	// (its own Go runtime would not live under a small one; the general
	// init's Spawn does the same). Any pids/memory cgroup is the
	// caller's business (runDirect leaves those sandboxes to the general
	// init).
	// The open-files limit zbox started with, which package syscall's
	// init raised (syscall.ForkExec puts it back the same way); a --limit
	// files below overrides it.
	if l, ok := nofileAtStart(); ok {
		b.sys(unix.SYS_PRLIMIT64, 0, unix.RLIMIT_NOFILE, ptr(c.p, &l), 0)
	}
	if l := c.plan.Limits; l != nil {
		for _, rl := range []struct {
			res int
			v   uint64
		}{{unix.RLIMIT_NPROC, l.Processes}, {unix.RLIMIT_NOFILE, l.OpenFiles}, {unix.RLIMIT_CPU, l.CPUSeconds}, {unix.RLIMIT_AS, l.MemoryBytes}} {
			if rl.v != 0 {
				b.sys(unix.SYS_PRLIMIT64, 0, uintptr(rl.res), ptr(c.p, &unix.Rlimit{Cur: rl.v, Max: rl.v}), 0)
			}
		}
	}
	zero := &[1]uint64{}
	b.sys(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, ptr(c.p, zero), 0, 8)
	argv := append([]string(nil), c.plan.Command...)
	if c.plan.Argv0 != "" {
		argv[0] = c.plan.Argv0
	}
	x := execSpec{argv: c.p.cstrv(argv)}
	for _, e := range envs {
		x.envs = append(x.envs, c.p.cstrv(e))
	}
	for _, cand := range policy.ExecCandidates(c.plan.Command[0], envs[0]) {
		x.paths = append(x.paths, c.p.cstr(cand))
	}
	c.p.exec = x
	return nil
}

// signalsToReset lists the signals a child of this process must set back
// to SIG_DFL before it unblocks signals and execs: all but SIGKILL and
// SIGSTOP (which cannot be caught) and those ignored here (execve keeps
// them ignored, as Go's own fork path does).
func signalsToReset() []uintptr {
	sigs := make([]uintptr, 0, 64)
	for sig := uintptr(1); sig <= 64; sig++ {
		if sig != uintptr(unix.SIGKILL) && sig != uintptr(unix.SIGSTOP) && !ignored(sig) {
			sigs = append(sigs, sig)
		}
	}
	return sigs
}

// ignored reports whether signal sig is ignored (SIG_IGN) in this process.
func ignored(sig uintptr) bool {
	var old [4]uint64
	_, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, sig, 0, uintptr(unsafe.Pointer(&old)), 8, 0, 0)
	return e == 0 && old[0] == 1 // SIG_IGN
}

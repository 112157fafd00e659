package mountns

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/zbox-sandbox/zbox/policy"
)

// Layout of the setup, as in bubblewrap (spec bubblewrap.md §2.2 steps
// 29-35):
//
//	/            scratch tmpfs (our own root while building; never visible to the target)
//	/oldroot     the host's root: every bind source is /oldroot+SRC
//	/newroot     the sandbox's future root: every destination is /newroot+DEST
//
// Working from a scratch tmpfs instead of the host root means nothing we
// create while building (mount points for data files, the pivot
// directories) touches the host, and a bind over a host path such as /tmp
// cannot hide the sources of later binds.
const (
	oldRoot = "/oldroot"
	newRoot = "/newroot"
)

// Options tune Build.
type Options struct {
	// Logf, if set, receives one line per step with its duration.
	Logf func(format string, args ...any)
	// HostRoot says the sandbox runs as host uid 0. The kernel's global
	// /proc files (sysctls, sysrq-trigger) are owned by that uid and
	// guarded by plain file permissions, so a capability-less target with
	// euid 0 could still write kernel.core_pattern or trigger sysrq; a
	// /proc built for it gets those parts bound read-only.
	HostRoot bool
}

// Result says what Build did where it had a choice.
type Result struct {
	// Ghosts are the mount points Build had to create on host
	// filesystems (under a host bind), oldest first. They outlive the
	// sandbox unless the caller removes them (see RemoveGhosts).
	Ghosts []Ghost
	// Proc is "fresh" when a new procfs was mounted, "host" when the
	// outer /proc was bound instead, "none" when /proc was skipped.
	Proc string
	// ProcErr is the kernel's refusal that triggered a /proc fallback.
	ProcErr error
	// Covering are the mounts that may cover a ghost (DetachCovering).
	Covering []string
}

// Build carries out ops in order and pivots into the result. It must run
// in the sandbox's init, inside new user and mount namespaces, with
// CAP_SYS_ADMIN in them, before any Landlock or seccomp restriction
// (Landlock forbids mount and pivot_root outright).
//
// On return the process's root and cwd are the new root and nothing of the
// host's tree is reachable except through the binds the ops asked for.
func Build(ops []policy.MountOp, opt Options) (Result, error) {
	b := &builder{logf: opt.Logf, res: Result{Proc: "none"}, hostRoot: opt.HostRoot}
	if b.logf == nil {
		b.logf = func(string, ...any) {}
	}
	if err := b.prepare(ops); err != nil {
		return b.res, err
	}
	for i := range ops {
		start := time.Now()
		if err := b.apply(i, &ops[i]); err != nil {
			return b.res, err
		}
		if d := time.Since(start); d > 5*time.Millisecond {
			b.logf("mount: %s %s took %s", ops[i].Kind, ops[i].Dest, d)
		}
	}
	b.res.Covering = b.covering()
	if err := b.finish(); err != nil {
		return b.res, err
	}
	return b.res, nil
}

type builder struct {
	hostRoot   bool
	parentMode uint32  // for directories created on the way to the current op's destination
	layers     []layer // mounts made so far, for hostPathOf
	logf       func(string, ...any)
	res        Result
	sources    map[int]string // op index -> realpath of its source, resolved in the host view
	// firstGhostLayer is len(layers) when the first ghost was created.
	firstGhostLayer int
	dataSeq         int
	setattrs        bool // mount_setattr(2) available (Linux >= 5.12)
}

// prepare makes our mounts private, resolves bind sources while the host
// root is still our root, and performs the first pivot onto a scratch
// tmpfs.
func (b *builder) prepare(ops []policy.MountOp) error {
	// Go's clone path does not change propagation for Cloneflags (it only
	// does for Unshareflags). A shared "/" would propagate every mount we
	// make back to the host's namespace when zbox runs as real root, and
	// pivot_root(2) refuses shared mounts. Private rather than bwrap's
	// slave: host mount events that arrive later would not get our
	// read-only flags (bwrap.md §2.4 item 6), so we do not let them in.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return mountErr("make / private", "", "/", err)
	}

	// Resolve bind sources now, in the host view, as the real caller
	// (bwrap step 28). After the pivot an absolute symlink in a source
	// path would resolve against the scratch tmpfs instead.
	b.sources = make(map[int]string)
	for i := range ops {
		op := &ops[i]
		switch op.Kind {
		case policy.OpBind, policy.OpROBind, policy.OpDevBind:
			src, err := filepath.EvalSymlinks(op.Source)
			if err != nil {
				if op.Try && errors.Is(err, fs.ErrNotExist) {
					continue
				}
				// bwrap's wording, which callers match on.
				return mountErr("Can't find source path "+op.Source, "", "", err)
			}
			b.sources[i] = src
		}
	}

	scratch, err := ScratchDir()
	if err != nil {
		return err
	}
	// nodev,nosuid: nothing on the scratch tmpfs is ever executed or used
	// as a device; mode 0755 so that an unprivileged uid can traverse it.
	if err := unix.Mount("tmpfs", scratch, "tmpfs", unix.MS_NODEV|unix.MS_NOSUID, "mode=0755"); err != nil {
		return mountErr("mount scratch tmpfs", "tmpfs", scratch, err)
	}
	if err := os.Chdir(scratch); err != nil {
		return fmt.Errorf("chdir to scratch %s: %w", scratch, err)
	}
	for _, d := range []string{"newroot", "oldroot"} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return fmt.Errorf("mkdir %s/%s: %w", scratch, d, err)
		}
	}
	// newroot must be a mount point of its own: pivot_root(2) requires
	// new_root to be a mount, and the final pivot uses it.
	if err := unix.Mount("newroot", "newroot", "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return mountErr("bind newroot", "newroot", scratch+"/newroot", err)
	}
	// First pivot: the scratch tmpfs becomes "/", the host tree moves to
	// /oldroot. From here on every host path is /oldroot+path.
	if err := unix.PivotRoot(".", "oldroot"); err != nil {
		return mountErr("pivot_root to scratch", scratch, "oldroot", err)
	}
	if err := os.Chdir("/"); err != nil {
		return fmt.Errorf("chdir / after pivot: %w", err)
	}
	b.setattrs = probeMountSetattr()
	return nil
}

// ScratchDir picks an existing directory to mount the scratch tmpfs on.
// bwrap always uses /tmp; minimal images may lack it. Whatever we pick is
// not hidden from the host tree: after the first pivot the tmpfs is "/"
// and /oldroot<dir> shows the real directory again.
func ScratchDir() (string, error) {
	for _, d := range []string{"/tmp", "/run", "/mnt", "/var/tmp", "/dev", "/home", "/"} {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			return d, nil
		}
	}
	return "", errors.New("no directory to mount the scratch tmpfs on (tried /tmp, /run, /mnt, /var/tmp, /dev, /home)")
}

// finish mounts nothing new; it detaches the host tree and makes /newroot
// the root (bwrap steps 34-35).
func (b *builder) finish() error {
	// Make the old root private before detaching it, so the unmount
	// cannot propagate anywhere (it is already private since prepare, but
	// mounts propagated in since then would not be).
	if err := unix.Mount("", oldRoot, "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return mountErr("make old root private", "", oldRoot, err)
	}
	if err := unix.Unmount(oldRoot, unix.MNT_DETACH); err != nil {
		return mountErr("detach old root", "", oldRoot, err)
	}
	if err := os.Chdir(newRoot); err != nil {
		return fmt.Errorf("chdir %s: %w", newRoot, err)
	}
	// pivot_root(".", "."): the new root stacks the old one (the scratch
	// tmpfs) on top at "/", with our cwd left on it; the lazy unmount of
	// "." then removes it. No directory is needed inside the new root, so
	// this works on a read-only root and leaves no litter (runc, LXC).
	if err := unix.PivotRoot(".", "."); err != nil {
		return mountErr("pivot_root into new root", newRoot, ".", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return mountErr("detach scratch root", "", ".", err)
	}
	if err := os.Chdir("/"); err != nil {
		return fmt.Errorf("chdir / in new root: %w", err)
	}
	return nil
}

// dest resolves an op's destination inside the new root.
func dest(p string, followLast bool) (string, error) {
	return InRoot(newRoot, p, followLast)
}

func (b *builder) apply(idx int, op *policy.MountOp) error {
	b.parentMode = ParentMode(op)
	switch op.Kind {
	case policy.OpBind, policy.OpROBind, policy.OpDevBind:
		return b.bind(idx, op)
	case policy.OpTmpfs:
		return b.tmpfs(op)
	case policy.OpDev:
		return b.dev(op)
	case policy.OpProc:
		return b.proc(op)
	case policy.OpMqueue:
		d, err := b.mkdirDest(op.Dest)
		if err != nil {
			return err
		}
		if err := unix.Mount("mqueue", d, "mqueue", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
			return mountErr("mount mqueue", "mqueue", op.Dest, err)
		}
	case policy.OpDir:
		d, err := dest(op.Dest, true)
		if err != nil {
			return mountErr("resolve dir", "", op.Dest, err)
		}
		mode := op.Mode(0o755)
		_, statErr := os.Lstat(d)
		if err := b.mkdirAll(d); err != nil {
			return mountErr("Can't mkdir "+op.Dest, "", "", err)
		}
		// Like bwrap, an existing directory is left as it is; one we
		// created gets the op's mode (raw mode bits: sticky, setgid and
		// setuid included, and no umask).
		if statErr != nil {
			if err := unix.Chmod(d, mode); err != nil {
				return mountErr(fmt.Sprintf("Can't chmod %#o %s", mode, op.Dest), "", "", err)
			}
		}
	case policy.OpFile:
		d, err := b.parentsOf(op.Dest)
		if err != nil {
			return err
		}
		if err := writeFileMode(d, op.Data, op.Mode(0o666)); err != nil {
			return mountErr("create file", "", op.Dest, err)
		}
	case policy.OpBindData, policy.OpROBindData:
		return b.bindData(op)
	case policy.OpSymlink:
		d, err := b.parentsOf(op.Dest)
		if err != nil {
			return err
		}
		if err := os.Symlink(op.Source, d); err != nil {
			// bwrap accepts an existing identical symlink.
			if cur, rerr := os.Readlink(d); rerr == nil && cur == op.Source {
				return nil
			}
			return mountErr("create symlink", op.Source, op.Dest, err)
		}
	case policy.OpRemountRO:
		d, err := dest(op.Dest, true)
		if err != nil {
			return mountErr("resolve remount-ro", "", op.Dest, err)
		}
		// Non-recursive, like bwrap's --remount-ro: only the mount at
		// DEST becomes read-only.
		if err := b.setAttr(d, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV, false); err != nil {
			return mountErr("remount read-only", "", op.Dest, err)
		}
	case policy.OpChmod:
		d, err := dest(op.Dest, true)
		if err != nil {
			return mountErr("resolve chmod", "", op.Dest, err)
		}
		mode := op.Mode(0o755)
		if err := unix.Chmod(d, mode); err != nil {
			return mountErr(fmt.Sprintf("Can't chmod %#o %s", mode, op.Dest), "", "", err)
		}
	default:
		return fmt.Errorf("unknown mount op %q for %s", op.Kind, op.Dest)
	}
	return nil
}

// ParentMode is the mode of the missing parent directories of an op's
// destination: 0755, less group or other access when the op's own mode
// gives the group or others nothing (bwrap's "least astonishment": a
// private directory does not sit under world-readable new parents).
func ParentMode(op *policy.MountOp) uint32 {
	mode := uint32(0o755)
	if op.Perms != nil {
		if *op.Perms&0o070 == 0 {
			mode &^= 0o050
		}
		if *op.Perms&0o007 == 0 {
			mode &^= 0o005
		}
	}
	return mode
}

// bind is --bind, --ro-bind and --dev-bind: a recursive bind (a
// non-recursive bind inside a user namespace fails with EINVAL when the
// source has locked submounts, and would reveal what they cover), then
// nosuid (+nodev, +ro) on the whole subtree.
func (b *builder) bind(idx int, op *policy.MountOp) error {
	src, ok := b.sources[idx]
	if !ok {
		if op.Try {
			return nil
		}
		return mountErr("bind", op.Source, op.Dest, fs.ErrNotExist)
	}
	hostSrc := oldRoot + src
	fi, err := os.Stat(hostSrc)
	if err != nil {
		if op.Try && errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return mountErr("stat bind source", op.Source, op.Dest, err)
	}
	d, err := b.mountPoint(op.Dest, fi.IsDir())
	if err != nil {
		return err
	}
	if err := unix.Mount(hostSrc, d, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return mountErr("bind", op.Source, op.Dest, err)
	}
	if op.FD != nil {
		// bwrap's --bind-fd: the caller pinned the directory by opening
		// it, but a bind can only take a path here (the fd's mount lives
		// in the caller's mount namespace; binding it from this one is
		// EINVAL), and the path resolved from the fd may name something
		// else by now: the directory renamed, and another put in its
		// place ("D (deleted)"). What got mounted must be the fd's file,
		// as bwrap checks.
		fdNum, _ := strconv.Atoi(strings.TrimPrefix(op.Source, "/proc/self/fd/"))
		var want, got unix.Stat_t
		if err := unix.Fstat(fdNum, &want); err != nil {
			return mountErr("stat bind fd", op.Source, op.Dest, err)
		}
		if err := unix.Stat(d, &got); err != nil || got.Dev != want.Dev || got.Ino != want.Ino {
			// bwrap's words, errno included (its die_with_error
			// appends the EINVAL left over from its checks).
			return fmt.Errorf("Race condition binding dirfd: %s", errText(unix.EINVAL))
		}
	}
	b.layers = append(b.layers, layer{dest: d, host: src})
	attr := uint64(unix.MOUNT_ATTR_NOSUID)
	if op.Kind != policy.OpDevBind {
		attr |= unix.MOUNT_ATTR_NODEV
	}
	if op.Kind == policy.OpROBind {
		attr |= unix.MOUNT_ATTR_RDONLY
	}
	if err := b.setAttr(d, attr, true); err != nil {
		return mountErr("set flags on bind", op.Source, op.Dest, err)
	}
	return nil
}

func (b *builder) tmpfs(op *policy.MountOp) error {
	d, err := b.mkdirDest(op.Dest)
	if err != nil {
		return err
	}
	data := fmt.Sprintf("mode=%#o", op.Mode(0o755))
	if op.Size > 0 {
		data += fmt.Sprintf(",size=%d", op.Size)
	}
	if err := unix.Mount("tmpfs", d, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, data); err != nil {
		return mountErr("mount tmpfs", "tmpfs", op.Dest, err)
	}
	b.layers = append(b.layers, layer{dest: d})
	return nil
}

// bindData is --bind-data / --ro-bind-data: the data goes into a file on
// the scratch tmpfs (outside the new root, never visible by itself), which
// is bound onto DEST and then unlinked. With empty data and perms 000 this
// is the helper's deny mask for a file.
func (b *builder) bindData(op *policy.MountOp) error {
	b.dataSeq++
	tmp := fmt.Sprintf("/bindfile%d", b.dataSeq)
	if err := writeFileMode(tmp, op.Data, op.Mode(0o600)); err != nil {
		return mountErr("write data for "+string(op.Kind), "", op.Dest, err)
	}
	defer os.Remove(tmp)
	d, err := b.mountPoint(op.Dest, false)
	if err != nil {
		return err
	}
	if err := unix.Mount(tmp, d, "", unix.MS_BIND, ""); err != nil {
		return mountErr("bind data", "", op.Dest, err)
	}
	b.layers = append(b.layers, layer{dest: d})
	attr := uint64(unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV)
	if op.Kind == policy.OpROBindData {
		attr |= unix.MOUNT_ATTR_RDONLY
	}
	if err := b.setAttr(d, attr, false); err != nil {
		return mountErr("set flags on data bind", "", op.Dest, err)
	}
	return nil
}

// writeFileMode creates path with exactly mode (umask would otherwise
// strip bits, and perms 000 must stay 000).
func writeFileMode(path string, data []byte, mode uint32) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	// fchmod with the raw mode: os.FileMode would drop 07000.
	if err := unix.Fchmod(int(f.Fd()), mode); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// mkdirDest resolves DEST and creates it (and its parents) as a
// directory.
func (b *builder) mkdirDest(p string) (string, error) {
	d, err := dest(p, true)
	if err != nil {
		return "", mountErr("resolve destination", "", p, err)
	}
	if err := b.mkdirAll(d); err != nil {
		return "", mountErr("mkdir", "", p, err)
	}
	return d, nil
}

// parentsOf resolves DEST without following its last component and
// creates its parent directories.
func (b *builder) parentsOf(p string) (string, error) {
	d, err := dest(p, false)
	if err != nil {
		return "", mountErr("resolve destination", "", p, err)
	}
	if err := b.mkdirAll(filepath.Dir(d)); err != nil {
		return "", mountErr("mkdir parents", "", p, err)
	}
	return d, nil
}

// mountPoint prepares DEST as a mount point for a directory or a file
// source (bwrap §2.4 step 2): parents are created 0755; a directory gets
// mkdir 0755, anything else an empty 0444 file. An existing entry of
// either kind is used as it is (the kernel refuses a dir-on-file bind
// itself, with a clear ENOTDIR).
func (b *builder) mountPoint(p string, dir bool) (string, error) {
	d, err := dest(p, true)
	if err != nil {
		return "", mountErr("resolve destination", "", p, err)
	}
	if _, err := os.Lstat(d); err == nil {
		return d, nil
	}
	if err := b.mkdirAll(filepath.Dir(d)); err != nil {
		return "", mountErr("mkdir parents of mount point", "", p, err)
	}
	if dir {
		if err := os.Mkdir(d, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return "", mountErr("mkdir mount point", "", p, err)
		}
		b.created(d, true)
		return d, nil
	}
	f, err := os.OpenFile(d, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o444)
	if err != nil {
		return "", mountErr("create mount point", "", p, err)
	}
	f.Close()
	b.created(d, false)
	return d, nil
}

// setAttr adds mount attributes to the mount at path (and, when
// recursive, to every mount below it). mount_setattr(2) only ever adds
// the bits in attr_set and leaves atime alone, so it cannot trip over the
// flags the kernel locks on mounts inherited into a less privileged user
// namespace (MNT_LOCK_*), and AT_RECURSIVE covers submounts atomically
// without reading mountinfo (which is what makes bwrap quadratic in the
// number of binds).
func (b *builder) setAttr(path string, attr uint64, recursive bool) error {
	if b.setattrs {
		flags := uint(0)
		if recursive {
			flags = unix.AT_RECURSIVE
		}
		err := unix.MountSetattr(unix.AT_FDCWD, path, flags, &unix.MountAttr{Attr_set: attr})
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.ENOSYS) {
			return err
		}
		b.setattrs = false
	}
	return remountLegacy(path, attr, recursive)
}

// probeMountSetattr reports whether mount_setattr(2) exists (Linux 5.12).
// An empty attribute set on "/" is a no-op that still exercises the call.
func probeMountSetattr() bool {
	err := unix.MountSetattr(unix.AT_FDCWD, "/", 0, &unix.MountAttr{})
	return !errors.Is(err, unix.ENOSYS)
}

// remountLegacy is the pre-5.12 path: MS_REMOUNT|MS_BIND with the flags
// the mount already has OR-ed in (a remount that drops a locked flag is
// EPERM), on the top mount and, when recursive, on every submount listed
// in mountinfo.
func remountLegacy(path string, attr uint64, recursive bool) error {
	targets := []string{path}
	if recursive {
		subs, err := submounts(path)
		if err != nil {
			return err
		}
		targets = append(targets, subs...)
	}
	for _, t := range targets {
		var st unix.Statfs_t
		if err := unix.Statfs(t, &st); err != nil {
			if t != path && errors.Is(err, unix.EACCES) {
				continue // bwrap ignores EACCES on submounts
			}
			return err
		}
		flags := statfsToMountFlags(st.Flags) | unix.MS_BIND | unix.MS_REMOUNT
		if attr&unix.MOUNT_ATTR_RDONLY != 0 {
			flags |= unix.MS_RDONLY
		}
		if attr&unix.MOUNT_ATTR_NOSUID != 0 {
			flags |= unix.MS_NOSUID
		}
		if attr&unix.MOUNT_ATTR_NODEV != 0 {
			flags |= unix.MS_NODEV
		}
		if err := unix.Mount("", t, "", uintptr(flags), ""); err != nil {
			if t != path && errors.Is(err, unix.EACCES) {
				continue
			}
			return fmt.Errorf("remount %s: %w", t, err)
		}
	}
	return nil
}

// statfsToMountFlags maps ST_* to MS_* (the values differ for relatime,
// so no cast), adding MS_STRICTATIME when neither noatime nor relatime is
// set: a remount must repeat the atime mode exactly when it is locked.
func statfsToMountFlags(f int64) int {
	var out int
	m := map[int64]int{
		unix.ST_RDONLY:      unix.MS_RDONLY,
		unix.ST_NOSUID:      unix.MS_NOSUID,
		unix.ST_NODEV:       unix.MS_NODEV,
		unix.ST_NOEXEC:      unix.MS_NOEXEC,
		unix.ST_NOATIME:     unix.MS_NOATIME,
		unix.ST_NODIRATIME:  unix.MS_NODIRATIME,
		unix.ST_RELATIME:    unix.MS_RELATIME,
		unix.ST_SYNCHRONOUS: unix.MS_SYNCHRONOUS,
		unix.ST_MANDLOCK:    unix.MS_MANDLOCK,
	}
	for st, ms := range m {
		if f&st != 0 {
			out |= ms
		}
	}
	if f&(unix.ST_NOATIME|unix.ST_RELATIME) == 0 {
		out |= unix.MS_STRICTATIME
	}
	return out
}

// submounts lists mount points strictly below path, from mountinfo.
func submounts(path string) ([]string, error) {
	data, err := os.ReadFile(oldRoot + "/proc/self/mountinfo")
	if err != nil {
		data, err = os.ReadFile("/proc/self/mountinfo")
		if err != nil {
			return nil, fmt.Errorf("read mountinfo: %w", err)
		}
	}
	var out []string
	prefix := strings.TrimSuffix(path, "/") + "/"
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		mp := unescapeMountinfo(f[4])
		if strings.HasPrefix(mp, prefix) {
			out = append(out, mp)
		}
	}
	return out, nil
}

func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v byte
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &v); err == nil {
				sb.WriteByte(v)
				i += 3
				continue
			}
		}
		sb.WriteByte(s[i])
	}
	return sb.String()
}

package mountns

import (
	"errors"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/zbox-sandbox/zbox/policy"
)

// dev builds a minimal /dev: a fresh tmpfs, the six device binds, the
// stdio symlinks, an empty shm directory, and a private devpts instance
// with ptmx pointing into it.
func (b *builder) dev(op *policy.MountOp) error {
	d, err := b.mkdirDest(op.Dest)
	if err != nil {
		return err
	}
	// nosuid but not nodev: the binds below are devices.
	if err := unix.Mount("tmpfs", d, "tmpfs", unix.MS_NOSUID, "mode=0755"); err != nil {
		return mountErr("mount tmpfs for /dev", "tmpfs", op.Dest, err)
	}
	b.layers = append(b.layers, layer{dest: d})
	for _, n := range DevNodes {
		src := oldRoot + "/dev/" + n
		dst := filepath.Join(d, n)
		f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o444)
		if err != nil {
			return mountErr("create device mount point", "", filepath.Join(op.Dest, n), err)
		}
		f.Close()
		if err := unix.Mount(src, dst, "", unix.MS_BIND, ""); err != nil {
			// /dev/tty is absent in some minimal containers; a missing
			// host node is skipped like bwrap does for -try binds.
			if errors.Is(err, unix.ENOENT) {
				os.Remove(dst)
				continue
			}
			return mountErr("bind device", "/dev/"+n, filepath.Join(op.Dest, n), err)
		}
		// The bind inherits nodev from nothing (binds ignore flags), but
		// make it explicit: nosuid, devices allowed. Read-only too: the
		// node is the host's (its devtmpfs inode), and a root caller's
		// sandbox owns it, so chmod /dev/null or utimes on it would change
		// the host's device. I/O on a device ignores the mount's
		// read-only flag; only the inode is protected. (bwrap leaves
		// these writable.)
		if err := b.setAttr(dst, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_RDONLY, false); err != nil {
			return mountErr("make device bind read-only", "/dev/"+n, filepath.Join(op.Dest, n), err)
		}
	}
	for _, l := range DevLinks {
		if err := os.Symlink(l[0], filepath.Join(d, l[1])); err != nil {
			return mountErr("symlink in /dev", l[0], filepath.Join(op.Dest, l[1]), err)
		}
	}
	// shm is a plain 0755 directory on the /dev tmpfs, as in bwrap: it
	// belongs to the sandbox's uid, which can use it.
	if err := os.Mkdir(filepath.Join(d, "shm"), 0o755); err != nil {
		return mountErr("mkdir", "", filepath.Join(op.Dest, "shm"), err)
	}
	pts := filepath.Join(d, "pts")
	if err := os.Mkdir(pts, 0o755); err != nil {
		return mountErr("mkdir", "", filepath.Join(op.Dest, "pts"), err)
	}
	// A new devpts instance: the sandbox's ptys are its own and cannot
	// reach the host's terminals. No gid= option: the tty group is not
	// mapped in our user namespace and the mount would fail.
	if err := unix.Mount("devpts", pts, "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, DevptsData); err != nil {
		return mountErr("mount devpts", "devpts", filepath.Join(op.Dest, "pts"), err)
	}
	return nil
}

// proc mounts a fresh procfs for the new pid namespace. The kernel allows
// that in a user namespace only while a fully visible procfs exists in the
// same mount namespace (mount_too_revealing): the host's, still attached
// at /oldroot/proc — which is why this must happen before the old root is
// detached. When the host's /proc is itself masked (a container runtime
// bound /dev/null over /proc/kcore, tmpfs over /proc/acpi, ...), the
// kernel refuses with EPERM for everyone, root included; the op's
// Fallback then decides.
func (b *builder) proc(op *policy.MountOp) error {
	d, err := b.mkdirDest(op.Dest)
	if err != nil {
		return err
	}
	const procFlags = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	b.layers = append(b.layers, layer{dest: d}) // nothing is created under /proc
	err = unix.Mount("proc", d, "proc", procFlags, "")
	if err == nil {
		b.res.Proc = "fresh"
		return b.protectProc(d, op.Dest)
	}
	if errors.Is(err, unix.EPERM) {
		// The only fully visible procfs may be read-only and locked so
		// (for instance inside bwrap, whose --ro-bind / / made the outer
		// /proc read-only and whose own /proc has read-only binds over
		// /proc/sys): the kernel then allows a new instance only if it
		// is read-only too. A read-only fresh /proc still shows the
		// sandbox's own pids, which is what matters.
		if err2 := unix.Mount("proc", d, "proc", procFlags|unix.MS_RDONLY, ""); err2 == nil {
			b.logf("proc: mounted read-only (a writable instance was refused: %v)", err)
			b.res.Proc = "fresh-ro"
			return b.protectProc(d, op.Dest)
		}
	}
	refused := errors.Is(err, unix.EPERM) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EACCES)
	if !refused || op.Fallback == policy.ProcFatal {
		return &MountError{Op: "mount proc", Source: "proc", Dest: op.Dest, Err: err, Hint: procHint(err)}
	}
	b.res.ProcErr = err
	switch op.Fallback {
	case policy.ProcSkip:
		b.logf("proc: fresh procfs refused (%v); continuing without it", err)
		b.res.Proc = "none"
		return nil
	case policy.ProcBindHost:
		b.logf("proc: fresh procfs refused (%v); binding the outer /proc", err)
		if err := unix.Mount(oldRoot+"/proc", d, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return mountErr("bind outer /proc (fallback)", "/proc", op.Dest, err)
		}
		_ = b.setAttr(d, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC, true)
		b.res.Proc = "host"
		return b.protectProc(d, op.Dest)
	}
	return mountErr("mount proc", "proc", op.Dest, err)
}

func procHint(err error) string {
	if errors.Is(err, unix.EPERM) {
		return "the host's /proc is probably masked (container runtime); use --no-proc, or run the container with unmasked /proc (docker: --security-opt systempaths=unconfined)"
	}
	return ""
}

// protectProc binds the machine-wide parts of the /proc at d onto
// themselves read-only, when the sandbox runs as host uid 0 (see
// Options.HostRoot). For any other uid the files' owner (host root) is
// not even mapped in the sandbox and plain permissions already refuse
// writes; leaving them alone there keeps the procfs fully visible, which
// a nested sandbox needs to mount its own.
func (b *builder) protectProc(d, dest string) error {
	if !b.hostRoot {
		return nil
	}
	for _, sub := range ProcGlobals {
		p := filepath.Join(d, sub)
		if _, err := os.Lstat(p); err != nil {
			continue
		}
		if err := unix.Mount(p, p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return mountErr("protect", filepath.Join(dest, sub), filepath.Join(dest, sub), err)
		}
		if err := b.setAttr(p, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC, true); err != nil {
			return mountErr("make read-only", filepath.Join(dest, sub), filepath.Join(dest, sub), err)
		}
	}
	return nil
}

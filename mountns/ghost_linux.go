package mountns

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Ghost mount points.
//
// A bind needs an existing mount point. When a destination is missing and
// lies under a host directory bound read-write into the sandbox (say a
// deny mask for a file that does not exist yet inside a writable
// workspace), the only place to create that mount point is the host
// directory itself — bubblewrap does this and leaves the empty file or
// directory behind on the host (Codex issue #19317, bwrap test 47). zbox
// records every such entry, with its identity, so the host side can remove
// it once the sandbox is gone.

// Ghost is one entry created on a host filesystem while building the root.
type Ghost struct {
	HostPath string `json:"path"`
	// BuildPath is where the entry is while the root is being built
	// (under /newroot); Path is where it is in the sandbox afterwards.
	BuildPath string `json:"-"`
	Path      string `json:"-"`
	Dir       bool   `json:"dir,omitempty"`
	Dev       uint64 `json:"dev"`
	Ino       uint64 `json:"ino"`
}

// layer is one mount made while building: its resolved destination under
// /newroot and, for binds, the host path it shows ("" for tmpfs and other
// sandbox-private filesystems).
type layer struct {
	dest string
	host string
}

// hostPathOf maps a path under /newroot to the host path it is stored at,
// if the latest mount covering it is a bind of a host path.
func (b *builder) hostPathOf(p string) (string, bool) {
	for i := len(b.layers) - 1; i >= 0; i-- {
		l := b.layers[i]
		if p == l.dest || strings.HasPrefix(p, strings.TrimSuffix(l.dest, "/")+"/") {
			if l.host == "" {
				return "", false
			}
			rel := strings.TrimPrefix(p, l.dest)
			return filepath.Join(l.host, rel), true
		}
	}
	// Not under any mount we made: the scratch tmpfs.
	return "", false
}

// created records p (under /newroot) as a ghost if it lives on the host.
func (b *builder) created(p string, dir bool) {
	hp, ok := b.hostPathOf(p)
	if !ok {
		return
	}
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return
	}
	inside := strings.TrimPrefix(p, newRoot)
	if inside == "" {
		inside = "/"
	}
	if len(b.res.Ghosts) == 0 {
		b.firstGhostLayer = len(b.layers)
	}
	b.res.Ghosts = append(b.res.Ghosts, Ghost{HostPath: hp, BuildPath: p, Path: inside, Dir: dir, Dev: st.Dev, Ino: st.Ino})
}

// mkdirAll creates p and its missing parents (mode b.parentMode),
// recording each directory it creates.
func (b *builder) mkdirAll(p string) error {
	if fi, err := os.Stat(p); err == nil {
		if fi.IsDir() {
			return nil
		}
		return &fs.PathError{Op: "mkdir", Path: p, Err: unix.ENOTDIR}
	}
	if parent := filepath.Dir(p); parent != p {
		if err := b.mkdirAll(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(p, 0o700); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil
		}
		return err
	}
	// The mode bwrap gives missing parents (see parentMode), without
	// the umask.
	_ = unix.Chmod(p, b.parentMode)
	b.created(p, true)
	return nil
}

// covering lists, newest first, the mounts made since the first ghost
// was created (paths inside the sandbox): only those can cover a ghost.
func (b *builder) covering() []string {
	if len(b.res.Ghosts) == 0 {
		return nil
	}
	var out []string
	for i := len(b.layers) - 1; i >= b.firstGhostLayer; i-- {
		if d := strings.TrimPrefix(b.layers[i].dest, newRoot); d != "" && d != "/" {
			out = append(out, d)
		}
	}
	return out
}

// DetachCovering detaches, in the order given (Result.Covering: newest
// first), the mounts that may cover a ghost, from inside the sandbox
// after the pivot. A ghost stays a mount point of the namespace (unlink:
// EBUSY) while any mount sits on it, also one hidden under a later mount:
// Codex binds /dev/null over <cwd>/.codex, binds <cwd> over itself, then
// masks .codex again. The layers the ghosts were created in are older and
// stay, so each ghost's path leads to its host directory again.
func DetachCovering(covering []string) {
	for _, d := range covering {
		_ = unix.Unmount(d, unix.MNT_DETACH)
	}
}

// RemoveGhostsInside removes the ghosts from inside the sandbox's mount
// namespace, newest first: whatever was mounted on each is detached (the
// caller holds CAP_SYS_ADMIN there), then the entry itself is removed if
// it is still the one Build made. pivoted says whether the root has been
// switched (Path) or the build stopped half-way (BuildPath). It is the
// init's own clean-up, which also runs when zbox itself dies (the init
// gets a parent-death signal); RemoveGhosts on the host side is the
// second line for when the init is killed outright.
func RemoveGhostsInside(ghosts []Ghost, pivoted bool) {
	for i := len(ghosts) - 1; i >= 0; i-- {
		g := ghosts[i]
		p := g.BuildPath
		if pivoted {
			p = g.Path
		}
		// Detach every mount stacked on the entry (a deny mask, a
		// writable root's bind); EINVAL: nothing (more) is mounted.
		for n := 0; n < 8 && unix.Unmount(p, unix.MNT_DETACH) == nil; n++ {
		}
		removeIfSame(p, g)
	}
}

func removeIfSame(p string, g Ghost) {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil || st.Dev != g.Dev || st.Ino != g.Ino {
		return
	}
	if g.Dir {
		_ = unix.Rmdir(p) // fails, harmlessly, unless empty
	} else if st.Mode&unix.S_IFMT == unix.S_IFREG && st.Size == 0 {
		_ = unix.Unlink(p)
	}
}

// RemoveGhosts deletes, newest first, the ghosts that are still exactly
// what Build created: same device and inode, an empty regular file or an
// empty directory. Anything the sandboxed command turned into real data is
// left alone. It runs on the host side after the sandbox has exited.
func RemoveGhosts(ghosts []Ghost) {
	for i := len(ghosts) - 1; i >= 0; i-- {
		removeIfSame(ghosts[i].HostPath, ghosts[i])
	}
}

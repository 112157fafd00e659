// Package mountns builds a sandbox's root filesystem from the mount part
// of a plan, inside fresh user and mount namespaces, and pivots into it.
package mountns

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// maxSymlinks bounds symlink resolution, as the kernel's MAXSYMLINKS.
const maxSymlinks = 40

// lstatFunc and readlinkFunc are the filesystem reads used by InRoot;
// they are variables so tests can run the resolver on a fake tree.
var (
	lstatFunc    = os.Lstat
	readlinkFunc = os.Readlink
)

// InRoot resolves path as if root were "/": every symlink met on the way
// is followed, absolute targets restart at root, and ".." never climbs
// above root. The result is root joined with a path that contains no
// symlinks in its existing part; components that do not exist are kept
// literally (the caller is about to create them).
//
// Why not let the kernel follow the path: while the new root is being
// built, our own root is the scratch tmpfs, so an absolute symlink inside
// the new root (say /newroot/lib -> /usr/lib) would resolve against the
// scratch tmpfs and a mount would land in the wrong place or fail.
// bubblewrap has exactly that weakness; resolving inside the root removes
// it.
//
// If followLast is false a symlink in the final component is returned as
// is (for creating symlinks and for masking a symlink inode).
func InRoot(root, path string, followLast bool) (string, error) {
	if !filepath.IsAbs(path) {
		return "", fmt.Errorf("path %q is not absolute", path)
	}
	var (
		cur   = "/" // resolved part, relative to root, always clean and absolute
		rest  = splitPath(path)
		links = 0
	)
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			cur = filepath.Dir(cur)
			continue
		}
		next := filepath.Join(cur, c)
		if len(rest) == 0 && !followLast {
			cur = next
			break
		}
		fi, err := lstatFunc(filepath.Join(root, next))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				// The rest does not exist yet: keep it literally, but
				// still clean ".." lexically so it cannot climb out.
				cur = filepath.Join(append([]string{next}, rest...)...)
				rest = nil
				break
			}
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		links++
		if links > maxSymlinks {
			return "", fmt.Errorf("resolving %q: too many levels of symbolic links", path)
		}
		target, err := readlinkFunc(filepath.Join(root, next))
		if err != nil {
			return "", err
		}
		if filepath.IsAbs(target) {
			cur = "/"
		}
		rest = append(splitPath(target), rest...)
	}
	return filepath.Join(root, cur), nil
}

func splitPath(p string) []string {
	return strings.Split(strings.Trim(p, "/"), "/")
}

package e2e

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// End-to-end proof of zbox's bubblewrap front-end against the system
// bwrap (Debian's 0.8.0 here): the same argv under /usr/bin/bwrap and
// under zbox run through a symlink named bwrap, comparing what the
// command observed (files, devices, ids, hostname, environment, cwd,
// capabilities, namespaces), the JSON status keys, exit statuses and
// error messages.
//
// zbox implements bwrap 0.11's command line. Where bwrap 0.8.0 lacks an
// option (--argv0, --level-prefix) zbox is checked against the spec
// (bubblewrap.md) instead. Known engine differences are separate tests
// skipped with "engine bug: ..." and a precise description.

// bwrapPeers returns the system bwrap and a bwrap-named symlink to zbox.
func bwrapPeers(t testing.TB) peers {
	t.Helper()
	return peers{ref: needBwrap(t), zb: aliasDir(t, "bwrap", zboxBin)}
}

// bwrapWorld is the host layout the bwrap cases use.
type bwrapWorld struct {
	dir string // a host directory the caller can write
	// hostNS maps a namespace name to the caller's namespace link.
	hostNS map[string]string
}

func newBwrapWorld(t *testing.T) *bwrapWorld {
	t.Helper()
	w := &bwrapWorld{dir: hostDir(t), hostNS: map[string]string{}}
	writeFile(t, filepath.Join(w.dir, "readme"), "README\n")
	for _, ns := range []string{"user", "mnt", "pid", "net", "ipc", "uts", "cgroup"} {
		l, err := os.Readlink("/proc/self/ns/" + ns)
		if err != nil {
			t.Fatalf("read the caller's %s namespace: %v", ns, err)
		}
		w.hostNS[ns] = l
	}
	return w
}

// dataFiles makes one readable file per content, for fds 3, 4, ...; bwrap
// reads and closes each, so every run needs its own.
func dataFiles(t testing.TB, contents []string) []*os.File {
	t.Helper()
	var files []*os.File
	for i, c := range contents {
		p := filepath.Join(t.TempDir(), fmt.Sprintf("fd%d", i+3))
		if err := os.WriteFile(p, []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		files = append(files, f)
	}
	return files
}

// bwrapCase is one row of the comparison table.
type bwrapCase struct {
	name string
	// args builds the argv; tag tells the two runs apart ("ref", "zb"),
	// for cases that create files on the host.
	args  func(w *bwrapWorld, tag string) []string
	fds   []string // contents of fds 3, 4, ...
	stdin string
	env   []string
	// rootOnly / unprivOnly limit the case to one kind of caller.
	rootOnly, unprivOnly bool
	// want, when set, is the expected stdout of both.
	want string
	// code is the expected exit status of both.
	code int
	// stderrSub, when set, is a substring both stderrs must contain
	// (the stderrs are then not compared byte for byte).
	stderrSub string
	// bug, when set, describes an engine bug that makes zbox differ:
	// the case is skipped with it until the engine is fixed.
	bug string
}

func sh(script string) []string { return []string{"sh", "-c", script} }

func bwrapCases() []bwrapCase {
	ro := []string{"--ro-bind", "/", "/"}
	with := func(parts ...[]string) []string {
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	a := func(s ...string) []string { return s }
	nsScript := func(w *bwrapWorld) string {
		var b strings.Builder
		for _, ns := range []string{"user", "mnt", "pid", "net", "ipc", "uts", "cgroup"} {
			fmt.Fprintf(&b, `[ "$(readlink /proc/self/ns/%s)" = %q ] && echo %s=host || echo %s=new; `, ns, w.hostNS[ns], ns, ns)
		}
		return b.String()
	}
	return []bwrapCase{
		// Bind mounts.
		{name: "ro-bind root is read-only", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, sh("cat "+w.dir+"/readme; touch "+w.dir+"/x_"+tag+" 2>&1; echo rc=$?"))
		}},
		{name: "bind is writable", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--bind", w.dir, w.dir), sh("echo hi > "+w.dir+"/f_"+tag+" && cat "+w.dir+"/f_"+tag))
		}, want: "hi\n"},
		{name: "bind over a file", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--bind", w.dir+"/readme", "/etc/hostname"), sh("cat /etc/hostname"))
		}, want: "README\n"},
		{name: "bind-try missing source is skipped", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--bind-try", "/nonexistent-zbox", "/mnt/x", "--ro-bind-try", "/nonexistent-zbox", "/mnt/y",
				"--dev-bind-try", "/nonexistent-zbox", "/mnt/z"), sh("ls /mnt; echo ok"))
		}},
		{name: "missing bind source", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--bind", "/nonexistent-zbox", "/mnt"), a("true"))
		}, code: 1, stderrSub: "bwrap: "},
		{name: "missing bind source message", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--bind", "/nonexistent-zbox", "/mnt"), a("true"))
		}, code: 1},
		{name: "dev-bind keeps devices usable", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--dev-bind", "/dev/null", "/dev/null"), sh("echo x > /dev/null && echo ok"))
		}, want: "ok\n"},
		{name: "ro-bind root makes host devices nodev", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, sh("echo x > /dev/null; echo rc=$?"))
		}},
		{name: "remount-ro", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--bind", w.dir, w.dir, "--remount-ro", w.dir), sh("touch "+w.dir+"/r_"+tag+"; echo rc=$?"))
		}},
		{name: "remount-ro takes devices away from a dev-bind", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--tmpfs", "/mnt", "--dev-bind", "/dev/null", "/mnt/null", "--remount-ro", "/mnt/null"), sh("echo x > /mnt/null; echo rc=$?"))
		}},

		// Created content.
		{name: "tmpfs with perms and size", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--perms", "0700", "--size", "1048576", "--tmpfs", "/mnt"),
				sh(`stat -c '%a %u' /mnt; grep ' /mnt ' /proc/self/mountinfo | sed 's/.* - //'; touch /mnt/f && echo writable`))
		}},
		{name: "tmpfs default mode", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--tmpfs", "/mnt"), sh(`stat -c '%a' /mnt; grep ' /mnt ' /proc/self/mountinfo | sed 's/.* - //'`))
		}},
		{name: "dir with and without perms", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--tmpfs", "/mnt", "--dir", "/mnt/a/b", "--perms", "0700", "--dir", "/mnt/c", "--perms", "0750", "--dir", "/mnt/d/e"),
				sh(`stat -c '%n %a' /mnt/a /mnt/a/b /mnt/c /mnt/d/e`))
		}},
		{name: "dir on an existing directory keeps its mode", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--tmpfs", "/mnt", "--perms", "0700", "--dir", "/mnt/c", "--dir", "/mnt/c"), sh(`stat -c '%n %a' /mnt/c`))
		}, want: "/mnt/c 700\n"},
		{name: "missing parents take the group and other bits of --perms", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--tmpfs", "/mnt", "--perms", "0750", "--dir", "/mnt/d/e", "--perms", "0700", "--file", "3", "/mnt/f/g"),
				sh(`stat -c '%n %a' /mnt/d /mnt/d/e /mnt/f /mnt/f/g`))
		}, fds: []string{"x"}},
		{name: "file from fds", fds: []string{"F1\n", "F2\n"}, args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--tmpfs", "/mnt", "--file", "3", "/mnt/f", "--perms", "0644", "--file", "4", "/mnt/sub/g"),
				sh(`for f in /mnt/f /mnt/sub/g; do stat -c '%n %a' $f; cat $f; echo x >> $f && echo w=ok; done; stat -c '%n %a' /mnt/sub`))
		}},
		{name: "bind-data and ro-bind-data", fds: []string{"BD\n", "RBD\n", "P\n"}, args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--tmpfs", "/mnt", "--bind-data", "3", "/mnt/bd", "--ro-bind-data", "4", "/mnt/rbd", "--perms", "0444", "--ro-bind-data", "5", "/mnt/p"),
				sh(`for f in /mnt/bd /mnt/rbd /mnt/p; do stat -c '%n %a' $f; cat $f; (echo x >> $f) 2>/dev/null && echo w=ok || echo w=denied; done`))
		}},
		{name: "symlink", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--tmpfs", "/mnt", "--symlink", "/etc/hostname", "/mnt/l", "--symlink", "rel/target", "/mnt/sub/r"),
				sh(`readlink /mnt/l /mnt/sub/r; test -e /mnt/l && echo follows`))
		}},
		{name: "chmod", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--tmpfs", "/mnt", "--dir", "/mnt/x", "--chmod", "0700", "/mnt/x", "--chmod", "0711", "/mnt"),
				sh(`stat -c '%n %a' /mnt /mnt/x`))
		}},
		{name: "chmod keeps the sticky bit", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--tmpfs", "/mnt", "--chmod", "1777", "/mnt", "--perms", "1777", "--tmpfs", "/tmp"), sh(`stat -c '%n %a' /mnt /tmp`))
		}},
		{name: "chmod of a missing path", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--tmpfs", "/mnt", "--chmod", "0700", "/mnt/missing"), a("true"))
		}, code: 1, stderrSub: "bwrap: "},
		{name: "chmod of a missing path message", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--tmpfs", "/mnt", "--chmod", "0700", "/mnt/missing"), a("true"))
		}, code: 1},

		// Virtual filesystems.
		{name: "proc in a new pid namespace", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--unshare-pid", "--proc", "/proc"), sh(`set -- /proc/[0-9]*; echo pids=$#`))
		}, want: "pids=2\n"},
		{name: "dev shm", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--dev", "/dev"), a("stat", "-c", "%a %F", "/dev/shm"))
		}},
		{name: "dev", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--dev", "/dev"), sh(`ls -A /dev | tr '\n' ' '; echo; for f in null zero full random urandom tty; do stat -c '%n %F %t:%T' /dev/$f; done; readlink /dev/stdin /dev/fd /dev/ptmx /dev/core; echo x > /dev/null && echo null-ok; head -c 4 /dev/zero | od -An -tx1`))
		}},
		{name: "mqueue", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--unshare-ipc", "--dev", "/dev", "--mqueue", "/dev/mqueue"), sh(`stat -f -c %T /dev/mqueue`))
		}, want: "mqueue\n"},

		// Namespaces.
		{name: "no unshare", args: func(w *bwrapWorld, tag string) []string { return with(ro, sh(nsScript(w))) }},
		{name: "unshare-user", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--unshare-user"), sh(nsScript(w)))
		}},
		{name: "unshare-user-try", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--unshare-user-try"), sh(nsScript(w)))
		}},
		{name: "unshare-ipc pid net uts cgroup", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup"), sh(nsScript(w)))
		}},
		{name: "unshare-cgroup-try", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--unshare-cgroup-try"), sh(nsScript(w)))
		}},
		{name: "unshare-all", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--unshare-all"), sh(nsScript(w)))
		}},
		{name: "unshare-all then share-net", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--unshare-all", "--share-net"), sh(nsScript(w)))
		}},
		{name: "share-net before unshare-all has no effect", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--share-net", "--unshare-all"), sh(nsScript(w)))
		}},
		{name: "new network namespace has lo up", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--unshare-net"), a("bash", "-c", `tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '; (exec 3<>/dev/tcp/127.0.0.1/1) 2>&1 | tail -1`))
		}},

		// Identity.
		{name: "ids", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, sh(`id -u; id -g`))
		}},
		{name: "uid and gid", unprivOnly: true, args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--unshare-user", "--uid", "1234", "--gid", "5678"), sh(`id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map | tr -s ' '`))
		}, want: "1234\n5678\n"},
		{name: "uid and gid with dev", unprivOnly: true, args: func(w *bwrapWorld, tag string) []string {
			// Not the uid map: bwrap nests a second user namespace for
			// devpts (map "1234 0 1"), zbox needs none ("1234 <uid> 1").
			return with(ro, a("--unshare-user", "--dev", "/dev", "--uid", "1234", "--gid", "5678"), sh(`id -u; id -g; ls /dev/pts >/dev/null && echo pts`))
		}, want: "1234\n5678\npts\n"},
		{name: "root with another uid", rootOnly: true, args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--unshare-user", "--uid", "1234", "--gid", "5678"), sh(`id -u; id -g; grep -E '^Cap(Prm|Eff|Amb)' /proc/self/status`))
		}},
		{name: "root in a user namespace", rootOnly: true, args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--unshare-user"), sh(`id -u; id -g; cat /proc/self/uid_map | tr -s ' '`))
		}},
		{name: "hostname", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--unshare-uts", "--hostname", "zbox-e2e"), a("hostname"))
		}, want: "zbox-e2e\n"},

		// Process environment.
		{name: "chdir", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--chdir", "/usr"), sh(`pwd; echo "PWD=$PWD"`))
		}, want: "/usr\nPWD=/usr\n"},
		{name: "cwd kept when it exists inside", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, sh(`pwd; echo "PWD=$PWD"`))
		}},
		{name: "cwd falls back to HOME", env: []string{"HOME=/usr"}, args: func(w *bwrapWorld, tag string) []string {
			return with(a("--ro-bind", "/usr", "/usr", "--ro-bind", "/bin", "/bin", "--ro-bind-try", "/lib", "/lib", "--ro-bind-try", "/lib64", "/lib64"), sh(`pwd; echo "PWD=$PWD"`))
		}, want: "/usr\nPWD=/usr\n"},
		{name: "chdir to a missing directory", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--chdir", "/nonexistent-zbox", "true"))
		}, code: 1, stderrSub: "bwrap: "},
		{name: "chdir to a missing directory message", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--chdir", "/nonexistent-zbox", "true"))
		}, code: 1},
		{name: "setenv unsetenv clearenv", env: []string{"ZBOX_E2E_KEEP=1", "ZBOX_E2E_DROP=1"}, args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--setenv", "A", "1", "--unsetenv", "ZBOX_E2E_DROP", "--setenv", "B", "two words"), sh(`env | grep -E '^(A|B|ZBOX_E2E_[A-Z]+)=' | sort`))
		}, want: "A=1\nB=two words\nZBOX_E2E_KEEP=1\n"},
		{name: "clearenv", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--setenv", "A", "1", "--clearenv", "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "B", "2"), a("/usr/bin/env"))
		}},
		{name: "stdin stdout stderr and status", stdin: "in\n", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, sh(`cat; echo err >&2; exit 7`))
		}, code: 7},
		{name: "death by signal", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--unshare-pid"), sh(`kill -TERM $$`))
		}, code: 143},

		// Process structure.
		{name: "new-session", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--new-session"), sh(`read -r _ _ _ _ _ sid _ < /proc/self/stat; [ "$sid" = "$$" ] && echo leader || echo member`))
		}, want: "leader\n"},
		{name: "no new-session", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, sh(`read -r _ _ _ _ _ sid _ < /proc/self/stat; [ "$sid" = "$$" ] && echo leader || echo member`))
		}, want: "member\n"},
		{name: "as-pid-1", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--unshare-pid", "--as-pid-1"), sh(`echo $$`))
		}, want: "1\n"},
		{name: "command is pid 2", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--unshare-pid"), sh(`echo $$`))
		}, want: "2\n"},
		{name: "returns when the command exits", args: func(w *bwrapWorld, tag string) []string {
			// bwrap returns as soon as pid 2 exits, while its reaper keeps
			// the rest of the sandbox alive (spec §2.9).
			return with(ro, a("--unshare-pid"), sh(`sleep 2 >/dev/null 2>&1 & exit 5`))
		}, code: 5},

		// Capabilities (CapInh: see TestBwrapCapInheritable).
		{name: "capabilities by default", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("grep", "-E", "^Cap(Prm|Eff|Bnd|Amb)", "/proc/self/status"))
		}},
		{name: "cap-drop ALL", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--unshare-user", "--cap-drop", "ALL", "grep", "-E", "^Cap(Prm|Eff|Bnd|Amb)", "/proc/self/status"))
		}},
		{name: "cap-drop ALL cap-add one", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--unshare-user", "--cap-drop", "ALL", "--cap-add", "CAP_NET_ADMIN", "grep", "-E", "^Cap(Prm|Eff|Bnd|Amb)", "/proc/self/status"))
		}},
		{name: "cap-add in a user namespace", unprivOnly: true, args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--unshare-user", "--unshare-net", "--cap-add", "cap_net_admin", "grep", "-E", "^Cap(Prm|Eff|Bnd|Amb)", "/proc/self/status"))
		}},
		{name: "cap-drop one as root", rootOnly: true, args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--cap-drop", "CAP_SYS_ADMIN", "grep", "-E", "^Cap(Prm|Eff|Bnd|Amb)", "/proc/self/status"))
		}},
		{name: "no_new_privs", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("grep", "^NoNewPrivs:", "/proc/self/status"))
		}},
		{name: "inheritable capabilities of root", rootOnly: true, args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("grep", "^CapInh:", "/proc/self/status"))
		}},
		{name: "unknown capability", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--cap-add", "CAP_NOPE", "true"))
		}, code: 1},

		// Inherited fds.
		{name: "inherited fds reach the command", fds: []string{"three\n", "four\n"}, args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--unshare-pid"), sh(`cat <&3; cat /proc/self/fd/4`))
		}, want: "three\nfour\n"},
		{name: "consumed fds do not", fds: []string{"F\n"}, args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--tmpfs", "/mnt", "--file", "3", "/mnt/f"), sh(`cat /mnt/f; cat <&3 2>/dev/null || echo closed`))
		}, want: "F\nclosed\n"},

		// --args.
		{name: "args from an fd", fds: []string{"--ro-bind\x00/\x00/\x00--setenv\x00FROM_FD\x00yes\x00"}, args: func(w *bwrapWorld, tag string) []string {
			return a("--args", "3", "sh", "-c", `echo "$FROM_FD"`)
		}, want: "yes\n"},
		{name: "args fd without trailing NUL and stop at a word", fds: []string{"--ro-bind\x00/\x00/\x00true\x00--ignored"}, args: func(w *bwrapWorld, tag string) []string {
			return a("--args", "3", "sh", "-c", `echo ran`)
		}, want: "ran\n"},

		// Errors.
		{name: "unknown option", args: func(w *bwrapWorld, tag string) []string { return a("--bogus", "true") }, code: 1},
		{name: "bind takes two arguments", args: func(w *bwrapWorld, tag string) []string { return a("--ro-bind", "/") }, code: 1},
		{name: "chdir takes one argument", args: func(w *bwrapWorld, tag string) []string { return a("--chdir") }, code: 1},
		{name: "setenv takes two arguments", args: func(w *bwrapWorld, tag string) []string { return a("--setenv", "A") }, code: 1},
		{name: "proc takes an argument", args: func(w *bwrapWorld, tag string) []string { return a("--proc") }, code: 1},
		{name: "bad fd", args: func(w *bwrapWorld, tag string) []string { return with(ro, a("--info-fd", "x", "true")) }, code: 1},
		{name: "negative fd", args: func(w *bwrapWorld, tag string) []string { return with(ro, a("--sync-fd", "-1", "true")) }, code: 1},
		{name: "file fd not open", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--tmpfs", "/mnt", "--file", "77", "/mnt/f", "true"))
		}, code: 1},
		{name: "perms not followed by a creating option", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--perms", "0700", "--chdir", "/", "true"))
		}, code: 1},
		{name: "trailing perms is ignored", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--perms", "0700", "true"))
		}},
		{name: "hostname requires unshare-uts", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--hostname", "x", "true"))
		}, code: 1},
		{name: "as-pid-1 requires unshare-pid", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--as-pid-1", "true"))
		}, code: 1},
		{name: "uid requires a user namespace", rootOnly: true, args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--uid", "5", "true"))
		}, code: 1},
		{name: "execvp failure", env: []string{"PATH=" + cleanPath}, args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("zbox-e2e-no-such-command"))
		}, code: 1},
		{name: "execvp failure with a path", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("/nonexistent-zbox/cmd"))
		}, code: 1},
		{name: "closed sync-fd and block-fd are ignored", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--sync-fd", "99", "--block-fd", "98", "echo", "ran"))
		}, want: "ran\n"},
		{name: "closed bind-fd", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--bind-fd", "99", "/mnt", "true"))
		}, code: 1},
		{name: "disable-userns requires unshare-user", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--disable-userns", "true"))
		}, code: 1},
		{name: "disable-userns", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--unshare-user", "--unshare-pid", "--proc", "/proc", "--disable-userns"), sh(`unshare -U true 2>&1; echo rc=$?`))
		}, want: "unshare: unshare failed: No space left on device\nrc=1\n"},
		{name: "disable-userns without a fresh proc", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--unshare-user", "--disable-userns"), sh(`unshare -U true 2>&1; echo rc=$?`))
		}},
		{name: "assert-userns-disabled", args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--unshare-user", "--assert-userns-disabled", "true"))
		}, code: 1},
		{name: "command after --", env: []string{"PATH=" + cleanPath}, args: func(w *bwrapWorld, tag string) []string {
			return with(ro, a("--", "--dev-bind"))
		}, code: 1},
	}
}

// skipEngineBug skips a test that documents a known engine bug, unless
// ZBOX_E2E_ENGINE_BUGS is set (to check a fix: the test must then pass).
func skipEngineBug(t *testing.T, bug string) {
	t.Helper()
	if os.Getenv("ZBOX_E2E_ENGINE_BUGS") == "" {
		t.Skip("engine bug: " + bug + " (set ZBOX_E2E_ENGINE_BUGS=1 to run)")
	}
}

// TestBwrapMode runs the case table under the system bwrap and zbox's
// bwrap mode and compares exit status, stdout and stderr.
func TestBwrapMode(t *testing.T) {
	p := bwrapPeers(t)
	for _, tc := range bwrapCases() {
		t.Run(tc.name, func(t *testing.T) {
			if tc.rootOnly && !isRoot() {
				t.Skip("root-only case: the behaviour depends on a uid-0 caller")
			}
			if tc.unprivOnly && isRoot() {
				t.Skip("unprivileged-only case; as root see the engine-bug tests")
			}
			w := newBwrapWorld(t)
			run := func(bin, tag string) result {
				r := invocation{args: tc.args(w, tag), stdin: tc.stdin, env: tc.env, dir: w.dir, files: dataFiles(t, tc.fds)}.run(t, bin)
				// Files the runs create carry their tag.
				r.Stdout = strings.ReplaceAll(r.Stdout, "_"+tag, "_TAG")
				r.Stderr = strings.ReplaceAll(r.Stderr, "_"+tag, "_TAG")
				return r
			}
			ref := run(p.ref, "ref")
			if tc.bug != "" {
				skipEngineBug(t, tc.bug)
			}
			zb := run(p.zb, "zb")
			if ref.Code != tc.code || zb.Code != tc.code {
				t.Fatalf("exit status bwrap=%d zbox=%d, want %d\nbwrap:\n%s\nzbox:\n%s", ref.Code, zb.Code, tc.code, ref, zb)
			}
			if ref.Stdout != zb.Stdout {
				t.Fatalf("stdout differs\nbwrap:\n%s\nzbox:\n%s", ref, zb)
			}
			if tc.want != "" && !strings.HasPrefix(zb.Stdout, tc.want) {
				t.Fatalf("stdout %q, want it to start with %q", zb.Stdout, tc.want)
			}
			if tc.stderrSub != "" {
				if !strings.Contains(ref.Stderr, tc.stderrSub) || !strings.Contains(zb.Stderr, tc.stderrSub) {
					t.Fatalf("stderr lacks %q\nbwrap:\n%s\nzbox:\n%s", tc.stderrSub, ref, zb)
				}
			} else if ref.Stderr != zb.Stderr {
				t.Fatalf("stderr differs\nbwrap:\n%s\nzbox:\n%s", ref, zb)
			}
		})
	}
}

// TestBwrapModeArgv0: bwrap 0.8 has no --argv0 (0.9+), so zbox is checked
// against the spec: argv[0] of the command becomes VALUE, the executable
// is still looked up from COMMAND, and a second --argv0 is an error.
func TestBwrapModeArgv0(t *testing.T) {
	p := bwrapPeers(t)
	ref := invocation{args: []string{"--ro-bind", "/", "/", "--argv0", "x", "true"}}.run(t, p.ref)
	if ref.Code == 0 {
		t.Logf("the system bwrap supports --argv0 (0.9+)")
	}
	zb := invocation{args: []string{"--ro-bind", "/", "/", "--argv0", "zbox-e2e-name", "sh", "-c", "echo $0"}}.run(t, p.zb)
	mustExit(t, zb, 0)
	if zb.Stdout != "zbox-e2e-name\n" {
		t.Fatalf("argv[0] %q, want zbox-e2e-name\n%s", zb.Stdout, zb)
	}
	zb = invocation{args: []string{"--ro-bind", "/", "/", "--argv0", "a", "--argv0", "b", "true"}}.run(t, p.zb)
	mustExit(t, zb, 1)
	if zb.Stderr != "bwrap: --argv0 used multiple times\n" {
		t.Fatalf("stderr %q", zb.Stderr)
	}
}

// TestBwrapModeLevelPrefix: bwrap 0.11's --level-prefix (0.8 lacks it):
// messages printed after it carry syslog levels, <3> for errors and <4>
// for warnings (spec bubblewrap.md §1.2).
func TestBwrapModeLevelPrefix(t *testing.T) {
	p := bwrapPeers(t)
	zb := invocation{args: []string{"--chdir", "/", "--level-prefix", "--chdir", "/", "--bogus"}}.run(t, p.zb)
	mustExit(t, zb, 1)
	if want := "<4>bwrap: Only the last --chdir option will take effect\n<3>bwrap: Unknown option --bogus\n"; zb.Stderr != want {
		t.Fatalf("stderr %q, want %q", zb.Stderr, want)
	}
	zb = invocation{args: []string{"--level-prefix", "--ro-bind", "/", "/", "/nonexistent-zbox"}}.run(t, p.zb)
	mustExit(t, zb, 1)
	if want := "<3>bwrap: execvp /nonexistent-zbox: No such file or directory\n"; zb.Stderr != want {
		t.Fatalf("stderr %q, want %q", zb.Stderr, want)
	}
}

// TestBwrapModeBindFD: --bind-fd and --ro-bind-fd bind what an open fd
// refers to, and the command does not inherit the fd.
func TestBwrapModeBindFD(t *testing.T) {
	p := bwrapPeers(t)
	w := newBwrapWorld(t)
	for _, opt := range []string{"--bind-fd", "--ro-bind-fd"} {
		var rs []result
		for _, bin := range []string{p.ref, p.zb} {
			d, err := os.Open(w.dir)
			if err != nil {
				t.Fatal(err)
			}
			r := invocation{
				args:  []string{"--ro-bind", "/", "/", opt, "3", "/mnt", "sh", "-c", "cat /mnt/readme; (echo x > /mnt/w) 2>/dev/null && echo w=ok || echo w=denied; rm -f /mnt/w; test -e /proc/self/fd/3 && echo fd3=open || echo fd3=closed"},
				files: []*os.File{d},
			}.run(t, bin)
			d.Close()
			rs = append(rs, r)
		}
		if rs[0].String() != rs[1].String() || rs[0].Code != 0 {
			t.Errorf("%s:\nbwrap:\n%s\nzbox:\n%s", opt, rs[0], rs[1])
		}
	}
}

// TestBwrapModeHelpVersion: --help goes to stdout with status 0 and the
// argv[0] the caller used; no command at all prints the same usage to
// stderr with status 1; --version names bubblewrap.
func TestBwrapModeHelpVersion(t *testing.T) {
	p := bwrapPeers(t)
	for _, bin := range []string{p.ref, p.zb} {
		r := invocation{args: []string{"--help"}}.run(t, bin)
		mustExit(t, r, 0)
		if !strings.HasPrefix(r.Stdout, "usage: "+bin+" [OPTIONS...] [--] COMMAND [ARGS...]\n") {
			t.Errorf("%s --help: first line %q", bin, strings.SplitN(r.Stdout, "\n", 2)[0])
		}
		// The options every supported version lists.
		for _, opt := range []string{"--ro-bind SRC DEST", "--unshare-all", "--json-status-fd FD", "--chmod OCTAL PATH"} {
			if !strings.Contains(r.Stdout, opt) {
				t.Errorf("%s --help lacks %s", bin, opt)
			}
		}
		r = invocation{}.run(t, bin)
		mustExit(t, r, 1)
		if !strings.HasPrefix(r.Stderr, "usage: "+bin+" [OPTIONS...]") || r.Stdout != "" {
			t.Errorf("%s without arguments: want the usage on stderr\n%s", bin, r)
		}
		r = invocation{args: []string{"--ro-bind", "/", "/"}}.run(t, bin)
		mustExit(t, r, 1)
		if !strings.HasPrefix(r.Stderr, "usage: "+bin+" [OPTIONS...]") {
			t.Errorf("%s without COMMAND: want the usage on stderr\n%s", bin, r)
		}
		r = invocation{args: []string{"--version"}}.run(t, bin)
		mustExit(t, r, 0)
		if !strings.HasPrefix(r.Stdout, "bubblewrap ") {
			t.Errorf("%s --version: %q", bin, r.Stdout)
		}
	}
}

// statusJSON runs bin with --info-fd 3 --json-status-fd 4 and returns the
// info object, the status lines and the result.
func statusJSON(t *testing.T, bin string, args []string) (map[string]any, []map[string]any, result) {
	t.Helper()
	dir := t.TempDir()
	var files []*os.File
	for _, n := range []string{"info", "status"} {
		f, err := os.Create(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		files = append(files, f)
	}
	r := invocation{args: append([]string{"--info-fd", "3", "--json-status-fd", "4"}, args...), files: files}.run(t, bin)
	var info map[string]any
	b, _ := os.ReadFile(filepath.Join(dir, "info"))
	if len(b) > 0 {
		if err := json.Unmarshal(b, &info); err != nil {
			t.Fatalf("%s: --info-fd is not one JSON object: %v\n%s", bin, err, b)
		}
	}
	var lines []map[string]any
	b, _ = os.ReadFile(filepath.Join(dir, "status"))
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s: --json-status-fd line %q: %v", bin, sc.Text(), err)
		}
		lines = append(lines, m)
	}
	return info, lines, r
}

func jsonKeys(m map[string]any) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ",")
}

// TestBwrapModeStatusFDs compares --info-fd and --json-status-fd: the
// same keys (namespace inode numbers differ by nature), the same exit
// code line, and no exit-code line when the command could not be run.
func TestBwrapModeStatusFDs(t *testing.T) {
	p := bwrapPeers(t)
	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"plain", []string{"--ro-bind", "/", "/", "sh", "-c", "exit 3"}, 3},
		{"unshare-all", []string{"--unshare-all", "--ro-bind", "/", "/", "--proc", "/proc", "sh", "-c", "exit 4"}, 4},
		{"unshare-pid net", []string{"--unshare-pid", "--unshare-net", "--ro-bind", "/", "/", "true"}, 0},
		{"killed", []string{"--ro-bind", "/", "/", "sh", "-c", "kill -KILL $$"}, 137},
		{"execvp failure", []string{"--ro-bind", "/", "/", "/nonexistent-zbox"}, 1},
		{"setup failure", []string{"--ro-bind", "/", "/", "--chdir", "/nonexistent-zbox", "true"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ri, rl, rr := statusJSON(t, p.ref, tc.args)
			zi, zl, zr := statusJSON(t, p.zb, tc.args)
			if rr.Code != tc.code || zr.Code != tc.code {
				t.Fatalf("exit status bwrap=%d zbox=%d, want %d\nbwrap:\n%s\nzbox:\n%s", rr.Code, zr.Code, tc.code, rr, zr)
			}
			if jsonKeys(ri) != jsonKeys(zi) {
				t.Errorf("--info-fd keys: bwrap %s, zbox %s", jsonKeys(ri), jsonKeys(zi))
			}
			if len(rl) != len(zl) {
				t.Fatalf("--json-status-fd: bwrap wrote %d lines %v, zbox %d %v", len(rl), rl, len(zl), zl)
			}
			for i := range rl {
				if jsonKeys(rl[i]) != jsonKeys(zl[i]) {
					t.Errorf("--json-status-fd line %d keys: bwrap %s, zbox %s", i, jsonKeys(rl[i]), jsonKeys(zl[i]))
				}
				if c, ok := rl[i]["exit-code"]; ok && c != zl[i]["exit-code"] {
					t.Errorf("exit-code: bwrap %v, zbox %v", c, zl[i]["exit-code"])
				}
			}
			// child-pid is a live pid in the caller's namespace while it
			// runs; both report a positive number.
			for _, m := range []map[string]any{ri, zi} {
				if m == nil {
					continue
				}
				if pid, _ := m["child-pid"].(float64); pid <= 0 {
					t.Errorf("child-pid %v", m["child-pid"])
				}
			}
		})
	}
}

// TestBwrapModeBlockFD: the command does not start until a byte arrives
// on --block-fd.
func TestBwrapModeBlockFD(t *testing.T) {
	p := bwrapPeers(t)
	for _, bin := range []string{p.ref, p.zb} {
		d := hostDir(t)
		marker := filepath.Join(d, "started")
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "--ro-bind", "/", "/", "--bind", d, d, "--block-fd", "3", "touch", marker)
		cmd.ExtraFiles = []*os.File{pr}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pr.Close()
		time.Sleep(300 * time.Millisecond)
		if _, err := os.Stat(marker); err == nil {
			t.Errorf("%s: the command ran before the block fd was written", bin)
		}
		pw.Write([]byte{'x'})
		pw.Close()
		if err := cmd.Wait(); err != nil {
			t.Fatalf("%s: %v", bin, err)
		}
		if _, err := os.Stat(marker); err != nil {
			t.Errorf("%s: the command did not run after the block fd was written", bin)
		}
	}
}

// TestBwrapModeSyncFD: the sandbox holds --sync-fd open while it runs
// (the watcher sees EOF only afterwards), and the command does not
// inherit it.
func TestBwrapModeSyncFD(t *testing.T) {
	p := bwrapPeers(t)
	var outs []string
	for _, bin := range []string{p.ref, p.zb} {
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "--ro-bind", "/", "/", "--unshare-pid", "--sync-fd", "3", "sh", "-c", "ls /proc/self/fd | tr '\\n' ' '; sleep 0.3")
		var out strings.Builder
		cmd.Stdout = &out
		cmd.ExtraFiles = []*os.File{pw}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pw.Close()
		start := time.Now()
		eof := make(chan time.Duration, 1)
		go func() {
			b := make([]byte, 1)
			pr.Read(b)
			eof <- time.Since(start)
		}()
		if err := cmd.Wait(); err != nil {
			t.Fatalf("%s: %v", bin, err)
		}
		select {
		case d := <-eof:
			if d < 250*time.Millisecond {
				t.Errorf("%s: the sync fd closed after %v, before the sandbox ended", bin, d)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("%s: the sync fd is still open after the sandbox ended", bin)
		}
		pr.Close()
		outs = append(outs, out.String())
	}
	if outs[0] != outs[1] {
		t.Errorf("the command's fds differ: bwrap %q, zbox %q", outs[0], outs[1])
	}
}

// TestBwrapModeLockFile: the sandbox's pid 1 holds a read lock on each
// --lock-file while the sandbox runs.
func TestBwrapModeLockFile(t *testing.T) {
	p := bwrapPeers(t)
	d := hostDir(t)
	lock := filepath.Join(d, "lock")
	writeFile(t, lock, "")
	for _, bin := range []string{p.ref, p.zb} {
		cmd := exec.Command(bin, "--ro-bind", "/", "/", "--lock-file", lock, "sh", "-c", "read x")
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(lock, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		var held bool
		for i := 0; i < 100 && !held; i++ {
			lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0}
			if err := unix.FcntlFlock(f.Fd(), unix.F_GETLK, &lk); err != nil {
				t.Fatal(err)
			}
			held = lk.Type == unix.F_RDLCK
			if !held {
				time.Sleep(20 * time.Millisecond)
			}
		}
		f.Close()
		stdin.Write([]byte("x\n"))
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Fatalf("%s: %v", bin, err)
		}
		if !held {
			t.Errorf("%s: no read lock on %s while the sandbox ran", bin, lock)
		}
	}
}

// TestBwrapModeDieWithParent: when the process that started bwrap dies,
// the sandbox is killed.
func TestBwrapModeDieWithParent(t *testing.T) {
	p := bwrapPeers(t)
	// The shell starts bwrap in the background and exits at once.
	checkDiesWithParent(t, []string{p.ref, p.zb}, "the sandbox outlived its parent", func(bin, d, marker string) string {
		return fmt.Sprintf(`%s --ro-bind / / --bind %s %s --die-with-parent sh -c 'sleep 0.4; touch %s' >/dev/null 2>&1 </dev/null & sleep 0.1`, bin, d, d, marker)
	})
	// With --as-pid-1 the command itself is the pid namespace's init,
	// which the kernel shields from every signal it has no handler for,
	// except SIGKILL from outside: its parent-death signal must be that.
	// (Codex's newest launcher passes --as-pid-1 --die-with-parent.)
	checkDiesWithParent(t, []string{p.ref, p.zb}, "the --as-pid-1 command outlived its parent", func(bin, d, marker string) string {
		return fmt.Sprintf(`%s --unshare-pid --as-pid-1 --ro-bind / / --proc /proc --bind %s %s --die-with-parent sh -c 'sleep 0.4; touch %s' >/dev/null 2>&1 </dev/null & sleep 0.1`, bin, d, d, marker)
	})
}

// TestBwrapModeBindFDRace: --bind-fd pins the directory the caller
// opened. If the name it was opened by now leads elsewhere (the
// directory was removed and "D (deleted)" made in its place), bwrap
// refuses: "Race condition binding dirfd". So does zbox, instead of
// binding the impostor.
func TestBwrapModeBindFDRace(t *testing.T) {
	p := bwrapPeers(t)
	var rs []result
	for _, bin := range []string{p.ref, p.zb} {
		base := t.TempDir()
		os.Chmod(base, 0o755)
		dir := filepath.Join(base, "D")
		writeFile(t, filepath.Join(dir, "f"), "GOOD\n")
		d, err := os.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		os.RemoveAll(dir)
		writeFile(t, filepath.Join(dir+" (deleted)", "f"), "ATTACKER\n")
		r := invocation{
			args:  []string{"--ro-bind", "/", "/", "--bind-fd", "3", "/mnt", "cat", "/mnt/f"},
			files: []*os.File{d},
		}.run(t, bin)
		d.Close()
		rs = append(rs, r)
	}
	if rs[1].Code == 0 || strings.Contains(rs[1].Stdout, "ATTACKER") || rs[0].String() != rs[1].String() {
		t.Errorf("bwrap:\n%s\nzbox:\n%s", rs[0], rs[1])
	}
}

// TestBwrapModeDisableUserns: the command cannot undo --disable-userns,
// not even with CAP_SYS_RESOURCE asked for (which could raise the
// sandbox namespace's max_user_namespaces again: zbox drops it).
func TestBwrapModeDisableUserns(t *testing.T) {
	p := bwrapPeers(t)
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("needs unshare(1) from util-linux")
	}
	for _, bin := range []string{p.ref, p.zb} {
		r := invocation{args: []string{"--unshare-user", "--unshare-pid", "--disable-userns", "--cap-add", "CAP_SYS_RESOURCE",
			"--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "sh", "-c",
			"echo 100 > /proc/sys/user/max_user_namespaces; unshare -U true && echo CREATED; echo end"}}.run(t, bin)
		if strings.Contains(r.Stdout, "CREATED") || !strings.Contains(r.Stdout, "end") {
			t.Errorf("%s: the command created a user namespace under --disable-userns\n%s", bin, r)
		}
	}
}

// seccompDenyMkdir is a raw classic-BPF seccomp program that makes
// mkdir/mkdirat fail with EPERM and allows everything else.
func seccompDenyMkdir(t testing.TB) []byte {
	t.Helper()
	var nrs []uint32
	switch runtime.GOARCH {
	case "amd64":
		nrs = []uint32{83, 258} // mkdir, mkdirat
	case "arm64":
		nrs = []uint32{34} // mkdirat
	default:
		t.Skipf("no syscall numbers for %s", runtime.GOARCH)
	}
	type insn struct {
		code   uint16
		jt, jf uint8
		k      uint32
	}
	const (
		ldAbsW  = 0x20
		jeqK    = 0x15
		retK    = 0x06
		retErr  = 0x00050000 // SECCOMP_RET_ERRNO
		retOK   = 0x7fff0000 // SECCOMP_RET_ALLOW
		nrField = 0          // offsetof(struct seccomp_data, nr)
	)
	prog := []insn{{code: ldAbsW, k: nrField}}
	for i, nr := range nrs {
		// Jump to the EPERM return after the remaining compares.
		prog = append(prog, insn{code: jeqK, jt: uint8(len(nrs) - i), k: nr})
	}
	prog = append(prog, insn{code: retK, k: retOK}, insn{code: retK, k: retErr | uint32(syscall.EPERM)})
	var out []byte
	for _, in := range prog {
		var b [8]byte
		binary.NativeEndian.PutUint16(b[0:], in.code)
		b[2], b[3] = in.jt, in.jf
		binary.NativeEndian.PutUint32(b[4:], in.k)
		out = append(out, b[:]...)
	}
	return out
}

// TestBwrapModeSeccomp: a raw BPF program from --seccomp FD is installed
// on the command, and a program whose size is not a multiple of 8 is
// refused.
func TestBwrapModeSeccomp(t *testing.T) {
	p := bwrapPeers(t)
	prog := string(seccompDenyMkdir(t))
	for _, tc := range []struct {
		name string
		opt  string
		data string
		code int
	}{
		{"deny mkdir", "--seccomp", prog, 0},
		{"bad size", "--seccomp", prog[:7], 1},
		{"add-seccomp-fd", "--add-seccomp-fd", prog, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rs []result
			for _, bin := range []string{p.ref, p.zb} {
				inv := invocation{
					args:  []string{"--ro-bind", "/", "/", "--tmpfs", "/tmp", tc.opt, "3", "sh", "-c", "mkdir /tmp/d 2>&1; echo rc=$?; touch /tmp/f && echo touch=ok"},
					files: dataFiles(t, []string{tc.data}),
				}
				rs = append(rs, inv.run(t, bin))
			}
			if rs[0].String() != rs[1].String() || rs[0].Code != tc.code {
				t.Fatalf("bwrap:\n%s\nzbox:\n%s", rs[0], rs[1])
			}
			if tc.code == 0 && !strings.Contains(rs[1].Stdout, "Operation not permitted") {
				t.Fatalf("mkdir was not denied:\n%s", rs[1])
			}
		})
	}
}

// TestBwrapModeTerminal runs bwrap command lines on a real terminal
// (script(1) allocates a pty). Without --new-session the command must be
// in the terminal's foreground process group, as under bwrap: reading the
// terminal works (a background group would be stopped by SIGTTIN), and ^C
// reaches it once, from the terminal (zbox does not relay it a second
// time). With both start paths.
func TestBwrapModeTerminal(t *testing.T) {
	if _, err := exec.LookPath("script"); err != nil {
		t.Skip("needs script(1) from util-linux for a pty")
	}
	p := bwrapPeers(t)
	run := func(t *testing.T, env []string, bin, input string, script string) result {
		t.Helper()
		return onPTY(t, bin+" --ro-bind / / --dev /dev --unshare-pid sh -c '"+script+"'", env, input)
	}
	for _, mode := range []string{"direct", "go"} {
		t.Run(mode, func(t *testing.T) {
			env := []string{"ZBOX_INIT=" + mode}
			ref := run(t, nil, p.ref, "hello\n", `read x; echo got-$x`)
			zb := run(t, env, p.zb, "hello\n", `read x; echo got-$x`)
			if !strings.Contains(ref.Stdout, "got-hello") || !strings.Contains(zb.Stdout, "got-hello") {
				t.Fatalf("reading the terminal:\nbwrap:\n%s\nzbox:\n%s", ref.Stdout, zb.Stdout)
			}
			zb = run(t, env, p.zb, "\x03", `trap "echo got-INT" INT; sleep 1; echo done`)
			if n := strings.Count(zb.Stdout, "got-INT"); n != 1 || !strings.Contains(zb.Stdout, "done") {
				t.Fatalf("^C reached the command %d times (want 1, then it goes on):\n%s", n, zb.Stdout)
			}
		})
	}
}

package e2e

// The escape battery: attacks an attacker would try from inside a sandbox,
// each run under zbox's default policy with one writable workspace
// ("default"), under helper mode with a workspace-write,
// network-restricted policy ("helper"), and - recorded, never asserted -
// under bwrap 0.8 with the Codex helper's own argv for the same policy
// ("bwrap"). CI runs the suite as root and again as an unprivileged user.
//
// Every attack must fail under zbox AND the host must show no effect:
// the host directory tree and the workspace's protected paths unchanged,
// no marker file in the shared temp dirs, no connection on the host's
// listeners, no surviving process, the host's hostname and zbox binary
// untouched. An attack whose script does not reach its end ("DONE") is
// inconclusive and fails too: a battery that silently stopped running its
// attacks would prove nothing.
//
// The table in README.md ("## Escape battery") comes from this test:
//
//	ZBOX_ESCAPE_RESULTS=/tmp/esc.json   each run merges its column into FILE
//	ZBOX_WRITE_ESCAPE_TABLE=1           also render e2e/testdata/escape-table.md
//
// e.g. (repo root; the results file must be writable by both users):
//
//	go test -c -o /tmp/e2e.test ./e2e && go build -o /tmp/zbox ./cmd/zbox
//	su zbuser -c 'ZBOX_BIN=/tmp/zbox ZBOX_ESCAPE_RESULTS=/tmp/esc.json /tmp/e2e.test -test.run TestEscape'
//	ZBOX_ESCAPE_RESULTS=/tmp/esc.json ZBOX_WRITE_ESCAPE_TABLE=1 go test -run TestEscape ./e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/zbox-sandbox/zbox/policy"
)

// python is the interpreter the attacks are written for. An absolute path:
// root's PATH may start with a pyenv shim under /root that the
// unprivileged run cannot use.
const python = "/usr/bin/python3"

// attack is one row of the battery.
type attack struct {
	family, name string
	// py is the attack, in Python, run after escapePrelude; it reports
	// each attempt with ESC/BLK/TRIED and must reach its end.
	py string
	// prep prepares extra host state for one run; a non-empty return is
	// a reason to skip the attack (as this user, on this machine).
	prep func(t *testing.T, e *escEnv) string
	// check looks for host effects beyond the common ones; it returns a
	// description of each effect found.
	check func(e *escEnv) []string
	// Launch options: leak extra fds into zbox, give it a pty as its
	// controlling terminal, publish the outer process's pid, or start it
	// with a secret in its session keyring.
	leakFDs, pty, outerPID, keyring bool
	// secretEnv puts credentials into zbox's environment.
	secretEnv bool
	// notIn marks setups where the attack does not apply, with the reason.
	notIn map[string]string
	// sigsysOK: the attack may be killed by seccomp (SIGSYS); that counts
	// as blocked.
	sigsysOK bool
	// knownBug names an open bug: if zbox does not stop this attack the
	// test is skipped with this reason instead of failing.
	knownBug string
}

// escEnv is the host-side world of one attack run.
type escEnv struct {
	WS, Host string // the writable workspace, a read-only host directory
	Mark     string // unique to this run: in file names, keys, argv
	Token    string // the content of every denied file
	// Parameters handed to the script as JSON.
	Params map[string]any

	victimPID *os.Process
	tcp, udp  []net.Listener
	conns     atomic.Int64 // connections or datagrams that reached the host
	closers   []io.Closer
	ptyInQ    int // bytes waiting on the caller's terminal after the run
	snap      map[string]string
	hostname  string
	zboxStat  string
	ipcKeys   []int
}

const escapePrelude = `
import os, sys, errno, ctypes, socket, subprocess, json, time, signal, stat, struct
E = json.loads(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def en(e):
    if isinstance(e, OSError) and e.errno:
        return errno.errorcode.get(e.errno, str(e.errno))
    return type(e).__name__ + ": " + str(e)
def say(kind, msg):
    print(kind + ": " + msg.replace("\n", " | ")[:300], flush=True)
def ESC(m): say("ESCAPED", m)
def BLK(m): say("BLOCKED", m)
def TRIED(m): say("TRIED", m)
def ALLOWED(m): say("ALLOWED", m)
def attempt(desc, fn, breach=(), inside=False):
    # Success is an escape; an OSError whose errno is in breach too (the
    # kernel got past the permission check). inside: success only reaches
    # the sandbox's own namespaces (a socket in its own network namespace):
    # reported as ALLOWED, which zbox's policy still forbids.
    try:
        r = fn()
    except OSError as e:
        if e.errno in breach:
            ESC(desc + ": " + en(e) + " (past the permission check)")
        else:
            BLK(desc + ": " + en(e))
        return False
    except Exception as e:
        BLK(desc + ": " + en(e))
        return False
    (ALLOWED if inside else ESC)(desc + ("" if r is None else ": " + repr(r)[:80]))
    return True
def tried(desc, fn):
    # The host check decides.
    try:
        fn(); TRIED(desc + ": ok")
    except Exception as e:
        TRIED(desc + ": " + en(e))
def sc(nr, *a):
    r = libc.syscall(ctypes.c_long(nr), *a)
    if r < 0:
        n = ctypes.get_errno(); raise OSError(n, os.strerror(n))
    return r
def run(argv, cwd=None):
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=cwd, timeout=20)
        return p.returncode, p.stdout.strip()
    except Exception as e:
        return -1, en(e)
def readall(p):
    with open(p, "rb") as f:
        return f.read()
def append(p):
    fd = os.open(p, os.O_WRONLY | os.O_APPEND)
    try: os.write(fd, b"PWNED\n")
    finally: os.close(fd)
def create(p):
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try: os.write(fd, b"PWNED\n")
    finally: os.close(fd)
def openw(p):
    os.close(os.open(p, os.O_WRONLY))
def read_secret(desc, p):
    try:
        d = readall(p)
    except Exception as e:
        BLK(desc + ": " + en(e)); return
    if E["token"].encode() in d:
        ESC(desc + ": read the denied content")
    else:
        BLK(desc + ": only the mask (%d bytes)" % len(d))
def cerr(r):
    if r != 0:
        n = ctypes.get_errno(); raise OSError(n, os.strerror(n))
def mount(src, tgt, fstype, flags, data=None):
    cerr(libc.mount(src and src.encode(), tgt.encode(), fstype and fstype.encode(), ctypes.c_ulong(flags), data))
def umount(tgt, flags=0):
    cerr(libc.umount2(tgt.encode(), flags))
def waitfile(p):
    for _ in range(300):
        try:
            return int(readall(p))
        except Exception:
            time.sleep(0.01)
    raise RuntimeError("no pid file " + p)
NR = {"x86_64": dict(ptrace=101, process_vm_readv=310, pidfd_open=434, open_tree=428, mount_setattr=442,
                     pivot_root=155, io_uring_setup=425, init_module=175, reboot=169, iopl=172, socket=41,
                     add_key=248, keyctl=250, open_by_handle_at=304, clock_settime=227, sethostname=170, unshare=272,
                     shmget=29, msgget=68),
      "aarch64": dict(ptrace=117, process_vm_readv=270, pidfd_open=434, open_tree=428, mount_setattr=442,
                      pivot_root=41, io_uring_setup=425, init_module=105, reboot=142, iopl=-1, socket=198,
                      add_key=217, keyctl=219, open_by_handle_at=265, clock_settime=112, sethostname=161, unshare=97,
                      shmget=194, msgget=186)}[os.uname().machine]
`

// The attacks. Paths and parameters come from E (see newEscEnv).
var attacks = []attack{
	// --- Writing outside the allowed roots, by any path ---
	{family: "write", name: "write and create next to a host file", py: `
attempt("append to the host file", lambda: append(E["victim"]))
attempt("create a file in the host dir", lambda: create(E["host"] + "/new-" + E["mark"]))
attempt("mkdir in the host dir", lambda: os.mkdir(E["host"] + "/dir-" + E["mark"]))
attempt("mkfifo in the host dir", lambda: os.mkfifo(E["host"] + "/fifo-" + E["mark"]))
`},
	{family: "write", name: "write via /proc/self/root, /proc/1/root and /proc/self/cwd", py: `
attempt("append via /proc/self/root", lambda: append("/proc/self/root" + E["victim"]))
attempt("create via /proc/self/root", lambda: create("/proc/self/root" + E["host"] + "/new-" + E["mark"]))
attempt("append via /proc/1/root (zbox-init)", lambda: append("/proc/1/root" + E["victim"]))
attempt("append via /proc/self/cwd/..", lambda: append("/proc/self/cwd/" + E["victim_rel"]))
`},
	{family: "write", name: "write via a symlink planted in the workspace", py: `
os.symlink(E["victim"], E["ws"] + "/link")
attempt("append through a symlink to the host file", lambda: append(E["ws"] + "/link"))
os.symlink(E["host"], E["ws"] + "/dlink")
attempt("create through a symlinked dir", lambda: create(E["ws"] + "/dlink/new-" + E["mark"]))
os.symlink("/proc/self/root" + E["host"], E["ws"] + "/plink")
attempt("create through a /proc/self/root symlink", lambda: create(E["ws"] + "/plink/new2-" + E["mark"]))
`},
	{family: "write", name: "write via a hard link into the workspace", py: `
attempt("link(host file, workspace)", lambda: os.link(E["victim"], E["ws"] + "/hl"))
fd = os.open(E["victim"], os.O_PATH)
attempt("linkat(/proc/self/fd/N of an O_PATH fd, AT_SYMLINK_FOLLOW)", lambda: os.link("/proc/self/fd/%d" % fd, E["ws"] + "/hl2", follow_symlinks=True))
for p in (E["ws"] + "/hl", E["ws"] + "/hl2"):
    if os.path.exists(p):
        attempt("append through the hard link " + p, lambda: append(p))
`},
	{family: "write", name: "write via .. traversal out of the workspace", py: `
os.chdir(E["ws"])
attempt("append to a relative ../ path", lambda: append(E["victim_rel"]))
attempt("append to WS/./../ path", lambda: append(E["ws"] + "/./" + E["victim_rel"]))
attempt("create via ../", lambda: create(os.path.dirname(E["victim_rel"]) + "/new-" + E["mark"]))
`},
	{family: "write", name: "write via O_PATH fds, openat and /proc/self/fd reopen", py: `
d = os.open(E["host"], os.O_PATH | os.O_DIRECTORY)
attempt("openat(O_PATH dir fd, O_WRONLY)", lambda: os.close(os.open("victim.txt", os.O_WRONLY | os.O_APPEND, dir_fd=d)))
attempt("create through /proc/self/fd/N/", lambda: create("/proc/self/fd/%d/new-%s" % (d, E["mark"])))
f = os.open(E["victim"], os.O_PATH)
attempt("reopen an O_PATH fd for writing via /proc/self/fd", lambda: append("/proc/self/fd/%d" % f))
r = os.open(E["victim"], os.O_RDONLY)
attempt("reopen a read-only fd for writing via /proc/self/fd", lambda: append("/proc/self/fd/%d" % r))
`},
	{family: "write", name: "rename files into, over or out of the host dir", py: `
create(E["ws"] + "/f")
attempt("rename workspace file into the host dir", lambda: os.rename(E["ws"] + "/f", E["host"] + "/moved-" + E["mark"]))
attempt("rename workspace file over the host file", lambda: os.rename(E["ws"] + "/f", E["victim"]))
attempt("rename the host file into the workspace", lambda: os.rename(E["victim"], E["ws"] + "/stolen"))
attempt("unlink the host file", lambda: os.unlink(E["victim"]))
`},
	{family: "write", name: "change a host file's metadata", py: `
attempt("chmod", lambda: os.chmod(E["victim"], 0o777))
attempt("chown to self", lambda: os.chown(E["victim"], os.getuid(), os.getgid()))
attempt("utime", lambda: os.utime(E["victim"], (1, 1)))
attempt("truncate", lambda: os.truncate(E["victim"], 0))
attempt("setxattr user.*", lambda: os.setxattr(E["victim"], "user.zbox", b"x"))
`},
	{family: "write", name: "write to /tmp, /var/tmp, /dev/shm and $HOME", py: `
for d in E["shared_dirs"]:
    tried("create %s/zbox-esc-%s" % (d, E["mark"]), lambda d=d: create("%s/zbox-esc-%s" % (d, E["mark"])))
`},
	{family: "write", name: "SysV IPC objects visible to the host", py: `
tried("shmget(IPC_CREAT)", lambda: sc(NR["shmget"], E["ipc_key"], 4096, 0o1666))
tried("msgget(IPC_CREAT)", lambda: sc(NR["msgget"], E["ipc_key"] + 1, 0o1666))
`},
	{family: "write", name: "tamper with the workspace's protected .git and .codex", py: `
g = E["ws"] + "/.git"
attempt("append .git/HEAD", lambda: append(g + "/HEAD"))
attempt("plant a git hook", lambda: create(g + "/hooks/pre-commit"))
create(E["ws"] + "/cfg")
attempt("rename a file over .git/config", lambda: os.rename(E["ws"] + "/cfg", g + "/config"))
attempt("rename .git away", lambda: os.rename(g, E["ws"] + "/git-old"))
attempt("unlink .git/HEAD", lambda: os.unlink(g + "/HEAD"))
attempt("append .codex/config.toml", lambda: append(E["ws"] + "/.codex/config.toml"))
attempt("rename .codex away", lambda: os.rename(E["ws"] + "/.codex", E["ws"] + "/codex-old"))
`},
	{family: "write", name: "create or open device nodes", prep: prepDevNode, py: `
attempt("mknod a block device (8:0) in the workspace", lambda: os.mknod(E["ws"] + "/sda", 0o600 | stat.S_IFBLK, os.makedev(8, 0)))
attempt("mknod /dev/mem (1:1) in the workspace", lambda: os.mknod(E["ws"] + "/mem", 0o600 | stat.S_IFCHR, os.makedev(1, 1)))
if E.get("devnode"):
    attempt("open a device node planted by the host (nodev)", lambda: os.close(os.open(E["devnode"], os.O_RDWR)))
`},
	{family: "write", name: "overwrite the zbox binary (runc CVE-2019-5736)", py: `
attempt("open the zbox binary for writing", lambda: openw(E["zbox"]))
attempt("open /proc/1/exe for writing", lambda: openw("/proc/1/exe"))
`},

	// --- Undoing the sandbox's own mounts ---
	{family: "mounts", name: "unmount .git, the deny masks, /proc, /", py: `
for p in (E["ws"] + "/.git", E["wssecret"], E["wsprivate"], E["secret"], E["ws"], "/proc", "/"):
    attempt("umount2(%s, MNT_DETACH)" % p, lambda p=p: umount(p, 2))
read_secret("read the masked file afterwards", E["wssecret"])
`},
	{family: "mounts", name: "remount / and .git read-write", py: `
MS_REMOUNT, MS_BIND, MS_REC = 32, 4096, 16384
attempt("remount / rw", lambda: mount(None, "/", None, MS_REMOUNT | MS_BIND))
attempt("remount .git rw", lambda: mount(None, E["ws"] + "/.git", None, MS_REMOUNT | MS_BIND))
attempt("remount the host dir rw", lambda: mount(None, E["host"], None, MS_REMOUNT | MS_BIND))
attr = struct.pack("QQQQ", 0, 1, 0, 0)  # attr_set=0, attr_clr=MOUNT_ATTR_RDONLY
attempt("mount_setattr(/, AT_RECURSIVE, clear RDONLY)", lambda: sc(NR["mount_setattr"], -100, b"/", 0x8000, attr, len(attr)))
attempt("append .git/HEAD afterwards", lambda: append(E["ws"] + "/.git/HEAD"))
`},
	{family: "mounts", name: "bind, move or cover mounts; pivot_root; open_tree", py: `
MS_BIND, MS_MOVE = 4096, 8192
os.mkdir(E["ws"] + "/mnt")
attempt("bind the workspace over the host dir", lambda: mount(E["ws"], E["host"], None, MS_BIND))
attempt("move the .git mount", lambda: mount(E["ws"] + "/.git", E["ws"] + "/mnt", None, MS_MOVE))
attempt("mount a tmpfs over .git", lambda: mount("tmpfs", E["ws"] + "/.git", "tmpfs", 0))
attempt("pivot_root into the workspace", lambda: sc(NR["pivot_root"], E["ws"].encode(), (E["ws"] + "/mnt").encode()))
attempt("open_tree(OPEN_TREE_CLONE) of the workspace", lambda: sc(NR["open_tree"], -100, E["ws"].encode(), 1))
`},
	{family: "mounts", name: "new user+mount namespace, then unmount the masks", py: `
script = "umount -l {s}; umount -l {p}; cat {s} {p}/key; mount -o remount,rw,bind {g} && echo PWNED >> {g}/HEAD; echo nested-done".format(
    s=E["wssecret"], p=E["wsprivate"], g=E["ws"] + "/.git")
rc, out = run(["unshare", "-rm", "/bin/sh", "-c", script])
TRIED("unshare -rm: rc=%d %s" % (rc, out))
`},
	{family: "mounts", name: "chroot breakout from a nested user namespace", py: `
code = r'''
import os
os.makedirs("cb", exist_ok=True); os.chroot("cb")
for _ in range(64): os.chdir("..")
os.chroot(".")
print("root after breakout:", sorted(os.listdir("/"))[:12])
for p in (%r, %r):
    try: print(open(p).read())
    except Exception as e: print("read", p, e)
''' % (E["secret"], E["wssecret"])
rc, out = run(["unshare", "-r", "/usr/bin/python3", "-c", code], cwd=E["ws"])
TRIED("unshare -r + chroot: rc=%d %s" % (rc, out))
`},
	{family: "mounts", name: "detached copy of the workspace without its masks (open_tree in a nested namespace)", py: `
code = r'''
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True); libc.syscall.restype = ctypes.c_long
fd = libc.syscall(428, -100, %r.encode(), 1 | 0o2000000)  # OPEN_TREE_CLONE, not recursive
print("open_tree", fd, os.strerror(ctypes.get_errno()) if fd < 0 else "")
if fd >= 0:
    for n in ("secret.txt", "private/key"):
        try: print(open("/proc/self/fd/%%d/%%s" %% (fd, n)).read())
        except Exception as e: print("read", n, e)
''' % E["ws"]
rc, out = run(["unshare", "-rm", "/usr/bin/python3", "-c", code])
TRIED("unshare -rm + open_tree: rc=%d %s" % (rc, out))
`},

	// --- Regaining privilege inside ---
	{family: "privilege", name: "capabilities of an exec'd child (uid 0 regains them on exec?)", py: `
rc, out = run(["/bin/sh", "-c", "grep -E '^Cap(Inh|Prm|Eff|Amb|Bnd)' /proc/self/status"])
held = [l for l in out.splitlines() if not l.endswith("0000000000000000") and not l.startswith("CapBnd")]
bnd = [l for l in out.splitlines() if l.startswith("CapBnd") and not l.endswith("0000000000000000")]
if held: ESC("exec'd child holds " + "; ".join(held))
elif bnd and os.geteuid() == 0: ESC("uid 0 with a non-empty bounding set: " + bnd[0])
else: BLK("no capabilities after exec: " + out.replace("\t", " "))
`},
	{family: "privilege", name: "setuid-root and file-capability binaries in the workspace", prep: prepSetuid, py: `
for b in (E["suid"], E["fcap"]):
    rc, out = run([b, "-E", "^Cap(Prm|Eff)", "/proc/self/status"])
    if any(not l.endswith("0000000000000000") for l in out.splitlines() if l.startswith("Cap")):
        ESC(b + " gained " + out)
    else:
        BLK(b + ": rc=%d %s" % (rc, out.replace("\t", " ")))
`},
	{family: "privilege", name: "drop no_new_privs or the seccomp filter", py: `
rc, out = run(["/bin/sh", "-c", "grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status"])
st = dict(l.split(":\t") for l in out.splitlines() if ":\t" in l)
if st.get("NoNewPrivs") != "1": ESC("exec'd child has NoNewPrivs=%s" % st.get("NoNewPrivs"))
else: BLK("NoNewPrivs=1 after exec")
if st.get("Seccomp") != "2": ESC("exec'd child has no seccomp filter (Seccomp=%s)" % st.get("Seccomp"))
else: BLK("seccomp filter kept after exec")
attempt("prctl(PR_SET_NO_NEW_PRIVS, 0)", lambda: cerr(libc.prctl(38, 0, 0, 0, 0)))
`},
	{family: "privilege", name: "nested user namespace: remount the host dir rw and write", py: `
script = "mount -o remount,rw,bind {h} && echo PWNED >> {v}; mount -o remount,rw / ; echo PWNED >> {v}; id -u; echo nested-done".format(h=E["host"], v=E["victim"])
rc, out = run(["unshare", "-rm", "/bin/sh", "-c", script])
TRIED("unshare -rm: rc=%d %s" % (rc, out))
`},
	{family: "privilege", name: "setns into a host process's namespaces", outerPID: true, prep: prepVictimProc, py: `
outer = waitfile(E["outer_pid_file"])
for pid in (E["victim_pid"], outer):
    for ns in ("mnt", "net", "user", "pid"):
        attempt("open /proc/%d/ns/%s" % (pid, ns), lambda pid=pid, ns=ns: os.close(os.open("/proc/%d/ns/%s" % (pid, ns), os.O_RDONLY)))
`},

	// --- Reaching host processes, kernel settings, the caller's terminal ---
	{family: "host", name: "kill or pidfd a host process by pid", prep: prepVictimProc, py: `
attempt("kill(host pid, SIGKILL)", lambda: os.kill(E["victim_pid"], signal.SIGKILL))
attempt("pidfd_open(host pid)", lambda: sc(NR["pidfd_open"], E["victim_pid"], 0))
`},
	{family: "host", name: "signal or pidfd the outer zbox process", outerPID: true, py: `
outer = waitfile(E["outer_pid_file"])
attempt("kill(outer pid %d, SIGCONT)" % outer, lambda: os.kill(outer, signal.SIGCONT))
attempt("pidfd_open(outer pid)", lambda: sc(NR["pidfd_open"], outer, 0))
attempt("stat /proc/<outer pid>", lambda: os.stat("/proc/%d" % outer))
if attempt("ptrace(PTRACE_SEIZE, outer pid)", lambda: sc(NR["ptrace"], 0x4206, outer, 0, 0)):
    try: sc(NR["ptrace"], 17, outer, 0, 0)
    except OSError: pass
buf = ctypes.create_string_buffer(8)
attempt("process_vm_readv(outer pid)", lambda: sc(NR["process_vm_readv"], outer, struct.pack("QQ", ctypes.addressof(buf), 8), 1, struct.pack("QQ", 0x10000, 8), 1, 0), breach=(errno.EFAULT,))
`},
	{family: "host", name: "ptrace, process_vm_readv, /proc/1/mem of pid 1", py: `
# A successful attach stops pid 1: detach at once, or the sandbox hangs.
if attempt("ptrace(PTRACE_ATTACH, 1)", lambda: sc(NR["ptrace"], 16, 1, 0, 0)):
    try: os.waitpid(1, 0x40000000)  # __WALL: wait for the tracee to stop
    except OSError: time.sleep(0.1)
    try: sc(NR["ptrace"], 17, 1, 0, 0)
    except OSError: pass
if attempt("ptrace(PTRACE_SEIZE, 1)", lambda: sc(NR["ptrace"], 0x4206, 1, 0, 0)):
    try: sc(NR["ptrace"], 17, 1, 0, 0)
    except OSError: pass
buf = ctypes.create_string_buffer(8)
local = struct.pack("QQ", ctypes.addressof(buf), 8)
remote = struct.pack("QQ", 0x10000, 8)
attempt("process_vm_readv(1)", lambda: sc(NR["process_vm_readv"], 1, local, 1, remote, 1, 0), breach=(errno.EFAULT,))
attempt("open /proc/1/mem", lambda: os.close(os.open("/proc/1/mem", os.O_RDONLY)))
`},
	{family: "host", name: "kill pid 1 (zbox-init) with SIGKILL and SIGSEGV", py: `
for s in (signal.SIGKILL, signal.SIGSEGV):
    try:
        os.kill(1, s)
    except OSError as e:
        BLK("kill(1, %s): %s" % (s.name, en(e))); continue
    time.sleep(0.2)
    try:
        os.kill(1, 0); BLK("kill(1, %s) returned 0 but init ignored it" % s.name)
    except OSError as e:
        ESC("pid 1 gone after %s: %s" % (s.name, en(e)))
`},
	{family: "host", name: "set the hostname (sethostname, /proc/sys/kernel/hostname)", py: `
same = E["hostname"].encode()
own = os.readlink("/proc/self/ns/uts") != E["host_uts"]
def res(desc, fn):
    try:
        fn()
    except OSError as e:
        BLK(desc + ": " + en(e)); return
    (BLK if own else ESC)(desc + (": succeeded in the sandbox's own UTS namespace" if own else ": succeeded in the HOST's UTS namespace"))
res("sethostname(same name)", lambda: cerr(libc.sethostname(same, len(same))))
def w():
    fd = os.open("/proc/sys/kernel/hostname", os.O_WRONLY)
    try: os.write(fd, same)
    finally: os.close(fd)
res("write /proc/sys/kernel/hostname (same name)", w)
`},
	{family: "host", name: "open host kernel settings for writing (core_pattern, sysrq, uevent_helper)",
		py: `
for p in ("/proc/sys/kernel/core_pattern", "/proc/sys/kernel/modprobe", "/proc/sys/vm/drop_caches",
          "/proc/sys/fs/binfmt_misc/register", "/proc/sysrq-trigger", "/sys/kernel/uevent_helper", "/sys/kernel/mm/transparent_hugepage/enabled"):
    if not os.path.exists(p):
        BLK("%s: not present on this kernel" % p); continue
    # Open only: never write to a host sysctl from a test.
    attempt("open %s for writing" % p, lambda p=p: openw(p))
`},
	{family: "host", name: "clock, kernel modules, reboot, iopl", py: `
ts = struct.pack("qq", int(time.time()), 0)
attempt("clock_settime(CLOCK_REALTIME, now)", lambda: sc(NR["clock_settime"], 0, ts))
attempt("init_module(NULL)", lambda: sc(NR["init_module"], 0, 0, b""), breach=(errno.EFAULT, errno.ENOEXEC, errno.EINVAL))
attempt("reboot(LINUX_REBOOT_CMD_CAD_OFF)", lambda: sc(NR["reboot"], 0xfee1dead, 672274793, 0, 0))
if NR["iopl"] > 0:
    attempt("iopl(3)", lambda: sc(NR["iopl"], 3))
`},
	{family: "host", name: "cgroup escape (mkdir, cgroup.procs, release_agent)", py: `
for d in E["cgroup_dirs"]:
    attempt("mkdir %s/zbox-esc-%s" % (d, E["mark"]), lambda d=d: os.mkdir("%s/zbox-esc-%s" % (d, E["mark"])))
    for f in ("cgroup.procs", "release_agent", "notify_on_release"):
        if os.path.exists(d + "/" + f):
            attempt("open %s/%s for writing" % (d, f), lambda d=d, f=f: openw(d + "/" + f))
if not E["cgroup_dirs"]:
    BLK("no cgroup filesystem mounted")
`},
	{family: "host", name: "inject input into the caller's terminal (TIOCSTI, TIOCSCTTY, /dev/tty)", pty: true, py: `
import fcntl, termios
def sti(fd):
    for c in b"echo PWNED-" + E["mark"].encode() + b"\n":
        fcntl.ioctl(fd, termios.TIOCSTI, bytes([c]))
attempt("TIOCSTI on inherited stdin", lambda: sti(0))
attempt("TIOCSCTTY(force) to steal the caller's terminal", lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 1))
attempt("TIOCSTI after the steal attempt", lambda: sti(0))
attempt("open /dev/tty", lambda: os.close(os.open("/dev/tty", os.O_RDWR)))
`},
	{family: "host", name: "read or write the caller's session keyring", keyring: true,
		py: `
KEYCTL_SEARCH, KEYCTL_READ = 10, 11
in_caller = False
try:
    kid = sc(NR["keyctl"], KEYCTL_SEARCH, ctypes.c_long(-3), b"user", ("zbox-esc-" + E["mark"]).encode(), 0)
    in_caller = True
    buf = ctypes.create_string_buffer(256)
    n = sc(NR["keyctl"], KEYCTL_READ, kid, buf, 256)
    ESC("read the caller's session key: " + buf.raw[:n].decode(errors="replace"))
except OSError as e:
    BLK("search/read the caller's session keyring: " + en(e))
if in_caller:
    attempt("add_key to the caller's session keyring", lambda: sc(NR["add_key"], b"user", ("planted-" + E["mark"]).encode(), b"x", 1, ctypes.c_long(-3)))
else:
    # The session keyring is the sandbox's own (zbox joins a fresh one):
    # adding a key there does not reach the caller's.
    BLK("add_key to the caller's session keyring: the session keyring is the sandbox's own")
`},

	// --- Leaving the network policy ---
	{family: "network", name: "AF_INET TCP/UDP to the host's 127.0.0.1 and 0.0.0.0", py: `
def tcp(addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM); s.settimeout(2); s.connect(addr)
def udp(addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b"PWNED", addr)
attempt("TCP connect 127.0.0.1:%d" % E["tcp4"], lambda: tcp(("127.0.0.1", E["tcp4"])))
attempt("TCP connect 0.0.0.0:%d" % E["tcp4"], lambda: tcp(("0.0.0.0", E["tcp4"])))
attempt("UDP sendto 127.0.0.1:%d" % E["udp4"], lambda: udp(("127.0.0.1", E["udp4"])), inside=True)
`},
	{family: "network", name: "AF_INET6 TCP to the host's ::1 and ::ffff:127.0.0.1", py: `
def tcp6(addr):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM); s.settimeout(2); s.connect(addr)
if E.get("tcp6"):
    attempt("TCP connect [::1]:%d" % E["tcp6"], lambda: tcp6(("::1", E["tcp6"])))
attempt("TCP connect [::ffff:127.0.0.1]:%d" % E["tcp4"], lambda: tcp6(("::ffff:127.0.0.1", E["tcp4"])))
`},
	{family: "network", name: "AF_NETLINK, AF_PACKET and AF_VSOCK sockets", py: `
attempt("socket(AF_NETLINK, NETLINK_ROUTE)", lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0).fileno(), inside=True)
attempt("socket(AF_PACKET, SOCK_RAW)", lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0).fileno(), inside=True)
def vsock():
    s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM); s.settimeout(1); s.connect((2, 9999))
# vsock is not namespaced: a connect that gets past socket() reaches the
# host (ECONNRESET/ECONNREFUSED: the host answered; ENODEV: no vsock
# transport here, but the socket was made).
attempt("socket(AF_VSOCK) + connect(host CID 2)", vsock, breach=(errno.ECONNREFUSED, errno.ECONNRESET, errno.ETIMEDOUT, errno.ENODEV))
`},
	{family: "network", name: "AF_UNIX connect to a host abstract socket", py: `
def c():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.settimeout(2); s.connect("\0" + E["abstract"])
attempt("connect(@%s)" % E["abstract"], c)
def d():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.sendmsg([b"PWNED"], [], 0, "\0" + E["abstract_dgram"])
# ECONNREFUSED: no such name in the sandbox's network namespace.
attempt("sendmsg to abstract @%s" % E["abstract_dgram"], d)
`},
	{family: "network", name: "AF_UNIX connect to a host pathname socket", py: `
def c():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.settimeout(2); s.connect(E["unixsock"])
attempt("connect(%s)" % E["unixsock"], c)
`},
	{family: "network", name: "AF_UNIX datagram sendmsg to a host pathname socket",
		py: `
def d():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.sendmsg([b"PWNED"], [], 0, E["dgramsock"])
attempt("sendmsg(SOCK_DGRAM, %s)" % E["dgramsock"], d)
def t():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.sendto(b"PWNED", E["dgramsock"])
attempt("sendto(SOCK_DGRAM, %s)" % E["dgramsock"], t)
def r():
    # The kernel makes AF_UNIX SOCK_RAW a datagram socket.
    s = socket.socket(socket.AF_UNIX, socket.SOCK_RAW); s.sendmsg([b"PWNED"], [], 0, E["dgramsock"])
attempt("sendmsg(SOCK_RAW, %s)" % E["dgramsock"], r)
def p():
    # A socketpair end is not limited to its peer.
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM); a.sendmsg([b"PWNED"], [], 0, E["dgramsock"])
attempt("socketpair(SOCK_DGRAM) sendmsg(%s)" % E["dgramsock"], p)
`},
	{family: "network", name: "io_uring (network ops outside seccomp's view)", py: `
params = ctypes.create_string_buffer(120)
attempt("io_uring_setup", lambda: sc(NR["io_uring_setup"], 8, params), inside=True)
`},
	{family: "network", name: "i386 int 0x80 socket()", sigsysOK: true, prep: prepX86, py: `
import mmap
# push rbx; mov eax,359 (i386 socket); mov ebx,2; mov ecx,1; xor edx,edx; int 0x80; pop rbx; ret
code = bytes.fromhex("53" "b867010000" "bb02000000" "b901000000" "31d2" "cd80" "5b" "c3")
m = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
m.write(code)
f = ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(m)))
r = f()
if r >= 0: ALLOWED("i386 socket(AF_INET) returned fd %d" % r)
else: BLK("i386 socket(): %s" % errno.errorcode.get(-r, str(-r)))
`},
	{family: "network", name: "x32 ABI socket()", sigsysOK: true, prep: prepX86, py: `
attempt("syscall(__X32_SYSCALL_BIT|41, AF_INET)", lambda: sc(0x40000000 + 41, 2, 1, 0), inside=True)
`},
	{family: "network", name: "socket() with high bits set in the domain argument", py: `
attempt("socket(AF_INET | 1<<32)", lambda: sc(NR["socket"], ctypes.c_long(2 | (1 << 32)), 1, 0), inside=True)
attempt("socket(AF_INET6 | 1<<40)", lambda: sc(NR["socket"], ctypes.c_long(10 | (1 << 40)), 1, 0), inside=True)
`},

	// --- Reading a denied file by any path ---
	{family: "read", name: "read denied files directly, or after chmod", py: `
read_secret("read the denied workspace file", E["wssecret"])
read_secret("read the denied host file", E["secret"])
read_secret("read a file in the denied dir", E["wsprivate"] + "/key")
try:
    names = os.listdir(E["wsprivate"])
    (ESC if "key" in names else BLK)("list the denied dir: %r" % names)
except OSError as e:
    BLK("list the denied dir: " + en(e))
attempt("chmod the masked file", lambda: os.chmod(E["wssecret"], 0o644))
read_secret("read the masked file after chmod", E["wssecret"])
`},
	{family: "read", name: "read denied files via symlinks and hard links", py: `
os.symlink(E["wssecret"], E["ws"] + "/l1"); read_secret("through a symlink to the workspace file", E["ws"] + "/l1")
os.symlink(E["secret"], E["ws"] + "/l2"); read_secret("through a symlink to the host file", E["ws"] + "/l2")
os.symlink(E["wsprivate"], E["ws"] + "/l3"); read_secret("through a symlink to the denied dir", E["ws"] + "/l3/key")
attempt("hard link the denied workspace file", lambda: os.link(E["wssecret"], E["ws"] + "/h1"))
attempt("hard link the denied file in the denied dir", lambda: os.link(E["wsprivate"] + "/key", E["ws"] + "/h2"))
for p in (E["ws"] + "/h1", E["ws"] + "/h2"):
    if os.path.exists(p): read_secret("through the hard link " + p, p)
`},
	{family: "read", name: "read denied files via /proc/self/root, /proc/1/root, O_PATH", py: `
read_secret("via /proc/self/root", "/proc/self/root" + E["wssecret"])
read_secret("via /proc/1/root", "/proc/1/root" + E["secret"])
d = os.open(E["ws"], os.O_PATH | os.O_DIRECTORY)
read_secret("via /proc/self/fd/N/ of an O_PATH dir fd", "/proc/self/fd/%d/secret.txt" % d)
def at():
    fd = os.open("secret.txt", os.O_RDONLY, dir_fd=os.open(E["ws"], os.O_RDONLY | os.O_DIRECTORY))
    d = os.read(fd, 200)
    if E["token"].encode() in d: return "read the denied content"
    raise OSError(errno.EACCES, "only the mask")
attempt("openat(dir fd, secret.txt)", at)
`},
	{family: "read", name: "read a masked file by renaming its parent directory", py: `
# Renaming a workspace dir is allowed; the mask must follow it.
tried("rename the parent dir of a masked file", lambda: os.rename(E["ws"] + "/sub", E["ws"] + "/sub2"))
for p in (E["ws"] + "/sub/secret2.txt", E["ws"] + "/sub2/secret2.txt"):
    if os.path.exists(p): read_secret("read " + p, p)
attempt("rename the masked file itself", lambda: os.rename(E["ws"] + "/sub/secret2.txt", E["ws"] + "/sub/x"))
attempt("unlink the masked file", lambda: os.unlink(E["wssecret"]))
`},
	{family: "read", name: "read zbox-init's environ, mem, maps, fds, cwd, root", py: `
def rd(p):
    # Some of these files check access at read time, not at open.
    fd = os.open(p, os.O_RDONLY)
    try:
        if p.endswith("mem"):
            os.lseek(fd, 0x400000, 0)
        return len(os.read(fd, 64))
    finally:
        os.close(fd)
for p in ("environ", "mem", "maps", "auxv", "stack", "syscall", "pagemap", "personality"):
    attempt("read /proc/1/" + p, lambda p=p: rd("/proc/1/" + p), breach=(errno.EIO,))
for p in ("cwd", "root", "exe"):
    attempt("readlink /proc/1/" + p, lambda p=p: os.readlink("/proc/1/" + p))
try:
    fds = os.listdir("/proc/1/fd")
except OSError as e:
    fds = []; BLK("list /proc/1/fd: " + en(e))
for n in fds:
    attempt("open /proc/1/fd/" + n, lambda n=n: os.close(os.open("/proc/1/fd/" + n, os.O_RDONLY)))
`},
	{family: "read", name: "open_by_handle_at with a handle made on the host (shocker)", prep: prepHandle, py: `
h = bytes.fromhex(E["handle_hex"])
fh = struct.pack("II", len(h), E["handle_type"]) + h
mfd = os.open(E["host"], os.O_RDONLY | os.O_DIRECTORY)
def obh():
    fd = sc(NR["open_by_handle_at"], mfd, fh, os.O_RDONLY)
    return os.read(fd, 200)
attempt("open_by_handle_at(host secret)", obh)
`},

	// --- Using what the caller leaked in ---
	{family: "leaks", name: "credentials in the caller's environment", secretEnv: true, prep: prepCLI,
		notIn: map[string]string{"helper": "the helper passes its environment through by design (codex-core filters it first)"}, py: `
leak = sorted(k for k, v in os.environ.items() if E["token"] in v)
if leak: ESC("secret variables inherited: " + ",".join(leak))
else: BLK("no secret variable inherited (%d variables)" % len(os.environ))
`},
	{family: "leaks", name: "fds the caller leaked (host file, host dir, connected socket, denied file)", leakFDs: true, py: `
found = []
for fd in range(3, 64):
    try:
        found.append((fd, os.readlink("/proc/self/fd/%d" % fd)))
    except OSError:
        pass
for fd, t in found:
    ESC("inherited fd %d -> %s" % (fd, t))
    if t.startswith("socket:"):
        attempt("send on fd %d" % fd, lambda fd=fd: os.write(fd, b"PWNED"))
    elif os.path.isdir("/proc/self/fd/%d" % fd):
        attempt("create through dir fd %d" % fd, lambda fd=fd: os.close(os.open("new-" + E["mark"], os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)))
    else:
        attempt("write fd %d" % fd, lambda fd=fd: os.write(fd, b"PWNED"))
        try:
            os.lseek(fd, 0, 0); d = os.read(fd, 200)
            if E["token"].encode() in d: ESC("read the denied file through fd %d" % fd)
        except OSError: pass
if not found:
    BLK("no inherited fds beyond stdio")
`},
}

// The policy every run uses: workspace-write with no network, /tmp and
// $TMPDIR excluded (so the workspace is the one writable root), deny
// carve-outs for a file and a directory in the workspace, a file in a
// subdirectory of it and a file outside it.
const escLegacyPolicy = `{"type":"workspace-write","network_access":false,"exclude_tmpdir_env_var":true,"exclude_slash_tmp":true}`

func escFSPolicy(e *escEnv) string {
	entry := func(p, access string) string {
		return fmt.Sprintf(`{"path":{"type":"path","path":%q},"access":%q}`, p, access)
	}
	return `{"kind":"restricted","entries":[{"path":{"type":"special","value":{"kind":"root"}},"access":"read"},` +
		strings.Join([]string{
			entry(e.WS, "write"),
			entry(e.WS+"/secret.txt", "none"),
			entry(e.WS+"/private", "none"),
			entry(e.WS+"/sub/secret2.txt", "none"),
			entry(e.Host+"/secret.txt", "none"),
		}, ",") + `]}`
}

var escSeq atomic.Int64

// newEscEnv builds the host side of one attack run: a workspace with a
// protected .git and .codex and three denied paths, a host directory
// with a victim file, a denied file and unix sockets, and listeners on
// the host's loopback.
func newEscEnv(t *testing.T) *escEnv {
	t.Helper()
	// Not t.TempDir(): test names put commas and quotes into its paths,
	// and the CLI's path lists are comma-separated.
	base, err := os.MkdirTemp("", "zbox-esc-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	os.Chmod(base, 0o755)
	if err := os.Mkdir(filepath.Join(base, "run"), 0o755); err != nil {
		t.Fatal(err)
	}
	// One sequence number per environment, for its marker and its SysV
	// keys alike (reading the counter again later could see another
	// environment's number: two environments built in parallel would
	// then share keys and see each other's IPC objects).
	seq := escSeq.Add(1)
	e := &escEnv{
		WS: filepath.Join(base, "ws"), Host: filepath.Join(base, "host"),
		Mark: fmt.Sprintf("%d-%d", os.Getpid(), seq),
	}
	e.Token = "TOPSECRET-" + e.Mark
	for _, f := range []struct{ path, data string }{
		{e.WS + "/README", "workspace\n"},
		{e.WS + "/.git/HEAD", "ref: refs/heads/main\n"},
		{e.WS + "/.git/config", "[core]\n"},
		{e.WS + "/.git/hooks/README", "hooks\n"},
		{e.WS + "/.codex/config.toml", "model = \"x\"\n"},
		{e.WS + "/secret.txt", e.Token + "\n"},
		{e.WS + "/private/key", e.Token + "\n"},
		{e.WS + "/sub/secret2.txt", e.Token + "\n"},
		{e.Host + "/victim.txt", "victim\n"},
		{e.Host + "/secret.txt", e.Token + "\n"},
	} {
		writeFile(t, f.path, f.data)
	}
	rel, _ := filepath.Rel(e.WS, e.Host+"/victim.txt")
	e.hostname, _ = os.Hostname()
	uts, _ := os.Readlink("/proc/self/ns/uts")
	e.Params = map[string]any{
		"ws": e.WS, "host": e.Host, "mark": e.Mark, "token": e.Token,
		"victim": e.Host + "/victim.txt", "victim_rel": rel, "secret": e.Host + "/secret.txt",
		"wssecret": e.WS + "/secret.txt", "wsprivate": e.WS + "/private",
		"zbox": zboxBin, "hostname": e.hostname, "host_uts": uts,
		"shared_dirs": escSharedDirs(), "cgroup_dirs": cgroupMounts(),
		"outer_pid_file": filepath.Join(base, "run", "outer.pid"),
		"ipc_key":        0x7a620000 + int(seq%0x7fff)*2,
	}
	e.ipcKeys = []int{e.Params["ipc_key"].(int), e.Params["ipc_key"].(int) + 1}
	e.listen(t)
	if st, err := os.Stat(zboxBin); err == nil {
		e.zboxStat = fmt.Sprint(st.Size(), st.ModTime().UnixNano(), st.Mode())
	}
	// The snapshot is taken by the caller, after the attack's prep.
	return e
}

// escSharedDirs are directories the host shares with every process; a
// marker file the sandbox manages to create there is a host effect.
func escSharedDirs() []string {
	var ds []string
	for _, d := range []string{"/tmp", "/var/tmp", "/dev/shm", os.Getenv("HOME")} {
		if st, err := os.Stat(d); err == nil && st.IsDir() && d != "/" {
			ds = append(ds, d)
		}
	}
	return ds
}

// cgroupMounts lists the host's cgroup filesystems.
func cgroupMounts() []string {
	data, _ := os.ReadFile("/proc/self/mountinfo")
	var ds []string
	for _, line := range strings.Split(string(data), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		f := strings.Fields(pre)
		if !ok || len(f) < 5 {
			continue
		}
		if fs := strings.Fields(post); len(fs) > 0 && (fs[0] == "cgroup" || fs[0] == "cgroup2") {
			ds = append(ds, f[4])
		}
	}
	return ds
}

// listen starts the host listeners the network attacks aim at; each
// connection or datagram that arrives counts as an escape.
func (e *escEnv) listen(t *testing.T) {
	count := func(l net.Listener) {
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				e.conns.Add(1)
				c.Close()
			}
		}()
	}
	countPC := func(pc net.PacketConn) {
		go func() {
			buf := make([]byte, 64)
			for {
				if _, _, err := pc.ReadFrom(buf); err != nil {
					return
				}
				e.conns.Add(1)
			}
		}()
	}
	add := func(c io.Closer) { e.closers = append(e.closers, c) }
	t.Cleanup(func() {
		for _, c := range e.closers {
			c.Close()
		}
	})
	if l, err := net.Listen("tcp4", "127.0.0.1:0"); err == nil {
		add(l)
		count(l)
		e.Params["tcp4"] = l.Addr().(*net.TCPAddr).Port
	} else {
		t.Fatalf("host TCP listener: %v", err)
	}
	if l, err := net.Listen("tcp6", "[::1]:0"); err == nil {
		add(l)
		count(l)
		e.Params["tcp6"] = l.Addr().(*net.TCPAddr).Port
	}
	if pc, err := net.ListenPacket("udp4", "127.0.0.1:0"); err == nil {
		add(pc)
		countPC(pc)
		e.Params["udp4"] = pc.LocalAddr().(*net.UDPAddr).Port
	} else {
		t.Fatalf("host UDP listener: %v", err)
	}
	abs := "zbox-esc-" + e.Mark
	for _, s := range []struct {
		network, addr, key string
	}{
		{"unix", "@" + abs, "abstract"},
		{"unix", e.Host + "/stream.sock", "unixsock"},
	} {
		l, err := net.Listen(s.network, s.addr)
		if err != nil {
			t.Fatalf("host listener %s: %v", s.addr, err)
		}
		add(l)
		count(l)
		e.Params[s.key] = strings.TrimPrefix(s.addr, "@")
	}
	for _, s := range []struct{ addr, key string }{
		{"@" + abs + "-dgram", "abstract_dgram"},
		{e.Host + "/dgram.sock", "dgramsock"},
	} {
		pc, err := net.ListenPacket("unixgram", s.addr)
		if err != nil {
			t.Fatalf("host datagram socket %s: %v", s.addr, err)
		}
		add(pc)
		countPC(pc)
		e.Params[s.key] = strings.TrimPrefix(s.addr, "@")
	}
}

// snapshot records everything of the host directory and of the
// workspace's protected and denied paths: type, mode, size, mtime,
// content hash, link target.
func (e *escEnv) snapshot() map[string]string {
	m := map[string]string{}
	walk := func(root string) {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				m[p] = "error: " + err.Error()
				return nil
			}
			st, err := os.Lstat(p)
			if err != nil {
				m[p] = "error: " + err.Error()
				return nil
			}
			v := fmt.Sprintf("%v %d %d", st.Mode(), st.Size(), st.ModTime().UnixNano())
			switch {
			case st.Mode().IsRegular():
				b, _ := os.ReadFile(p)
				h := sha256.Sum256(b)
				v += " " + hex.EncodeToString(h[:8])
			case st.Mode()&fs.ModeSymlink != 0:
				l, _ := os.Readlink(p)
				v += " -> " + l
			}
			if sys, ok := st.Sys().(*syscall.Stat_t); ok {
				v += fmt.Sprintf(" uid=%d", sys.Uid)
			}
			m[p] = v
			return nil
		})
	}
	walk(e.Host)
	for _, p := range []string{"/.git", "/.codex", "/secret.txt", "/private"} {
		walk(e.WS + p)
	}
	walk(e.WS + "/sub/secret2.txt")
	// Renaming ws/sub is a workspace write, allowed; the denied file in
	// it must still be there, unchanged, under either name.
	sub2 := e.WS + "/sub2/secret2.txt"
	if _, err := os.Lstat(sub2); err == nil {
		delete(m, e.WS+"/sub/secret2.txt")
		walk(sub2)
		m[e.WS+"/sub/secret2.txt"] = m[sub2]
		delete(m, sub2)
	}
	return m
}

// hostEffects lists every trace of the run on the host, and removes
// traces that would disturb the machine.
func (e *escEnv) hostEffects(a *attack, coreBefore string) []string {
	var eff []string
	after := e.snapshot()
	var keys []string
	for k := range e.snap {
		keys = append(keys, k)
	}
	for k := range after {
		if _, ok := e.snap[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if b, a := e.snap[k], after[k]; b != a {
			switch {
			case b == "":
				eff = append(eff, "new on the host: "+k)
			case a == "":
				eff = append(eff, "gone from the host: "+k)
			default:
				eff = append(eff, fmt.Sprintf("changed on the host: %s (%s -> %s)", k, b, a))
			}
		}
	}
	for _, d := range escSharedDirs() {
		p := fmt.Sprintf("%s/zbox-esc-%s", d, e.Mark)
		if _, err := os.Lstat(p); err == nil {
			eff = append(eff, "created on the host: "+p)
			os.Remove(p)
		}
	}
	for _, d := range cgroupMounts() {
		p := fmt.Sprintf("%s/zbox-esc-%s", d, e.Mark)
		if _, err := os.Lstat(p); err == nil {
			eff = append(eff, "cgroup created on the host: "+p)
			os.Remove(p)
		}
	}
	eff = append(eff, e.sysvEffects()...)
	if n := e.conns.Load(); n > 0 {
		eff = append(eff, fmt.Sprintf("%d connection(s) or datagram(s) reached host sockets", n))
	}
	if h, _ := os.Hostname(); h != e.hostname {
		eff = append(eff, fmt.Sprintf("host hostname changed to %q", h))
		unix.Sethostname([]byte(e.hostname))
	}
	if core, _ := os.ReadFile("/proc/sys/kernel/core_pattern"); coreBefore != "" && string(core) != coreBefore {
		eff = append(eff, fmt.Sprintf("host kernel.core_pattern changed to %q", core))
		os.WriteFile("/proc/sys/kernel/core_pattern", []byte(coreBefore), 0)
	}
	if st, err := os.Stat(zboxBin); err == nil && fmt.Sprint(st.Size(), st.ModTime().UnixNano(), st.Mode()) != e.zboxStat {
		eff = append(eff, "the zbox binary changed")
	}
	if e.victimPID != nil {
		if err := e.victimPID.Signal(syscall.Signal(0)); err != nil {
			eff = append(eff, "the host process was killed")
		}
	}
	if e.ptyInQ > 0 {
		eff = append(eff, fmt.Sprintf("%d bytes injected into the caller's terminal", e.ptyInQ))
	}
	deadline := time.Now().Add(3 * time.Second)
	for n := procsWith(e.Mark); n > 0; n = procsWith(e.Mark) {
		if time.Now().After(deadline) {
			eff = append(eff, fmt.Sprintf("%d sandboxed process(es) outlived the sandbox", n))
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if a.check != nil {
		eff = append(eff, a.check(e)...)
	}
	return eff
}

// sysvEffects finds SysV IPC objects with the run's keys in the host's
// IPC namespace (and removes them).
func (e *escEnv) sysvEffects() []string {
	var eff []string
	for _, kind := range []string{"shm", "msg"} {
		data, _ := os.ReadFile("/proc/sysvipc/" + kind)
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			key, err1 := strconv.ParseInt(f[0], 10, 64)
			id, err2 := strconv.Atoi(f[1])
			if err1 != nil || err2 != nil {
				continue
			}
			for _, k := range e.ipcKeys {
				if key == int64(k) {
					eff = append(eff, fmt.Sprintf("SysV %s object 0x%x created in the host's IPC namespace", kind, k))
					if kind == "shm" {
						unix.SysvShmCtl(id, unix.IPC_RMID, nil)
					} else {
						unix.Syscall(unix.SYS_MSGCTL, uintptr(id), uintptr(unix.IPC_RMID), 0)
					}
				}
			}
		}
	}
	return eff
}

// procsWith counts processes other than this one whose command line
// contains marker.
func procsWith(marker string) int {
	ents, _ := os.ReadDir("/proc")
	n := 0
	self := strconv.Itoa(os.Getpid())
	for _, ent := range ents {
		if _, err := strconv.Atoi(ent.Name()); err != nil || ent.Name() == self {
			continue
		}
		b, err := os.ReadFile("/proc/" + ent.Name() + "/cmdline")
		if err == nil && bytes.Contains(b, []byte(marker)) {
			n++
		}
	}
	return n
}

// Prep hooks.

func prepVictimProc(t *testing.T, e *escEnv) string {
	cmd := exec.Command("sleep", "300")
	cmd.Args = []string{"sleep", "300"}
	if err := cmd.Start(); err != nil {
		return "cannot start a host process: " + err.Error()
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if cmd.Process.Pid < 100 {
		// The sandbox's own pids are small; a collision would look like
		// a successful kill.
		return "host victim pid too small to tell apart from sandbox pids"
	}
	e.victimPID = cmd.Process
	e.Params["victim_pid"] = cmd.Process.Pid
	return ""
}

func prepCLI(t *testing.T, e *escEnv) string {
	if !cliReady() {
		return "needs zbox's CLI (its default environment filtering); exec-plan passes the environment through"
	}
	return ""
}

func prepX86(t *testing.T, e *escEnv) string {
	if runtime.GOARCH != "amd64" {
		return "x86-only ABI (this is " + runtime.GOARCH + ")"
	}
	return ""
}

// prepSetuid plants a setuid-root copy of grep and a copy carrying the
// file capability cap_sys_admin+ep in the workspace. Only root can make
// them.
func prepSetuid(t *testing.T, e *escEnv) string {
	if !isRoot() {
		return "an unprivileged caller cannot plant root-owned setuid or file-capability binaries"
	}
	src, err := exec.LookPath("grep")
	if err != nil {
		return "no grep to copy"
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return err.Error()
	}
	suid, fcap := e.WS+"/suid-grep", e.WS+"/fcap-grep"
	for _, p := range []string{suid, fcap} {
		if err := os.WriteFile(p, data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(suid, fs.ModeSetuid|0o755); err != nil {
		t.Fatal(err)
	}
	// struct vfs_cap_data, revision 2, effective flag; permitted =
	// CAP_SYS_ADMIN (21).
	capData := make([]byte, 20)
	binaryLE(capData[0:], 0x02000000|0x1)
	binaryLE(capData[4:], 1<<21)
	if err := unix.Setxattr(fcap, "security.capability", capData, 0); err != nil {
		return "cannot set a file capability here: " + err.Error()
	}
	e.Params["suid"], e.Params["fcap"] = suid, fcap
	// The protected-path snapshot does not cover the workspace root, so
	// these files are not host effects.
	return ""
}

func binaryLE(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}

// prepHandle makes a file handle for the denied host file on the host
// side, as the "shocker" exploit did, for the sandbox to open by handle.
func prepHandle(t *testing.T, e *escEnv) string {
	h, _, err := unix.NameToHandleAt(unix.AT_FDCWD, e.Host+"/secret.txt", 0)
	if err != nil {
		return "name_to_handle_at is not supported here: " + err.Error()
	}
	e.Params["handle_type"] = h.Type()
	e.Params["handle_hex"] = hex.EncodeToString(h.Bytes())
	return ""
}

// prepDevNode plants a character device (1:3, a /dev/null) in the host
// dir; only root can.
func prepDevNode(t *testing.T, e *escEnv) string {
	if !isRoot() {
		return "" // the mknod attempts still run
	}
	p := e.Host + "/nulldev"
	if err := unix.Mknod(p, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err == nil {
		e.Params["devnode"] = p
	}
	return ""
}

// keyringLauncher joins a fresh session keyring holding a secret key
// (description argv[1], payload argv[2]) and execs the rest: a caller
// whose session keyring holds credentials, as after pam_keyinit or
// `keyctl session`.
const keyringLauncher = `
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True); libc.syscall.restype = ctypes.c_long
add_key, keyctl = {"x86_64": (248, 250), "aarch64": (217, 219)}[os.uname().machine]
if libc.syscall(keyctl, 1, None) < 0:
    sys.exit("keyctl(JOIN_SESSION_KEYRING): errno %d" % ctypes.get_errno())
if libc.syscall(add_key, b"user", sys.argv[1].encode(), sys.argv[2].encode(), len(sys.argv[2]), ctypes.c_long(-3)) < 0:
    sys.exit("add_key: errno %d" % ctypes.get_errno())
os.execv(sys.argv[3], sys.argv[3:])
`

// escSetups are the zbox setups every attack must fail under.
var escSetups = []string{"default", "helper"}

var (
	cliOnce sync.Once
	cliOK   bool
)

// cliReady says whether zbox's own CLI takes --allow-write, so that the
// "default" setup can be zbox's default policy as a user would write it.
// Until it does, the setup is the equivalent plan run by exec-plan.
func cliReady() bool {
	cliOnce.Do(func() {
		d, err := os.MkdirTemp("", "zbox-cli-probe-")
		if err != nil {
			return
		}
		defer os.RemoveAll(d)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, zboxBin, "--allow-write="+d, "--deny-read="+d+"/x", "--", "/bin/true")
		cliOK = cmd.Run() == nil
	})
	return cliOK
}

// commandFor returns the command line that runs argv in the given setup,
// and the fds the command must inherit (at 3, 4, ...).
func (e *escEnv) commandFor(t *testing.T, setup string, argv []string) ([]string, []*os.File) {
	t.Helper()
	pols, err := policy.ResolveHelperPolicies(policy.HostFS, escLegacyPolicy, escFSPolicy(e), `"restricted"`, e.WS)
	if err != nil {
		t.Fatalf("resolve the battery's policy: %v", err)
	}
	in := policy.HelperInput{Policies: pols, PolicyCwd: e.WS, Command: argv, Hardened: true}
	switch setup {
	case "default":
		if cliReady() {
			deny := strings.Join([]string{e.WS + "/secret.txt", e.WS + "/private", e.WS + "/sub/secret2.txt", e.Host + "/secret.txt"}, ",")
			return append([]string{zboxBin, "--allow-write=" + e.WS, "--deny-read=" + deny, "--"}, argv...), nil
		}
		plan, err := policy.HelperPlan(policy.HostFS, in)
		if err != nil {
			t.Fatalf("helper plan: %v", err)
		}
		return []string{zboxBin, "exec-plan", planFile(t, plan)}, nil
	case "helper":
		return append([]string{zboxBin, "linux-sandbox", "--sandbox-policy-cwd", e.WS,
			"--sandbox-policy", escLegacyPolicy, "--file-system-sandbox-policy", escFSPolicy(e),
			"--network-sandbox-policy", `"restricted"`, "--"}, argv...), nil
	case "bwrap":
		// The Codex helper's own argv for this policy (Hardened off, as
		// the goldens pin it), minus the --cap-drop ALL zbox's renderer
		// adds: this is what codex-linux-sandbox hands to bwrap.
		in.Hardened = false
		plan, err := policy.HelperPlan(policy.HostFS, in)
		if err != nil {
			t.Fatalf("helper plan: %v", err)
		}
		var files []*os.File
		args, err := policy.BwrapArgs(plan, func(data []byte) (int, error) {
			f, err := os.CreateTemp(t.TempDir(), "data")
			if err != nil {
				return 0, err
			}
			f.Write(data)
			f.Seek(0, 0)
			t.Cleanup(func() { f.Close() })
			files = append(files, f)
			return 2 + len(files), nil
		}, nil)
		if err != nil {
			t.Fatalf("bwrap argv: %v", err)
		}
		var out []string
		for i := 0; i < len(args); i++ {
			if args[i] == "--cap-drop" && i+1 < len(args) && args[i+1] == "ALL" {
				i++
				continue
			}
			out = append(out, args[i])
		}
		bw, err := exec.LookPath("bwrap")
		if err != nil {
			t.Fatalf("bwrap: %v", err)
		}
		return append([]string{bw}, out...), files
	}
	t.Fatalf("unknown setup %q", setup)
	return nil, nil
}

// launch runs attack a in setup and returns what it showed.
func (e *escEnv) launch(t *testing.T, setup string, a *attack) result {
	t.Helper()
	params, _ := json.Marshal(e.Params)
	script := escapePrelude + a.py + "\nprint('DONE', flush=True)\n"
	cmdline, files := e.commandFor(t, setup, []string{python, "-c", script, string(params)})
	if a.keyring {
		cmdline = append([]string{python, "-c", keyringLauncher, "zbox-esc-" + e.Mark, e.Token}, cmdline...)
	}
	if a.leakFDs {
		files = append(files, e.leakedFiles(t)...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, cmdline[0], cmdline[1:]...)
	cmd.Dir = e.WS
	if a.secretEnv {
		cmd.Env = os.Environ()
		for _, k := range []string{"AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN", "OPENAI_API_KEY", "NPM_TOKEN", "ZBOX_TEST_PASSWORD"} {
			cmd.Env = append(cmd.Env, k+"=sk-"+e.Token)
		}
	}
	cmd.ExtraFiles = files
	var out bytes.Buffer
	var ptyDone chan struct{}
	var slave *os.File
	if a.pty {
		master, sl, err := openPty()
		if err != nil {
			t.Skipf("no pseudo-terminal for the TIOCSTI attack: %v", err)
		}
		slave = sl
		defer master.Close()
		cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
		// The pty is the controlling terminal of zbox's session, as in an
		// interactive shell.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
		ptyDone = make(chan struct{})
		go func() { io.Copy(&out, master); close(ptyDone) }()
	} else {
		cmd.Stdout, cmd.Stderr = &out, &out
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", cmdline[:2], err)
	}
	if a.outerPID {
		os.WriteFile(e.Params["outer_pid_file"].(string), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644)
	}
	err := cmd.Wait()
	r := result{}
	if slave != nil {
		// Whatever an attack pushed into the terminal's input queue is
		// still there: nobody read the slave side.
		e.ptyInQ, _ = unix.IoctlGetInt(int(slave.Fd()), unix.TIOCINQ)
		slave.Close()
		select {
		case <-ptyDone:
		case <-time.After(2 * time.Second):
		}
	}
	r.Stdout = strings.ReplaceAll(out.String(), "\r\n", "\n")
	code, ok := exitCode(err)
	if !ok {
		t.Fatalf("run %v: %v", cmdline[:2], err)
	}
	r.Code = code
	if ctx.Err() != nil {
		r.Code = -1
		r.Stderr = "zbox-e2e: timed out after 30s"
	}
	return r
}

// leakedFiles are what a careless caller leaves open across exec: a
// writable host file, a host directory, a connected socket whose peer
// the test watches, and a denied file.
func (e *escEnv) leakedFiles(t *testing.T) []*os.File {
	var fs []*os.File
	open := func(p string, flag int) {
		f, err := os.OpenFile(p, flag, 0)
		if err != nil {
			t.Fatalf("open %s to leak: %v", p, err)
		}
		t.Cleanup(func() { f.Close() })
		fs = append(fs, f)
	}
	open(e.Host+"/victim.txt", os.O_RDWR)
	open(e.Host, os.O_RDONLY)
	open(e.Host+"/secret.txt", os.O_RDONLY)
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	mine, theirs := os.NewFile(uintptr(pair[0]), "peer"), os.NewFile(uintptr(pair[1]), "leaked")
	t.Cleanup(func() { mine.Close(); theirs.Close() })
	go func() {
		buf := make([]byte, 64)
		if n, _ := mine.Read(buf); n > 0 {
			e.conns.Add(1)
		}
	}()
	return append(fs, theirs)
}

// openPty allocates a pseudo-terminal pair.
func openPty() (master, slave *os.File, err error) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("unlockpt: %w", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("ptsname: %w", err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	return m, s, nil
}

// outcome is the verdict on one run.
type outcome struct {
	Verdict string // blocked, ESCAPED, inconclusive, n/a
	Detail  string
}

func (o outcome) String() string {
	if o.Detail == "" {
		return o.Verdict
	}
	return o.Verdict + ": " + o.Detail
}

// classify decides what a run showed: any ESCAPED line, host effect or
// denied content in the output is an escape; otherwise the script must
// have reached its end having reported its attempts.
func classify(a *attack, r result, effects []string, token string) outcome {
	out := r.Stdout + r.Stderr
	var esc []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "ESCAPED: ") {
			esc = append(esc, strings.TrimPrefix(l, "ESCAPED: "))
		}
	}
	esc = append(esc, effects...)
	if strings.Contains(out, token) {
		esc = append(esc, "denied content in the output")
	}
	if len(esc) > 0 {
		return outcome{"ESCAPED", strings.Join(esc, "; ")}
	}
	var allowed []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "ALLOWED: ") {
			allowed = append(allowed, strings.TrimPrefix(l, "ALLOWED: "))
		}
	}
	if len(allowed) > 0 {
		// Forbidden by the policy, but with no reach beyond the sandbox.
		return outcome{"allowed", strings.Join(allowed, "; ")}
	}
	if a.sigsysOK && r.Code == 128+int(syscall.SIGSYS) {
		return outcome{"blocked", "killed by SIGSYS"}
	}
	if r.Code == -1 {
		return outcome{"inconclusive", "timed out"}
	}
	if !strings.Contains(out, "\nDONE\n") && !strings.HasPrefix(out, "DONE\n") {
		return outcome{"inconclusive", fmt.Sprintf("the attack did not run to its end (exit %d)", r.Code)}
	}
	if !strings.Contains(out, "BLOCKED: ") && !strings.Contains(out, "TRIED: ") {
		return outcome{"inconclusive", "the attack reported no attempt"}
	}
	return outcome{"blocked", ""}
}

// escResults collects outcome per attack and setup for the table.
var escResults = struct {
	sync.Mutex
	m map[string]map[string]outcome
}{m: map[string]map[string]outcome{}}

func attackKey(a *attack) string { return a.family + ": " + a.name }

func recordEsc(a *attack, setup string, o outcome) {
	escResults.Lock()
	defer escResults.Unlock()
	if escResults.m[attackKey(a)] == nil {
		escResults.m[attackKey(a)] = map[string]outcome{}
	}
	escResults.m[attackKey(a)][setup] = o
}

func TestEscapeBattery(t *testing.T) {
	if _, err := os.Stat(python); err != nil {
		t.Skip("the battery's attacks are written in Python: needs " + python)
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("needs unshare(1) from util-linux")
	}
	_, bwErr := exec.LookPath("bwrap")
	mountsBefore, _ := os.ReadFile("/proc/self/mountinfo")
	core, _ := os.ReadFile("/proc/sys/kernel/core_pattern")
	t.Run("attack", func(t *testing.T) {
		for i := range attacks {
			a := &attacks[i]
			t.Run(a.family+"/"+a.name, func(t *testing.T) {
				t.Parallel()
				runAttack(t, a, string(core), bwErr == nil)
			})
		}
	})
	if after, _ := os.ReadFile("/proc/self/mountinfo"); !bytes.Equal(mountsBefore, after) {
		t.Errorf("the caller's mount table changed during the battery")
	}
	if err := writeEscapeResults(); err != nil {
		t.Errorf("escape table: %v", err)
	}
}

func runAttack(t *testing.T, a *attack, core string, haveBwrap bool) {
	var known []string
	setups := append([]string(nil), escSetups...)
	if haveBwrap {
		setups = append(setups, "bwrap")
	} else {
		recordEsc(a, "bwrap", outcome{"n/a", "bwrap is not installed"})
	}
	for _, setup := range setups {
		if why, ok := a.notIn[setup]; ok {
			recordEsc(a, setup, outcome{"n/a", why})
			continue
		}
		e := newEscEnv(t)
		if a.prep != nil {
			if why := a.prep(t, e); why != "" {
				for _, s := range append(escSetups, "bwrap") {
					recordEsc(a, s, outcome{"n/a", why})
				}
				t.Skip(why)
			}
		}
		e.snap = e.snapshot()
		r := e.launch(t, setup, a)
		o := classify(a, r, e.hostEffects(a, core), e.Token)
		// Shorter, stable details for the table.
		o.Detail = strings.NewReplacer(e.WS, "WS", e.Host, "HOST", e.Token, "<secret>").Replace(o.Detail)
		recordEsc(a, setup, o)
		if setup == "bwrap" {
			t.Logf("bwrap (recorded, not asserted): %s", o)
			if o.Verdict == "inconclusive" {
				t.Logf("bwrap run:\n%s", r)
			}
			continue
		}
		switch {
		case (o.Verdict == "ESCAPED" || o.Verdict == "allowed") && a.knownBug != "":
			known = append(known, fmt.Sprintf("%s: %s", setup, o.Detail))
		case o.Verdict != "blocked":
			t.Errorf("%s setup, as %s: %s\n%s", setup, who(), o, r)
		}
	}
	if len(known) > 0 {
		t.Skipf("%s\n(as %s: %s)", a.knownBug, who(), strings.Join(known, " | "))
	} else if a.knownBug != "" {
		t.Logf("known bug did not reproduce as %s: %s", who(), a.knownBug)
	}
}

// escIdentity names the column this run fills.
func escIdentity() string {
	if isRoot() {
		return "root"
	}
	return "unprivileged"
}

// escFile is the results file shared by the root and unprivileged runs.
type escFile struct {
	Runs map[string]map[string]map[string]outcome `json:"runs"` // identity -> attack -> setup -> outcome
	Meta map[string]string                        `json:"meta"` // identity -> how it ran
}

// writeEscapeResults merges this run into $ZBOX_ESCAPE_RESULTS and, with
// ZBOX_WRITE_ESCAPE_TABLE=1, renders e2e/testdata/escape-table.md.
func writeEscapeResults() error {
	path := os.Getenv("ZBOX_ESCAPE_RESULTS")
	table := os.Getenv("ZBOX_WRITE_ESCAPE_TABLE") == "1"
	if path == "" && !table {
		return nil
	}
	f := escFile{Runs: map[string]map[string]map[string]outcome{}, Meta: map[string]string{}}
	if path != "" {
		if data, err := os.ReadFile(path); err == nil {
			if err := json.Unmarshal(data, &f); err != nil {
				return fmt.Errorf("read %s: %w (delete it to start over)", path, err)
			}
		}
	}
	escResults.Lock()
	f.Runs[escIdentity()] = escResults.m
	escResults.Unlock()
	def := "the equivalent plan via `zbox exec-plan` (the CLI lacks --allow-write)"
	if cliReady() {
		def = "`zbox --allow-write=WS --deny-read=...`"
	}
	var uname unix.Utsname
	unix.Uname(&uname)
	f.Meta[escIdentity()] = fmt.Sprintf("uid %d, %s, kernel %s, default setup: %s",
		os.Getuid(), time.Now().UTC().Format("2006-01-02"), unix.ByteSliceToString(uname.Release[:]), def)
	if path != "" {
		data, _ := json.MarshalIndent(f, "", " ")
		if err := os.WriteFile(path, data, 0o666); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	if !table {
		return nil
	}
	_, self, _, _ := runtime.Caller(0)
	out := filepath.Join(filepath.Dir(self), "testdata", "escape-table.md")
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	return os.WriteFile(out, []byte(renderEscapeTable(f)), 0o644)
}

// shortCell keeps table cells readable.
func shortCell(o outcome) string {
	switch o.Verdict {
	case "":
		return "not run"
	case "blocked":
		if o.Detail != "" {
			return "blocked (" + o.Detail + ")"
		}
		return "blocked"
	}
	d := o.Detail
	if len(d) > 110 {
		d = d[:107] + "..."
	}
	d = strings.ReplaceAll(d, "|", "/")
	switch o.Verdict {
	case "ESCAPED":
		return "**ESCAPED**: " + d
	case "allowed":
		return "allowed, sandbox only: " + d
	}
	return o.Verdict + ": " + d
}

// zboxCell merges the default and helper setups of one identity.
func zboxCell(m map[string]outcome) string {
	if m == nil {
		return "not run"
	}
	d, h := m["default"], m["helper"]
	if d == h {
		return shortCell(d)
	}
	return "default: " + shortCell(d) + "; helper: " + shortCell(h)
}

func renderEscapeTable(f escFile) string {
	var b strings.Builder
	b.WriteString("<!-- generated by TestEscapeBattery (e2e/escape_test.go); do not edit -->\n")
	for _, id := range []string{"root", "unprivileged"} {
		if m := f.Meta[id]; m != "" {
			fmt.Fprintf(&b, "* %s run: %s\n", id, m)
		}
	}
	b.WriteString("\n| family | attack | root | unprivileged | bwrap 0.8 (helper argv) |\n|---|---|---|---|---|\n")
	var notes []string
	for i := range attacks {
		a := &attacks[i]
		k := attackKey(a)
		root, unpriv := f.Runs["root"][k], f.Runs["unprivileged"][k]
		bw := "not run"
		rb, ub := shortCell(root["bwrap"]), shortCell(unpriv["bwrap"])
		switch {
		case root == nil && unpriv == nil:
		case root == nil:
			bw = "unprivileged: " + ub
		case unpriv == nil:
			bw = "root: " + rb
		case rb == ub:
			bw = rb
		default:
			bw = "root: " + rb + "; unprivileged: " + ub
		}
		name := a.name
		if a.knownBug != "" {
			notes = append(notes, a.knownBug)
			name += fmt.Sprintf(" [%d]", len(notes))
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", a.family, name, zboxCell(root), zboxCell(unpriv), bw)
	}
	if len(notes) > 0 {
		b.WriteString("\nOpen bugs (the test skips instead of failing while they are open):\n\n")
		for i, n := range notes {
			fmt.Fprintf(&b, "%d. %s\n", i+1, n)
		}
	}
	return b.String()
}

// TestRootSandboxKernelFiles: a root caller's sandbox is host uid 0,
// whatever uid it has inside (bwrap's --uid 1000 maps 1000 to the
// caller's 0), and host uid 0 owns the kernel's sysctl files and the
// host's device nodes that /dev binds in. Neither may be written: the
// sysctls are read-only inside (the same value is written back, so
// nothing changes even if it were allowed), and so are the device
// inodes (chmod, utimes), while I/O on the devices works. Under both
// starts. bwrap allows both.
func TestRootSandboxKernelFiles(t *testing.T) {
	if !isRoot() {
		t.Skip("the sandbox is host uid 0 only for a root caller")
	}
	for _, init := range []string{"direct", "go"} {
		t.Run(init, func(t *testing.T) {
			env := append(cleanEnv(t), "ZBOX_INIT="+init)
			script := `(cat /proc/sys/kernel/core_pattern > /proc/sys/kernel/core_pattern) 2>/dev/null && echo sysctl=written || echo sysctl=refused
chmod 666 /dev/null 2>/dev/null && echo chmod=ok || echo chmod=refused
touch /dev/zero 2>/dev/null && echo touch=ok || echo touch=refused
echo x > /dev/null && echo io=ok`
			for _, args := range [][]string{
				{"--", "/bin/sh", "-c", script},
				{"bwrap", "--unshare-user", "--unshare-pid", "--uid", "1000", "--gid", "1000", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "/bin/sh", "-c", script},
			} {
				r := zrun{env: env}.run(t, args...)
				for _, want := range []string{"sysctl=refused", "chmod=refused", "touch=refused", "io=ok"} {
					if !strings.Contains(r.Stdout, want) {
						t.Errorf("%v: want %s\n%s", args[:2], want, r)
					}
				}
			}
		})
	}
	// --engine bwrap runs the system bwrap, whose /proc zbox covers the
	// same way (its device nodes it cannot: README).
	if _, err := exec.LookPath("bwrap"); err == nil {
		r := zrun{env: cleanEnv(t)}.run(t, "--engine", "bwrap", "--", "/bin/sh", "-c",
			`(cat /proc/sys/kernel/core_pattern > /proc/sys/kernel/core_pattern) 2>/dev/null && echo sysctl=written || echo sysctl=refused`)
		if !strings.Contains(r.Stdout, "sysctl=refused") {
			t.Errorf("--engine bwrap: want sysctl=refused\n%s", r)
		}
	}
}

package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zbox-sandbox/zbox/policy"
)

// redirectProbe runs inside a proxy-only sandbox and prints one JSON
// object about connections to the bridge named by $HTTP_PROXY: a blocking
// socket with options set before connect, an inheritable one, a
// non-blocking one, and (when user namespaces can be made inside) one
// from a nested network namespace, which must not reach anything.
const redirectProbe = `
import errno, fcntl, json, os, select, socket, subprocess, sys
port = int(os.environ["HTTP_PROXY"].rstrip("/").rsplit(":", 1)[1])
out = {}

def echo(s, msg):
    s.sendall(b"E")
    assert s.recv(1) == b"+"
    s.sendall(msg)
    s.shutdown(socket.SHUT_WR)
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            return data.decode()
        data += b

s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 77)
fd = s.fileno()
s.connect(("127.0.0.1", port))
out["blocking"] = {
    "same_fd": s.fileno() == fd,
    "peer": "%s:%d" % s.getpeername(),
    "nodelay": s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY),
    "keepalive": s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
    "keepidle": s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
    "nonblock": bool(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_NONBLOCK),
    "cloexec": bool(fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC),
    "echo": echo(s, b"blocking"),
}
try:
    # SIOCGIFCONF (struct ifconf with a NULL buffer: asks for the size)
    fcntl.ioctl(s.fileno(), 0x8912, bytes(16))
    out["blocking"]["ifconf"] = "allowed"
except OSError as e:
    out["blocking"]["ifconf"] = errno.errorcode.get(e.errno, str(e.errno))
s.close()

s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
os.set_inheritable(s.fileno(), True)
s.connect(("127.0.0.1", port))
out["inheritable"] = {
    "cloexec": bool(fcntl.fcntl(s.fileno(), fcntl.F_GETFD) & fcntl.FD_CLOEXEC),
    "echo": echo(s, b"inheritable"),
}
s.close()

s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setblocking(False)
rc = s.connect_ex(("127.0.0.1", port))
if rc == errno.EINPROGRESS:
    select.select([], [s], [], 5)
    rc = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
nb = {"rc": rc, "nonblock": bool(fcntl.fcntl(s.fileno(), fcntl.F_GETFL) & os.O_NONBLOCK), "peer": "%s:%d" % s.getpeername()}
s.setblocking(True)
nb["echo"] = echo(s, b"nonblocking")
out["nonblocking"] = nb
s.close()

# Watched by an epoll set before connect: must still see the connect
# complete (zbox leaves such a socket to the relay).
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setblocking(False)
ep = select.epoll()
ep.register(s.fileno(), select.EPOLLOUT)
rc = s.connect_ex(("127.0.0.1", port))
ev = ep.poll(5)
out["epoll"] = {"rc": rc, "events": [m for _, m in ev], "err": s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)}
s.setblocking(True)
out["epoll"]["echo"] = echo(s, b"epoll")
s.close()
ep.close()

# A socket with a second fd (dup) before connect: both must name the
# connected socket (zbox leaves it to the relay).
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
d = os.dup(s.fileno())
s.connect(("127.0.0.1", port))
try:
    ds = socket.socket(fileno=d)
    out["dup"] = {"same_peer": ds.getpeername() == s.getpeername()}
    ds.detach(); os.close(d)
except OSError as e:
    out["dup"] = {"error": str(e)}
out["dup"]["echo"] = echo(s, b"dup")
s.close()

# From a thread that is not the process's first: the notification names
# the thread, whose process zbox must find.
res = {}
def threaded():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.connect(("127.0.0.1", port))
    res["peer"] = "%s:%d" % s.getpeername()
    res["echo"] = echo(s, b"threaded")
    s.close()
import threading
th = threading.Thread(target=threaded)
th.start(); th.join()
out["threaded"] = res

nested = ("import socket,sys\n"
    "s = socket.socket()\n"
    "s.settimeout(3)\n"
    "try:\n"
    "    s.connect(('127.0.0.1', %d)); print('connected')\n"
    "except OSError as e:\n"
    "    print('refused' if e.errno else e)\n") % port
try:
    p = subprocess.run(["unshare", "-rn", sys.executable, "-c", nested], capture_output=True, text=True, timeout=10)
    out["nested"] = p.stdout.strip() or ("unshare failed: " + p.stderr.strip())
except Exception as e:
    out["nested"] = "unshare failed: %s" % e
print("probe: " + json.dumps(out))
`

type redirectReport struct {
	Blocking struct {
		SameFD    bool   `json:"same_fd"`
		Peer      string `json:"peer"`
		NoDelay   int    `json:"nodelay"`
		KeepAlive int    `json:"keepalive"`
		KeepIdle  int    `json:"keepidle"`
		NonBlock  bool   `json:"nonblock"`
		Cloexec   bool   `json:"cloexec"`
		Echo      string `json:"echo"`
		IfConf    string `json:"ifconf"`
	} `json:"blocking"`
	Inheritable struct {
		Cloexec bool   `json:"cloexec"`
		Echo    string `json:"echo"`
	} `json:"inheritable"`
	NonBlocking struct {
		RC       int    `json:"rc"`
		NonBlock bool   `json:"nonblock"`
		Peer     string `json:"peer"`
		Echo     string `json:"echo"`
	} `json:"nonblocking"`
	Epoll struct {
		RC     int    `json:"rc"`
		Events []int  `json:"events"`
		Err    int    `json:"err"`
		Echo   string `json:"echo"`
	} `json:"epoll"`
	Dup struct {
		SamePeer bool   `json:"same_peer"`
		Error    string `json:"error"`
		Echo     string `json:"echo"`
	} `json:"dup"`
	Threaded struct {
		Peer string `json:"peer"`
		Echo string `json:"echo"`
	} `json:"threaded"`
	Nested string `json:"nested"`
}

// TestNetworkProxyRedirect: with ZBOX_BRIDGE=redirect (opt-in, for
// trusted programs: see TestNetworkProxyNoHostSocket), in a proxy-only
// sandbox, a connect(2) to the
// bridge on the sandbox's 127.0.0.1 gets a direct connection to the
// host's proxy (zbox swaps the socket through seccomp user
// notification), and the program cannot tell, except by the peer
// address: same fd number, the options it set before connect, its
// blocking mode and close-on-exec flag, and data both ways across a
// half-close. Interface ioctls on it are denied (they would describe
// the host's interfaces). By default the same program gets the relay.
// A socket of a network namespace nested inside the sandbox is never
// redirected: its connect to the same address fails. Each case runs
// under the direct start (ZBOX_INIT=direct: no fallback) and the general
// init (ZBOX_INIT=go).
func TestNetworkProxyRedirect(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not installed (the probe is a Python script)")
	}
	host := startMux(t, "tcp4", "127.0.0.1:0")
	plan := basePlan("")
	plan.Network = policy.NetworkSpec{Mode: policy.NetProxyOnly, Routes: []policy.ProxyRoute{{EnvKey: "HTTP_PROXY", Endpoint: host.Addr()}}}
	plan.Filter.Network = policy.SeccompProxyRouted
	plan.Command = []string{"python3", "-c", redirectProbe}
	f := filepath.Join(t.TempDir(), "plan.json")
	writeFile(t, f, string(mustJSON(t, plan)))

	// Both starts: the direct start (no fallback allowed) and the
	// general init.
	for _, c := range []struct{ mode, init string }{{"redirect", "direct"}, {"redirect", "go"}, {"relay", "direct"}, {"relay", "go"}} {
		mode := c.mode
		t.Run(c.mode+"/"+c.init, func(t *testing.T) {
			env := []string{"HTTP_PROXY=http://" + host.Addr(), "ZBOX_INIT=" + c.init}
			if mode == "redirect" {
				env = append(env, "ZBOX_BRIDGE=redirect")
			}
			before := host.accepted.Load()
			r, _ := netRun{args: []string{"exec-plan", f}, env: env}.run(t)
			mustExit(t, r, 0)
			var rep redirectReport
			if err := json.Unmarshal([]byte(toolLines(r.Stdout)["probe"]), &rep); err != nil {
				t.Fatalf("probe output: %v\n%s", err, r)
			}
			b, nb := rep.Blocking, rep.NonBlocking
			wantPeer := host.Addr()
			if mode == "relay" {
				wantPeer = "127.0.0.1:" + strings.TrimPrefix(b.Peer, "127.0.0.1:")
				if b.Peer == host.Addr() {
					t.Errorf("relay (the default): the connection went straight to the proxy %s", host.Addr())
				}
			}
			if b.Peer != wantPeer || nb.Peer != wantPeer || rep.Threaded.Peer != wantPeer {
				t.Errorf("peer of the bridged connection: blocking %s, non-blocking %s, from a second thread %s; want %s\n%s",
					b.Peer, nb.Peer, rep.Threaded.Peer, wantPeer, r)
			}
			// EPOLLOUT (4) alone: writable, connected. A swapped-out
			// socket would show EPOLLHUP (0x10) or nothing at all.
			if e := rep.Epoll; (e.RC != 0 && e.RC != 115) || len(e.Events) != 1 || e.Events[0] != 4 || e.Err != 0 || e.Echo != "epoll" {
				t.Errorf("a socket watched by epoll before its connect: %+v; want the connect reported done (EPOLLOUT alone, no error) and an echo\n%s", e, r)
			}
			if d := rep.Dup; !d.SamePeer || d.Echo != "dup" {
				t.Errorf("a socket with a second fd: %+v; want both fds connected to the same peer\n%s", d, r)
			}
			if rep.Threaded.Echo != "threaded" {
				t.Errorf("echo from a second thread: %q\n%s", rep.Threaded.Echo, r)
			}
			if !b.SameFD || b.NoDelay != 1 || b.KeepAlive != 1 || b.KeepIdle != 77 || b.NonBlock || !b.Cloexec {
				t.Errorf("blocking socket after connect: %+v; want the same fd, TCP_NODELAY 1, SO_KEEPALIVE 1, TCP_KEEPIDLE 77, blocking, close-on-exec\n%s", b, r)
			}
			// The redirected socket is one of zbox's namespace: interface
			// ioctls on it are denied. The relayed one is the sandbox's,
			// with only lo to describe: allowed, as under the reference
			// helper.
			if wantIf := map[string]string{"redirect": "EPERM", "relay": "allowed"}[mode]; b.IfConf != wantIf {
				t.Errorf("SIOCGIFCONF on the bridged socket: %s, want %s\n%s", b.IfConf, wantIf, r)
			}
			if rep.Inheritable.Cloexec {
				t.Errorf("an inheritable socket came back close-on-exec\n%s", r)
			}
			if nb.RC != 0 || !nb.NonBlock {
				t.Errorf("non-blocking connect: rc %d, O_NONBLOCK %v; want 0 and still non-blocking\n%s", nb.RC, nb.NonBlock, r)
			}
			if b.Echo != "blocking" || rep.Inheritable.Echo != "inheritable" || nb.Echo != "nonblocking" {
				t.Errorf("echo across a half-close: %q %q %q\n%s", b.Echo, rep.Inheritable.Echo, nb.Echo, r)
			}
			if got := host.accepted.Load() - before; got != 6 {
				t.Errorf("the proxy accepted %d connections, want 6 (the nested namespace's must not reach it)\n%s", got, r)
			}
			switch {
			case strings.HasPrefix(rep.Nested, "unshare failed"):
				t.Logf("nested network namespace not checked: %s", rep.Nested)
			case rep.Nested != "refused":
				t.Errorf("a socket of a nested network namespace connecting to 127.0.0.1 on the bridge's port: %q, want refused\n%s", rep.Nested, r)
			}
			waitIdle(t, "the proxy", host.active.Load)
		})
	}
}

// TestNetworkProxyRedirectNested: zbox doctor inside a proxy-only
// sandbox run with ZBOX_BRIDGE=redirect reports the redirect as
// unavailable there (the sandbox's own redirect holds the one listener a
// filter chain may have: the nested zbox relays), and available when the
// outer sandbox relays (the default).
func TestNetworkProxyRedirectNested(t *testing.T) {
	host := startMux(t, "tcp4", "127.0.0.1:0")
	plan := basePlan("")
	plan.Network = policy.NetworkSpec{Mode: policy.NetProxyOnly, Routes: []policy.ProxyRoute{{EnvKey: "HTTP_PROXY", Endpoint: host.Addr()}}}
	plan.Filter.Network = policy.SeccompProxyRouted
	plan.Command = []string{zboxBin, "doctor", "--json"}
	f := filepath.Join(t.TempDir(), "plan.json")
	writeFile(t, f, string(mustJSON(t, plan)))
	for _, c := range []struct {
		mode, want, detail string
	}{{"redirect", "warn", "already installed"}, {"relay", "ok", "direct connections"}} {
		t.Run(c.mode, func(t *testing.T) {
			env := []string{"HTTP_PROXY=http://" + host.Addr()}
			if c.mode == "redirect" {
				env = append(env, "ZBOX_BRIDGE=redirect")
			}
			r, _ := netRun{args: []string{"exec-plan", f}, env: env}.run(t)
			var rep struct {
				Findings []struct{ Name, Status, Detail string }
			}
			if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
				t.Fatalf("zbox doctor --json inside the sandbox: %v\n%s", err, r)
			}
			for _, fd := range rep.Findings {
				if fd.Name == "proxy redirect" {
					if fd.Status != c.want || !strings.Contains(fd.Detail, c.detail) {
						t.Errorf("proxy redirect finding: %s %q, want %s and %q", fd.Status, fd.Detail, c.want, c.detail)
					}
					return
				}
			}
			t.Fatalf("no proxy redirect finding\n%s", r)
		})
	}
}

// TestNetworkProxyRedirectBounded: with ZBOX_BRIDGE=redirect, 300
// connects at once to the bridge of a proxy that never completes a
// handshake. zbox works on a bounded
// number of them at a time (each waits up to 100 ms for the proxy, then
// goes to the relay); the others go to the relay at once. Every connect
// succeeds (the relay's listener accepts), and zbox's thread count stays
// far below one thread per connect.
func TestNetworkProxyRedirectBounded(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not installed (the probe is a Python script)")
	}
	stuck := fullBacklogListener(t)
	plan := basePlan("")
	plan.Network = policy.NetworkSpec{Mode: policy.NetProxyOnly, Routes: []policy.ProxyRoute{{EnvKey: "HTTP_PROXY", Endpoint: stuck}}}
	plan.Filter.Network = policy.SeccompProxyRouted
	plan.Command = []string{"python3", "-c", `
import os, socket, threading
port = int(os.environ["HTTP_PROXY"].rstrip("/").rsplit(":", 1)[1])
ok = []
def one():
    s = socket.socket()
    s.settimeout(10)
    try:
        s.connect(("127.0.0.1", port)); ok.append(1)
    except OSError as e:
        print("connect:", e)
    finally:
        s.close()
ts = [threading.Thread(target=one) for _ in range(300)]
for t in ts: t.start()
for t in ts: t.join()
print("connected: %d" % len(ok))
`}
	f := filepath.Join(t.TempDir(), "plan.json")
	writeFile(t, f, string(mustJSON(t, plan)))
	cmd := exec.Command(zboxBin, "exec-plan", f)
	cmd.Env = netEnv("HTTP_PROXY=http://"+stuck, "ZBOX_BRIDGE=redirect")
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	peak := 0
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for waiting := true; waiting; {
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("zbox: %v", err)
			}
			waiting = false
		case <-tick.C:
			if n := threadCount(cmd.Process.Pid); n > peak {
				peak = n
			}
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("timed out\n%s\n%s", out.String(), errb.String())
		}
	}
	if !strings.Contains(out.String(), "connected: 300") {
		t.Errorf("not every connect succeeded:\nstdout:\n%s\nstderr:\n%s", out.String(), errb.String())
	}
	// 64 answering at once, plus the runtime's own and the relay's few.
	if peak > 100 {
		t.Errorf("zbox ran %d threads at once for 300 connects to a stuck proxy, want a bounded number", peak)
	}
	t.Logf("zbox's peak thread count: %d", peak)
}

// threadCount reads the Threads line of /proc/PID/status (0 if gone).
func threadCount(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Threads:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}

// hostSocketProbe connects to the bridge, dissolves the connection with
// connect(AF_UNSPEC) (TCP allows it on a connected socket) and connects
// the same socket again, to $SECRET_PORT on 127.0.0.1, then tries
// listen() on a second dissolved socket. It prints one JSON object.
const hostSocketProbe = `
import ctypes, errno, json, os, socket
libc = ctypes.CDLL(None, use_errno=True)
port = int(os.environ["HTTP_PROXY"].rstrip("/").rsplit(":", 1)[1])
secret = int(os.environ["SECRET_PORT"])
def err(e):
    return errno.errorcode.get(e, str(e))
def dissolve(s):
    unspec = (ctypes.c_ubyte * 16)()  # sa_family 0: AF_UNSPEC
    if libc.connect(s.fileno(), unspec, 16) != 0:
        return err(ctypes.get_errno())
    return "ok"
out = {}
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.settimeout(5)
s.connect(("127.0.0.1", port))
out["unspec"] = dissolve(s)
try:
    s.connect(("127.0.0.1", secret))
    out["reconnect"] = "connected: " + s.recv(64).decode(errors="replace")
except OSError as e:
    out["reconnect"] = err(e.errno) if e.errno else str(e)
s.close()
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.connect(("127.0.0.1", port))
dissolve(s)
try:
    s.listen(1)
    out["listen"] = "%s:%d" % s.getsockname()
except OSError as e:
    out["listen"] = err(e.errno)
print(json.dumps(out), flush=True)
os.read(0, 1)  # wait for the test to probe the listener, if any
`

// TestNetworkProxyNoHostSocket: a program in a proxy-only sandbox that
// dissolves its connection to the bridge (connect(AF_UNSPEC)) and
// connects the same socket elsewhere reaches nothing of the host's: by
// default every socket it has belongs to the sandbox's own network
// namespace, whose 127.0.0.1 serves only the bridges. A port it listens
// on is not reachable from the host either. Under both starts.
//
// With ZBOX_BRIDGE=redirect the bridged socket is one of zbox's (the
// host's) namespace, and the same program reaches the host's 127.0.0.1:
// that is why the redirect is opt-in, for trusted programs only. The
// test logs what the redirect mode gives, without asserting it.
func TestNetworkProxyNoHostSocket(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not installed (the probe is a Python script)")
	}
	proxy := startMux(t, "tcp4", "127.0.0.1:0")
	secret, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Skip(err)
	}
	defer secret.Close()
	var reached atomic.Int32
	go func() {
		for {
			c, err := secret.Accept()
			if err != nil {
				return
			}
			reached.Add(1)
			c.Write([]byte("HOST-SECRET"))
			c.Close()
		}
	}()
	_, secretPort, _ := net.SplitHostPort(secret.Addr().String())
	plan := basePlan("")
	plan.Network = policy.NetworkSpec{Mode: policy.NetProxyOnly, Routes: []policy.ProxyRoute{{EnvKey: "HTTP_PROXY", Endpoint: proxy.Addr()}}}
	plan.Filter.Network = policy.SeccompProxyRouted
	plan.Command = []string{"python3", "-c", hostSocketProbe}
	f := filepath.Join(t.TempDir(), "plan.json")
	writeFile(t, f, string(mustJSON(t, plan)))
	for _, c := range []struct{ bridge, init string }{{"", "direct"}, {"", "go"}, {"redirect", "direct"}} {
		name := "default/" + c.init
		if c.bridge != "" {
			name = c.bridge + "/" + c.init
		}
		t.Run(name, func(t *testing.T) {
			before := reached.Load()
			cmd := exec.Command(zboxBin, "exec-plan", f)
			cmd.Env = netEnv("HTTP_PROXY=http://"+proxy.Addr(), "SECRET_PORT="+secretPort, "ZBOX_INIT="+c.init, "ZBOX_BRIDGE="+c.bridge)
			stdin, _ := cmd.StdinPipe()
			var errb strings.Builder
			cmd.Stderr = &errb
			stdout, _ := cmd.StdoutPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Wait()
			defer stdin.Close()
			line, _ := bufio.NewReader(stdout).ReadString('\n')
			var rep struct{ Unspec, Reconnect, Listen string }
			if err := json.Unmarshal([]byte(line), &rep); err != nil {
				stdin.Close()
				cmd.Wait()
				t.Fatalf("probe output %q: %v\n%s", line, err, errb.String())
			}
			// The listener, if listen() worked: is it reachable from here?
			fromHost := "no listener"
			if _, port, ok := strings.Cut(rep.Listen, ":"); ok {
				if cn, err := net.DialTimeout("tcp4", "127.0.0.1:"+port, time.Second); err == nil {
					cn.Close()
					fromHost = "reachable from the host"
				} else {
					fromHost = "not reachable from the host"
				}
			}
			got := fmt.Sprintf("dissolve %s, reconnect to the host's 127.0.0.1:%s: %s, listen: %s (%s), host service reached %d times",
				rep.Unspec, secretPort, rep.Reconnect, rep.Listen, fromHost, reached.Load()-before)
			if c.bridge == "redirect" {
				t.Logf("ZBOX_BRIDGE=redirect (opt-in, not a boundary): %s", got)
				return
			}
			if strings.HasPrefix(rep.Reconnect, "connected") || reached.Load() != before || fromHost == "reachable from the host" {
				t.Errorf("a sandboxed program reached the host's network: %s", got)
			}
			if rep.Reconnect != "ECONNREFUSED" {
				t.Errorf("reconnect: %s, want ECONNREFUSED (nothing listens on the sandbox's 127.0.0.1:%s)", rep.Reconnect, secretPort)
			}
			t.Log(got)
		})
	}
}

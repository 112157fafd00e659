//go:build linux

package netns

import (
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zbox-sandbox/zbox/policy"
)

func roundTrip(t testing.TB, network, addr, payload string) {
	t.Helper()
	c, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, payload); err != nil {
		t.Fatal(err)
	}
	switch cw := c.(type) {
	case *net.TCPConn:
		cw.CloseWrite()
	case *net.UnixConn:
		cw.CloseWrite()
	}
	got, err := io.ReadAll(c)
	if err != nil || string(got) != payload {
		t.Fatalf("round trip via %s %s: got %q, %v", network, addr, got, err)
	}
}

func TestHostAndInnerUDSBridges(t *testing.T) {
	base := runtime_NumGoroutine()
	echoA := startServer(t, echoHandler)
	echoB := startServer(t, echoHandler)
	routes, err := CollectProxyRoutes([]string{
		"HTTP_PROXY=http://" + echoA.Addr(),
		"https_proxy=http://localhost:" + strconv.Itoa(echoA.l.Addr().(*net.TCPAddr).Port),
		"ALL_PROXY=socks5h://" + echoB.Addr(),
	})
	if err != nil {
		t.Fatal(err)
	}
	parent := t.TempDir()
	hb, err := PrepareHostUDSBridges(parent, routes)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(hb.Dir)
	if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("socket dir %s: %v %v", hb.Dir, fi.Mode(), err)
	}
	if want := filepath.Join(parent, "zbox-proxy-"+strconv.Itoa(os.Getpid())+"-0"); hb.Dir != want {
		t.Errorf("dir %s, want %s", hb.Dir, want)
	}
	// Sorted by name; distinct endpoints numbered in that order.
	wantRoutes := []policy.ProxyRoute{
		{EnvKey: "ALL_PROXY", Endpoint: echoB.Addr(), UDSPath: filepath.Join(hb.Dir, "proxy-route-0.sock")},
		{EnvKey: "HTTP_PROXY", Endpoint: echoA.Addr(), UDSPath: filepath.Join(hb.Dir, "proxy-route-1.sock")},
		{EnvKey: "https_proxy", Endpoint: echoA.Addr(), UDSPath: filepath.Join(hb.Dir, "proxy-route-1.sock")},
	}
	for i := range wantRoutes {
		if hb.Routes[i] != wantRoutes[i] {
			t.Errorf("route %d = %+v, want %+v", i, hb.Routes[i], wantRoutes[i])
		}
	}
	spec, err := hb.Spec()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(spec, "127.0.0.1") || !strings.HasPrefix(spec, `{"routes":[{"env_key":"ALL_PROXY","uds_path":"`) {
		t.Errorf("spec %s", spec)
	}
	roundTrip(t, "unix", wantRoutes[0].UDSPath, "to B")
	roundTrip(t, "unix", wantRoutes[1].UDSPath, "to A")

	// The inner side, here in the host namespace: spec -> listeners.
	inner, err := ParseRouteSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	ports, closeInner, err := StartInnerUDSBridges(inner)
	if err != nil {
		t.Fatal(err)
	}
	if len(ports) != 2 {
		t.Fatalf("ports %v", ports)
	}
	env, err := RewriteEnv([]string{
		"HTTP_PROXY=http://" + echoA.Addr(), "https_proxy=http://localhost:1", "ALL_PROXY=socks5h://" + echoB.Addr(),
	}, inner, ports)
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range env[:3] {
		k, v, _ := strings.Cut(kv, "=")
		u, err := url.Parse(v)
		if err != nil || u.Hostname() != "127.0.0.1" {
			t.Fatalf("%s rewritten to %q", k, v)
		}
		roundTrip(t, "tcp", u.Host, "via "+k)
	}
	closeInner()
	closeInner() // idempotent

	if err := hb.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(hb.Dir); !os.IsNotExist(err) {
		t.Errorf("socket dir survived Close: %v", err)
	}
	echoA.Close()
	echoB.Close()
	waitGoroutines(t, base)
}

func TestPrepareHostUDSBridgesErrors(t *testing.T) {
	if _, err := PrepareHostUDSBridges(t.TempDir(), nil); err == nil {
		t.Error("no routes accepted")
	}
	for _, ep := range []string{"10.0.0.1:3128", "localhost:3128", "127.0.0.1:0", "example.com:80", ""} {
		_, err := PrepareHostUDSBridges(t.TempDir(), []policy.ProxyRoute{{EnvKey: "HTTP_PROXY", Endpoint: ep}})
		if err == nil || !strings.Contains(err.Error(), "not a loopback ip:port") {
			t.Errorf("endpoint %q: %v", ep, err)
		}
	}
	long := filepath.Join(t.TempDir(), strings.Repeat("d", 80))
	if err := os.MkdirAll(long, 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := PrepareHostUDSBridges(long, []policy.ProxyRoute{{EnvKey: "HTTP_PROXY", Endpoint: "127.0.0.1:3128"}})
	if err == nil || !strings.Contains(err.Error(), "107-byte limit") {
		t.Errorf("long path: %v", err)
	}
	_, err = PrepareHostUDSBridges(filepath.Join(t.TempDir(), "missing"), []policy.ProxyRoute{{EnvKey: "HTTP_PROXY", Endpoint: "127.0.0.1:3128"}})
	if err == nil || !strings.Contains(err.Error(), "cannot create socket directory") {
		t.Errorf("missing parent: %v", err)
	}
}

func TestStaleBridgeDirCleanup(t *testing.T) {
	parent := t.TempDir()
	// A pid that is certainly dead: a child we have reaped.
	cmd := exec.Command("/bin/true")
	if err := cmd.Run(); err != nil {
		t.Skipf("cannot run /bin/true: %v", err)
	}
	dead := strconv.Itoa(cmd.Process.Pid)

	mk := func(name string) string {
		p := filepath.Join(parent, name)
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(p, "junk"), []byte("x"), 0o600)
		return p
	}
	stale := mk("zbox-proxy-" + dead + "-0")
	alive := mk("zbox-proxy-1-0") // pid 1 is always alive
	other := mk("codex-linux-sandbox-proxy-" + dead + "-0")
	odd := mk("zbox-proxy-" + dead + "-x")
	// Dead pid (as seen from here) but a live socket: another pid
	// namespace's zbox; must be kept.
	live := mk("zbox-proxy-" + dead + "-1")
	l, err := net.Listen("unix", filepath.Join(live, "proxy-route-0.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()

	hb, err := PrepareHostUDSBridges(parent, []policy.ProxyRoute{{EnvKey: "HTTP_PROXY", Endpoint: "127.0.0.1:9"}})
	if err != nil {
		t.Fatal(err)
	}
	defer hb.Close()
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale dir %s kept: %v", stale, err)
	}
	for _, p := range []string{alive, other, odd, live} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s removed: %v", p, err)
		}
	}
}

func TestStartInnerUDSBridgesErrors(t *testing.T) {
	if _, _, err := StartInnerUDSBridges(nil); err == nil || err.Error() != "proxy routing spec contained no routes" {
		t.Errorf("empty: %v", err)
	}
	dir := t.TempDir()
	_, _, err := StartInnerUDSBridges([]policy.ProxyRoute{{EnvKey: "HTTP_PROXY", UDSPath: filepath.Join(dir, "missing.sock")}})
	if err == nil || !strings.Contains(err.Error(), "not reachable inside the sandbox") {
		t.Errorf("missing: %v", err)
	}
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o600)
	_, _, err = StartInnerUDSBridges([]policy.ProxyRoute{{EnvKey: "HTTP_PROXY", UDSPath: file}})
	if err == nil || !strings.Contains(err.Error(), "not a unix socket") {
		t.Errorf("file: %v", err)
	}
}

func TestDefaultBridgeParent(t *testing.T) {
	home := t.TempDir()
	t.Setenv("CODEX_HOME", home)
	if got := defaultBridgeParent(os.Getpid(), 2); got != filepath.Join(home, "tmp") {
		t.Errorf("got %s", got)
	}
	if fi, err := os.Stat(filepath.Join(home, "tmp")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("CODEX_HOME/tmp: %v %v", fi, err)
	}
	longHome := filepath.Join(home, strings.Repeat("h", 90))
	t.Setenv("CODEX_HOME", longHome)
	t.Setenv("TMPDIR", "/tmp")
	if got := defaultBridgeParent(os.Getpid(), 2); got != "/tmp" {
		t.Errorf("long CODEX_HOME: got %s", got)
	}
}

//go:build linux

package netns

// Real-kernel tests: the test binary re-executes itself (TestMain
// sentinel) in a new user + network namespace, as the sandbox's init is
// created, and checks loopback and both bridge designs from inside.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const childModeEnv = "ZBOX_NETNS_TEST_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(childModeEnv); mode != "" {
		os.Exit(runChild(mode))
	}
	os.Exit(m.Run())
}

func runChild(mode string) int {
	var err error
	switch mode {
	case "loopback":
		err = childLoopback()
	case "inner-uds":
		err = childInnerUDS()
	case "fdpass":
		err = childFDPass()
	case "loopback-eperm":
		err = childLoopbackEPERM()
	case "loopback-ioctl":
		err = childLoopbackIoctl()
	default:
		err = fmt.Errorf("unknown child mode %q", mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	fmt.Println("child OK")
	return 0
}

// runInNetns runs the test binary in child mode inside fresh user and
// network namespaces, mapping our own uid/gid and keeping CAP_NET_ADMIN
// across exec as ambient capability (go-stack §1.2), and returns its
// combined output.
func runInNetns(t *testing.T, mode string, env []string, extra []*os.File) string {
	t.Helper()
	return runInNetnsAs(t, mode, env, extra, os.Getuid(), []uintptr{unix.CAP_NET_ADMIN})
}

// runInNetnsAs is runInNetns with the uid seen inside and the ambient
// capabilities chosen by the caller.
func runInNetnsAs(t *testing.T, mode string, env []string, extra []*os.File, innerUID int, ambient []uintptr) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), childModeEnv+"="+mode), env...)
	cmd.ExtraFiles = extra
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	uid, gid := os.Getuid(), os.Getgid()
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:                 unix.CLONE_NEWUSER | unix.CLONE_NEWNET,
		UidMappings:                []syscall.SysProcIDMap{{ContainerID: innerUID, HostID: uid, Size: 1}},
		GidMappings:                []syscall.SysProcIDMap{{ContainerID: gid, HostID: gid, Size: 1}},
		GidMappingsEnableSetgroups: false,
		AmbientCaps:                ambient,
		Pdeathsig:                  syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EACCES) {
			t.Skipf("cannot create user+network namespaces (clone CLONE_NEWUSER|CLONE_NEWNET): %v", err)
		}
		t.Fatal(err)
	}
	for _, f := range extra {
		f.Close() // the child has its copies
	}
	err := cmd.Wait()
	if err != nil || !strings.Contains(out.String(), "child OK") {
		t.Fatalf("child %s failed: %v\n%s", mode, err, out.String())
	}
	return out.String()
}

func ipv6Enabled() bool {
	_, err := os.Stat("/proc/sys/net/ipv6")
	return err == nil
}

func TestLoopbackUpInNewNetns(t *testing.T) {
	out := runInNetns(t, "loopback", nil, nil)
	t.Log(strings.TrimSpace(out))
}

func childLoopback() error {
	// Before: a fresh namespace's lo is down. Older kernels refuse to
	// bind 127.0.0.1 then (EADDRNOTAVAIL); newer ones (6.18) allow the
	// bind, but nothing can connect to it (ENETUNREACH). ::1 cannot be
	// bound at all.
	if ifi, err := net.InterfaceByName("lo"); err != nil || ifi.Flags&net.FlagUp != 0 {
		return fmt.Errorf("lo before LoopbackUp: %+v, %v; want a down lo", ifi, err)
	}
	if l, err := net.Listen("tcp4", "127.0.0.1:0"); err == nil {
		c, err := net.DialTimeout("tcp4", l.Addr().String(), time.Second)
		l.Close()
		if err == nil {
			c.Close()
			return errors.New("connect to 127.0.0.1 worked before LoopbackUp; not in a fresh network namespace?")
		}
		if !errors.Is(err, unix.ENETUNREACH) {
			return fmt.Errorf("connect to 127.0.0.1 before LoopbackUp: %w, want ENETUNREACH", err)
		}
		fmt.Println("note: this kernel binds 127.0.0.1 on a down lo; connects fail with ENETUNREACH")
	} else if !errors.Is(err, unix.EADDRNOTAVAIL) {
		return fmt.Errorf("listen 127.0.0.1 before LoopbackUp: %w, want EADDRNOTAVAIL", err)
	}
	v6 := ipv6Enabled()
	if v6 {
		if l, err := net.Listen("tcp6", "[::1]:0"); err == nil {
			l.Close()
			return errors.New("::1 was usable before LoopbackUp")
		}
	}

	if err := LoopbackUp(); err != nil {
		return err
	}
	if err := LoopbackUp(); err != nil { // idempotent
		return fmt.Errorf("second LoopbackUp: %w", err)
	}

	type ep struct{ network, addr string }
	eps := []ep{{"tcp4", "127.0.0.1:0"}}
	if v6 {
		eps = append(eps, ep{"tcp6", "[::1]:0"})
	} else {
		fmt.Println("note: IPv6 disabled on this kernel; ::1 not checked")
	}
	for _, e := range eps {
		l, err := net.Listen(e.network, e.addr)
		if err != nil {
			return fmt.Errorf("listen %s after LoopbackUp: %w", e.addr, err)
		}
		go func() {
			c, err := l.Accept()
			if err == nil {
				io.Copy(c, c)
				c.Close()
			}
		}()
		c, err := net.DialTimeout(e.network, l.Addr().String(), 5*time.Second)
		if err != nil {
			l.Close()
			return fmt.Errorf("dial %s after LoopbackUp: %w", l.Addr(), err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write([]byte("ping"))
		buf := make([]byte, 4)
		_, err = io.ReadFull(c, buf)
		c.Close()
		l.Close()
		if err != nil || string(buf) != "ping" {
			return fmt.Errorf("echo over %s: %q, %v", l.Addr(), buf, err)
		}
	}
	return nil
}

// TestLoopbackUpIoctl exercises the SIOCSIFFLAGS fallback LoopbackUp
// uses when netlink is refused.
func TestLoopbackUpIoctl(t *testing.T) {
	runInNetns(t, "loopback-ioctl", nil, nil)
}

func childLoopbackIoctl() error {
	if up, err := loopbackIsUp(); err != nil || up {
		return fmt.Errorf("before: up=%v, %v", up, err)
	}
	if err := loopbackUpIoctl(); err != nil {
		return err
	}
	if up, err := loopbackIsUp(); err != nil || !up {
		return fmt.Errorf("after: up=%v, %v", up, err)
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer l.Close()
	go func() {
		if c, err := l.Accept(); err == nil {
			io.Copy(c, c)
			c.Close()
		}
	}()
	return echoThrough(l.Addr().String(), "ioctl")
}

// TestLoopbackUpWithoutCapability: a non-root uid inside the user
// namespace without ambient capabilities loses them all at exec, as
// under AppArmor's restrict_unprivileged_userns; the error must say so.
func TestLoopbackUpWithoutCapability(t *testing.T) {
	t.Log(strings.TrimSpace(runInNetnsAs(t, "loopback-eperm", nil, nil, 1000, nil)))
}

func childLoopbackEPERM() error {
	err := LoopbackUp()
	if err == nil {
		return errors.New("LoopbackUp worked without CAP_NET_ADMIN")
	}
	if !errors.Is(err, unix.EPERM) || !strings.HasPrefix(err.Error(), "loopback: Failed RTM_NEWLINK: ") || !strings.Contains(err.Error(), "CAP_NET_ADMIN") {
		return fmt.Errorf("unexpected error text: %v", err)
	}
	if _, err := ListenLoopback(); err == nil || !strings.Contains(err.Error(), "loopback: Failed RTM_NEWLINK") {
		return fmt.Errorf("ListenLoopback without CAP_NET_ADMIN: %v", err)
	}
	fmt.Println(err)
	return nil
}

// TestHelperProtocolAcrossNetns: host bridges here, inner bridges in a
// fresh network namespace whose lo is still down (so the inner side must
// bring it up itself), the env rewritten, and a connection made through
// the whole chain to a server in the host namespace.
func TestHelperProtocolAcrossNetns(t *testing.T) {
	base := runtime_NumGoroutine()
	echo := startServer(t, echoHandler)
	routes, err := CollectProxyRoutes([]string{"HTTP_PROXY=http://" + echo.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	hb, err := PrepareHostUDSBridges(t.TempDir(), routes)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := hb.Spec()
	if err != nil {
		t.Fatal(err)
	}
	runInNetns(t, "inner-uds", []string{"ZBOX_TEST_SPEC=" + spec, "HTTP_PROXY=http://" + echo.Addr()}, nil)
	hb.Close()
	echo.Close()
	waitGoroutines(t, base)
}

func childInnerUDS() error {
	routes, err := ParseRouteSpec(os.Getenv("ZBOX_TEST_SPEC"))
	if err != nil {
		return err
	}
	ports, closer, err := StartInnerUDSBridges(routes)
	if err != nil {
		return err
	}
	defer closer()
	env, err := RewriteEnv(os.Environ(), routes, ports)
	if err != nil {
		return err
	}
	var proxy string
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "HTTP_PROXY="); ok {
			proxy = v
		}
	}
	u, err := url.Parse(proxy)
	if err != nil || u.Hostname() != "127.0.0.1" {
		return fmt.Errorf("HTTP_PROXY rewritten to %q", proxy)
	}
	return echoThrough(u.Host, "through the helper bridges")
}

func echoThrough(addr, payload string) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, payload)
	c.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(c)
	if err != nil || string(got) != payload {
		return fmt.Errorf("echo via %s: %q, %v", addr, got, err)
	}
	return nil
}

// TestNativeFDPassingAcrossNetns: the native engine's design. The child
// (standing in for the sandbox's init) opens two 127.0.0.1 listeners in
// its namespace and sends them over a SOCK_SEQPACKET pair; we accept on
// them here: one plain forwarder to a host server, one in-process
// allow-list proxy.
func TestNativeFDPassingAcrossNetns(t *testing.T) {
	base := runtime_NumGoroutine()
	echo := startServer(t, echoHandler)
	parentEnd, childEnd := seqpacketPair(t)
	childFile, err := childEnd.File()
	if err != nil {
		t.Fatal(err)
	}
	childEnd.Close()

	type result struct {
		fwd, prx *Forwarder
		err      error
	}
	res := make(chan result, 1)
	go func() {
		fds, msg, err := RecvFDs(parentEnd, 2, 8)
		if err != nil || len(fds) != 2 || string(msg) != "LL" {
			closeFDs(fds)
			res <- result{err: fmt.Errorf("RecvFDs: %v %v %q", err, fds, msg)}
			return
		}
		l1, err1 := ListenerFromFD(fds[0])
		l2, err2 := ListenerFromFD(fds[1])
		if err := errors.Join(err1, err2); err != nil {
			res <- result{err: err}
			return
		}
		rules, _ := ParseRules([]string{"127.0.0.1"}, nil)
		res <- result{
			fwd: NewForwarder(l1, tcpDialer(echo.Addr()), t.Logf),
			prx: NewHandlerForwarder(l2, NewProxy(rules, t.Logf).ServeConn, t.Logf),
		}
	}()
	runInNetns(t, "fdpass", []string{"ZBOX_TEST_ECHO=" + echo.Addr()}, []*os.File{childFile})
	r := <-res
	if r.err != nil {
		t.Fatal(r.err)
	}
	if st := r.fwd.Stats(); st.Accepted != 1 {
		t.Errorf("forwarder stats %+v", st)
	}
	if st := r.prx.Stats(); st.Accepted != 2 {
		t.Errorf("proxy stats %+v", st)
	}
	r.fwd.Close()
	r.prx.Close()
	parentEnd.Close()
	echo.Close()
	waitGoroutines(t, base)
}

func childFDPass() error {
	f := os.NewFile(3, "ctl")
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return err
	}
	ctl := c.(*net.UnixConn)
	defer ctl.Close()

	// lo is down: ListenLoopback brings it up.
	var files []*os.File
	var ports []int
	for i := 0; i < 2; i++ {
		l, err := ListenLoopback()
		if err != nil {
			return err
		}
		lf, err := l.File()
		if err != nil {
			return err
		}
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
		// Our copy goes away: the socket lives on in the outer process
		// (the init closes its copies the same way).
		l.Close()
		files = append(files, lf)
	}
	if err := SendFDs(ctl, []int{int(files[0].Fd()), int(files[1].Fd())}, []byte("LL")); err != nil {
		return err
	}
	for _, f := range files {
		f.Close()
	}

	// 1. Plain forwarder to the host's echo server.
	if err := echoThrough(fmt.Sprintf("127.0.0.1:%d", ports[0]), "through the passed listener"); err != nil {
		return err
	}
	// 2. The allow-list proxy: an allowed CONNECT to the host's echo
	// server (reachable only through the proxy from in here)...
	pc, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", ports[1]), 5*time.Second)
	if err != nil {
		return err
	}
	defer pc.Close()
	pc.SetDeadline(time.Now().Add(10 * time.Second))
	echoAddr := os.Getenv("ZBOX_TEST_ECHO")
	fmt.Fprintf(pc, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\nvia proxy", echoAddr, echoAddr)
	br := bufio.NewReader(pc)
	resp, err := http.ReadResponse(br, &http.Request{Method: "CONNECT"})
	if err != nil || resp.StatusCode != 200 {
		return fmt.Errorf("CONNECT via the proxy: %v %v", resp, err)
	}
	pc.(*net.TCPConn).CloseWrite()
	if got, err := io.ReadAll(br); err != nil || string(got) != "via proxy" {
		return fmt.Errorf("proxy tunnel: %q %v", got, err)
	}
	// ...and a denied one.
	pc2, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", ports[1]), 5*time.Second)
	if err != nil {
		return err
	}
	defer pc2.Close()
	pc2.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(pc2, "CONNECT example.com:443 HTTP/1.1\r\n\r\n")
	resp, err = http.ReadResponse(bufio.NewReader(pc2), &http.Request{Method: "CONNECT"})
	if err != nil || resp.StatusCode != 403 {
		return fmt.Errorf("denied CONNECT: %v %v", resp, err)
	}
	return nil
}

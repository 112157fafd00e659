package netns

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func tcpSocket(t *testing.T, family, typ int) int {
	t.Helper()
	fd, err := unix.Socket(family, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// ownNetns names this process's network namespace, or skips: SIOCGSKNS
// needs CAP_NET_ADMIN over the namespace (zbox has it over the sandbox's
// as its owner; a test run by an ordinary user does not over the host's).
func ownNetns(t *testing.T) [2]uint64 {
	t.Helper()
	fd := tcpSocket(t, unix.AF_INET, unix.SOCK_STREAM)
	id, err := socketNetns(fd)
	if errors.Is(err, unix.EPERM) {
		t.Skip("SIOCGSKNS needs CAP_NET_ADMIN over the host's network namespace: run as root")
	}
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestReadSockState: only an unbound, unconnected TCP/IPv4 socket of the
// sandbox's namespace is redirected; its options are read.
func TestReadSockState(t *testing.T) {
	ns := ownNetns(t)
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	lport := l.Addr().(*net.TCPAddr).Port

	plain := tcpSocket(t, unix.AF_INET, unix.SOCK_STREAM)
	tuned := tcpSocket(t, unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK)
	unix.SetsockoptInt(tuned, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	unix.SetsockoptInt(tuned, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1)
	unix.SetsockoptInt(tuned, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, 42)
	unix.SetsockoptLinger(tuned, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 3})
	unix.SetsockoptTimeval(tuned, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 2})
	bound := tcpSocket(t, unix.AF_INET, unix.SOCK_STREAM)
	if err := unix.Bind(bound, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	connected := tcpSocket(t, unix.AF_INET, unix.SOCK_STREAM)
	if err := unix.Connect(connected, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: lport}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		fd   int
		ns   [2]uint64
		why  string
	}{
		{"plain", plain, ns, ""},
		{"tuned", tuned, ns, ""},
		{"udp", tcpSocket(t, unix.AF_INET, unix.SOCK_DGRAM), ns, "not a TCP/IPv4 socket"},
		{"ipv6", tcpSocket(t, unix.AF_INET6, unix.SOCK_STREAM), ns, "not a TCP/IPv4 socket"},
		{"unix", tcpSocket(t, unix.AF_UNIX, unix.SOCK_STREAM), ns, "not a TCP/IPv4 socket"},
		{"other namespace", plain, [2]uint64{ns[0], ns[1] + 1}, "socket of another network namespace"},
		{"bound", bound, ns, "socket is bound"},
		{"connected", connected, ns, "already connected"},
	} {
		s, why := readSockState(c.fd, c.ns)
		if why != c.why {
			t.Errorf("%s: reason %q, want %q", c.name, why, c.why)
		}
		if c.name == "tuned" && (!s.nonblock || s.nodelay != 1 || s.keepalive != 1 || s.keepIdle != 42 ||
			s.linger == nil || s.linger.Linger != 3 || s.rcvTimeo == nil || s.rcvTimeo.Sec != 2) {
			t.Errorf("tuned: state %+v", s)
		}
		if c.name == "plain" && (s.nonblock || s.nodelay != 0 || s.keepalive != 0) {
			t.Errorf("plain: state %+v", s)
		}
	}
}

// TestSockStateApply: what readSockState read comes back from the
// replacement socket, the blocking mode included.
func TestSockStateApply(t *testing.T) {
	for _, nonblock := range []bool{false, true} {
		s := sockState{nonblock: nonblock, nodelay: 1, keepalive: 1, keepIdle: 9, keepIntvl: 8, keepCnt: 7, userTO: 4321,
			linger: &unix.Linger{Onoff: 1, Linger: 5}, rcvTimeo: &unix.Timeval{Sec: 1}, sndTimeo: &unix.Timeval{Usec: 500000}}
		fd := tcpSocket(t, unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK)
		if err := s.apply(fd); err != nil {
			t.Fatal(err)
		}
		fl, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
		got := map[string]int{}
		for name, o := range map[string][2]int{
			"nodelay": {unix.IPPROTO_TCP, unix.TCP_NODELAY}, "keepalive": {unix.SOL_SOCKET, unix.SO_KEEPALIVE},
			"idle": {unix.IPPROTO_TCP, unix.TCP_KEEPIDLE}, "intvl": {unix.IPPROTO_TCP, unix.TCP_KEEPINTVL},
			"cnt": {unix.IPPROTO_TCP, unix.TCP_KEEPCNT}, "userto": {unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT},
		} {
			got[name], _ = unix.GetsockoptInt(fd, o[0], o[1])
		}
		lg, _ := unix.GetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER)
		snd, _ := unix.GetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO)
		if (fl&unix.O_NONBLOCK != 0) != nonblock || got["nodelay"] != 1 || got["keepalive"] != 1 || got["idle"] != 9 ||
			got["intvl"] != 8 || got["cnt"] != 7 || got["userto"] != 4321 || lg == nil || lg.Linger != 5 || snd == nil || snd.Usec != 500000 {
			t.Errorf("nonblock=%v: flags %#x, options %v, linger %+v, sndtimeo %+v", nonblock, fl, got, lg, snd)
		}
	}
}

// TestFdCloexec reads the flag from fdinfo, per fd.
func TestFdCloexec(t *testing.T) {
	a := tcpSocket(t, unix.AF_INET, unix.SOCK_STREAM)
	b, err := unix.Dup(a)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(b)
	for fd, want := range map[int]bool{a: true, b: false} {
		got, err := fdCloexec(os.Getpid(), fd)
		if err != nil || got != want {
			t.Errorf("fd %d: %v, %v; want %v", fd, got, err, want)
		}
	}
	if _, err := fdCloexec(os.Getpid(), 1<<20); err == nil {
		t.Error("no error for a closed fd")
	}
}

// TestDialRaw: connected, refused, and given up when told to stop.
func TestDialRaw(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ap := netip.MustParseAddrPort(l.Addr().String())
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	fd, err := dialRaw(ap, time.Second, p[0])
	if err != nil {
		t.Fatalf("dial a listener: %v", err)
	}
	if peer, err := unix.Getpeername(fd); err != nil || peer.(*unix.SockaddrInet4).Port != int(ap.Port()) {
		t.Errorf("peer %v %v", peer, err)
	}
	unix.Close(fd)
	l.Close()
	if _, err := dialRaw(ap, time.Second, p[0]); !errors.Is(err, unix.ECONNREFUSED) {
		t.Errorf("dial a closed port: %v, want ECONNREFUSED", err)
	}
	unix.Write(p[1], []byte{0})
	ln := fullBacklog(t)
	start := time.Now()
	if _, err := dialRaw(ln, 10*time.Second, p[0]); err == nil || !strings.Contains(err.Error(), "ending") {
		t.Errorf("dial with stop readable: %v", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("dial with stop readable took %v", el)
	}
}

// fullBacklog is a listener that never accepts and whose backlog is
// full, so that a further connect hangs in SYN-SENT.
func fullBacklog(t *testing.T) netip.AddrPort {
	fd := tcpSocket(t, unix.AF_INET, unix.SOCK_STREAM)
	unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}})
	unix.Listen(fd, 0)
	sa, _ := unix.Getsockname(fd)
	ap := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(sa.(*unix.SockaddrInet4).Port))
	for i := 0; i < 4; i++ {
		c := tcpSocket(t, unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK)
		unix.Connect(c, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: int(ap.Port())})
	}
	return ap
}

// TestTgidOf: a thread's process is found from the thread's id.
func TestTgidOf(t *testing.T) {
	ch := make(chan int)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		ch <- unix.Gettid()
	}()
	tid := <-ch
	for _, id := range []int{os.Getpid(), tid} {
		if got, err := tgidOf(id); err != nil || got != os.Getpid() {
			t.Errorf("tgidOf(%d) = %d, %v; want %d", id, got, err, os.Getpid())
		}
	}
	if _, err := tgidOf(1 << 30); err == nil {
		t.Error("no error for a missing thread")
	}
}

// TestReferencedElsewhere finds another fd of the same socket and an
// epoll set watching it, by fd number and inode.
func TestReferencedElsewhere(t *testing.T) {
	a := tcpSocket(t, unix.AF_INET, unix.SOCK_STREAM)
	b := tcpSocket(t, unix.AF_INET, unix.SOCK_STREAM)
	c := tcpSocket(t, unix.AF_INET, unix.SOCK_STREAM)
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(ep)
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, a, &unix.EpollEvent{Events: unix.EPOLLOUT, Fd: int32(a)}); err != nil {
		t.Fatal(err)
	}
	cdup, err := unix.Dup(c)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(cdup)
	// d is watched through a dup that is closed since: the epoll entry
	// names d's socket under the closed fd's number.
	d := tcpSocket(t, unix.AF_INET, unix.SOCK_STREAM)
	ddup, err := unix.Dup(d)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, ddup, &unix.EpollEvent{Events: unix.EPOLLOUT, Fd: int32(ddup)}); err != nil {
		t.Fatal(err)
	}
	unix.Close(ddup)
	for _, tc := range []struct {
		fd, sock int
		want     string
	}{
		{a, a, "watched by epoll"},
		{b, b, ""},
		{c, c, "also fd " + strconv.Itoa(cdup)},
		{d, d, "watched by epoll"},
	} {
		got, err := referencedElsewhere(os.Getpid(), tc.fd, tc.sock)
		if err != nil || (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("fd %d (file of fd %d): %q, %v; want %q", tc.fd, tc.sock, got, err, tc.want)
		}
	}
}

// TestReferencedElsewhereBounded: a process with more fds than the scan
// looks at gets "too many to check" (and so the relay), not a scan the
// program can make as long as it likes.
func TestReferencedElsewhereBounded(t *testing.T) {
	a := tcpSocket(t, unix.AF_INET, unix.SOCK_STREAM)
	var lim unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &lim) != nil || lim.Cur < maxScanFDs+64 {
		t.Skipf("soft RLIMIT_NOFILE %d: the test needs more than %d fds", lim.Cur, maxScanFDs)
	}
	var fds []int
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	for i := 0; i <= maxScanFDs; i++ {
		fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		fds = append(fds, fd)
	}
	got, err := referencedElsewhere(os.Getpid(), a, a)
	if err != nil || !strings.Contains(got, "more than") {
		t.Errorf("with %d fds open: %q, %v; want too many to check", len(fds), got, err)
	}
}

// TestNewRedirectorDegraded: with nothing that names the sandbox's
// namespace and a route it cannot parse, NewRedirector still serves (it
// must: the target's connects wait for its listener) and lets every
// connect continue; Close returns and closes the listener.
func TestNewRedirectorDegraded(t *testing.T) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[1])
	var logs []string
	r := NewRedirector(p[0], -1, map[int]string{3128: "not an endpoint"}, func(f string, a ...any) {
		logs = append(logs, f)
	})
	if r == nil || r.routes != nil {
		t.Fatalf("degraded redirector: %+v", r)
	}
	done := make(chan struct{})
	go func() { r.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	if _, err := unix.FcntlInt(uintptr(p[0]), unix.F_GETFD, 0); err == nil {
		t.Error("Close left the listener open")
	}
	if len(logs) < 2 {
		t.Errorf("logged %q, want the bad route and the missing namespace", logs)
	}
}

package netns

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/zbox-sandbox/zbox/filter"
)

// Redirector is the fast path of the proxy bridge. The bridge listener
// inside the sandbox makes every proxied byte cross two TCP connections
// and a relay in zbox; the Redirector removes both for the common case.
// The target runs under filter.ConnectNotifyProgram, so its IPv4
// connect(2) calls wait for the Redirector. For a TCP socket of the
// sandbox's network namespace connecting to 127.0.0.1:<bridge port>,
// the Redirector connects a socket of its own (in zbox's network
// namespace) to that bridge's proxy and puts it in place of the caller's
// socket, at the same fd number (SECCOMP_ADDFD_FLAG_SETFD); connect then
// returns 0. The program then talks to the proxy over one loopback
// connection, as it would without a sandbox. Every other connect
// continues untouched, in the sandbox's namespace.
//
// Nothing becomes reachable that the bridge listener does not already
// reach: only a route's own proxy endpoint is dialled, only for the
// bridge port the caller named, and only for sockets of the sandbox's own
// namespace (a nested sandbox with a network namespace of its own keeps
// its isolation: its sockets are not redirected). Whenever anything
// differs from the plain case (a bound socket, an unknown option, an
// unreachable proxy, a caller that went away), the call continues and
// reaches the bridge listener, which relays as before.
type Redirector struct {
	l      filter.Listener
	routes map[uint16]netip.AddrPort // bridge port in the sandbox -> proxy on the host
	netns  [2]uint64                 // dev, inode of the sandbox's network namespace
	logf   func(string, ...any)

	stopR, stopW int // a pipe that Close writes to (-1: none, poll with a timeout)
	closed       atomic.Bool
	wg           sync.WaitGroup
	closeOnce    sync.Once
	// busy bounds the notifications answered at once. Each answer
	// blocks a thread in syscalls (at worst the 100 ms dial), so without
	// a bound a sandbox could make zbox start thousands of threads by
	// connecting at once to a proxy that does not answer. Past the bound
	// a connect continues to the relay, which the netpoller serves.
	busy chan struct{}

	// Counts for the --debug log.
	redirected, continued atomic.Uint64
}

// redirectDialTimeout bounds the connect to a route's proxy. The caller
// waits in its own connect meanwhile, even a non-blocking one, so it is
// short: a live proxy on loopback answers the handshake from the kernel
// within microseconds, accept or not. A proxy that does not (its backlog
// is full, a firewall drops the SYN) is left to the relay, whose listener
// accepts at once and which dials with the bridges' long timeout in the
// background, as it did before the redirect existed.
const redirectDialTimeout = 100 * time.Millisecond

// maxRedirecting is how many connects the Redirector works on at once.
const maxRedirecting = 64

// NewRedirector serves the user-notification listener notifyFD (taking
// ownership of it). bridge is one of the sandbox's bridge listeners (any:
// it only names the sandbox's network namespace; not kept); routes maps
// each bridge's port to the proxy endpoint it relays to ("host:port",
// loopback). logf may be nil.
//
// It cannot fail. Once the target runs under the filter, every IPv4
// connect waits for an answer from this listener, and closing it would
// make them all fail with ENOSYS. So a problem here (a route it cannot
// parse, a namespace it cannot name) is logged, and the Redirector
// answers "continue" to every call: the relay serves them all.
func NewRedirector(notifyFD, bridge int, routes map[int]string, logf func(string, ...any)) *Redirector {
	r := &Redirector{l: filter.Listener(notifyFD), routes: map[uint16]netip.AddrPort{}, logf: logf,
		busy: make(chan struct{}, maxRedirecting), stopR: -1, stopW: -1}
	for port, ep := range routes {
		ap, err := netip.ParseAddrPort(ep)
		if err != nil || port <= 0 || port > 0xffff {
			r.log("connect redirect: bad route %d -> %q; every connect goes to the relay", port, ep)
			r.routes = nil
			break
		}
		r.routes[uint16(port)] = ap
	}
	if id, err := socketNetns(bridge); err != nil {
		r.log("connect redirect: network namespace of the bridge listener: %v; every connect goes to the relay", err)
		r.routes = nil
	} else {
		r.netns = id
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		// No way to wake the loop: it polls with a timeout instead.
		r.log("connect redirect: pipe: %v", err)
	} else {
		r.stopR, r.stopW = p[0], p[1]
	}
	r.wg.Add(1)
	go r.serve()
	return r
}

// Close stops serving and waits for every notification being handled.
// Calls still waiting are then answered by the kernel itself: once the
// listener is closed they fail with ENOSYS.
func (r *Redirector) Close() {
	r.closeOnce.Do(func() {
		r.closed.Store(true)
		if r.stopW >= 0 {
			unix.Write(r.stopW, []byte{0})
		}
		r.wg.Wait()
		r.log("connect redirect: %d connects redirected, %d left to the relay", r.redirected.Load(), r.continued.Load())
		if r.stopR >= 0 {
			unix.Close(r.stopR)
			unix.Close(r.stopW)
		}
		unix.Close(int(r.l))
	})
}

func (r *Redirector) log(format string, args ...any) {
	if r.logf != nil {
		r.logf(format, args...)
	}
}

// serve waits for notifications (or Close) and answers each on its own
// goroutine, so that a slow proxy holds up only the caller dialling it.
//
// It never gives up while the sandbox runs: a reported call waits until
// it is answered, so a supervisor that stopped reading would hang every
// IPv4 connect in the sandbox. An unexpected error is logged once and
// retried after a pause.
func (r *Redirector) serve() {
	defer r.wg.Done()
	logged := false
	trouble := func(what string, err error) {
		if !logged {
			r.log("connect redirect: %s: %v; retrying", what, err)
			logged = true
		}
		time.Sleep(10 * time.Millisecond)
	}
	timeout := -1
	if r.stopR < 0 {
		timeout = 50 // ms; poll ignores the negative fd
	}
	for !r.closed.Load() {
		fds := []unix.PollFd{{Fd: int32(r.l), Events: unix.POLLIN}, {Fd: int32(r.stopR), Events: unix.POLLIN}}
		k, err := unix.Poll(fds, timeout)
		if k == 0 && err == nil {
			continue
		}
		if err != nil {
			if !errors.Is(err, unix.EINTR) {
				trouble("poll", err)
			}
			continue
		}
		if fds[1].Revents != 0 {
			return
		}
		if fds[0].Revents&unix.POLLIN == 0 {
			// POLLHUP: every task under the filter has exited.
			return
		}
		var n filter.Notif
		if err := r.l.Recv(&n); err != nil {
			if !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EINTR) {
				trouble("receive", err)
			}
			continue
		}
		select {
		case r.busy <- struct{}{}:
		default:
			r.continued.Add(1)
			_ = r.l.Continue(n.ID)
			continue
		}
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			defer func() { <-r.busy }()
			r.answer(&n)
		}()
	}
}

func (r *Redirector) answer(n *filter.Notif) {
	ok, why := r.redirect(n)
	if ok {
		r.redirected.Add(1)
		return
	}
	r.continued.Add(1)
	if why != "" {
		r.log("connect redirect: pid %d fd %d: %s; left to the bridge listener", n.Pid, n.Args[0], why)
	}
	// ENOENT: the caller is gone or was interrupted; nothing to answer.
	_ = r.l.Continue(n.ID)
}

// redirect tries the fast path for one connect(fd, addr, 16). It reports
// whether it answered the call; when not, why (empty for a connect that
// is simply not to a bridge).
func (r *Redirector) redirect(n *filter.Notif) (bool, string) {
	pid := int(n.Pid)
	// The destination, from the caller's memory. Only a hint: the
	// decision that matters (which proxy to dial) is ours, and a caller
	// that changes the address under us only gets its own bridge.
	var sa [filter.SockaddrIn4Len]byte
	local := []unix.Iovec{{Base: &sa[0], Len: uint64(len(sa))}}
	remote := []unix.RemoteIovec{{Base: uintptr(n.Args[1]), Len: len(sa)}}
	if k, err := unix.ProcessVMReadv(pid, local, remote, 0); err != nil || k != len(sa) {
		return false, fmt.Sprintf("cannot read the address (%v)", err)
	}
	if binary.LittleEndian.Uint16(sa[0:2]) != unix.AF_INET || !bytes.Equal(sa[4:8], []byte{127, 0, 0, 1}) {
		return false, ""
	}
	proxy, ok := r.routes[binary.BigEndian.Uint16(sa[2:4])]
	if !ok {
		return false, ""
	}
	// The notification names the calling *thread*; pidfd_open wants its
	// process (the thread group leader's id). From here on both must
	// still be the caller's: look the process up, open it, then check
	// that the notification is still pending. While it is, the calling
	// thread is alive, so its id had not been reused when we read its
	// process, and that process is alive too.
	//
	// A process's first thread (the common case) has the process's id,
	// and pidfd_open takes it as it is; any other thread's id gets EINVAL
	// (ENOENT on newer kernels, 6.18 here).
	tgid := pid
	pidfd, err := unix.PidfdOpen(tgid, 0)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
		if tgid, err = tgidOf(pid); err != nil {
			return false, fmt.Sprintf("process of thread %d: %v", pid, err)
		}
		pidfd, err = unix.PidfdOpen(tgid, 0)
	}
	if err != nil {
		return false, fmt.Sprintf("pidfd_open: %v", err)
	}
	defer unix.Close(pidfd)
	if !r.l.Valid(n.ID) {
		return true, "" // gone: nothing to answer
	}
	if n.Args[0] > 1<<31-1 {
		return false, "bad fd"
	}
	fd := int(n.Args[0])
	sock, err := unix.PidfdGetfd(pidfd, fd, 0)
	if err != nil {
		return false, fmt.Sprintf("pidfd_getfd: %v", err)
	}
	defer unix.Close(sock)
	o, why := readSockState(sock, r.netns)
	if why != "" {
		return false, why
	}
	cloexec, err := fdCloexec(pid, fd)
	if err != nil {
		return false, fmt.Sprintf("fd flags: %v", err)
	}
	// The swap changes what one fd number names, not the socket: any
	// other reference to the socket would go on naming the unconnected
	// one. An epoll set that already watches it (epoll keys on the open
	// file) would never see the connect complete; another fd of the
	// same socket (dup) would not be connected. Most event loops (Go,
	// libuv, mio, asyncio, Java NIO) register after connect; the rest
	// get the relay.
	if why, err := referencedElsewhere(tgid, fd, sock); err != nil {
		return false, fmt.Sprintf("cannot look for other references to the socket: %v", err)
	} else if why != "" {
		return false, why
	}
	up, err := dialRaw(proxy, redirectDialTimeout, r.stopR)
	if err != nil {
		return false, fmt.Sprintf("cannot reach the proxy %s: %v", proxy, err)
	}
	defer unix.Close(up)
	if err := o.apply(up); err != nil {
		return false, fmt.Sprintf("copy socket options: %v", err)
	}
	if err := r.l.ReplaceFD(n.ID, up, fd, cloexec); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return true, "" // the caller is gone
		}
		return false, fmt.Sprintf("replace the socket: %v", err)
	}
	if err := r.l.Return(n.ID, 0, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		r.log("connect redirect: pid %d fd %d: answer: %v", pid, fd, err)
	}
	return true, ""
}

// sockState is what a caller's socket carries into its replacement: the
// file status flag O_NONBLOCK and the options programs commonly set
// before connect. Buffer sizes are left to autotuning: reading one back
// cannot tell a size the program chose from the default, and setting it
// would turn autotuning off.
type sockState struct {
	nonblock  bool
	nodelay   int
	keepalive int
	keepIdle  int
	keepIntvl int
	keepCnt   int
	userTO    int // TCP_USER_TIMEOUT (gRPC sets it)
	linger    *unix.Linger
	rcvTimeo  *unix.Timeval
	sndTimeo  *unix.Timeval
}

// readSockState checks that sock is an unbound, unconnected TCP/IPv4
// socket of the network namespace netns, and reads its state. A non-empty
// reason means "do not redirect".
func readSockState(sock int, netns [2]uint64) (sockState, string) {
	var s sockState
	for _, c := range []struct{ opt, want int }{
		{unix.SO_DOMAIN, unix.AF_INET}, {unix.SO_TYPE, unix.SOCK_STREAM}, {unix.SO_PROTOCOL, unix.IPPROTO_TCP},
	} {
		if v, err := unix.GetsockoptInt(sock, unix.SOL_SOCKET, c.opt); err != nil || v != c.want {
			return s, "not a TCP/IPv4 socket"
		}
	}
	if id, err := socketNetns(sock); err != nil || id != netns {
		// A nested sandbox's socket, or one the caller brought in from
		// elsewhere: its connect means something else there.
		return s, "socket of another network namespace"
	}
	if _, err := unix.Getpeername(sock); err == nil {
		return s, "already connected"
	}
	if sa, err := unix.Getsockname(sock); err != nil {
		return s, "getsockname: " + err.Error()
	} else if in, ok := sa.(*unix.SockaddrInet4); !ok || in.Port != 0 {
		return s, "socket is bound"
	}
	fl, err := unix.FcntlInt(uintptr(sock), unix.F_GETFL, 0)
	if err != nil {
		return s, "F_GETFL: " + err.Error()
	}
	s.nonblock = fl&unix.O_NONBLOCK != 0
	get := func(level, opt int, v *int) {
		if err == nil {
			*v, err = unix.GetsockoptInt(sock, level, opt)
		}
	}
	get(unix.IPPROTO_TCP, unix.TCP_NODELAY, &s.nodelay)
	get(unix.SOL_SOCKET, unix.SO_KEEPALIVE, &s.keepalive)
	get(unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, &s.keepIdle)
	get(unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, &s.keepIntvl)
	get(unix.IPPROTO_TCP, unix.TCP_KEEPCNT, &s.keepCnt)
	get(unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, &s.userTO)
	if err == nil {
		s.linger, err = unix.GetsockoptLinger(sock, unix.SOL_SOCKET, unix.SO_LINGER)
	}
	if err == nil {
		s.rcvTimeo, err = unix.GetsockoptTimeval(sock, unix.SOL_SOCKET, unix.SO_RCVTIMEO)
	}
	if err == nil {
		s.sndTimeo, err = unix.GetsockoptTimeval(sock, unix.SOL_SOCKET, unix.SO_SNDTIMEO)
	}
	if err != nil {
		return s, "read socket options: " + err.Error()
	}
	return s, ""
}

func (s sockState) apply(fd int) error {
	set := []struct{ level, opt, v int }{
		{unix.IPPROTO_TCP, unix.TCP_NODELAY, s.nodelay},
		{unix.SOL_SOCKET, unix.SO_KEEPALIVE, s.keepalive},
		{unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, s.keepIdle},
		{unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, s.keepIntvl},
		{unix.IPPROTO_TCP, unix.TCP_KEEPCNT, s.keepCnt},
		{unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, s.userTO},
	}
	for _, o := range set {
		if err := unix.SetsockoptInt(fd, o.level, o.opt, o.v); err != nil {
			return err
		}
	}
	if err := unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, s.linger); err != nil {
		return err
	}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, s.rcvTimeo); err != nil {
		return err
	}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, s.sndTimeo); err != nil {
		return err
	}
	if !s.nonblock {
		// dialRaw connected in non-blocking mode; the caller's socket
		// was blocking.
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, 0); err != nil {
			return err
		}
	}
	return nil
}

// socketNetns names the network namespace a socket belongs to
// (SIOCGSKNS: it needs CAP_NET_ADMIN over that namespace, which zbox has
// over the sandbox's, being its owner).
func socketNetns(sock int) ([2]uint64, error) {
	ns, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(sock), unix.SIOCGSKNS, 0)
	if errno != 0 {
		return [2]uint64{}, errno
	}
	defer unix.Close(int(ns))
	var st unix.Stat_t
	if err := unix.Fstat(int(ns), &st); err != nil {
		return [2]uint64{}, err
	}
	return [2]uint64{st.Dev, st.Ino}, nil
}

// referencedElsewhere says how process tgid refers to the socket at fd
// (sock is our copy of it) other than through fd: another fd of the same
// socket, or an epoll set watching it (each eventpoll fd's fdinfo lists
// its targets as "tfd: N ... ino:HEX"). Empty when there is nothing.
//
// An epoll entry is matched by the socket's inode alone, whatever fd
// number it was added under: it may have been added through a dup that
// is closed since, and it still names this socket. The program decides
// how many fds and epoll entries there are, so the scan is bounded
// (maxScanFDs, maxEpollInfo); past a bound the answer is "too many to
// check", and the connect goes to the relay.
func referencedElsewhere(tgid, fd, sock int) (string, error) {
	var st unix.Stat_t
	if err := unix.Fstat(sock, &st); err != nil {
		return "", err
	}
	dir := "/proc/" + strconv.Itoa(tgid)
	d, err := os.Open(dir + "/fd")
	if err != nil {
		return "", err
	}
	names, err := d.Readdirnames(maxScanFDs + 1) // unsorted: no need to sort
	d.Close()
	if err != nil {
		return "", err
	}
	if len(names) > maxScanFDs {
		return fmt.Sprintf("more than %d fds to check", maxScanFDs), nil
	}
	wantFD := strconv.Itoa(fd)
	wantIno := []byte("ino:" + strconv.FormatUint(st.Ino, 16))
	self := "socket:[" + strconv.FormatUint(st.Ino, 10) + "]"
	var buf [64]byte
	info := make([]byte, maxEpollInfo+1)
	for _, name := range names {
		n, err := unix.Readlink(dir+"/fd/"+name, buf[:])
		if err != nil {
			continue // closed meanwhile
		}
		l := string(buf[:n])
		if l == self && name != wantFD {
			return "the socket is also fd " + name, nil
		}
		if l != "anon_inode:[eventpoll]" {
			continue
		}
		f, err := os.Open(dir + "/fdinfo/" + name)
		if err != nil {
			continue
		}
		n, err = io.ReadFull(f, info)
		f.Close()
		if n > maxEpollInfo {
			return fmt.Sprintf("epoll fd %s watches too many fds to check", name), nil
		}
		if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
			continue
		}
		for _, line := range bytes.Split(info[:n], []byte("\n")) {
			if !bytes.HasPrefix(line, []byte("tfd:")) {
				continue
			}
			for _, kv := range bytes.Fields(line) {
				if bytes.Equal(kv, wantIno) {
					return "the socket is watched by epoll fd " + name, nil
				}
			}
		}
	}
	return "", nil
}

// Bounds of referencedElsewhere's scan: fds of the calling process, and
// bytes of one epoll fd's fdinfo (about 90 bytes an entry).
const (
	maxScanFDs   = 4096
	maxEpollInfo = 256 << 10
)

// tgidOf reads the process (thread group) id of thread tid from
// /proc/TID/status.
func tgidOf(tid int) (int, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(tid) + "/status") // Tgid is near the top, but status is long
	if err != nil {
		return 0, err
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("Tgid:")); ok {
			return strconv.Atoi(string(bytes.TrimSpace(v)))
		}
	}
	return 0, errors.New("no Tgid line")
}

// fdCloexec reads the caller's close-on-exec flag for fd: it belongs to
// the fd table entry, not to the socket, so pidfd_getfd does not carry
// it.
func fdCloexec(pid, fd int) (bool, error) {
	b, err := readSmall("/proc/" + strconv.Itoa(pid) + "/fdinfo/" + strconv.Itoa(fd))
	if err != nil {
		return false, err
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("flags:")); ok {
			fl, err := strconv.ParseUint(string(bytes.TrimSpace(v)), 8, 64)
			if err != nil {
				return false, err
			}
			return fl&unix.O_CLOEXEC != 0, nil
		}
	}
	return false, errors.New("no flags line in fdinfo")
}

// readSmall reads the start of a small procfs file in three syscalls
// (os.ReadFile also stats it and reads again to see EOF); this runs once
// per redirected connect.
func readSmall(path string) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	b := make([]byte, 512)
	n, err := unix.Read(fd, b)
	if err != nil {
		return nil, err
	}
	return b[:n], nil
}

// dialRaw connects a new TCP socket (close-on-exec, non-blocking) to ap
// within timeout, or until stop is readable, and returns its fd.
func dialRaw(ap netip.AddrPort, timeout time.Duration, stop int) (int, error) {
	family := unix.AF_INET
	var sa unix.Sockaddr
	if ap.Addr().Is4() {
		sa = &unix.SockaddrInet4{Addr: ap.Addr().As4(), Port: int(ap.Port())}
	} else {
		family = unix.AF_INET6
		sa = &unix.SockaddrInet6{Addr: ap.Addr().As16(), Port: int(ap.Port())}
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return -1, err
	}
	err = unix.Connect(fd, sa)
	if errors.Is(err, unix.EINPROGRESS) {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}, {Fd: int32(stop), Events: unix.POLLIN}}
		deadline := time.Now().Add(timeout)
		for {
			ms := int(time.Until(deadline) / time.Millisecond)
			if ms <= 0 {
				err = unix.ETIMEDOUT
				break
			}
			k, perr := unix.Poll(pfd, ms)
			if errors.Is(perr, unix.EINTR) {
				continue
			}
			if perr != nil {
				err = perr
				break
			}
			if pfd[1].Revents != 0 {
				err = errors.New("the sandbox is ending")
				break
			}
			if k == 0 || pfd[0].Revents == 0 {
				continue
			}
			var soerr int
			soerr, err = unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
			if err == nil && soerr != 0 {
				err = unix.Errno(soerr)
			}
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

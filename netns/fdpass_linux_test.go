//go:build linux

package netns

import (
	"io"
	"net"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// seqpacketPair returns a connected SOCK_SEQPACKET pair as *net.UnixConn.
func seqpacketPair(t testing.TB) (*net.UnixConn, *net.UnixConn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	conv := func(fd int) *net.UnixConn {
		f := os.NewFile(uintptr(fd), "sp")
		defer f.Close()
		c, err := net.FileConn(f)
		if err != nil {
			t.Fatal(err)
		}
		return c.(*net.UnixConn)
	}
	a, b := conv(fds[0]), conv(fds[1])
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func countFDs(t testing.TB) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func TestSendRecvFDs(t *testing.T) {
	a, b := seqpacketPair(t)
	r1, w1, _ := os.Pipe()
	r2, w2, _ := os.Pipe()
	defer r1.Close()
	defer w1.Close()
	defer r2.Close()
	defer w2.Close()
	if err := SendFDs(a, []int{int(w1.Fd()), int(w2.Fd())}, []byte("LL")); err != nil {
		t.Fatal(err)
	}
	fds, msg, err := RecvFDs(b, 4, 16)
	if err != nil {
		t.Fatal(err)
	}
	if string(msg) != "LL" || len(fds) != 2 {
		t.Fatalf("msg %q fds %v", msg, fds)
	}
	for i, fd := range fds {
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil || flags&unix.FD_CLOEXEC == 0 {
			t.Errorf("received fd %d is not close-on-exec (flags %#x, %v)", fd, flags, err)
		}
		f := os.NewFile(uintptr(fd), "recv")
		f.Write([]byte{byte('a' + i)})
		f.Close()
	}
	buf := make([]byte, 1)
	if _, err := io.ReadFull(r1, buf); err != nil || buf[0] != 'a' {
		t.Errorf("pipe 1: %q %v", buf, err)
	}
	if _, err := io.ReadFull(r2, buf); err != nil || buf[0] != 'b' {
		t.Errorf("pipe 2: %q %v", buf, err)
	}
}

func TestRecvFDsTooMany(t *testing.T) {
	a, b := seqpacketPair(t)
	r, w, _ := os.Pipe()
	defer r.Close()
	defer w.Close()
	before := countFDs(t)
	if err := SendFDs(a, []int{int(r.Fd()), int(w.Fd()), int(r.Fd())}, []byte("x")); err != nil {
		t.Fatal(err)
	}
	_, _, err := RecvFDs(b, 1, 16)
	if err == nil || !strings.Contains(err.Error(), "more than 1") {
		t.Fatalf("err = %v", err)
	}
	if after := countFDs(t); after != before {
		t.Errorf("fd leak: %d open before, %d after", before, after)
	}
}

func TestRecvFDsErrors(t *testing.T) {
	a, b := seqpacketPair(t)
	if err := SendFDs(a, nil, nil); err == nil {
		t.Error("empty message accepted")
	}
	if err := SendFDs(a, make([]int, 254), []byte("x")); err == nil {
		t.Error("254 fds accepted")
	}
	if err := SendFDs(a, nil, []byte("0123456789")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := RecvFDs(b, 1, 4); err == nil || !strings.Contains(err.Error(), "longer than 4") {
		t.Errorf("truncation: %v", err)
	}
	if _, _, err := RecvFDs(b, -1, 4); err == nil {
		t.Error("bad limits accepted")
	}
	a.Close()
	if _, _, err := RecvFDs(b, 1, 4); err != io.EOF {
		t.Errorf("closed peer: %v, want io.EOF", err)
	}
}

func TestListenerFromFD(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	f, _ := l.(*net.TCPListener).File()
	l.Close()
	fd, err := unix.Dup(int(f.Fd()))
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	nl, err := ListenerFromFD(fd)
	if err != nil {
		t.Fatal(err)
	}
	defer nl.Close()
	if nl.Addr().String() != addr {
		t.Errorf("listener on %s, want %s", nl.Addr(), addr)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil {
		t.Error("ListenerFromFD did not consume its fd")
	}
	r, w, _ := os.Pipe()
	defer r.Close()
	defer w.Close()
	pfd, _ := unix.Dup(int(r.Fd()))
	if _, err := ListenerFromFD(pfd); err == nil {
		t.Error("a pipe was accepted as a listener")
	}
}

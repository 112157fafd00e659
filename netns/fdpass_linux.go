//go:build linux

package netns

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// maxFDsPerMessage is the kernel's SCM_MAX_FD.
const maxFDsPerMessage = 253

// SendFDs sends msg with fds attached (SCM_RIGHTS) as one message on c.
// msg must not be empty: on stream sockets the ancillary data travels
// with the data bytes, and a zero-byte send carries nothing. Use a
// SOCK_SEQPACKET socketpair so that message boundaries are kept. The
// caller still owns (and should close) its copies of fds.
func SendFDs(c *net.UnixConn, fds []int, msg []byte) error {
	if len(msg) == 0 {
		return errors.New("sending file descriptors: the message needs at least one data byte to carry them")
	}
	if len(fds) > maxFDsPerMessage {
		return fmt.Errorf("sending file descriptors: %d is more than the kernel's limit of %d per message", len(fds), maxFDsPerMessage)
	}
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	n, oobn, err := c.WriteMsgUnix(msg, oob, nil)
	if err != nil {
		return fmt.Errorf("sending %d file descriptor(s) over %s: %w", len(fds), describeUnixConn(c), err)
	}
	if n != len(msg) || oobn != len(oob) {
		return fmt.Errorf("sending %d file descriptor(s) over %s: short write (%d/%d data, %d/%d control bytes)", len(fds), describeUnixConn(c), n, len(msg), oobn, len(oob))
	}
	return nil
}

// RecvFDs receives one message of up to maxMsg bytes with up to maxFDs
// file descriptors. The descriptors arrive close-on-exec (Go's
// ReadMsgUnix passes MSG_CMSG_CLOEXEC on Linux), so none can leak into a
// later exec; the caller owns and must close them. If the sender
// attached more than maxFDs, or the data did not fit, every received
// descriptor is closed and an error returned: a partial set is never
// handed out. A closed peer gives io.EOF.
func RecvFDs(c *net.UnixConn, maxFDs, maxMsg int) ([]int, []byte, error) {
	if maxFDs < 0 || maxFDs > maxFDsPerMessage || maxMsg < 1 {
		return nil, nil, fmt.Errorf("receiving file descriptors: bad limits (maxFDs=%d, maxMsg=%d)", maxFDs, maxMsg)
	}
	buf := make([]byte, maxMsg)
	oob := make([]byte, unix.CmsgSpace(max(maxFDs, 1)*4))
	n, oobn, flags, _, err := c.ReadMsgUnix(buf, oob)
	if errors.Is(err, io.EOF) {
		return nil, nil, io.EOF
	}
	if err != nil {
		return nil, nil, fmt.Errorf("receiving file descriptors over %s: %w", describeUnixConn(c), err)
	}
	fds, perr := parseRights(oob[:oobn])
	switch {
	case flags&unix.MSG_CTRUNC != 0:
		closeFDs(fds)
		return nil, nil, fmt.Errorf("receiving file descriptors over %s: the peer sent more than %d; the kernel discarded the rest", describeUnixConn(c), maxFDs)
	case flags&unix.MSG_TRUNC != 0:
		closeFDs(fds)
		return nil, nil, fmt.Errorf("receiving file descriptors over %s: message longer than %d bytes", describeUnixConn(c), maxMsg)
	case perr != nil:
		closeFDs(fds)
		return nil, nil, fmt.Errorf("receiving file descriptors over %s: %w", describeUnixConn(c), perr)
	case n == 0 && oobn == 0:
		return nil, nil, io.EOF
	}
	return fds, buf[:n], nil
}

func parseRights(oob []byte) ([]int, error) {
	if len(oob) == 0 {
		return nil, nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("malformed control message: %w", err)
	}
	var fds []int
	var firstErr error
	for _, m := range msgs {
		if m.Header.Level != unix.SOL_SOCKET || m.Header.Type != unix.SCM_RIGHTS {
			continue
		}
		got, err := unix.ParseUnixRights(&m)
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("malformed SCM_RIGHTS message: %w", err)
		}
		fds = append(fds, got...)
	}
	return fds, firstErr
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

func describeUnixConn(c *net.UnixConn) string {
	if a := c.LocalAddr(); a != nil && a.String() != "" && a.String() != "@" {
		return "unix socket " + a.String()
	}
	return "unix socketpair"
}

// ListenerFromFD turns a received listening-socket fd into a
// net.Listener. It always consumes fd (closes it): net.FileListener
// works on a duplicate.
func ListenerFromFD(fd int) (net.Listener, error) {
	f := os.NewFile(uintptr(fd), fmt.Sprintf("listener-fd-%d", fd))
	if f == nil {
		return nil, fmt.Errorf("listener fd %d is not valid", fd)
	}
	defer f.Close()
	l, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("fd %d is not a listening socket: %w", fd, err)
	}
	return l, nil
}

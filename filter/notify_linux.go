package filter

import (
	"errors"
	"fmt"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ErrListenerBusy means the calling thread already runs under a seccomp
// filter that has a listener (the kernel allows one per filter chain):
// zbox nested inside a sandbox that redirects connect(2) itself, or a
// container runtime's own supervisor.
var ErrListenerBusy = errors.New("a seccomp filter with a user-notification listener is already installed (zbox nested in such a sandbox?)")

// InstallWithListener loads p on the calling thread (locked, as for
// InstallOnThread; no_new_privs must already be set) and returns the
// filter's user-notification listener, a close-on-exec fd in this
// process. The thread's children inherit the filter; the listener
// receives what p returns SECCOMP_RET_USER_NOTIF for.
//
// SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (Linux 5.19) is asked for first:
// without it, a non-fatal signal that arrives while the supervisor works
// on a notification (the Go runtime's preemption signal every 10 ms, for
// one) abandons the call, the supervisor's answer is lost, and the call
// restarts from scratch. On older kernels the flag is dropped.
func InstallWithListener(p Program) (int, error) {
	if err := p.check(); err != nil {
		return -1, err
	}
	insns := p.SockFilters()
	prog := unix.SockFprog{Len: uint16(len(insns)), Filter: &insns[0]}
	flags := uintptr(unix.SECCOMP_FILTER_FLAG_NEW_LISTENER | unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)
	for {
		fd, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, flags, uintptr(unsafe.Pointer(&prog)))
		runtime.KeepAlive(insns)
		switch {
		case errno == 0:
			return int(fd), nil
		case errno == unix.EINVAL && flags&unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV != 0:
			flags &^= unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
			continue
		case errno == unix.EBUSY:
			return -1, ErrListenerBusy
		case errno == unix.EINVAL:
			return -1, fmt.Errorf("filter: seccomp(SECCOMP_SET_MODE_FILTER, NEW_LISTENER) for %q: %w (seccomp user notification needs Linux 5.0)", p.Name, errno)
		default:
			return -1, fmt.Errorf("filter: seccomp(SECCOMP_SET_MODE_FILTER, NEW_LISTENER) for %q: %w", p.Name, errno)
		}
	}
}

// Notif is struct seccomp_notif: one reported syscall.
type Notif struct {
	ID    uint64
	Pid   uint32 // the caller's thread id, in the listener reader's pid namespace
	Flags uint32
	Nr    int32
	Arch  uint32
	IP    uint64
	Args  [6]uint64
}

// notifResp is struct seccomp_notif_resp.
type notifResp struct {
	ID    uint64
	Val   int64
	Error int32
	Flags uint32
}

// notifAddFD is struct seccomp_notif_addfd.
type notifAddFD struct {
	ID         uint64
	Flags      uint32
	SrcFD      uint32
	NewFD      uint32
	NewFDFlags uint32
}

// Sizes the kernel's ioctl numbers encode (checked in the tests against
// the ioctl constants).
const (
	sizeofNotif      = 80
	sizeofNotifResp  = 24
	sizeofNotifAddFD = 24
)

// Listener is a seccomp user-notification fd (InstallWithListener).
type Listener int

func (l Listener) ioctl(req uintptr, arg unsafe.Pointer) error {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(l), req, uintptr(arg))
	if errno != 0 {
		return errno
	}
	return nil
}

// Recv takes the next pending notification. It blocks until there is
// one; poll the fd for POLLIN first. ENOENT means the caller went away
// between the poll and the receive.
func (l Listener) Recv(n *Notif) error {
	*n = Notif{} // the kernel insists on a zeroed struct
	return l.ioctl(unix.SECCOMP_IOCTL_NOTIF_RECV, unsafe.Pointer(n))
}

// Valid reports whether notification id is still pending: its caller is
// still waiting in the syscall, so the thread id it carries still names
// that caller (and not a recycled pid).
func (l Listener) Valid(id uint64) bool {
	return l.ioctl(unix.SECCOMP_IOCTL_NOTIF_ID_VALID, unsafe.Pointer(&id)) == nil
}

// Continue lets the reported syscall run as if the filter had allowed it.
func (l Listener) Continue(id uint64) error {
	r := notifResp{ID: id, Flags: unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE}
	return l.ioctl(unix.SECCOMP_IOCTL_NOTIF_SEND, unsafe.Pointer(&r))
}

// Return completes the reported syscall without running it: it returns
// val, or fails with errno when errno is not 0.
func (l Listener) Return(id uint64, val int64, errno syscall.Errno) error {
	r := notifResp{ID: id, Val: val, Error: -int32(errno)}
	if errno != 0 {
		r.Val = 0
	}
	return l.ioctl(unix.SECCOMP_IOCTL_NOTIF_SEND, unsafe.Pointer(&r))
}

// ReplaceFD installs a copy of our fd src in the caller's fd table at
// number dst, closing what was there (SECCOMP_ADDFD_FLAG_SETFD, Linux
// 5.9), with close-on-exec when cloexec is set.
func (l Listener) ReplaceFD(id uint64, src, dst int, cloexec bool) error {
	a := notifAddFD{ID: id, Flags: unix.SECCOMP_ADDFD_FLAG_SETFD, SrcFD: uint32(src), NewFD: uint32(dst)}
	if cloexec {
		a.NewFDFlags = unix.O_CLOEXEC
	}
	return l.ioctl(unix.SECCOMP_IOCTL_NOTIF_ADDFD, unsafe.Pointer(&a))
}

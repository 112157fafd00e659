package filter

import (
	"encoding/json"
	"errors"
	"runtime"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

func init() { extraChildModes["notify"] = childNotify }

// childNotify installs the connect-notify program with a listener on
// its locked thread, serves the listener from another thread, and
// reports what connect calls on the filtered thread return.
func childNotify() int {
	runtime.LockOSThread()
	out := map[string]string{}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return die("no_new_privs: %v", err)
	}
	p, err := ConnectNotifyProgram(runtime.GOARCH)
	if err != nil {
		return die("%v", err)
	}
	fd, err := InstallWithListener(p)
	if err != nil {
		return die("InstallWithListener: %v", err)
	}
	l := Listener(fd)
	if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil || fl&unix.FD_CLOEXEC == 0 {
		out["listener_cloexec"] = "no"
	}
	_, err = InstallWithListener(p)
	out["second"] = map[bool]string{true: "busy", false: "other: " + errText(err)}[errors.Is(err, ErrListenerBusy)]

	var pipe [2]int
	if err := unix.Pipe2(pipe[:], unix.O_CLOEXEC); err != nil {
		return die("pipe: %v", err)
	}
	tid := unix.Gettid()
	served := make(chan string, 8)
	go func() {
		for {
			fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			if _, err := unix.Poll(fds, 5000); err != nil || fds[0].Revents&unix.POLLIN == 0 {
				served <- "poll"
				return
			}
			var n Notif
			if err := l.Recv(&n); err != nil {
				served <- "recv: " + err.Error()
				return
			}
			if int(n.Pid) != tid || n.Args[2] != SockaddrIn4Len || !l.Valid(n.ID) {
				served <- "bad notification"
			}
			switch n.Args[0] {
			case 1000:
				err = l.Return(n.ID, 0, unix.ECONNABORTED)
			case 1001:
				err = l.Continue(n.ID)
			case 1002:
				if err = l.ReplaceFD(n.ID, pipe[0], 1002, true); err == nil {
					err = l.Return(n.ID, 0, 0)
				}
			}
			served <- errText(err)
		}
	}()
	var sa [110]byte
	connect := func(fd, n int) string {
		_, _, e := unix.Syscall(unix.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&sa[0])), uintptr(n))
		return errName(e)
	}
	out["return"] = connect(1000, 16)
	out["return_served"] = <-served
	out["continue"] = connect(1001, 16)
	out["continue_served"] = <-served
	out["unix_len"] = connect(1001, 110) // not reported: nothing is served
	out["replace"] = connect(1002, 16)
	out["replace_served"] = <-served
	var st unix.Stat_t
	if err := unix.Fstat(1002, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		out["replaced_fd"] = "not the pipe"
	} else if fl, _ := unix.FcntlInt(1002, unix.F_GETFD, 0); fl&unix.FD_CLOEXEC == 0 {
		out["replaced_fd"] = "not close-on-exec"
	} else {
		out["replaced_fd"] = "pipe"
	}
	select {
	case s := <-served:
		out["extra"] = s
	default:
	}
	return emit(out)
}

func errText(err error) string {
	if err == nil {
		return "ok"
	}
	var e syscall.Errno
	if errors.As(err, &e) {
		return errName(e)
	}
	return err.Error()
}

// TestConnectNotifyListener: on the real kernel, the listener gets the
// filtered thread's connect(fd, addr, 16) (with its thread id), and its
// three answers work: a chosen errno, "continue" (the kernel then runs
// the call: EBADF for a bad fd), and an fd swapped in at the caller's
// number with close-on-exec, the call returning 0. A connect with
// another address length is not reported. A second listener on the same
// thread is refused with ErrListenerBusy.
func TestConnectNotifyListener(t *testing.T) {
	skipUnlessSeccomp(t)
	stdout, st := runChild(t, "notify")
	if !st.Success() {
		t.Fatalf("child failed: %s", stdout)
	}
	var got map[string]string
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("child output %q: %v", stdout, err)
	}
	want := map[string]string{
		"second": "busy",
		"return": "ECONNABORTED", "return_served": "ok",
		"continue": "EBADF", "continue_served": "ok",
		"unix_len": "EBADF",
		"replace":  "ok", "replace_served": "ok", "replaced_fd": "pipe",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
	for _, k := range []string{"listener_cloexec", "extra"} {
		if got[k] != "" {
			t.Errorf("%s: %q", k, got[k])
		}
	}
}

// TestNotifyStructSizes: the structs match the sizes the kernel's ioctl
// numbers encode (_IOC_SIZE), on this architecture.
func TestNotifyStructSizes(t *testing.T) {
	size := func(req uint) uintptr { return uintptr(req>>16) & 0x3fff }
	for _, c := range []struct {
		name      string
		got, want uintptr
		ioctl     uintptr
	}{
		{"seccomp_notif", unsafe.Sizeof(Notif{}), sizeofNotif, size(unix.SECCOMP_IOCTL_NOTIF_RECV)},
		{"seccomp_notif_resp", unsafe.Sizeof(notifResp{}), sizeofNotifResp, size(unix.SECCOMP_IOCTL_NOTIF_SEND)},
		{"seccomp_notif_addfd", unsafe.Sizeof(notifAddFD{}), sizeofNotifAddFD, size(unix.SECCOMP_IOCTL_NOTIF_ADDFD)},
	} {
		if c.got != c.want || c.got != c.ioctl {
			t.Errorf("%s: Go size %d, constant %d, ioctl size %d", c.name, c.got, c.want, c.ioctl)
		}
	}
}

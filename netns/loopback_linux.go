//go:build linux

package netns

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// LoopbackUp sets the lo interface of the calling process's network
// namespace up. It must run inside the sandbox's fresh network namespace
// with CAP_NET_ADMIN there, i.e. in the init before capabilities are
// dropped.
//
// Setting IFF_UP is enough on current kernels: bringing lo up makes the
// kernel add 127.0.0.1/8 and ::1/128 and their local routes itself, so no
// RTM_NEWADDR is needed (bwrap sends one anyway). If netlink is refused
// (a zbox nested in a network-restricted sandbox inherits a seccomp
// filter that denies AF_NETLINK sockets), the SIOCSIFFLAGS ioctl, which
// works on any socket, is tried instead. Errors read like bwrap's
// ("loopback: Failed RTM_NEWLINK: …"), which tools match on, and explain
// the usual cause of EPERM.
func LoopbackUp() error {
	lo, err := netlink.LinkByName("lo")
	if err == nil {
		err = netlink.LinkSetUp(lo)
	}
	return loopbackResult(err)
}

// LoopbackUpFresh is LoopbackUp for a network namespace the caller has
// just created: there lo is always ifindex 1, so the lookup round trip is
// skipped (this runs on every sandbox start).
func LoopbackUpFresh() error {
	return loopbackResult(netlink.LinkSetUp(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: 1, Name: "lo"}}))
}

func loopbackResult(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) || errors.Is(err, unix.EAFNOSUPPORT) || errors.Is(err, unix.EPROTONOSUPPORT) {
		if loopbackUpIoctl() == nil {
			return nil
		}
	}
	return fmt.Errorf("loopback: Failed RTM_NEWLINK: %w%s", err, loopbackHint(err))
}

// withIoctlSocket runs fn with a throw-away AF_UNIX socket: interface
// ioctls work on any socket family, and AF_UNIX is the one a seccomp
// filter is least likely to refuse.
func withIoctlSocket(fn func(fd int) error) error {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0) // stream: a restricted filter refuses AF_UNIX datagram sockets
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return fn(fd)
}

// loopbackIsUp reads lo's IFF_UP flag (SIOCGIFFLAGS needs no capability).
func loopbackIsUp() (bool, error) {
	var up bool
	err := withIoctlSocket(func(fd int) error {
		ifr, err := unix.NewIfreq("lo")
		if err != nil {
			return err
		}
		if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
			return err
		}
		up = ifr.Uint16()&unix.IFF_UP != 0
		return nil
	})
	return up, err
}

func loopbackUpIoctl() error {
	return withIoctlSocket(func(fd int) error {
		ifr, err := unix.NewIfreq("lo")
		if err != nil {
			return err
		}
		if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
			return err
		}
		ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
		return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
	})
}

// apparmorUsernsSysctl is Ubuntu's switch that strips capabilities from
// unprivileged user namespaces (spec codex-helper.md §9 row 1).
const apparmorUsernsSysctl = "/proc/sys/kernel/apparmor_restrict_unprivileged_userns"

func loopbackHint(err error) string {
	if !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EACCES) {
		return ""
	}
	h := " (zbox has no CAP_NET_ADMIN in the sandbox's network namespace"
	if b, rerr := os.ReadFile(apparmorUsernsSysctl); rerr == nil && strings.TrimSpace(string(b)) == "1" {
		h += "; this host sets kernel.apparmor_restrict_unprivileged_userns=1, so AppArmor strips capabilities from unprivileged user namespaces: " +
			"load an AppArmor profile that grants zbox userns (like bwrap-userns-restrict for bwrap), or run sysctl kernel.apparmor_restrict_unprivileged_userns=0"
	} else {
		h += "; check that user namespaces are allowed (AppArmor restrict_unprivileged_userns, container seccomp profiles)"
	}
	return h + ")"
}

// ListenLoopback listens on 127.0.0.1:0 (TCP) after making sure lo is
// up, bringing it up with [LoopbackUp] if it is not.
//
// The helper instead binds first and brings lo up only when the bind
// fails with EADDRNOTAVAIL or ENETUNREACH. That is not enough: on newer
// kernels (seen on 6.18) binding 127.0.0.1 succeeds in a fresh namespace
// whose lo is still down, and only connects fail, with ENETUNREACH. So
// the interface's own IFF_UP flag decides.
func ListenLoopback() (*net.TCPListener, error) {
	if err := ensureLoopbackUp(); err != nil {
		return nil, fmt.Errorf("cannot listen on 127.0.0.1 for the proxy bridge: %w", err)
	}
	l, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, fmt.Errorf("cannot listen on 127.0.0.1 for the proxy bridge: %w", err)
	}
	return l, nil
}

// ensureLoopbackUp calls LoopbackUp unless lo is already up. Reading the
// flags needs no capability (nor netlink), so this works unchanged in the
// host namespace, where zbox may hold no CAP_NET_ADMIN.
func ensureLoopbackUp() error {
	if up, err := loopbackIsUp(); err == nil && up {
		return nil
	}
	return LoopbackUp()
}

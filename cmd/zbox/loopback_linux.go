package main

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// loopbackUp sets IFF_UP on lo in the sandbox's fresh network namespace;
// the kernel then adds 127.0.0.1/8 and ::1/128 and their routes itself.
// lo is always ifindex 1 in a new network namespace, so no lookup round
// trip is needed (netns.LoopbackUp looks it up by name, for callers that
// cannot assume a fresh namespace).
func loopbackUp() error {
	err := netlink.LinkSetUp(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: 1, Name: "lo"}})
	if err == nil {
		return nil
	}
	// A zbox nested in a network-restricted sandbox inherits that
	// sandbox's seccomp filter, which refuses AF_NETLINK sockets. The
	// interface ioctls work on any socket, and AF_UNIX is allowed: set
	// IFF_UP with SIOCSIFFLAGS instead.
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		if ierr := loopbackUpIoctl(); ierr == nil {
			return nil
		}
	}
	return fmt.Errorf("loopback: Failed RTM_NEWLINK: %w", err)
}

func loopbackUpIoctl() error {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0) // stream: a restricted filter refuses AF_UNIX datagram sockets
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var ifr [unix.IFNAMSIZ + 24]byte
	copy(ifr[:], "lo")
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCGIFFLAGS, uintptr(unsafe.Pointer(&ifr[0]))); e != 0 {
		return e
	}
	flags := *(*uint16)(unsafe.Pointer(&ifr[unix.IFNAMSIZ]))
	*(*uint16)(unsafe.Pointer(&ifr[unix.IFNAMSIZ])) = flags | unix.IFF_UP
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCSIFFLAGS, uintptr(unsafe.Pointer(&ifr[0]))); e != 0 {
		return e
	}
	return nil
}

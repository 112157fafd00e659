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
// RTM_NEWADDR is needed (bwrap sends one anyway). Errors read like
// bwrap's ("loopback: Failed RTM_NEWLINK: …"), which tools match on, and
// explain the usual cause of EPERM.
func LoopbackUp() error {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("loopback: Failed RTM_GETLINK: %w%s", err, loopbackHint(err))
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		return fmt.Errorf("loopback: Failed RTM_NEWLINK: %w%s", err, loopbackHint(err))
	}
	return nil
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

// ListenLoopback listens on 127.0.0.1:0 (TCP). If the bind fails because
// lo is still down (EADDRNOTAVAIL, ENETUNREACH), it brings lo up with
// [LoopbackUp] and tries once more, as the helper's local bridge does.
func ListenLoopback() (*net.TCPListener, error) {
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}
	l, err := net.ListenTCP("tcp4", addr)
	if err == nil {
		return l, nil
	}
	if !errors.Is(err, unix.EADDRNOTAVAIL) && !errors.Is(err, unix.ENETUNREACH) {
		return nil, fmt.Errorf("cannot listen on 127.0.0.1 for the proxy bridge: %w", err)
	}
	if lerr := LoopbackUp(); lerr != nil {
		return nil, fmt.Errorf("cannot listen on 127.0.0.1 for the proxy bridge (%v), and bringing lo up failed: %w", err, lerr)
	}
	l, err = net.ListenTCP("tcp4", addr)
	if err != nil {
		return nil, fmt.Errorf("cannot listen on 127.0.0.1 for the proxy bridge even after bringing lo up: %w", err)
	}
	return l, nil
}

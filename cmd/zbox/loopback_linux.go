package main

import (
	"fmt"

	"github.com/vishvananda/netlink"
)

// loopbackUp sets IFF_UP on lo in the sandbox's fresh network namespace;
// the kernel then adds 127.0.0.1/8 and ::1/128 and their routes itself.
// lo is always ifindex 1 in a new network namespace, so no lookup round
// trip is needed (netns.LoopbackUp looks it up by name, for callers that
// cannot assume a fresh namespace).
func loopbackUp() error {
	err := netlink.LinkSetUp(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: 1, Name: "lo"}})
	if err != nil {
		return fmt.Errorf("loopback: Failed RTM_NEWLINK: %w", err)
	}
	return nil
}

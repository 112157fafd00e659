package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"

	"golang.org/x/sys/unix"

	"github.com/zbox-sandbox/zbox/direct"
	"github.com/zbox-sandbox/zbox/netns"
	"github.com/zbox-sandbox/zbox/policy"
)

// directBridges is the outer side of a proxy-only sandbox started
// directly: the same bridges as the general init's (listeners in the
// sandbox's network namespace, accepted on from here, and the connect
// redirect), with the fds coming over a socketpair from pid 1 and the
// command's process instead of the init's control socket.
type directBridges struct {
	mine      int // our end of the socketpair
	child     int // the child's end, closed here once the child has it
	endpoints []string
	ports     map[string]int

	cancel context.CancelFunc
	set    bridgeSet
}

// prepareDirectBridges picks the bridges' ports (the sandbox's network
// namespace is fresh: every port is free), rewrites the proxy variables
// to them, and fills in host. It returns the plan to compile: a copy
// with the rewritten environment when the plan carries its own.
func prepareDirectBridges(plan *policy.Plan, host *direct.Host, opt nativeOptions) (*policy.Plan, *directBridges, error) {
	if host.KeepReaping {
		return nil, nil, errors.New("proxy bridges with the command's orphans kept running")
	}
	eps := netns.DistinctEndpoints(plan.Network.Routes)
	if len(eps) == 0 {
		return nil, nil, errors.New("proxy-only network without routes")
	}
	br := &directBridges{endpoints: eps, ports: map[string]int{}, mine: -1, child: -1}
	used := map[int]bool{}
	for _, ep := range eps {
		// Unprivileged ports outside the kernel's default ephemeral
		// range (32768-60999), so the sandbox's own outgoing
		// connections never meet them.
		p := 10000 + rand.IntN(20000)
		for used[p] {
			p = 10000 + rand.IntN(20000)
		}
		used[p] = true
		br.ports[ep] = p
		host.BridgePorts = append(host.BridgePorts, p)
	}
	if plan.Env != nil {
		env, err := netns.RewriteEnv(plan.Env, plan.Network.Routes, br.ports)
		if err != nil {
			return nil, nil, err
		}
		cp := *plan
		cp.Env = env
		plan = &cp
	} else {
		env, err := netns.RewriteEnv(host.Env, plan.Network.Routes, br.ports)
		if err != nil {
			return nil, nil, err
		}
		host.Env = env
	}
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("bridge socketpair: %w", err)
	}
	br.mine, br.child = sp[0], sp[1]
	host.BridgeFD = sp[1]
	host.Redirect = redirectConnect(plan, opt)
	return plan, br, nil
}

// childHasIt closes our copy of the child's end once the child runs.
func (br *directBridges) childHasIt() {
	if br != nil && br.child >= 0 {
		unix.Close(br.child)
		br.child = -1
	}
}

// serve takes what pid 1 and the command's process sent (both before
// execve, so it is all queued by now) and starts serving it.
func (br *directBridges) serve(opt nativeOptions, logf func(string, ...any)) {
	ctx, cancel := context.WithCancel(context.Background())
	br.cancel = cancel
	buf := make([]byte, 16)
	oob := make([]byte, unix.CmsgSpace(4*64))
	for {
		n, oobn, _, _, err := unix.Recvmsg(br.mine, buf, oob, unix.MSG_DONTWAIT|unix.MSG_CMSG_CLOEXEC)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || n == 0 {
			return
		}
		fds := parseRights(oob[:oobn])
		switch buf[0] {
		case 'L':
			br.set.listeners(ctx, fds, br.endpoints, opt, logf)
		case 'R':
			br.set.redirectFrom(fds, logf)
		default:
			for _, f := range fds {
				unix.Close(f)
			}
		}
	}
}

// close stops every bridge and closes what is left.
func (br *directBridges) close() {
	if br == nil {
		return
	}
	br.set.stop()
	if br.cancel != nil {
		br.cancel()
	}
	br.childHasIt()
	if br.mine >= 0 {
		unix.Close(br.mine)
		br.mine = -1
	}
}

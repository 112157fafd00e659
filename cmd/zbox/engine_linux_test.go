package main

import (
	"golang.org/x/sys/unix"

	"testing"

	"github.com/zbox-sandbox/zbox/netns"
	"github.com/zbox-sandbox/zbox/policy"
)

// TestRedirectConnect: the proxy redirect is asked for exactly when
// ZBOX_BRIDGE=redirect asks for it and a proxy-only sandbox with its own
// network namespace has routes to proxies on the host. It is never on by
// default (see redirectConnect).
func TestRedirectConnect(t *testing.T) {
	routed := func(mut func(p *policy.Plan)) *policy.Plan {
		p := &policy.Plan{Namespaces: policy.Namespaces{Net: true}, Network: policy.NetworkSpec{
			Mode: policy.NetProxyOnly, Routes: []policy.ProxyRoute{{EnvKey: "HTTP_PROXY", Endpoint: "127.0.0.1:3128"}}}}
		if mut != nil {
			mut(p)
		}
		return p
	}
	for _, c := range []struct {
		name string
		plan *policy.Plan
		opt  nativeOptions
		env  string // ZBOX_BRIDGE
		want bool
	}{
		{"proxy-only with routes, by default", routed(nil), nativeOptions{}, "", false},
		{"ZBOX_BRIDGE=redirect", routed(nil), nativeOptions{}, "redirect", true},
		{"ZBOX_BRIDGE=relay", routed(nil), nativeOptions{}, "relay", false},
		{"ZBOX_BRIDGE=yes", routed(nil), nativeOptions{}, "yes", false},
		{"zbox's own proxy", routed(nil), nativeOptions{Proxy: netns.NewProxy(netns.Rules{}, nil)}, "redirect", false},
		{"no routes", routed(func(p *policy.Plan) { p.Network.Routes = nil }), nativeOptions{}, "redirect", false},
		{"no network namespace", routed(func(p *policy.Plan) { p.Namespaces.Net = false }), nativeOptions{}, "redirect", false},
		{"isolated", routed(func(p *policy.Plan) { p.Network.Mode = policy.NetIsolated }), nativeOptions{}, "redirect", false},
		{"full", routed(func(p *policy.Plan) { p.Network.Mode = policy.NetFull }), nativeOptions{}, "redirect", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("ZBOX_BRIDGE", c.env)
			if got := redirectConnect(c.plan, c.opt); got != c.want {
				t.Errorf("redirectConnect = %v, want %v", got, c.want)
			}
		})
	}
}

// TestClampLimits: a --limit above the hard limit zbox inherited becomes
// that hard limit (it could not be set otherwise); one at or below it,
// and an unset one, stay.
func TestClampLimits(t *testing.T) {
	var nofile, cpu unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &nofile) != nil || unix.Getrlimit(unix.RLIMIT_CPU, &cpu) != nil {
		t.Skip("getrlimit failed")
	}
	if nofile.Max == unix.RLIM_INFINITY || nofile.Max < 64 {
		t.Skipf("hard RLIMIT_NOFILE %d: nothing to clamp against", nofile.Max)
	}
	for _, c := range []struct {
		name      string
		in, want  policy.Limits
		unchanged bool
	}{
		{"files above the hard limit", policy.Limits{OpenFiles: nofile.Max + 1}, policy.Limits{OpenFiles: nofile.Max}, false},
		{"files at it", policy.Limits{OpenFiles: nofile.Max}, policy.Limits{OpenFiles: nofile.Max}, true},
		{"files below, cpu unset", policy.Limits{OpenFiles: 32}, policy.Limits{OpenFiles: 32}, true},
		{"memory and files", policy.Limits{MemoryBytes: 1 << 30, OpenFiles: ^uint64(0) - 1}, policy.Limits{MemoryBytes: 1 << 30, OpenFiles: nofile.Max}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := c.in
			plan := &policy.Plan{Limits: &in}
			got := clampLimits(plan, t.Logf)
			if *got.Limits != c.want {
				t.Errorf("limits %+v, want %+v", *got.Limits, c.want)
			}
			if (got == plan) != c.unchanged || in != c.in {
				t.Errorf("same plan %v (want %v), input changed to %+v", got == plan, c.unchanged, in)
			}
		})
	}
	if p := (&policy.Plan{}); clampLimits(p, t.Logf) != p {
		t.Error("a plan without limits was copied")
	}
}

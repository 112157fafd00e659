package main

import (
	"testing"

	"github.com/zbox-sandbox/zbox/netns"
	"github.com/zbox-sandbox/zbox/policy"
)

// TestRedirectConnect: the proxy redirect is asked for exactly when a
// proxy-only sandbox with its own network namespace has routes to
// proxies on the host, and ZBOX_BRIDGE=relay has not turned it off.
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
		name  string
		plan  *policy.Plan
		opt   nativeOptions
		relay bool
		want  bool
	}{
		{"proxy-only with routes", routed(nil), nativeOptions{}, false, true},
		{"ZBOX_BRIDGE=relay", routed(nil), nativeOptions{}, true, false},
		{"zbox's own proxy", routed(nil), nativeOptions{Proxy: netns.NewProxy(netns.Rules{}, nil)}, false, false},
		{"no routes", routed(func(p *policy.Plan) { p.Network.Routes = nil }), nativeOptions{}, false, false},
		{"no network namespace", routed(func(p *policy.Plan) { p.Namespaces.Net = false }), nativeOptions{}, false, false},
		{"isolated", routed(func(p *policy.Plan) { p.Network.Mode = policy.NetIsolated }), nativeOptions{}, false, false},
		{"full", routed(func(p *policy.Plan) { p.Network.Mode = policy.NetFull }), nativeOptions{}, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.relay {
				t.Setenv("ZBOX_BRIDGE", "relay")
			} else {
				t.Setenv("ZBOX_BRIDGE", "")
			}
			if got := redirectConnect(c.plan, c.opt); got != c.want {
				t.Errorf("redirectConnect = %v, want %v", got, c.want)
			}
		})
	}
}

package netns

import (
	"slices"
	"strings"
	"testing"

	"github.com/zbox-sandbox/zbox/policy"
)

func TestRouteSpecRoundTrip(t *testing.T) {
	routes := []policy.ProxyRoute{
		{EnvKey: "HTTP_PROXY", Endpoint: "127.0.0.1:3128", UDSPath: "/tmp/zbox-proxy-1-0/proxy-route-0.sock"},
		{EnvKey: "all_proxy", Endpoint: "127.0.0.1:8081", UDSPath: "/tmp/a<b>&c/proxy-route-1.sock"},
	}
	s, err := MarshalRouteSpec(routes)
	if err != nil {
		t.Fatal(err)
	}
	// Exactly the helper's compact serde_json output: no endpoints, no
	// HTML escaping, no trailing newline.
	want := `{"routes":[{"env_key":"HTTP_PROXY","uds_path":"/tmp/zbox-proxy-1-0/proxy-route-0.sock"},{"env_key":"all_proxy","uds_path":"/tmp/a<b>&c/proxy-route-1.sock"}]}`
	if s != want {
		t.Errorf("got  %s\nwant %s", s, want)
	}
	got, err := ParseRouteSpec(s)
	if err != nil {
		t.Fatal(err)
	}
	for i := range routes {
		routes[i].Endpoint = ""
	}
	if !slices.Equal(got, routes) {
		t.Errorf("round trip: got %v want %v", got, routes)
	}
}

func TestParseRouteSpec(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string
		n       int
	}{
		{in: `{"routes":[{"env_key":"HTTP_PROXY","uds_path":"/x.sock"}]}`, n: 1},
		{in: ` {"routes":[{"env_key":"A","uds_path":"/x","extra":1}],"more":true} `, n: 1},
		{in: `{"routes":[]}`, wantErr: "proxy routing spec contained no routes"},
		{in: `{}`, wantErr: "proxy routing spec contained no routes"},
		{in: `{"routes":null}`, wantErr: "proxy routing spec contained no routes"},
		{in: ``, wantErr: "invalid proxy routing spec"},
		{in: `[]`, wantErr: "invalid proxy routing spec"},
		{in: `{"routes":[{"env_key":"A","uds_path":"/x"}]}}`, wantErr: "invalid proxy routing spec"},
		{in: `{"routes":[{"env_key":"A","uds_path":"/x"}]} x`, wantErr: "invalid proxy routing spec"},
		{in: `{"routes":[{"env_key":"","uds_path":"/x"}]}`, wantErr: "not an environment variable name"},
		{in: `{"routes":[{"env_key":"A=B","uds_path":"/x"}]}`, wantErr: "not an environment variable name"},
		{in: `{"routes":[{"env_key":"A"}]}`, wantErr: "not an absolute path"},
		{in: `{"routes":[{"env_key":"A","uds_path":"rel.sock"}]}`, wantErr: "not an absolute path"},
		{in: `{"routes":[{"env_key":"A","uds_path":"/a\u0000b"}]}`, wantErr: "NUL"},
		{in: `{"routes":[{"env_key":"A","uds_path":"/` + strings.Repeat("a", 107) + `"}]}`, wantErr: "107-byte"},
		{in: `{"routes":[{"env_key":1,"uds_path":"/x"}]}`, wantErr: "invalid proxy routing spec"},
	}
	for _, tt := range tests {
		got, err := ParseRouteSpec(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseRouteSpec(%q) err = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || len(got) != tt.n {
			t.Errorf("ParseRouteSpec(%q) = %v, %v", tt.in, got, err)
		}
	}
}

func TestMarshalRouteSpecErrors(t *testing.T) {
	for _, routes := range [][]policy.ProxyRoute{
		nil,
		{{EnvKey: "A", UDSPath: "relative"}},
		{{EnvKey: "", UDSPath: "/x"}},
		{{EnvKey: "A", UDSPath: "/\xff"}},
	} {
		if s, err := MarshalRouteSpec(routes); err == nil {
			t.Errorf("MarshalRouteSpec(%v) = %q, want error", routes, s)
		}
	}
}

func FuzzParseRouteSpec(f *testing.F) {
	for _, s := range []string{
		`{"routes":[{"env_key":"HTTP_PROXY","uds_path":"/tmp/d/proxy-route-0.sock"}]}`,
		`{"routes":[]}`, `{"routes":[{"env_key":"A","uds_path":"/x"},{"env_key":"b","uds_path":"/x"}]}`,
		`{"ROUTES":[{"ENV_KEY":"A","UDS_PATH":"/y"}]}`, `null`, `{"routes":[{"env_key":"\ud800","uds_path":"/\u00ff"}]}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		routes, err := ParseRouteSpec(s)
		if err != nil {
			return
		}
		if len(routes) == 0 {
			t.Fatal("accepted a spec without routes")
		}
		for _, r := range routes {
			if r.EnvKey == "" || strings.ContainsAny(r.EnvKey, "=\x00") || !strings.HasPrefix(r.UDSPath, "/") || len(r.UDSPath) > maxSunPath {
				t.Fatalf("accepted a bad route %+v", r)
			}
		}
		out, err := MarshalRouteSpec(routes)
		if err != nil {
			return // e.g. invalid UTF-8 that json decoding replaced
		}
		again, err := ParseRouteSpec(out)
		if err != nil || !slices.Equal(again, routes) {
			t.Fatalf("round trip of %q: %q -> %v, %v", s, out, again, err)
		}
	})
}

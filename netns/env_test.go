package netns

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/zbox-sandbox/zbox/policy"
)

func TestCollectProxyRoutes(t *testing.T) {
	tests := []struct {
		name    string
		env     []string
		want    []policy.ProxyRoute
		wantErr []string // substrings
		notErr  string   // must not appear in the error
	}{
		{
			name:    "no proxy variables",
			env:     []string{"PATH=/bin", "NO_PROXY=localhost", "HOME=/root"},
			wantErr: []string{errTextNoVariables},
		},
		{
			name:    "only empty values",
			env:     []string{"HTTP_PROXY=", "https_proxy=   "},
			wantErr: []string{errTextNoVariables},
		},
		{
			name: "http on 127.0.0.1",
			env:  []string{"HTTP_PROXY=http://127.0.0.1:3128"},
			want: []policy.ProxyRoute{{EnvKey: "HTTP_PROXY", Endpoint: "127.0.0.1:3128"}},
		},
		{
			name: "localhost maps to 127.0.0.1",
			env:  []string{"HTTPS_PROXY=http://LocalHost:8080/"},
			want: []policy.ProxyRoute{{EnvKey: "HTTPS_PROXY", Endpoint: "127.0.0.1:8080"}},
		},
		{
			name: "ipv6 loopback accepted (helper rejects it)",
			env:  []string{"ALL_PROXY=socks5h://[::1]:8081"},
			want: []policy.ProxyRoute{{EnvKey: "ALL_PROXY", Endpoint: "[::1]:8081"}},
		},
		{
			name: "default ports by scheme",
			env: []string{
				"ALL_PROXY=socks5h://127.0.0.1", "FTP_PROXY=socks4a://localhost", "HTTP_PROXY=http://127.0.0.1",
				"HTTPS_PROXY=https://127.0.0.1", "PIP_PROXY=127.0.0.1", "WS_PROXY=socks5://[::1]",
			},
			want: []policy.ProxyRoute{
				{EnvKey: "ALL_PROXY", Endpoint: "127.0.0.1:1080"},
				{EnvKey: "FTP_PROXY", Endpoint: "127.0.0.1:1080"},
				{EnvKey: "HTTPS_PROXY", Endpoint: "127.0.0.1:443"},
				{EnvKey: "HTTP_PROXY", Endpoint: "127.0.0.1:80"},
				{EnvKey: "PIP_PROXY", Endpoint: "127.0.0.1:80"},
				{EnvKey: "WS_PROXY", Endpoint: "[::1]:1080"},
			},
		},
		{
			name: "no scheme, credentials, case variants are separate routes, sorted",
			env: []string{
				"http_proxy=user:pw@127.0.0.1:3128", "HTTP_PROXY=http://127.0.0.1:3128",
				"npm_config_proxy=http://localhost:3128", "Docker_Https_Proxy=127.0.0.1:9",
				"UNRELATED_PROXY=http://10.0.0.1:1",
			},
			want: []policy.ProxyRoute{
				{EnvKey: "Docker_Https_Proxy", Endpoint: "127.0.0.1:9"},
				{EnvKey: "HTTP_PROXY", Endpoint: "127.0.0.1:3128"},
				{EnvKey: "http_proxy", Endpoint: "127.0.0.1:3128"},
				{EnvKey: "npm_config_proxy", Endpoint: "127.0.0.1:3128"},
			},
		},
		{
			name: "repeated key: last entry wins",
			env:  []string{"HTTP_PROXY=http://10.1.1.1:1", "HTTP_PROXY=http://127.0.0.1:2"},
			want: []policy.ProxyRoute{{EnvKey: "HTTP_PROXY", Endpoint: "127.0.0.1:2"}},
		},
		{
			name:    "non-loopback names the variable and value",
			env:     []string{"HTTP_PROXY=http://127.0.0.1:3128", "HTTPS_PROXY=http://proxy.corp:8080"},
			wantErr: []string{errTextNoEndpoints, "HTTPS_PROXY=", "http://proxy.corp:8080", "not loopback"},
		},
		{
			name:    "other 127/8 addresses are not accepted",
			env:     []string{"HTTP_PROXY=http://127.0.0.2:3128"},
			wantErr: []string{errTextNoEndpoints, "127.0.0.2"},
		},
		{
			name:    "credentials are redacted",
			env:     []string{"HTTP_PROXY=http://alice:s3cret@10.0.0.1:3128"},
			wantErr: []string{"http://xxxxx@10.0.0.1:3128"},
			notErr:  "s3cret",
		},
		{
			name:    "credentials are redacted in parse errors",
			env:     []string{"HTTP_PROXY=http://alice:s3cret@127.0.0.1:port"},
			wantErr: []string{errTextNoEndpoints, "not a valid proxy URL"},
			notErr:  "s3cret",
		},
		{
			name:    "port 0",
			env:     []string{"HTTP_PROXY=http://127.0.0.1:0"},
			wantErr: []string{errTextNoEndpoints, `port "0"`},
		},
		{
			name:    "port out of range",
			env:     []string{"HTTP_PROXY=http://127.0.0.1:70000"},
			wantErr: []string{errTextNoEndpoints, `port "70000"`},
		},
		{
			name:    "malformed",
			env:     []string{"HTTP_PROXY=http://[::1"},
			wantErr: []string{errTextNoEndpoints, "not a valid proxy URL"},
		},
		{
			name:    "no host",
			env:     []string{"HTTP_PROXY=http:///path"},
			wantErr: []string{errTextNoEndpoints, "has no host"},
		},
		{
			name:    "zone",
			env:     []string{"HTTP_PROXY=http://[::1%25lo]:3128"},
			wantErr: []string{errTextNoEndpoints, "not loopback"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CollectProxyRoutes(tt.env)
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("want error containing %q, got routes %v", tt.wantErr, got)
				}
				for _, s := range tt.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not contain %q", err, s)
					}
				}
				if tt.notErr != "" && strings.Contains(err.Error(), tt.notErr) {
					t.Errorf("error %q leaks %q", err, tt.notErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got  %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestCollectProxyRoutesHelperCompat(t *testing.T) {
	got, err := CollectProxyRoutesHelperCompat([]string{"HTTP_PROXY=http://proxy.corp:1", "HTTPS_PROXY=http://127.0.0.1:3128", "ALL_PROXY=garbage://[x"})
	if err != nil {
		t.Fatal(err)
	}
	want := []policy.ProxyRoute{{EnvKey: "HTTPS_PROXY", Endpoint: "127.0.0.1:3128"}}
	if !slices.Equal(got, want) {
		t.Errorf("got %v want %v", got, want)
	}
	_, err = CollectProxyRoutesHelperCompat([]string{"HTTP_PROXY=http://proxy.corp:1", "ALL_PROXY=http://10.0.0.1:2"})
	if err == nil || !strings.HasPrefix(err.Error(), errTextNoEndpoints) || !strings.Contains(err.Error(), "ALL_PROXY") || !strings.Contains(err.Error(), "HTTP_PROXY") {
		t.Errorf("err = %v", err)
	}
	_, err = CollectProxyRoutesHelperCompat(nil)
	if err == nil || !strings.HasPrefix(err.Error(), errTextNoVariables) {
		t.Errorf("err = %v", err)
	}
}

func TestRewriteProxyURL(t *testing.T) {
	tests := []struct {
		orig, want string
		port       int
		wantErr    bool
	}{
		{orig: "socks5h://127.0.0.1:8081", port: 43210, want: "socks5h://127.0.0.1:43210"},
		{orig: "http://127.0.0.1:3128", port: 43210, want: "http://127.0.0.1:43210"},
		{orig: "http://127.0.0.1:3128/", port: 43210, want: "http://127.0.0.1:43210/"},
		{orig: "http://localhost:3128/some/path", port: 5, want: "http://127.0.0.1:5/some/path"},
		{orig: "http://user:p%40ss@localhost:3128", port: 43210, want: "http://user:p%40ss@127.0.0.1:43210"},
		{orig: "http://tok@127.0.0.1:3128", port: 43210, want: "http://tok@127.0.0.1:43210"},
		{orig: "127.0.0.1:3128", port: 43210, want: "127.0.0.1:43210"},
		{orig: "user:pw@localhost:3128", port: 43210, want: "user:pw@127.0.0.1:43210"},
		{orig: "localhost:3128/", port: 43210, want: "127.0.0.1:43210/"},
		{orig: "localhost", port: 43210, want: "127.0.0.1:43210"},
		// The helper's URL library gives special schemes a "/" path,
		// which survives when the original had "?" or "#".
		{orig: "http://127.0.0.1:3128?x=1", port: 43210, want: "http://127.0.0.1:43210/?x=1"},
		{orig: "http://127.0.0.1:3128#frag", port: 43210, want: "http://127.0.0.1:43210/#frag"},
		{orig: "socks5://127.0.0.1:1080?x", port: 43210, want: "socks5://127.0.0.1:43210?x"},
		{orig: "http://[::1]:3128/p", port: 43210, want: "http://127.0.0.1:43210/p"},
		{orig: "HTTP://127.0.0.1:3128", port: 43210, want: "http://127.0.0.1:43210"},
		{orig: "  http://127.0.0.1:3128\n", port: 43210, want: "http://127.0.0.1:43210"},
		{orig: "https://127.0.0.1", port: 1, want: "https://127.0.0.1:1"},
		{orig: "", port: 43210, wantErr: true},
		{orig: "http://", port: 43210, wantErr: true},
		{orig: "mailto:x", port: 43210, wantErr: true},
		{orig: "localhost:3128/a://b", port: 43210, wantErr: true},
		{orig: "http://a b:1", port: 43210, wantErr: true},
		{orig: "http://127.0.0.1:3128", port: 0, wantErr: true},
		{orig: "http://127.0.0.1:3128", port: 65536, wantErr: true},
	}
	for _, tt := range tests {
		got, err := RewriteProxyURL(tt.orig, tt.port)
		if tt.wantErr {
			if err == nil {
				t.Errorf("RewriteProxyURL(%q, %d) = %q, want error", tt.orig, tt.port, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("RewriteProxyURL(%q, %d) = %q, %v; want %q", tt.orig, tt.port, got, err, tt.want)
		}
	}
}

func TestRewriteEnv(t *testing.T) {
	env := []string{
		"PATH=/bin",
		"HTTP_PROXY=http://127.0.0.1:3128",
		"http_proxy=127.0.0.1:3128",
		"ALL_PROXY=socks5h://localhost:8081",
		"NO_PROXY=.corp,LOCALHOST",
	}
	routes := []policy.ProxyRoute{
		{EnvKey: "ALL_PROXY", Endpoint: "127.0.0.1:8081"},
		{EnvKey: "HTTP_PROXY", Endpoint: "127.0.0.1:3128"},
		{EnvKey: "http_proxy", Endpoint: "127.0.0.1:3128"},
	}
	got, err := RewriteEnv(env, routes, map[string]int{"127.0.0.1:3128": 40000, "127.0.0.1:8081": 40001})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"PATH=/bin",
		"HTTP_PROXY=http://127.0.0.1:40000",
		"http_proxy=127.0.0.1:40000",
		"ALL_PROXY=socks5h://127.0.0.1:40001",
		"NO_PROXY=.corp,LOCALHOST,127.0.0.1,::1",
		"no_proxy=.corp,LOCALHOST,127.0.0.1,::1",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if env[1] != "HTTP_PROXY=http://127.0.0.1:3128" {
		t.Error("RewriteEnv modified its input")
	}

	// Inner stage of the helper protocol: routes keyed by UDS path.
	got, err = RewriteEnv([]string{"HTTPS_PROXY=http://127.0.0.1:3128", "no_proxy=*"},
		[]policy.ProxyRoute{{EnvKey: "HTTPS_PROXY", UDSPath: "/tmp/d/proxy-route-0.sock"}},
		map[string]int{"/tmp/d/proxy-route-0.sock": 41000})
	if err != nil {
		t.Fatal(err)
	}
	want = []string{"HTTPS_PROXY=http://127.0.0.1:41000", "no_proxy=*", "NO_PROXY=*"}
	if !slices.Equal(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}

	got, err = RewriteEnv([]string{"A=b"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want = []string{"A=b", "NO_PROXY=localhost,127.0.0.1,::1", "no_proxy=localhost,127.0.0.1,::1"}
	if !slices.Equal(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}

	errTests := []struct {
		name  string
		env   []string
		ports map[string]int
		want  string
	}{
		{"missing key", []string{"PATH=/bin"}, map[string]int{"127.0.0.1:1": 2}, "missing proxy env key HTTP_PROXY"},
		{"bad url", []string{"HTTP_PROXY=http://[bad"}, map[string]int{"127.0.0.1:1": 2}, "could not rewrite proxy URL for env key HTTP_PROXY"},
		{"no port", []string{"HTTP_PROXY=http://127.0.0.1:1"}, map[string]int{}, "no local bridge port"},
	}
	for _, tt := range errTests {
		_, err := RewriteEnv(tt.env, []policy.ProxyRoute{{EnvKey: "HTTP_PROXY", Endpoint: "127.0.0.1:1"}}, tt.ports)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestAddLoopbackNoProxy(t *testing.T) {
	tests := map[string]string{
		"":                           "localhost,127.0.0.1,::1",
		"example.com":                "example.com,localhost,127.0.0.1,::1",
		" a , ,b ":                   "a,b,localhost,127.0.0.1,::1",
		"[::1],127.0.0.1,LOCALHOST":  "[::1],127.0.0.1,LOCALHOST",
		"*":                          "*",
		"localhost,*":                "localhost,*",
		"10.0.0.0/8,localhost,::1,x": "10.0.0.0/8,localhost,::1,x,127.0.0.1",
	}
	for in, want := range tests {
		if got := addLoopbackNoProxy(in); got != want {
			t.Errorf("addLoopbackNoProxy(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDistinctEndpoints(t *testing.T) {
	got := DistinctEndpoints([]policy.ProxyRoute{{Endpoint: "b"}, {Endpoint: "a"}, {Endpoint: "b"}})
	if !slices.Equal(got, []string{"b", "a"}) {
		t.Errorf("got %v", got)
	}
}

func FuzzRewriteProxyURL(f *testing.F) {
	for _, s := range []string{
		"socks5h://127.0.0.1:8081", "http://u:p@localhost:3128/", "127.0.0.1:3128", "http://[::1]:1?x#y",
		"HTTP://127.0.0.1", "localhost:3128/a://b", "http://a@b@c:1/", " http://x:1 ", "",
	} {
		f.Add(s, uint16(43210))
	}
	f.Fuzz(func(t *testing.T, orig string, port uint16) {
		out, err := RewriteProxyURL(orig, int(port))
		if err != nil {
			return
		}
		if port == 0 {
			t.Fatalf("port 0 accepted: %q", out)
		}
		cand := out
		if !strings.Contains(out, "://") {
			cand = "http://" + out
		}
		u, err := url.Parse(cand)
		if err != nil {
			t.Fatalf("RewriteProxyURL(%q) = %q, which does not parse: %v", orig, out, err)
		}
		if u.Hostname() != "127.0.0.1" || u.Port() != itoa(int(port)) {
			t.Fatalf("RewriteProxyURL(%q) = %q: host %q port %q", orig, out, u.Hostname(), u.Port())
		}
		again, err := RewriteProxyURL(out, int(port))
		if err != nil || again != out {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", orig, out, again, err)
		}
	})
}

func itoa(n int) string { return strconv.Itoa(n) }

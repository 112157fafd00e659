package netns

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// startProxy serves a Proxy on 127.0.0.1 and returns it and its address.
func startProxy(t *testing.T, allow, deny []string, configure func(p *Proxy)) (*Proxy, string) {
	t.Helper()
	r, err := ParseRules(allow, deny)
	if err != nil {
		t.Fatal(err)
	}
	p := NewProxy(r, t.Logf)
	if configure != nil {
		configure(p)
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := NewHandlerForwarder(l, p.ServeConn, t.Logf)
	t.Cleanup(func() { f.Close() })
	return p, l.Addr().String()
}

func dialProxy(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

// connectRequest sends a CONNECT and returns the response and a reader
// positioned after it.
func connectRequest(t *testing.T, c net.Conn, target, extra string) (*http.Response, *bufio.Reader) {
	t.Helper()
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n%s", target, target, extra)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: "CONNECT"})
	if err != nil {
		t.Fatal(err)
	}
	return resp, br
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestProxyConnectAllowed(t *testing.T) {
	base := runtime_NumGoroutine()
	echo := startServer(t, echoHandler)
	_, paddr := startProxy(t, []string{"127.0.0.1"}, nil, nil)
	c := dialProxy(t, paddr)
	// "ping" is pipelined right behind the request: it must not be lost.
	resp, br := connectRequest(t, c, echo.Addr(), "ping")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, readBody(t, resp))
	}
	c.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(br)
	if err != nil || string(got) != "ping" {
		t.Fatalf("tunnel returned %q, %v", got, err)
	}
	c.Close()
	echo.Close()
	_ = base // the proxy's forwarder is closed in Cleanup; leaks are checked in TestProxyNoLeak
}

func TestProxyConnectDenied(t *testing.T) {
	_, paddr := startProxy(t, []string{"*.example.org"}, []string{"bad.example.org"}, nil)
	tests := []struct {
		target, body string
	}{
		{"example.com:443", "zbox: connection to example.com:443 denied by allow-list (no rule matches)\n"},
		{"bad.example.org:443", "zbox: connection to bad.example.org:443 denied by allow-list (deny rule \"bad.example.org\")\n"},
		{"[::1]:443", "zbox: connection to [::1]:443 denied by allow-list (no rule matches)\n"},
		{"x_y!:443", "zbox: connection to \"x_y!\":443 denied by allow-list (invalid host name)\n"},
	}
	for _, tt := range tests {
		c := dialProxy(t, paddr)
		resp, _ := connectRequest(t, c, tt.target, "")
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: status %d", tt.target, resp.StatusCode)
		}
		if got := readBody(t, resp); got != tt.body {
			t.Errorf("%s: body %q, want %q", tt.target, got, tt.body)
		}
		if resp.Header.Get("X-Proxy-Error") != "blocked-by-allowlist" {
			t.Errorf("%s: X-Proxy-Error %q", tt.target, resp.Header.Get("X-Proxy-Error"))
		}
	}
}

func TestProxyNonPublicAddresses(t *testing.T) {
	echo := startServer(t, echoHandler)
	_, port, _ := net.SplitHostPort(echo.Addr())

	// Allowed by a wildcard, but 127.0.0.1 is not public.
	_, paddr := startProxy(t, []string{"*"}, nil, nil)
	c := dialProxy(t, paddr)
	resp, _ := connectRequest(t, c, echo.Addr(), "")
	if body := readBody(t, resp); resp.StatusCode != 403 || !strings.Contains(body, "127.0.0.1 is not a public address") {
		t.Errorf("literal: %d %q", resp.StatusCode, body)
	}
	// A name that resolves to loopback (real resolver, /etc/hosts).
	c = dialProxy(t, paddr)
	resp, _ = connectRequest(t, c, "localhost:"+port, "")
	if body := readBody(t, resp); resp.StatusCode != 403 || !strings.Contains(body, "resolves only to non-public, this host's or denied addresses") {
		t.Errorf("name: %d %q", resp.StatusCode, body)
	}

	// AllowNonPublic lifts the check.
	_, paddr = startProxy(t, []string{"*"}, nil, func(p *Proxy) { p.AllowNonPublic = true })
	c = dialProxy(t, paddr)
	resp, _ = connectRequest(t, c, "localhost:"+port, "")
	if resp.StatusCode != 200 {
		t.Errorf("AllowNonPublic: %d %s", resp.StatusCode, readBody(t, resp))
	}

	// So does an IP rule naming the address, also for names resolving to it.
	_, paddr = startProxy(t, []string{"dev.zone.test", "127.0.0.1"}, nil, func(p *Proxy) {
		p.Resolve = func(context.Context, string) ([]netip.Addr, error) {
			return []netip.Addr{netip.MustParseAddr("::1"), netip.MustParseAddr("127.0.0.1")}, nil
		}
	})
	c = dialProxy(t, paddr)
	resp, _ = connectRequest(t, c, "dev.zone.test:"+port, "")
	if resp.StatusCode != 200 {
		t.Errorf("explicit IP rule: %d %s", resp.StatusCode, readBody(t, resp))
	}
}

// TestProxyRefusesOwnAddresses: one of the host's own addresses is not a
// public destination, even when it is (an IP literal under "*", or a name
// resolving to it): a connection to it goes over the host's loopback. An
// IP rule naming it still allows it.
func TestProxyRefusesOwnAddresses(t *testing.T) {
	echo := startServer(t, echoHandler)
	_, port, _ := net.SplitHostPort(echo.Addr())
	// 203.0.113.7 stands for the host's public address: the dialler
	// sends it to the echo server on loopback, as the kernel would.
	own := netip.MustParseAddr("203.0.113.7")
	configure := func(p *Proxy) {
		p.LocalAddrs = func() ([]netip.Addr, error) { return []netip.Addr{netip.MustParseAddr("127.0.0.1"), own}, nil }
		p.Resolve = func(context.Context, string) ([]netip.Addr, error) { return []netip.Addr{own}, nil }
		p.Dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, echo.Addr())
		}
	}
	_, paddr := startProxy(t, []string{"*"}, nil, configure)
	for _, target := range []string{own.String() + ":" + port, "self.zone.test:" + port} {
		c := dialProxy(t, paddr)
		resp, _ := connectRequest(t, c, target, "")
		if body := readBody(t, resp); resp.StatusCode != 403 || !strings.Contains(body, "this host's") {
			t.Errorf("%s under \"*\": %d %q, want 403 (one of this host's addresses)", target, resp.StatusCode, body)
		}
	}
	// An IP rule naming it, after "*" too.
	_, paddr = startProxy(t, []string{"*", own.String()}, nil, configure)
	c := dialProxy(t, paddr)
	if resp, _ := connectRequest(t, c, own.String()+":"+port, ""); resp.StatusCode != 200 {
		t.Errorf("IP rule naming the host's address: %d %s", resp.StatusCode, readBody(t, resp))
	}
	// The address list cannot be read: nothing is public.
	_, paddr = startProxy(t, []string{"*"}, nil, func(p *Proxy) {
		configure(p)
		p.LocalAddrs = func() ([]netip.Addr, error) { return nil, errors.New("no netlink") }
	})
	c = dialProxy(t, paddr)
	if resp, _ := connectRequest(t, c, "8.8.8.8:"+port, ""); resp.StatusCode != 403 {
		t.Errorf("without the host's address list: %d, want 403", resp.StatusCode)
	}
}

// TestProxySessionLimits: clients that never finish their request hold
// at most MaxHandshakes slots (the next waits, and is served once one
// frees), and connections beyond MaxSessions are closed at once.
func TestProxySessionLimits(t *testing.T) {
	_, paddr := startProxy(t, []string{"*"}, nil, func(p *Proxy) {
		p.MaxHandshakes, p.MaxSessions = 2, 4
		p.HandshakeTimeout = 2 * time.Second
	})
	var idle []net.Conn
	for i := 0; i < 4; i++ {
		c := dialProxy(t, paddr)
		io.WriteString(c, "GET http://exa") // and then nothing
		idle = append(idle, c)
	}
	time.Sleep(100 * time.Millisecond)
	// A fifth connection: closed at once.
	c := dialProxy(t, paddr)
	c.SetDeadline(time.Now().Add(time.Second))
	if n, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("fifth connection: read %d, %v; want EOF at once", n, err)
	}
	// Free two sessions (one was waiting for a handshake slot): a new
	// client gets an answer.
	idle[0].Close()
	idle[1].Close()
	time.Sleep(100 * time.Millisecond)
	c = dialProxy(t, paddr)
	io.WriteString(c, "GET http://127.0.0.1:1/ HTTP/1.1\r\n\r\n")
	c.SetDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 403 {
		t.Errorf("after two closed: %v %v, want a 403 answer", resp, err)
	}
}

// TestProxyExplicitLocalhost: an allow rule naming "localhost" exactly
// reaches the host's loopback (zbox --allow-net=localhost), with the
// name mapped by the proxy, never resolved; wildcards, IP literals, other
// ports and deny rules on the loopback addresses are not affected.
func TestProxyExplicitLocalhost(t *testing.T) {
	tests := []struct {
		name        string
		allow, deny []string
		target      string
		status      int
		dialled     string // first address dialled ("" = none)
		body        string // substring of a refusal
	}{
		{"exact name", []string{"localhost"}, nil, "localhost:8080", 200, "127.0.0.1:8080", ""},
		{"upper case, trailing dot", []string{"LocalHost"}, nil, "LOCALHOST.:8080", 200, "127.0.0.1:8080", ""},
		{"exact name and port", []string{"localhost:8080"}, nil, "localhost:8080", 200, "127.0.0.1:8080", ""},
		{"other port", []string{"localhost:8080"}, nil, "localhost:8081", 403, "", "no rule matches"},
		{"wildcard only", []string{"*"}, nil, "localhost:8080", 403, "", "resolves only to non-public"},
		{"IP literal not named", []string{"localhost"}, nil, "127.0.0.1:8080", 403, "", "no rule matches"},
		{"IPv4 loopback denied", []string{"localhost"}, []string{"127.0.0.1"}, "localhost:8080", 200, "[::1]:8080", ""},
		{"both loopbacks denied", []string{"localhost"}, []string{"127.0.0.1", "::1"}, "localhost:8080", 403, "", "loopback addresses are denied"},
		{"name denied", []string{"localhost"}, []string{"localhost"}, "localhost:8080", 403, "", "deny rule"},
		{"subdomain", []string{"localhost"}, nil, "a.localhost:8080", 403, "", "no rule matches"},
	}
	echo := startServer(t, echoHandler)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var dialled []string
			_, paddr := startProxy(t, tt.allow, tt.deny, func(p *Proxy) {
				p.Resolve = func(_ context.Context, host string) ([]netip.Addr, error) {
					if host == "localhost" && tt.status == 200 {
						t.Errorf("the proxy resolved localhost instead of mapping it")
					}
					return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
				}
				p.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
					mu.Lock()
					dialled = append(dialled, addr)
					mu.Unlock()
					var d net.Dialer
					return d.DialContext(ctx, "tcp", echo.Addr())
				}
			})
			c := dialProxy(t, paddr)
			resp, _ := connectRequest(t, c, tt.target, "")
			body := ""
			if resp.StatusCode != 200 {
				body = readBody(t, resp)
			}
			if resp.StatusCode != tt.status || !strings.Contains(body, tt.body) {
				t.Errorf("CONNECT %s: %d %q, want %d %q", tt.target, resp.StatusCode, body, tt.status, tt.body)
			}
			mu.Lock()
			defer mu.Unlock()
			first := ""
			if len(dialled) > 0 {
				first = dialled[0]
			}
			if first != tt.dialled {
				t.Errorf("dialled %v, want first %q", dialled, tt.dialled)
			}
		})
	}
}

func TestProxyDialsTheCheckedAddress(t *testing.T) {
	echo := startServer(t, echoHandler)
	var mu sync.Mutex
	var dialled []string
	configure := func(p *Proxy) {
		p.Resolve = func(_ context.Context, host string) ([]netip.Addr, error) {
			switch host {
			case "allowed.zone.test":
				// A private address first (dropped), then a denied one
				// (dropped), then the one to use.
				return []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("203.0.113.66"), netip.MustParseAddr("203.0.113.9")}, nil
			case "only-denied.zone.test":
				return []netip.Addr{netip.MustParseAddr("203.0.113.66")}, nil
			}
			return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		}
		p.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			mu.Lock()
			dialled = append(dialled, addr)
			mu.Unlock()
			var d net.Dialer
			return d.DialContext(ctx, "tcp", echo.Addr()) // stand-in for the real host
		}
	}
	_, paddr := startProxy(t, []string{"*.zone.test"}, []string{"203.0.113.66"}, configure)

	c := dialProxy(t, paddr)
	resp, _ := connectRequest(t, c, "allowed.zone.test:443", "")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d %s", resp.StatusCode, readBody(t, resp))
	}
	mu.Lock()
	if len(dialled) != 1 || dialled[0] != "203.0.113.9:443" {
		t.Errorf("dialled %v, want [203.0.113.9:443]", dialled)
	}
	mu.Unlock()

	c = dialProxy(t, paddr)
	resp, _ = connectRequest(t, c, "only-denied.zone.test:443", "")
	if body := readBody(t, resp); resp.StatusCode != 403 || !strings.Contains(body, "203.0.113.66") {
		t.Errorf("denied IP: %d %q", resp.StatusCode, body)
	}
	c = dialProxy(t, paddr)
	resp, _ = connectRequest(t, c, "nxdomain.zone.test:443", "")
	if body := readBody(t, resp); resp.StatusCode != 502 || !strings.Contains(body, "cannot resolve nxdomain.zone.test") {
		t.Errorf("nxdomain: %d %q", resp.StatusCode, body)
	}
}

func TestProxyUpstreamDown(t *testing.T) {
	dead, _ := net.Listen("tcp4", "127.0.0.1:0")
	deadAddr := dead.Addr().String()
	dead.Close()
	_, paddr := startProxy(t, []string{"127.0.0.1"}, nil, nil)
	c := dialProxy(t, paddr)
	start := time.Now()
	resp, _ := connectRequest(t, c, deadAddr, "")
	if body := readBody(t, resp); resp.StatusCode != 502 || !strings.Contains(body, "zbox: cannot connect to "+deadAddr) {
		t.Errorf("%d %q", resp.StatusCode, body)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v", d)
	}
}

// socks5 performs a no-auth SOCKS5 CONNECT and returns the reply code.
func socks5(t *testing.T, c net.Conn, atyp byte, addr []byte, port int, cmd byte) byte {
	t.Helper()
	c.Write([]byte{5, 2, 0x02, 0x00})
	var sel [2]byte
	if _, err := io.ReadFull(c, sel[:]); err != nil || sel != [2]byte{5, 0} {
		t.Fatalf("method selection %v %v", sel, err)
	}
	req := []byte{5, cmd, 0, atyp}
	if atyp == 3 {
		req = append(req, byte(len(addr)))
	}
	req = append(req, addr...)
	req = binary.BigEndian.AppendUint16(req, uint16(port))
	c.Write(req)
	var rep [10]byte
	if _, err := io.ReadFull(c, rep[:]); err != nil {
		t.Fatalf("reply: %v", err)
	}
	if rep[0] != 5 || rep[3] != 1 || !bytes.Equal(rep[4:], make([]byte, 6)) {
		t.Errorf("malformed reply %v", rep)
	}
	return rep[1]
}

func TestProxySOCKS5(t *testing.T) {
	echo := startServer(t, echoHandler)
	echoPort := echo.l.Addr().(*net.TCPAddr).Port
	configure := func(p *Proxy) {
		p.Resolve = func(_ context.Context, host string) ([]netip.Addr, error) {
			return []netip.Addr{netip.MustParseAddr("198.51.100.7")}, nil
		}
		p.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			if addr != "198.51.100.7:"+fmt.Sprint(echoPort) && addr != echo.Addr() {
				return nil, fmt.Errorf("unexpected dial %s", addr)
			}
			var d net.Dialer
			return d.DialContext(ctx, "tcp", echo.Addr())
		}
	}
	_, paddr := startProxy(t, []string{"allowed.test", "127.0.0.1", "::1"}, nil, configure)

	tunnel := func(c net.Conn) {
		t.Helper()
		c.Write([]byte("socks"))
		c.(*net.TCPConn).CloseWrite()
		got, err := io.ReadAll(c)
		if err != nil || string(got) != "socks" {
			t.Errorf("tunnel: %q %v", got, err)
		}
	}
	c := dialProxy(t, paddr)
	if code := socks5(t, c, 3, []byte("allowed.test"), echoPort, 1); code != 0 {
		t.Fatalf("domain: reply %d", code)
	}
	tunnel(c)

	c = dialProxy(t, paddr)
	if code := socks5(t, c, 1, []byte{127, 0, 0, 1}, echoPort, 1); code != 0 {
		t.Fatalf("ipv4: reply %d", code)
	}
	tunnel(c)

	c = dialProxy(t, paddr)
	if code := socks5(t, c, 3, []byte("denied.test"), 443, 1); code != 0x02 {
		t.Errorf("denied: reply %d, want 2", code)
	}
	c = dialProxy(t, paddr)
	if code := socks5(t, c, 4, netip.MustParseAddr("2001:db8::5").AsSlice(), 443, 1); code != 0x02 {
		t.Errorf("ipv6 denied: reply %d, want 2", code)
	}
	c = dialProxy(t, paddr)
	if code := socks5(t, c, 3, []byte("allowed.test"), 443, 2); code != 0x07 {
		t.Errorf("BIND: reply %d, want 7", code)
	}
	c = dialProxy(t, paddr)
	c.Write([]byte{5, 1, 0, 5, 1, 0, 9})
	var rep [6]byte
	if _, err := io.ReadFull(c, rep[:]); err != nil || rep[3] != 0x08 {
		t.Errorf("bad ATYP: %v %v", rep, err)
	}

	// No acceptable method.
	c = dialProxy(t, paddr)
	c.Write([]byte{5, 2, 0x01, 0x80})
	var sel [2]byte
	if _, err := io.ReadFull(c, sel[:]); err != nil || sel != [2]byte{5, 0xff} {
		t.Errorf("no acceptable method: %v %v", sel, err)
	}

	// Username/password only: accepted, credentials ignored.
	c = dialProxy(t, paddr)
	c.Write([]byte{5, 1, 0x02})
	if _, err := io.ReadFull(c, sel[:]); err != nil || sel != [2]byte{5, 0x02} {
		t.Fatalf("user/pass selection: %v %v", sel, err)
	}
	c.Write([]byte{1, 3, 'b', 'o', 'b', 2, 'p', 'w'})
	if _, err := io.ReadFull(c, sel[:]); err != nil || sel != [2]byte{1, 0} {
		t.Fatalf("user/pass status: %v %v", sel, err)
	}
	req := append([]byte{5, 1, 0, 3, byte(len("allowed.test"))}, "allowed.test"...)
	c.Write(binary.BigEndian.AppendUint16(req, uint16(echoPort)))
	var rep10 [10]byte
	if _, err := io.ReadFull(c, rep10[:]); err != nil || rep10[1] != 0 {
		t.Fatalf("user/pass connect: %v %v", rep10, err)
	}
	tunnel(c)

	// SOCKS4 is refused.
	c = dialProxy(t, paddr)
	c.Write([]byte{4, 1, 0, 80, 127, 0, 0, 1, 0})
	var rep4 [8]byte
	if _, err := io.ReadFull(c, rep4[:]); err != nil || rep4[1] != 0x5b {
		t.Errorf("socks4: %v %v", rep4, err)
	}
}

func TestProxySOCKS5IPv6(t *testing.T) {
	l, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("IPv6 loopback unavailable: %v", err)
	}
	l.Close()
	srv := &testServer{}
	srv.l, _ = net.Listen("tcp6", "[::1]:0")
	srv.wg.Add(1)
	go func() {
		defer srv.wg.Done()
		for {
			c, err := srv.l.Accept()
			if err != nil {
				return
			}
			srv.wg.Add(1)
			go func() { defer srv.wg.Done(); defer c.Close(); echoHandler(c) }()
		}
	}()
	t.Cleanup(srv.Close)
	_, paddr := startProxy(t, []string{"::1"}, nil, nil)
	c := dialProxy(t, paddr)
	if code := socks5(t, c, 4, netip.IPv6Loopback().AsSlice(), srv.l.Addr().(*net.TCPAddr).Port, 1); code != 0 {
		t.Fatalf("reply %d", code)
	}
	c.Write([]byte("v6"))
	c.(*net.TCPConn).CloseWrite()
	if got, err := io.ReadAll(c); err != nil || string(got) != "v6" {
		t.Errorf("%q %v", got, err)
	}
}

func proxiedClient(paddr string, tlsConf *tls.Config) *http.Client {
	pu, _ := url.Parse("http://" + paddr)
	return &http.Client{
		Transport: &http.Transport{Proxy: http.ProxyURL(pu), TLSClientConfig: tlsConf, ExpectContinueTimeout: 5 * time.Second, DisableKeepAlives: false},
		Timeout:   10 * time.Second,
	}
}

func TestProxyHTTPForward(t *testing.T) {
	type seen struct {
		uri, host, ua, proxyAuth, hop, keepAlive, custom string
		body                                             string
	}
	got := make(chan seen, 10)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.RequestURI, r.Host, r.Header.Get("User-Agent"), r.Header.Get("Proxy-Authorization"), r.Header.Get("X-Hop"), r.Header.Get("Keep-Alive"), r.Header.Get("X-Custom"), string(b)}
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("X-Upstream", "yes")
		if r.URL.Path == "/chunked" {
			w.Write([]byte("part1-"))
			w.(http.Flusher).Flush()
			w.Write([]byte("part2"))
			return
		}
		fmt.Fprintf(w, "hello %s", r.URL.Path)
	}))
	t.Cleanup(upstream.Close)
	_, paddr := startProxy(t, []string{"127.0.0.1"}, nil, nil)
	u, _ := url.Parse(upstream.URL)

	// Raw request: check exactly what reaches the upstream.
	c := dialProxy(t, paddr)
	fmt.Fprintf(c, "GET http://%s/a/b?q=1 HTTP/1.1\r\nHost: ignored.example\r\nProxy-Authorization: Basic eDp5\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: 300\r\nX-Custom: kept\r\n\r\n", u.Host)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, resp); resp.StatusCode != 200 || body != "hello /a/b" {
		t.Errorf("response %d %q", resp.StatusCode, body)
	}
	// The response passes byte for byte (the proxy forwards absolute-form
	// requests by splicing after the rewritten head): the upstream's own
	// hop-by-hop headers reach the client, but it closes the connection
	// as the proxy asked.
	if !resp.Close || resp.Header.Get("X-Upstream") != "yes" {
		t.Errorf("response headers %v close=%v", resp.Header, resp.Close)
	}
	s := <-got
	want := seen{uri: "/a/b?q=1", host: u.Host, custom: "kept"}
	if s != want {
		t.Errorf("upstream saw %+v\nwant          %+v", s, want)
	}
	// The connection is closed after one request.
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("connection not closed: %d %v", n, err)
	}

	// Through net/http's proxy support: POST with Expect: 100-continue,
	// a chunked response, HEAD.
	client := proxiedClient(paddr, nil)
	req, _ := http.NewRequest("POST", upstream.URL+"/post", strings.NewReader(strings.Repeat("x", 100000)))
	req.Header.Set("Expect", "100-continue")
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, resp); body != "hello /post" {
		t.Errorf("POST: %q", body)
	}
	if s := <-got; len(s.body) != 100000 {
		t.Errorf("POST body length %d", len(s.body))
	}
	resp, err = client.Get(upstream.URL + "/chunked")
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, resp); body != "part1-part2" {
		t.Errorf("chunked: %q", body)
	}
	<-got
	resp, err = client.Head(upstream.URL + "/head")
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, resp); resp.StatusCode != 200 || body != "" {
		t.Errorf("HEAD: %d %q", resp.StatusCode, body)
	}
	<-got

	// Denied through net/http: 403 with the rule in the body.
	_, paddr2 := startProxy(t, []string{"example.com"}, nil, nil)
	resp, err = proxiedClient(paddr2, nil).Get(upstream.URL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, resp); resp.StatusCode != 403 || body != "zbox: connection to "+u.Host+" denied by allow-list (no rule matches)\n" {
		t.Errorf("denied: %d %q", resp.StatusCode, body)
	}
}

func TestProxyHTTPSViaConnect(t *testing.T) {
	upstream := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "secure hello")
	}))
	t.Cleanup(upstream.Close)
	_, paddr := startProxy(t, []string{"127.0.0.1"}, nil, nil)
	tlsConf := upstream.Client().Transport.(*http.Transport).TLSClientConfig
	client := proxiedClient(paddr, tlsConf)
	for i := 0; i < 3; i++ { // keep-alive inside the tunnel
		resp, err := client.Get(upstream.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		if body := readBody(t, resp); body != "secure hello" {
			t.Errorf("%q", body)
		}
	}
	client.CloseIdleConnections()
}

func TestProxyBadRequests(t *testing.T) {
	_, paddr := startProxy(t, []string{"*"}, nil, nil)
	tests := []struct {
		name, req string
		status    int
		body      string
	}{
		{"origin form", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 400, "absolute-form"},
		{"https absolute", "GET https://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n", 400, "only http://"},
		{"garbage", "\x00\x01\x02\r\n\r\n", 400, "malformed"},
		{"connect no port", "CONNECT example.com HTTP/1.1\r\n\r\n", 400, "host:port"},
		{"connect port 0", "CONNECT example.com:0 HTTP/1.1\r\n\r\n", 400, "host:port"},
		{"connect port +1", "CONNECT example.com:+1 HTTP/1.1\r\n\r\n", 400, ""},
		{"bad url port", "GET http://example.com:99999/ HTTP/1.1\r\n\r\n", 400, ""},
		{"huge header", "GET http://example.com/ HTTP/1.1\r\nX: " + strings.Repeat("a", 2<<20) + "\r\n\r\n", 431, "larger than 64 KiB"},
		// Parsed, and refused by the checks (403: a non-public address):
		// within the limits.
		{"header just under 64 KiB", "GET http://127.0.0.1:1/ HTTP/1.1\r\nX: " + strings.Repeat("a", 60<<10) + "\r\n\r\n", 403, ""},
		// Many short distinct names: few bytes, much memory once parsed.
		{"201 header lines", "GET http://example.com/ HTTP/1.1\r\n" + manyHeaders(201) + "\r\n", 431, "200 lines"},
		{"200 header lines", "GET http://127.0.0.1:1/ HTTP/1.1\r\n" + manyHeaders(200) + "\r\n", 403, ""},
	}
	for _, tt := range tests {
		c := dialProxy(t, paddr)
		go func() { io.WriteString(c, tt.req) }()
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		body := readBody(t, resp)
		if resp.StatusCode != tt.status || !strings.Contains(body, tt.body) {
			t.Errorf("%s: %d %q", tt.name, resp.StatusCode, body)
		}
	}
}

func TestProxyHandshakeTimeout(t *testing.T) {
	_, paddr := startProxy(t, []string{"*"}, nil, func(p *Proxy) { p.HandshakeTimeout = 100 * time.Millisecond })
	c := dialProxy(t, paddr)
	io.WriteString(c, "GET http://exa") // and then nothing
	start := time.Now()
	io.ReadAll(c)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("silent client kept for %v", d)
	}
}

func TestProxyNoLeakAndCancel(t *testing.T) {
	base := runtime_NumGoroutine()
	echo := startServer(t, echoHandler)
	r, _ := ParseRules([]string{"127.0.0.1"}, nil)
	p := NewProxy(r, nil)
	l, _ := net.Listen("tcp4", "127.0.0.1:0")
	f := NewHandlerForwarder(l, p.ServeConn, nil)
	var clients []net.Conn
	for i := 0; i < 20; i++ {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		resp, _ := connectRequest(t, c, echo.Addr(), "")
		if resp.StatusCode != 200 {
			t.Fatal(resp.Status)
		}
		clients = append(clients, c)
	}
	// Tunnels are open and idle; Close must tear them down promptly.
	start := time.Now()
	f.Close()
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %v", d)
	}
	for _, c := range clients {
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Error("tunnel survived Close")
		}
		c.Close()
	}
	echo.Close()
	waitGoroutines(t, base)
}

func TestIsPublicAddr(t *testing.T) {
	tests := map[string]bool{
		"8.8.8.8": true, "1.1.1.1": true, "2606:4700::1111": true, "203.0.113.9": true,
		"127.0.0.1": false, "127.8.9.1": false, "::1": false, "10.1.2.3": false, "172.16.0.1": false,
		"192.168.1.1": false, "169.254.169.254": false, "100.64.0.1": false, "0.0.0.0": false,
		"0.1.2.3": false, "255.255.255.255": false, "224.0.0.1": false, "fe80::1": false,
		"fc00::1": false, "fd12::1": false, "::": false, "::ffff:127.0.0.1": false, "::ffff:8.8.8.8": true,
		"64:ff9b::a00:1": false, "64:ff9b::808:808": true, "198.18.0.1": false, "fec0::1": false, "ff02::1": false,
		// IPv6 forms carrying an IPv4 address (here 127.0.0.1 or 8.8.8.8):
		// IPv4-compatible, IPv4-translated, 6to4, local-use NAT64, Teredo.
		"::7f00:1": false, "::808:808": false, "::ffff:0:7f00:1": false, "2002:7f00:1::1": false,
		"2002:808:808::1": false, "64:ff9b:1::7f00:1": false, "2001:0:4136:e378:8000:63bf:3fff:fdd2": false,
		"2001:4860:4860::8888": true,
	}
	for s, want := range tests {
		if got := isPublicAddr(netip.MustParseAddr(s)); got != want {
			t.Errorf("isPublicAddr(%s) = %v, want %v", s, got, want)
		}
	}
}

// fuzzConn is a client connection whose input is a fixed byte string and
// whose output is discarded. It has no deadlines and a no-op CloseWrite.
type fuzzConn struct {
	mu     sync.Mutex
	r      *bytes.Reader
	closed atomic.Bool
}

func (c *fuzzConn) Read(b []byte) (int, error) {
	if c.closed.Load() {
		return 0, net.ErrClosed
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.r.Read(b)
}

func (c *fuzzConn) Write(b []byte) (int, error) {
	if c.closed.Load() {
		return 0, net.ErrClosed
	}
	return len(b), nil
}
func (c *fuzzConn) Close() error                     { c.closed.Store(true); return nil }
func (c *fuzzConn) CloseWrite() error                { return nil }
func (c *fuzzConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *fuzzConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *fuzzConn) SetDeadline(time.Time) error      { return nil }
func (c *fuzzConn) SetReadDeadline(time.Time) error  { return nil }
func (c *fuzzConn) SetWriteDeadline(time.Time) error { return nil }

func FuzzProxyRequest(f *testing.F) {
	seeds := []string{
		"CONNECT allowed.test:443 HTTP/1.1\r\nHost: allowed.test:443\r\n\r\nhello",
		"CONNECT denied.test:443 HTTP/1.1\r\n\r\n",
		"CONNECT 192.0.2.1:22 HTTP/1.1\r\n\r\n",
		"CONNECT [2001:db8::1]:80 HTTP/1.1\r\n\r\n",
		"CONNECT 127.0.0.1:80 HTTP/1.1\r\n\r\n",
		"CONNECT localhost:80 HTTP/1.1\r\n\r\n",
		"GET http://allowed.test/x HTTP/1.1\r\nHost: evil.test\r\nConnection: close\r\n\r\n",
		"POST http://a.wild.test:443/ HTTP/1.1\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\nabc",
		"GET http://bad.wild.test:443/ HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\r\n\r\n",
		"\x05\x01\x00\x05\x01\x00\x03\x0callowed.test\x01\xbbdata",
		"\x05\x01\x00\x05\x01\x00\x01\xc0\x00\x02\x01\x00\x16",
		"\x05\x01\x00\x05\x01\x00\x04\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x50",
		"\x05\x01\x00\x05\x01\x00\x03\x09localhost\x00\x50",
		"\x05\x01\x00\x05\x01\x00\x03\x0bdenied.test\x01\xbb",
		"\x04\x01\x00\x50\x7f\x00\x00\x01\x00",
		"\x05\x01\x02\x01\x01u\x01p\x05\x01\x00\x03\x0callowed.test\x01\xbbdata",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	rules, err := ParseRules(
		[]string{"allowed.test", "*.wild.test:443", "192.0.2.1", "[2001:db8::1]:80", "localhost"},
		[]string{"bad.wild.test", "203.0.113.66"},
	)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var mu sync.Mutex
		names := map[netip.Addr]string{}
		next := 1
		var violation atomic.Value
		p := NewProxy(rules, nil)
		p.Resolve = func(_ context.Context, host string) ([]netip.Addr, error) {
			if host == "localhost" {
				return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
			}
			mu.Lock()
			defer mu.Unlock()
			a := netip.AddrFrom4([4]byte{198, 51, 100, byte(next)})
			next++
			names[a] = host
			return []netip.Addr{netip.MustParseAddr("203.0.113.66"), a}, nil
		}
		p.Dial = func(_ context.Context, network, address string) (net.Conn, error) {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				violation.Store("dial of a non-numeric address " + address)
				return nil, err
			}
			mu.Lock()
			host, ok := names[ap.Addr()]
			mu.Unlock()
			// The one way to a non-public address: the exact
			// "localhost" rule, which the proxy maps to loopback
			// without resolving (so no name was recorded).
			viaLocalhost := !ok && ap.Addr().IsLoopback()
			if !ok {
				host = ap.Addr().String()
			}
			if viaLocalhost {
				host = "localhost"
			}
			if allowed, rule := rules.Decide(host, int(ap.Port())); !allowed {
				violation.Store(fmt.Sprintf("dialled %s (%s:%d) although %s", address, host, ap.Port(), rule))
			}
			if (!isPublicAddr(ap.Addr()) && !viaLocalhost) || ap.Addr() == netip.MustParseAddr("203.0.113.66") {
				violation.Store("dialled non-public or denied address " + address)
			}
			a, b := net.Pipe()
			go func() { io.Copy(io.Discard, b) }()
			go func() {
				io.WriteString(b, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				b.Close()
			}()
			return a, nil
		}
		done := make(chan struct{})
		go func() {
			p.ServeConn(context.Background(), &fuzzConn{r: bytes.NewReader(in)})
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("ServeConn hung on %q", in)
		}
		if v := violation.Load(); v != nil {
			t.Fatalf("input %q: %v", in, v)
		}
	})
}

// manyHeaders is n header lines with distinct names.
func manyHeaders(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "X-%d: v\r\n", i)
	}
	return b.String()
}

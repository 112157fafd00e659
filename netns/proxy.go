package netns

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	// maxHandshakeBytes bounds what a client may send before its
	// destination is known (request line plus headers, or the SOCKS
	// greeting and request). 64 KiB, as common servers allow (nginx's
	// header buffers are 4 x 8 KiB): the sandbox is the client, and what
	// it sends is held in zbox, outside the sandbox's memory limits.
	maxHandshakeBytes = 64 << 10
	// maxHeaderLines bounds the header lines of an HTTP request: parsed,
	// each costs far more than its bytes (textproto keeps a map entry and
	// a string per distinct name).
	maxHeaderLines = 200
	// defaultMaxHandshakes and defaultMaxSessions: see Proxy.
	defaultMaxHandshakes = 64
	defaultMaxSessions   = 1024
	defaultHandshake     = 30 * time.Second
	defaultDial          = 30 * time.Second
)

// Proxy is zbox's built-in allow-list proxy. One port speaks both SOCKS5
// and HTTP: the first byte decides (0x05 is a SOCKS5 greeting, anything
// else is read as HTTP). Every destination is checked against the
// [Rules] before anything is resolved or dialled, and names are resolved
// here, on the host side, so the sandbox needs no DNS.
//
// Beyond the rules, a destination is refused if it is not a public
// address (loopback, RFC 1918, link-local incl. cloud metadata, CGNAT,
// multicast, ...) unless an IP rule names that exact address or
// AllowNonPublic is set. For names, non-public results are dropped and
// only the remaining addresses are dialled — the very addresses that
// were checked, so a second DNS answer cannot swap them (DNS rebinding).
// The one exception is an allow rule naming "localhost" exactly: that
// name is mapped to 127.0.0.1 and ::1 without any lookup, and those two
// may be dialled (zbox --allow-net=localhost reaches the host's loopback).
//
// The exported fields may be changed before the first ServeConn only.
type Proxy struct {
	// Resolve looks up a host name (never an IP literal). Default:
	// net.DefaultResolver.LookupNetIP(ctx, "ip", host).
	Resolve func(ctx context.Context, host string) ([]netip.Addr, error)
	// Dial connects to an address that passed every check; address is
	// always a numeric "ip:port". Default: a net.Dialer with DialTimeout.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
	// AllowNonPublic lets allowed names and IPs reach non-public
	// addresses without an explicit IP rule.
	AllowNonPublic bool
	// HandshakeTimeout bounds the time until the destination is known.
	// Default 30s.
	HandshakeTimeout time.Duration
	// DialTimeout bounds resolution plus connection. Default 30s.
	DialTimeout time.Duration

	// MaxHandshakes is how many clients may be sending their request at
	// once (more wait for a slot); MaxSessions how many connections the
	// proxy serves at once, tunnels included (more are closed at once).
	// Both bound what a sandbox can make zbox hold, whatever the
	// sandbox's own limits. Defaults 64 and 1024.
	MaxHandshakes, MaxSessions int
	// LocalAddrs lists the host's own addresses, which count as
	// non-public (a connection to them goes over the host's loopback, to
	// services bound to all addresses). Default: net.InterfaceAddrs.
	LocalAddrs func() ([]netip.Addr, error)

	rules Rules
	logf  func(string, ...any)

	slotsOnce            sync.Once
	sessions, handshakes chan struct{}
}

// NewProxy returns a proxy enforcing r. logf (may be nil) receives one
// line per refused or failed connection.
func NewProxy(r Rules, logf func(string, ...any)) *Proxy {
	return &Proxy{rules: r, logf: logf}
}

func (p *Proxy) log(format string, args ...any) {
	if p.logf != nil {
		p.logf(format, args...)
	}
}

// handshakeReader caps the bytes read before the destination is known;
// lifting the cap (unlimited) turns it into a plain pass-through.
type handshakeReader struct {
	r         io.Reader
	n         int64
	unlimited bool
}

var errHandshakeTooLarge = errors.New("proxy request header too large")

func (h *handshakeReader) Read(b []byte) (int, error) {
	if h.unlimited {
		return h.r.Read(b)
	}
	if h.n <= 0 {
		return 0, errHandshakeTooLarge
	}
	if int64(len(b)) > h.n {
		b = b[:h.n]
	}
	n, err := h.r.Read(b)
	h.n -= int64(n)
	return n, err
}

// bufferedConn is a client connection whose first bytes may still sit in
// the handshake's bufio.Reader.
type bufferedConn struct {
	net.Conn
	r io.Reader
}

func (b *bufferedConn) Read(p []byte) (int, error) { return b.r.Read(p) }

func (b *bufferedConn) CloseWrite() error {
	if cw, ok := b.Conn.(closeWriter); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// session is one client connection being served.
type session struct {
	p  *Proxy
	c  net.Conn
	br *bufio.Reader
	hr *handshakeReader
	// endHandshake gives back the handshake slot (ServeConn); idempotent.
	endHandshake func()
}

// tunnelConn returns the client side for splicing, keeping any bytes the
// client pipelined after its request, and lifts the handshake limits.
func (s *session) tunnelConn() net.Conn {
	s.hr.unlimited = true
	_ = s.c.SetDeadline(time.Time{})
	if s.br.Buffered() == 0 {
		// Bytes still in flight go through the bare conn; this keeps the
		// kernel splice(2) fast path of *net.TCPConn.
		return s.c
	}
	return &bufferedConn{Conn: s.c, r: s.br}
}

// ServeConn serves one client connection and closes it. It returns when
// the client is done, on a protocol error, or promptly after ctx is
// cancelled.
func (p *Proxy) ServeConn(ctx context.Context, c net.Conn) {
	defer c.Close()
	p.slotsOnce.Do(func() {
		p.sessions = make(chan struct{}, cmp.Or(p.MaxSessions, defaultMaxSessions))
		p.handshakes = make(chan struct{}, cmp.Or(p.MaxHandshakes, defaultMaxHandshakes))
	})
	select {
	case p.sessions <- struct{}{}:
		defer func() { <-p.sessions }()
	default:
		p.log("zbox proxy: %d connections already open; closing a new one", cap(p.sessions))
		return
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	// One handshake slot while the request is read (released once it is
	// parsed, before the dial, or on return).
	select {
	case p.handshakes <- struct{}{}:
	case <-ctx.Done():
		return
	}
	inHandshake := true
	releaseHandshake := func() {
		if inHandshake {
			inHandshake = false
			<-p.handshakes
		}
	}
	defer releaseHandshake()

	hs := p.HandshakeTimeout
	if hs <= 0 {
		hs = defaultHandshake
	}
	_ = c.SetDeadline(time.Now().Add(hs))
	hr := &handshakeReader{r: c, n: maxHandshakeBytes}
	s := &session{p: p, c: c, br: bufio.NewReaderSize(hr, 4096), hr: hr, endHandshake: releaseHandshake}
	first, err := s.br.Peek(1)
	if err != nil {
		return
	}
	switch first[0] {
	case 0x05:
		s.serveSOCKS5(ctx)
	case 0x04:
		// SOCKS4 cannot carry host names (4a can, but nothing needs it):
		// refuse with "request rejected or failed".
		_, _ = c.Write([]byte{0x00, 0x5b, 0, 0, 0, 0, 0, 0})
		p.log("zbox proxy: refused a SOCKS4 client; use socks5h:// or http://")
	default:
		s.serveHTTP(ctx)
	}
}

// denial is a refusal by policy (as opposed to a failure to connect).
type denial struct{ reason string }

// connect applies the rules and the public-address check, resolves, and
// dials. Exactly one of conn, deny, err is non-nil.
func (p *Proxy) connect(ctx context.Context, host string, port int) (net.Conn, *denial, error) {
	v := p.rules.decide(host, port)
	if !v.allowed {
		return nil, &denial{v.rule}, nil
	}
	t, _ := normaliseTarget(host) // valid: decide accepted it

	dt := p.DialTimeout
	if dt <= 0 {
		dt = defaultDial
	}
	ctx, cancel := context.WithTimeout(ctx, dt)
	defer cancel()

	var addrs []netip.Addr
	if !t.ip.IsValid() && t.host == "localhost" && p.rules.namesExactly(t, port) {
		// An allow rule naming "localhost" itself asks for the host's
		// loopback, which the public-address check would otherwise
		// always refuse. The name is mapped here, as the Codex helper
		// does for proxy URLs, never resolved: /etc/hosts or DNS could
		// point it anywhere (RFC 6761 §6.3 reserves it for loopback).
		// A wildcard or "*" never gets this: only the explicit name.
		for _, a := range []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1}), netip.IPv6Loopback()} {
			if !p.rules.deniesIP(a, port) {
				addrs = append(addrs, a)
			}
		}
		if len(addrs) == 0 {
			return nil, &denial{"localhost's loopback addresses are denied"}, nil
		}
	} else if t.ip.IsValid() {
		if !p.AllowNonPublic && !v.explicitIP && !p.isPublic(t.ip) {
			return nil, &denial{fmt.Sprintf("%s is not a public address (or is one of this host's); allow it with an IP rule naming it", t.ip)}, nil
		}
		addrs = []netip.Addr{t.ip}
	} else {
		resolve := p.Resolve
		if resolve == nil {
			resolve = func(ctx context.Context, h string) ([]netip.Addr, error) {
				return net.DefaultResolver.LookupNetIP(ctx, "ip", h)
			}
		}
		res, err := resolve(ctx, t.host)
		if err != nil {
			return nil, nil, fmt.Errorf("cannot resolve %s: %w", t.host, err)
		}
		var dropped []string
		for _, a := range res {
			a = a.Unmap()
			if !a.IsValid() || a.Zone() != "" {
				continue
			}
			if p.rules.deniesIP(a, port) {
				dropped = append(dropped, a.String())
				continue
			}
			if p.AllowNonPublic || p.isPublic(a) || p.rules.decide(a.String(), port).explicitIP {
				addrs = append(addrs, a)
				continue
			}
			dropped = append(dropped, a.String())
		}
		if len(addrs) == 0 {
			if len(dropped) > 0 {
				return nil, &denial{fmt.Sprintf("%s resolves only to non-public, this host's or denied addresses (%s)", t.host, strings.Join(dropped, ", "))}, nil
			}
			return nil, nil, fmt.Errorf("cannot resolve %s: no addresses", t.host)
		}
	}

	dial := p.Dial
	if dial == nil {
		d := &net.Dialer{}
		dial = d.DialContext
	}
	var lastErr error
	for _, a := range addrs {
		conn, err := dial(ctx, "tcp", netip.AddrPortFrom(a, uint16(port)).String())
		if err == nil {
			return conn, nil, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, nil, lastErr
}

// namesExactly reports whether an allow rule names host t by its exact
// name (not a wildcard, not "*") for port.
func (r Rules) namesExactly(t target, port int) bool {
	for _, ru := range r.allow {
		if ru.kind == ruleExact && ru.matches(t, port) {
			return true
		}
	}
	return false
}

// deniesIP reports whether a deny rule names address a (for a name that
// resolved to it).
func (r Rules) deniesIP(a netip.Addr, port int) bool {
	t := target{host: a.String(), ip: a}
	for _, ru := range r.deny {
		if ru.kind == ruleIP && ru.matches(t, port) {
			return true
		}
	}
	return false
}

// isPublic is isPublicAddr, and not one of the host's own addresses: a
// connection to the host's public address goes over its loopback, to any
// service bound to all addresses, past firewall rules that trust lo.
// The list is read for each check (interfaces come and go); if it cannot
// be read, nothing counts as public.
func (p *Proxy) isPublic(a netip.Addr) bool {
	if !isPublicAddr(a) {
		return false
	}
	local := p.LocalAddrs
	if local == nil {
		local = interfaceAddrs
	}
	own, err := local()
	if err != nil {
		p.log("zbox proxy: cannot list this host's addresses (%v): refusing %s", err, a)
		return false
	}
	a = a.Unmap()
	for _, o := range own {
		if o.Unmap() == a {
			return false
		}
	}
	return true
}

// interfaceAddrs lists the addresses of the host's interfaces.
func interfaceAddrs() ([]netip.Addr, error) {
	as, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	out := make([]netip.Addr, 0, len(as))
	for _, a := range as {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok {
				out = append(out, ip.Unmap())
			}
		}
	}
	return out, nil
}

var nonPublicPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),     // "this network"
	netip.MustParsePrefix("100.64.0.0/10"), // CGNAT
	netip.MustParsePrefix("192.0.0.0/24"),  // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"), // benchmarking; fake-IP DNS pools
	netip.MustParsePrefix("240.0.0.0/4"),   // reserved, broadcast
	netip.MustParsePrefix("100::/64"),      // discard-only
	netip.MustParsePrefix("fec0::/10"),     // deprecated site-local
	// IPv6 forms that carry an IPv4 address a relay or translator may
	// forward to: IPv4-compatible (deprecated), IPv4-translated (SIIT),
	// 6to4, local-use NAT64 (RFC 8215) and Teredo. Refused whole: an
	// embedded 127.0.0.1 or 10.x must not become reachable through a
	// host that routes them, and none is a normal destination. (The
	// well-known NAT64 prefix is judged by its IPv4 part below.)
	netip.MustParsePrefix("::/96"),
	netip.MustParsePrefix("::ffff:0:0:0/96"),
	netip.MustParsePrefix("2002::/16"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("2001::/32"),
}

var nat64Prefix = netip.MustParsePrefix("64:ff9b::/96")

// isPublicAddr reports whether a is a globally routable unicast address,
// i.e. not something on the host or its local networks.
func isPublicAddr(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsUnspecified() || a.IsLoopback() || a.IsPrivate() ||
		a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() || a.IsMulticast() {
		return false
	}
	for _, p := range nonPublicPrefixes {
		if p.Contains(a) {
			return false
		}
	}
	if nat64Prefix.Contains(a) {
		// NAT64 embeds an IPv4 address; judge that one.
		b := a.As16()
		return isPublicAddr(netip.AddrFrom4([4]byte(b[12:16])))
	}
	return true
}

// displayTarget renders host:port for messages; a malformed host is
// quoted so that control characters cannot forge log lines.
func displayTarget(host string, port int) string {
	if t, ok := normaliseTarget(host); ok {
		return net.JoinHostPort(t.host, strconv.Itoa(port))
	}
	return strconv.Quote(host) + ":" + strconv.Itoa(port)
}

// --- SOCKS5 (RFC 1928): no-auth or ignored username/password, CONNECT only ---

const (
	socksOK             = 0x00
	socksGeneralFailure = 0x01
	socksNotAllowed     = 0x02 // "connection not allowed by ruleset"
	socksNetUnreachable = 0x03
	socksHostUnreach    = 0x04
	socksConnRefused    = 0x05
	socksCmdUnsupported = 0x07
	socksAddrUnsupp     = 0x08
)

func (s *session) socksReply(code byte) {
	// The bound address is always reported as 0.0.0.0:0: the host's
	// real local address is none of the sandbox's business.
	_, _ = s.c.Write([]byte{0x05, code, 0x00, 0x01, 0, 0, 0, 0, 0, 0})
}

func (s *session) serveSOCKS5(ctx context.Context) {
	var hdr [2]byte
	if _, err := io.ReadFull(s.br, hdr[:]); err != nil {
		return
	}
	methods := make([]byte, hdr[1])
	if _, err := io.ReadFull(s.br, methods); err != nil {
		return
	}
	var noAuth, userPass bool
	for _, m := range methods {
		noAuth = noAuth || m == 0x00
		userPass = userPass || m == 0x02
	}
	switch {
	case noAuth:
		if _, err := s.c.Write([]byte{0x05, 0x00}); err != nil {
			return
		}
	case userPass:
		// Clients given a proxy URL with credentials may offer only
		// username/password (RFC 1929). The proxy has no accounts: any
		// credentials are accepted and ignored.
		if _, err := s.c.Write([]byte{0x05, 0x02}); err != nil {
			return
		}
		var vl [2]byte // VER ULEN
		if _, err := io.ReadFull(s.br, vl[:]); err != nil || vl[0] != 0x01 {
			return
		}
		if _, err := s.br.Discard(int(vl[1])); err != nil {
			return
		}
		pl, err := s.br.ReadByte()
		if err != nil {
			return
		}
		if _, err := s.br.Discard(int(pl)); err != nil {
			return
		}
		if _, err := s.c.Write([]byte{0x01, 0x00}); err != nil {
			return
		}
	default:
		_, _ = s.c.Write([]byte{0x05, 0xff}) // no acceptable methods
		s.p.log("zbox proxy: SOCKS5 client offers neither no-authentication nor username/password")
		return
	}

	var req [4]byte // VER CMD RSV ATYP
	if _, err := io.ReadFull(s.br, req[:]); err != nil {
		return
	}
	if req[0] != 0x05 {
		s.socksReply(socksGeneralFailure)
		return
	}
	var host string
	switch req[3] {
	case 0x01:
		var b [4]byte
		if _, err := io.ReadFull(s.br, b[:]); err != nil {
			return
		}
		host = netip.AddrFrom4(b).String()
	case 0x03:
		n, err := s.br.ReadByte()
		if err != nil {
			return
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(s.br, b); err != nil {
			return
		}
		host = string(b)
	case 0x04:
		var b [16]byte
		if _, err := io.ReadFull(s.br, b[:]); err != nil {
			return
		}
		host = netip.AddrFrom16(b).String()
	default:
		s.socksReply(socksAddrUnsupp)
		return
	}
	var pb [2]byte
	if _, err := io.ReadFull(s.br, pb[:]); err != nil {
		return
	}
	port := int(pb[0])<<8 | int(pb[1])
	if req[1] != 0x01 {
		// BIND and UDP ASSOCIATE would open paths the rules cannot see.
		s.socksReply(socksCmdUnsupported)
		return
	}

	s.endHandshake() // the head is parsed: the dial needs no handshake slot
	up, deny, err := s.p.connect(ctx, host, port)
	switch {
	case deny != nil:
		s.p.log("zbox proxy: SOCKS5 connection to %s denied by allow-list (%s)", displayTarget(host, port), deny.reason)
		s.socksReply(socksNotAllowed)
		return
	case err != nil:
		s.p.log("zbox proxy: SOCKS5 connection to %s failed: %v", displayTarget(host, port), err)
		s.socksReply(socksErrCode(err))
		return
	}
	s.socksReply(socksOK)
	Splice(ctx, s.tunnelConn(), up)
}

func socksErrCode(err error) byte {
	var dnsErr *net.DNSError
	var ne net.Error
	switch {
	case errors.As(err, &dnsErr):
		return socksHostUnreach
	case errors.Is(err, syscall.ECONNREFUSED):
		return socksConnRefused
	case errors.Is(err, syscall.ENETUNREACH):
		return socksNetUnreachable
	case errors.Is(err, syscall.EHOSTUNREACH):
		return socksHostUnreach
	case errors.As(err, &ne) && ne.Timeout():
		return socksHostUnreach
	}
	return socksGeneralFailure
}

// Hop-by-hop headers of the client's request that must not reach the
// upstream (RFC 9110 §7.6.1), plus the proxy's own credentials. The
// framing headers (Transfer-Encoding, Content-Length) stay: the body is
// forwarded byte for byte.
var hopByHop = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Upgrade",
}

func removeHopByHop(h textproto.MIMEHeader) {
	for _, v := range h.Values("Connection") {
		for _, tok := range strings.Split(v, ",") {
			if tok = strings.TrimSpace(tok); tok != "" {
				h.Del(tok)
			}
		}
	}
	for _, k := range hopByHop {
		h.Del(k)
	}
}

var statusText = map[int]string{
	200: "OK", 400: "Bad Request", 403: "Forbidden", 431: "Request Header Fields Too Large",
	502: "Bad Gateway", 504: "Gateway Timeout",
}

func writeHTTPError(w io.Writer, code int, proxyErr, msg string) {
	body := msg + "\n"
	_, _ = fmt.Fprintf(w, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\nX-Proxy-Error: %s\r\n\r\n%s",
		code, statusText[code], len(body), proxyErr, body)
}

// refuse answers a denied or failed HTTP request.
func (s *session) refuse(method, host string, port int, deny *denial, err error) {
	dest := displayTarget(host, port)
	if deny != nil {
		msg := fmt.Sprintf("zbox: connection to %s denied by allow-list (%s)", dest, deny.reason)
		s.p.log("zbox proxy: %s %s", method, msg)
		writeHTTPError(s.c, 403, "blocked-by-allowlist", msg)
		return
	}
	code := 502
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		code = 504
	}
	msg := fmt.Sprintf("zbox: cannot connect to %s: %v", dest, err)
	s.p.log("zbox proxy: %s %s", method, msg)
	writeHTTPError(s.c, code, "upstream-unreachable", msg)
}

// httpRequest is the head of one proxy request: "METHOD TARGET PROTO"
// and its header fields.
type httpRequest struct {
	method, target, proto string
	header                textproto.MIMEHeader
}

// readRequest reads a request head with net/textproto. zbox does not link
// net/http: its weight (TLS, x509, HTTP/2) costs every zbox process a
// measurable part of its start-up, and a proxy that forwards the body as
// raw bytes needs only the head.
func readRequest(br *bufio.Reader) (*httpRequest, error) {
	tp := textproto.NewReader(br)
	line, err := tp.ReadLine()
	if err != nil {
		return nil, err
	}
	method, rest, ok1 := strings.Cut(line, " ")
	target, proto, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 || method == "" || target == "" || !strings.HasPrefix(proto, "HTTP/1.") || len(proto) != len("HTTP/1.1") {
		return nil, errMalformedRequest
	}
	for _, c := range method {
		if c <= ' ' || c >= 0x7f {
			return nil, errMalformedRequest
		}
	}
	// The header lines are counted before textproto parses them: parsed,
	// each distinct name costs a map entry and strings, and within the
	// byte cap alone a client could still make zbox hold megabytes.
	var raw []byte
	for n := 0; ; n++ {
		l, err := tp.ReadLineBytes()
		if err != nil {
			if errors.Is(err, errHandshakeTooLarge) {
				return nil, err
			}
			return nil, errMalformedRequest
		}
		if len(l) == 0 {
			break
		}
		if n >= maxHeaderLines {
			return nil, errHandshakeTooLarge
		}
		raw = append(append(raw, l...), '\r', '\n')
	}
	raw = append(raw, '\r', '\n')
	h, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(raw))).ReadMIMEHeader()
	if err != nil {
		return nil, errMalformedRequest
	}
	return &httpRequest{method: method, target: target, proto: proto, header: h}, nil
}

var errMalformedRequest = errors.New("malformed HTTP request")

func (s *session) serveHTTP(ctx context.Context) {
	req, err := readRequest(s.br)
	if err != nil {
		if errors.Is(err, errHandshakeTooLarge) {
			writeHTTPError(s.c, 431, "bad-request", "zbox proxy: request header larger than 64 KiB or longer than 200 lines")
			return
		}
		if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
			writeHTTPError(s.c, 400, "bad-request", "zbox proxy: malformed request")
		}
		return
	}
	if req.method == "CONNECT" {
		s.serveConnect(ctx, req)
		return
	}
	s.serveForward(ctx, req)
}

func parsePort(p string) (int, bool) {
	if p == "" || len(p) > 5 || strings.TrimLeft(p, "0123456789") != "" {
		return 0, false
	}
	n, _ := strconv.Atoi(p)
	return n, n >= 1 && n <= 65535
}

func (s *session) serveConnect(ctx context.Context, req *httpRequest) {
	host, portStr, err := net.SplitHostPort(req.target)
	port, ok := parsePort(portStr)
	if err != nil || !ok || host == "" || strings.ContainsAny(host, "/@ ") {
		writeHTTPError(s.c, 400, "bad-request", "zbox proxy: CONNECT needs a host:port target")
		return
	}
	s.endHandshake() // the head is parsed: the dial needs no handshake slot
	up, deny, err := s.p.connect(ctx, host, port)
	if deny != nil || err != nil {
		s.refuse("CONNECT", host, port, deny, err)
		return
	}
	if _, err := io.WriteString(s.c, "HTTP/1.1 200 Connection Established\r\n\r\n"); err != nil {
		up.Close()
		return
	}
	Splice(ctx, s.tunnelConn(), up)
}

// serveForward forwards an absolute-form request (GET http://host/...):
// the head is rewritten to origin form with the checked destination as
// Host and "Connection: close", then the two connections are spliced, so
// the body and the response (chunked or not, with interim responses)
// pass byte for byte. The upstream closes after its response; whatever
// else the client sends on the connection can only reach the same
// checked host and port, exactly as a CONNECT tunnel would.
func (s *session) serveForward(ctx context.Context, req *httpRequest) {
	u, err := url.Parse(req.target)
	if err != nil || u.Host == "" {
		writeHTTPError(s.c, 400, "bad-request",
			"zbox proxy: expected an absolute-form request (GET http://host/path) or CONNECT host:port")
		return
	}
	if u.Scheme != "http" {
		writeHTTPError(s.c, 400, "bad-request",
			"zbox proxy: only http:// URLs are forwarded; use CONNECT for https and other protocols")
		return
	}
	host := u.Hostname()
	port := 80
	if ps := u.Port(); ps != "" {
		var ok bool
		if port, ok = parsePort(ps); !ok {
			writeHTTPError(s.c, 400, "bad-request", "zbox proxy: invalid port in request URL")
			return
		}
	}
	if host == "" {
		writeHTTPError(s.c, 400, "bad-request", "zbox proxy: no host in request URL")
		return
	}
	s.endHandshake() // the head is parsed: the dial needs no handshake slot
	up, deny, err := s.p.connect(ctx, host, port)
	if deny != nil || err != nil {
		s.refuse(req.method, host, port, deny, err)
		return
	}
	removeHopByHop(req.header)
	req.header.Del("Host")
	var head strings.Builder
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	if u.RawQuery != "" || u.ForceQuery {
		path += "?" + u.RawQuery
	}
	fmt.Fprintf(&head, "%s %s %s\r\nHost: %s\r\n", req.method, path, req.proto, u.Host)
	for k, vs := range req.header {
		for _, v := range vs {
			fmt.Fprintf(&head, "%s: %s\r\n", k, v)
		}
	}
	head.WriteString("Connection: close\r\n\r\n")
	if _, err := io.WriteString(up, head.String()); err != nil {
		up.Close()
		writeHTTPError(s.c, 502, "upstream-unreachable", fmt.Sprintf("zbox: sending the request to %s failed: %v", displayTarget(host, port), err))
		return
	}
	Splice(ctx, s.tunnelConn(), up)
}

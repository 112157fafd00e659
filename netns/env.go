package netns

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/zbox-sandbox/zbox/policy"
)

// ProxyEnvKeys are the environment variables that carry a proxy URL and
// are routed through a bridge. Names match case-insensitively; each
// variable found becomes its own route keyed by its exact name (so
// HTTP_PROXY and http_proxy are two routes).
//
// This is the Codex helper's list (spec §6.1 step 1) plus WS_PROXY and
// WSS_PROXY, which the Codex network proxy also sets but the helper
// forgets to rewrite (they would point at an unreachable host port).
var ProxyEnvKeys = []string{
	"HTTP_PROXY",
	"HTTPS_PROXY",
	"ALL_PROXY",
	"FTP_PROXY",
	"WS_PROXY",
	"WSS_PROXY",
	"YARN_HTTP_PROXY",
	"YARN_HTTPS_PROXY",
	"NPM_CONFIG_HTTP_PROXY",
	"NPM_CONFIG_HTTPS_PROXY",
	"NPM_CONFIG_PROXY",
	"BUNDLE_HTTP_PROXY",
	"BUNDLE_HTTPS_PROXY",
	"PIP_PROXY",
	"DOCKER_HTTP_PROXY",
	"DOCKER_HTTPS_PROXY",
}

// The two error texts of the helper (spec §6.1 step 3). Callers detect
// the failure by substring, so every error about unusable proxy values
// starts with one of them.
const (
	errTextNoEndpoints = "managed proxy mode requires parseable loopback proxy endpoints"
	errTextNoVariables = "managed proxy mode requires proxy environment variables"
)

// IsProxyEnvKey reports whether name is one of [ProxyEnvKeys], ignoring
// case.
func IsProxyEnvKey(name string) bool {
	for _, k := range ProxyEnvKeys {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}

// CollectProxyRoutes finds the proxy variables in env ("KEY=value"
// entries; for a repeated key the last entry wins, as with os/exec) and
// returns one route per variable, sorted by variable name, with Endpoint
// set to the loopback "ip:port" the variable points at (spec §6.1 steps
// 1-4).
//
// Accepted hosts are localhost (mapped to 127.0.0.1, like the helper),
// 127.0.0.1 and [::1] (the helper effectively rejects [::1]). Values
// without "://" are parsed as http URLs. Default ports: https 443,
// socks5/socks5h/socks4/socks4a 1080, anything else 80; port 0 is
// rejected.
//
// Unlike the helper, which silently skips a variable it cannot bridge,
// CollectProxyRoutes fails on the first such variable and names it: a
// value left pointing at a non-loopback host would just be unreachable
// inside the sandbox's network namespace. The error text starts with the
// helper's "managed proxy mode requires parseable loopback proxy
// endpoints". With no proxy variable set at all, the error is the
// helper's "managed proxy mode requires proxy environment variables".
// Credentials in values are redacted from error messages.
func CollectProxyRoutes(env []string) ([]policy.ProxyRoute, error) {
	return collectProxyRoutes(env, true)
}

// CollectProxyRoutesHelperCompat is [CollectProxyRoutes] with the Codex
// helper's exact semantics: variables whose value cannot be bridged are
// skipped, and an error is returned only when no usable route remains.
// That error still starts with the helper's text and then lists why each
// variable was rejected.
func CollectProxyRoutesHelperCompat(env []string) ([]policy.ProxyRoute, error) {
	return collectProxyRoutes(env, false)
}

func collectProxyRoutes(env []string, strict bool) ([]policy.ProxyRoute, error) {
	// Last entry wins for a repeated key: that is what execve'd programs
	// see through getenv in practice (and what os/exec keeps).
	values := make(map[string]string)
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" || !IsProxyEnvKey(k) {
			continue
		}
		values[k] = v
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	slices.Sort(keys) // spec §6.1 step 4: routes sorted by variable name

	var routes []policy.ProxyRoute
	var rejected []string
	hasProxyConfig := false
	for _, k := range keys {
		v := strings.TrimSpace(values[k])
		if v == "" {
			continue
		}
		hasProxyConfig = true
		ep, err := parseLoopbackEndpoint(v)
		if err != nil {
			msg := fmt.Sprintf("%s=%q %v", k, redactProxyValue(v), err)
			if strict {
				return nil, fmt.Errorf("%s: %s", errTextNoEndpoints, msg)
			}
			rejected = append(rejected, msg)
			continue
		}
		routes = append(routes, policy.ProxyRoute{EnvKey: k, Endpoint: ep})
	}
	if len(routes) == 0 {
		if !hasProxyConfig {
			return nil, errors.New(errTextNoVariables + " (set HTTP_PROXY, HTTPS_PROXY or ALL_PROXY to a proxy on localhost, 127.0.0.1 or [::1])")
		}
		return nil, fmt.Errorf("%s: %s", errTextNoEndpoints, strings.Join(rejected, "; "))
	}
	return routes, nil
}

// parseLoopbackEndpoint turns a proxy URL into a loopback "ip:port".
// Errors read as a predicate ("is not …") after "KEY=value".
func parseLoopbackEndpoint(v string) (string, error) {
	candidate := v
	if !strings.Contains(v, "://") {
		candidate = "http://" + v
	}
	u, err := url.Parse(candidate)
	if err != nil {
		return "", fmt.Errorf("is not a valid proxy URL (%v)", urlErrCause(err))
	}
	host := u.Hostname()
	if host == "" {
		return "", errors.New("has no host; expected a URL such as http://127.0.0.1:3128")
	}
	var addr netip.Addr
	if strings.EqualFold(host, "localhost") {
		// The helper maps localhost to 127.0.0.1 rather than resolving
		// it: resolution could yield ::1 or, with a hostile hosts file,
		// a non-loopback address.
		addr = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	} else {
		a, err := netip.ParseAddr(host)
		if err != nil || a.Zone() != "" || !(a == netip.AddrFrom4([4]byte{127, 0, 0, 1}) || a == netip.IPv6Loopback()) {
			return "", fmt.Errorf("points at %s, which is not loopback; only a proxy on localhost, 127.0.0.1 or [::1] can be bridged into the sandbox", host)
		}
		addr = a
	}
	var port int
	if p := u.Port(); p != "" {
		port, err = strconv.Atoi(p)
		if err != nil || port < 1 || port > 65535 {
			return "", fmt.Errorf("has port %q; a proxy port must be 1-65535", p)
		}
	} else {
		port = defaultProxyPort(u.Scheme)
	}
	return netip.AddrPortFrom(addr, uint16(port)).String(), nil
}

func defaultProxyPort(scheme string) int {
	switch strings.ToLower(scheme) {
	case "https":
		return 443
	case "socks5", "socks5h", "socks4", "socks4a":
		return 1080
	default:
		return 80
	}
}

// urlErrCause strips the *url.Error wrapper, whose text repeats the whole
// URL (credentials included).
func urlErrCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// redactProxyValue hides the userinfo of a proxy URL, which often holds
// a token, so that it never reaches logs or error messages.
func redactProxyValue(v string) string {
	start := 0
	if i := strings.Index(v, "://"); i >= 0 {
		start = i + 3
	}
	rest := v[start:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	at := strings.LastIndex(rest[:end], "@")
	if at < 0 {
		return v
	}
	return v[:start] + "xxxxx" + rest[at:]
}

// specialSchemes are the WHATWG "special" schemes, whose URLs always
// have a path: Rust's url crate (used by the helper) serialises
// http://h:1 as http://h:1/ and http://h:1?q as http://h:1/?q.
var specialSchemes = map[string]bool{"http": true, "https": true, "ws": true, "wss": true, "ftp": true, "file": true}

// RewriteProxyURL points a proxy URL at 127.0.0.1:port, exactly as the
// helper's inner stage does (spec §6.2 step 3): scheme, credentials,
// path, query and fragment are kept; a value that had no scheme is
// written back without one; the "/" the helper's URL library adds to an
// empty path is dropped again unless the original ended with "/" or
// contained "?" or "#". Example: socks5h://127.0.0.1:8081 with port
// 43210 becomes socks5h://127.0.0.1:43210.
//
// The rewrite is textual (the userinfo and path are copied byte for
// byte, never re-encoded) after the value has been validated as a URL
// with a host. Surrounding whitespace is dropped, as the URL parser does.
func RewriteProxyURL(orig string, port int) (string, error) {
	if port < 1 || port > 65535 {
		return "", fmt.Errorf("local bridge port %d is out of range 1-65535", port)
	}
	s := strings.TrimFunc(orig, func(r rune) bool { return r <= ' ' })
	// The checks below look at the trimmed value: the helper looks at the
	// raw one, which differs only for values with surrounding blanks, and
	// there the raw check could strip a "/" that was really in the path.
	hadScheme := strings.Contains(s, "://")
	candidate := s
	if !hadScheme {
		candidate = "http://" + s
	}
	u, err := url.Parse(candidate)
	if err != nil {
		return "", fmt.Errorf("not a valid URL: %v", urlErrCause(err))
	}
	if u.Host == "" || u.Scheme == "" {
		return "", errors.New("URL has no host (expected scheme://host:port)")
	}
	// A scheme plus a non-empty Host means url.Parse saw
	// "scheme://authority": the scheme ends at the first ':' and is
	// followed by "//".
	i := strings.IndexByte(candidate, ':')
	if i <= 0 || !strings.EqualFold(candidate[:i], u.Scheme) || !strings.HasPrefix(candidate[i:], "://") {
		return "", errors.New("URL has no scheme://host authority")
	}
	scheme := strings.ToLower(candidate[:i])
	rest := candidate[i+3:]
	authEnd := strings.IndexAny(rest, "/?#")
	if authEnd < 0 {
		authEnd = len(rest)
	}
	authority, tail := rest[:authEnd], rest[authEnd:]
	userinfo := ""
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		userinfo = authority[:at+1]
	}
	if specialSchemes[scheme] && (tail == "" || tail[0] == '?' || tail[0] == '#') {
		tail = "/" + tail
	}
	out := scheme + "://" + userinfo + "127.0.0.1:" + strconv.Itoa(port) + tail
	if !hadScheme {
		out = strings.TrimPrefix(out, "http://")
	}
	if !strings.HasSuffix(s, "/") && !strings.ContainsAny(s, "?#") && strings.HasSuffix(out, "/") {
		out = out[:len(out)-1]
	}
	return out, nil
}

// loopbackNoProxy are the NO_PROXY entries that keep loopback traffic
// inside the sandbox away from the proxy.
var loopbackNoProxy = []string{"localhost", "127.0.0.1", "::1"}

// RewriteEnv returns a copy of env in which every route's variable points
// at its local bridge port. ports is keyed by the route's Endpoint, or by
// its UDSPath when Endpoint is empty (the helper's inner stage, whose
// route spec carries no URLs). Every entry with the route's exact key is
// rewritten. Errors use the helper's texts: "missing proxy env key K"
// and "could not rewrite proxy URL for env key K".
//
// NO_PROXY and no_proxy are also made to exempt localhost, 127.0.0.1 and
// ::1 (appended when missing, left alone when the list is "*"; created
// when absent). Otherwise a workload talking to its own loopback server
// would send that traffic to the proxy, which would at best refuse it and
// at worst reach the host's loopback instead.
func RewriteEnv(env []string, routes []policy.ProxyRoute, ports map[string]int) ([]string, error) {
	out := slices.Clone(env)
	for _, r := range routes {
		key := r.Endpoint
		if key == "" {
			key = r.UDSPath
		}
		port, ok := ports[key]
		if !ok {
			return nil, fmt.Errorf("no local bridge port for proxy env key %s (endpoint %q); this is a zbox bug", r.EnvKey, key)
		}
		found := false
		for i, kv := range out {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k != r.EnvKey {
				continue
			}
			found = true
			nv, err := RewriteProxyURL(v, port)
			if err != nil {
				return nil, fmt.Errorf("could not rewrite proxy URL for env key %s: %w", k, err)
			}
			out[i] = k + "=" + nv
		}
		if !found {
			return nil, fmt.Errorf("missing proxy env key %s", r.EnvKey)
		}
	}
	return ensureNoProxyLoopback(out), nil
}

func ensureNoProxyLoopback(env []string) []string {
	var upper, lower *string
	for i, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !strings.EqualFold(k, "NO_PROXY") {
			continue
		}
		env[i] = k + "=" + addLoopbackNoProxy(v)
		switch k {
		case "NO_PROXY":
			upper = &v
		case "no_proxy":
			lower = &v
		}
	}
	// Tools disagree on which spelling they read (curl prefers
	// no_proxy, others NO_PROXY), so both must exist and agree.
	switch {
	case upper == nil && lower == nil:
		env = append(env, "NO_PROXY="+addLoopbackNoProxy(""), "no_proxy="+addLoopbackNoProxy(""))
	case upper == nil:
		env = append(env, "NO_PROXY="+addLoopbackNoProxy(*lower))
	case lower == nil:
		env = append(env, "no_proxy="+addLoopbackNoProxy(*upper))
	}
	return env
}

func addLoopbackNoProxy(v string) string {
	have := make(map[string]bool)
	var items []string
	for _, it := range strings.Split(v, ",") {
		it = strings.TrimSpace(it)
		if it == "" {
			continue
		}
		if it == "*" {
			return v // everything already bypasses the proxy
		}
		items = append(items, it)
		have[strings.ToLower(strings.Trim(it, "[]"))] = true
	}
	for _, l := range loopbackNoProxy {
		if !have[l] {
			items = append(items, l)
		}
	}
	return strings.Join(items, ",")
}

// DistinctEndpoints returns the routes' distinct Endpoints in order of
// first appearance: one bridge (listener) is needed per endpoint.
func DistinctEndpoints(routes []policy.ProxyRoute) []string {
	var out []string
	seen := make(map[string]bool)
	for _, r := range routes {
		if !seen[r.Endpoint] {
			seen[r.Endpoint] = true
			out = append(out, r.Endpoint)
		}
	}
	return out
}

package netns

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Rules is a parsed domain allow-list and deny-list for the built-in
// proxy. The zero value denies everything.
//
// Entry syntax (case-insensitive, surrounding spaces and one trailing dot
// ignored, optional ":port" restricting the entry to that port):
//
//	example.com          exactly example.com
//	*.example.com        any subdomain of example.com, at any depth, but
//	                     NOT example.com itself (list both to get both)
//	*                    everything (useful as "allow all but the denies")
//	192.0.2.7, 2001:db8::1, [2001:db8::1]:443
//	                     an IP literal; IPv6 with a port must be bracketed
//
// In the allow-list, a wildcard must name at least two labels ("*.com" is
// refused as too broad); the deny-list takes any wildcard. Host names
// must be ASCII (write IDNs in their xn-- form). IP rules match only IP
// literal destinations and name rules only names: no resolution happens
// while matching.
type Rules struct {
	allow []rule
	deny  []rule
}

type ruleKind uint8

const (
	ruleExact ruleKind = iota
	ruleWildcard
	ruleIP
	ruleAny
)

type rule struct {
	text string // normalised entry, for messages
	kind ruleKind
	host string // exact name, or the wildcard's base without "*."
	ip   netip.Addr
	port int // 0: any port
}

// ParseRules parses allow and deny entries. An invalid entry is an error
// naming the list, the entry and what is wrong with it.
func ParseRules(allow, deny []string) (Rules, error) {
	var r Rules
	for _, e := range allow {
		ru, err := parseRule(e, true)
		if err != nil {
			return Rules{}, fmt.Errorf("allow-list entry %q: %w", e, err)
		}
		r.allow = append(r.allow, ru)
	}
	for _, e := range deny {
		ru, err := parseRule(e, false)
		if err != nil {
			return Rules{}, fmt.Errorf("deny-list entry %q: %w", e, err)
		}
		r.deny = append(r.deny, ru)
	}
	return r, nil
}

func parseRule(entry string, isAllow bool) (rule, error) {
	s := strings.ToLower(strings.TrimSpace(entry))
	if s == "" {
		return rule{}, fmt.Errorf("is empty")
	}
	if strings.Contains(s, "://") {
		return rule{}, fmt.Errorf("has a URL scheme; write the host name only, e.g. example.com or example.com:443")
	}
	if strings.ContainsAny(s, "/?#@ \t") {
		return rule{}, fmt.Errorf("contains a path, query, credentials or space; write the host name only, e.g. example.com")
	}

	// A bare IP literal, v4 or unbracketed v6 (whose colons are not a port).
	if a, err := netip.ParseAddr(s); err == nil {
		return ipRule(s, a, 0)
	}

	host, portStr := s, ""
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return rule{}, fmt.Errorf("has an unterminated '['")
		}
		host = s[1:end]
		switch rest := s[end+1:]; {
		case rest == "":
		case strings.HasPrefix(rest, ":"):
			portStr = rest[1:]
		default:
			return rule{}, fmt.Errorf("has unexpected text %q after ']'", rest)
		}
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() {
			return rule{}, fmt.Errorf("brackets must hold an IPv6 address")
		}
		port, err := parseRulePort(portStr, portStr != "")
		if err != nil {
			return rule{}, err
		}
		return ipRule(s, a, port)
	}

	switch strings.Count(s, ":") {
	case 0:
	case 1:
		host, portStr, _ = strings.Cut(s, ":")
	default:
		return rule{}, fmt.Errorf("has several ':'; an IPv6 address with a port must be bracketed, e.g. [2001:db8::1]:443")
	}
	port, err := parseRulePort(portStr, strings.Contains(s, ":"))
	if err != nil {
		return rule{}, err
	}
	host = strings.TrimSuffix(host, ".")

	if host == "*" {
		return rule{text: s, kind: ruleAny, port: port}, nil
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return ipRule(s, a, port)
	}
	kind := ruleExact
	if base, ok := strings.CutPrefix(host, "*."); ok {
		kind = ruleWildcard
		host = base
	}
	if strings.Contains(host, "*") {
		return rule{}, fmt.Errorf("has a '*' that is not a leading \"*.\"; only *.example.com style wildcards are supported")
	}
	if err := checkHostName(host); err != nil {
		return rule{}, err
	}
	if kind == ruleWildcard && isAllow && !strings.Contains(host, ".") {
		return rule{}, fmt.Errorf("is too broad: *.%s would allow a whole top-level domain; name a registrable domain such as *.example.%s", host, host)
	}
	return rule{text: s, kind: kind, host: host, port: port}, nil
}

func ipRule(text string, a netip.Addr, port int) (rule, error) {
	if a.Zone() != "" {
		return rule{}, fmt.Errorf("has an IPv6 zone; zones are not supported")
	}
	return rule{text: text, kind: ruleIP, ip: a.Unmap(), port: port}, nil
}

func parseRulePort(p string, present bool) (int, error) {
	if !present {
		return 0, nil
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 || p[0] == '+' {
		return 0, fmt.Errorf("has port %q; a port must be 1-65535", p)
	}
	return n, nil
}

// checkHostName accepts an ASCII DNS name: labels of letters, digits,
// '-' and '_', 1-63 bytes each, 253 in total, with a non-numeric last
// label. A numeric last label ("127.1", "0x7f.1") would be read as an IP
// address by some resolvers, which is how allow-lists get bypassed.
func checkHostName(h string) error {
	if h == "" {
		return fmt.Errorf("has no host name")
	}
	if len(h) > 253 {
		return fmt.Errorf("host name is longer than 253 bytes")
	}
	labels := strings.Split(h, ".")
	for _, l := range labels {
		if l == "" {
			return fmt.Errorf("host name has an empty label")
		}
		if len(l) > 63 {
			return fmt.Errorf("host name has a label longer than 63 bytes")
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			switch {
			case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
			case c >= 0x80:
				return fmt.Errorf("host name is not ASCII; write an internationalised name in its xn-- (punycode) form")
			default:
				return fmt.Errorf("host name contains %q", c)
			}
		}
	}
	if last := labels[len(labels)-1]; isNumericLabel(last) {
		return fmt.Errorf("looks like an abbreviated or numeric IP address; write IPv4 addresses as four decimal numbers")
	}
	return nil
}

func isNumericLabel(l string) bool {
	if h, ok := strings.CutPrefix(l, "0x"); ok {
		l = h
		for i := 0; i < len(l); i++ {
			if !strings.ContainsRune("0123456789abcdef", rune(l[i])) {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(l); i++ {
		if l[i] < '0' || l[i] > '9' {
			return false
		}
	}
	return true
}

// target is a normalised destination.
type target struct {
	host string     // lower-case name without trailing dot, or the IP's text
	ip   netip.Addr // valid for IP literals
}

// normaliseTarget validates a destination host as sent by a client
// (SOCKS5 domain, CONNECT authority, absolute URL host).
func normaliseTarget(host string) (target, bool) {
	h := strings.ToLower(host)
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
		a, err := netip.ParseAddr(h)
		if err != nil || !a.Is6() || a.Zone() != "" {
			return target{}, false
		}
		a = a.Unmap()
		return target{host: a.String(), ip: a}, true
	}
	if a, err := netip.ParseAddr(h); err == nil {
		if a.Zone() != "" {
			return target{}, false
		}
		a = a.Unmap()
		return target{host: a.String(), ip: a}, true
	}
	h = strings.TrimSuffix(h, ".")
	if checkHostName(h) != nil {
		return target{}, false
	}
	return target{host: h}, true
}

func (ru rule) matches(t target, port int) bool {
	if ru.port != 0 && ru.port != port {
		return false
	}
	switch ru.kind {
	case ruleAny:
		return true
	case ruleIP:
		return t.ip.IsValid() && t.ip == ru.ip
	case ruleExact:
		return !t.ip.IsValid() && t.host == ru.host
	case ruleWildcard:
		return !t.ip.IsValid() && strings.HasSuffix(t.host, "."+ru.host)
	}
	return false
}

// verdict is Decide's answer plus what the proxy needs to know about the
// matching rule.
type verdict struct {
	allowed    bool
	rule       string
	explicitIP bool // allowed by a rule naming exactly this IP
}

func (r Rules) decide(host string, port int) verdict {
	if port < 1 || port > 65535 {
		return verdict{rule: "invalid port"}
	}
	t, ok := normaliseTarget(host)
	if !ok {
		return verdict{rule: "invalid host name"}
	}
	for _, ru := range r.deny {
		if ru.matches(t, port) {
			return verdict{rule: fmt.Sprintf("deny rule %q", ru.text)}
		}
	}
	v := verdict{rule: "no rule matches"}
	for _, ru := range r.allow {
		if !ru.matches(t, port) {
			continue
		}
		if !v.allowed {
			v = verdict{allowed: true, rule: fmt.Sprintf("allow rule %q", ru.text)}
		}
		if ru.kind == ruleIP {
			// An IP rule naming this address counts wherever it stands
			// ("*,10.0.0.5" lets 10.0.0.5 through the public-address
			// check, as "10.0.0.5,*" does).
			v.explicitIP = true
			break
		}
	}
	return v
}

// Decide says whether a connection to host:port is allowed, and why: the
// matching rule (`allow rule "example.com"`, `deny rule "*.bad.test"`),
// "no rule matches", or "invalid host name"/"invalid port" for a
// destination that is not a well-formed name or IP literal. Deny rules
// beat allow rules; anything unmatched is denied. host may be a name
// (trailing dot ignored), an IPv4 literal, or an IPv6 literal with or
// without brackets.
func (r Rules) Decide(host string, port int) (allowed bool, rule string) {
	v := r.decide(host, port)
	return v.allowed, v.rule
}

// String lists the rules, for logs.
func (r Rules) String() string {
	var b strings.Builder
	b.WriteString("allow=[")
	for i, ru := range r.allow {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(ru.text)
	}
	b.WriteString("] deny=[")
	for i, ru := range r.deny {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(ru.text)
	}
	b.WriteString("]")
	return b.String()
}

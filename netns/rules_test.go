package netns

import (
	"strings"
	"testing"
)

func TestParseRulesErrors(t *testing.T) {
	tests := []struct {
		allow, deny []string
		want        string
	}{
		{allow: []string{""}, want: `allow-list entry "": is empty`},
		{allow: []string{"https://example.com"}, want: "URL scheme"},
		{allow: []string{"example.com/path"}, want: "path"},
		{allow: []string{"user@example.com"}, want: "credentials"},
		{allow: []string{"*.com"}, want: "too broad"},
		{allow: []string{"*"}, deny: []string{"*.com", "*"}}, // fine
		{allow: []string{"foo.*.com"}, want: "leading"},
		{allow: []string{"*example.com"}, want: "leading"},
		{allow: []string{"example.com:0"}, want: `port "0"`},
		{allow: []string{"example.com:65536"}, want: `port "65536"`},
		{allow: []string{"example.com:+80"}, want: `port "+80"`},
		{allow: []string{"example.com:"}, want: `port ""`},
		{allow: []string{"2001:db8::1:443x"}, want: "bracketed"},
		{allow: []string{"[2001:db8::1"}, want: "unterminated"},
		{allow: []string{"[1.2.3.4]:80"}, want: "IPv6"},
		{allow: []string{"[::1]x"}, want: "unexpected text"},
		{allow: []string{"fe80::1%eth0"}, want: "zone"},
		{allow: []string{"bücher.de"}, want: "punycode"},
		{allow: []string{"exa mple.com"}, want: "space"},
		{allow: []string{"a..b"}, want: "empty label"},
		{allow: []string{strings.Repeat("a", 64) + ".com"}, want: "63"},
		{allow: []string{"127.1"}, want: "numeric IP"},
		{allow: []string{"0x7f.1"}, want: "numeric IP"},
		{allow: []string{"a!b.com"}, want: "contains"},
		{deny: []string{"bad entry"}, want: `deny-list entry "bad entry"`},
	}
	for _, tt := range tests {
		_, err := ParseRules(tt.allow, tt.deny)
		if tt.want == "" {
			if err != nil {
				t.Errorf("ParseRules(%q, %q): %v", tt.allow, tt.deny, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseRules(%q, %q) err = %v, want %q", tt.allow, tt.deny, err, tt.want)
		}
	}
}

func TestDecide(t *testing.T) {
	r, err := ParseRules(
		[]string{"example.com", "*.github.com", "api.corp.test:8443", "192.0.2.7", "[2001:db8::1]:443", "2001:db8::2", "Mixed.Case.ORG.", "*.deny-apex.test"},
		[]string{"evil.github.com", "*.internal.github.com", "192.0.2.8", "deny-apex.test"},
	)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		host    string
		port    int
		allowed bool
		rule    string
	}{
		{"example.com", 443, true, `allow rule "example.com"`},
		{"EXAMPLE.com.", 80, true, `allow rule "example.com"`},
		{"www.example.com", 443, false, "no rule matches"},
		{"github.com", 443, false, "no rule matches"}, // wildcards do not match the apex
		{"api.github.com", 443, true, `allow rule "*.github.com"`},
		{"a.b.c.github.com", 22, true, `allow rule "*.github.com"`},
		{"notgithub.com", 443, false, "no rule matches"},
		{"evil.github.com", 443, false, `deny rule "evil.github.com"`},
		{"x.internal.github.com", 443, false, `deny rule "*.internal.github.com"`},
		{"internal.github.com", 443, true, `allow rule "*.github.com"`},
		{"api.corp.test", 8443, true, `allow rule "api.corp.test:8443"`},
		{"api.corp.test", 443, false, "no rule matches"},
		{"192.0.2.7", 1, true, `allow rule "192.0.2.7"`},
		{"::ffff:192.0.2.7", 1, true, `allow rule "192.0.2.7"`},
		{"192.0.2.8", 1, false, `deny rule "192.0.2.8"`},
		{"192.0.2.9", 1, false, "no rule matches"},
		{"[2001:db8::1]", 443, true, `allow rule "[2001:db8::1]:443"`},
		{"2001:db8:0::1", 443, true, `allow rule "[2001:db8::1]:443"`},
		{"2001:db8::1", 80, false, "no rule matches"},
		{"2001:db8::2", 80, true, `allow rule "2001:db8::2"`},
		{"mixed.case.org", 80, true, `allow rule "mixed.case.org."`},
		{"deny-apex.test", 443, false, `deny rule "deny-apex.test"`},
		{"www.deny-apex.test", 443, true, `allow rule "*.deny-apex.test"`},
		{"", 443, false, "invalid host name"},
		{"exa mple.com", 443, false, "invalid host name"},
		{"example.com\r\nX: y", 443, false, "invalid host name"},
		{"127.1", 80, false, "invalid host name"},
		{"fe80::1%eth0", 80, false, "invalid host name"},
		{"[192.0.2.7]", 80, false, "invalid host name"},
		{"example.com", 0, false, "invalid port"},
		{"example.com", 65536, false, "invalid port"},
	}
	for _, tt := range tests {
		allowed, rule := r.Decide(tt.host, tt.port)
		if allowed != tt.allowed || rule != tt.rule {
			t.Errorf("Decide(%q, %d) = %v, %q; want %v, %q", tt.host, tt.port, allowed, rule, tt.allowed, tt.rule)
		}
	}

	var zero Rules
	if ok, rule := zero.Decide("example.com", 443); ok || rule != "no rule matches" {
		t.Errorf("zero Rules allowed: %v %q", ok, rule)
	}
	all, _ := ParseRules([]string{"*"}, []string{"*.bad.test", "*:25"})
	for _, tt := range []struct {
		host string
		port int
		ok   bool
	}{{"anything.test", 443, true}, {"10.0.0.1", 80, true}, {"x.bad.test", 443, false}, {"mail.test", 25, false}} {
		if ok, rule := all.Decide(tt.host, tt.port); ok != tt.ok {
			t.Errorf("allow-all Decide(%q,%d) = %v (%s)", tt.host, tt.port, ok, rule)
		}
	}
}

func FuzzParseRules(f *testing.F) {
	for _, s := range []string{"example.com", "*.example.com:443", "[::1]:80", "192.0.2.1", "*", "*.com", "127.1", "::ffff:1.2.3.4"} {
		f.Add(s, "*.bad.test", "www.example.com", uint16(443))
	}
	f.Fuzz(func(t *testing.T, allowEntry, denyEntry, host string, port uint16) {
		r, err := ParseRules([]string{allowEntry}, []string{denyEntry})
		if err != nil {
			if !strings.Contains(err.Error(), "list entry") {
				t.Fatalf("error does not name the entry: %v", err)
			}
			return
		}
		allowed, rule := r.Decide(host, int(port))
		if allowed && !strings.HasPrefix(rule, "allow rule ") {
			t.Fatalf("allowed by %q", rule)
		}
		if allowed2, rule2 := r.Decide(host, int(port)); allowed2 != allowed || rule2 != rule {
			t.Fatal("Decide is not deterministic")
		}
		// An entry in both lists never allows anything it matches.
		both, err := ParseRules([]string{allowEntry}, []string{allowEntry})
		if err == nil {
			if ok, rule := both.Decide(host, int(port)); ok {
				t.Fatalf("%q allowed %q:%d although also denied (%s)", allowEntry, host, port, rule)
			}
		}
		// Only the allow-list can allow.
		denyOnly, err := ParseRules(nil, []string{denyEntry})
		if err == nil {
			if ok, _ := denyOnly.Decide(host, int(port)); ok {
				t.Fatal("deny-only rules allowed a connection")
			}
		}
		_ = r.String()
	})
}

// TestDecideExplicitIP: an allow rule naming the exact IP marks the
// verdict explicit (which lifts the public-address check) wherever it
// stands among the allow rules; a wildcard alone does not.
func TestDecideExplicitIP(t *testing.T) {
	for _, c := range []struct {
		allow    []string
		host     string
		explicit bool
	}{
		{[]string{"10.0.0.5"}, "10.0.0.5", true},
		{[]string{"*", "10.0.0.5"}, "10.0.0.5", true},
		{[]string{"10.0.0.5", "*"}, "10.0.0.5", true},
		{[]string{"*"}, "10.0.0.5", false},
		{[]string{"*", "10.0.0.6"}, "10.0.0.5", false},
	} {
		r, err := ParseRules(c.allow, nil)
		if err != nil {
			t.Fatal(err)
		}
		v := r.decide(c.host, 443)
		if !v.allowed || v.explicitIP != c.explicit {
			t.Errorf("allow %v, %s: allowed %v explicit %v, want allowed and explicit %v", c.allow, c.host, v.allowed, v.explicitIP, c.explicit)
		}
	}
}

package policy

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestParseNetworkPolicy(t *testing.T) {
	tests := []struct {
		in   string
		want NetworkPolicy
		err  string
	}{
		{`"restricted"`, NetworkRestricted, ""},
		{`"enabled"`, NetworkEnabled, ""},
		{" \"enabled\"\n", NetworkEnabled, ""},
		{`"\u0065nabled"`, NetworkEnabled, ""},
		{`restricted`, "", "network sandbox policy: invalid JSON"},
		{`"Restricted"`, "", `network sandbox policy: unknown variant "Restricted", expected one of "restricted", "enabled"`},
		{`"full"`, "", `unknown variant "full"`},
		{`""`, "", `unknown variant ""`},
		{`true`, "", `invalid type: a boolean, expected a string`},
		{`null`, "", `expected a string`},
		{`{"type":"restricted"}`, "", `expected a string`},
		{`"restricted" "enabled"`, "", `trailing characters`},
		{``, "", `empty input`},
	}
	for _, tc := range tests {
		got, err := ParseNetworkPolicy(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseNetworkPolicy(%q) = %q, %v; want error containing %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseNetworkPolicy(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestNetworkPolicyJSON(t *testing.T) {
	for n, want := range map[NetworkPolicy]string{NetworkRestricted: `"restricted"`, NetworkEnabled: `"enabled"`} {
		got, err := json.Marshal(n)
		if err != nil || string(got) != want {
			t.Errorf("Marshal(%q) = %s, %v", n, got, err)
		}
		var back NetworkPolicy
		if err := json.Unmarshal(got, &back); err != nil || back != n {
			t.Errorf("Unmarshal(%s) = %q, %v", got, back, err)
		}
	}
	if _, err := json.Marshal(NetworkPolicy("")); err == nil {
		t.Error("the zero NetworkPolicy must not serialise")
	}
	if !NetworkEnabled.IsEnabled() || NetworkRestricted.IsEnabled() || NetworkPolicy("").IsEnabled() {
		t.Error("IsEnabled")
	}
}

func FuzzParseNetworkPolicy(f *testing.F) {
	for _, s := range []string{`"restricted"`, `"enabled"`, ` "enabled" `, `restricted`, `"\u0072estricted"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseNetworkPolicy(s)
		if err != nil {
			return
		}
		out, err := n.MarshalJSON()
		if err != nil {
			t.Fatalf("parsed %q but cannot marshal: %v", s, err)
		}
		back, err := ParseNetworkPolicy(string(out))
		if err != nil || back != n {
			t.Fatalf("round trip %q -> %s -> %q, %v", s, out, back, err)
		}
	})
}

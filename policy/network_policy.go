package policy

// The split network policy of the Codex helper (flag
// --network-sandbox-policy, spec codex-helper.md §1.3): a bare JSON
// string, so on the command line it is quoted JSON ('"restricted"').

import "fmt"

// NetworkPolicy is NetworkSandboxPolicy. The zero value is not valid; use
// the constants.
type NetworkPolicy string

const (
	// NetworkRestricted is the default: no network (isolated namespace,
	// or proxy-only with --allow-network-for-proxy).
	NetworkRestricted NetworkPolicy = "restricted"
	// NetworkEnabled is full network access.
	NetworkEnabled NetworkPolicy = "enabled"
)

const networkPolicyCtx = "network sandbox policy"

// ParseNetworkPolicy parses the JSON of --network-sandbox-policy:
// exactly `"restricted"` or `"enabled"` (JSON whitespace around it is
// allowed, as in serde_json; an unquoted word is not JSON and fails).
func ParseNetworkPolicy(s string) (NetworkPolicy, error) {
	raw, err := topLevelJSON(networkPolicyCtx, s)
	if err != nil {
		return "", err
	}
	v, err := jsonString(raw)
	if err != nil {
		return "", fmt.Errorf("%s: %w (write it as quoted JSON, e.g. '\"restricted\"')", networkPolicyCtx, err)
	}
	switch n := NetworkPolicy(v); n {
	case NetworkRestricted, NetworkEnabled:
		return n, nil
	}
	return "", fmt.Errorf("%s: unknown variant %q, expected one of \"restricted\", \"enabled\"", networkPolicyCtx, v)
}

// IsEnabled is true only for NetworkEnabled.
func (n NetworkPolicy) IsEnabled() bool { return n == NetworkEnabled }

// MarshalJSON renders the bare JSON string; it fails for any value other
// than the two constants.
func (n NetworkPolicy) MarshalJSON() ([]byte, error) {
	switch n {
	case NetworkRestricted, NetworkEnabled:
		return []byte(`"` + string(n) + `"`), nil
	}
	return nil, fmt.Errorf("%s: cannot serialise unknown value %q", networkPolicyCtx, string(n))
}

// UnmarshalJSON implements json.Unmarshaler with ParseNetworkPolicy's rules.
func (n *NetworkPolicy) UnmarshalJSON(b []byte) error {
	v, err := ParseNetworkPolicy(string(b))
	if err != nil {
		return err
	}
	*n = v
	return nil
}

// NetworkPolicyFromLegacy is NetworkSandboxPolicy::from(&SandboxPolicy):
// enabled exactly when the legacy policy has full network access.
func NetworkPolicyFromLegacy(p SandboxPolicy) NetworkPolicy {
	if p.HasFullNetworkAccess() {
		return NetworkEnabled
	}
	return NetworkRestricted
}

package netns

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/zbox-sandbox/zbox/policy"
)

// maxSunPath is the longest path a unix socket address can hold:
// sun_path is 108 bytes on Linux and must keep a terminating NUL for
// portable binds.
const maxSunPath = 107

// routeSpec is the helper's --proxy-route-spec document (spec §6.1 step
// 11). Only these two fields travel: the proxy URLs never do.
type routeSpec struct {
	Routes []routeSpecEntry `json:"routes"`
}

type routeSpecEntry struct {
	EnvKey  string `json:"env_key"`
	UDSPath string `json:"uds_path"`
}

// ParseRouteSpec parses the helper's route spec,
// {"routes":[{"env_key":"HTTP_PROXY","uds_path":"/…/proxy-route-0.sock"}]}.
// Unknown fields are ignored (as serde does); trailing data is an error.
// Every entry needs an environment variable name (no '=' or NUL) and an
// absolute socket path that fits a unix socket address. An empty list
// gives the helper's "proxy routing spec contained no routes".
func ParseRouteSpec(s string) ([]policy.ProxyRoute, error) {
	var spec routeSpec
	// json.Unmarshal rejects trailing data, like serde_json::from_str.
	if err := json.Unmarshal([]byte(s), &spec); err != nil {
		return nil, fmt.Errorf("invalid proxy routing spec: %w", err)
	}
	if len(spec.Routes) == 0 {
		return nil, errors.New("proxy routing spec contained no routes")
	}
	routes := make([]policy.ProxyRoute, 0, len(spec.Routes))
	for i, r := range spec.Routes {
		if err := checkRouteEntry(r); err != nil {
			return nil, fmt.Errorf("invalid proxy routing spec: route %d: %w", i, err)
		}
		routes = append(routes, policy.ProxyRoute{EnvKey: r.EnvKey, UDSPath: r.UDSPath})
	}
	return routes, nil
}

func checkRouteEntry(r routeSpecEntry) error {
	if r.EnvKey == "" || strings.ContainsAny(r.EnvKey, "=\x00") {
		return fmt.Errorf("env_key %q is not an environment variable name", r.EnvKey)
	}
	if !strings.HasPrefix(r.UDSPath, "/") {
		return fmt.Errorf("uds_path %q for %s is not an absolute path", r.UDSPath, r.EnvKey)
	}
	if strings.ContainsRune(r.UDSPath, 0) {
		return fmt.Errorf("uds_path %q for %s contains a NUL byte", r.UDSPath, r.EnvKey)
	}
	if len(r.UDSPath) > maxSunPath {
		return fmt.Errorf("uds_path %q for %s is %d bytes, longer than the %d-byte unix socket address limit", r.UDSPath, r.EnvKey, len(r.UDSPath), maxSunPath)
	}
	return nil
}

// MarshalRouteSpec renders routes as the helper's compact route spec JSON,
// in the given order, with only env_key and uds_path (no proxy URLs).
// Like serde_json, it does not escape <, > and &, and it refuses strings
// that are not valid UTF-8 rather than mangling them.
func MarshalRouteSpec(routes []policy.ProxyRoute) (string, error) {
	if len(routes) == 0 {
		return "", errors.New("proxy routing spec contained no routes")
	}
	spec := routeSpec{Routes: make([]routeSpecEntry, 0, len(routes))}
	for i, r := range routes {
		e := routeSpecEntry{EnvKey: r.EnvKey, UDSPath: r.UDSPath}
		if err := checkRouteEntry(e); err != nil {
			return "", fmt.Errorf("cannot serialise proxy route %d: %w", i, err)
		}
		if !utf8.ValidString(e.EnvKey) || !utf8.ValidString(e.UDSPath) {
			return "", fmt.Errorf("cannot serialise proxy route %d (%q): not valid UTF-8", i, e.EnvKey)
		}
		spec.Routes = append(spec.Routes, e)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(spec); err != nil {
		return "", fmt.Errorf("cannot serialise proxy routing spec: %w", err)
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

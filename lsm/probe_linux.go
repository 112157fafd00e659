package lsm

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// lsmListPath lists the active LSMs (securityfs; may be unmounted, e.g.
// in containers).
const lsmListPath = "/sys/kernel/security/lsm"

// Probe asks the kernel which Landlock ABI and errata it offers, with
// landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION|ERRATA).
func Probe() Status {
	abi, err := landlockCreateRuleset(nil, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if err != nil {
		return Status{Reason: unavailableReason(err)}
	}
	s := Status{ABI: abi, Available: abi >= 1}
	if !s.Available {
		s.Reason = fmt.Sprintf("kernel reports Landlock ABI %d", abi)
		return s
	}
	// The errata query exists since Linux 6.15 (and in backports); older
	// kernels reject the flag with EINVAL, which means "no errata fixed".
	if e, err := landlockCreateRuleset(nil, 0, unix.LANDLOCK_CREATE_RULESET_ERRATA); err == nil {
		s.Errata = e
	}
	if s.EffectiveABI() != s.ABI {
		s.Reason = fmt.Sprintf("kernel lacks the Landlock signal-scoping fix (erratum 2): scopes disabled, rules built for ABI %d; upgrade the kernel", s.EffectiveABI())
	}
	return s
}

// unavailableReason turns the version query's error into advice.
func unavailableReason(err error) string {
	lsms := activeLSMs()
	switch {
	case errors.Is(err, unix.ENOSYS):
		return "kernel has no Landlock system calls (ENOSYS): it predates Linux 5.13, is built without CONFIG_SECURITY_LANDLOCK, or a seccomp filter (container runtime) blocks them"
	case errors.Is(err, unix.EOPNOTSUPP):
		r := "Landlock is built in but not enabled at boot (EOPNOTSUPP): add \"landlock\" to the lsm= kernel parameter"
		if lsms != "" {
			r += " (active LSMs: " + lsms + ")"
		}
		return r
	default:
		return fmt.Sprintf("landlock_create_ruleset version query failed: %v", err)
	}
}

// activeLSMs returns the kernel's active LSM list, or "" when securityfs
// is not mounted here.
func activeLSMs() string {
	b, err := os.ReadFile(lsmListPath)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

package policy

// Reconciliation of the helper's three policy flags
// (resolve_sandbox_policies, spec codex-helper.md §1.8).

import (
	"errors"
	"fmt"
)

// ResolvedPolicies is the effective policy triple the helper runs with.
// All three are always forwarded (re-serialised) to the inner stage.
type ResolvedPolicies struct {
	Legacy SandboxPolicy
	FS     FileSystemPolicy
	Net    NetworkPolicy
}

// The fixed resolution errors; their messages are the helper's, which
// callers match on.
var (
	ErrPartialSplitPolicies = errors.New("file-system and network sandbox policies must be provided together")
	ErrMissingPolicy        = errors.New("missing sandbox policy configuration")
)

// PolicyMismatchError is returned when a legacy policy is given together
// with split policies that it does not mean the same thing as.
type PolicyMismatchError struct {
	Provided, Derived SandboxPolicy
}

func (e *PolicyMismatchError) Error() string {
	// Rust Debug formatting of both policies, as the helper prints them.
	return fmt.Sprintf("legacy sandbox policy must match split sandbox policies: provided=%s, derived=%s", e.Provided, e.Derived)
}

// ResolveHelperPolicies parses and reconciles --sandbox-policy,
// --file-system-sandbox-policy and --network-sandbox-policy ("" means the
// flag was absent) against the policy cwd (--sandbox-policy-cwd):
//
//   - legacy + split: accepted as-is when the split filesystem policy
//     needs direct runtime enforcement; otherwise the legacy policy derived
//     from the split pair must mean the same as the provided one;
//   - legacy only: the split pair is derived from it;
//   - split only: the legacy policy is derived from it (so writes outside
//     the cwd need all three flags);
//   - neither: ErrMissingPolicy; only one of the split pair:
//     ErrPartialSplitPolicies.
//
// Parse errors come first (as with the helper's argument parser) and are
// prefixed with the flag name.
func ResolveHelperPolicies(fsys FS, legacyJSON, fsJSON, netJSON, cwd string) (ResolvedPolicies, error) {
	var (
		legacy  SandboxPolicy
		fsPol   FileSystemPolicy
		net     NetworkPolicy
		err     error
		haveLeg = legacyJSON != ""
		haveFS  = fsJSON != ""
		haveNet = netJSON != ""
	)
	if haveLeg {
		if legacy, err = ParseSandboxPolicy(legacyJSON); err != nil {
			return ResolvedPolicies{}, fmt.Errorf("--sandbox-policy: %w", err)
		}
	}
	if haveFS {
		if fsPol, err = ParseFileSystemPolicy(fsJSON); err != nil {
			return ResolvedPolicies{}, fmt.Errorf("--file-system-sandbox-policy: %w", err)
		}
	}
	if haveNet {
		if net, err = ParseNetworkPolicy(netJSON); err != nil {
			return ResolvedPolicies{}, fmt.Errorf("--network-sandbox-policy: %w", err)
		}
	}
	if haveFS != haveNet {
		return ResolvedPolicies{}, ErrPartialSplitPolicies
	}
	haveSplit := haveFS
	switch {
	case haveLeg && haveSplit:
		if fsPol.NeedsDirectRuntimeEnforcement(fsys, net, cwd) {
			return ResolvedPolicies{Legacy: legacy, FS: fsPol, Net: net}, nil
		}
		derived, err := fsPol.ToLegacy(fsys, net, cwd)
		if err != nil {
			return ResolvedPolicies{}, fmt.Errorf("split sandbox policies require direct runtime enforcement and cannot be paired with legacy sandbox policy: %w", err)
		}
		if !SemanticallyEqual(legacy, derived, fsys, cwd) {
			return ResolvedPolicies{}, &PolicyMismatchError{Provided: legacy, Derived: derived}
		}
		return ResolvedPolicies{Legacy: legacy, FS: fsPol, Net: net}, nil
	case haveLeg:
		return ResolvedPolicies{
			Legacy: legacy,
			FS:     FileSystemPolicyFromLegacyWithCwd(fsys, legacy, cwd),
			Net:    NetworkPolicyFromLegacy(legacy),
		}, nil
	case haveSplit:
		derived, err := fsPol.ToLegacy(fsys, net, cwd)
		if err != nil {
			return ResolvedPolicies{}, fmt.Errorf("failed to derive legacy sandbox policy from split policies: %w", err)
		}
		return ResolvedPolicies{Legacy: derived, FS: fsPol, Net: net}, nil
	}
	return ResolvedPolicies{}, ErrMissingPolicy
}

// SemanticallyEqual is legacy_sandbox_policies_match_semantics: the same
// network policy, and the same semantic signature (full read, full write,
// platform defaults, readable, writable and unreadable roots) after
// converting each with FileSystemPolicyFromLegacyWithCwd.
func SemanticallyEqual(a, b SandboxPolicy, fsys FS, cwd string) bool {
	if NetworkPolicyFromLegacy(a) != NetworkPolicyFromLegacy(b) {
		return false
	}
	sa := FileSystemPolicyFromLegacyWithCwd(fsys, a, cwd).signature(fsys, cwd)
	sb := FileSystemPolicyFromLegacyWithCwd(fsys, b, cwd).signature(fsys, cwd)
	return sa.equal(sb)
}

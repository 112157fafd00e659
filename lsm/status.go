package lsm

import "fmt"

// Status is what the running kernel offers (see Probe).
type Status struct {
	// ABI is the Landlock ABI version the kernel reports (0: none).
	ABI int `json:"abi"`
	// Errata is the bitmask of fixed Landlock errata the kernel reports
	// (LANDLOCK_CREATE_RULESET_ERRATA; 0 on kernels that predate it).
	Errata int `json:"errata"`
	// Available: Landlock can be used at all.
	Available bool `json:"available"`
	// Reason says why Landlock is unavailable (or, when available, names
	// any downgrade); empty when there is nothing to say.
	Reason string `json:"reason,omitempty"`
}

// EffectiveABI is the ABI zbox builds rulesets for: ABI, except that
// kernels reporting ABI 6+ without the signal-scoping erratum are treated
// as ABI 5 (no scopes), as go-landlock does.
func (s Status) EffectiveABI() int {
	if !s.Available || s.ABI < 0 {
		return 0
	}
	if s.ABI >= 6 && s.Errata&erratumSignalScope == 0 {
		return 5
	}
	return s.ABI
}

// String is one line for `zbox doctor`.
func (s Status) String() string {
	if !s.Available {
		if s.Reason == "" {
			return "Landlock: unavailable"
		}
		return "Landlock: unavailable: " + s.Reason
	}
	line := fmt.Sprintf("Landlock: ABI %d, errata %#x", s.ABI, s.Errata)
	if eff := s.EffectiveABI(); eff != s.ABI {
		line += fmt.Sprintf(" (used as ABI %d: signal-scoping fix missing, no scopes)", eff)
	}
	switch eff := s.EffectiveABI(); {
	case eff >= 6:
		line += "; filesystem rules and signal/abstract-unix scopes enforceable"
	default:
		line += "; filesystem rules enforceable, scopes need ABI 6"
	}
	return line
}

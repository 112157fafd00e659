//go:build !linux

package lsm

import (
	"fmt"

	"github.com/zbox-sandbox/zbox/policy"
)

// Probe reports Landlock as unavailable: it is a Linux LSM.
func Probe() Status { return Status{Reason: "Landlock is a Linux feature"} }

// RestrictThread enforces nothing off Linux; it fails when spec requires
// filesystem rules.
func RestrictThread(spec policy.LandlockSpec) (Report, error) {
	if err := validateSpec(spec); err != nil {
		return Report{}, err
	}
	rep := Plan(spec, 0)
	if spec.Required && spec.FS {
		return rep, fmt.Errorf("%w: Landlock is a Linux feature", ErrNotEnforced)
	}
	return rep, nil
}

// RunOnDisposableThread runs fn (no per-thread state to isolate here).
func RunOnDisposableThread(fn func()) { fn() }

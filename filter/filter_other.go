//go:build !linux

package filter

import (
	"errors"
	"fmt"
)

// InstallOnThread is only implemented on Linux; elsewhere it fails for
// any non-empty progs so that no caller can believe a filter is active.
func InstallOnThread(progs []Program) error {
	if len(progs) == 0 {
		return nil
	}
	return fmt.Errorf("filter: seccomp is Linux-only: %w", errors.ErrUnsupported)
}

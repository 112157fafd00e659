//go:build linux && !amd64 && !arm64

package direct

import "golang.org/x/sys/unix"

// sysFstatat is fstatat(2) on architectures without an arch file.
const sysFstatat = unix.SYS_FSTATAT

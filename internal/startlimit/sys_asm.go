//go:build linux && (amd64 || arm64)

package startlimit

// getNofile is in sys_$GOARCH.s.
//
//go:noescape
func getNofile(old *[2]uint64) (errno uintptr)

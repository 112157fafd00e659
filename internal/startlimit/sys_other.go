//go:build !linux || !(amd64 || arm64)

package startlimit

// getNofile fails where no assembly reads the limit: NoFile reports it
// unknown, and children keep the raised soft limit.
func getNofile(old *[2]uint64) (errno uintptr) { return 38 } // ENOSYS

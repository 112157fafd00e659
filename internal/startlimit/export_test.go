package startlimit

// SetStart replaces the recorded start value and returns a function that
// puts the real one back. (No imports here: an import in any of this
// package's own test files would order its init after syscall's.)
func SetStart(cur, max uint64, ok bool) (undo func()) {
	saved, savedOK := nofile, captured
	nofile, captured = [2]uint64{cur, max}, ok
	return func() { nofile, captured = saved, savedOK }
}

//go:build cgo

package main

// zbox must be built with CGO_ENABLED=0. With cgo, syscall.AllThreadsSyscall
// returns ENOTSUP, so the capability drop and the Landlock fallback that
// apply to every thread would silently do nothing. This file does not
// compile on purpose: build with CGO_ENABLED=0.
var _ = zbox_must_be_built_with_CGO_ENABLED_0

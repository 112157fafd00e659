package mountns

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
)

// MountError is one failed setup step: what was being done, on which
// paths, the kernel's answer, and a hint where the cause is known.
type MountError struct {
	Op     string
	Source string
	Dest   string
	Err    error
	Hint   string
}

func (e *MountError) Error() string {
	s := e.Op
	if e.Source != "" && e.Dest != "" {
		s += fmt.Sprintf(" %s on %s", e.Source, e.Dest)
	} else if e.Dest != "" {
		s += " " + e.Dest
	} else if e.Source != "" {
		s += " " + e.Source
	}
	s += ": " + errText(e.Err)
	if e.Hint != "" {
		s += " (hint: " + e.Hint + ")"
	}
	return s
}

func (e *MountError) Unwrap() error { return e.Err }

func mountErr(op, src, dst string, err error) error {
	return &MountError{Op: op, Source: src, Dest: dst, Err: err, Hint: hint(err)}
}

// errText prints the errno the way the C tools do ("No such file or
// directory"), so messages read like bwrap's.
func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return capitalize(errno.Error())
	}
	return err.Error()
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	b := []byte(s)
	if b[0] >= 'a' && b[0] <= 'z' {
		b[0] -= 'a' - 'A'
	}
	return string(b)
}

func hint(err error) string {
	switch {
	case errors.Is(err, syscall.ENOSPC):
		return "mount limit reached; check /proc/sys/fs/mount-max"
	}
	return ""
}

package lsm

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/zbox-sandbox/zbox/policy"
)

// Landlock access rights and scopes, as in <linux/landlock.h>. They are
// kernel ABI (never renumbered), spelled out here so that the pure
// planning code builds on every GOOS; a Linux test checks them against
// golang.org/x/sys/unix.
const (
	accessExecute     uint64 = 1 << 0
	accessWriteFile   uint64 = 1 << 1
	accessReadFile    uint64 = 1 << 2
	accessReadDir     uint64 = 1 << 3
	accessRemoveDir   uint64 = 1 << 4
	accessRemoveFile  uint64 = 1 << 5
	accessMakeChar    uint64 = 1 << 6
	accessMakeDir     uint64 = 1 << 7
	accessMakeReg     uint64 = 1 << 8
	accessMakeSock    uint64 = 1 << 9
	accessMakeFifo    uint64 = 1 << 10
	accessMakeBlock   uint64 = 1 << 11
	accessMakeSym     uint64 = 1 << 12
	accessRefer       uint64 = 1 << 13 // ABI 2
	accessTruncate    uint64 = 1 << 14 // ABI 3
	accessIoctlDev    uint64 = 1 << 15 // ABI 5
	accessResolveUnix uint64 = 1 << 16 // ABI 9

	scopeAbstractUnix uint64 = 1 << 0 // ABI 6
	scopeSignal       uint64 = 1 << 1 // ABI 6

	// accessRead is what ReadPaths get.
	accessRead = accessExecute | accessReadFile | accessReadDir
	// accessFile is the subset of rights that make sense on a non-directory.
	// The kernel rejects a path-beneath rule on a file that carries any
	// other right with EINVAL (security/landlock ACCESS_FILE).
	accessFile = accessExecute | accessWriteFile | accessReadFile | accessTruncate | accessIoctlDev | accessResolveUnix
	// accessDevice is what the standard device nodes get: read, write,
	// O_TRUNC (shells open "> /dev/null" with O_TRUNC, which ABI 3 checks)
	// and device ioctls (ABI 5: terminals need TCGETS & co on a reopened
	// /dev/tty). Directories among them (/dev/pts) also get ReadDir.
	accessDevice = accessReadFile | accessWriteFile | accessTruncate | accessIoctlDev | accessReadDir

	// erratumSignalScope is the Landlock erratum bit for the fix that
	// always allows signals between threads of one process (kernel
	// security/landlock/errata/abi-6.h, erratum 2). Without it a thread
	// restricted with LANDLOCK_SCOPE_SIGNAL cannot signal its own
	// unrestricted sibling threads, which the Go runtime does (preemption,
	// GC). go-landlock downgrades such kernels to ABI 5; so do we.
	erratumSignalScope = 1 << 1
)

// DevicePaths are the device nodes every filesystem ruleset grants
// read+write (and device ioctl) on, whatever the spec says: the target
// needs them for ordinary I/O redirection and terminals. Missing ones are
// skipped. /dev/ptmx is included so that tools can allocate a pty (and
// reach its other end with TIOCGPTPEER, as glibc's openpty does).
//
// Not /dev/pts as a whole: a filesystem ruleset is the only wall of a
// sandbox without a private /dev (Landlock-only), where /dev/pts holds
// every terminal of the user, and a command could read what is typed
// into another one or write into it. The terminals the command's own
// stdio is on are added when the ruleset is built (StdioTerminals).
var DevicePaths = []string{
	"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom",
	"/dev/tty", "/dev/ptmx",
}

// ErrNotEnforced is wrapped by RestrictThread's error when the spec
// requires filesystem rules and the kernel cannot enforce them. Its text
// is the Codex helper's (SandboxErr::LandlockRestrict) on purpose.
var ErrNotEnforced = errors.New("Landlock was not able to fully enforce all sandbox rules")

// Report says what is (or, from Plan, would be) enforced.
type Report struct {
	// ABI is the Landlock ABI the ruleset was built for: the kernel's,
	// lowered to 5 when the kernel lacks the signal-scoping erratum, 0
	// when Landlock is unavailable.
	ABI int `json:"abi"`
	// FS: filesystem access rules are enforced.
	FS bool `json:"fs"`
	// Scoped: signals to, and abstract unix sockets of, processes outside
	// the domain are blocked.
	Scoped bool `json:"scoped"`
	// Missing lists, one phrase each, what the spec asked for that this
	// ABI cannot provide.
	Missing []string `json:"missing,omitempty"`

	// Added fields (not in the original brief):

	// Read and Write are the rule paths taken from the spec (cleaned,
	// de-duplicated, in order); DevicePaths come on top of Write.
	Read  []string `json:"read,omitempty"`
	Write []string `json:"write,omitempty"`
	// Skipped are paths that did not exist and got no rule (filled by
	// RestrictThread only; Plan does not touch the filesystem).
	Skipped []string `json:"skipped,omitempty"`
	// HandledFS is the ruleset's handled_access_fs bitmask and ScopeFlags
	// its scoped bitmask (LANDLOCK_ACCESS_FS_*, LANDLOCK_SCOPE_*).
	HandledFS  uint64 `json:"handled_fs,omitempty"`
	ScopeFlags uint64 `json:"scope_flags,omitempty"`
}

// handledFSAt is every filesystem right the given ABI knows. zbox handles
// all of them (like the helper's AccessFs::from_all), so anything a later
// ABI learns to restrict is restricted by default.
func handledFSAt(abi int) uint64 {
	switch {
	case abi <= 0:
		return 0
	case abi == 1:
		return accessRefer - 1 // bits 0..12
	case abi == 2:
		return accessTruncate - 1 // + refer
	case abi <= 4:
		return accessIoctlDev - 1 // + truncate (ABI 4 only adds network rights)
	case abi <= 8:
		return accessResolveUnix - 1 // + ioctl_dev
	default:
		return accessResolveUnix<<1 - 1 // + resolve_unix (ABI 9)
	}
}

// scopeAt is every scope the given ABI knows.
func scopeAt(abi int) uint64 {
	if abi >= 6 {
		return scopeAbstractUnix | scopeSignal
	}
	return 0
}

// Plan is what RestrictThread would enforce for spec on a kernel offering
// Landlock ABI abi (after any erratum downgrade). It is pure.
//
// Network (TCP/UDP) rights are never handled: the network is enforced by
// namespaces and seccomp, and a Landlock TCP rule set would also cut the
// proxy bridge.
func Plan(spec policy.LandlockSpec, abi int) Report {
	if abi < 0 {
		abi = 0
	}
	r := Report{ABI: abi}
	if spec.FS {
		r.Read = cleanPaths(spec.ReadPaths)
		r.Write = cleanPaths(spec.WritePaths)
		r.HandledFS = handledFSAt(abi)
		r.FS = r.HandledFS != 0
		switch {
		case abi < 1:
			r.Missing = append(r.Missing, "filesystem rules (Landlock unavailable): every path stays accessible")
		default:
			if abi < 2 {
				r.Missing = append(r.Missing, "refer (ABI 2): renaming or linking files across directories is always denied")
			}
			if abi < 3 {
				r.Missing = append(r.Missing, "truncate control (ABI 3): truncate(2) on readable paths is not restricted")
			}
			if abi < 5 {
				r.Missing = append(r.Missing, "device ioctl control (ABI 5): ioctl on device files is not restricted")
			}
			if abi < 9 {
				r.Missing = append(r.Missing, "unix socket control (ABI 9): connecting to pathname unix sockets is not restricted")
			}
		}
	}
	if spec.Scope {
		r.ScopeFlags = scopeAt(abi)
		r.Scoped = r.ScopeFlags != 0
		if !r.Scoped {
			r.Missing = append(r.Missing, "scope (ABI 6): signals and abstract unix sockets reaching outside the sandbox are not blocked")
		}
	}
	return r
}

// readRights and writeRights are the rights a read or write rule grants
// under the ruleset r describes (never more than it handles).
func (r Report) readRights() uint64   { return accessRead & r.HandledFS }
func (r Report) writeRights() uint64  { return r.HandledFS }
func (r Report) deviceRights() uint64 { return accessDevice & r.HandledFS }

// LegacySpec is the Codex helper's legacy Landlock pipeline
// (--use-legacy-landlock, spec §5.4): read everywhere, write /dev/null and
// the writable roots, and fail when the kernel cannot enforce it. Like the
// helper (ABI V5) it does not scope signals or abstract sockets.
func LegacySpec(writableRoots []string) policy.LandlockSpec {
	return policy.LandlockSpec{
		FS:         true,
		ReadPaths:  []string{"/"},
		WritePaths: append([]string{"/dev/null"}, writableRoots...),
		Required:   true,
	}
}

// validateSpec rejects paths the kernel would interpret relative to the
// restricting thread's cwd, or cannot take at all.
func validateSpec(spec policy.LandlockSpec) error {
	for _, set := range []struct {
		name  string
		paths []string
	}{{"read", spec.ReadPaths}, {"write", spec.WritePaths}} {
		for _, p := range set.paths {
			switch {
			case p == "":
				return fmt.Errorf("landlock: empty path in the %s rules: the policy must list absolute paths", set.name)
			case strings.IndexByte(p, 0) >= 0:
				return fmt.Errorf("landlock: path %q in the %s rules contains a NUL byte", p, set.name)
			case !filepath.IsAbs(p):
				return fmt.Errorf("landlock: path %q in the %s rules is not absolute: resolve it against the policy cwd first", p, set.name)
			}
		}
	}
	return nil
}

// cleanPaths cleans and de-duplicates paths, keeping the first
// occurrence's position.
func cleanPaths(paths []string) []string {
	if len(paths) == 0 {
		return nil
	}
	out := make([]string, 0, len(paths))
	seen := make(map[string]bool, len(paths))
	for _, p := range paths {
		c := filepath.Clean(p)
		if p == "" || seen[c] {
			continue
		}
		seen[c] = true
		out = append(out, c)
	}
	return out
}

// String is one line, e.g. "Landlock ABI 7: filesystem (read /usr,/etc;
// write /work; devices rw), scope signals+abstract-unix".
func (r Report) String() string {
	var parts []string
	if r.FS {
		fs := "filesystem (read " + listPaths(r.Read) + "; write " + listPaths(r.Write) + "; devices rw"
		if len(r.Skipped) > 0 {
			fs += "; skipped missing " + listPaths(r.Skipped)
		}
		parts = append(parts, fs+")")
	}
	if r.Scoped {
		parts = append(parts, "scope signals+abstract-unix")
	}
	var b strings.Builder
	if r.ABI == 0 {
		b.WriteString("Landlock unavailable")
	} else {
		fmt.Fprintf(&b, "Landlock ABI %d", r.ABI)
	}
	b.WriteString(": ")
	if len(parts) == 0 {
		b.WriteString("nothing enforced")
	} else {
		b.WriteString(strings.Join(parts, ", "))
	}
	if len(r.Missing) > 0 {
		b.WriteString("; missing: ")
		b.WriteString(strings.Join(r.Missing, "; "))
	}
	return b.String()
}

// listPaths renders at most four paths, then a count.
func listPaths(p []string) string {
	const max = 4
	switch {
	case len(p) == 0:
		return "none"
	case len(p) <= max:
		return strings.Join(p, ",")
	default:
		return strings.Join(p[:max], ",") + fmt.Sprintf("…+%d", len(p)-max)
	}
}

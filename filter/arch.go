package filter

import (
	"errors"
	"fmt"

	seccomparch "github.com/elastic/go-seccomp-bpf/arch"
)

// ErrUnsupportedArch is returned (wrapped) by Build for an architecture
// other than amd64 and arm64.
var ErrUnsupportedArch = errors.New("unsupported architecture")

// archInfo is what the assembler needs to know about one target ABI.
type archInfo struct {
	goarch string
	// audit is the AUDIT_ARCH_* value the kernel reports in
	// seccomp_data.arch for the *native* ABI of this architecture. Any
	// other value (i386 via int $0x80 on x86_64, AArch32 compat tasks on
	// arm64) means the syscall number belongs to a different table and
	// none of our number comparisons would mean anything.
	audit uint32
	// x32 is set on amd64: the x32 ABI shares AUDIT_ARCH_X86_64 and is
	// distinguished only by bit 30 (__X32_SYSCALL_BIT) of the number.
	x32 bool
	// nums maps syscall names to numbers for this ABI.
	nums map[string]int
}

// x32SyscallBit is __X32_SYSCALL_BIT (arch/x86/include/uapi/asm/unistd.h).
const x32SyscallBit = 0x40000000

// arches is keyed by GOARCH. The syscall tables come from
// go-seccomp-bpf's arch package: unlike golang.org/x/sys/unix (which only
// has SYS_* constants for the architecture being compiled), it carries the
// tables of every architecture in portable Go, so a filter for arm64 can
// be assembled (and unit-tested) on an amd64 host and vice versa. The
// tables are cross-checked against hard-coded kernel numbers and against
// unix.SYS_* for the host in the tests.
//
// Both targets are little-endian; the argument offsets in argLow/argHigh
// rely on that. A big-endian target would need them swapped.
var arches = map[string]archInfo{
	"amd64": {
		goarch: "amd64",
		audit:  uint32(seccomparch.X86_64.ID),
		x32:    true,
		nums:   seccomparch.X86_64.SyscallNames,
	},
	"arm64": {
		goarch: "arm64",
		audit:  uint32(seccomparch.AARCH64.ID),
		nums:   seccomparch.AARCH64.SyscallNames,
	},
}

func lookupArch(goarch string) (archInfo, error) {
	ai, ok := arches[goarch]
	if !ok {
		return archInfo{}, fmt.Errorf("filter: %w %q: zbox's seccomp filter can only be built for amd64 and arm64", ErrUnsupportedArch, goarch)
	}
	return ai, nil
}

// number returns the syscall number of name on this ABI.
func (ai archInfo) number(name string) (uint32, error) {
	n, ok := ai.nums[name]
	if !ok {
		return 0, fmt.Errorf("filter: syscall %q has no number on %s (syscall table of go-seccomp-bpf)", name, ai.goarch)
	}
	return uint32(n), nil
}

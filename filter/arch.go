package filter

import (
	"errors"
	"fmt"
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

// arches is keyed by GOARCH. The syscall numbers are those of the
// kernel's uapi tables (arch/x86/entry/syscalls/syscall_64.tbl and the
// generic table arm64 uses) for exactly the calls zbox's rules name. They
// are spelled out rather than read from go-seccomp-bpf's arch package at
// run time: that package builds its complete multi-architecture tables in
// an init function, which cost every zbox process (two per sandbox)
// about 0.2 ms of start-up. The tests cross-check every entry against
// go-seccomp-bpf's tables and against unix.SYS_* on the host.
//
// Both targets are little-endian; the argument offsets in argLow/argHigh
// rely on that. A big-endian target would need them swapped.
var arches = map[string]archInfo{
	"amd64": {
		goarch: "amd64",
		audit:  auditArchX86_64,
		x32:    true,
		nums: map[string]int{
			"ioctl": 16, "socket": 41, "connect": 42, "accept": 43, "sendto": 44,
			"shutdown": 48, "bind": 49, "listen": 50, "getsockname": 51,
			"getpeername": 52, "socketpair": 53, "setsockopt": 54,
			"getsockopt": 55, "ptrace": 101, "accept4": 288, "recvmmsg": 299,
			"sendmmsg": 307, "process_vm_readv": 310, "process_vm_writev": 311,
			"io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
			"pidfd_getfd": 438,
		},
	},
	"arm64": {
		goarch: "arm64",
		audit:  auditArchAArch64,
		nums: map[string]int{
			"ioctl": 29, "ptrace": 117, "socket": 198, "socketpair": 199, "bind": 200,
			"listen": 201, "accept": 202, "connect": 203, "getsockname": 204,
			"getpeername": 205, "sendto": 206, "setsockopt": 208,
			"getsockopt": 209, "shutdown": 210, "accept4": 242, "recvmmsg": 243,
			"sendmmsg": 269, "process_vm_readv": 270, "process_vm_writev": 271,
			"io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
			"pidfd_getfd": 438,
		},
	},
}

// AUDIT_ARCH_* values (include/uapi/linux/audit.h): EM_X86_64 / EM_AARCH64
// with __AUDIT_ARCH_64BIT|__AUDIT_ARCH_LE.
const (
	auditArchX86_64  = 0xc000003e
	auditArchAArch64 = 0xc00000b7
)

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
		return 0, fmt.Errorf("filter: syscall %q has no number on %s (not in zbox's table: add it to filter/arch.go)", name, ai.goarch)
	}
	return uint32(n), nil
}

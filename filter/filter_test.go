package filter

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	seccomp "github.com/elastic/go-seccomp-bpf"
	seccomparch "github.com/elastic/go-seccomp-bpf/arch"

	"github.com/zbox-sandbox/zbox/policy"
)

// ---------------------------------------------------------------------
// A classic-BPF interpreter for seccomp programs (test-only). It covers
// every opcode seccomp_check_filter accepts, so it can also run programs
// that ParseRaw accepted from the fuzzer.

type seccompData struct {
	nr   uint32
	arch uint32
	ip   uint64
	args [6]uint64
}

func (d seccompData) bytes() []byte {
	b := make([]byte, seccompDataSize)
	binary.LittleEndian.PutUint32(b[0:], d.nr)
	binary.LittleEndian.PutUint32(b[4:], d.arch)
	binary.LittleEndian.PutUint64(b[8:], d.ip)
	for i, a := range d.args {
		binary.LittleEndian.PutUint64(b[16+8*i:], a)
	}
	return b
}

func run(prog []Insn, d seccompData) (uint32, error) {
	mem := d.bytes()
	var a, x uint32
	var m [bpfMemWords]uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		switch in.Code {
		case bpfLD | bpfW | bpfABS:
			if in.K >= seccompDataSize || in.K%4 != 0 {
				return 0, fmt.Errorf("pc %d: bad load offset %d", pc, in.K)
			}
			a = binary.LittleEndian.Uint32(mem[in.K:])
		case bpfLD | bpfW | bpfLEN:
			a = seccompDataSize
		case bpfLDX | bpfW | bpfLEN:
			x = seccompDataSize
		case bpfLD | bpfIMM:
			a = in.K
		case bpfLDX | bpfIMM:
			x = in.K
		case bpfLD | bpfMEM, bpfLDX | bpfMEM, bpfST, bpfSTX:
			if in.K >= bpfMemWords {
				return 0, fmt.Errorf("pc %d: bad memory cell %d", pc, in.K)
			}
			switch in.Code {
			case bpfLD | bpfMEM:
				a = m[in.K]
			case bpfLDX | bpfMEM:
				x = m[in.K]
			case bpfST:
				m[in.K] = a
			default:
				m[in.K] = x
			}
		case bpfMISC | bpfTAX:
			x = a
		case bpfMISC | bpfTXA:
			a = x
		case bpfRET | bpfK:
			return in.K, nil
		case bpfRET | bpfA:
			return a, nil
		case bpfJMP | bpfJA:
			pc += int(in.K)
		default:
			src := in.K
			if in.Code&bpfX != 0 {
				src = x
			}
			switch in.Code & 0x07 {
			case bpfALU:
				switch in.Code & 0xf0 {
				case bpfADD:
					a += src
				case bpfSUB:
					a -= src
				case bpfMUL:
					a *= src
				case bpfDIV:
					if src == 0 {
						return 0, nil // the kernel aborts the program with 0
					}
					a /= src
				case bpfOR:
					a |= src
				case bpfAND:
					a &= src
				case bpfXOR:
					a ^= src
				case bpfLSH:
					a <<= src & 31
				case bpfRSH:
					a >>= src & 31
				case bpfNEG:
					a = -a
				default:
					return 0, fmt.Errorf("pc %d: unknown ALU op %#x", pc, in.Code)
				}
			case bpfJMP:
				var cond bool
				switch in.Code & 0xf0 {
				case bpfJEQ:
					cond = a == src
				case bpfJGT:
					cond = a > src
				case bpfJGE:
					cond = a >= src
				case bpfJSET:
					cond = a&src != 0
				default:
					return 0, fmt.Errorf("pc %d: unknown jump %#x", pc, in.Code)
				}
				if cond {
					pc += int(in.Jt)
				} else {
					pc += int(in.Jf)
				}
			default:
				return 0, fmt.Errorf("pc %d: unknown opcode %#x", pc, in.Code)
			}
		}
	}
	return 0, errors.New("fell off the end of the program")
}

// ---------------------------------------------------------------------
// Golden syscall numbers, written out from the kernel's tables
// (arch/x86/entry/syscalls/syscall_64.tbl, include/uapi/asm-generic/
// unistd.h) independently of go-seccomp-bpf.

var golden = map[string]map[string]uint32{
	"amd64": {
		"read": 0, "ioctl": 16, "getpid": 39, "getppid": 110, "socket": 41, "connect": 42, "accept": 43,
		"sendto": 44, "recvfrom": 45, "sendmsg": 46, "recvmsg": 47, "shutdown": 48,
		"bind": 49, "listen": 50, "getsockname": 51, "getpeername": 52, "socketpair": 53,
		"setsockopt": 54, "getsockopt": 55, "ptrace": 101, "prctl": 157, "accept4": 288,
		"recvmmsg": 299, "sendmmsg": 307, "process_vm_readv": 310, "process_vm_writev": 311,
		"seccomp": 317, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
		"pidfd_getfd": 438,
	},
	"arm64": {
		"read": 63, "ioctl": 29, "getpid": 172, "getppid": 173, "socket": 198, "socketpair": 199, "bind": 200,
		"listen": 201, "accept": 202, "connect": 203, "getsockname": 204, "getpeername": 205,
		"sendto": 206, "recvfrom": 207, "setsockopt": 208, "getsockopt": 209, "shutdown": 210,
		"sendmsg": 211, "recvmsg": 212, "ptrace": 117, "prctl": 167, "accept4": 242,
		"recvmmsg": 243, "sendmmsg": 269, "process_vm_readv": 270, "process_vm_writev": 271,
		"seccomp": 277, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
		"pidfd_getfd": 438,
	},
}

const (
	auditX8664   = 0xc000003e
	auditAArch64 = 0xc00000b7
	auditI386    = 0x40000003
	auditARM     = 0x40000028
)

var goldenAudit = map[string]uint32{"amd64": auditX8664, "arm64": auditAArch64}

func TestSyscallTablesMatchKernel(t *testing.T) {
	for goarch, want := range golden {
		ai, err := lookupArch(goarch)
		if err != nil {
			t.Fatal(err)
		}
		if ai.audit != goldenAudit[goarch] {
			t.Errorf("%s: audit arch %#x, want %#x", goarch, ai.audit, goldenAudit[goarch])
		}
		for name, nr := range want {
			if _, used := ai.nums[name]; !used {
				continue // a control syscall of the tests, not in zbox's rules
			}
			got, err := ai.number(name)
			if err != nil {
				t.Errorf("%s: %v", goarch, err)
				continue
			}
			if got != nr {
				t.Errorf("%s: %s = %d in go-seccomp-bpf's table, kernel says %d", goarch, name, got, nr)
			}
		}
	}
}

// ---------------------------------------------------------------------
// An independent model of the intended policy, written from the spec
// (not from rulesFor), used to check every assembled program.

func model(spec policy.FilterSpec, goarch string, d seccompData) uint32 {
	const deny = retErrno | errnoEPERM
	if d.arch != goldenAudit[goarch] {
		return retKillProcess
	}
	if goarch == "amd64" && d.nr >= 0x40000000 && d.nr < 0x80000000 {
		return retKillProcess
	}
	name := ""
	for n, nr := range golden[goarch] {
		if nr == d.nr {
			name = n
		}
	}
	if name == "" {
		// Not in the golden table: must be none of ours. Guard against
		// the golden table missing a name the filter uses.
		return retAllow
	}
	a0, lo := d.args[0], uint32(d.args[0])
	switch name {
	case "ptrace", "pidfd_getfd", "io_uring_setup", "io_uring_enter", "io_uring_register":
		return deny
	case "process_vm_readv", "process_vm_writev":
		if spec.DenyProcessVM {
			return deny
		}
	case "ioctl":
		// The request number is an unsigned int: only the low half.
		if spec.DenyTerminalInjection && (uint32(d.args[1]) == 0x5412 || uint32(d.args[1]) == 0x541C) {
			return deny
		}
		// Interface queries, when asked for.
		if r := uint32(d.args[1]); spec.DenyInterfaceIoctls && (r >= 0x8910 && r < 0x8a00 || r >= 0x8b00 && r < 0x8c00) {
			return deny
		}
	}
	switch spec.Network {
	case policy.SeccompRestricted:
		switch name {
		case "connect", "accept", "accept4", "bind", "listen", "getpeername", "getsockname",
			"shutdown", "sendto", "sendmmsg", "recvmmsg", "getsockopt", "setsockopt":
			return deny
		case "socket", "socketpair":
			if a0 != afUnix {
				return deny
			}
			// Only the connection types: a datagram socket (SOCK_RAW is
			// one too for AF_UNIX), even a socketpair end, could sendmsg
			// to any datagram socket by path.
			if t := uint32(d.args[1]) & 0xf; t != 1 && t != 5 {
				return deny
			}
		}
	case policy.SeccompProxyRouted:
		switch name {
		case "socket":
			if a0 != afInet && a0 != afInet6 {
				return deny
			}
		case "socketpair":
			if lo == afUnix {
				return deny
			}
		}
	}
	return retAllow
}

var allModes = []policy.SeccompMode{policy.SeccompNone, policy.SeccompRestricted, policy.SeccompProxyRouted}

func mustBuild(t testing.TB, spec policy.FilterSpec, goarch string) Program {
	t.Helper()
	progs, err := Build(spec, goarch)
	if err != nil {
		t.Fatalf("Build(%+v, %s): %v", spec, goarch, err)
	}
	if len(progs) != 1 {
		t.Fatalf("Build(%+v, %s) = %d programs, want 1", spec, goarch, len(progs))
	}
	return progs[0]
}

func actionName(r uint32) string {
	switch {
	case r == retAllow:
		return "ALLOW"
	case r == retKillProcess:
		return "KILL_PROCESS"
	case r&^retDataMask == retErrno:
		return fmt.Sprintf("ERRNO(%d)", r&retDataMask)
	}
	return fmt.Sprintf("%#x", r)
}

// call builds seccomp_data for a native syscall of goarch.
func call(goarch, name string, args ...uint64) seccompData {
	nr, ok := golden[goarch][name]
	if !ok {
		panic("no golden number for " + name)
	}
	d := seccompData{nr: nr, arch: goldenAudit[goarch]}
	copy(d.args[:], args)
	return d
}

func TestBuildPolicyTable(t *testing.T) {
	const (
		allow = retAllow
		eperm = retErrno | errnoEPERM
		kill  = retKillProcess
		hi    = uint64(1) << 32
	)
	const (
		afNetlink = 16
		afPacket  = 17
		afVsock   = 40
	)
	type tc struct {
		name  string
		mode  policy.SeccompMode
		vm    bool
		arch  string // "" = both
		data  func(goarch string) seccompData
		want  uint32
		notes string
	}
	sys := func(name string, args ...uint64) func(string) seccompData {
		return func(goarch string) seccompData { return call(goarch, name, args...) }
	}
	raw := func(nr, audit uint32) func(string) seccompData {
		return func(string) seccompData { return seccompData{nr: nr, arch: audit} }
	}
	R, P, N := policy.SeccompRestricted, policy.SeccompProxyRouted, policy.SeccompNone
	cases := []tc{
		// Restricted mode.
		{name: "socket(AF_INET)", mode: R, data: sys("socket", afInet, 1), want: eperm},
		{name: "socket(AF_INET6)", mode: R, data: sys("socket", afInet6, 1), want: eperm},
		{name: "socket(AF_NETLINK)", mode: R, data: sys("socket", afNetlink, 3), want: eperm},
		{name: "socket(AF_PACKET)", mode: R, data: sys("socket", afPacket, 3), want: eperm},
		{name: "socket(AF_UNIX)", mode: R, data: sys("socket", afUnix, 1), want: allow},
		{name: "socket(AF_INET|1<<32)", mode: R, data: sys("socket", afInet|hi, 1), want: eperm},
		{name: "socket(AF_UNIX|1<<32) fails closed", mode: R, data: sys("socket", afUnix|hi, 1), want: eperm},
		{name: "socketpair(AF_UNIX)", mode: R, data: sys("socketpair", afUnix, 1), want: allow},
		{name: "socket(AF_UNIX, SOCK_DGRAM)", mode: R, data: sys("socket", afUnix, 2), want: eperm},
		{name: "socket(AF_UNIX, SOCK_DGRAM|SOCK_CLOEXEC)", mode: R, data: sys("socket", afUnix, 2|0x80000), want: eperm},
		{name: "socket(AF_UNIX, SOCK_SEQPACKET|SOCK_NONBLOCK)", mode: R, data: sys("socket", afUnix, 5|0x800), want: allow},
		{name: "socketpair(AF_UNIX, SOCK_DGRAM)", mode: R, data: sys("socketpair", afUnix, 2), want: eperm},
		{name: "socketpair(AF_UNIX, SOCK_SEQPACKET|SOCK_CLOEXEC)", mode: R, data: sys("socketpair", afUnix, 5|0x80000), want: allow},
		{name: "socket(AF_UNIX, SOCK_RAW): a datagram socket to the kernel", mode: R, data: sys("socket", afUnix, 3), want: eperm},
		{name: "socket(AF_UNIX, SOCK_RDM)", mode: R, data: sys("socket", afUnix, 4), want: eperm},
		{name: "socket(AF_UNIX, SOCK_STREAM | 1<<32 in the type)", mode: R, data: sys("socket", afUnix, 1|1<<32), want: allow},
		{name: "socketpair(AF_INET)", mode: R, data: sys("socketpair", afInet, 1), want: eperm},
		{name: "connect", mode: R, data: sys("connect", 3), want: eperm},
		{name: "accept", mode: R, data: sys("accept", 3), want: eperm},
		{name: "accept4", mode: R, data: sys("accept4", 3), want: eperm},
		{name: "bind", mode: R, data: sys("bind", 3), want: eperm},
		{name: "listen", mode: R, data: sys("listen", 3), want: eperm},
		{name: "getpeername", mode: R, data: sys("getpeername", 3), want: eperm},
		{name: "getsockname", mode: R, data: sys("getsockname", 3), want: eperm},
		{name: "shutdown", mode: R, data: sys("shutdown", 3), want: eperm},
		{name: "sendto", mode: R, data: sys("sendto", 3), want: eperm},
		{name: "sendmmsg", mode: R, data: sys("sendmmsg", 3), want: eperm},
		{name: "recvmmsg", mode: R, data: sys("recvmmsg", 3), want: eperm},
		{name: "getsockopt", mode: R, data: sys("getsockopt", 3), want: eperm},
		{name: "setsockopt", mode: R, data: sys("setsockopt", 3), want: eperm},
		{name: "recvfrom allowed (socketpair IPC)", mode: R, data: sys("recvfrom", 3), want: allow},
		{name: "sendmsg allowed", mode: R, data: sys("sendmsg", 3), want: allow},
		{name: "recvmsg allowed", mode: R, data: sys("recvmsg", 3), want: allow},
		// Proxy-routed mode.
		{name: "proxy socket(AF_INET)", mode: P, data: sys("socket", afInet, 1), want: allow},
		{name: "proxy socket(AF_INET6)", mode: P, data: sys("socket", afInet6, 1), want: allow},
		{name: "proxy socket(AF_UNIX)", mode: P, data: sys("socket", afUnix, 1), want: eperm},
		{name: "proxy socket(AF_NETLINK)", mode: P, data: sys("socket", afNetlink, 3), want: eperm},
		{name: "proxy socket(AF_PACKET)", mode: P, data: sys("socket", afPacket, 3), want: eperm},
		{name: "proxy socket(AF_VSOCK)", mode: P, data: sys("socket", afVsock, 1), want: eperm},
		{name: "proxy socket(AF_INET|1<<32) fails closed", mode: P, data: sys("socket", afInet|hi, 1), want: eperm},
		{name: "proxy socket(AF_UNIX|1<<32)", mode: P, data: sys("socket", afUnix|hi, 1), want: eperm},
		{name: "proxy socketpair(AF_UNIX)", mode: P, data: sys("socketpair", afUnix, 1), want: eperm},
		{name: "proxy socketpair(AF_UNIX|1<<32) no bypass", mode: P, data: sys("socketpair", afUnix|hi, 1), want: eperm},
		{name: "proxy socketpair(AF_UNIX|0xffffffff<<32) no bypass", mode: P, data: sys("socketpair", afUnix|0xffffffff00000000, 1), want: eperm},
		{name: "proxy socketpair(AF_INET)", mode: P, data: sys("socketpair", afInet, 1), want: allow},
		{name: "proxy connect allowed", mode: P, data: sys("connect", 3), want: allow},
		{name: "proxy bind allowed", mode: P, data: sys("bind", 3), want: allow},
		{name: "proxy sendto allowed", mode: P, data: sys("sendto", 3), want: allow},
		// No network rules.
		{name: "none socket(AF_INET)", mode: N, data: sys("socket", afInet, 1), want: allow},
		{name: "none connect", mode: N, data: sys("connect", 3), want: allow},
		// Always denied, every mode.
		{name: "ptrace", data: sys("ptrace", 16, 1), want: eperm},
		{name: "io_uring_setup", data: sys("io_uring_setup", 8), want: eperm},
		{name: "io_uring_enter", data: sys("io_uring_enter", 3), want: eperm},
		{name: "io_uring_register", data: sys("io_uring_register", 3), want: eperm},
		{name: "process_vm_readv allowed by default", data: sys("process_vm_readv", 1), want: allow},
		{name: "process_vm_readv with DenyProcessVM", vm: true, data: sys("process_vm_readv", 1), want: eperm},
		{name: "process_vm_writev with DenyProcessVM", vm: true, data: sys("process_vm_writev", 1), want: eperm},
		{name: "unrelated getpid", data: sys("getpid"), want: allow},
		{name: "unrelated read", data: sys("read", 0), want: allow},
		{name: "prctl stays allowed (stacking)", data: sys("prctl", 22), want: allow},
		{name: "seccomp stays allowed", data: sys("seccomp", 1), want: allow},
		// Foreign ABIs.
		{name: "i386 socket via int 0x80", data: raw(359, auditI386), want: kill},
		{name: "i386 getpid", data: raw(20, auditI386), want: kill},
		{name: "AArch32 socket", data: raw(281, auditARM), want: kill},
		{name: "unknown arch 0", data: raw(0, 0), want: kill},
		{name: "x86_64 audit arch on arm64", arch: "arm64", data: raw(41, auditX8664), want: kill},
		{name: "aarch64 audit arch on amd64", arch: "amd64", data: raw(198, auditAArch64), want: kill},
		{name: "x32 socket", arch: "amd64", data: raw(41|x32SyscallBit, auditX8664), want: kill},
		{name: "x32 getpid", arch: "amd64", data: raw(39|x32SyscallBit, auditX8664), want: kill},
		{name: "x32 range top", arch: "amd64", data: raw(0x7fffffff, auditX8664), want: kill},
		{name: "syscall(-1) is not x32", arch: "amd64", data: raw(0xffffffff, auditX8664), want: allow},
		{name: "nr 0x80000000 is not x32", arch: "amd64", data: raw(0x80000000, auditX8664), want: allow},
		{name: "arm64 has no x32 ABI", arch: "arm64", data: raw(39|x32SyscallBit, auditAArch64), want: allow},
	}
	for _, goarch := range []string{"amd64", "arm64"} {
		for _, c := range cases {
			if c.arch != "" && c.arch != goarch {
				continue
			}
			modes := allModes
			if c.mode != "" {
				modes = []policy.SeccompMode{c.mode}
			}
			for _, mode := range modes {
				spec := policy.FilterSpec{Enabled: true, Network: mode, DenyProcessVM: c.vm}
				t.Run(fmt.Sprintf("%s/%s/%s", goarch, mode, c.name), func(t *testing.T) {
					p := mustBuild(t, spec, goarch)
					d := c.data(goarch)
					got, err := run(p.Insns, d)
					if err != nil {
						t.Fatal(err)
					}
					if got != c.want {
						t.Errorf("got %s, want %s", actionName(got), actionName(c.want))
					}
					if m := model(spec, goarch, d); m != c.want {
						t.Errorf("test model disagrees with the table: %s", actionName(m))
					}
				})
			}
		}
	}
}

// interestingArg0 are first arguments that exercise every comparison:
// the families in the rules, their neighbours, and upper-half garbage.
var interestingArg0 = []uint64{
	0, afUnix, afInet, 3, afInet6, 11, 16, 17, 40, 0xffffffff,
	afUnix | 1<<32, afInet | 1<<32, afInet6 | 1<<32, afUnix | 0xffffffff00000000,
	1 << 63, 0xffffffffffffffff,
}

func foreignAudits(goarch string) []uint32 {
	return []uint32{goldenAudit[goarch], auditI386, auditARM, auditX8664, auditAArch64, 0, 0xffffffff}
}

// TestProgramsMatchModel runs every assembled program against the model
// for all syscall numbers of interest.
func TestProgramsMatchModel(t *testing.T) {
	var nrs []uint32
	for nr := uint32(0); nr < 600; nr++ {
		nrs = append(nrs, nr)
	}
	nrs = append(nrs, 0x3fffffff, 0x40000000, 0x40000000|41, 0x40000000|53, 0x7fffffff,
		0x80000000, 0x80000000|41, 0xbfffffff, 0xc0000000, 0xffffffff)
	for _, goarch := range []string{"amd64", "arm64"} {
		for _, mode := range allModes {
			for _, variant := range []int{0, 1, 2, 3} {
				vm, tty, iface := variant >= 1, variant == 2, variant == 3
				spec := policy.FilterSpec{Enabled: true, Network: mode, DenyProcessVM: vm, DenyTerminalInjection: tty, DenyInterfaceIoctls: iface}
				p := mustBuild(t, spec, goarch)
				if len(p.Insns) > 100 {
					t.Errorf("%s/%s: %d instructions, expected a short program", goarch, mode, len(p.Insns))
				}
				bad := 0
				for _, audit := range foreignAudits(goarch) {
					for _, nr := range nrs {
						for k, a0 := range interestingArg0 {
							// arg1 walks the terminal ioctls too (with
							// upper bits that the kernel ignores).
							a1 := []uint64{1, 0x5412, 0x541C, 0x5412 | 1<<32, 0x5413, 0xffffffff00005412,
								0x890f, 0x8910, 0x8912 | 1<<32, 0x89ff, 0x8a00, 0x8aff, 0x8b00, 0x8b1b, 0x8bff, 0x8c00, 0x8906}[(k+int(nr))%17]
							d := seccompData{nr: nr, arch: audit, args: [6]uint64{a0, a1, 2, 3, 4, 5}}
							got, err := run(p.Insns, d)
							if err != nil {
								t.Fatalf("%s/%s: %v", goarch, mode, err)
							}
							if want := model(spec, goarch, d); got != want && bad < 10 {
								bad++
								t.Errorf("%s/%s vm=%v nr=%#x arch=%#x arg0=%#x: got %s, want %s",
									goarch, mode, vm, nr, audit, a0, actionName(got), actionName(want))
							}
						}
					}
				}
			}
		}
	}
}

// TestAgreesWithGoSeccompBPF assembles the same policy with
// go-seccomp-bpf (which only targets the host architecture) and checks
// both programs give the same answers for native syscalls. The only
// intended difference is the proxy-mode socketpair rule, where the
// library's 64-bit "== AF_UNIX" is bypassable with upper bits and ours
// is not.
func TestAgreesWithGoSeccompBPF(t *testing.T) {
	info, err := seccomparch.GetInfo("")
	if err != nil {
		t.Skipf("go-seccomp-bpf has no syscall table for this host: %v", err)
	}
	goarch := ""
	for g, a := range goldenAudit {
		if a == uint32(info.ID) && info.Name != "x32" {
			goarch = g
		}
	}
	if goarch == "" {
		t.Skipf("host architecture %s is not a zbox target", info.Name)
	}
	for _, mode := range allModes {
		spec := policy.FilterSpec{Enabled: true, Network: mode, DenyProcessVM: true}
		ours := mustBuild(t, spec, goarch)

		names := append(append([]string{}, alwaysDenied...), processVM...)
		var withArgs []seccomp.NameWithConditions
		switch mode {
		case policy.SeccompRestricted:
			names = append(names, restrictedDenied...)
			for _, n := range []string{"socket", "socketpair"} {
				withArgs = append(withArgs, seccomp.NameWithConditions{Name: n, Conditions: seccomp.ArgumentConditions{
					{Argument: 0, Operation: seccomp.NotEqual, Value: afUnix}}})
			}
		case policy.SeccompProxyRouted:
			withArgs = append(withArgs,
				seccomp.NameWithConditions{Name: "socket", Conditions: seccomp.ArgumentConditions{
					{Argument: 0, Operation: seccomp.NotEqual, Value: afInet},
					{Argument: 0, Operation: seccomp.NotEqual, Value: afInet6}}},
				seccomp.NameWithConditions{Name: "socketpair", Conditions: seccomp.ArgumentConditions{
					{Argument: 0, Operation: seccomp.Equal, Value: afUnix}}})
		}
		pol := seccomp.Policy{
			DefaultAction: seccomp.ActionAllow,
			Syscalls:      []seccomp.SyscallGroup{{Action: seccomp.ActionErrno, Names: names, NamesWithCondtions: withArgs}},
		}
		lib, err := pol.Assemble()
		if err != nil {
			t.Fatalf("%s: go-seccomp-bpf: %v", mode, err)
		}
		var theirs []Insn
		for _, in := range lib {
			r, err := in.Assemble()
			if err != nil {
				t.Fatalf("%s: go-seccomp-bpf instruction %v: %v", mode, in, err)
			}
			theirs = append(theirs, Insn{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K})
		}
		if err := validate(theirs); err != nil {
			t.Fatalf("%s: our verifier rejects go-seccomp-bpf's program: %v", mode, err)
		}
		socketpair := golden[goarch]["socketpair"]
		for nr := uint32(0); nr < 600; nr++ {
			for _, a0 := range interestingArg0 {
				// Type SOCK_STREAM: the library rules compare the family
				// only (the type allow-list is the model test's).
				d := seccompData{nr: nr, arch: goldenAudit[goarch], args: [6]uint64{a0, 1}}
				a, err := run(ours.Insns, d)
				if err != nil {
					t.Fatal(err)
				}
				b, err := run(theirs, d)
				if err != nil {
					t.Fatal(err)
				}
				if mode == policy.SeccompProxyRouted && nr == socketpair && uint32(a0) == afUnix && a0>>32 != 0 {
					if a != retErrno|errnoEPERM || b != retAllow {
						t.Errorf("proxy socketpair(%#x): ours %s, library %s; want EPERM vs the library's bypassable ALLOW", a0, actionName(a), actionName(b))
					}
					continue
				}
				if a != b {
					t.Errorf("%s nr=%d arg0=%#x: ours %s, go-seccomp-bpf %s", mode, nr, a0, actionName(a), actionName(b))
				}
			}
		}
		// And the hole we close: the library lets foreign ABIs through.
		d := seccompData{nr: 359, arch: auditI386, args: [6]uint64{afInet}}
		if b, _ := run(theirs, d); b != retAllow {
			t.Logf("note: go-seccomp-bpf now returns %s for i386 socket", actionName(b))
		}
		if a, _ := run(ours.Insns, d); a != retKillProcess {
			t.Errorf("%s: i386 socket: ours %s, want KILL_PROCESS", mode, actionName(a))
		}
	}
}

func TestBuild(t *testing.T) {
	rawProg := Program{Insns: []Insn{{Code: bpfRET | bpfK, K: retAllow}}}.Marshal()
	badProg := []byte{1, 2, 3}
	cases := []struct {
		name      string
		spec      policy.FilterSpec
		arch      string
		wantNames []string
		wantErr   string
	}{
		{name: "disabled, nothing", spec: policy.FilterSpec{Network: policy.SeccompRestricted}, arch: "amd64"},
		{name: "disabled ignores arch", spec: policy.FilterSpec{}, arch: "mips"},
		{name: "restricted amd64", spec: policy.FilterSpec{Enabled: true, Network: policy.SeccompRestricted}, arch: "amd64",
			wantNames: []string{"zbox/restricted/amd64"}},
		{name: "proxy arm64", spec: policy.FilterSpec{Enabled: true, Network: policy.SeccompProxyRouted}, arch: "arm64",
			wantNames: []string{"zbox/proxy-routed/arm64"}},
		{name: "ours then caller programs in order",
			spec: policy.FilterSpec{Enabled: true, Network: policy.SeccompNone, Programs: [][]byte{rawProg, rawProg}}, arch: "amd64",
			wantNames: []string{"zbox/none/amd64", "caller-supplied #1", "caller-supplied #2"}},
		{name: "caller programs only (bwrap semantics)", spec: policy.FilterSpec{Programs: [][]byte{rawProg}}, arch: "amd64",
			wantNames: []string{"caller-supplied #1"}},
		{name: "bad caller program", spec: policy.FilterSpec{Programs: [][]byte{rawProg, badProg}}, arch: "amd64",
			wantErr: "caller-supplied seccomp program #2"},
		{name: "unsupported arch", spec: policy.FilterSpec{Enabled: true, Network: policy.SeccompNone}, arch: "386",
			wantErr: "unsupported architecture \"386\""},
		{name: "empty arch", spec: policy.FilterSpec{Enabled: true, Network: policy.SeccompNone}, arch: "",
			wantErr: "unsupported architecture"},
		{name: "empty mode", spec: policy.FilterSpec{Enabled: true}, arch: "amd64",
			wantErr: "FilterSpec.Network is empty"},
		{name: "unknown mode", spec: policy.FilterSpec{Enabled: true, Network: "open"}, arch: "amd64",
			wantErr: "unknown seccomp network mode \"open\""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			progs, err := Build(c.spec, c.arch)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, c.wantErr)
				}
				if c.arch == "386" && !errors.Is(err, ErrUnsupportedArch) {
					t.Errorf("err = %v, want ErrUnsupportedArch", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, p := range progs {
				names = append(names, p.Name)
				if strings.HasPrefix(p.Name, "zbox/") != (p.Arch != "") {
					t.Errorf("%s: Arch = %q", p.Name, p.Arch)
				}
				if err := validate(p.Insns); err != nil {
					t.Errorf("%s: %v", p.Name, err)
				}
			}
			if strings.Join(names, ",") != strings.Join(c.wantNames, ",") {
				t.Errorf("programs %q, want %q", names, c.wantNames)
			}
		})
	}
}

func TestParseRaw(t *testing.T) {
	ret := Insn{Code: bpfRET | bpfK, K: retAllow}
	ld := func(k uint32) Insn { return Insn{Code: bpfLD | bpfW | bpfABS, K: k} }
	enc := func(insns ...Insn) []byte { return Program{Insns: insns}.Marshal() }
	tooLong := make([]Insn, bpfMaxInsns+1)
	for i := range tooLong {
		tooLong[i] = ret
	}
	maxLen := tooLong[:bpfMaxInsns]
	cases := []struct {
		name    string
		in      []byte
		wantErr string
	}{
		{"single return", enc(ret), ""},
		{"return A", enc(ld(0), Insn{Code: bpfRET | bpfA}), ""},
		{"max length", enc(maxLen...), ""},
		{"empty", nil, "empty"},
		{"not multiple of 8", []byte{6, 0, 0, 0, 0, 0, 0x7f, 0x7f, 0}, "not a multiple of 8"},
		{"too long", enc(tooLong...), "at most 4096"},
		{"text instead of BPF", []byte("deny net"), "opcode not allowed"},
		{"byte load not allowed", enc(Insn{Code: bpfLD | 0x10 | bpfABS}, ret), "opcode not allowed"},
		{"MOD not allowed in seccomp", enc(Insn{Code: bpfALU | 0x90 | bpfK, K: 3}, ret), "opcode not allowed"},
		{"unaligned load", enc(ld(2), ret), "4-byte aligned"},
		{"load past seccomp_data", enc(ld(64), ret), "below 64"},
		{"last load ok", enc(ld(60), ret), ""},
		{"no final return", enc(ret, ld(0)), "last instruction must be a return"},
		{"jt out of range", enc(ld(0), Insn{Code: bpfJMP | bpfJEQ | bpfK, Jt: 1}, ret), "beyond the end"},
		{"jf out of range", enc(ld(0), Insn{Code: bpfJMP | bpfJEQ | bpfK, Jf: 5}, ret), "beyond the end"},
		{"ja out of range", enc(Insn{Code: bpfJMP | bpfJA, K: 1}, ret), "beyond the end"},
		{"ja huge", enc(Insn{Code: bpfJMP | bpfJA, K: 0xffffffff}, ret), "beyond the end"},
		{"ja in range", enc(Insn{Code: bpfJMP | bpfJA, K: 1}, ret, ret), ""},
		{"div by zero", enc(Insn{Code: bpfALU | bpfDIV | bpfK}, ret), "division by constant zero"},
		{"shift 32", enc(Insn{Code: bpfALU | bpfLSH | bpfK, K: 32}, ret), "shift by 32"},
		{"memory index", enc(Insn{Code: bpfST, K: 16}, ret), "scratch memory index"},
		{"read before write", enc(Insn{Code: bpfLD | bpfMEM, K: 3}, ret), "before every path has written"},
		{"write then read", enc(Insn{Code: bpfST, K: 3}, Insn{Code: bpfLD | bpfMEM, K: 3}, Insn{Code: bpfRET | bpfA}), ""},
		{"write on one path only", enc(
			ld(0),
			Insn{Code: bpfJMP | bpfJEQ | bpfK, K: 1, Jt: 0, Jf: 1},
			Insn{Code: bpfST, K: 2},
			Insn{Code: bpfLD | bpfMEM, K: 2},
			Insn{Code: bpfRET | bpfA}), "before every path has written"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := ParseRaw(c.in)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(p.Marshal(), c.in) {
				t.Error("Marshal(ParseRaw(b)) != b")
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	cases := []struct {
		spec policy.FilterSpec
		want []string
		not  []string
	}{
		{policy.FilterSpec{}, []string{"seccomp: off"}, nil},
		{policy.FilterSpec{Programs: [][]byte{{}}}, []string{"no zbox filter", "1 caller-supplied"}, nil},
		{policy.FilterSpec{Enabled: true, Network: policy.SeccompNone},
			[]string{"foreign ABIs", "ptrace", "io_uring_setup", "not filtered"}, []string{"process_vm"}},
		{policy.FilterSpec{Enabled: true, Network: policy.SeccompRestricted, DenyProcessVM: true},
			[]string{"only for AF_UNIX", "connect", "process_vm_readv"}, nil},
		{policy.FilterSpec{Enabled: true, Network: policy.SeccompProxyRouted, Programs: [][]byte{{}, {}}},
			[]string{"AF_INET/AF_INET6", "socketpair(AF_UNIX) denied", "2 caller-supplied"}, nil},
		{policy.FilterSpec{Enabled: true, Network: "bogus"}, []string{"invalid network mode \"bogus\""}, nil},
	}
	for _, c := range cases {
		got := Describe(c.spec)
		if strings.Contains(got, "\n") {
			t.Errorf("Describe(%+v) has a newline: %q", c.spec, got)
		}
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("Describe(%+v) = %q, want %q in it", c.spec, got, w)
			}
		}
		for _, w := range c.not {
			if strings.Contains(got, w) {
				t.Errorf("Describe(%+v) = %q, do not want %q in it", c.spec, got, w)
			}
		}
	}
}

// ---------------------------------------------------------------------
// Fuzz targets.

// FuzzParseRaw: untrusted bwrap --seccomp bytes. ParseRaw must never
// panic, must round-trip what it accepts, and whatever it accepts must
// run to a return in the interpreter (no wild jump, no bad load, no
// uninitialised scratch memory) for any input.
func FuzzParseRaw(f *testing.F) {
	for _, goarch := range []string{"amd64", "arm64"} {
		for _, mode := range allModes {
			progs, err := Build(policy.FilterSpec{Enabled: true, Network: mode, DenyProcessVM: true}, goarch)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(progs[0].Marshal(), uint32(41), uint64(2))
		}
	}
	f.Add([]byte{}, uint32(0), uint64(0))
	f.Add([]byte("12345678"), uint32(0), uint64(0))
	f.Add(Program{Insns: []Insn{{Code: bpfST, K: 1}, {Code: bpfLDX | bpfMEM, K: 1}, {Code: bpfALU | bpfDIV | bpfX}, {Code: bpfRET | bpfA}}}.Marshal(), uint32(1), uint64(1))
	f.Fuzz(func(t *testing.T, b []byte, nr uint32, a0 uint64) {
		p, err := ParseRaw(b)
		if err != nil {
			return
		}
		if !bytes.Equal(p.Marshal(), b) {
			t.Fatal("accepted program does not round-trip")
		}
		for _, audit := range []uint32{auditX8664, auditAArch64, auditI386} {
			if _, err := run(p.Insns, seccompData{nr: nr, arch: audit, args: [6]uint64{a0, a0 >> 3}}); err != nil {
				t.Fatalf("accepted program fails to run: %v", err)
			}
		}
	})
}

// FuzzPolicy: every (mode, arch, syscall, arg0) the fuzzer finds must
// get the model's answer from the assembled program.
func FuzzPolicy(f *testing.F) {
	f.Add(uint8(1), false, false, uint32(41), uint32(auditX8664), uint64(afInet))
	f.Add(uint8(2), true, false, uint32(199), uint32(auditAArch64), uint64(afUnix|1<<32))
	f.Add(uint8(0), false, true, uint32(359), uint32(auditI386), uint64(0))
	f.Add(uint8(1), false, true, uint32(41|x32SyscallBit), uint32(auditX8664), uint64(afUnix))
	f.Fuzz(func(t *testing.T, m uint8, arm, vm bool, nr, audit uint32, a0 uint64) {
		goarch := "amd64"
		if arm {
			goarch = "arm64"
		}
		spec := policy.FilterSpec{Enabled: true, Network: allModes[int(m)%len(allModes)], DenyProcessVM: vm}
		p := mustBuild(t, spec, goarch)
		d := seccompData{nr: nr, arch: audit, args: [6]uint64{a0}}
		got, err := run(p.Insns, d)
		if err != nil {
			t.Fatal(err)
		}
		if want := model(spec, goarch, d); got != want {
			t.Fatalf("%s/%s nr=%#x arch=%#x arg0=%#x: got %s, want %s", goarch, spec.Network, nr, audit, a0, actionName(got), actionName(want))
		}
	})
}

// Package filter builds and installs zbox's seccomp filters.
//
// The rules follow the Codex Linux sandbox helper (v0.117, spec
// codex-helper.md §5.3) with two hardenings:
//
//   - Foreign ABIs are refused. A filter written against the x86_64
//     syscall table says nothing about i386 numbers reached through
//     int $0x80, nor about x32 (bit 30 set); go-seccomp-bpf's generated
//     programs simply allow them, which is a verified bypass of every
//     rule (go-stack.md §5). Our program starts by checking
//     seccomp_data.arch and the x32 bit, and kills the process on a
//     mismatch (see foreignABIAction for why kill rather than EPERM).
//   - Integer arguments are compared so that the kernel's truncation of
//     `int` arguments to 32 bits can never turn a denied call into an
//     allowed one (see rule kinds below).
//
// Assembly is done here rather than with go-seccomp-bpf's Policy.Assemble
// because that always targets runtime.GOARCH (its arch field is
// unexported), cannot express a low-32-bit-only comparison, and leaves
// foreign ABIs open. The library still provides the per-architecture
// syscall tables, and the tests run its assembler side by side with ours
// as a cross-check on the host architecture.
//
// This file and bpf.go are portable (no syscalls); loading is in
// filter_linux.go.
package filter

import (
	"fmt"
	"strings"

	"github.com/zbox-sandbox/zbox/policy"
)

// Program is one seccomp BPF program, ready to be loaded.
type Program struct {
	// Name identifies the program in errors and in `zbox explain`.
	Name string
	// Arch is the GOARCH the program was assembled for; InstallOnThread
	// refuses to load it on another architecture (the arch check at its
	// head would otherwise kill the process on its next syscall). Empty
	// for caller-supplied programs, whose architecture is the caller's
	// business.
	Arch  string
	Insns []Insn
}

// foreignABIAction is what a syscall from a non-native ABI gets:
// SECCOMP_RET_KILL_PROCESS rather than ERRNO(EPERM), because
//   - it is what the Codex helper does (seccompiler's architecture check
//     kills on mismatch), so behaviour stays compatible;
//   - a process that issues an i386 or x32 syscall from inside a 64-bit
//     sandbox is either probing for exactly this bypass or is a binary
//     that cannot work under the filter at all (every one of its
//     syscalls, exit included, would fail): an immediate, unambiguous
//     "Bad system call" (SIGSYS, exit status 159) that the kernel also
//     records in the audit log is more useful than a stream of EPERMs;
//   - KILL_PROCESS has the highest precedence, so no filter stacked later
//     (bwrap --seccomp programs) can soften it.
const foreignABIAction = retKillProcess

// denyAction is what a denied syscall of the native ABI gets, as in the
// helper: the call fails with EPERM ("Operation not permitted").
const denyAction = retErrno | errnoEPERM

// Socket address families (linux/socket.h); kernel ABI, same on all
// architectures.
const (
	afUnix  = 1
	afInet  = 2
	afInet6 = 10

	sockStream    = 1   // SOCK_STREAM
	sockSeqpacket = 5   // SOCK_SEQPACKET
	sockTypeMask  = 0xf // SOCK_TYPE_MASK
)

// Terminal ioctls (asm-generic/ioctls.h; the same on amd64 and arm64).
const (
	tiocsti   = 0x5412 // TIOCSTI: push a byte into the terminal's input queue
	tioclinux = 0x541C // TIOCLINUX: virtual console requests, paste included
)

// ifaceIoctls are the request ranges [lo, hi) of the socket ioctls that
// query or configure network interfaces (linux/sockios.h: SIOCGIFNAME
// 0x8910 up to the device-private 0x89ff; wireless extensions
// 0x8b00-0x8bff). They act on the network namespace of the socket they
// are issued on. FilterSpec.DenyInterfaceIoctls denies them, for
// sandboxes run with the opt-in proxy redirect: a connection it hands to
// the sandbox is a socket of zbox's own namespace, and SIOCGIFCONF,
// SIOCGIFHWADDR or SIOCGIWESSID on it would list the host's interfaces,
// addresses and wireless network. The per-socket requests below 0x8910
// (SIOCATMARK, SIOCGSTAMP, ...) stay allowed. Otherwise every socket is
// in the sandbox's own namespace, with only lo to ask about, and programs
// that list interfaces that way (Java's NetworkInterface, for one) work
// as under the reference helper.
var ifaceIoctls = [][2]uint32{{0x8910, 0x8a00}, {0x8b00, 0x8c00}}

type ruleKind int

const (
	// denyAlways: the syscall fails with EPERM whatever its arguments.
	denyAlways ruleKind = iota
	// denyUnlessArg0In: the syscall is allowed only when the full 64-bit
	// arg0 register equals one of vals. The kernel truncates an `int`
	// argument to its low 32 bits, so a caller can put anything in the
	// upper half: socket(AF_UNIX | 1<<32, ...) is AF_UNIX to the kernel.
	// Comparing all 64 bits therefore errs on the safe side: upper bits
	// make the call *denied* (never allowed), and no real program sets
	// them (libcs and the Go runtime widen int arguments by sign/zero
	// extension). "Deny unless equal" is the only shape that fails closed
	// under a 64-bit compare; see denyIfArg0Low32Is for the other one.
	denyUnlessArg0In
	// denyIfArg0Low32Is: the syscall is denied when the low 32 bits of
	// arg0 equal vals[0]. A "deny if equal" rule compared on 64 bits
	// would be bypassed by setting any upper bit (the kernel ignores it,
	// the filter would see "not equal"); comparing exactly the half the
	// kernel looks at closes that hole.
	denyIfArg0Low32Is
	// denyUnlessUnixConnected: socket() and socketpair() are allowed
	// only for AF_UNIX (full 64-bit compare, as denyUnlessArg0In) and
	// only for the connection types, SOCK_STREAM and SOCK_SEQPACKET. A
	// datagram socket, unconnected or a socketpair end alike, sends with
	// sendmsg(2) (which stays allowed for socketpair IPC) to any
	// unconnected datagram socket named in msg_name: /dev/log,
	// journald, ... And the kernel turns AF_UNIX SOCK_RAW into SOCK_DGRAM,
	// so an allow-list of types, not a deny of SOCK_DGRAM, is what holds.
	// The helper's filter has that hole.
	denyUnlessUnixConnected
	// denyIfArg1Low32In: the syscall is denied when the low 32 bits of
	// arg1 equal one of vals or fall in one of ranges (ioctl's request
	// number: the kernel takes an unsigned int, so only the low half
	// counts, as for denyIfArg0Low32Is).
	denyIfArg1Low32In
)

type rule struct {
	name   string
	kind   ruleKind
	vals   []uint32
	ranges [][2]uint32 // [lo, hi), denyIfArg1Low32In only
}

var (
	// pidfd_getfd takes another process's fd under the same permission
	// check as ptrace (PTRACE_MODE_ATTACH), which is denied as well.
	alwaysDenied = []string{"ptrace", "pidfd_getfd", "io_uring_setup", "io_uring_enter", "io_uring_register"}
	processVM    = []string{"process_vm_readv", "process_vm_writev"}
	// Restricted mode: every socket operation that could reach or expose
	// a network endpoint. recvfrom, sendmsg and recvmsg stay allowed on
	// purpose (socketpair IPC, e.g. cargo's jobserver), as in the helper.
	restrictedDenied = []string{
		"connect", "accept", "accept4", "bind", "listen", "getpeername",
		"getsockname", "shutdown", "sendto", "sendmmsg", "recvmmsg",
		"getsockopt", "setsockopt",
	}
)

// rulesFor returns the rules of spec in evaluation order.
func rulesFor(spec policy.FilterSpec) ([]rule, error) {
	var rules []rule
	deny := func(names ...string) {
		for _, n := range names {
			rules = append(rules, rule{name: n, kind: denyAlways})
		}
	}
	deny(alwaysDenied...)
	if spec.DenyProcessVM {
		deny(processVM...)
	}
	ioctl := rule{name: "ioctl", kind: denyIfArg1Low32In}
	if spec.DenyTerminalInjection {
		ioctl.vals = []uint32{tiocsti, tioclinux}
	}
	if spec.DenyInterfaceIoctls {
		ioctl.ranges = ifaceIoctls
	}
	if len(ioctl.vals)+len(ioctl.ranges) > 0 {
		rules = append(rules, ioctl)
	}
	switch spec.Network {
	case policy.SeccompNone:
	case policy.SeccompRestricted:
		deny(restrictedDenied...)
		rules = append(rules,
			rule{name: "socket", kind: denyUnlessUnixConnected},
			rule{name: "socketpair", kind: denyUnlessUnixConnected},
		)
	case policy.SeccompProxyRouted:
		// connect/bind/... stay allowed: the target must reach the
		// bridge listener on 127.0.0.1 inside its private netns. Only
		// socket creation is restricted, so no AF_UNIX/NETLINK/PACKET/
		// VSOCK socket can bypass the bridge.
		rules = append(rules,
			rule{name: "socket", kind: denyUnlessArg0In, vals: []uint32{afInet, afInet6}},
			// v0.117 semantics: socketpair denied for AF_UNIX (other
			// families are allowed but the kernel supports socketpair
			// for almost none of them).
			rule{name: "socketpair", kind: denyIfArg0Low32Is, vals: []uint32{afUnix}},
		)
	case "":
		return nil, fmt.Errorf("filter: FilterSpec.Network is empty; set it to %q, %q or %q", policy.SeccompNone, policy.SeccompRestricted, policy.SeccompProxyRouted)
	default:
		return nil, fmt.Errorf("filter: unknown seccomp network mode %q; want %q, %q or %q", spec.Network, policy.SeccompNone, policy.SeccompRestricted, policy.SeccompProxyRouted)
	}
	return rules, nil
}

// Build assembles the BPF program(s) for spec on arch ("amd64" or
// "arm64"), independently of the architecture Build runs on. It returns
// the programs in the order they must be installed: zbox's own filter
// first (when spec.Enabled), then spec.Programs, each checked with
// ParseRaw. It returns nil when there is nothing to install.
func Build(spec policy.FilterSpec, arch string) ([]Program, error) {
	var progs []Program
	if spec.Enabled {
		ai, err := lookupArch(arch)
		if err != nil {
			return nil, err
		}
		rules, err := rulesFor(spec)
		if err != nil {
			return nil, err
		}
		insns, err := assemblePolicy(ai, rules)
		if err != nil {
			return nil, err
		}
		progs = append(progs, Program{
			Name:  fmt.Sprintf("zbox/%s/%s", spec.Network, arch),
			Arch:  arch,
			Insns: insns,
		})
	}
	for i, raw := range spec.Programs {
		p, err := ParseRaw(raw)
		if err != nil {
			return nil, fmt.Errorf("filter: caller-supplied seccomp program #%d (--seccomp/--add-seccomp-fd): %w", i+1, err)
		}
		p.Name = fmt.Sprintf("caller-supplied #%d", i+1)
		progs = append(progs, p)
	}
	return progs, nil
}

// assemblePolicy emits one self-contained program:
//
//	ld  [arch]
//	jne NATIVE            -> KILL     foreign ABI (i386, AArch32, ...)
//	ld  [nr]
//	(amd64) jge 0x80000000 -> dispatch  never dispatched by the kernel
//	(amd64) jge 0x40000000 -> KILL      x32 ABI
//	dispatch: jeq nr_i -> DENY | body_i  one compare per rule
//	ret ALLOW
//	body_i: argument checks -> ALLOW | DENY
//	ALLOW: ret ALLOW;  DENY: ret ERRNO(EPERM);  KILL: ret KILL_PROCESS
//
// The arch check is part of the program (not a separate filter) so that
// the syscall numbers it compares can never be matched against another
// ABI's table, whatever else is or is not installed.
func assemblePolicy(ai archInfo, rules []rule) ([]Insn, error) {
	var a assembler
	allow, deny, kill := a.newLabel(), a.newLabel(), a.newLabel()

	a.stmt(bpfLD|bpfW|bpfABS, offArch)
	a.jump(bpfJMP|bpfJEQ|bpfK, ai.audit, next, kill)
	a.stmt(bpfLD|bpfW|bpfABS, offNr)
	if ai.x32 {
		// On x86_64 the kernel dispatches a number with bit 30 set to
		// the x32 table (when CONFIG_X86_X32_ABI is on), under the same
		// AUDIT_ARCH_X86_64. Kill [0x40000000, 0x80000000); numbers at
		// or above 0x80000000 (syscall(-1), used by some probes) are
		// never dispatched, get ENOSYS from the kernel, and are let
		// through rather than killing the caller.
		dispatch := a.newLabel()
		a.jump(bpfJMP|bpfJGE|bpfK, 0x80000000, dispatch, next)
		a.jump(bpfJMP|bpfJGE|bpfK, x32SyscallBit, kill, next)
		a.bind(dispatch)
	}

	seen := make(map[uint32]string, len(rules))
	bodies := make([]label, len(rules))
	for i, r := range rules {
		nr, err := ai.number(r.name)
		if err != nil {
			return nil, err
		}
		if prev, dup := seen[nr]; dup {
			return nil, fmt.Errorf("filter: internal error: %s and %s share syscall number %d on %s", prev, r.name, nr, ai.goarch)
		}
		seen[nr] = r.name
		if r.kind == denyAlways {
			a.jump(bpfJMP|bpfJEQ|bpfK, nr, deny, next)
			continue
		}
		bodies[i] = a.newLabel()
		a.jump(bpfJMP|bpfJEQ|bpfK, nr, bodies[i], next)
	}
	a.stmt(bpfRET|bpfK, retAllow)

	for i, r := range rules {
		switch r.kind {
		case denyAlways:
			continue
		case denyUnlessArg0In:
			if len(r.vals) == 0 {
				return nil, fmt.Errorf("filter: internal error: rule for %s allows no value", r.name)
			}
			a.bind(bodies[i])
			// Upper half must be zero (see denyUnlessArg0In).
			a.stmt(bpfLD|bpfW|bpfABS, argHigh(0))
			a.jump(bpfJMP|bpfJEQ|bpfK, 0, next, deny)
			a.stmt(bpfLD|bpfW|bpfABS, argLow(0))
			for j, v := range r.vals {
				jf := next
				if j == len(r.vals)-1 {
					jf = deny
				}
				a.jump(bpfJMP|bpfJEQ|bpfK, v, allow, jf)
			}
		case denyUnlessUnixConnected:
			a.bind(bodies[i])
			a.stmt(bpfLD|bpfW|bpfABS, argHigh(0))
			a.jump(bpfJMP|bpfJEQ|bpfK, 0, next, deny)
			a.stmt(bpfLD|bpfW|bpfABS, argLow(0))
			a.jump(bpfJMP|bpfJEQ|bpfK, afUnix, next, deny)
			// The type's low 4 bits (SOCK_TYPE_MASK); the flags above
			// them (SOCK_CLOEXEC, SOCK_NONBLOCK) do not matter, and the
			// kernel reads only the low half of the int.
			a.stmt(bpfLD|bpfW|bpfABS, argLow(1))
			a.stmt(bpfALU|bpfAND|bpfK, sockTypeMask)
			a.jump(bpfJMP|bpfJEQ|bpfK, sockStream, allow, next)
			a.jump(bpfJMP|bpfJEQ|bpfK, sockSeqpacket, allow, deny)
		case denyIfArg1Low32In:
			a.bind(bodies[i])
			a.stmt(bpfLD|bpfW|bpfABS, argLow(1))
			for _, v := range r.vals {
				a.jump(bpfJMP|bpfJEQ|bpfK, v, deny, next)
			}
			for _, rg := range r.ranges {
				// lo <= A < hi -> DENY (unsigned compares)
				skip := a.newLabel()
				a.jump(bpfJMP|bpfJGE|bpfK, rg[0], next, skip)
				a.jump(bpfJMP|bpfJGE|bpfK, rg[1], skip, deny)
				a.bind(skip)
			}
			a.stmt(bpfRET|bpfK, retAllow)
		case denyIfArg0Low32Is:
			if len(r.vals) != 1 {
				return nil, fmt.Errorf("filter: internal error: rule for %s needs exactly one value", r.name)
			}
			a.bind(bodies[i])
			// Only the low half: exactly what the kernel uses.
			a.stmt(bpfLD|bpfW|bpfABS, argLow(0))
			a.jump(bpfJMP|bpfJEQ|bpfK, r.vals[0], deny, allow)
		default:
			return nil, fmt.Errorf("filter: internal error: unknown rule kind %d for %s", r.kind, r.name)
		}
	}

	a.bind(allow)
	a.stmt(bpfRET|bpfK, retAllow)
	a.bind(deny)
	a.stmt(bpfRET|bpfK, denyAction)
	a.bind(kill)
	a.stmt(bpfRET|bpfK, foreignABIAction)
	return a.finish()
}

// Describe returns a one-line human summary of spec (for `zbox explain`).
func Describe(spec policy.FilterSpec) string {
	extra := ""
	if n := len(spec.Programs); n > 0 {
		extra = fmt.Sprintf("%d caller-supplied BPF program(s)", n)
	}
	if !spec.Enabled {
		if extra == "" {
			return "seccomp: off"
		}
		return "seccomp: no zbox filter; no_new_privs + " + extra
	}
	denied := append([]string{}, alwaysDenied...)
	if spec.DenyProcessVM {
		denied = append(denied, processVM...)
	}
	var net string
	switch spec.Network {
	case policy.SeccompNone:
		net = "network syscalls not filtered"
	case policy.SeccompRestricted:
		net = "network restricted: socket/socketpair only for AF_UNIX SOCK_STREAM/SOCK_SEQPACKET, EPERM for " + strings.Join(restrictedDenied, ",")
	case policy.SeccompProxyRouted:
		net = "network proxy-routed: socket only for AF_INET/AF_INET6, socketpair(AF_UNIX) denied"
	default:
		net = fmt.Sprintf("invalid network mode %q (the sandbox will refuse to start)", spec.Network)
	}
	s := "seccomp: no_new_privs; foreign ABIs (i386/x32, AArch32) killed; EPERM for " + strings.Join(denied, ",") + "; " + net
	if spec.DenyInterfaceIoctls {
		s += "; network-interface ioctls (0x8910-0x89ff, 0x8b00-0x8bff) denied (sockets of the host's namespace in the sandbox)"
	}
	if spec.DenyTerminalInjection {
		s += "; ioctl TIOCSTI/TIOCLINUX denied (terminal input injection)"
	}
	if extra != "" {
		s += "; + " + extra
	}
	return s
}

package filter

import "fmt"

// retUserNotif is SECCOMP_RET_USER_NOTIF: the syscall waits while a
// supervisor holding the filter's listener fd decides what it returns.
const retUserNotif = 0x7fc00000

// SockaddrIn4Len is sizeof(struct sockaddr_in), the address length every
// IPv4 connect(2) passes. The connect-notify program only reports calls
// with exactly this length: the BPF program cannot read the address
// itself (it is in the caller's memory), but the length is in a register
// and tells AF_INET apart from AF_UNIX (up to 110) and AF_INET6 (28).
const SockaddrIn4Len = 16

// ConnectNotifyProgram assembles the program behind zbox's proxy
// redirect: connect(fd, addr, 16) on the native ABI is handed to a
// supervisor (SECCOMP_RET_USER_NOTIF); everything else is allowed.
//
//	ld  [arch];  jne NATIVE          -> ALLOW
//	ld  [nr]
//	(amd64) jge 0x40000000           -> ALLOW  (x32 and undispatched numbers)
//	jne connect                      -> ALLOW
//	ld  args[2].hi; jne 0            -> ALLOW
//	ld  args[2].lo; jne 16           -> ALLOW
//	ret USER_NOTIF
//
// It only ever *reports* a call, it denies nothing: whatever it lets
// through, the policy program (Build) installed next to it still judges,
// and an action of higher precedence (ERRNO, KILL) from any filter wins
// over USER_NOTIF. A foreign ABI is killed by the policy program; this one
// does not need to repeat that. The supervisor must treat the report as a
// hint, not as a security decision: it may answer "continue", and the
// kernel then runs connect with whatever the caller's memory holds by
// then (seccomp_unotify(2), "Design goals; use of
// SECCOMP_USER_NOTIF_FLAG_CONTINUE"). zbox only continues into the
// sandbox's own network namespace, where nothing outside is reachable.
func ConnectNotifyProgram(arch string) (Program, error) {
	ai, err := lookupArch(arch)
	if err != nil {
		return Program{}, err
	}
	nr, err := ai.number("connect")
	if err != nil {
		return Program{}, err
	}
	var a assembler
	allow := a.newLabel()
	a.stmt(bpfLD|bpfW|bpfABS, offArch)
	a.jump(bpfJMP|bpfJEQ|bpfK, ai.audit, next, allow)
	a.stmt(bpfLD|bpfW|bpfABS, offNr)
	if ai.x32 {
		a.jump(bpfJMP|bpfJGE|bpfK, x32SyscallBit, allow, next)
	}
	a.jump(bpfJMP|bpfJEQ|bpfK, nr, next, allow)
	a.stmt(bpfLD|bpfW|bpfABS, argHigh(2))
	a.jump(bpfJMP|bpfJEQ|bpfK, 0, next, allow)
	a.stmt(bpfLD|bpfW|bpfABS, argLow(2))
	a.jump(bpfJMP|bpfJEQ|bpfK, SockaddrIn4Len, next, allow)
	a.stmt(bpfRET|bpfK, retUserNotif)
	a.bind(allow)
	a.stmt(bpfRET|bpfK, retAllow)
	insns, err := a.finish()
	if err != nil {
		return Program{}, err
	}
	return Program{Name: fmt.Sprintf("zbox/connect-notify/%s", arch), Arch: arch, Insns: insns}, nil
}

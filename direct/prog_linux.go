package direct

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Step kinds.
const (
	kSys        uint8 = iota // raw syscall Nr(Args)
	kSet                     // regs[Save] = Args[0]
	kSetErrFD                // from now on, report errors on fd Args[0]
	kFail                    // fail with the errno in Args[0]
	kTitle                   // overwrite title with "zbox-init" and NULs
	kGhost                   // record statbuf as ghost Args[0] and report it on the error pipe
	kUnlinkSame              // remove Args[0] (unlinkat flags Args[2]) if it is still ghost Args[1]
)

// noReg marks an argument taken literally, or a result not saved.
const noReg = -1

// anyErrno, as an errno mask, matches every errno.
const anyErrno = ^uint64(0)

// Step is one instruction of a Prog.
type Step struct {
	Kind uint8
	Nr   uintptr
	Args [6]uintptr
	// ArgReg[i] >= 0 replaces Args[i] with that register's value.
	ArgReg [6]int8
	// Save >= 0 stores the syscall's result in that register.
	Save int8
	// Ignore: errnos that count as success. JumpOn: errnos that jump to
	// JumpTo instead of failing. OKTo > 0: on success continue at OKTo
	// (an absolute index) instead of the next step.
	Ignore uint64
	JumpOn uint64
	JumpTo int32
	OKTo   int32
}

// ExecStep is the step index a Failure of PhaseTarget reports when
// execve itself failed (the command is missing or not executable).
func (p *Prog) ExecStep() int { return len(p.Target) }

// Phases, as reported in a Failure.
const (
	PhaseSetup   = 1 // pid 1, before the target exists
	PhaseTarget  = 2 // the target's process, before execve
	PhaseCleanup = 3 // pid 1 removing ghosts (never reported)
)

// Records on the error pipe: four uint64 each. A failure is {recFailure,
// phase, step, errno}; a ghost {recGhost, index, dev, ino}.
const (
	recFailure = 1
	recGhost   = 2
	recSize    = 32
)

// Offsets in struct stat (the same struct the child's newfstatat fills).
const (
	statDev  = unsafe.Offsetof(unix.Stat_t{}.Dev)
	statIno  = unsafe.Offsetof(unix.Stat_t{}.Ino)
	statSize = unsafe.Offsetof(unix.Stat_t{}.Size)
)

// atFDCWD is AT_FDCWD (-100) as a raw syscall argument.
const atFDCWD = ^uintptr(99)

// Prog is a compiled sandbox: the steps pid 1 runs, then the steps of the
// target's process ending in execve. Everything the child touches lives
// in here (Go heap memory, which the fork copies and Go never moves), so
// the child needs no allocation.
type Prog struct {
	Setup  []Step
	Target []Step
	// Cleanup removes the ghosts from inside (pid 1, when zbox died).
	Cleanup []Step
	// Ghosts are the mount points the setup creates on the host, in
	// order; the child reports each one's identity (GhostRecord).
	Ghosts []Ghost

	errFD   uintptr              // where the child reports a failure
	regs    [8]uintptr           // the registers
	rec     [4]uint64            // a record for the error pipe (see ReadRecords)
	statbuf [256]byte            // a struct stat
	ghosts  [maxGhosts][2]uint64 // dev, ino of each ghost
	sigbuf  [128]byte            // one signalfd_siginfo
	mask    uint64               // signals pid 1 reads from its signalfd
	status  int32                // wait4 status word
	keep    [][]byte             // strings and buffers the steps point into
	keepAny []any                // other memory the steps point into
	exec    execSpec             // the command, run after the Target steps
	title   []byte               // kTitle: zbox's argv memory (written only in the child's copy)
}

// execSpec is the command: candidates are tried in order, as execvp
// does; envs is indexed by register rEnvIx (the chosen cwd decides PWD).
type execSpec struct {
	paths []uintptr // *byte each
	argv  uintptr   // **byte, NULL-terminated
	envs  []uintptr // **byte each, NULL-terminated
}

// Ghost is a mount point the setup creates on the host.
type Ghost struct {
	HostPath string // where it is on the host
	Path     string // where it is in the sandbox
	Dir      bool
	Dev, Ino uint64 // filled from the child's report
	Reported bool
}

// Failure is what the child reported before the target ran.
type Failure struct {
	Phase int
	Step  int
	Errno unix.Errno
}

// cstr keeps s as a NUL-terminated string in p and returns its address.
func (p *Prog) cstr(s string) uintptr {
	b := make([]byte, len(s)+1)
	copy(b, s)
	p.keep = append(p.keep, b)
	return uintptr(unsafe.Pointer(&b[0]))
}

// buf keeps a zeroed buffer of n bytes in p and returns its address.
func (p *Prog) buf(n int) uintptr {
	b := make([]byte, n)
	p.keep = append(p.keep, b)
	return uintptr(unsafe.Pointer(&b[0]))
}

// bytes keeps a copy of b in p and returns its address and length.
func (p *Prog) bytes(b []byte) (uintptr, uintptr) {
	if len(b) == 0 {
		return p.buf(1), 0
	}
	c := append([]byte(nil), b...)
	p.keep = append(p.keep, c)
	return uintptr(unsafe.Pointer(&c[0])), uintptr(len(c))
}

// cstrv keeps a NULL-terminated array of C strings and returns its address.
func (p *Prog) cstrv(ss []string) uintptr {
	v := make([]uintptr, len(ss)+1)
	for i, s := range ss {
		v[i] = p.cstr(s)
	}
	p.keepAny = append(p.keepAny, v)
	return uintptr(unsafe.Pointer(&v[0]))
}

// ptr keeps v alive in p and returns its address.
func ptr[T any](p *Prog, v *T) uintptr {
	p.keepAny = append(p.keepAny, v)
	return uintptr(unsafe.Pointer(v))
}

// builder appends steps to one list.
type builder struct {
	p     *Prog
	steps *[]Step
}

func (b *builder) next() int32 { return int32(len(*b.steps)) }

// at returns step i, for patching a jump once its target is known. Never
// hold a *Step across another append: the slice may move.
func (b *builder) at(i int32) *Step { return &(*b.steps)[i] }

// sys appends a syscall step and returns it for adjustment.
func (b *builder) sys(nr uintptr, args ...uintptr) *Step {
	s := Step{Kind: kSys, Nr: nr, Save: noReg, ArgReg: [6]int8{noReg, noReg, noReg, noReg, noReg, noReg}}
	copy(s.Args[:], args)
	*b.steps = append(*b.steps, s)
	return &(*b.steps)[len(*b.steps)-1]
}

func (b *builder) add(kind uint8, args ...uintptr) *Step {
	s := b.sys(0, args...)
	s.Kind = kind
	return s
}

// reg makes argument i of s come from register r.
func (s *Step) reg(i int, r int8) *Step { s.ArgReg[i] = r; return s }

// save stores the result of s in register r.
func (s *Step) save(r int8) *Step { s.Save = r; return s }

func (s *Step) ignore(errnos ...unix.Errno) *Step { s.Ignore |= errnoMask(errnos...); return s }

func (s *Step) jumpOn(to int32, errnos ...unix.Errno) *Step {
	s.JumpOn |= errnoMask(errnos...)
	s.JumpTo = to
	return s
}

func (s *Step) jumpAny(to int32) *Step {
	s.JumpOn = anyErrno
	s.JumpTo = to
	return s
}

func errnoMask(errnos ...unix.Errno) uint64 {
	var m uint64
	for _, e := range errnos {
		if e < 63 {
			m |= 1 << uint(e)
		} else {
			m |= 1 << 63
		}
	}
	return m
}

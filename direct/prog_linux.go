package direct

import (
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/zbox-sandbox/zbox/mountns"
)

// Step kinds.
const (
	kSys        uint8 = iota // raw syscall Nr(Args)
	kSet                     // regs[Save] = Args[0]
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
// target's process ending in execve, and pid 1's ghost clean-up.
//
// Everything the child touches lives in the arena: the strings and
// structures the steps point to are placed there while compiling, and
// seal copies the step lists and the header (image) there too; the
// child has it all in its copy of our memory. One mapping of plain
// bytes, outside the Go heap: the collector never scans it, and nothing
// in it is a Go pointer.
type Prog struct {
	Setup  []Step
	Target []Step
	// Cleanup removes the ghosts from inside (pid 1, when zbox died).
	Cleanup []Step
	// Ghosts are the mount points the setup creates on the host, in
	// order; the child reports each one's identity (ReadRecords fills in
	// Dev and Ino; an entry never reported has inode 0, which
	// mountns.RemoveGhosts never matches).
	Ghosts []mountns.Ghost

	mask     uint64   // signals pid 1 reads from its signalfd
	statusFD int      // KeepReaping's status pipe, or -1
	pidns    bool     // pid 1 of a new pid namespace (else just the command's parent)
	parent   int      // zbox's pid (signals from it are relayed)
	exec     execSpec // the command, run after the Target steps
	title    bool     // overwrite zbox's argv memory (kTitle)
}

// image is the header at the start of the arena: where the sealed step
// lists are, and the child's working state. No Go pointers: the arena is
// plain bytes to the garbage collector.
type image struct {
	setup, target, cleanup span
	paths, envs            span // uintptr arrays: execve candidates, environments
	argv                   uintptr
	used                   uintptr // arena bytes in use
	mask                   uint64
	errFD                  uintptr              // where the child reports
	regs                   [8]uintptr           // the registers
	rec                    [4]uint64            // a record for the error pipe (see ReadRecords)
	statbuf                [256]byte            // a struct stat
	ghosts                 [maxGhosts][2]uint64 // dev, ino of each ghost
	sigbuf                 [128]byte            // one signalfd_siginfo
	status                 int32                // wait4 status word
	statusFD               uintptr              // KeepReaping: where the command's status goes (0: not kept)
	exitCode               uintptr              // KeepReaping: the command's status, pid 1's own
	pidns                  uintptr              // 1: pid 1 of a new pid namespace
	parent                 uint32               // zbox's pid, as a signal's sender without a pid namespace
}

// span is an array in the arena: byte offset and element count.
type span struct{ off, n uintptr }

// The arena (see Prog). 4 MiB of address space; only the pages a program
// uses are ever touched (a fresh large allocation is untouched zero
// memory), so neither the allocation nor a fork pays for the rest.
const arenaSize = 4 << 20

var (
	arena     []byte
	arenaUsed uintptr
	// titleArea is zbox's argv memory (kTitle), found before any fork.
	titleArea []byte
)

// errArenaFull makes a program too big for the arena ineligible.
var errArenaFull = &NotEligible{Reason: "program larger than the direct start's arena"}

// resetArena starts a new program: the header is cleared, the rest is
// free. Not safe for concurrent use: one sandbox is compiled at a time.
func resetArena() error {
	if arena == nil {
		// Its own mapping, not Go heap: the collector never looks at
		// it, and small pages only (a transparent huge page would make
		// the first write fault in, and every fork copy, 2 MiB).
		m, err := unix.Mmap(-1, 0, arenaSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
		if err != nil {
			return &NotEligible{Reason: "map the direct start's arena: " + err.Error()}
		}
		_ = unix.Madvise(m, unix.MADV_NOHUGEPAGE)
		arena = m
		titleArea = argvArea()
	}
	hdr := unsafe.Sizeof(image{})
	clear(arena[:hdr])
	arenaUsed = hdr
	return nil
}

func img() *image { return (*image)(unsafe.Pointer(&arena[0])) }

// alloc reserves n bytes (8-aligned) and returns their offset; it panics
// with errArenaFull when the arena is exhausted (Compile recovers).
func alloc(n uintptr) uintptr {
	off := (arenaUsed + 7) &^ 7
	if off+n > uintptr(len(arena)) {
		panic(errArenaFull)
	}
	arenaUsed = off + n
	return off
}

func addr(off uintptr) uintptr { return uintptr(unsafe.Pointer(&arena[off])) }

// seal copies the step lists and the command into the arena and fills
// in the header. errFD is the child's end of the error pipe.
func (p *Prog) seal(errFD int) {
	im := img()
	im.setup = putSteps(p.Setup)
	im.target = putSteps(p.Target)
	im.cleanup = putSteps(p.Cleanup)
	im.paths = putWords(p.exec.paths)
	im.envs = putWords(p.exec.envs)
	im.argv = p.exec.argv
	im.mask = p.mask
	if p.pidns {
		im.pidns = 1
	}
	im.parent = uint32(p.parent)
	if p.statusFD > 0 {
		im.statusFD = uintptr(p.statusFD)
	}
	im.errFD = uintptr(errFD)
	im.used = arenaUsed
}

func putSteps(steps []Step) span {
	if len(steps) == 0 {
		return span{}
	}
	n := uintptr(len(steps)) * unsafe.Sizeof(Step{})
	off := alloc(n)
	copy(arena[off:off+n], unsafe.Slice((*byte)(unsafe.Pointer(&steps[0])), n))
	return span{off, uintptr(len(steps))}
}

func putWords(w []uintptr) span {
	if len(w) == 0 {
		return span{}
	}
	n := uintptr(len(w)) * 8
	off := alloc(n)
	copy(arena[off:off+n], unsafe.Slice((*byte)(unsafe.Pointer(&w[0])), n))
	return span{off, uintptr(len(w))}
}

// execSpec is the command: candidates are tried in order, as execvp
// does; envs is indexed by register rEnvIx (the chosen cwd decides PWD).
type execSpec struct {
	paths []uintptr // *byte each
	argv  uintptr   // **byte, NULL-terminated
	envs  []uintptr // **byte each, NULL-terminated
}

// Failure is what the child reported before the target ran.
type Failure struct {
	Phase int
	Step  int
	Errno unix.Errno
}

// cstr places s, NUL-terminated, in the arena and returns its address.
func (p *Prog) cstr(s string) uintptr {
	off := alloc(uintptr(len(s)) + 1)
	copy(arena[off:], s)
	arena[off+uintptr(len(s))] = 0
	return addr(off)
}

// buf reserves a zeroed buffer of n bytes in the arena.
func (p *Prog) buf(n int) uintptr {
	off := alloc(uintptr(n))
	clear(arena[off : off+uintptr(n)])
	return addr(off)
}

// bytes places a copy of b in the arena and returns its address and
// length.
func (p *Prog) bytes(b []byte) (uintptr, uintptr) {
	if len(b) == 0 {
		return p.buf(1), 0
	}
	off := alloc(uintptr(len(b)))
	copy(arena[off:], b)
	return addr(off), uintptr(len(b))
}

// cstrv places a NULL-terminated array of C strings in the arena.
func (p *Prog) cstrv(ss []string) uintptr {
	v := make([]uintptr, len(ss)+1)
	for i, s := range ss {
		v[i] = p.cstr(s)
	}
	sp := putWords(v)
	return addr(sp.off)
}

// ptr places a copy of *v in the arena and returns its address. T must
// hold no Go pointers (the arena is plain bytes to the collector, and a
// child forked early gets a copy made through a pipe).
func ptr[T any](p *Prog, v *T) uintptr {
	n := unsafe.Sizeof(*v)
	off := alloc(n)
	copy(arena[off:off+n], unsafe.Slice((*byte)(unsafe.Pointer(v)), n))
	return addr(off)
}

// statAddr is the address of the child's stat buffer.
func statAddr() uintptr {
	return addr(unsafe.Offsetof(image{}.statbuf))
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

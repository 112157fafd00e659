package filter

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Classic BPF as used by seccomp (linux/bpf_common.h, linux/filter.h,
// linux/seccomp.h). These values are kernel ABI and never change; they are
// spelled out here so that this file builds on every GOOS (x/sys/unix only
// has them on Linux). filter_linux_test.go checks them against unix.*.
const (
	bpfLD   = 0x00
	bpfLDX  = 0x01
	bpfST   = 0x02
	bpfSTX  = 0x03
	bpfALU  = 0x04
	bpfJMP  = 0x05
	bpfRET  = 0x06
	bpfMISC = 0x07

	bpfW   = 0x00
	bpfIMM = 0x00
	bpfABS = 0x20
	bpfMEM = 0x60
	bpfLEN = 0x80

	bpfADD = 0x00
	bpfSUB = 0x10
	bpfMUL = 0x20
	bpfDIV = 0x30
	bpfOR  = 0x40
	bpfAND = 0x50
	bpfLSH = 0x60
	bpfRSH = 0x70
	bpfNEG = 0x80
	bpfXOR = 0xa0

	bpfJA   = 0x00
	bpfJEQ  = 0x10
	bpfJGT  = 0x20
	bpfJGE  = 0x30
	bpfJSET = 0x40

	bpfK = 0x00
	bpfX = 0x08
	bpfA = 0x10

	bpfTAX = 0x00
	bpfTXA = 0x80

	// bpfMaxInsns is BPF_MAXINSNS: the kernel refuses longer programs.
	bpfMaxInsns = 4096
	// bpfMemWords is BPF_MEMWORDS, the number of scratch memory cells.
	bpfMemWords = 16
)

// Seccomp return values (linux/seccomp.h).
const (
	retKillProcess = 0x80000000
	retErrno       = 0x00050000
	retAllow       = 0x7fff0000
	retDataMask    = 0x0000ffff

	errnoEPERM = 1
)

// Layout of struct seccomp_data: int nr; __u32 arch; __u64
// instruction_pointer; __u64 args[6].
const (
	offNr           = 0
	offArch         = 4
	offArgs         = 16
	seccompDataSize = 64
)

// argLow/argHigh are the offsets of the low and high 32-bit halves of
// args[i]. Classic BPF can only load 32-bit words, so a 64-bit argument is
// compared as two words. Little-endian layout (both supported targets).
func argLow(i int) uint32  { return offArgs + 8*uint32(i) }
func argHigh(i int) uint32 { return argLow(i) + 4 }

// Insn is one classic BPF instruction. It has exactly the layout of the
// kernel's struct sock_filter (and unix.SockFilter); it is a separate type
// only so that assembling and parsing stay portable code.
type Insn struct {
	Code uint16
	Jt   uint8
	Jf   uint8
	K    uint32
}

// insnSize is sizeof(struct sock_filter).
const insnSize = 8

// ParseRaw decodes a caller-supplied seccomp program (bwrap --seccomp FD /
// --add-seccomp-fd FD): the raw bytes of a struct sock_filter array in the
// host's byte order, as written by libseccomp's seccomp_export_bpf.
//
// The bytes are untrusted. Besides the framing checks bwrap does, the
// program is verified with the same rules the kernel applies when it is
// loaded (bpf_check_classic + seccomp_check_filter), so a bad program is
// reported here, with the offending instruction, rather than as a bare
// EINVAL from prctl after the sandbox has been set up.
func ParseRaw(b []byte) (Program, error) {
	if len(b) == 0 {
		return Program{}, errors.New("seccomp program is empty: the file descriptor gave no data; pass a compiled struct sock_filter array (e.g. from seccomp_export_bpf)")
	}
	if len(b)%insnSize != 0 {
		return Program{}, fmt.Errorf("invalid seccomp data: %d bytes is not a multiple of %d (sizeof struct sock_filter); pass a compiled BPF program, not text", len(b), insnSize)
	}
	n := len(b) / insnSize
	if n > bpfMaxInsns {
		return Program{}, fmt.Errorf("seccomp program has %d instructions; the kernel accepts at most %d (BPF_MAXINSNS): split it into several programs", n, bpfMaxInsns)
	}
	insns := make([]Insn, n)
	for i := range insns {
		w := b[i*insnSize:]
		insns[i] = Insn{
			Code: binary.NativeEndian.Uint16(w[0:2]),
			Jt:   w[2],
			Jf:   w[3],
			K:    binary.NativeEndian.Uint32(w[4:8]),
		}
	}
	if err := validate(insns); err != nil {
		return Program{}, err
	}
	return Program{Name: "caller-supplied", Insns: insns}, nil
}

// Marshal returns the program as a raw struct sock_filter array in the
// host's byte order: the inverse of ParseRaw, and the format bwrap's
// --seccomp/--add-seccomp-fd expect (for an engine that hands the filter
// to a system bwrap instead of installing it itself).
func (p Program) Marshal() []byte {
	b := make([]byte, len(p.Insns)*insnSize)
	for i, in := range p.Insns {
		w := b[i*insnSize:]
		binary.NativeEndian.PutUint16(w[0:2], in.Code)
		w[2] = in.Jt
		w[3] = in.Jf
		binary.NativeEndian.PutUint32(w[4:8], in.K)
	}
	return b
}

// seccompOpcodes is the set of opcodes seccomp_check_filter accepts
// (kernel/seccomp.c). It is a subset of what bpf_check_classic allows for
// socket filters: no packet loads other than 32-bit absolute loads of
// seccomp_data, no MOD, no ancillary data.
var seccompOpcodes = map[uint16]bool{
	bpfLD | bpfW | bpfABS:  true,
	bpfLD | bpfW | bpfLEN:  true,
	bpfLDX | bpfW | bpfLEN: true,

	bpfRET | bpfK: true,
	bpfRET | bpfA: true,

	bpfALU | bpfADD | bpfK: true, bpfALU | bpfADD | bpfX: true,
	bpfALU | bpfSUB | bpfK: true, bpfALU | bpfSUB | bpfX: true,
	bpfALU | bpfMUL | bpfK: true, bpfALU | bpfMUL | bpfX: true,
	bpfALU | bpfDIV | bpfK: true, bpfALU | bpfDIV | bpfX: true,
	bpfALU | bpfAND | bpfK: true, bpfALU | bpfAND | bpfX: true,
	bpfALU | bpfOR | bpfK: true, bpfALU | bpfOR | bpfX: true,
	bpfALU | bpfXOR | bpfK: true, bpfALU | bpfXOR | bpfX: true,
	bpfALU | bpfLSH | bpfK: true, bpfALU | bpfLSH | bpfX: true,
	bpfALU | bpfRSH | bpfK: true, bpfALU | bpfRSH | bpfX: true,
	bpfALU | bpfNEG: true,

	bpfLD | bpfIMM:         true,
	bpfLDX | bpfIMM:        true,
	bpfMISC | bpfTAX:       true,
	bpfMISC | bpfTXA:       true,
	bpfLD | bpfMEM:         true,
	bpfLDX | bpfMEM:        true,
	bpfST:                  true,
	bpfSTX:                 true,
	bpfJMP | bpfJA:         true,
	bpfJMP | bpfJEQ | bpfK: true, bpfJMP | bpfJEQ | bpfX: true,
	bpfJMP | bpfJGE | bpfK: true, bpfJMP | bpfJGE | bpfX: true,
	bpfJMP | bpfJGT | bpfK: true, bpfJMP | bpfJGT | bpfX: true,
	bpfJMP | bpfJSET | bpfK: true, bpfJMP | bpfJSET | bpfX: true,
}

func isCondJump(code uint16) bool {
	return code&0x07 == bpfJMP && code&0xf0 != bpfJA
}

// validate applies the kernel's load-time checks for a seccomp program:
// bpf_check_classic (net/core/filter.c) followed by seccomp_check_filter
// (kernel/seccomp.c). Accepting exactly what the kernel accepts matters in
// both directions: stricter would break valid bwrap --seccomp users,
// looser would only defer the error to prctl time.
func validate(insns []Insn) error {
	n := len(insns)
	if n == 0 || n > bpfMaxInsns {
		return fmt.Errorf("seccomp program has %d instructions; want 1 to %d", n, bpfMaxInsns)
	}
	bad := func(pc int, format string, args ...any) error {
		return fmt.Errorf("invalid seccomp program: instruction %d (code %#04x, k %#x): %s", pc, insns[pc].Code, insns[pc].K, fmt.Sprintf(format, args...))
	}
	for pc, in := range insns {
		if !seccompOpcodes[in.Code] {
			return bad(pc, "opcode not allowed in a seccomp filter")
		}
		switch {
		case in.Code == bpfLD|bpfW|bpfABS:
			// seccomp_data is read with aligned 32-bit loads only.
			if in.K >= seccompDataSize || in.K&3 != 0 {
				return bad(pc, "load offset must be 4-byte aligned and below %d (sizeof struct seccomp_data)", seccompDataSize)
			}
		case in.Code == bpfALU|bpfDIV|bpfK:
			if in.K == 0 {
				return bad(pc, "division by constant zero")
			}
		case in.Code == bpfALU|bpfLSH|bpfK, in.Code == bpfALU|bpfRSH|bpfK:
			if in.K >= 32 {
				return bad(pc, "shift by %d (must be below 32)", in.K)
			}
		case in.Code == bpfLD|bpfMEM, in.Code == bpfLDX|bpfMEM, in.Code == bpfST, in.Code == bpfSTX:
			if in.K >= bpfMemWords {
				return bad(pc, "scratch memory index %d out of range (0-%d)", in.K, bpfMemWords-1)
			}
		case in.Code == bpfJMP|bpfJA:
			// Compare in uint64: k is a full 32-bit offset.
			if uint64(in.K) >= uint64(n-pc-1) {
				return bad(pc, "jump target %d beyond the end of the program", uint64(pc)+1+uint64(in.K))
			}
		case isCondJump(in.Code):
			if pc+int(in.Jt)+1 >= n || pc+int(in.Jf)+1 >= n {
				return bad(pc, "conditional jump (+%d/+%d) beyond the end of the program", in.Jt, in.Jf)
			}
		}
	}
	if last := insns[n-1].Code; last != bpfRET|bpfK && last != bpfRET|bpfA {
		return bad(n-1, "the last instruction must be a return")
	}
	return checkLoadsAndStores(insns)
}

// checkLoadsAndStores rejects reads of scratch memory that was not
// written on every path (check_load_and_stores in net/core/filter.c,
// mirrored exactly, including its conservative handling of code after a
// return).
func checkLoadsAndStores(insns []Insn) error {
	masks := make([]uint16, len(insns))
	for i := range masks {
		masks[i] = 0xffff
	}
	var valid uint16
	for pc, in := range insns {
		valid &= masks[pc]
		switch {
		case in.Code == bpfST, in.Code == bpfSTX:
			valid |= 1 << in.K
		case in.Code == bpfLD|bpfMEM, in.Code == bpfLDX|bpfMEM:
			if valid&(1<<in.K) == 0 {
				return fmt.Errorf("invalid seccomp program: instruction %d (code %#04x) reads scratch memory cell %d before every path has written it", pc, in.Code, in.K)
			}
		case in.Code == bpfJMP|bpfJA:
			masks[pc+1+int(in.K)] &= valid
			valid = 0xffff
		case isCondJump(in.Code):
			masks[pc+1+int(in.Jt)] &= valid
			masks[pc+1+int(in.Jf)] &= valid
			valid = 0xffff
		}
	}
	return nil
}

// assembler is a minimal forward-only label assembler for the programs
// Build emits. Classic BPF jumps are unsigned 8-bit offsets (conditional)
// so every target must lie after the jump and within 255 instructions.
type assembler struct {
	insns  []Insn
	labels []int // instruction index per label, -1 until bound
	fixups []fixup
}

type label int

// next is the pseudo-label "the following instruction" (offset 0).
const next label = -1

type fixup struct {
	at     int
	jt, jf label
}

func (a *assembler) newLabel() label {
	a.labels = append(a.labels, -1)
	return label(len(a.labels) - 1)
}

func (a *assembler) bind(l label) {
	a.labels[l] = len(a.insns)
}

func (a *assembler) stmt(code uint16, k uint32) {
	a.insns = append(a.insns, Insn{Code: code, K: k})
}

func (a *assembler) jump(code uint16, k uint32, jt, jf label) {
	a.fixups = append(a.fixups, fixup{at: len(a.insns), jt: jt, jf: jf})
	a.insns = append(a.insns, Insn{Code: code, K: k})
}

func (a *assembler) offset(at int, l label) (uint8, error) {
	if l == next {
		return 0, nil
	}
	if int(l) >= len(a.labels) || a.labels[l] < 0 {
		return 0, fmt.Errorf("filter: internal error: jump at %d to unbound label %d", at, l)
	}
	d := a.labels[l] - at - 1
	if d < 0 || d > 255 {
		return 0, fmt.Errorf("filter: internal error: jump at %d to instruction %d is out of classic BPF range", at, a.labels[l])
	}
	return uint8(d), nil
}

func (a *assembler) finish() ([]Insn, error) {
	for _, f := range a.fixups {
		jt, err := a.offset(f.at, f.jt)
		if err != nil {
			return nil, err
		}
		jf, err := a.offset(f.at, f.jf)
		if err != nil {
			return nil, err
		}
		a.insns[f.at].Jt, a.insns[f.at].Jf = jt, jf
	}
	// Our own output goes through the same verifier as untrusted input:
	// a bug in the assembler must fail Build, not the sandbox start.
	if err := validate(a.insns); err != nil {
		return nil, fmt.Errorf("filter: internal error: assembled program rejected: %w", err)
	}
	return a.insns, nil
}

// Package direct starts a sandbox without a second Go runtime.
//
// The general native engine re-executes zbox as the sandbox's pid 1 (the
// "init"): a fresh Go runtime that reads the plan, builds the root and
// spawns the target. That costs a whole process start (~1-2 ms: exec of
// a 9 MB binary, runtime and package initialisation, CPUID probes that
// trap in VMs, a JSON round trip) on every sandbox, and is what made zbox
// slower to start than bubblewrap.
//
// The direct path removes it for the plans that need nothing dynamic from
// the init. The outer zbox, which has the full runtime, decides every
// syscall ahead of time and compiles them into a Prog: a flat list of
// Steps (syscall number, arguments, what to do on each errno). It then
// forks (clone without CLONE_VM, with the namespace flags) and the child
// runs the program with raw syscalls only, in go:nosplit functions that
// neither allocate nor touch the scheduler — the same discipline as the
// standard library's forkAndExecInChild, extended to a whole pid 1. The
// child never returns into Go code.
//
// Which plans qualify is decided by the compiler (Compile): anything it
// cannot express precisely (ghost mount points on the host, symlinks in a
// destination, bwrap's status fds, limits, proxies, ...) makes it refuse,
// and the caller uses the general init. A setup failure in the child
// before the target runs is reported as (phase, step, errno); the caller
// then re-runs the same plan with the general init, which either succeeds
// (the direct path hit a kernel without a syscall it uses) or fails with
// the full, worded error. Nothing of a failed attempt survives it: every
// mount was made in the child's private mount namespace.
package direct

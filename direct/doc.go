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
// The program and everything it points to live in one private mapping
// (the arena, see Prog): plain bytes, no Go pointers. pid 1 starts the
// target with CLONE_VM|CLONE_VFORK (vfork_linux_*.s), so the target's
// process shares pid 1's memory until its execve and no address space is
// copied twice.
//
// Which plans qualify is decided by the compiler (Compile): anything it
// cannot express precisely (a symlink in a destination, missing parents
// on the host, bwrap's status fds, limits, proxies, Landlock filesystem
// rules, ...) makes it refuse, and the caller uses the general init. A
// setup failure in the child before the target runs is reported as
// (phase, step, errno); the caller then re-runs the same plan with the
// general init, which either succeeds (the direct path hit something it
// cannot do) or fails with the full, worded error. Of a failed attempt
// only mount points created on the host can survive it, and the caller
// removes those (their identity comes over the same pipe); every mount
// was made in the child's private mount namespace.
//
// The package also gives the general init its fork+exec (Spawn, in
// spawn_linux.go): syscall.ForkExec's child steps with the same raw
// discipline, plus the resource limits set just before execve, which
// the standard library has no hook for.
package direct

// Package lsm applies zbox's Landlock policy to ONE OS thread.
//
// zbox's sandbox init (pid 1 of the sandbox) must stay outside the
// target's Landlock domain: a process inside a domain can neither ptrace
// nor (with the ABI 6 scopes) signal a process outside it, so keeping
// init unrestricted is what stops the target from killing or inspecting
// it. That rules out go-landlock's Restrict, which enforces on every
// thread of the process (psx / TSYNC). Instead:
//
//	lsm.RunOnDisposableThread(func() {
//		rep, err := lsm.RestrictThread(spec) // this thread only
//		...
//		pid, err = syscall.ForkExec(argv0, argv, attr) // child inherits the domain
//	}) // the restricted thread is destroyed here
//
// or, for the helper's legacy pipeline, RestrictThread then unix.Exec from
// the same thread (execve from any thread replaces the whole process with
// the calling thread's credentials, Landlock domain included).
//
// Plan is the pure half: what RestrictThread would enforce for a spec at
// a given ABI. Probe reports what the running kernel offers.
package lsm

package main

import (
	"fmt"

	"github.com/zbox-sandbox/zbox/policy"
)

// Process stages of the native engine.
//
//	zbox (outer, host side)          parses the command line, makes the plan,
//	  │                              serves proxy bridges, forwards signals,
//	  │                              exits with the target's status
//	  └─ zbox-init (pid 1 of the     builds the root, brings lo up, drops its
//	       │ new namespaces)         capabilities, reaps orphans
//	       └─ target                 forked from one locked thread of the init
//	                                 that carries Landlock, seccomp and no caps
//
// The init is a re-exec of /proc/self/exe with argv[0] "zbox-init":
// namespaces have to be created at clone time for a fresh process, because
// a Go process is multithreaded before main and the kernel refuses
// unshare(CLONE_NEWUSER) to a multithreaded caller (go-stack.md §1.1).
//
// There is no separate exec stage: the init applies the target's
// restrictions to a single locked OS thread and forks the target from that
// thread. seccomp filters, the Landlock domain, no_new_privs and
// capabilities are per-thread and are copied by fork, so the target gets
// them while the init's other threads — and so the init itself — stay
// outside the target's Landlock domain (the target cannot signal or ptrace
// its pid 1). This saves a whole Go process start per sandbox.
const initArg0 = "zbox-init"

// Exit statuses of zbox itself.
const (
	exitSetup = 1 // setup failed before the target ran (bwrap uses 1 too)
	exitUsage = 2
)

// initConfig travels from the outer to the init as JSON on fd 3.
type initConfig struct {
	Plan *policy.Plan `json:"plan"`
	// Cwd is the caller's working directory, for bwrap's default chdir
	// rule when Plan.Chdir is empty.
	Cwd   string `json:"cwd"`
	Home  string `json:"home,omitempty"`
	Debug bool   `json:"debug,omitempty"`
	// HostRoot: the sandbox's uid is host uid 0 (a root caller), which
	// owns the kernel's /proc files; see mountns.Options.HostRoot.
	HostRoot bool `json:"host_root,omitempty"`
	// Cgroups are the limits' cgroup directories the init was put in.
	Cgroups []string `json:"cgroups,omitempty"`
	// StartedNS is when the outer saw the init's exec succeed (debug
	// timing only).
	StartedNS int64 `json:"started_ns,omitempty"`
	// KeepReaping keeps pid 1 alive after the target exits until every
	// other process in the sandbox has exited (bwrap's behaviour). zbox's
	// default kills them: nothing outlives the command.
	KeepReaping bool `json:"keep_reaping,omitempty"`
	// KeepGhosts: leave mount points created on the host (bwrap does).
	KeepGhosts bool `json:"keep_ghosts,omitempty"`
	// FDs are caller fds passed through to the sandbox, in the init at
	// firstPassedFD+i, with the number the caller gave and their role.
	FDs []passedFD `json:"fds,omitempty"`
	// RedirectConnect asks the init to put the proxy redirect's
	// connect-notify filter on the target and send its listener
	// (msgRedirect); see netns.Redirector.
	RedirectConnect bool `json:"redirect_connect,omitempty"`
}

// passedFD is one caller fd handed to the init (bwrap front-end).
type passedFD struct {
	Orig int    `json:"orig"` // the number the caller used (and the target sees)
	Role string `json:"role"` // "keep" (target inherits), "sync" (pid 1 holds), "block" (read before exec)
}

// firstPassedFD is where passed fds start in the init (3: config, 4: control).
const firstPassedFD = 5

// Messages on the control socket (SOCK_SEQPACKET, fd 4 in the init).
const (
	msgSetupError = 'E' // E<text>: setup failed
	msgExecError  = 'X' // X<errno>\x00<command>: the target could not be executed
	msgListeners  = 'L' // L<json endpoints> + SCM_RIGHTS listener fds
	msgStarted    = 'S' // S<pid in the sandbox>
	msgExited     = 'Q' // Q<status>: the target exited (sent before pid 1 waits for the rest)
	msgGhosts     = 'G' // G<json []mountns.Ghost>: mount points created on the host
	msgRedirect   = 'R' // R + SCM_RIGHTS connect-notify listener fd, or R<why not> without one
)

// SetupError is a failure before the target ran.
type SetupError struct{ Msg string }

func (e *SetupError) Error() string { return e.Msg }

// ExecError is the target's execve failing (missing or not executable).
type ExecError struct {
	Cmd   string
	Errno int
	Text  string
}

func (e *ExecError) Error() string { return fmt.Sprintf("%s: %s", e.Cmd, e.Text) }

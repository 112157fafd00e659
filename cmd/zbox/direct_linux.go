package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/zbox-sandbox/zbox/direct"
	"github.com/zbox-sandbox/zbox/mountns"
	"github.com/zbox-sandbox/zbox/netns"
	"github.com/zbox-sandbox/zbox/policy"
)

// initEnvVar chooses how the native engine starts a sandbox: unset, the
// direct start where the plan allows it and the general init otherwise;
// "go", always the general init; "direct", the direct start or an error
// saying why not (no fallback). The last two are for comparing the paths
// and for tests that must prove which one ran.
const initEnvVar = "ZBOX_INIT"

// runDirect runs plan with the direct start (package direct): no second
// Go runtime, the sandbox's pid 1 is a raw-syscall child of this process.
// handled is false when the plan (or this host) needs the general init,
// or when the direct setup failed before the command ran; the caller then
// runs the general init, which also words any real setup error.
func runDirect(plan *policy.Plan, opt nativeOptions, logf func(string, ...any)) (res nativeResult, err error, handled bool) {
	mode := os.Getenv(initEnvVar)
	if mode == "go" {
		return res, nil, false
	}
	res, why, err, handled := runDirect1(plan, opt, logf)
	if !handled && mode == "direct" {
		return res, &SetupError{Msg: "direct start (" + initEnvVar + "=direct): " + why}, true
	}
	return res, err, handled
}

// needsGeneralInit says why the run options or the caller rule the
// direct start out before any compiling ("" when they do not).
func needsGeneralInit(plan *policy.Plan, debug, onStart bool) string {
	switch {
	case debug:
		return "--debug reports its steps"
	case onStart:
		return "the front-end's start-up report"
	case plan.Namespaces.User && os.Getuid() == 0 && !hasCap(unix.CAP_SETFCAP):
		return "uid 0 without CAP_SETFCAP" // the general init explains this case
	}
	return ""
}

func runDirect1(plan *policy.Plan, opt nativeOptions, logf func(string, ...any)) (res nativeResult, why string, err error, handled bool) {
	if why := needsGeneralInit(plan, opt.Debug, opt.OnStart != nil); why != "" {
		return res, why, nil, false
	}
	// The limits' pids/memory cgroup, where zbox can make one: pid 1
	// joins it first thing. The rlimits are set on the command itself.
	cg := newSandboxCgroup(plan.Limits, logf)
	defer cg.remove()
	t0 := time.Now()
	host := direct.Host{UID: os.Getuid(), GID: os.Getgid(), LifeR: -1, LifeW: -1, KeepGhosts: opt.KeepGhosts}
	if plan.Env == nil {
		host.Env = os.Environ() // the command inherits zbox's
	}
	host.Cwd, _ = os.Getwd()
	if plan.DieWithParent {
		var life [2]int
		if err := unix.Pipe2(life[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
			return res, err.Error(), nil, false
		}
		defer unix.Close(life[0])
		defer unix.Close(life[1])
		host.LifeR, host.LifeW = life[0], life[1]
	}
	var ep [2]int
	if err := unix.Pipe2(ep[:], unix.O_CLOEXEC); err != nil {
		return res, err.Error(), nil, false
	}
	errR, errW := ep[0], ep[1]
	defer unix.Close(errR)
	host.SpareFD, host.ErrW, host.StatusW = errR, errW, -1
	if cg != nil {
		host.CgroupDirs = cg.dirs
	}
	statusR := -1
	if opt.KeepReaping {
		var sp [2]int
		if err := unix.Pipe2(sp[:], unix.O_CLOEXEC); err != nil {
			unix.Close(errW)
			return res, err.Error(), nil, false
		}
		statusR, host.StatusW, host.KeepReaping = sp[0], sp[1], true
		defer unix.Close(statusR)
	}
	// Our copies of the write ends go right after Start (or now, if
	// there is no Start): only the child may hold them then. Exactly
	// once: a second close could hit an fd another goroutine got since.
	closeWriteEnds := func() {
		unix.Close(errW)
		if host.StatusW >= 0 {
			unix.Close(host.StatusW)
		}
	}
	// Proxy-only: the bridges' ports, the rewritten proxy variables and
	// the socketpair their fds come back on.
	var br *directBridges
	if plan.Network.Mode == policy.NetProxyOnly {
		var err error
		if plan, br, err = prepareDirectBridges(plan, &host, opt); err != nil {
			closeWriteEnds()
			return res, err.Error(), nil, false
		}
		defer br.close()
	}
	prog, flags, cerr := direct.Compile(plan, host)
	if cerr != nil {
		closeWriteEnds()
		return res, cerr.Error(), nil, false
	}

	// The parent-death signal is tied to the forking thread: keep it
	// until the sandbox is reaped.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	pid, finishRelay, serr := relayTo(!plan.NewSession, func() (int, error) { return direct.Start(prog, flags) })
	closeWriteEnds()
	br.childHasIt()
	if serr != nil {
		return res, "", startError(serr), true
	}
	defer finishRelay()
	init := &initHandle{pid: pid}
	timedOut, stopTimer := init.killAfter(opt.Timeout)
	defer stopTimer()

	// EOF: the command has been exec'd (or pid 1 died). Records: the
	// mount points created on the host, and a failure before the command
	// ran.
	var recs []byte
	buf := make([]byte, 512)
	for {
		m, err := unix.Read(errR, buf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || m == 0 {
			break
		}
		recs = append(recs, buf[:m]...)
	}
	fail := direct.ReadRecords(prog, recs)
	if fail == nil && br != nil {
		// The command runs: its bridges and connect redirect were sent
		// before its execve.
		br.serve(opt, logf)
	}
	if fail == nil && statusR >= 0 {
		// bwrap's semantics: the command's status as soon as it exits;
		// pid 1 goes on reaping whatever it left running.
		var b [8]byte
		if n, _ := readFull(statusR, b[:]); n == len(b) {
			return nativeResult{Status: int(binary.NativeEndian.Uint64(b[:]))}, "", nil, true
		}
	}
	ws, waitErr := init.wait()
	// pid 1 is reaped: its pid may be reused from here on, so no signal
	// or timeout kill may go to it any more.
	finishRelay()
	stopTimer()
	timedOutNow := timedOut()
	// The sandbox is gone: remove the mount points it had to create on
	// the host, where they are still exactly what it created.
	if !opt.KeepGhosts {
		mountns.RemoveGhosts(prog.Ghosts)
	}
	if fail != nil {
		if fail.Phase == direct.PhaseTarget && fail.Step == prog.ExecStep() {
			// execve itself failed: the command is missing or not
			// executable. Nothing to retry.
			return res, "", &ExecError{Cmd: plan.Command[0], Errno: int(fail.Errno), Text: errnoText(fail.Errno)}, true
		}
		return res, prog.Describe(fail) + "; the general init does without it", nil, false
	}
	logf("sandbox exited after %s (direct start)", time.Since(t0))
	if timedOutNow {
		return nativeResult{Status: 124, TimedOut: true}, "", nil, true
	}
	if waitErr != nil {
		return res, "", &SetupError{Msg: fmt.Sprintf("wait for sandbox: %v", waitErr)}, true
	}
	status := ws.ExitStatus()
	if ws.Signaled() {
		status = 128 + int(ws.Signal())
	}
	return nativeResult{Status: status}, "", nil, true
}

// directVerdict says, without running anything, how the native engine
// would start plan: the direct start, or the general init and why (for
// zbox explain). Compile only reads the filesystem and probes the
// kernel; the fd numbers it is given here are placeholders.
func directVerdict(plan *policy.Plan, debug bool) string {
	if os.Getenv(initEnvVar) == "go" {
		return "general init (" + initEnvVar + "=go)"
	}
	if why := needsGeneralInit(plan, debug, false); why != "" {
		return "general init (" + why + ")"
	}
	host := direct.Host{UID: os.Getuid(), GID: os.Getgid(), Env: os.Environ(), LifeR: 3, LifeW: 4, SpareFD: 5, ErrW: 6, StatusW: -1}
	host.Cwd, _ = os.Getwd()
	if plan.Network.Mode == policy.NetProxyOnly {
		host.BridgeFD = 7
		for i := range netns.DistinctEndpoints(plan.Network.Routes) {
			host.BridgePorts = append(host.BridgePorts, 10000+i)
		}
	}
	if _, _, err := direct.Compile(plan, host); err != nil {
		return "general init (" + strings.TrimPrefix(err.Error(), "direct start not possible: ") + ")"
	}
	return "direct (no second Go runtime)"
}

// readFull reads len(b) bytes unless EOF or an error comes first.
func readFull(fd int, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := unix.Read(fd, b[n:])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || m == 0 {
			return n, err
		}
		n += m
	}
	return n, nil
}

// ttySignal reports whether a terminal sends sig to its foreground
// process group by itself (^C, ^\, a window resize). A sandbox without a
// new session stays in zbox's process group, the terminal's foreground
// one, so the command gets these straight from the terminal, as under
// bwrap; relaying them too would deliver them twice.
func ttySignal(sig os.Signal) bool {
	return sig == syscall.SIGINT || sig == syscall.SIGQUIT || sig == syscall.SIGWINCH
}

// relayedSignals are passed on to the sandbox (its pid 1 hands them to
// the command).
var relayedSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH}

// sigRelay passes the signals zbox receives on to the process it runs:
// the sandbox's pid 1 (either start), or the system bwrap or a helper
// stage. It is the one signal handler of a zbox process that runs
// something.
//
// It is registered when zbox starts, concurrently with flag parsing: the
// first signal.Notify starts the runtime's signal-handling thread and
// goroutine, about 0.3 ms that would otherwise sit between parsing and
// the clone. Until a child is about to start, a signal keeps its default
// effect (re-raised after signal.Reset). From arm, just before the
// start, signals are queued, and handed to the child by to; after
// finish (the child is reaped), late ones are dropped rather than sent to
// a pid that may have been recycled.
type sigRelay struct {
	ch      chan os.Signal
	ready   chan struct{}
	mu      sync.Mutex
	pid     int
	state   relayState
	pending []syscall.Signal // received while armed
	// sameGroup: the child shares zbox's process group (no new session),
	// so terminal signals reach it directly and are not passed on.
	sameGroup bool
}

type relayState int

const (
	relayWaiting  relayState = iota // no child yet: default effect
	relayArmed                      // a child is being started: queue
	relayActive                     // pass on to pid
	relayFinished                   // child gone: drop
)

var (
	relayOnce sync.Once
	relay     *sigRelay
)

// startSignalRelay starts (once) and returns the relay.
func startSignalRelay() *sigRelay {
	relayOnce.Do(func() {
		relay = &sigRelay{ch: make(chan os.Signal, 16), ready: make(chan struct{})}
		go relay.loop()
	})
	return relay
}

// relayTo arms the relay for a child about to be started by start,
// which returns its pid; from then on zbox's signals go to that child.
// The returned finish must be called once the child is reaped.
func relayTo(sameGroup bool, start func() (int, error)) (pid int, finish func(), err error) {
	r := startSignalRelay() // normally already started by main
	<-r.ready
	r.mu.Lock()
	r.state = relayArmed
	r.mu.Unlock()
	pid, err = start()
	if err != nil {
		r.finish()
		return 0, func() {}, err
	}
	r.mu.Lock()
	r.state, r.pid, r.sameGroup = relayActive, pid, sameGroup
	pending := r.pending
	r.pending = nil
	r.mu.Unlock()
	for _, sig := range pending {
		r.pass(sig, pid, sameGroup)
	}
	return pid, r.finish, nil
}

func (r *sigRelay) loop() {
	signal.Notify(r.ch, relayedSignals...)
	close(r.ready)
	for s := range r.ch {
		sig := s.(syscall.Signal)
		r.mu.Lock()
		state, pid, same := r.state, r.pid, r.sameGroup
		if state == relayArmed {
			r.pending = append(r.pending, sig)
		}
		r.mu.Unlock()
		switch state {
		case relayActive:
			r.pass(sig, pid, same)
		case relayWaiting:
			if sig != syscall.SIGWINCH {
				signal.Reset(sig)
				_ = unix.Kill(os.Getpid(), sig)
			}
		}
	}
}

func (r *sigRelay) pass(sig syscall.Signal, pid int, sameGroup bool) {
	if sameGroup && ttySignal(sig) {
		return
	}
	_ = unix.Kill(pid, sig)
}

func (r *sigRelay) finish() {
	r.mu.Lock()
	r.state, r.pid, r.pending = relayFinished, 0, nil
	r.mu.Unlock()
}

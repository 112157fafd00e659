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

func runDirect1(plan *policy.Plan, opt nativeOptions, logf func(string, ...any)) (res nativeResult, why string, err error, handled bool) {
	switch {
	case opt.Debug:
		// The general init reports each step's timing.
		return res, "--debug uses the general init", nil, false
	case opt.Proxy != nil, opt.OnStart != nil:
		return res, "the front-end needs the general init's control channel", nil, false
	case plan.Namespaces.User && os.Getuid() == 0 && !hasCap(unix.CAP_SETFCAP):
		return res, "uid 0 without CAP_SETFCAP", nil, false // the general init explains this case
	}
	// The limits' pids/memory cgroup, where zbox can make one: pid 1
	// joins it first thing. The rlimits are set on the command itself.
	cg := newSandboxCgroup(plan.Limits, logf)
	defer cg.remove()
	t0 := time.Now()
	host := direct.Host{UID: os.Getuid(), GID: os.Getgid(), Env: os.Environ(), LifeR: -1, LifeW: -1}
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
	prog, flags, cerr := direct.Compile(plan, host)
	if cerr != nil {
		closeWriteEnds()
		return res, cerr.Error(), nil, false
	}

	relay := startSignalRelay() // normally already started by main
	<-relay.ready

	// The parent-death signal is tied to the forking thread: keep it
	// until the sandbox is reaped.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	pid, serr := direct.Start(prog, flags)
	closeWriteEnds()
	if serr != nil {
		return res, "", startError(serr), true
	}
	init := &initHandle{pid: pid}
	relay.to(pid, !plan.NewSession)
	defer relay.finish()
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
	if fail == nil && statusR >= 0 {
		// bwrap's semantics: the command's status as soon as it exits;
		// pid 1 goes on reaping whatever it left running.
		var b [8]byte
		if n, _ := readFull(statusR, b[:]); n == len(b) {
			return nativeResult{Status: int(binary.NativeEndian.Uint64(b[:]))}, "", nil, true
		}
	}
	ws, waitErr := init.wait()
	// The sandbox is gone: remove the mount points it had to create on
	// the host, where they are still exactly what it created.
	mountns.RemoveGhosts(prog.Ghosts)
	if fail != nil {
		if fail.Phase == direct.PhaseTarget && fail.Step == prog.ExecStep() {
			// execve itself failed: the command is missing or not
			// executable. Nothing to retry.
			return res, "", &ExecError{Cmd: plan.Command[0], Errno: int(fail.Errno), Text: errnoText(fail.Errno)}, true
		}
		return res, prog.Describe(fail) + "; the general init does without it", nil, false
	}
	logf("sandbox exited after %s (direct start)", time.Since(t0))
	if timedOut() {
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
func directVerdict(plan *policy.Plan, debug, proxy bool) string {
	if os.Getenv(initEnvVar) == "go" {
		return "general init (" + initEnvVar + "=go)"
	}
	switch {
	case debug:
		return "general init (--debug reports its steps)"
	case proxy:
		return "general init (the allow-list proxy's bridge)"
	case plan.Namespaces.User && os.Getuid() == 0 && !hasCap(unix.CAP_SETFCAP):
		return "general init (uid 0 without CAP_SETFCAP)"
	}
	host := direct.Host{UID: os.Getuid(), GID: os.Getgid(), Env: os.Environ(), LifeR: 3, LifeW: 4, SpareFD: 5, ErrW: 6, StatusW: -1}
	host.Cwd, _ = os.Getwd()
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

// sigRelay passes signals zbox receives on to the sandbox's pid 1.
//
// It is registered when zbox starts, concurrently with flag parsing: the
// first signal.Notify starts the runtime's signal-handling thread and
// goroutine, about 0.3 ms that would otherwise sit between parsing and
// the clone. Before a sandbox exists a signal keeps its default effect
// (re-raised after signal.Reset); after the sandbox has been reaped,
// late signals are dropped rather than sent to a pid that may have been
// recycled. The general init's path registers its own handler and
// releases this one.
type sigRelay struct {
	ch    chan os.Signal
	ready chan struct{}
	mu    sync.Mutex
	pid   int
	state relayState
	// sameGroup: the sandbox shares zbox's process group (no new
	// session), so terminal signals reach the command directly.
	sameGroup bool
}

type relayState int

const (
	relayWaiting  relayState = iota // no sandbox yet: default effect
	relayActive                     // pass on to pid
	relayFinished                   // sandbox gone: drop
	relayReleased                   // someone else handles signals: drop
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

func (r *sigRelay) loop() {
	signal.Notify(r.ch, relayedSignals...)
	close(r.ready)
	for s := range r.ch {
		sig := s.(syscall.Signal)
		r.mu.Lock()
		state, pid, same := r.state, r.pid, r.sameGroup
		r.mu.Unlock()
		switch state {
		case relayActive:
			if same && ttySignal(sig) {
				continue
			}
			_ = unix.Kill(pid, sig)
		case relayWaiting:
			if sig != syscall.SIGWINCH {
				signal.Reset(sig)
				_ = unix.Kill(os.Getpid(), sig)
			}
		}
	}
}

func (r *sigRelay) set(state relayState, pid int) {
	r.mu.Lock()
	r.state, r.pid = state, pid
	r.mu.Unlock()
}

func (r *sigRelay) to(pid int, sameGroup bool) {
	r.mu.Lock()
	r.state, r.pid, r.sameGroup = relayActive, pid, sameGroup
	r.mu.Unlock()
}
func (r *sigRelay) finish() { r.set(relayFinished, 0) }

// releaseSignalRelay hands signal handling to another handler (the
// general init's path), if the relay was started.
func releaseSignalRelay() {
	if relay != nil {
		relay.set(relayReleased, 0)
	}
}

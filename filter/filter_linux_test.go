package filter

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/zbox-sandbox/zbox/policy"
)

// Kernel tests. A seccomp filter cannot be removed, so every test that
// installs one runs in a child: the test binary re-execs itself with
// childEnv set, and TestMain dispatches to the child mode before any test
// runs. Children report as JSON on stdout.

const (
	childEnv = "ZBOX_FILTER_TEST_CHILD"
	specEnv  = "ZBOX_FILTER_TEST_SPEC"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(childMain(mode))
	}
	os.Exit(m.Run())
}

func childMain(mode string) int {
	// Never leave a core file behind when a child is killed by SIGSYS.
	_ = unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{})
	switch mode {
	case "policy":
		return childPolicy()
	case "probe":
		runtime.LockOSThread()
		return emit(threadReport())
	case "badprog":
		return childBadProg()
	case "checks":
		return childChecks()
	default:
		if f, ok := extraChildModes[mode]; ok {
			return f()
		}
		fmt.Fprintf(os.Stderr, "unknown child mode %q\n", mode)
		return 2
	}
}

// extraChildModes is filled by architecture-specific test files.
var extraChildModes = map[string]func() int{}

func emit(v any) int {
	if err := json.NewEncoder(os.Stdout).Encode(v); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	return 0
}

func die(format string, args ...any) int {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	return 3
}

// report is what one thread observes.
type report struct {
	Probes     map[string]string `json:"probes"`
	NoNewPrivs string            `json:"no_new_privs"`
	Seccomp    string            `json:"seccomp"`
	Filters    string            `json:"filters"`
}

type childOutput struct {
	Main  report   `json:"main"`  // the thread that installed the filter
	Other report   `json:"other"` // a thread that existed before the install
	Late  []report `json:"late"`  // threads started after it
	Exec  report   `json:"exec"`  // a process exec'd from the filtered thread
	// NewThreads is how many OS threads the process gained while
	// starting the late goroutines.
	NewThreads int `json:"new_threads"`
}

const lateThreads = 8

func countTasks() int {
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return -1
	}
	return len(ents)
}

func childPolicy() int {
	var spec policy.FilterSpec
	if err := json.Unmarshal([]byte(os.Getenv(specEnv)), &spec); err != nil {
		return die("bad spec: %v", err)
	}
	runtime.LockOSThread()

	// A second thread, alive before the filter exists.
	ready, start, otherOut := make(chan struct{}), make(chan struct{}), make(chan report)
	go func() {
		runtime.LockOSThread()
		close(ready)
		<-start
		otherOut <- threadReport()
	}()
	<-ready

	progs, err := Build(spec, runtime.GOARCH)
	if err != nil {
		return die("Build: %v", err)
	}
	if err := InstallOnThread(progs); err != nil {
		return die("InstallOnThread: %v", err)
	}

	var out childOutput
	out.Main = threadReport()
	close(start)
	out.Other = <-otherOut

	// Threads started after the install. Each goroutine holds its own
	// locked thread until all have started, so this needs lateThreads
	// distinct threads and makes the runtime create new ones (from its
	// unfiltered template thread, since the requesting thread is locked).
	tasksBefore := countTasks()
	var started sync.WaitGroup
	started.Add(lateThreads)
	all, lateOut := make(chan struct{}), make(chan report, lateThreads)
	for range lateThreads {
		go func() {
			runtime.LockOSThread()
			started.Done()
			<-all
			lateOut <- threadReport()
		}()
	}
	started.Wait()
	out.NewThreads = countTasks() - tasksBefore
	close(all)
	for range lateThreads {
		out.Late = append(out.Late, <-lateOut)
	}

	// fork+exec from the filtered (locked) thread: the filter and
	// no_new_privs must be inherited and survive execve.
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=probe")
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	if err != nil {
		return die("exec probe child: %v", err)
	}
	if err := json.Unmarshal(b, &out.Exec); err != nil {
		return die("probe child output %q: %v", b, err)
	}
	return emit(out)
}

// childBadProg installs a valid program followed by one the kernel
// rejects, and reports the error.
func childBadProg() int {
	runtime.LockOSThread()
	good := Program{Name: "good", Insns: []Insn{{Code: bpfRET | bpfK, K: retAllow}}}
	bad := Program{Name: "broken", Insns: []Insn{{Code: 0xffff}}}
	err := InstallOnThread([]Program{good, bad})
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	return emit(map[string]string{"error": msg, "filters": statusField("Seccomp_filters")})
}

func statusField(key string) string {
	// /proc/thread-self, not /proc/self: seccomp and no_new_privs are
	// per-thread, and /proc/self/status shows the thread-group leader.
	f, err := os.Open("/proc/thread-self/status")
	if err != nil {
		return "error: " + err.Error()
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if k, v, ok := strings.Cut(s.Text(), ":"); ok && k == key {
			return strings.TrimSpace(v)
		}
	}
	return "missing"
}

func threadReport() report {
	return report{
		Probes:     probes(),
		NoNewPrivs: statusField("NoNewPrivs"),
		Seccomp:    statusField("Seccomp"),
		Filters:    statusField("Seccomp_filters"),
	}
}

func errName(e syscall.Errno) string {
	if e == 0 {
		return "ok"
	}
	if n := unix.ErrnoName(e); n != "" {
		return n
	}
	return fmt.Sprintf("errno %d", int(e))
}

const (
	hi32      = uintptr(1) << 32
	badFD     = ^uintptr(0) // -1
	noSuchPID = 0x3fffffff  // above PID_MAX_LIMIT
)

// probes issues raw syscalls whose outcome shows whether the filter
// intercepted them. Calls are made so that, unfiltered, they fail
// harmlessly (bad fd, no such pid, bad pointer) or create and close a
// socket; filtered, seccomp answers before the kernel looks at any
// argument.
func probes() map[string]string {
	r := map[string]string{}
	sock := func(name string, domain uintptr, typ, proto int) {
		fd, _, e := unix.Syscall(unix.SYS_SOCKET, domain, uintptr(typ|unix.SOCK_CLOEXEC), uintptr(proto))
		if e == 0 {
			unix.Close(int(fd))
		}
		r[name] = errName(e)
	}
	sock("socket_inet", unix.AF_INET, unix.SOCK_STREAM, 0)
	sock("socket_inet6", unix.AF_INET6, unix.SOCK_STREAM, 0)
	sock("socket_unix", unix.AF_UNIX, unix.SOCK_STREAM, 0)
	sock("socket_unix_seqpacket", unix.AF_UNIX, unix.SOCK_SEQPACKET, 0)
	sock("socket_unix_dgram", unix.AF_UNIX, unix.SOCK_DGRAM, 0)
	// The kernel makes AF_UNIX SOCK_RAW a datagram socket.
	sock("socket_unix_raw", unix.AF_UNIX, unix.SOCK_RAW, 0)
	sock("socket_netlink", unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_ROUTE)
	sock("socket_packet", unix.AF_PACKET, unix.SOCK_RAW, 0)
	sock("socket_vsock", unix.AF_VSOCK, unix.SOCK_STREAM, 0)
	// Upper-half garbage: the kernel truncates to int and sees the
	// family in the low half.
	sock("socket_inet_hi", unix.AF_INET|hi32, unix.SOCK_STREAM, 0)
	sock("socket_unix_hi", unix.AF_UNIX|hi32, unix.SOCK_STREAM, 0)

	pairOf := func(name string, domain, typ uintptr) {
		var fds [2]int32
		_, _, e := unix.Syscall6(unix.SYS_SOCKETPAIR, domain, typ|unix.SOCK_CLOEXEC, 0,
			uintptr(unsafe.Pointer(&fds)), 0, 0)
		if e == 0 {
			unix.Close(int(fds[0]))
			unix.Close(int(fds[1]))
		}
		r[name] = errName(e)
	}
	pair := func(name string, domain uintptr) { pairOf(name, domain, unix.SOCK_STREAM) }
	pair("socketpair_unix", unix.AF_UNIX)
	// A datagram socketpair end still sendmsg()s to any datagram socket
	// it names.
	pairOf("socketpair_unix_dgram", unix.AF_UNIX, unix.SOCK_DGRAM)
	pair("socketpair_unix_hi", unix.AF_UNIX|hi32)
	pair("socketpair_unix_neg", unix.AF_UNIX|^uintptr(0xffffffff))
	pair("socketpair_inet", unix.AF_INET)

	onBadFD := map[string]uintptr{
		"connect": unix.SYS_CONNECT, "accept": unix.SYS_ACCEPT, "accept4": unix.SYS_ACCEPT4,
		"bind": unix.SYS_BIND, "listen": unix.SYS_LISTEN, "getpeername": unix.SYS_GETPEERNAME,
		"getsockname": unix.SYS_GETSOCKNAME, "shutdown": unix.SYS_SHUTDOWN, "sendto": unix.SYS_SENDTO,
		"sendmmsg": unix.SYS_SENDMMSG, "recvmmsg": unix.SYS_RECVMMSG, "getsockopt": unix.SYS_GETSOCKOPT,
		"setsockopt": unix.SYS_SETSOCKOPT, "recvfrom": unix.SYS_RECVFROM, "sendmsg": unix.SYS_SENDMSG,
		"recvmsg": unix.SYS_RECVMSG, "io_uring_enter": unix.SYS_IO_URING_ENTER,
		"io_uring_register": unix.SYS_IO_URING_REGISTER, "pidfd_getfd": unix.SYS_PIDFD_GETFD,
	}
	for name, nr := range onBadFD {
		_, _, e := unix.Syscall6(nr, badFD, 0, 0, 0, 0, 0)
		r[name] = errName(e)
	}
	// io_uring_setup(0, NULL): EFAULT (or EINVAL) unfiltered, no ring.
	_, _, e := unix.Syscall(unix.SYS_IO_URING_SETUP, 0, 0, 0)
	r["io_uring_setup"] = errName(e)
	_, _, e = unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_PEEKDATA, noSuchPID, 0, 0, 0, 0)
	r["ptrace"] = errName(e)
	for name, nr := range map[string]uintptr{"process_vm_readv": unix.SYS_PROCESS_VM_READV, "process_vm_writev": unix.SYS_PROCESS_VM_WRITEV} {
		_, _, e = unix.Syscall6(nr, noSuchPID, 0, 0, 0, 0, 0)
		r[name] = errName(e)
	}
	// An interface query on a bad fd: EBADF unfiltered.
	_, _, e = unix.Syscall(unix.SYS_IOCTL, badFD, unix.SIOCGIFCONF, 0)
	r["ioctl_siocgifconf"] = errName(e)
	_, _, e = unix.Syscall(unix.SYS_GETPID, 0, 0, 0)
	r["getpid"] = errName(e)
	_, _, e = unix.Syscall(unix.SYS_GETPPID, 0, 0, 0)
	r["getppid"] = errName(e)
	return r
}

func skipUnlessSeccomp(t *testing.T) {
	t.Helper()
	// prctl(PR_GET_SECCOMP) fails with EINVAL without CONFIG_SECCOMP.
	if _, err := unix.PrctlRetInt(unix.PR_GET_SECCOMP, 0, 0, 0, 0); err != nil {
		t.Skipf("kernel without seccomp (CONFIG_SECCOMP): prctl(PR_GET_SECCOMP): %v", err)
	}
	if _, ok := arches[runtime.GOARCH]; !ok {
		t.Skipf("seccomp filters are only built for amd64/arm64, not %s", runtime.GOARCH)
	}
}

// runChild re-execs the test binary in mode and returns its stdout and
// exit state.
func runChild(t *testing.T, mode string, env ...string) (string, *os.ProcessState) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), childEnv+"="+mode), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("child %s: %v", mode, err)
		}
	}
	if stderr.Len() > 0 {
		t.Logf("child %s stderr: %s", mode, stderr.String())
	}
	return string(out), cmd.ProcessState
}

// baseline is this (unfiltered) test process's view: the control
// values every "not intercepted" probe must reproduce.
func baseline(t *testing.T) report {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return threadReport()
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return n
}

func TestKernelFilter(t *testing.T) {
	skipUnlessSeccomp(t)
	base := baseline(t)
	if base.Probes["socket_unix_hi"] != "ok" {
		t.Logf("note: this kernel rejects socket(AF_UNIX|1<<32): %s", base.Probes["socket_unix_hi"])
	}
	if base.Probes["io_uring_setup"] == "EPERM" {
		t.Logf("note: io_uring is disabled by sysctl here; the io_uring probes cannot tell the filter apart")
	}

	// getppid -> EXDEV: a caller-supplied program stacked after ours.
	rawGetppid := Program{Insns: []Insn{
		{Code: bpfLD | bpfW | bpfABS, K: offNr},
		{Code: bpfJMP | bpfJEQ | bpfK, K: uint32(unix.SYS_GETPPID), Jt: 0, Jf: 1},
		{Code: bpfRET | bpfK, K: retErrno | uint32(unix.EXDEV)},
		{Code: bpfRET | bpfK, K: retAllow},
	}}.Marshal()

	always := []string{"ptrace", "pidfd_getfd", "io_uring_setup", "io_uring_enter", "io_uring_register"}
	restricted := []string{
		"socket_inet", "socket_inet6", "socket_netlink", "socket_packet", "socket_vsock",
		"socket_inet_hi", "socket_unix_hi", "socketpair_inet", "socketpair_unix_hi", "socketpair_unix_neg",
		"socket_unix_dgram", "socket_unix_raw", "socketpair_unix_dgram",
		"connect", "accept", "accept4", "bind", "listen", "getpeername", "getsockname", "shutdown",
		"sendto", "sendmmsg", "recvmmsg", "getsockopt", "setsockopt",
	}
	proxy := []string{
		"socket_unix", "socket_netlink", "socket_packet", "socket_vsock", "socket_inet_hi", "socket_unix_hi",
		"socketpair_unix", "socketpair_unix_hi", "socketpair_unix_neg",
		"socket_unix_seqpacket", "socket_unix_dgram", "socket_unix_raw", "socketpair_unix_dgram",
	}
	cases := []struct {
		name    string
		spec    policy.FilterSpec
		eperm   []string          // probes that must fail with EPERM
		special map[string]string // probes with another fixed result
		nprogs  int
	}{
		{name: "restricted", spec: policy.FilterSpec{Enabled: true, Network: policy.SeccompRestricted},
			eperm: append(restricted, always...), nprogs: 1},
		{name: "proxy-routed", spec: policy.FilterSpec{Enabled: true, Network: policy.SeccompProxyRouted},
			eperm: append(proxy, always...), special: map[string]string{"ioctl_siocgifconf": "EBADF"}, nprogs: 1},
		{name: "proxy-routed+interface ioctls", spec: policy.FilterSpec{Enabled: true, Network: policy.SeccompProxyRouted, DenyInterfaceIoctls: true},
			eperm: append(append(proxy, "ioctl_siocgifconf"), always...), nprogs: 1},
		{name: "none+process_vm", spec: policy.FilterSpec{Enabled: true, Network: policy.SeccompNone, DenyProcessVM: true},
			eperm: append([]string{"process_vm_readv", "process_vm_writev"}, always...), nprogs: 1},
		{name: "restricted+caller program", spec: policy.FilterSpec{Enabled: true, Network: policy.SeccompRestricted, Programs: [][]byte{rawGetppid}},
			eperm: append(restricted, always...), special: map[string]string{"getppid": "EXDEV"}, nprogs: 2},
		{name: "caller program only", spec: policy.FilterSpec{Programs: [][]byte{rawGetppid}},
			special: map[string]string{"getppid": "EXDEV"}, nprogs: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			specJSON, err := json.Marshal(c.spec)
			if err != nil {
				t.Fatal(err)
			}
			stdout, st := runChild(t, "policy", specEnv+"="+string(specJSON))
			if !st.Success() {
				t.Fatalf("child failed: %v, stdout %q", st, stdout)
			}
			var out childOutput
			if err := json.Unmarshal([]byte(stdout), &out); err != nil {
				t.Fatalf("child output %q: %v", stdout, err)
			}

			want := map[string]string{}
			for k, v := range base.Probes {
				want[k] = v
			}
			for _, p := range c.eperm {
				want[p] = "EPERM"
			}
			for k, v := range c.special {
				want[k] = v
			}
			check := func(who string, got report, want map[string]string) {
				t.Helper()
				for k, w := range want {
					if g := got.Probes[k]; g != w {
						t.Errorf("%s: %s = %s, want %s (unfiltered: %s)", who, k, g, w, base.Probes[k])
					}
				}
			}
			check("filtered thread", out.Main, want)
			check("exec'd child", out.Exec, want)
			check("other thread", out.Other, base.Probes)
			if out.NewThreads <= 0 {
				t.Errorf("no new OS thread was created after the install (%d); the late-thread check proves nothing", out.NewThreads)
			}
			others := map[string]report{"other thread": out.Other}
			for i, r := range out.Late {
				others[fmt.Sprintf("thread started later #%d", i)] = r
			}
			for who, r := range others {
				check(who, r, base.Probes)
			}

			baseFilters := atoi(t, base.Filters)
			for who, r := range map[string]report{"filtered thread": out.Main, "exec'd child": out.Exec} {
				if r.NoNewPrivs != "1" || r.Seccomp != "2" || atoi(t, r.Filters) != baseFilters+c.nprogs {
					t.Errorf("%s: NoNewPrivs=%s Seccomp=%s Seccomp_filters=%s, want 1, 2, %d",
						who, r.NoNewPrivs, r.Seccomp, r.Filters, baseFilters+c.nprogs)
				}
			}
			for who, r := range others {
				if r.NoNewPrivs != base.NoNewPrivs || r.Seccomp != base.Seccomp || r.Filters != base.Filters {
					t.Errorf("%s is filtered: NoNewPrivs=%s Seccomp=%s Seccomp_filters=%s, want unchanged %s, %s, %s",
						who, r.NoNewPrivs, r.Seccomp, r.Filters, base.NoNewPrivs, base.Seccomp, base.Filters)
				}
			}
		})
	}
}

func TestInstallRejectedProgram(t *testing.T) {
	skipUnlessSeccomp(t)
	stdout, st := runChild(t, "badprog")
	if !st.Success() {
		t.Fatalf("child failed: %v", st)
	}
	var out map[string]string
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("child output %q: %v", stdout, err)
	}
	for _, w := range []string{`"broken"`, "invalid argument", "already installed"} {
		if !strings.Contains(out["error"], w) {
			t.Errorf("error %q does not mention %q", out["error"], w)
		}
	}
	if atoi(t, out["filters"]) != atoi(t, baseline(t).Filters)+1 {
		t.Errorf("Seccomp_filters = %s, want the good program installed", out["filters"])
	}
}

// TestInstallChecksBeforeChangingState: programs InstallOnThread must
// refuse are refused before no_new_privs or any filter is touched. Run in
// a child: had the foreign-arch program been loaded, its arch check would
// kill the process at its next syscall.
func TestInstallChecksBeforeChangingState(t *testing.T) {
	skipUnlessSeccomp(t)
	stdout, st := runChild(t, "checks")
	if !st.Success() {
		t.Fatalf("child failed: %v, output %q", st, stdout)
	}
	var out struct {
		Errors        map[string]string
		Before, After report
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("child output %q: %v", stdout, err)
	}
	want := map[string]string{
		"nil":          "",
		"foreign arch": "was built for ",
		"empty":        `"empty" has 0 instructions`,
	}
	for k, w := range want {
		got, ok := out.Errors[k]
		if !ok || (w == "") != (got == "") || !strings.Contains(got, w) {
			t.Errorf("%s: error %q, want one containing %q", k, got, w)
		}
	}
	if out.After.NoNewPrivs != out.Before.NoNewPrivs || out.After.Filters != out.Before.Filters {
		t.Errorf("thread state changed: NoNewPrivs %s -> %s, filters %s -> %s",
			out.Before.NoNewPrivs, out.After.NoNewPrivs, out.Before.Filters, out.After.Filters)
	}
}

func childChecks() int {
	runtime.LockOSThread()
	errs := map[string]string{}
	str := func(err error) string {
		if err == nil {
			return ""
		}
		return err.Error()
	}
	before := threadReport()
	errs["nil"] = str(InstallOnThread(nil))
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	progs, err := Build(policy.FilterSpec{Enabled: true, Network: policy.SeccompRestricted}, other)
	if err != nil {
		return die("Build: %v", err)
	}
	errs["foreign arch"] = str(InstallOnThread(progs))
	errs["empty"] = str(InstallOnThread([]Program{{Name: "empty"}}))
	return emit(map[string]any{"Errors": errs, "Before": before, "After": threadReport()})
}

func TestConstantsMatchUnix(t *testing.T) {
	pairs := []struct {
		name      string
		ours, sys uint64
	}{
		{"BPF_LD|BPF_W|BPF_ABS", bpfLD | bpfW | bpfABS, unix.BPF_LD | unix.BPF_W | unix.BPF_ABS},
		{"BPF_LD|BPF_W|BPF_LEN", bpfLD | bpfW | bpfLEN, unix.BPF_LD | unix.BPF_W | unix.BPF_LEN},
		{"BPF_LD|BPF_MEM", bpfLD | bpfMEM, unix.BPF_LD | unix.BPF_MEM},
		{"BPF_LDX|BPF_IMM", bpfLDX | bpfIMM, unix.BPF_LDX | unix.BPF_IMM},
		{"BPF_ST", bpfST, unix.BPF_ST},
		{"BPF_STX", bpfSTX, unix.BPF_STX},
		{"BPF_ALU|BPF_ADD|BPF_K", bpfALU | bpfADD | bpfK, unix.BPF_ALU | unix.BPF_ADD | unix.BPF_K},
		{"BPF_SUB", bpfSUB, unix.BPF_SUB},
		{"BPF_MUL", bpfMUL, unix.BPF_MUL},
		{"BPF_DIV", bpfDIV, unix.BPF_DIV},
		{"BPF_OR", bpfOR, unix.BPF_OR},
		{"BPF_AND", bpfAND, unix.BPF_AND},
		{"BPF_LSH", bpfLSH, unix.BPF_LSH},
		{"BPF_RSH", bpfRSH, unix.BPF_RSH},
		{"BPF_NEG", bpfNEG, unix.BPF_NEG},
		{"BPF_XOR", bpfXOR, unix.BPF_XOR},
		{"BPF_JMP|BPF_JA", bpfJMP | bpfJA, unix.BPF_JMP | unix.BPF_JA},
		{"BPF_JEQ", bpfJEQ, unix.BPF_JEQ},
		{"BPF_JGT", bpfJGT, unix.BPF_JGT},
		{"BPF_JGE", bpfJGE, unix.BPF_JGE},
		{"BPF_JSET", bpfJSET, unix.BPF_JSET},
		{"BPF_X", bpfX, unix.BPF_X},
		{"BPF_RET|BPF_A", bpfRET | bpfA, unix.BPF_RET | unix.BPF_A},
		{"BPF_MISC|BPF_TAX", bpfMISC | bpfTAX, unix.BPF_MISC | unix.BPF_TAX},
		{"BPF_MISC|BPF_TXA", bpfMISC | bpfTXA, unix.BPF_MISC | unix.BPF_TXA},
		{"BPF_MAXINSNS", bpfMaxInsns, unix.BPF_MAXINSNS},
		{"BPF_MEMWORDS", bpfMemWords, unix.BPF_MEMWORDS},
		{"SECCOMP_RET_KILL_PROCESS", retKillProcess, unix.SECCOMP_RET_KILL_PROCESS},
		{"SECCOMP_RET_ERRNO", retErrno, unix.SECCOMP_RET_ERRNO},
		{"SECCOMP_RET_ALLOW", retAllow, unix.SECCOMP_RET_ALLOW},
		{"SECCOMP_RET_DATA", retDataMask, unix.SECCOMP_RET_DATA},
		{"EPERM", errnoEPERM, uint64(unix.EPERM)},
		{"AF_UNIX", afUnix, unix.AF_UNIX},
		{"AF_INET", afInet, unix.AF_INET},
		{"AF_INET6", afInet6, unix.AF_INET6},
		{"AUDIT_ARCH_X86_64", uint64(arches["amd64"].audit), unix.AUDIT_ARCH_X86_64},
		{"AUDIT_ARCH_AARCH64", uint64(arches["arm64"].audit), unix.AUDIT_ARCH_AARCH64},
		{"AUDIT_ARCH_I386", auditI386, unix.AUDIT_ARCH_I386},
		{"AUDIT_ARCH_ARM", auditARM, unix.AUDIT_ARCH_ARM},
		{"sizeof(sock_filter)", insnSize, uint64(unsafe.Sizeof(unix.SockFilter{}))},
		{"sizeof(Insn)", uint64(unsafe.Sizeof(Insn{})), uint64(unsafe.Sizeof(unix.SockFilter{}))},
	}
	for _, p := range pairs {
		if p.ours != p.sys {
			t.Errorf("%s: ours %#x, x/sys/unix %#x", p.name, p.ours, p.sys)
		}
	}
}

// TestGoldenMatchesHostSyscalls cross-checks the golden numbers (and so
// the library's tables) against x/sys/unix for the host architecture.
func TestGoldenMatchesHostSyscalls(t *testing.T) {
	host, ok := golden[runtime.GOARCH]
	if !ok {
		t.Skipf("no golden table for %s", runtime.GOARCH)
	}
	sys := map[string]uintptr{
		"read": unix.SYS_READ, "ioctl": unix.SYS_IOCTL, "getpid": unix.SYS_GETPID, "getppid": unix.SYS_GETPPID,
		"socket": unix.SYS_SOCKET, "connect": unix.SYS_CONNECT, "accept": unix.SYS_ACCEPT,
		"sendto": unix.SYS_SENDTO, "recvfrom": unix.SYS_RECVFROM, "sendmsg": unix.SYS_SENDMSG,
		"recvmsg": unix.SYS_RECVMSG, "shutdown": unix.SYS_SHUTDOWN, "bind": unix.SYS_BIND,
		"listen": unix.SYS_LISTEN, "getsockname": unix.SYS_GETSOCKNAME, "getpeername": unix.SYS_GETPEERNAME,
		"socketpair": unix.SYS_SOCKETPAIR, "setsockopt": unix.SYS_SETSOCKOPT, "getsockopt": unix.SYS_GETSOCKOPT,
		"ptrace": unix.SYS_PTRACE, "prctl": unix.SYS_PRCTL, "accept4": unix.SYS_ACCEPT4,
		"recvmmsg": unix.SYS_RECVMMSG, "sendmmsg": unix.SYS_SENDMMSG,
		"process_vm_readv": unix.SYS_PROCESS_VM_READV, "process_vm_writev": unix.SYS_PROCESS_VM_WRITEV,
		"seccomp": unix.SYS_SECCOMP, "io_uring_setup": unix.SYS_IO_URING_SETUP,
		"io_uring_enter": unix.SYS_IO_URING_ENTER, "io_uring_register": unix.SYS_IO_URING_REGISTER,
		"pidfd_getfd": unix.SYS_PIDFD_GETFD,
	}
	if len(sys) != len(host) {
		t.Fatalf("test tables out of sync: %d vs %d names", len(sys), len(host))
	}
	for name, nr := range host {
		if uintptr(nr) != sys[name] {
			t.Errorf("%s: golden %d, unix.SYS_* %d", name, nr, sys[name])
		}
	}
}

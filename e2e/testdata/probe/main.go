//go:build linux

// The runtime's cgroup-aware GOMAXPROCS (Go 1.25+) keeps the cgroup CPU
// limit files open for the life of the process; those fds would show up
// in the fds probe as if inherited. The probe needs neither.
//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0

// Command probe is the static test program the e2e suite runs inside
// sandboxes. Each subcommand tries one thing the sandbox should (or
// should not) allow and prints one line, "<subcommand words>: <result>",
// where result is "ok", an errno name ("EPERM"), "ERRNO at STEP" when a
// multi-step probe failed part-way, "skip" when the probe does not apply
// to this architecture, or, for caps and fds, the values read.
//
//	probe socket inet|inet6|packet|netlink|unix|vsock
//	probe socketpair unix|inet
//	probe socket-hi inet|unix          domain | 1<<32 (64-bit arches)
//	probe int80-socket                 i386 socket(AF_INET) via INT $0x80 (amd64)
//	probe x32-getpid                   x32 getpid (amd64)
//	probe io_uring                     io_uring_setup(1, ...)
//	probe ptrace-pid1                  PTRACE_SEIZE, then PTRACE_ATTACH, of pid 1
//	probe kill-pid1                    kill(1, 0)
//	probe process_vm_readv-pid1
//	probe read PATH | write PATH
//	probe connect tcp HOST:PORT
//	probe caps                         Cap*, NoNewPrivs, Seccomp from /proc/self/status
//	probe fds                          open fds ("N" for 0-2, "N=target" above)
//	probe mount-remount-rw PATH        bind-remount PATH read-write, other flags kept
//	probe sethostname                  set the hostname to its current value
//	probe unshare-user                 clone(CLONE_NEWUSER) a child that exits
//	probe noop
//	probe floor CMD [ARGS]...          (alone) run CMD as pid 1 of new user,
//	                                   mount, pid, net, ipc and uts namespaces
//
// floor is for BenchmarkStartup, not a check: the least a Go program must
// do for such a sandbox (runtime start, one clone, exec, wait), with no
// mounts, no /dev, no /proc, no pid-1 init and no filters. Its time bounds
// from below what any Go sandbox can reach on the machine.
//
// Several subcommands can follow each other on one command line; they run
// in order. int80-socket and x32-getpid print "calling" before the call,
// so that a kill by the seccomp filter (SIGSYS, exit status 159 through
// zbox) is told apart from a failure earlier on.
//
// The probe deliberately uses package syscall only, never package os's
// file API: os.Open on a regular file initialises the runtime's network
// poller, which opens an epoll fd and an eventfd that the fds probe would
// then report as if they had been inherited. It has no module
// dependencies, so that any user can build it with an empty module cache.
package main

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"unsafe"
)

// Kernel ABI numbers the frozen syscall package lacks. They are the same
// on every architecture (io_uring_setup is in the unified table, 425+).
const (
	afVsock         = 40
	sysIoUringSetup = 425
	ptraceSeize     = 0x4206
)

var domains = map[string]int{
	"unix":    syscall.AF_UNIX,
	"inet":    syscall.AF_INET,
	"inet6":   syscall.AF_INET6,
	"packet":  syscall.AF_PACKET,
	"netlink": syscall.AF_NETLINK,
	"vsock":   afVsock,
}

// command is one subcommand: how many arguments it takes and what it does.
type command struct {
	args int
	run  func(args []string) string
}

var commands = map[string]command{
	"socket":                {1, probeSocket},
	"socketpair":            {1, probeSocketpair},
	"socket-hi":             {1, probeSocketHi},
	"int80-socket":          {0, func([]string) string { return int80Socket() }},
	"x32-getpid":            {0, func([]string) string { return x32Getpid() }},
	"io_uring":              {0, probeIoUring},
	"ptrace-pid1":           {0, probePtracePid1},
	"kill-pid1":             {0, func([]string) string { return result(syscall.Kill(1, 0)) }},
	"process_vm_readv-pid1": {0, probeProcessVMReadv},
	"read":                  {1, probeRead},
	"write":                 {1, probeWrite},
	"connect":               {2, probeConnect},
	"caps":                  {0, probeCaps},
	"fds":                   {0, probeFDs},
	"mount-remount-rw":      {1, probeRemountRW},
	"sethostname":           {0, probeSethostname},
	"unshare-user":          {0, probeUnshareUser},
	"noop":                  {0, func([]string) string { return "ok" }},
}

func main() {
	args := os.Args[1:]
	if len(args) == 0 {
		fail("usage: probe SUBCOMMAND [ARGS] [SUBCOMMAND [ARGS]]...")
	}
	if args[0] == "floor" {
		floor(args[1:])
		return
	}
	for len(args) > 0 {
		name := args[0]
		c, ok := commands[name]
		if !ok {
			fail("probe: unknown subcommand " + strconv.Quote(name))
		}
		if len(args) < 1+c.args {
			fail("probe: " + name + " needs " + strconv.Itoa(c.args) + " argument(s)")
		}
		words := args[:1+c.args]
		args = args[1+c.args:]
		out(strings.Join(words, " ") + ": " + c.run(words[1:]))
	}
}

// out writes one line straight to fd 1 (see the package comment).
func out(line string) {
	b := []byte(line + "\n")
	for len(b) > 0 {
		n, err := syscall.Write(1, b)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			os.Exit(3)
		}
		b = b[n:]
	}
}

func fail(msg string) {
	syscall.Write(2, []byte(msg+"\n"))
	os.Exit(2)
}

var errnoNames = map[syscall.Errno]string{
	syscall.EPERM: "EPERM", syscall.EACCES: "EACCES", syscall.ENOENT: "ENOENT",
	syscall.EROFS: "EROFS", syscall.EAFNOSUPPORT: "EAFNOSUPPORT", syscall.EINVAL: "EINVAL",
	syscall.ENOSYS: "ENOSYS", syscall.ESRCH: "ESRCH", syscall.EFAULT: "EFAULT",
	syscall.ECONNREFUSED: "ECONNREFUSED", syscall.EISDIR: "EISDIR", syscall.ENOTDIR: "ENOTDIR",
	syscall.EEXIST: "EEXIST", syscall.EBADF: "EBADF", syscall.EPROTONOSUPPORT: "EPROTONOSUPPORT",
	syscall.ESOCKTNOSUPPORT: "ESOCKTNOSUPPORT", syscall.EOPNOTSUPP: "EOPNOTSUPP",
	syscall.EXDEV: "EXDEV", syscall.ENOSPC: "ENOSPC", syscall.EUSERS: "EUSERS",
	syscall.ENETUNREACH: "ENETUNREACH", syscall.EBUSY: "EBUSY", syscall.ENOMEM: "ENOMEM",
	syscall.EMFILE: "EMFILE", syscall.EIO: "EIO", syscall.ENXIO: "ENXIO",
	syscall.ENODEV: "ENODEV", syscall.EPROTOTYPE: "EPROTOTYPE", syscall.ETIMEDOUT: "ETIMEDOUT",
	syscall.EHOSTUNREACH: "EHOSTUNREACH", syscall.EADDRNOTAVAIL: "EADDRNOTAVAIL",
}

// result renders err as "ok" or the errno's name.
func result(err error) string {
	if err == nil {
		return "ok"
	}
	if e, ok := err.(syscall.Errno); ok {
		if n, ok := errnoNames[e]; ok {
			return n
		}
		return "errno " + strconv.Itoa(int(e))
	}
	return err.Error()
}

func errno(e syscall.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

func domainArg(name string) int {
	d, ok := domains[name]
	if !ok {
		fail("probe: unknown socket domain " + strconv.Quote(name))
	}
	return d
}

// sockType picks a socket type every domain accepts without privilege
// where one exists (AF_PACKET needs CAP_NET_RAW whatever the type).
func sockType(d int) int {
	switch d {
	case syscall.AF_NETLINK, syscall.AF_PACKET:
		return syscall.SOCK_DGRAM
	}
	return syscall.SOCK_STREAM
}

func probeSocket(a []string) string {
	d := domainArg(a[0])
	fd, err := syscall.Socket(d, sockType(d)|syscall.SOCK_CLOEXEC, 0)
	if err == nil {
		syscall.Close(fd)
	}
	return result(err)
}

func probeSocketpair(a []string) string {
	d := domainArg(a[0])
	fds, err := syscall.Socketpair(d, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err == nil {
		syscall.Close(fds[0])
		syscall.Close(fds[1])
	}
	return result(err)
}

// probeSocketHi passes the domain with bit 32 set. The kernel truncates
// the int argument to its low 32 bits, so without a filter this is an
// ordinary socket(domain); a filter comparing only the low half for a
// "deny if equal" rule, or all 64 bits for an "allow if equal" rule,
// must still deny it.
func probeSocketHi(a []string) string {
	d := domainArg(a[0])
	if unsafe.Sizeof(uintptr(0)) < 8 {
		return "skip"
	}
	hi := uint64(d) | 1<<32
	fd, _, e := syscall.RawSyscall(syscall.SYS_SOCKET, uintptr(hi), uintptr(sockType(d)|syscall.SOCK_CLOEXEC), 0)
	if e == 0 {
		syscall.Close(int(fd))
	}
	return result(errno(e))
}

func probeIoUring([]string) string {
	// struct io_uring_params is 120 bytes; all zero asks for defaults.
	var params [120]byte
	fd, _, e := syscall.Syscall(sysIoUringSetup, 1, uintptr(unsafe.Pointer(&params[0])), 0)
	if e == 0 {
		syscall.Close(int(fd))
	}
	return result(errno(e))
}

// probePtracePid1 tries PTRACE_SEIZE first because it does not stop the
// tracee: should it succeed, our exit detaches and pid 1 runs on. Only
// if it fails is PTRACE_ATTACH tried (it sends SIGSTOP; on success we
// wait for the stop and detach again).
func probePtracePid1([]string) string {
	_, _, e1 := syscall.Syscall6(syscall.SYS_PTRACE, ptraceSeize, 1, 0, 0, 0, 0)
	if e1 == 0 {
		return "ok (seized)"
	}
	_, _, e2 := syscall.Syscall6(syscall.SYS_PTRACE, syscall.PTRACE_ATTACH, 1, 0, 0, 0, 0)
	if e2 == 0 {
		var ws syscall.WaitStatus
		syscall.Wait4(1, &ws, syscall.WALL, nil)
		syscall.PtraceDetach(1)
		return "ok (attached)"
	}
	if e1 == e2 {
		return result(e1)
	}
	return "seize=" + result(e1) + " attach=" + result(e2)
}

// probeProcessVMReadv reads 8 bytes at an arbitrary address of pid 1. The
// kernel checks ptrace access (EPERM) before it looks at the address
// (EFAULT), so anything but EPERM/ESRCH means the permission check passed.
func probeProcessVMReadv([]string) string {
	var buf [8]byte
	local := syscall.Iovec{Base: &buf[0]}
	local.SetLen(len(buf))
	remote := struct {
		base uintptr
		len  uintptr
	}{0x10000, 8}
	_, _, e := syscall.Syscall6(sysProcessVMReadv, 1,
		uintptr(unsafe.Pointer(&local)), 1, uintptr(unsafe.Pointer(&remote)), 1, 0)
	return result(errno(e))
}

func probeRead(a []string) string {
	fd, err := syscall.Open(a[0], syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return result(err)
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return result(err) + " at fstat"
	}
	buf := make([]byte, 4096)
	if st.Mode&syscall.S_IFMT == syscall.S_IFDIR {
		_, err = syscall.ReadDirent(fd, buf)
	} else {
		_, err = syscall.Read(fd, buf[:1])
	}
	if err != nil {
		return result(err) + " at read"
	}
	return "ok"
}

func probeWrite(a []string) string {
	fd, err := syscall.Open(a[0], syscall.O_WRONLY|syscall.O_CREAT|syscall.O_TRUNC|syscall.O_CLOEXEC, 0o644)
	if err != nil {
		return result(err)
	}
	defer syscall.Close(fd)
	if _, err := syscall.Write(fd, []byte("probe\n")); err != nil {
		return result(err) + " at write"
	}
	return "ok"
}

// probeConnect connects to HOST:PORT over TCP (IPv4 dotted quad, or
// [::1]-style IPv6).
func probeConnect(a []string) string {
	if a[0] != "tcp" {
		fail("probe: connect supports tcp only")
	}
	host, portStr, ok := cutLast(a[1], ":")
	port, err := strconv.Atoi(portStr)
	if !ok || err != nil || port <= 0 || port > 65535 {
		fail("probe: bad address " + strconv.Quote(a[1]))
	}
	var sa syscall.Sockaddr
	domain := syscall.AF_INET
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		ip, ok := parseIPv6Loopback(host[1 : len(host)-1])
		if !ok {
			fail("probe: only [::1] is supported for IPv6")
		}
		sa, domain = &syscall.SockaddrInet6{Port: port, Addr: ip}, syscall.AF_INET6
	} else {
		ip, ok := parseIPv4(host)
		if !ok {
			fail("probe: bad IPv4 address " + strconv.Quote(host))
		}
		sa = &syscall.SockaddrInet4{Port: port, Addr: ip}
	}
	fd, err := syscall.Socket(domain, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return result(err) + " at socket"
	}
	defer syscall.Close(fd)
	if err := syscall.Connect(fd, sa); err != nil {
		return result(err) + " at connect"
	}
	return "ok"
}

func cutLast(s, sep string) (string, string, bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

func parseIPv4(s string) ([4]byte, bool) {
	var ip [4]byte
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return ip, false
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 255 {
			return ip, false
		}
		ip[i] = byte(n)
	}
	return ip, true
}

func parseIPv6Loopback(s string) ([16]byte, bool) {
	var ip [16]byte
	if s != "::1" {
		return ip, false
	}
	ip[15] = 1
	return ip, true
}

// readSmallFile reads a /proc file with raw syscalls.
func readSmallFile(path string) (string, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return "", err
	}
	defer syscall.Close(fd)
	var sb strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := syscall.Read(fd, buf)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return "", err
		}
		if n == 0 {
			return sb.String(), nil
		}
		sb.Write(buf[:n])
	}
}

var statusKeys = []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp"}

func probeCaps([]string) string {
	s, err := readSmallFile("/proc/self/status")
	if err != nil {
		return result(err) + " at /proc/self/status"
	}
	vals := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok {
			vals[k] = strings.TrimSpace(v)
		}
	}
	var parts []string
	for _, k := range statusKeys {
		v, ok := vals[k]
		if !ok {
			v = "?"
		}
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, " ")
}

// probeFDs lists this process's open fds from /proc/self/fd, leaving out
// the one it reads the directory through.
func probeFDs([]string) string {
	dir, err := syscall.Open("/proc/self/fd", syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return result(err) + " at /proc/self/fd"
	}
	defer syscall.Close(dir)
	var names []string
	buf := make([]byte, 8192)
	for {
		n, err := syscall.ReadDirent(dir, buf)
		if err != nil {
			return result(err) + " at getdents"
		}
		if n == 0 {
			break
		}
		_, _, names = syscall.ParseDirent(buf[:n], -1, names)
	}
	var fds []int
	for _, n := range names {
		fd, err := strconv.Atoi(n)
		if err == nil && fd != dir {
			fds = append(fds, fd)
		}
	}
	sortInts(fds)
	var parts []string
	for _, fd := range fds {
		p := strconv.Itoa(fd)
		if fd > 2 {
			target := make([]byte, 256)
			if n, err := syscall.Readlink("/proc/self/fd/"+p, target); err == nil {
				p += "=" + string(target[:n])
			}
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, " ")
}

func sortInts(a []int) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

// statfs f_flags (ST_*) that have a per-mount MS_* counterpart.
var stToMS = []struct{ st, ms uintptr }{
	{0x1, syscall.MS_RDONLY}, {0x2, syscall.MS_NOSUID}, {0x4, syscall.MS_NODEV},
	{0x8, syscall.MS_NOEXEC}, {0x400, syscall.MS_NOATIME}, {0x800, syscall.MS_NODIRATIME},
	{0x1000, syscall.MS_RELATIME}, {0x2000, 0x100 /* MS_NOSYMFOLLOW */},
}

// probeRemountRW tries to make the mount at PATH writable with a bind
// remount that keeps every other per-mount flag as it is: on a mount that
// is already writable a success changes nothing, so the probe is safe to
// run anywhere. Only CAP_SYS_ADMIN over the mount's namespace lets it
// succeed on a read-only mount.
func probeRemountRW(a []string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(a[0], &st); err != nil {
		return result(err) + " at statfs"
	}
	var flags uintptr = syscall.MS_REMOUNT | syscall.MS_BIND
	for _, f := range stToMS {
		if uintptr(st.Flags)&f.st != 0 && f.ms != syscall.MS_RDONLY {
			flags |= f.ms
		}
	}
	return result(syscall.Mount("", a[0], "", flags, ""))
}

// probeSethostname sets the hostname to the value it already has, so that
// a success (a capability the target should not hold) changes nothing.
func probeSethostname([]string) string {
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		return result(err) + " at uname"
	}
	var name []byte
	for _, c := range u.Nodename {
		if c == 0 {
			break
		}
		name = append(name, byte(c))
	}
	return result(syscall.Sethostname(name))
}

// probeUnshareUser starts a child in a new user namespace. unshare(2)
// cannot be used: the kernel refuses CLONE_NEWUSER to a multithreaded
// caller, and every Go program is multithreaded; clone(2) of a child
// has no such restriction.
func probeUnshareUser([]string) string {
	self, err := os.Executable()
	if err != nil {
		return "error at executable: " + err.Error()
	}
	pid, err := syscall.ForkExec(self, []string{"probe", "noop"}, &syscall.ProcAttr{
		Files: []uintptr{^uintptr(0), ^uintptr(0), 2},
		Sys:   &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER},
	})
	if err != nil {
		return result(err)
	}
	var ws syscall.WaitStatus
	for {
		_, err := syscall.Wait4(pid, &ws, 0, nil)
		if err != syscall.EINTR {
			break
		}
	}
	if !ws.Exited() || ws.ExitStatus() != 0 {
		return "child failed"
	}
	return "ok"
}

// floor: see the package comment. Exits with CMD's status.
func floor(argv []string) {
	if len(argv) == 0 {
		fail("probe: floor needs a command")
	}
	uid, gid := syscall.Getuid(), syscall.Getgid()
	pid, err := syscall.ForkExec(argv[0], argv, &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: []uintptr{0, 1, 2},
		Sys: &syscall.SysProcAttr{
			Cloneflags: syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS | syscall.CLONE_NEWPID |
				syscall.CLONE_NEWNET | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS,
			UidMappings: []syscall.SysProcIDMap{{ContainerID: uid, HostID: uid, Size: 1}},
			GidMappings: []syscall.SysProcIDMap{{ContainerID: gid, HostID: gid, Size: 1}},
		},
	})
	if err != nil {
		fail("probe: floor: " + err.Error())
	}
	var ws syscall.WaitStatus
	for {
		_, err = syscall.Wait4(pid, &ws, 0, nil)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil || !ws.Exited() {
		os.Exit(1)
	}
	os.Exit(ws.ExitStatus())
}

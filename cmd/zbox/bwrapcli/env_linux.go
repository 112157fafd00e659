package bwrapcli

import (
	"bytes"
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// OSEnv is the Env of the running process.
type OSEnv struct{}

var _ Env = OSEnv{}

// Getuid returns the real uid.
func (OSEnv) Getuid() int { return unix.Getuid() }

// Getgid returns the real gid.
func (OSEnv) Getgid() int { return unix.Getgid() }

// ReadFD reads fd to EOF and closes it (see the package-level ReadFD).
func (OSEnv) ReadFD(fd int) ([]byte, error) { return ReadFD(fd) }

// Environ returns the process environment.
func (OSEnv) Environ() []string { return os.Environ() }

// Getwd returns the kernel's idea of the cwd (getcwd(2)). os.Getwd would
// prefer $PWD, a logical path that may differ from what bwrap's realpath()
// of a relative source resolves against.
func (OSEnv) Getwd() (string, error) { return unix.Getwd() }

// UserNSEnabled is bwrap's --unshare-user-try probe. The files are read
// with raw syscalls for the reason given on ReadFD: no runtime fds while
// the caller's fds are still being consumed.
func (OSEnv) UserNSEnabled() bool {
	var st unix.Stat_t
	if unix.Stat("/proc/self/ns/user", &st) != nil {
		return false // kernel without user namespaces
	}
	// RHEL 7 ships user namespaces behind a module parameter.
	if b, err := readSmallFile("/sys/module/user_namespace/parameters/enable"); err == nil && len(b) > 0 && b[0] == 'N' {
		return false
	}
	// A zero limit disables them for everyone, root included.
	if b, err := readSmallFile("/proc/sys/user/max_user_namespaces"); err == nil && bytes.Equal(b, []byte("0\n")) {
		return false
	}
	return true
}

// CgroupNS stats /proc/self/ns/cgroup (absent on kernels before 4.6 or
// built without CONFIG_CGROUPS).
func (OSEnv) CgroupNS() error {
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/cgroup", &st); err != nil {
		return &os.PathError{Op: "stat", Path: "/proc/self/ns/cgroup", Err: err}
	}
	return nil
}

// EffectiveCaps returns the calling thread's effective capability set.
// Capabilities are per thread, but zbox never changes them before parsing,
// so every thread still has the set the process started with.
func (OSEnv) EffectiveCaps() (uint64, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return 0, &os.SyscallError{Syscall: "capget", Err: err}
	}
	return uint64(data[1].Effective)<<32 | uint64(data[0].Effective), nil
}

// readSmallFile reads up to 64 bytes of a procfs/sysfs file.
func readSmallFile(path string) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	buf := make([]byte, 64)
	for {
		n, err := unix.Read(fd, buf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
}

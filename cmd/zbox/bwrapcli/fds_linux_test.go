package bwrapcli

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/zbox-sandbox/zbox/policy"
)

// pipeWith returns the read end of a pipe that yields data then EOF.
func pipeWith(t *testing.T, data []byte, flags int) int {
	t.Helper()
	var p [2]int
	if err := unix.Pipe2(p[:], flags); err != nil {
		t.Fatalf("pipe2: %v", err)
	}
	if len(data) > 0 {
		if _, err := unix.Write(p[1], data); err != nil {
			t.Fatalf("write pipe: %v", err)
		}
	}
	unix.Close(p[1])
	t.Cleanup(func() { unix.Close(p[0]) }) // EBADF once ReadFD closed it
	return p[0]
}

func isOpen(fd int) bool {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return err == nil
}

func TestReadFD(t *testing.T) {
	t.Run("pipe read and closed", func(t *testing.T) {
		fd := pipeWith(t, []byte("a\x00b"), unix.O_CLOEXEC)
		got, err := ReadFD(fd)
		if err != nil || string(got) != "a\x00b" {
			t.Fatalf("ReadFD = %q, %v", got, err)
		}
		if isOpen(fd) {
			t.Errorf("fd %d still open after ReadFD", fd)
		}
	})
	t.Run("larger than a pipe buffer", func(t *testing.T) {
		var p [2]int
		if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
			t.Fatal(err)
		}
		want := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
		go func() {
			for off := 0; off < len(want); {
				n, err := unix.Write(p[1], want[off:])
				if err != nil {
					break
				}
				off += n
			}
			unix.Close(p[1])
		}()
		got, err := ReadFD(p[0])
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("ReadFD: %d bytes, %v", len(got), err)
		}
	})
	t.Run("non-blocking pipe waits for the writer", func(t *testing.T) {
		var p [2]int
		if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
			t.Fatal(err)
		}
		go func() {
			time.Sleep(50 * time.Millisecond)
			unix.Write(p[1], []byte("late"))
			unix.Close(p[1])
		}()
		got, err := ReadFD(p[0])
		if err != nil || string(got) != "late" {
			t.Fatalf("ReadFD = %q, %v", got, err)
		}
	})
	t.Run("closed fd", func(t *testing.T) {
		fd := pipeWith(t, nil, unix.O_CLOEXEC)
		unix.Close(fd)
		if _, err := ReadFD(fd); !errors.Is(err, unix.EBADF) {
			t.Fatalf("ReadFD of closed fd: %v", err)
		}
		if _, err := ReadFD(-1); !errors.Is(err, unix.EBADF) {
			t.Fatalf("ReadFD(-1): %v", err)
		}
	})
	t.Run("directory", func(t *testing.T) {
		fd, err := unix.Open(t.TempDir(), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ReadFD(fd); !errors.Is(err, unix.EISDIR) {
			t.Fatalf("ReadFD(dir): %v", err)
		}
		if isOpen(fd) {
			t.Errorf("fd left open after a failed read")
		}
	})
	t.Run("size limit", func(t *testing.T) {
		old := maxFDData
		maxFDData = 10
		defer func() { maxFDData = old }()
		fd := pipeWith(t, []byte("0123456789AB"), unix.O_CLOEXEC)
		if _, err := ReadFD(fd); !errors.Is(err, ErrFDDataTooLarge) {
			t.Fatalf("ReadFD over the limit: %v", err)
		}
	})
	t.Run("stdio is read but not closed", func(t *testing.T) {
		saved, err := unix.Dup(0)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { unix.Dup3(saved, 0, 0); unix.Close(saved) }()
		fd := pipeWith(t, []byte("stdin-args"), 0)
		if err := unix.Dup3(fd, 0, 0); err != nil {
			t.Fatal(err)
		}
		got, err := ReadFD(0)
		if err != nil || string(got) != "stdin-args" {
			t.Fatalf("ReadFD(0) = %q, %v", got, err)
		}
		if !isOpen(0) {
			t.Errorf("fd 0 was closed")
		}
	})
}

func TestOSEnvProbes(t *testing.T) {
	var env OSEnv
	if env.Getuid() != os.Getuid() || env.Getgid() != os.Getgid() {
		t.Errorf("ids %d/%d", env.Getuid(), env.Getgid())
	}
	wd, err := env.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	logical, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if physical, err := filepath.EvalSymlinks(logical); err != nil || wd != physical {
		t.Errorf("Getwd = %q, want the physical cwd %q (%v)", wd, physical, err)
	}
	if len(env.Environ()) != len(os.Environ()) {
		t.Errorf("Environ differs from os.Environ")
	}

	// The probe must agree with the files it is defined by.
	want := true
	if _, err := os.Stat("/proc/self/ns/user"); err != nil {
		want = false
	}
	if b, err := os.ReadFile("/proc/sys/user/max_user_namespaces"); err == nil && string(b) == "0\n" {
		want = false
	}
	if b, err := os.ReadFile("/sys/module/user_namespace/parameters/enable"); err == nil && len(b) > 0 && b[0] == 'N' {
		want = false
	}
	if got := env.UserNSEnabled(); got != want {
		t.Errorf("UserNSEnabled() = %v, files say %v", got, want)
	}

	_, statErr := os.Stat("/proc/self/ns/cgroup")
	if err := env.CgroupNS(); (err == nil) != (statErr == nil) {
		t.Errorf("CgroupNS() = %v, stat says %v", err, statErr)
	}

	caps, err := env.EffectiveCaps()
	if err != nil {
		t.Fatalf("EffectiveCaps: %v", err)
	}
	if want := capEffFromStatus(t); caps != want {
		t.Errorf("EffectiveCaps() = %#x, /proc/self/status CapEff = %#x", caps, want)
	}
}

func capEffFromStatus(t *testing.T) uint64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "CapEff:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no CapEff in /proc/self/status")
	return 0
}

// TestParseOSEnv runs Parse against real kernel fds: an --args file in a
// sealed memfd (Flatpak's way), --file data and a seccomp program in pipes,
// and an O_PATH fd for --ro-bind-fd. Every consumed fd must be closed.
func TestParseOSEnv(t *testing.T) {
	fileFD := pipeWith(t, []byte("[Application]\nname=x\n"), unix.O_CLOEXEC)
	// One instruction: BPF_RET|BPF_K, SECCOMP_RET_ALLOW.
	allow := []byte{0x06, 0, 0, 0, 0, 0, 0xff, 0x7f}
	progFD := pipeWith(t, allow, unix.O_CLOEXEC)
	dir := t.TempDir()
	pathFD, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pathFD)

	argsFD, err := unix.MemfdCreate("bwrap-args", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		t.Skipf("memfd_create not available: %v", err)
	}
	words := []string{
		"--perms", "0600", "--file", strconv.Itoa(fileFD), "/.flatpak-info",
		"--add-seccomp-fd", strconv.Itoa(progFD),
		"--ro-bind-fd", strconv.Itoa(pathFD), "/pinned",
	}
	content := strings.Join(words, "\x00") + "\x00"
	if _, err := unix.Write(argsFD, []byte(content)); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.Seek(argsFD, 0, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.FcntlInt(uintptr(argsFD), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_WRITE|unix.F_SEAL_SEAL); err != nil {
		t.Fatalf("seal memfd: %v", err)
	}

	o, err := Parse([]string{"--args", strconv.Itoa(argsFD), "--unshare-pid", "true"}, OSEnv{})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	m := o.Plan.Mounts
	if len(m) != 2 || m[0].Kind != policy.OpFile || string(m[0].Data) != "[Application]\nname=x\n" || *m[0].Perms != 0o600 {
		t.Fatalf("mounts %+v", m)
	}
	if len(o.Plan.Filter.Programs) != 1 || !bytes.Equal(o.Plan.Filter.Programs[0], allow) {
		t.Errorf("programs %v", o.Plan.Filter.Programs)
	}
	for _, fd := range []int{argsFD, fileFD, progFD} {
		if isOpen(fd) {
			t.Errorf("consumed fd %d still open", fd)
		}
	}
	// --ro-bind-fd is not consumed at parse time: the engine binds through
	// the fd's magic link, which resolves to what the fd pins.
	if !isOpen(pathFD) || m[1].FD == nil || *m[1].FD != pathFD {
		t.Fatalf("bind-fd op %+v", m[1])
	}
	if target, err := os.Readlink(m[1].Source); err != nil || target != dir {
		t.Errorf("readlink(%s) = %q, %v; want %q", m[1].Source, target, err, dir)
	}

	// The same fd consumed twice fails like bwrap.
	again := pipeWith(t, nil, unix.O_CLOEXEC)
	_, err = Parse([]string{"--file", strconv.Itoa(again), "/a", "--file", strconv.Itoa(again), "/b", "true"}, OSEnv{})
	var e *Error
	if !errors.As(err, &e) || e.Msg != "Can't write data to file /b: Bad file descriptor" {
		t.Errorf("second use of a consumed fd: %v", err)
	}
}

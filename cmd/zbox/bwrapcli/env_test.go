package bwrapcli

import (
	"io/fs"
	"slices"
	"syscall"
)

// fakeEnv is an injectable Env. Each fd in fds can be read once, like a
// pipe that bwrap reads and closes; a second read fails with EBADF.
type fakeEnv struct {
	uid, gid  int
	fds       map[int][]byte
	readErr   map[int]error
	environ   []string
	cwd       string
	cwdErr    error
	userns    bool
	cgroupErr error
	caps      uint64
	capsErr   error

	reads      []int // fds in the order they were read
	probedUser bool
}

func newFakeEnv() *fakeEnv {
	return &fakeEnv{
		uid:     1000,
		gid:     1000,
		fds:     map[int][]byte{},
		readErr: map[int]error{},
		environ: []string{"PATH=/usr/bin:/bin", "HOME=/home/u", "LANG=C.UTF-8"},
		cwd:     "/home/u/work",
		userns:  true,
	}
}

// asRoot makes the caller uid/gid 0 holding every capability.
func (e *fakeEnv) asRoot() *fakeEnv {
	e.uid, e.gid = 0, 0
	e.caps = 1<<(lastCap+1) - 1
	return e
}

func (e *fakeEnv) withFD(fd int, data string) *fakeEnv {
	e.fds[fd] = []byte(data)
	return e
}

func (e *fakeEnv) Getuid() int { return e.uid }
func (e *fakeEnv) Getgid() int { return e.gid }
func (e *fakeEnv) ReadFD(fd int) ([]byte, error) {
	e.reads = append(e.reads, fd)
	if err := e.readErr[fd]; err != nil {
		return nil, err
	}
	d, ok := e.fds[fd]
	if !ok {
		return nil, syscall.EBADF
	}
	delete(e.fds, fd)
	return d, nil
}
func (e *fakeEnv) Environ() []string      { return slices.Clone(e.environ) }
func (e *fakeEnv) Getwd() (string, error) { return e.cwd, e.cwdErr }
func (e *fakeEnv) UserNSEnabled() bool    { e.probedUser = true; return e.userns }
func (e *fakeEnv) CgroupNS() error        { return e.cgroupErr }
func (e *fakeEnv) EffectiveCaps() (uint64, error) {
	return e.caps, e.capsErr
}

// noCgroup is what OSEnv.CgroupNS returns on a kernel without cgroup
// namespaces.
var noCgroup = &fs.PathError{Op: "stat", Path: "/proc/self/ns/cgroup", Err: syscall.ENOENT}

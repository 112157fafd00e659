package bwrapcli

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// MaxFDData bounds what ReadFD accepts from one fd. bwrap has no limit, but
// zbox carries the data inside the plan (JSON, to the sandbox's pid 1), so
// an endless pipe must not exhaust memory. Flatpak's largest --args files
// and --file payloads are far below this.
const MaxFDData = 256 << 20

// maxFDData is MaxFDData; a variable so that tests can lower it.
var maxFDData = MaxFDData

// ErrFDDataTooLarge is returned by ReadFD when an fd yields more than
// MaxFDData bytes.
var ErrFDDataTooLarge = errors.New("more than 256 MiB of data (zbox's limit for --args, --file, --bind-data and seccomp fds)")

// ReadFD reads fd to EOF and closes it, the way bwrap consumes the fds of
// --args, --add-seccomp-fd, --seccomp, --file, --bind-data and
// --ro-bind-data.
//
// It uses raw read(2)/close(2) rather than os.File: os.NewFile would hand
// a pipe to the Go runtime's poller, which can create its own fds. Those
// could reuse the number just closed, and a later "--file N" naming the
// same (already consumed) fd would then read the runtime's fd instead of
// failing with EBADF as it does in bwrap.
//
// fds 0, 1 and 2 are read but never closed: bwrap closes them too, but in a
// Go process a closed stdio fd is reused by the next open(2), and
// os.Stderr would then write zbox's diagnostics into that file.
func ReadFD(fd int) ([]byte, error) {
	if fd < 0 {
		return nil, unix.EBADF
	}
	data, err := readAll(fd)
	if fd > 2 {
		if cerr := unix.Close(fd); cerr != nil && err == nil && !errors.Is(cerr, unix.EINTR) {
			// EINTR from close(2) still releases the fd on Linux; any other
			// error means the data may be incomplete (e.g. NFS).
			err = fmt.Errorf("close fd %d: %w", fd, cerr)
		}
	}
	if err != nil {
		return nil, err
	}
	return data, nil
}

func readAll(fd int) ([]byte, error) {
	buf := make([]byte, 0, 4096)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EAGAIN):
			// A non-blocking fd (e.g. an O_NONBLOCK pipe from the caller):
			// wait for data instead of failing like bwrap's plain read()
			// would.
			if perr := waitReadable(fd); perr != nil {
				return nil, fmt.Errorf("read fd %d: %w", fd, perr)
			}
			continue
		case err != nil:
			return nil, fmt.Errorf("read fd %d: %w", fd, err)
		}
		if n == 0 {
			return buf, nil
		}
		buf = buf[:len(buf)+n]
		if len(buf) > maxFDData {
			return nil, fmt.Errorf("read fd %d: %w", fd, ErrFDDataTooLarge)
		}
	}
}

func waitReadable(fd int) error {
	for {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		_, err := unix.Poll(pfd, -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return err
	}
}

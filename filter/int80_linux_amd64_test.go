package filter

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/zbox-sandbox/zbox/policy"
)

// int80 is implemented in int80_linux_amd64_test.s.
func int80(trap, a1, a2, a3 uintptr) (r uintptr)

const (
	i386SysSocket = 359 // arch/x86/entry/syscalls/syscall_32.tbl
	installEnv    = "ZBOX_FILTER_TEST_INSTALL"
)

func init() {
	extraChildModes["int80"] = func() int { return childForeignABI(true) }
	extraChildModes["x32"] = func() int { return childForeignABI(false) }
}

// childForeignABI optionally installs the restricted filter, then makes
// one foreign-ABI call: i386 socket(AF_INET, SOCK_STREAM) via int $0x80,
// or x32 getpid. "before" is printed first so that the parent can tell a
// kill by the call from a failure earlier on.
func childForeignABI(i386 bool) int {
	runtime.LockOSThread()
	if os.Getenv(installEnv) == "1" {
		progs, err := Build(policy.FilterSpec{Enabled: true, Network: policy.SeccompRestricted}, runtime.GOARCH)
		if err != nil {
			return die("Build: %v", err)
		}
		if err := InstallOnThread(progs); err != nil {
			return die("InstallOnThread: %v", err)
		}
	}
	fmt.Println("before")
	var r int
	if i386 {
		r = int(int32(int80(i386SysSocket, unix.AF_INET, unix.SOCK_STREAM, 0)))
	} else {
		v, _, e := unix.Syscall(unix.SYS_GETPID|x32SyscallBit, 0, 0, 0)
		r = int(v)
		if e != 0 {
			r = -int(e)
		}
	}
	fmt.Println("result", r)
	return 0
}

func signalOf(st *os.ProcessState) syscall.Signal {
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return ws.Signal()
	}
	return 0
}

func TestForeignABIKilled(t *testing.T) {
	skipUnlessSeccomp(t)
	for _, mode := range []string{"int80", "x32"} {
		t.Run(mode, func(t *testing.T) {
			// Control: the call without a filter. It must not be killed;
			// for int80 it must create a socket, proving the i386 gate is
			// live and would otherwise be a way around the rules.
			out, st := runChild(t, mode, installEnv+"=0")
			if sig := signalOf(st); sig != 0 {
				if mode == "int80" && sig == syscall.SIGSEGV {
					t.Skip("int $0x80 faults without a filter: IA32 emulation is disabled (CONFIG_IA32_EMULATION / ia32_emulation=0)")
				}
				t.Fatalf("control child killed by %v, output %q", sig, out)
			}
			var r int
			if _, err := fmt.Sscanf(out[strings.Index(out, "result"):], "result %d", &r); err != nil {
				t.Fatalf("control output %q: %v", out, err)
			}
			switch {
			case mode == "int80" && r < 0:
				t.Fatalf("control: i386 socket(AF_INET) = %d, want a file descriptor", r)
			case mode == "x32":
				t.Logf("control: x32 getpid = %d (negative errno when the kernel lacks CONFIG_X86_X32_ABI)", r)
			}

			out, st = runChild(t, mode, installEnv+"=1")
			if sig := signalOf(st); sig != syscall.SIGSYS {
				t.Fatalf("filtered child: %v, output %q; want killed by SIGSYS", st, out)
			}
			if !strings.Contains(out, "before") || strings.Contains(out, "result") {
				t.Fatalf("filtered child output %q: want it killed at the foreign-ABI call", out)
			}
		})
	}
}

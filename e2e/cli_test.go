package e2e

// End-to-end tests of zbox's own command line (issue 7): every flag, the
// rule precedence, profiles, timeout and limits, usage errors, explain's
// bwrap argv against the real bwrap, and doctor on this host and with
// user namespaces denied by a seccomp filter (as container runtimes do).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/zbox-sandbox/zbox/filter"
)

// noUsernsEnv, when set in the environment of this test binary, makes it
// a launcher: it denies user namespaces to itself with a seccomp filter
// and execs the zbox binary named by the variable with its own
// arguments. init runs on the main thread, which the runtime keeps
// locked during initialisation, so the filter lands on the thread that
// calls execve and the new image inherits it.
const noUsernsEnv = "ZBOX_E2E_EXEC_WITHOUT_USERNS"

// noMountAPIEnv is a second launcher: it refuses open_tree and
// move_mount with EPERM, as a container's older seccomp profile does
// with syscalls it does not know.
const noMountAPIEnv = "ZBOX_E2E_EXEC_WITHOUT_MOUNT_API"

func init() {
	target := os.Getenv(noUsernsEnv)
	build := noUsernsFilter
	if target == "" {
		target = os.Getenv(noMountAPIEnv)
		build = noMountAPIFilter
	}
	if target == "" {
		return
	}
	os.Unsetenv(noUsernsEnv)
	os.Unsetenv(noMountAPIEnv)
	runtime.LockOSThread()
	prog, err := build()
	if err == nil {
		err = filter.InstallOnThread([]filter.Program{prog})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e launcher: install the no-userns filter:", err)
		os.Exit(99)
	}
	err = syscall.Exec(target, append([]string{"zbox"}, os.Args[1:]...), os.Environ())
	fmt.Fprintln(os.Stderr, "e2e launcher: exec", target, err)
	os.Exit(98)
}

// noUsernsFilter is what Docker's default profile does about user
// namespaces: clone and unshare with CLONE_NEWUSER fail with EPERM.
// clone3 passes its flags in memory, where a filter cannot look, so it
// is refused entirely with ENOSYS; libc and Go then fall back to clone.
func noUsernsFilter() (filter.Program, error) {
	audit, err := launcherAudit()
	if err != nil {
		return filter.Program{}, err
	}
	insns := []filter.Insn{
		0:  {Code: ldAbs, K: 4}, // arch
		1:  {Code: jeq, K: audit, Jt: 0, Jf: 7},
		2:  {Code: ldAbs, K: 0}, // nr
		3:  {Code: jeq, K: unix.SYS_CLONE3, Jt: 6, Jf: 0},
		4:  {Code: jeq, K: unix.SYS_CLONE, Jt: 2, Jf: 0},
		5:  {Code: jeq, K: unix.SYS_UNSHARE, Jt: 1, Jf: 0},
		6:  {Code: ret, K: unix.SECCOMP_RET_ALLOW},
		7:  {Code: ldAbs, K: 16}, // args[0], low half: the flags
		8:  {Code: jset, K: unix.CLONE_NEWUSER, Jt: 2, Jf: 0},
		9:  {Code: ret, K: unix.SECCOMP_RET_ALLOW},
		10: {Code: ret, K: unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)},
		11: {Code: ret, K: unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)},
	}
	return filter.Program{Name: "e2e-no-userns", Arch: runtime.GOARCH, Insns: insns}, nil
}

// The launchers' filters, in classic BPF.
const (
	ldAbs = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
	jeq   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
	jset  = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
	ret   = unix.BPF_RET | unix.BPF_K
)

// launcherAudit is the native AUDIT_ARCH the launchers' filters check.
func launcherAudit() (uint32, error) {
	switch runtime.GOARCH {
	case "amd64":
		return unix.AUDIT_ARCH_X86_64, nil
	case "arm64":
		return unix.AUDIT_ARCH_AARCH64, nil
	}
	return 0, fmt.Errorf("no audit arch for %s", runtime.GOARCH)
}

// noMountAPIFilter refuses open_tree and move_mount with EPERM.
func noMountAPIFilter() (filter.Program, error) {
	audit, err := launcherAudit()
	if err != nil {
		return filter.Program{}, err
	}
	insns := []filter.Insn{
		0: {Code: ldAbs, K: 4}, // arch
		1: {Code: jeq, K: audit, Jt: 0, Jf: 4},
		2: {Code: ldAbs, K: 0}, // nr
		3: {Code: jeq, K: unix.SYS_OPEN_TREE, Jt: 3, Jf: 0},
		4: {Code: jeq, K: unix.SYS_MOVE_MOUNT, Jt: 2, Jf: 0},
		5: {Code: ret, K: unix.SECCOMP_RET_ALLOW},
		6: {Code: ret, K: unix.SECCOMP_RET_ALLOW},
		7: {Code: ret, K: unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)},
	}
	return filter.Program{Name: "e2e-no-mount-api", Arch: runtime.GOARCH, Insns: insns}, nil
}

// zrun is one zbox invocation with control over its environment.
type zrun struct {
	env []string // nil: inherit
	dir string
	// noUserns runs zbox under the no-userns filter; noMountAPI under
	// the one that refuses open_tree and move_mount.
	noUserns, noMountAPI bool
	extra                []*os.File
}

func (o zrun) run(t testing.TB, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bin := zboxBin
	env := o.env
	if env == nil {
		env = os.Environ()
	}
	if o.noUserns || o.noMountAPI {
		self, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		bin = self
		if o.noUserns {
			env = append(slices.Clone(env), noUsernsEnv+"="+zboxBin)
		} else {
			env = append(slices.Clone(env), noMountAPIEnv+"="+zboxBin)
		}
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env, cmd.Dir, cmd.ExtraFiles = env, o.dir, o.extra
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{Stdout: out.String(), Stderr: errb.String()}
	code, ok := exitCode(err)
	if !ok {
		t.Fatalf("run zbox %v: %v", args, err)
	}
	r.Code = code
	if ctx.Err() != nil {
		t.Fatalf("zbox %v: timed out\n%s", args, r)
	}
	return r
}

// cleanEnv is a small, known environment for zbox itself: profiles are
// read from an empty config directory unless the test adds some.
func cleanEnv(t testing.TB, extra ...string) []string {
	t.Helper()
	return append([]string{
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"HOME=" + t.TempDir(),
		"XDG_CONFIG_HOME=" + t.TempDir(),
		"LANG=C",
	}, extra...)
}

func mustNotContain(t testing.TB, r result, bad string) {
	t.Helper()
	if strings.Contains(r.Stdout+r.Stderr, bad) {
		t.Fatalf("output contains %q\n%s", bad, r)
	}
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// probeScript prints, for each path, whether it can be read ("r"/"-")
// and whether a file can be created in it or it can be written ("w"/"-").
func probeScript(paths ...string) string {
	var b strings.Builder
	for _, p := range paths {
		fmt.Fprintf(&b, `p=%q; r=-; w=-; if [ -d "$p" ]; then ls "$p" >/dev/null 2>&1 && r=r; (: > "$p/.zbox-probe") 2>/dev/null && w=w && rm -f "$p/.zbox-probe"; else cat "$p" >/dev/null 2>&1 && r=r; (: >> "$p") 2>/dev/null && w=w; fi; echo "$p $r$w"; `, p)
	}
	return b.String()
}

func probe(t *testing.T, flags []string, paths ...string) map[string]string {
	t.Helper()
	args := append(slices.Clone(flags), "--", "/bin/sh", "-c", probeScript(paths...))
	r := zrun{env: cleanEnv(t)}.run(t, args...)
	mustExit(t, r, 0)
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
		if i := strings.LastIndexByte(line, ' '); i > 0 {
			out[line[:i]] = line[i+1:]
		}
	}
	return out
}

func TestCLIDefaults(t *testing.T) {
	d := hostDir(t)
	writeFile(t, filepath.Join(d, "f"), "data\n")
	r := zrun{env: cleanEnv(t)}.run(t, "--", "/bin/sh", "-c",
		fmt.Sprintf("cat %s/f && echo read-ok; echo x > %s/g; echo rc=$?; cat /etc/hostname >/dev/null && echo etc-ok; ip -o link 2>/dev/null | grep -c UP || true", d, d))
	mustExit(t, r, 0)
	mustContain(t, r, "read-ok")
	mustContain(t, r, "etc-ok")
	mustContain(t, r, "rc=2")
	if exists(filepath.Join(d, "g")) {
		t.Fatal("a write reached the host with no flags")
	}
	// The same with "run" spelled out.
	r = zrun{env: cleanEnv(t)}.run(t, "run", "--", "true")
	mustExit(t, r, 0)
}

func TestCLIExitStatus(t *testing.T) {
	d := hostDir(t)
	writeFile(t, filepath.Join(d, "noexec"), "#!/bin/sh\n")
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--", "/bin/sh", "-c", "exit 3"}, 3, ""},
		{[]string{"--", "/bin/sh", "-c", "kill -9 $$"}, 137, ""},
		{[]string{"--", "/nonexistent-zbox-cmd"}, 127, "No such file or directory"},
		{[]string{"--", filepath.Join(d, "noexec")}, 126, "Permission denied"},
		// zbox's own setup errors exit 1.
		{[]string{"--engine=bwrap", "--timeout=5s", "--", "true"}, 1, "need the native engine"},
	} {
		r := zrun{env: cleanEnv(t)}.run(t, tt.args...)
		mustExit(t, r, tt.code)
		mustContain(t, r, tt.want)
	}
}

// TestCLIUsageErrors: one clear line, exit 2, and nothing runs.
func TestCLIUsageErrors(t *testing.T) {
	d := hostDir(t)
	marker := filepath.Join(d, "ran")
	for _, tt := range []struct {
		name  string
		flags []string
		want  string
	}{
		{"unknown flag", []string{"--allow-wrte=" + d}, "unknown flag --allow-wrte"},
		{"bad duration", []string{"--timeout=ten"}, "--timeout ten: not a duration"},
		{"impossible path", []string{"--deny-read=/etc/hostname/x"}, "cannot exist: /etc/hostname is not a directory"},
		{"missing profile", []string{"--profile=no-such-profile"}, `unknown profile "no-such-profile"`},
		{"bad limit", []string{"--limit=memory=many"}, "not a size"},
		{"bad engine", []string{"--engine=vm"}, "--engine must be one of"},
		{"bad domain", []string{"--allow-net=https://example.com/x"}, "allow-list entry"},
		{"value after a space", []string{"--allow-write", d}, "is a directory, not a command"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--allow-write=" + d}, tt.flags...)
			args = append(args, "--", "/bin/sh", "-c", "touch "+marker)
			r := zrun{env: cleanEnv(t)}.run(t, args...)
			mustExit(t, r, 2)
			if r.Stdout != "" || strings.Count(r.Stderr, "\n") != 1 || !strings.HasPrefix(r.Stderr, "zbox: ") {
				t.Fatalf("want one line on stderr and nothing on stdout\n%s", r)
			}
			mustContain(t, r, tt.want)
			if exists(marker) {
				t.Fatal("the command ran despite the usage error")
			}
		})
	}
	r := zrun{env: cleanEnv(t)}.run(t, "--help")
	mustExit(t, r, 0)
	mustContain(t, r, "Usage: zbox")
}

func TestCLIAllowWrite(t *testing.T) {
	d := hostDir(t)
	a, b := filepath.Join(d, "a"), filepath.Join(d, "b")
	os.Mkdir(a, 0o755)
	os.Mkdir(b, 0o755)
	got := probe(t, []string{"--allow-write=" + a}, a, b)
	if got[a] != "rw" || got[b] != "r-" {
		t.Fatalf("--allow-write=a: %v", got)
	}
	got = probe(t, []string{"--allow-write=" + a + "," + b}, a, b)
	if got[a] != "rw" || got[b] != "rw" {
		t.Fatalf("comma list: %v", got)
	}
	got = probe(t, []string{"--allow-write=" + a, "--allow-write=" + b}, a, b)
	if got[a] != "rw" || got[b] != "rw" {
		t.Fatalf("repeated: %v", got)
	}
	// Bare: write anywhere (still no network, still namespaced).
	r := zrun{env: cleanEnv(t)}.run(t, "--allow-write", "--", "/bin/sh", "-c",
		fmt.Sprintf("echo x > %s/anywhere && echo ok; echo y > /dev/null && echo devnull-ok; ls /proc/1/exe >/dev/null 2>&1; cat /proc/1/comm", b))
	mustExit(t, r, 0)
	mustContain(t, r, "ok")
	mustContain(t, r, "devnull-ok")
	if !exists(filepath.Join(b, "anywhere")) {
		t.Fatal("bare --allow-write did not write")
	}
	if strings.Contains(r.Stdout, "systemd") || strings.Contains(r.Stdout, "init\n") && !strings.Contains(r.Stdout, "zbox-init") {
		t.Fatalf("pid 1 is the host's: %s", r)
	}
}

func TestCLIDenyWrite(t *testing.T) {
	d := hostDir(t)
	ro := filepath.Join(d, "ro")
	os.Mkdir(ro, 0o755)
	got := probe(t, []string{"--allow-write=" + d, "--deny-write=" + ro}, d, ro)
	if got[d] != "rw" || got[ro] != "r-" {
		t.Fatalf("%v", got)
	}
}

func TestCLIDenyRead(t *testing.T) {
	d := hostDir(t)
	writeFile(t, filepath.Join(d, "secret.txt"), "TOPSECRET\n")
	writeFile(t, filepath.Join(d, "keys", "id"), "KEY\n")
	writeFile(t, filepath.Join(d, "ok"), "fine\n")
	r := zrun{env: cleanEnv(t)}.run(t, "--deny-read="+filepath.Join(d, "secret.txt")+","+filepath.Join(d, "keys"), "--",
		"/bin/sh", "-c", fmt.Sprintf("cat %s/secret.txt %s/keys/id; cat %s/ok", d, d, d))
	mustNotContain(t, r, "TOPSECRET")
	mustNotContain(t, r, "KEY")
	mustContain(t, r, "fine")
}

func TestCLIAllowReadRestricts(t *testing.T) {
	d := hostDir(t)
	in, out := filepath.Join(d, "in"), filepath.Join(d, "out")
	writeFile(t, filepath.Join(in, "f"), "in\n")
	writeFile(t, filepath.Join(out, "f"), "out\n")
	got := probe(t, []string{"--allow-read=" + in}, in, out, "/usr/bin", "/etc/hostname", "/")
	if got[in] != "r-" || got[out] != "--" || got["/usr/bin"] != "r-" || got["/etc/hostname"] != "r-" || got["/"] != "r-" {
		t.Fatalf("%v", got)
	}
	// Bare --allow-read is the default: everything.
	got = probe(t, []string{"--allow-read"}, in, out)
	if got[in] != "r-" || got[out] != "r-" {
		t.Fatalf("bare: %v", got)
	}
}

// TestCLIPrecedence: the most specific rule wins whatever the order; on
// the same path deny beats allow.
func TestCLIPrecedence(t *testing.T) {
	d := hostDir(t)
	a := filepath.Join(d, "a")
	b := filepath.Join(a, "b")
	c := filepath.Join(b, "c")
	x := filepath.Join(d, "x")
	for _, p := range []string{c, x} {
		writeFile(t, filepath.Join(p, "f"), "data\n")
	}
	tests := []struct {
		name  string
		flags []string
		want  map[string]string
	}{
		{"deny-read beats allow-read on the same path", []string{"--allow-read", "--allow-read=" + a, "--deny-read=" + a},
			map[string]string{a: "--", x: "r-"}},
		{"deny-write beats allow-write on the same path", []string{"--allow-write=" + a, "--deny-write=" + a},
			map[string]string{a: "r-", b: "r-"}},
		{"deny-read beats allow-write on the same path", []string{"--allow-write=" + a, "--deny-read=" + a},
			map[string]string{a: "--"}},
		{"allow-write inside deny-write", []string{"--allow-write=" + a, "--deny-write=" + b, "--allow-write=" + c},
			map[string]string{a: "rw", b: "r-", c: "rw"}},
		{"the order does not matter", []string{"--allow-write=" + c, "--deny-write=" + b, "--allow-write=" + a},
			map[string]string{a: "rw", b: "r-", c: "rw"}},
		{"allow-read inside deny-read", []string{"--allow-read", "--deny-read=" + a, "--allow-read=" + b},
			map[string]string{a: "--", b: "r-", c: "r-", x: "r-"}},
		{"deny-read inside allow-read inside deny-read", []string{"--allow-read", "--deny-read=" + c, "--allow-read=" + b, "--deny-read=" + a},
			map[string]string{a: "--", b: "r-", c: "--", x: "r-"}},
		{"allow-write inside deny-read", []string{"--deny-read=" + a, "--allow-write=" + b},
			map[string]string{a: "--", b: "rw", c: "rw"}},
		{"deny-read inside allow-write", []string{"--allow-write=" + a, "--deny-read=" + b},
			map[string]string{a: "rw", b: "--"}},
		{"allow-read never takes writes away", []string{"--allow-write=" + a, "--allow-read=" + b},
			map[string]string{b: "rw"}},
		{"deny-write never grants reads", []string{"--allow-read=" + a, "--deny-write=" + x},
			map[string]string{a: "r-", x: "--"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var paths []string
			for p := range tt.want {
				paths = append(paths, p)
			}
			slices.Sort(paths)
			got := probe(t, tt.flags, paths...)
			for p, want := range tt.want {
				if got[p] != want {
					t.Errorf("%s: %q, want %q (all: %v)", strings.TrimPrefix(p, d), got[p], want, got)
				}
			}
		})
	}
}

func TestCLIPathsAsUserExpects(t *testing.T) {
	d := hostDir(t)
	home := filepath.Join(d, "home")
	real := filepath.Join(d, "real")
	writeFile(t, filepath.Join(home, "secret", "f"), "S\n")
	writeFile(t, filepath.Join(home, "proj", "sub", "f"), "P\n")
	writeFile(t, filepath.Join(real, "f"), "R\n")
	link := filepath.Join(d, "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	env := cleanEnv(t)
	env[1] = "HOME=" + home
	// "~", and relative paths against -C.
	r := zrun{env: env}.run(t, "-C", filepath.Join(home, "proj"), "--deny-read=~/secret", "--allow-write=sub", "--",
		"/bin/sh", "-c", "pwd; cat ~/secret/f; touch sub/new && echo wrote; touch new2 || echo ro")
	mustExit(t, r, 0)
	mustContain(t, r, filepath.Join(home, "proj")+"\n")
	mustNotContain(t, r, "S\n")
	mustContain(t, r, "wrote")
	mustContain(t, r, "ro")
	if !exists(filepath.Join(home, "proj", "sub", "new")) {
		t.Fatal("relative --allow-write missed")
	}
	// Relative paths without -C are relative to where zbox runs.
	r = zrun{env: env, dir: home}.run(t, "--allow-write=proj", "--", "/bin/sh", "-c", "touch proj/x && echo ok")
	mustExit(t, r, 0)
	mustContain(t, r, "ok")
	// A symlink names its target: writable through either name, and a
	// denied link hides the target.
	r = zrun{env: env}.run(t, "--allow-write="+link, "--", "/bin/sh", "-c", fmt.Sprintf("touch %s/a && touch %s/b && echo ok", link, real))
	mustExit(t, r, 0)
	mustContain(t, r, "ok")
	r = zrun{env: env}.run(t, "--deny-read="+link, "--", "/bin/sh", "-c", fmt.Sprintf("cat %s/f; cat %s/f", link, real))
	mustNotContain(t, r, "R\n")
}

func TestCLIEnvironment(t *testing.T) {
	env := cleanEnv(t, "TERM=xterm", "LC_TIME=C", "TZ=UTC", "FOO=foo", "SECRET=s3cret", "AWS_A=1", "AWS_B=2")
	show := []string{"--", "/usr/bin/env"}
	r := zrun{env: env}.run(t, show...)
	mustExit(t, r, 0)
	for _, want := range []string{"PATH=", "HOME=", "TERM=xterm", "LANG=C", "LC_TIME=C", "TZ=UTC"} {
		mustContain(t, r, want)
	}
	mustNotContain(t, r, "FOO=")
	mustNotContain(t, r, "SECRET=")

	r = zrun{env: env}.run(t, append([]string{"--allow-env=FOO,AWS_*", "--deny-env=AWS_B", "--env", "NEW=a,b=c"}, show...)...)
	mustContain(t, r, "FOO=foo")
	mustContain(t, r, "AWS_A=1")
	mustContain(t, r, "NEW=a,b=c")
	mustNotContain(t, r, "AWS_B")
	mustNotContain(t, r, "SECRET")

	r = zrun{env: env}.run(t, append([]string{"--allow-env", "--deny-env=SECRET"}, show...)...)
	mustContain(t, r, "FOO=foo")
	mustContain(t, r, "AWS_B=2")
	mustNotContain(t, r, "SECRET")
}

func TestCLINetwork(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("needs curl")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "HELLO-FROM-HOST") })}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/"
	curl := func(extra string) string {
		return fmt.Sprintf("curl -sS -m 5 %s %s; rc=$?; echo; echo rc=$rc", extra, url)
	}
	env := cleanEnv(t)

	// No flag: no network at all.
	r := zrun{env: env}.run(t, "--", "/bin/sh", "-c", curl(""))
	mustNotContain(t, r, "HELLO-FROM-HOST")

	// Bare --allow-net: the host's network.
	r = zrun{env: env}.run(t, "--allow-net", "--", "/bin/sh", "-c", curl(""))
	mustContain(t, r, "HELLO-FROM-HOST")

	// --allow-net=LIST: through the allow-list proxy. A loopback
	// destination needs an explicit IP rule (the proxy refuses
	// non-public addresses otherwise). curl exempts 127.0.0.1 through
	// NO_PROXY, so --noproxy '' sends it to the proxy anyway.
	r = zrun{env: env}.run(t, "--allow-net=127.0.0.1", "--", "/bin/sh", "-c", curl("--noproxy ''"))
	mustContain(t, r, "HELLO-FROM-HOST")

	// Not on the list: the proxy refuses (HTTP 403).
	r = zrun{env: env}.run(t, "--allow-net=example.com", "--", "/bin/sh", "-c", curl("--noproxy '' -o /dev/null -w %{http_code}"))
	mustContain(t, r, "403")
	mustNotContain(t, r, "HELLO-FROM-HOST")

	// On the list and on the deny list: deny wins.
	r = zrun{env: env}.run(t, "--allow-net=127.0.0.1", "--deny-net=127.0.0.1", "--", "/bin/sh", "-c", curl("--noproxy '' -o /dev/null -w %{http_code}"))
	mustContain(t, r, "403")

	// A tool that ignores the proxy variables fails closed: there is no
	// route out of the sandbox.
	r = zrun{env: env}.run(t, "--allow-net=127.0.0.1", "--", "/bin/sh", "-c", curl("--noproxy '*'"))
	mustNotContain(t, r, "HELLO-FROM-HOST")
	mustNotContain(t, r, "rc=0")
}

func TestCLITimeout(t *testing.T) {
	d := hostDir(t)
	start := time.Now()
	r := zrun{env: cleanEnv(t)}.run(t, "--allow-write="+d, "--timeout=1s", "--", "/bin/sh", "-c",
		fmt.Sprintf("(sleep 2; touch %s/orphan) & sleep 30", d))
	took := time.Since(start)
	mustExit(t, r, 124)
	mustContain(t, r, "timed out after 1s")
	if took > 10*time.Second {
		t.Fatalf("the timeout took %s", took)
	}
	time.Sleep(2500 * time.Millisecond)
	if exists(filepath.Join(d, "orphan")) {
		t.Fatal("a background process outlived the timeout")
	}
	// A bare number is seconds, as with timeout(1).
	r = zrun{env: cleanEnv(t)}.run(t, "--timeout", "0.5", "--", "sleep", "10")
	mustExit(t, r, 124)
	r = zrun{env: cleanEnv(t)}.run(t, "--timeout", "30", "--", "true")
	mustExit(t, r, 0)
}

func TestCLIProcessLimitStopsForkBomb(t *testing.T) {
	if isRoot() {
		// RLIMIT_NPROC does not bind uid 0: copy_process() exempts
		// INIT_USER, and the sandbox maps root to itself.
		t.Skip("RLIMIT_NPROC is not enforced for uid 0 (the kernel exempts the initial user); run unprivileged (CI's second pass does)")
	}
	// A bounded bomb: 300 background sleeps. Without the limit they all
	// start; with it the shell cannot fork after a few dozen.
	r := zrun{env: cleanEnv(t)}.run(t, "--limit=processes=30", "--timeout=30s", "--", "/bin/sh", "-c",
		"n=0; while [ $n -lt 300 ]; do sleep 20 & n=$((n+1)); done; echo reached $n")
	mustNotContain(t, r, "reached 300")
	if r.Code == 124 {
		t.Fatalf("the bomb ran into the timeout\n%s", r)
	}
	if !strings.Contains(strings.ToLower(r.Stderr), "fork") {
		t.Fatalf("no fork failure reported\n%s", r)
	}
}

func TestCLIMemoryLimitStopsHog(t *testing.T) {
	// dd allocates its block size up front: 256 MiB against a 64 MiB
	// address-space limit, set before its execve
	// (TestDirectLimitsBeforeExec has it without the shell).
	r := zrun{env: cleanEnv(t)}.run(t, "--limit=memory=64M", "--", "/bin/sh", "-c", "exec dd if=/dev/zero of=/dev/null bs=256M count=1")
	if r.Code == 0 {
		t.Fatalf("the hog allocated 256M under a 64M limit\n%s", r)
	}
	mustContain(t, r, "memory exhausted")
	r = zrun{env: cleanEnv(t)}.run(t, "--", "dd", "if=/dev/zero", "of=/dev/null", "bs=256M", "count=1")
	mustExit(t, r, 0)
	// Open files.
	r = zrun{env: cleanEnv(t)}.run(t, "--limit=files=32", "--", "/bin/sh", "-c", "ulimit -n")
	mustExit(t, r, 0)
	mustContain(t, r, "32")
}

func TestCLINoProcAndDebug(t *testing.T) {
	r := zrun{env: cleanEnv(t)}.run(t, "--no-proc", "--", "/bin/sh", "-c", "ls /proc | wc -l")
	mustExit(t, r, 0)
	if strings.TrimSpace(r.Stdout) != "0" {
		t.Fatalf("/proc is populated with --no-proc: %s", r)
	}
	r = zrun{env: cleanEnv(t)}.run(t, "--debug", "--", "true")
	mustExit(t, r, 0)
	for _, want := range []string{"level=DEBUG", "stage=zbox", "stage=init", "took=", "plan built", "target started"} {
		mustContain(t, r, want)
	}
}

func writeProfileFile(t *testing.T, cfg, name, content string) {
	t.Helper()
	writeFile(t, filepath.Join(cfg, "zbox", "profiles", name+".json"), content)
}

func TestCLIProfiles(t *testing.T) {
	d := hostDir(t)
	a, b, c := filepath.Join(d, "a"), filepath.Join(d, "b"), filepath.Join(d, "c")
	for _, p := range []string{a, b, c} {
		os.Mkdir(p, 0o755)
	}
	cfg := t.TempDir()
	// TMPDIR elsewhere: workspace writes it (and /tmp when it is unset).
	env := cleanEnv(t, "TMPDIR="+t.TempDir())
	env[2] = "XDG_CONFIG_HOME=" + cfg
	writeProfileFile(t, cfg, "wa", `{"allow-write":["`+a+`"]}`)
	writeProfileFile(t, cfg, "wb", `{"use":"wa","allow-write":"`+b+`","env":{"FROM_PROFILE":"$HOME"}}`)
	writeProfileFile(t, cfg, "loop1", `{"use":"loop2"}`)
	writeProfileFile(t, cfg, "loop2", `{"use":["wa","loop1"]}`)

	script := probeScript(a, b, c) + "echo FP=$FROM_PROFILE"
	// Composition: wb uses wa.
	r := zrun{env: env}.run(t, "--profile=wb", "--", "/bin/sh", "-c", script)
	mustExit(t, r, 0)
	for _, want := range []string{a + " rw", b + " rw", c + " r-", "FP=" + strings.TrimPrefix(env[1], "HOME=")} {
		mustContain(t, r, want)
	}
	// Flags add to profiles.
	r = zrun{env: env}.run(t, "--profile=wa", "--allow-write="+c, "--", "/bin/sh", "-c", script)
	mustContain(t, r, a+" rw")
	mustContain(t, r, c+" rw")
	// Cycles are refused before anything runs.
	r = zrun{env: env}.run(t, "--profile=loop1", "--allow-write="+d, "--", "/bin/sh", "-c", "touch "+d+"/ran")
	mustExit(t, r, 2)
	mustContain(t, r, "profile cycle: loop1 -> loop2 -> loop1")
	if exists(filepath.Join(d, "ran")) {
		t.Fatal("ran despite the cycle")
	}
	// Built-ins: workspace writes the working directory.
	r = zrun{env: env, dir: b}.run(t, "--profile=workspace", "--", "/bin/sh", "-c", probeScript(b, c))
	mustContain(t, r, b+" rw")
	mustContain(t, r, c+" r-")
	// A user profile shadows the built-in of the same name.
	writeProfileFile(t, cfg, "workspace", `{"allow-write":["`+c+`"]}`)
	r = zrun{env: env, dir: b}.run(t, "--profile=workspace", "--", "/bin/sh", "-c", probeScript(b, c))
	mustContain(t, r, b+" r-")
	mustContain(t, r, c+" rw")
	r = zrun{env: env}.run(t, "profile", "list")
	mustExit(t, r, 0)
	mustContain(t, r, "shadows the built-in")
	mustContain(t, r, "deny-credentials")
	r = zrun{env: env}.run(t, "profile", "show", "agent")
	mustExit(t, r, 0)
	mustContain(t, r, `"use"`)
}

func TestCLIDenyCredentialsProfile(t *testing.T) {
	home := hostDir(t)
	writeFile(t, filepath.Join(home, ".ssh", "id_ed25519"), "PRIVATE-KEY\n")
	writeFile(t, filepath.Join(home, ".aws", "credentials"), "AWS-SECRET\n")
	writeFile(t, filepath.Join(home, ".netrc"), "NETRC-SECRET\n")
	writeFile(t, filepath.Join(home, "notes"), "visible\n")
	env := cleanEnv(t, "AWS_SECRET_ACCESS_KEY=ENV-SECRET")
	env[1] = "HOME=" + home
	r := zrun{env: env}.run(t, "--profile=deny-credentials", "--allow-env", "--", "/bin/sh", "-c",
		"cat ~/.ssh/id_ed25519 ~/.aws/credentials ~/.netrc ~/notes; env")
	for _, bad := range []string{"PRIVATE-KEY", "AWS-SECRET", "NETRC-SECRET", "ENV-SECRET"} {
		mustNotContain(t, r, bad)
	}
	mustContain(t, r, "visible")
}

func TestCLIDoctor(t *testing.T) {
	r := zrun{env: cleanEnv(t)}.run(t, "doctor", "--json")
	mustExit(t, r, 0)
	var rep struct {
		Findings []struct {
			Name, Status, Detail, Fix string
		}
		AutoEngine string `json:"auto_engine"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatalf("doctor --json: %v\n%s", err, r)
	}
	status := map[string]string{}
	for _, f := range rep.Findings {
		status[f.Name] = f.Status
		if f.Status != "ok" && f.Fix == "" && f.Name != "fresh /proc" {
			t.Errorf("finding %q has no fix: %+v", f.Name, f)
		}
	}
	for _, n := range []string{"user namespaces", "fresh /proc", "Landlock", "seccomp", "cgroups for --limit", "bwrap"} {
		if status[n] == "" {
			t.Errorf("no finding for %s: %v", n, status)
		}
	}
	// This suite's other tests create user namespaces, so here they work.
	if status["user namespaces"] != "ok" || rep.AutoEngine != "native" {
		t.Errorf("user namespaces %q, auto engine %q", status["user namespaces"], rep.AutoEngine)
	}
	r = zrun{env: cleanEnv(t)}.run(t, "doctor")
	mustExit(t, r, 0)
	mustContain(t, r, "engine auto would use: native")
}

// TestCLIWithoutUserns runs zbox under a seccomp filter that refuses
// user namespaces, as Docker's default profile does.
func TestCLIWithoutUserns(t *testing.T) {
	r := zrun{env: cleanEnv(t), noUserns: true}.run(t, "doctor", "--json")
	mustExit(t, r, 0)
	var rep struct {
		Findings []struct {
			Name, Status, Detail, Fix, Disables string
		}
		AutoEngine string `json:"auto_engine"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatalf("doctor --json: %v\n%s", err, r)
	}
	var userns string
	for _, f := range rep.Findings {
		if f.Name == "user namespaces" {
			userns = f.Status
			if !strings.Contains(f.Detail, "seccomp") || !strings.Contains(f.Fix, "seccomp") || f.Disables == "" {
				t.Errorf("the finding does not name the container's seccomp filter: %+v", f)
			}
		}
	}
	if userns != "missing" {
		t.Fatalf("user namespaces %q under the filter\n%s", userns, r)
	}
	if rep.AutoEngine != "landlock" {
		t.Errorf("auto engine %q, want landlock", rep.AutoEngine)
	}

	// --strict refuses the weaker mode: zbox's own error, exit 1.
	r = zrun{env: cleanEnv(t), noUserns: true}.run(t, "--strict", "--", "/bin/sh", "-c", "echo ran")
	mustExit(t, r, 1)
	mustNotContain(t, r, "ran")

	// auto falls back with exactly one warning line.
	d := hostDir(t)
	r = zrun{env: cleanEnv(t), noUserns: true}.run(t, "--allow-write="+d, "--", "/bin/sh", "-c",
		fmt.Sprintf("echo ran; echo x > %s/ok && echo wrote; echo y > /etc/zbox-e2e || echo ro", d))
	if strings.Count(r.Stderr, "zbox: warning:") != 1 || !strings.Contains(r.Stderr, "Landlock-only") {
		t.Fatalf("want one warning line naming the Landlock-only mode\n%s", r)
	}
	mustExit(t, r, 0)
	mustContain(t, r, "ran")
	mustContain(t, r, "wrote")
	mustContain(t, r, "ro")

	// --engine native says why it cannot start.
	r = zrun{env: cleanEnv(t), noUserns: true}.run(t, "--engine=native", "--", "true")
	mustExit(t, r, 1)
	mustContain(t, r, "create sandbox namespaces")

	// Without a private /dev, another terminal of the user's (here a pty
	// the test holds, not the command's stdio) stays out of reach: the
	// command could otherwise read what is typed into it.
	master, slave, err := openPty()
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	defer master.Close()
	defer slave.Close()
	r = zrun{env: cleanEnv(t), noUserns: true}.run(t, "--", "/bin/sh", "-c",
		fmt.Sprintf("echo SPOOF > %s && echo wrote-other-tty; echo fine", slave.Name()))
	mustContain(t, r, "fine")
	mustNotContain(t, r, "wrote-other-tty")
}

// TestCLIExplainBwrapEquivalence runs explain's bwrap argv through the
// real bwrap and checks it sees the same filesystem as the native run.
func TestCLIExplainBwrapEquivalence(t *testing.T) {
	needBwrap(t)
	d := hostDir(t)
	a, b := filepath.Join(d, "a"), filepath.Join(d, "a", "b")
	for _, p := range []string{filepath.Join(b, "c"), filepath.Join(d, "x")} {
		writeFile(t, filepath.Join(p, "f"), "data\n")
	}
	writeFile(t, filepath.Join(a, "secret"), "S\n")
	paths := []string{d, a, b, filepath.Join(b, "c"), filepath.Join(a, "secret"), filepath.Join(d, "x"), "/usr/bin", "/etc/hostname", "/"}
	cases := [][]string{
		nil,
		{"--allow-write=" + a, "--deny-write=" + b, "--deny-read=" + filepath.Join(a, "secret")},
		{"--allow-read=" + a, "--deny-read=" + b},
		{"--allow-read", "--deny-read=" + a, "--allow-read=" + b, "--allow-write=" + filepath.Join(b, "c")},
		{"--allow-write", "--deny-write=" + a},
		{"--no-proc", "--allow-write=" + d},
	}
	script := probeScript(paths...) + "ls /proc | grep -c '^[0-9]' >/dev/null && echo proc-pids; id -u"
	for i, flags := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			env := cleanEnv(t)
			args := append(slices.Clone(flags), "--", "/bin/sh", "-c", script)
			native := zrun{env: env}.run(t, args...)
			mustExit(t, native, 0)

			ex := zrun{env: env}.run(t, append([]string{"explain", "--json"}, args...)...)
			mustExit(t, ex, 0)
			var e struct {
				Bwrap struct {
					Argv  []string
					Error string
					FDs   []struct{ FD, Bytes int }
				}
			}
			if err := json.Unmarshal([]byte(ex.Stdout), &e); err != nil || e.Bwrap.Error != "" {
				t.Fatalf("explain: %v %s\n%s", err, e.Bwrap.Error, ex)
			}
			var files []*os.File
			for j, f := range e.Bwrap.FDs {
				if f.FD != 3+j || f.Bytes != 0 {
					t.Fatalf("unexpected fd %+v", f)
				}
				nf, err := os.Open(os.DevNull)
				if err != nil {
					t.Fatal(err)
				}
				defer nf.Close()
				files = append(files, nf)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, e.Bwrap.Argv[0], e.Bwrap.Argv[1:]...)
			cmd.ExtraFiles = files
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("bwrap %s: %v\n%s", strings.Join(e.Bwrap.Argv, " "), err, out)
			}
			if string(out) != native.Stdout {
				t.Fatalf("bwrap and the native engine differ\nnative:\n%s\nbwrap:\n%s\nargv: %q", native.Stdout, out, e.Bwrap.Argv)
			}
		})
	}
}

func TestCLIExplainAndVersion(t *testing.T) {
	r := zrun{env: cleanEnv(t)}.run(t, "explain", "--deny-read=/etc/shadow", "--allow-net=example.com", "--", "curl", "https://example.com")
	mustExit(t, r, 0)
	for _, want := range []string{"--file-system-sandbox-policy", "Plan", "allow-list proxy", "seccomp:", "Equivalent bwrap command", "bwrap --new-session",
		"start:      direct (no second Go runtime)"} {
		mustContain(t, r, want)
	}
	// How the sandbox would start: directly, unless something needs the
	// general init.
	r = zrun{env: cleanEnv(t)}.run(t, "explain", "--", "true")
	mustContain(t, r, "start:      direct (no second Go runtime)")
	r = zrun{env: cleanEnv(t)}.run(t, "version")
	mustExit(t, r, 0)
	if !strings.HasPrefix(r.Stdout, "zbox ") {
		t.Fatalf("version: %s", r)
	}
}

func TestCLIEngineBwrap(t *testing.T) {
	needBwrap(t)
	d := hostDir(t)
	writeFile(t, filepath.Join(d, "s"), "SECRET\n")
	r := zrun{env: cleanEnv(t)}.run(t, "--engine=bwrap", "--deny-read="+filepath.Join(d, "s"), "--allow-write="+d, "--", "/bin/sh", "-c",
		fmt.Sprintf("cat %s/s; touch %s/w && echo wrote", d, d))
	mustExit(t, r, 0)
	mustNotContain(t, r, "SECRET")
	mustContain(t, r, "wrote")
}

// TestCLINoNewSession: --no-new-session keeps the command in the
// terminal's foreground process group (it can read the terminal, on a pty
// made by script(1)), and the filter still refuses TIOCSTI, which would
// let it type into the caller's shell.
func TestCLINoNewSession(t *testing.T) {
	if _, err := exec.LookPath("script"); err != nil {
		t.Skip("needs script(1) from util-linux for a pty")
	}
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("needs python3 for the TIOCSTI probe")
	}
	probe := `read x; echo got-$x; python3 -c "
import fcntl, termios
try:
    fcntl.ioctl(0, termios.TIOCSTI, b'x'); print('TIOCSTI ok')
except OSError as e:
    print('TIOCSTI', e.errno)
"`
	// A file: the probe's quotes would not survive two shells.
	f := filepath.Join(hostDir(t), "probe.sh")
	writeFile(t, f, probe+"\n")
	os.Chmod(filepath.Dir(f), 0o755)
	os.Chmod(f, 0o644)
	for _, mode := range []string{"direct", "go"} {
		t.Run(mode, func(t *testing.T) {
			got := onPTY(t, zboxBin+" --no-new-session -- sh "+f, []string{"ZBOX_INIT=" + mode}, "hello\n").Stdout
			if !strings.Contains(got, "got-hello") {
				t.Fatalf("the command could not read the terminal:\n%s", got)
			}
			if !strings.Contains(got, "TIOCSTI 1\n") { // EPERM
				t.Fatalf("TIOCSTI was not refused with EPERM:\n%s", got)
			}
		})
	}
	r := zbox(t, "explain", "--no-new-session", "--", "true")
	mustContain(t, r, "input injection (TIOCSTI, TIOCLINUX) denied")
}

// TestCLIProtectionsSurviveTheNextRun: what one sandbox can do to a
// writable workspace must not undo the next one's protections. A
// deny-read or read-only path deeper inside a writable root keeps its
// place (its parent directories cannot be renamed: EBUSY), and a writable
// root that a previous run turned into a symlink out of the workspace is
// refused rather than followed. Under both starts.
func TestCLIProtectionsSurviveTheNextRun(t *testing.T) {
	for _, init := range []string{"direct", "go"} {
		t.Run(init, func(t *testing.T) {
			env := append(cleanEnv(t), "ZBOX_INIT="+init)
			d := hostDir(t)
			writeFile(t, filepath.Join(d, "x", "y", "key"), "TOPSECRET\n")
			writeFile(t, filepath.Join(d, "x", "cfg"), "original\n")
			flags := []string{"--allow-write=" + d, "--deny-read=" + filepath.Join(d, "x", "y", "key"), "--deny-write=" + filepath.Join(d, "x", "cfg")}
			// Run 1: move the protected paths out of their names.
			r := zrun{env: env, dir: d}.run(t, append(flags, "--", "/bin/sh", "-c",
				"mv x x2 2>/dev/null && echo moved-x; mv x/y x/y2 2>/dev/null && echo moved-y; mkdir z && echo workspace-writable")...)
			mustExit(t, r, 0)
			mustNotContain(t, r, "moved")
			mustContain(t, r, "workspace-writable")
			// Run 2, same policy: still masked and read-only.
			r = zrun{env: env, dir: d}.run(t, append(flags, "--", "/bin/sh", "-c",
				"cat x/y/key x2/y/key x/y2/key 2>/dev/null; echo hacked > x/cfg 2>/dev/null; cat x/cfg")...)
			mustNotContain(t, r, "TOPSECRET")
			mustContain(t, r, "original")
			if b, _ := os.ReadFile(filepath.Join(d, "x", "cfg")); string(b) != "original\n" {
				t.Errorf("x/cfg on the host: %q", b)
			}

			// A nested writable root that a previous run made a symlink.
			outside := hostDir(t)
			if err := os.Symlink(outside, filepath.Join(d, "cache")); err != nil {
				t.Fatal(err)
			}
			r = zrun{env: env, dir: d}.run(t, "--allow-write="+d+","+filepath.Join(d, "cache"), "--", "/bin/sh", "-c", "echo planted > cache/f")
			if r.Code == 0 {
				t.Errorf("a writable root through a symlink the sandbox could have planted was followed\n%s", r)
			}
			mustContain(t, r, "in a writable directory")
			if _, err := os.Stat(filepath.Join(outside, "f")); err == nil {
				t.Errorf("the sandbox wrote through the planted symlink into %s", outside)
			}
		})
	}
}

// TestCLIProfilesOutOfReach: a sandbox that may write where zbox keeps
// its profiles cannot write them: a user profile named "default" would
// otherwise choose the next bare `zbox -- CMD`'s policy, and a project's
// profile file the next run's that uses it.
func TestCLIProfilesOutOfReach(t *testing.T) {
	env := cleanEnv(t)
	var xdg string
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "XDG_CONFIG_HOME="); ok {
			xdg = v
		}
	}
	prof := filepath.Join(xdg, "zbox", "profiles", "default.json")
	r := zrun{env: env}.run(t, "--allow-write="+xdg, "--", "/bin/sh", "-c",
		fmt.Sprintf(`mkdir -p %s 2>/dev/null; echo '{"allow-write": true}' > %s 2>/dev/null && echo wrote; touch %s/other && echo other-ok`, filepath.Dir(prof), prof, xdg))
	mustExit(t, r, 0)
	mustNotContain(t, r, "wrote")
	mustContain(t, r, "other-ok")
	if _, err := os.Stat(prof); err == nil {
		t.Fatalf("the sandbox wrote %s", prof)
	}

	// A project's own profile file, in the writable workspace.
	d := hostDir(t)
	writeFile(t, filepath.Join(d, "zbox.json"), `{"allow-write": ["."]}`+"\n")
	r = zrun{env: env, dir: d}.run(t, "--profile", "./zbox.json", "--", "/bin/sh", "-c",
		`echo '{"allow-write": true}' > zbox.json 2>/dev/null && echo rewrote; touch other && echo other-ok`)
	mustExit(t, r, 0)
	mustNotContain(t, r, "rewrote")
	mustContain(t, r, "other-ok")
	if b, _ := os.ReadFile(filepath.Join(d, "zbox.json")); !strings.Contains(string(b), `["."]`) {
		t.Fatalf("the sandbox rewrote its own profile: %q", b)
	}
}

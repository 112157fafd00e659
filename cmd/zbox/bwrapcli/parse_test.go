package bwrapcli

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/zbox-sandbox/zbox/policy"
)

func perm(m uint32) *uint32 { return policy.Uint32(m) }
func ip(v int) *int         { return &v }

func mustParse(t *testing.T, env *fakeEnv, args ...string) *Options {
	t.Helper()
	o, err := Parse(args, env)
	if err != nil {
		t.Fatalf("Parse(%q): unexpected error %v", args, err)
	}
	return o
}

func mustFail(t *testing.T, env *fakeEnv, args ...string) *Error {
	t.Helper()
	o, err := Parse(args, env)
	if err == nil {
		t.Fatalf("Parse(%q) = %+v, want an error", args, o)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("Parse(%q): error %T is not *Error", args, err)
	}
	return e
}

// TestCodexArgv parses the argv Codex's helper emits (spec §7, tier 1) and
// checks the whole plan.
func TestCodexArgv(t *testing.T) {
	env := newFakeEnv().asRoot().withFD(7, "")
	o := mustParse(t, env,
		"--as-pid-1", "--new-session", "--die-with-parent",
		"--ro-bind", "/", "/", "--dev", "/dev", "--bind", "/tmp", "/tmp",
		"--perms", "000", "--tmpfs", "/home/u/.ssh", "--remount-ro", "/home/u/.ssh",
		"--perms", "000", "--ro-bind-data", "7", "/home/u/secret",
		"--perms", "111", "--tmpfs", "/w/deny", "--dir", "/w/deny/keep", "--remount-ro", "/w/deny",
		"--unshare-user", "--unshare-pid", "--unshare-net", "--proc", "/proc",
		"--chdir", "/w", "--argv0", "codex-linux-sandbox",
		"--", "/proc/self/exe", "--apply-seccomp-then-exec", "--", "ls", "-l")
	want := &policy.Plan{
		Namespaces: policy.Namespaces{User: true, Mount: true, PID: true, Net: true},
		Mounts: []policy.MountOp{
			{Kind: policy.OpROBind, Source: "/", Dest: "/"},
			{Kind: policy.OpDev, Dest: "/dev"},
			{Kind: policy.OpBind, Source: "/tmp", Dest: "/tmp"},
			{Kind: policy.OpTmpfs, Dest: "/home/u/.ssh", Perms: perm(0)},
			{Kind: policy.OpRemountRO, Dest: "/home/u/.ssh"},
			{Kind: policy.OpROBindData, Dest: "/home/u/secret", Perms: perm(0), Data: []byte{}},
			{Kind: policy.OpTmpfs, Dest: "/w/deny", Perms: perm(0o111)},
			{Kind: policy.OpDir, Dest: "/w/deny/keep", Perms: perm(0o755)},
			{Kind: policy.OpRemountRO, Dest: "/w/deny"},
			{Kind: policy.OpProc, Dest: "/proc"},
		},
		Chdir:         "/w",
		Network:       policy.NetworkSpec{Mode: policy.NetIsolated},
		Filter:        policy.FilterSpec{Network: policy.SeccompNone},
		Caps:          policy.Caps{Keep: capList(env.caps)},
		NewSession:    true,
		DieWithParent: true,
		AsPID1:        true,
		Command:       []string{"/proc/self/exe", "--apply-seccomp-then-exec", "--", "ls", "-l"},
		Argv0:         "codex-linux-sandbox",
		Env:           newFakeEnv().environ,
	}
	if !reflect.DeepEqual(o.Plan, want) {
		t.Errorf("plan mismatch\n got: %s\nwant: %s", dump(o.Plan), dump(want))
	}
	if o.Help || o.Version || o.LevelPrefix || o.CapsExplicit || len(o.Warnings) != 0 {
		t.Errorf("unexpected options %+v", o)
	}
	if len(o.Plan.Caps.Keep) != lastCap+1 {
		t.Errorf("uid-0 caller without cap options keeps %d caps, want all %d", len(o.Plan.Caps.Keep), lastCap+1)
	}
}

func dump(p *policy.Plan) string { return fmt.Sprintf("%+v", *p) }

// TestErrors covers every error string the parser produces, with bwrap's
// exact wording (spec §1, Appendix A).
func TestErrors(t *testing.T) {
	user := func() *fakeEnv { return newFakeEnv() }
	root := func() *fakeEnv { return newFakeEnv().asRoot() }
	tests := []struct {
		name string
		env  func() *fakeEnv
		args []string
		want string
	}{
		{"unknown long", user, []string{"--frobnicate", "true"}, "Unknown option --frobnicate"},
		{"unknown dash", user, []string{"-", "true"}, "Unknown option -"},
		{"no = form", user, []string{"--chdir=/", "true"}, "Unknown option --chdir=/"},
		{"no abbreviation", user, []string{"--unshare", "true"}, "Unknown option --unshare"},
		{"short option", user, []string{"-h"}, "Unknown option -h"},

		// Arity, per-option wording.
		{"args arity", user, []string{"--args"}, "--args takes an argument"},
		{"argv0 arity", user, []string{"--argv0"}, "--argv0 takes one argument"},
		{"chdir arity", user, []string{"--chdir"}, "--chdir takes one argument"},
		{"remount-ro arity", user, []string{"--remount-ro"}, "--remount-ro takes one argument"},
		{"bind arity", user, []string{"--bind", "/"}, "--bind takes two arguments"},
		{"bind-try arity", user, []string{"--bind-try", "/"}, "--bind-try takes two arguments"},
		{"ro-bind arity", user, []string{"--ro-bind"}, "--ro-bind takes two arguments"},
		{"ro-bind-try arity", user, []string{"--ro-bind-try", "a"}, "--ro-bind-try takes two arguments"},
		{"dev-bind arity", user, []string{"--dev-bind", "a"}, "--dev-bind takes two arguments"},
		{"dev-bind-try arity", user, []string{"--dev-bind-try", "a"}, "--dev-bind-try takes two arguments"},
		{"bind-fd arity", user, []string{"--bind-fd", "3"}, "--bind-fd takes two arguments"},
		{"ro-bind-fd arity uses bind-fd", user, []string{"--ro-bind-fd", "3"}, "--bind-fd takes two arguments"},
		{"proc arity", user, []string{"--proc"}, "--proc takes an argument"},
		{"dev arity", user, []string{"--dev"}, "--dev takes an argument"},
		{"tmpfs arity", user, []string{"--tmpfs"}, "--tmpfs takes an argument"},
		{"mqueue arity", user, []string{"--mqueue"}, "--mqueue takes an argument"},
		{"dir arity", user, []string{"--dir"}, "--dir takes an argument"},
		{"file arity", user, []string{"--file", "3"}, "--file takes two arguments"},
		{"bind-data arity", user, []string{"--bind-data", "3"}, "--bind-data takes two arguments"},
		{"ro-bind-data arity", user, []string{"--ro-bind-data", "3"}, "--ro-bind-data takes two arguments"},
		{"symlink arity", user, []string{"--symlink", "a"}, "--symlink takes two arguments"},
		{"lock-file arity", user, []string{"--lock-file"}, "--lock-file takes an argument"},
		{"sync-fd arity", user, []string{"--sync-fd"}, "--sync-fd takes an argument"},
		{"block-fd arity", user, []string{"--block-fd"}, "--block-fd takes an argument"},
		{"userns-block-fd arity", user, []string{"--userns-block-fd"}, "--userns-block-fd takes an argument"},
		{"info-fd arity", user, []string{"--info-fd"}, "--info-fd takes an argument"},
		{"json-status-fd arity", user, []string{"--json-status-fd"}, "--json-status-fd takes an argument"},
		{"seccomp arity", user, []string{"--seccomp"}, "--seccomp takes an argument"},
		{"add-seccomp-fd arity", user, []string{"--add-seccomp-fd"}, "--add-seccomp-fd takes an argument"},
		{"setenv arity", user, []string{"--setenv", "A"}, "--setenv takes two arguments"},
		{"unsetenv arity", user, []string{"--unsetenv"}, "--unsetenv takes an argument"},
		{"uid arity", user, []string{"--uid"}, "--uid takes an argument"},
		{"gid arity", user, []string{"--gid"}, "--gid takes an argument"},
		{"hostname arity", user, []string{"--hostname"}, "--hostname takes an argument"},
		{"cap-add arity", user, []string{"--cap-add"}, "--cap-add takes an argument"},
		{"cap-drop arity", user, []string{"--cap-drop"}, "--cap-drop takes an argument"},
		{"perms arity", user, []string{"--perms"}, "--perms takes an argument"},
		{"size arity", user, []string{"--size"}, "--size takes an argument"},
		{"chmod arity", user, []string{"--chmod", "755"}, "--chmod takes two arguments"},
		{"exec-label arity", user, []string{"--exec-label"}, "--exec-label takes an argument"},
		{"file-label arity", user, []string{"--file-label"}, "--file-label takes an argument"},

		// fds.
		{"fd empty", user, []string{"--info-fd", "", "true"}, "Invalid fd: "},
		{"fd junk", user, []string{"--sync-fd", "3x", "true"}, "Invalid fd: 3x"},
		{"fd negative", user, []string{"--block-fd", "-1", "true"}, "Invalid fd: -1"},
		{"fd word", user, []string{"--json-status-fd", "three", "true"}, "Invalid fd: three"},
		{"fd trailing space", user, []string{"--userns-block-fd", "3 ", "true"}, "Invalid fd: 3 "},
		{"fd sign only", user, []string{"--info-fd", "+", "true"}, "Invalid fd: +"},
		{"fd too big for int", user, []string{"--info-fd", "4294967301", "true"}, "Invalid fd: 4294967301"},
		{"fd overflow", user, []string{"--info-fd", "99999999999999999999999", "true"}, "Invalid fd: 99999999999999999999999"},
		{"args fd", user, []string{"--args", "x"}, "Invalid fd: x"},
		{"bind-fd fd", user, []string{"--bind-fd", "x", "/d", "true"}, "Invalid fd: x"},
		{"file fd", user, []string{"--file", "-2", "/d", "true"}, "Invalid fd: -2"},
		{"bind-data fd", user, []string{"--bind-data", "", "/d", "true"}, "Invalid fd: "},
		{"ro-bind-data fd", user, []string{"--ro-bind-data", "0x3", "/d", "true"}, "Invalid fd: 0x3"},
		{"seccomp fd", user, []string{"--seccomp", "a", "true"}, "Invalid fd: a"},
		{"add-seccomp-fd fd", user, []string{"--add-seccomp-fd", "a", "true"}, "Invalid fd: a"},

		// Data fds that cannot be read.
		{"args unreadable", user, []string{"--args", "9", "true"}, "Can't read --args data: Bad file descriptor"},
		{"file unreadable", user, []string{"--file", "9", "/etc/x", "true"}, "Can't write data to file /etc/x: Bad file descriptor"},
		{"bind-data unreadable", user, []string{"--bind-data", "9", "/x", "true"}, "Can't write data to file /x: Bad file descriptor"},
		{"ro-bind-data unreadable", user, []string{"--ro-bind-data", "9", "/y", "true"}, "Can't write data to file /y: Bad file descriptor"},
		{"add-seccomp unreadable", user, []string{"--add-seccomp-fd", "9", "true"}, "Can't read seccomp data: Bad file descriptor"},
		{"seccomp unreadable", user, []string{"--seccomp", "9", "true"}, "Can't read seccomp data: Bad file descriptor"},
		{"add-seccomp same fd twice", func() *fakeEnv { return user().withFD(5, "12345678") },
			[]string{"--add-seccomp-fd", "5", "--add-seccomp-fd", "5", "true"}, "Can't read seccomp data: Bad file descriptor"},
		{"add-seccomp bad length", func() *fakeEnv { return user().withFD(5, "1234567") },
			[]string{"--add-seccomp-fd", "5", "true"}, "Invalid seccomp data, must be multiple of 8"},
		{"seccomp bad length", func() *fakeEnv { return user().withFD(5, "123456789") },
			[]string{"--seccomp", "5", "true"}, "Invalid seccomp data, must be multiple of 8"},
		{"seccomp then add", user, []string{"--seccomp", "5", "--add-seccomp-fd", "6", "true"}, "--add-seccomp-fd cannot be combined with --seccomp"},
		{"add then seccomp", func() *fakeEnv { return user().withFD(5, "") },
			[]string{"--add-seccomp-fd", "5", "--seccomp", "6", "true"}, "--seccomp cannot be combined with --add-seccomp-fd"},

		// --args.
		{"nested args", func() *fakeEnv { return user().withFD(3, "--args\x004\x00") },
			[]string{"--args", "3", "true"}, "--args not supported in arguments file"},
		{"args unknown option inside", func() *fakeEnv { return user().withFD(3, "--nope\x00") },
			[]string{"--args", "3", "true"}, "Unknown option --nope"},
		{"args arity inside file", func() *fakeEnv { return user().withFD(3, "--bind\x00/a\x00") },
			[]string{"--args", "3", "/b", "true"}, "--bind takes two arguments"},
		{"argv over cap", user, append(make([]string, 0, maxArgs+1), slicesRepeat("x", maxArgs+1)...),
			"Exceeded maximum number of arguments 9000"},
		{"args over cap", func() *fakeEnv {
			return user().withFD(3, strings.Repeat("--unshare-pid\x00", maxArgs-2))
		}, []string{"--args", "3", "true"}, "Exceeded maximum number of arguments 9000"},

		// Modifiers.
		{"perms twice", user, []string{"--perms", "0700", "--perms", "0700", "--dir", "/a", "true"}, "--perms given twice for the same action"},
		{"perms not octal", user, []string{"--perms", "8", "--dir", "/a", "true"}, "--perms takes an octal argument <= 07777"},
		{"perms too big", user, []string{"--perms", "010000", "--dir", "/a", "true"}, "--perms takes an octal argument <= 07777"},
		{"perms negative", user, []string{"--perms", "-1", "--dir", "/a", "true"}, "--perms takes an octal argument <= 07777"},
		{"perms empty", user, []string{"--perms", "", "--dir", "/a", "true"}, "--perms takes an octal argument <= 07777"},
		{"perms before bind", user, []string{"--perms", "0700", "--bind", "/a", "/b", "true"}, "--perms must be followed by an option that creates a file"},
		{"perms before chmod", user, []string{"--perms", "0700", "--chmod", "0700", "/b", "true"}, "--perms must be followed by an option that creates a file"},
		{"perms before flag", user, []string{"--perms", "0700", "--unshare-pid", "--dir", "/b", "true"}, "--perms must be followed by an option that creates a file"},
		{"perms before symlink", user, []string{"--perms", "0700", "--symlink", "a", "/b", "true"}, "--perms must be followed by an option that creates a file"},
		{"perms left in args file", func() *fakeEnv { return user().withFD(3, "--perms\x000700\x00") },
			[]string{"--args", "3", "--dir", "/a", "true"}, "--perms must be followed by an option that creates a file"},
		{"size twice", user, []string{"--size", "1", "--size", "1", "--tmpfs", "/t", "true"}, "--size given twice for the same action"},
		{"size before dir", user, []string{"--size", "1", "--dir", "/d", "true"}, "--size must be followed by --tmpfs"},
		{"perms checked before size", user, []string{"--perms", "0700", "--size", "1", "--bind", "/a", "/b", "true"}, "--perms must be followed by an option that creates a file"},
		{"size zero", user, []string{"--size", "0", "--tmpfs", "/t", "true"}, "--size takes a non-zero number of bytes"},
		{"size suffix", user, []string{"--size", "1k", "--tmpfs", "/t", "true"}, "--size takes a non-zero number of bytes"},
		{"size space", user, []string{"--size", " 1", "--tmpfs", "/t", "true"}, "--size takes a non-zero number of bytes"},
		{"size sign", user, []string{"--size", "+1", "--tmpfs", "/t", "true"}, "--size takes a non-zero number of bytes"},
		{"size bad octal", user, []string{"--size", "08", "--tmpfs", "/t", "true"}, "--size takes a non-zero number of bytes"},
		{"size bare 0x", user, []string{"--size", "0x", "--tmpfs", "/t", "true"}, "--size takes a non-zero number of bytes"},
		{"size overflow", user, []string{"--size", "18446744073709551616", "--tmpfs", "/t", "true"}, "--size takes a non-zero number of bytes"},
		{"size limit", user, []string{"--size", "9223372036854775808", "--tmpfs", "/t", "true"}, "--size (for tmpfs) is limited to 9223372036854775807"},
		{"chmod not octal", user, []string{"--chmod", "rwx", "/a", "true"}, "--chmod takes an octal argument <= 07777"},
		{"chmod too big", user, []string{"--chmod", "17777", "/a", "true"}, "--chmod takes an octal argument <= 07777"},

		// Environment.
		{"setenv empty name", user, []string{"--setenv", "", "v", "true"}, "setenv failed"},
		{"setenv name with =", user, []string{"--setenv", "A=B", "v", "true"}, "setenv failed"},
		{"unsetenv empty name", user, []string{"--unsetenv", "", "true"}, "unsetenv failed"},
		{"unsetenv name with =", user, []string{"--unsetenv", "A=B", "true"}, "unsetenv failed"},

		// Identity and repetition.
		{"argv0 twice", user, []string{"--argv0", "a", "--argv0", "b", "true"}, "--argv0 used multiple times"},
		{"invalid uid", user, []string{"--uid", "-5", "true"}, "Invalid uid: -5"},
		{"invalid gid", user, []string{"--gid", "x", "true"}, "Invalid gid: x"},
		{"uid needs userns (root)", root, []string{"--uid", "5", "true"}, "Specifying --uid requires --unshare-user or --userns"},
		{"gid needs userns (root)", root, []string{"--gid", "5", "true"}, "Specifying --gid requires --unshare-user or --userns"},
		{"uid try without userns", func() *fakeEnv { e := root(); e.userns = false; return e },
			[]string{"--unshare-user-try", "--uid", "5", "true"}, "Specifying --uid requires --unshare-user or --userns"},
		{"hostname needs uts", user, []string{"--hostname", "box", "true"}, "Specifying --hostname requires --unshare-uts"},
		{"empty hostname needs uts", user, []string{"--hostname", "", "true"}, "Specifying --hostname requires --unshare-uts"},
		{"as-pid-1 needs pid", user, []string{"--as-pid-1", "true"}, "Specifying --as-pid-1 requires --unshare-pid"},
		{"as-pid-1 and lock-file", user, []string{"--unshare-pid", "--as-pid-1", "--lock-file", "/l", "true"}, "Specifying --as-pid-1 and --lock-file is not permitted"},
		{"chdir empty", user, []string{"--chdir", "", "true"}, "Can't chdir to : No such file or directory"},
		{"chdir empty last", user, []string{"--chdir", "/a", "--chdir", "", "true"}, "Can't chdir to : No such file or directory"},
		{"hostname empty", user, []string{"--unshare-uts", "--hostname", "", "true"}, "--hostname with an empty name is not supported by zbox"},
		{"argv0 empty", user, []string{"--argv0", "", "true"}, "--argv0 with an empty value is not supported by zbox"},

		// Capabilities.
		{"unknown cap", user, []string{"--cap-add", "CAP_BOGUS", "true"}, "unknown cap: CAP_BOGUS"},
		{"cap without prefix", user, []string{"--cap-drop", "NET_ADMIN", "true"}, "unknown cap: NET_ADMIN"},
		{"cap trailing junk", user, []string{"--cap-add", "cap_chown,x", "true"}, "unknown cap: cap_chown,x"},
		{"cap number too big", user, []string{"--cap-add", "41", "true"}, "unknown cap: 41"},
		{"cap empty", user, []string{"--cap-add", "", "true"}, "unknown cap: "},
		{"capget failure", func() *fakeEnv { e := root(); e.capsErr = syscall.EPERM; return e },
			[]string{"true"}, "capget failed: Operation not permitted"},

		// User namespace rules, in bwrap's order.
		{"userns-block-fd needs unshare-user", user, []string{"--info-fd", "3", "--userns-block-fd", "4", "true"}, "--userns-block-fd requires --unshare-user"},
		{"userns-block-fd needs info-fd", user, []string{"--unshare-user", "--userns-block-fd", "4", "true"}, "--userns-block-fd requires --info-fd"},
		{"disable-userns needs explicit unshare-user", user, []string{"--disable-userns", "true"}, "--disable-userns requires --unshare-user"},
		{"disable-userns try is not enough", user, []string{"--unshare-user-try", "--disable-userns", "true"}, "--disable-userns requires --unshare-user"},
		{"disable-userns vs userns-block-fd", user, []string{"--unshare-user", "--info-fd", "3", "--userns-block-fd", "4", "--disable-userns", "true"},
			"--disable-userns is not compatible with  --userns-block-fd"},
		{"validation before usage", user, []string{"--disable-userns"}, "--disable-userns requires --unshare-user"},

		// cgroup namespaces.
		{"cgroup unsupported", func() *fakeEnv { e := user(); e.cgroupErr = noCgroup; return e },
			[]string{"--unshare-cgroup", "true"}, "Cannot create new cgroup namespace because the kernel does not support it"},
		{"cgroup stat error", func() *fakeEnv { e := user(); e.cgroupErr = syscall.EACCES; return e },
			[]string{"--unshare-cgroup", "true"}, "stat on /proc/self/ns/cgroup failed: Permission denied"},

		// Deliberately unsupported (tier 3).
		{"userns", user, []string{"--userns", "3", "true"}, "--userns is not supported by zbox (joining an existing user namespace)"},
		{"userns2", user, []string{"--userns2", "3", "true"}, "--userns2 is not supported by zbox (switching to a second user namespace after setup)"},
		{"pidns", user, []string{"--pidns", "3", "true"}, "--pidns is not supported by zbox (joining an existing pid namespace)"},
		{"overlay-src", user, []string{"--overlay-src", "/a", "--tmp-overlay", "/b", "true"}, "--overlay-src is not supported by zbox (overlay mounts)"},
		{"overlay", user, []string{"--overlay", "/rw", "/work", "/d", "true"}, "--overlay is not supported by zbox (overlay mounts)"},
		{"tmp-overlay", user, []string{"--tmp-overlay", "/d", "true"}, "--tmp-overlay is not supported by zbox (overlay mounts)"},
		{"ro-overlay", user, []string{"--ro-overlay", "/d", "true"}, "--ro-overlay is not supported by zbox (overlay mounts)"},
		{"overlay-opt", user, []string{"--overlay-opt", "x", "true"}, "--overlay-opt is not supported by zbox (overlay mounts)"},
		{"debug-opt", user, []string{"--debug-opt=force-openat-fallback", "true"}, "--debug-opt=force-openat-fallback is not supported by zbox"},
		{"exec-label", user, []string{"--exec-label", "system_u:system_r:x", "true"}, "labeling not supported on this system"},
		{"file-label", user, []string{"--file-label", "system_u:object_r:x", "true"}, "labeling not supported on this system"},
		{"socket (removed upstream)", user, []string{"--socket", "3", "/s", "true"}, "Unknown option --socket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := mustFail(t, tt.env(), tt.args...)
			if e.Msg != tt.want || e.Error() != tt.want {
				t.Errorf("error = %q, want %q", e.Msg, tt.want)
			}
			if e.Usage {
				t.Errorf("unexpected usage error")
			}
			if got := e.Stderr("bwrap"); got != "bwrap: "+tt.want+"\n" {
				t.Errorf("Stderr = %q", got)
			}
		})
	}
}

func slicesRepeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// TestUsage: no arguments, and options without COMMAND, print the usage
// text to stderr and exit 1.
func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"--unshare-pid"},
		{"--ro-bind", "/", "/", "--"},
		{"--perms", "0700"},       // a dangling modifier at the end is not checked
		{"--bind", "/", "--help"}, // --help is DEST here
		{"--args", "3"},           // file ends with a COMMAND-like word: ignored
		{"--unshare-user", "--uid", "5", "--gid", "5"}, // usage comes before the uid checks
		{"--chdir", ""}, // and before the empty-chdir failure
	} {
		env := newFakeEnv().asRoot().withFD(3, "--dir\x00/a\x00ls\x00-l\x00")
		e := mustFail(t, env, args...)
		if !e.Usage {
			t.Errorf("Parse(%q) = %q, want a usage error", args, e.Msg)
			continue
		}
		if got := e.Stderr("/usr/bin/bwrap"); !strings.HasPrefix(got, "usage: /usr/bin/bwrap [OPTIONS...] [--] COMMAND [ARGS...]\n\n") {
			t.Errorf("Stderr starts %q", got[:min(len(got), 60)])
		}
	}
	// --seccomp is read after the usage check (bwrap reads it last).
	env := newFakeEnv().withFD(5, "12345678")
	if e := mustFail(t, env, "--seccomp", "5"); !e.Usage || len(env.reads) != 0 {
		t.Errorf("seccomp fd read before the usage check: %v, reads %v", e, env.reads)
	}
}

func TestHelpAndVersion(t *testing.T) {
	tests := []struct {
		args          []string
		help, version bool
		warnings      int
	}{
		{[]string{"--help"}, true, false, 0},
		{[]string{"--version"}, false, true, 0},
		{[]string{"--unshare-pid", "--version", "--bogus"}, false, true, 0},
		{[]string{"--help", "--bogus", "--version"}, true, false, 0},
		{[]string{"--perms", "0700", "--help"}, true, false, 0}, // --help exits before the modifier check
		{[]string{"--chdir", "/a", "--chdir", "/b", "--help"}, true, false, 1},
		{[]string{"--args", "3", "true"}, true, false, 0}, // --help inside an args file
	}
	for _, tt := range tests {
		env := newFakeEnv().withFD(3, "--help\x00")
		o := mustParse(t, env, tt.args...)
		if o.Help != tt.help || o.Version != tt.version || o.Plan != nil || len(o.Warnings) != tt.warnings {
			t.Errorf("Parse(%q) = %+v", tt.args, o)
		}
	}
	if e := mustFail(t, newFakeEnv(), "--bogus", "--help"); e.Msg != "Unknown option --bogus" {
		t.Errorf("error before --help: %q", e.Msg)
	}
	// A lone --version is answered before the capability query.
	env := newFakeEnv().asRoot()
	env.capsErr = syscall.EPERM
	if o := mustParse(t, env, "--version"); !o.Version {
		t.Errorf("lone --version: %+v", o)
	}
	if VersionString() != "bubblewrap 0.11.1" {
		t.Errorf("VersionString() = %q", VersionString())
	}
}

// TestHelpText checks the --help contract: the usage line, every accepted
// option listed (Codex greps for some of them), no rejected option listed.
func TestHelpText(t *testing.T) {
	u := Usage("bwrap")
	if !strings.HasPrefix(u, "usage: bwrap [OPTIONS...] [--] COMMAND [ARGS...]\n\n") {
		t.Fatalf("first line: %q", strings.SplitN(u, "\n", 2)[0])
	}
	if !strings.HasPrefix(Usage(""), "usage: bwrap ") {
		t.Errorf("empty argv0 not defaulted")
	}
	for _, opt := range []string{"--as-pid-1", "--perms", "--argv0", "--ro-bind-fd"} {
		if !strings.Contains(u, "    "+opt+" ") {
			t.Errorf("help lacks %s (Codex greps for it)", opt)
		}
	}
	listed := map[string]bool{}
	for _, line := range strings.Split(u, "\n")[2:] {
		f := strings.Fields(line)
		if len(f) > 0 && strings.HasPrefix(f[0], "--") {
			listed[f[0]] = true
		}
	}
	// Every listed option is accepted by the parser...
	for opt := range listed {
		if _, bad := unsupported[opt]; bad {
			t.Errorf("help lists unsupported option %s", opt)
		}
		args := []string{opt, "3", "/a", "--", "true"}
		_, err := Parse(args, newFakeEnv().withFD(3, ""))
		var e *Error
		if errors.As(err, &e) && strings.HasPrefix(e.Msg, "Unknown option") {
			t.Errorf("help lists %s but the parser rejects it: %s", opt, e.Msg)
		}
	}
	// ...and every option the parser accepts is listed.
	for _, opt := range acceptedOptions {
		if !listed[opt] {
			t.Errorf("accepted option %s missing from --help", opt)
		}
	}
	for _, opt := range []string{"--userns", "--pidns", "--overlay", "--exec-label", "--file-label"} {
		if listed[opt] {
			t.Errorf("help lists rejected option %s", opt)
		}
	}
}

var acceptedOptions = []string{
	"--help", "--version", "--args", "--argv0", "--level-prefix", "--unshare-all", "--share-net",
	"--unshare-user", "--unshare-user-try", "--unshare-ipc", "--unshare-pid", "--unshare-net",
	"--unshare-uts", "--unshare-cgroup", "--unshare-cgroup-try", "--disable-userns",
	"--assert-userns-disabled", "--uid", "--gid", "--hostname", "--chdir", "--clearenv", "--setenv",
	"--unsetenv", "--lock-file", "--sync-fd", "--bind", "--bind-try", "--dev-bind", "--dev-bind-try",
	"--ro-bind", "--ro-bind-try", "--bind-fd", "--ro-bind-fd", "--remount-ro",
	"--not-a-security-boundary", "--proc", "--dev", "--tmpfs", "--mqueue", "--dir", "--file",
	"--bind-data", "--ro-bind-data", "--symlink", "--seccomp", "--add-seccomp-fd", "--block-fd",
	"--userns-block-fd", "--info-fd", "--json-status-fd", "--new-session", "--die-with-parent",
	"--as-pid-1", "--cap-add", "--cap-drop", "--perms", "--size", "--chmod",
}

// TestStopsAtCommand: parsing stops at the first non-option or after "--";
// the rest goes to the command untouched.
func TestStopsAtCommand(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"--ro-bind", "/", "/", "true", "--unshare-net"}, []string{"true", "--unshare-net"}},
		{[]string{"--", "--dev-bind", "/dev", "/dev", "sh"}, []string{"--dev-bind", "/dev", "/dev", "sh"}},
		{[]string{"--", "--"}, []string{"--"}},
		{[]string{"", "x"}, []string{"", "x"}},
		{[]string{"--unshare-pid", "sh", "-c", "--help"}, []string{"sh", "-c", "--help"}},
	}
	for _, tt := range tests {
		o := mustParse(t, newFakeEnv(), tt.args...)
		if !reflect.DeepEqual(o.Plan.Command, tt.want) {
			t.Errorf("Parse(%q).Command = %q, want %q", tt.args, o.Plan.Command, tt.want)
		}
	}
	o := mustParse(t, newFakeEnv(), "--ro-bind", "/", "/", "true", "--unshare-net")
	if o.Plan.Namespaces.Net {
		t.Errorf("an option after COMMAND was parsed")
	}
}

// TestOps checks every setup op, its defaults and the order of ops.
func TestOps(t *testing.T) {
	env := newFakeEnv().withFD(3, "file-data").withFD(4, "bind-data").withFD(5, "ro-data").withFD(6, "")
	o := mustParse(t, env,
		"--bind", "/b", "/B", "--bind-try", "/bt", "/BT",
		"--ro-bind", "/r", "/R", "--ro-bind-try", "/rt", "/RT",
		"--dev-bind", "/d", "/D", "--dev-bind-try", "/dt", "/DT",
		"--bind-fd", "7", "/F", "--ro-bind-fd", "0", "/RF",
		"--remount-ro", "/R", "--tmpfs", "/tmp", "--dev", "/dev", "--proc", "/proc", "--mqueue", "/dev/mqueue",
		"--dir", "/x", "--file", "3", "/etc/f", "--bind-data", "4", "/etc/b", "--ro-bind-data", "5", "/etc/r",
		"--symlink", "usr/lib", "/lib", "--chmod", "0750", "/x", "--chmod", " 7", "/y",
		"--perms", "0600", "--file", "6", "/etc/empty",
		"true")
	want := []policy.MountOp{
		{Kind: policy.OpBind, Source: "/b", Dest: "/B"},
		{Kind: policy.OpBind, Source: "/bt", Dest: "/BT", Try: true},
		{Kind: policy.OpROBind, Source: "/r", Dest: "/R"},
		{Kind: policy.OpROBind, Source: "/rt", Dest: "/RT", Try: true},
		{Kind: policy.OpDevBind, Source: "/d", Dest: "/D"},
		{Kind: policy.OpDevBind, Source: "/dt", Dest: "/DT", Try: true},
		{Kind: policy.OpBind, Source: "/proc/self/fd/7", Dest: "/F", FD: ip(7)},
		{Kind: policy.OpROBind, Source: "/proc/self/fd/0", Dest: "/RF", FD: ip(0)},
		{Kind: policy.OpRemountRO, Dest: "/R"},
		{Kind: policy.OpTmpfs, Dest: "/tmp", Perms: perm(0o755)},
		{Kind: policy.OpDev, Dest: "/dev"},
		{Kind: policy.OpProc, Dest: "/proc"},
		{Kind: policy.OpMqueue, Dest: "/dev/mqueue"},
		{Kind: policy.OpDir, Dest: "/x", Perms: perm(0o755)},
		{Kind: policy.OpFile, Dest: "/etc/f", Perms: perm(0o666), Data: []byte("file-data")},
		{Kind: policy.OpBindData, Dest: "/etc/b", Perms: perm(0o600), Data: []byte("bind-data")},
		{Kind: policy.OpROBindData, Dest: "/etc/r", Perms: perm(0o600), Data: []byte("ro-data")},
		{Kind: policy.OpSymlink, Source: "usr/lib", Dest: "/lib"},
		{Kind: policy.OpChmod, Dest: "/x", Perms: perm(0o750)},
		{Kind: policy.OpChmod, Dest: "/y", Perms: perm(0o7)},
		{Kind: policy.OpFile, Dest: "/etc/empty", Perms: perm(0o600), Data: []byte{}},
	}
	if !reflect.DeepEqual(o.Plan.Mounts, want) {
		t.Errorf("mounts:\n got %+v\nwant %+v", o.Plan.Mounts, want)
	}
	if !reflect.DeepEqual(env.reads, []int{3, 4, 5, 6}) {
		t.Errorf("data fds read in order %v", env.reads)
	}
}

// TestModifiers: --perms and --size apply to the next op only.
func TestModifiers(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []policy.MountOp
	}{
		{"perms for next dir only", []string{"--perms", "0700", "--dir", "/a", "--dir", "/b"},
			[]policy.MountOp{{Kind: policy.OpDir, Dest: "/a", Perms: perm(0o700)}, {Kind: policy.OpDir, Dest: "/b", Perms: perm(0o755)}}},
		{"perms and size either order", []string{"--size", "0x10", "--perms", "1777", "--tmpfs", "/t", "--perms", "0", "--size", "010", "--tmpfs", "/u"},
			[]policy.MountOp{{Kind: policy.OpTmpfs, Dest: "/t", Perms: perm(0o1777), Size: 16}, {Kind: policy.OpTmpfs, Dest: "/u", Perms: perm(0), Size: 8}}},
		{"size for next tmpfs only", []string{"--size", "4096", "--tmpfs", "/t", "--tmpfs", "/u"},
			[]policy.MountOp{{Kind: policy.OpTmpfs, Dest: "/t", Perms: perm(0o755), Size: 4096}, {Kind: policy.OpTmpfs, Dest: "/u", Perms: perm(0o755)}}},
		{"largest size", []string{"--size", "9223372036854775807", "--tmpfs", "/t"},
			[]policy.MountOp{{Kind: policy.OpTmpfs, Dest: "/t", Perms: perm(0o755), Size: 9223372036854775807}}},
		{"perms strtoul spellings", []string{"--perms", " +0644", "--dir", "/a", "--perms", "-0", "--dir", "/b", "--perms", "07777", "--dir", "/c"},
			[]policy.MountOp{{Kind: policy.OpDir, Dest: "/a", Perms: perm(0o644)}, {Kind: policy.OpDir, Dest: "/b", Perms: perm(0)}, {Kind: policy.OpDir, Dest: "/c", Perms: perm(0o7777)}}},
		{"trailing perms before COMMAND ignored", []string{"--ro-bind", "/", "/", "--perms", "0644"},
			[]policy.MountOp{{Kind: policy.OpROBind, Source: "/", Dest: "/"}}},
		{"trailing size before -- ignored", []string{"--size", "1", "--"}, nil},
		{"perms from args file consumed by argv op", nil, // filled below
			[]policy.MountOp{{Kind: policy.OpDir, Dest: "/a", Perms: perm(0o700)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newFakeEnv().withFD(3, "--perms\x000700\x00--dir\x00/a\x00")
			args := tt.args
			if args == nil {
				args = []string{"--args", "3"}
			}
			o := mustParse(t, env, append(args, "true")...)
			if !reflect.DeepEqual(o.Plan.Mounts, tt.want) {
				t.Errorf("mounts:\n got %+v\nwant %+v", o.Plan.Mounts, tt.want)
			}
		})
	}
	// --perms before --args whose first op consumes it: bwrap checks after
	// the whole --args option, by which time the file's op took it.
	env := newFakeEnv().withFD(3, "--dir\x00/a\x00")
	o := mustParse(t, env, "--perms", "0711", "--args", "3", "true")
	if want := []policy.MountOp{{Kind: policy.OpDir, Dest: "/a", Perms: perm(0o711)}}; !reflect.DeepEqual(o.Plan.Mounts, want) {
		t.Errorf("perms across --args: %+v", o.Plan.Mounts)
	}
}

// TestArgsExpansion: --args words are parsed as if inserted in place.
func TestArgsExpansion(t *testing.T) {
	t.Run("in place and repeatable", func(t *testing.T) {
		env := newFakeEnv().withFD(3, "--dir\x00/b\x00").withFD(4, "--dir\x00/d").withFD(5, "")
		o := mustParse(t, env, "--dir", "/a", "--args", "3", "--dir", "/c", "--args", "4", "--args", "5", "--dir", "/e", "true")
		var got []string
		for _, m := range o.Plan.Mounts {
			got = append(got, m.Dest)
		}
		if want := []string{"/a", "/b", "/c", "/d", "/e"}; !reflect.DeepEqual(got, want) {
			t.Errorf("op order %q, want %q", got, want)
		}
	})
	t.Run("non-option in file stops the file only", func(t *testing.T) {
		env := newFakeEnv().withFD(3, "--dir\x00/a\x00ls\x00--dir\x00/ignored\x00")
		o := mustParse(t, env, "--args", "3", "--dir", "/b", "true", "x")
		if len(o.Plan.Mounts) != 2 || o.Plan.Mounts[1].Dest != "/b" || !reflect.DeepEqual(o.Plan.Command, []string{"true", "x"}) {
			t.Errorf("got mounts %+v command %q", o.Plan.Mounts, o.Plan.Command)
		}
	})
	t.Run("-- in file stops the file only", func(t *testing.T) {
		env := newFakeEnv().withFD(3, "--unshare-pid\x00--\x00--unshare-net\x00")
		o := mustParse(t, env, "--args", "3", "--unshare-ipc", "true")
		ns := o.Plan.Namespaces
		if !ns.PID || ns.Net || !ns.IPC {
			t.Errorf("namespaces %+v", ns)
		}
	})
	t.Run("empty word is a command word", func(t *testing.T) {
		env := newFakeEnv().withFD(3, "--unshare-pid\x00\x00--unshare-net\x00")
		o := mustParse(t, env, "--args", "3", "true")
		if !o.Plan.Namespaces.PID || o.Plan.Namespaces.Net {
			t.Errorf("namespaces %+v", o.Plan.Namespaces)
		}
	})
	t.Run("env ops in file", func(t *testing.T) {
		env := newFakeEnv().withFD(3, "--clearenv\x00--setenv\x00A\x00a b\x00")
		o := mustParse(t, env, "--args", "3", "--setenv", "B", "", "true")
		if want := []string{"A=a b", "B="}; !reflect.DeepEqual(o.Plan.Env, want) {
			t.Errorf("env %q, want %q", o.Plan.Env, want)
		}
	})
	t.Run("cap counts real argv and file words", func(t *testing.T) {
		// 2 real words + (maxArgs-2) file words = maxArgs: accepted.
		env := newFakeEnv().withFD(3, strings.Repeat("--unshare-pid\x00", maxArgs-3))
		o := mustParse(t, env, "--args", "3", "true")
		if !o.Plan.Namespaces.PID {
			t.Errorf("not parsed")
		}
		// The real argv alone may hold exactly maxArgs words.
		args := append(slicesRepeat("--unshare-pid", maxArgs-1), "true")
		mustParse(t, newFakeEnv(), args...)
	})
}

// TestEnvOps: --setenv/--unsetenv/--clearenv act immediately, in order.
func TestEnvOps(t *testing.T) {
	tests := []struct {
		name    string
		environ []string
		args    []string
		want    []string
	}{
		{"untouched", []string{"A=1", "B=2"}, nil, []string{"A=1", "B=2"}},
		{"setenv replaces in place", []string{"A=1", "B=2", "C=3"}, []string{"--setenv", "B", "x=y"}, []string{"A=1", "B=x=y", "C=3"}},
		{"setenv appends", []string{"A=1"}, []string{"--setenv", "Z", ""}, []string{"A=1", "Z="}},
		{"setenv first duplicate only", []string{"A=1", "A=2"}, []string{"--setenv", "A", "3"}, []string{"A=3", "A=2"}},
		{"unsetenv removes all", []string{"A=1", "B=2", "A=3"}, []string{"--unsetenv", "A"}, []string{"B=2"}},
		{"unsetenv missing", []string{"A=1"}, []string{"--unsetenv", "B"}, []string{"A=1"}},
		{"prefix is not a match", []string{"AB=1", "A"}, []string{"--unsetenv", "A", "--setenv", "A", "2"}, []string{"AB=1", "A", "A=2"}},
		{"clearenv alone", []string{"A=1"}, []string{"--clearenv"}, []string{}},
		{"order matters", []string{"A=1", "B=2"},
			[]string{"--setenv", "C", "3", "--clearenv", "--setenv", "D", "4", "--unsetenv", "D", "--setenv", "E", "5"}, []string{"E=5"}},
		{"unset then set", []string{"PATH=/bin"}, []string{"--unsetenv", "PATH", "--setenv", "PATH", "/sbin"}, []string{"PATH=/sbin"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newFakeEnv()
			env.environ = tt.environ
			o := mustParse(t, env, append(tt.args, "true")...)
			if o.Plan.Env == nil || !reflect.DeepEqual(o.Plan.Env, tt.want) {
				t.Errorf("env %#v, want %#v", o.Plan.Env, tt.want)
			}
		})
	}
	// The caller's slice is not modified.
	env := newFakeEnv()
	orig := append([]string{}, env.environ...)
	mustParse(t, env, "--setenv", "PATH", "x", "--unsetenv", "HOME", "true")
	if !reflect.DeepEqual(env.environ, orig) {
		t.Errorf("Env.Environ() result modified: %q", env.environ)
	}
}

// TestNamespaces covers the --unshare-* flags, the implied user namespace,
// the -try probes and --share-net ordering.
func TestNamespaces(t *testing.T) {
	type nsCase struct {
		name   string
		uid    int
		userns bool
		cgroup error
		args   []string
		want   policy.Namespaces
		mode   policy.NetworkMode
	}
	all := policy.Namespaces{User: true, Mount: true, PID: true, Net: true, IPC: true, UTS: true, Cgroup: true}
	tests := []nsCase{
		{"root: mount only", 0, true, nil, nil, policy.Namespaces{Mount: true}, policy.NetFull},
		{"non-root: user implied", 1000, true, nil, nil, policy.Namespaces{User: true, Mount: true}, policy.NetFull},
		{"non-root: implied even if probe says no", 1000, false, nil, nil, policy.Namespaces{User: true, Mount: true}, policy.NetFull},
		{"root: explicit user", 0, true, nil, []string{"--unshare-user"}, policy.Namespaces{User: true, Mount: true}, policy.NetFull},
		{"root: user-try available", 0, true, nil, []string{"--unshare-user-try"}, policy.Namespaces{User: true, Mount: true}, policy.NetFull},
		{"root: user-try unavailable", 0, false, nil, []string{"--unshare-user-try"}, policy.Namespaces{Mount: true}, policy.NetFull},
		{"each flag", 0, true, nil, []string{"--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup"},
			policy.Namespaces{Mount: true, PID: true, Net: true, IPC: true, UTS: true, Cgroup: true}, policy.NetIsolated},
		{"unshare-all", 0, true, nil, []string{"--unshare-all"}, all, policy.NetIsolated},
		{"unshare-all without userns or cgroupns", 0, false, noCgroup, []string{"--unshare-all"},
			policy.Namespaces{Mount: true, PID: true, Net: true, IPC: true, UTS: true}, policy.NetIsolated},
		{"cgroup-try unsupported", 0, true, noCgroup, []string{"--unshare-cgroup-try"}, policy.Namespaces{Mount: true}, policy.NetFull},
		{"cgroup-try other stat error", 0, true, syscall.EACCES, []string{"--unshare-cgroup-try"}, policy.Namespaces{Mount: true}, policy.NetFull},
		{"share-net after unshare-all", 0, true, nil, []string{"--unshare-all", "--share-net"},
			policy.Namespaces{User: true, Mount: true, PID: true, IPC: true, UTS: true, Cgroup: true}, policy.NetFull},
		{"share-net before unshare-all is useless", 0, true, nil, []string{"--share-net", "--unshare-all"}, all, policy.NetIsolated},
		{"share-net after unshare-net", 1000, true, nil, []string{"--unshare-net", "--share-net"}, policy.Namespaces{User: true, Mount: true}, policy.NetFull},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newFakeEnv()
			if tt.uid == 0 {
				env.asRoot()
			}
			env.userns, env.cgroupErr = tt.userns, tt.cgroup
			o := mustParse(t, env, append(tt.args, "true")...)
			if o.Plan.Namespaces != tt.want {
				t.Errorf("namespaces %+v, want %+v", o.Plan.Namespaces, tt.want)
			}
			if o.Plan.Network.Mode != tt.mode {
				t.Errorf("network mode %q, want %q", o.Plan.Network.Mode, tt.mode)
			}
		})
	}
	// The userns probe is not consulted when the namespace is already on.
	env := newFakeEnv()
	mustParse(t, env, "--unshare-user-try", "true")
	if env.probedUser {
		t.Errorf("probe run for a non-root caller")
	}
}

func TestIdentity(t *testing.T) {
	t.Run("uid and gid with userns", func(t *testing.T) {
		o := mustParse(t, newFakeEnv(), "--uid", "0", "--gid", "+0", "true")
		if *o.Plan.UID != 0 || *o.Plan.GID != 0 {
			t.Errorf("uid %v gid %v", *o.Plan.UID, *o.Plan.GID)
		}
	})
	t.Run("root: own ids need no userns", func(t *testing.T) {
		o := mustParse(t, newFakeEnv().asRoot(), "--uid", "0", "--gid", "-0", "true")
		if o.Plan.Namespaces.User || *o.Plan.UID != 0 || *o.Plan.GID != 0 {
			t.Errorf("plan %+v", o.Plan)
		}
	})
	t.Run("root: other ids with userns", func(t *testing.T) {
		o := mustParse(t, newFakeEnv().asRoot(), "--unshare-user", "--uid", " 1000", "--gid", "2147483647", "true")
		if *o.Plan.UID != 1000 || *o.Plan.GID != 2147483647 {
			t.Errorf("uid %v gid %v", *o.Plan.UID, *o.Plan.GID)
		}
	})
	t.Run("defaults are nil", func(t *testing.T) {
		o := mustParse(t, newFakeEnv(), "true")
		if o.Plan.UID != nil || o.Plan.GID != nil || o.Plan.Hostname != "" || o.Plan.Chdir != "" || o.Plan.Argv0 != "" {
			t.Errorf("plan %+v", o.Plan)
		}
	})
	t.Run("empty chdir overridden", func(t *testing.T) {
		o := mustParse(t, newFakeEnv(), "--chdir", "", "--chdir", "/b", "true")
		if o.Plan.Chdir != "/b" {
			t.Errorf("chdir %q", o.Plan.Chdir)
		}
	})
	t.Run("last wins with warnings", func(t *testing.T) {
		o := mustParse(t, newFakeEnv(),
			"--unshare-uts", "--uid", "1", "--uid", "2", "--gid", "3", "--gid", "4",
			"--hostname", "a", "--hostname", "b", "--chdir", "/a", "--chdir", "/b", "--argv0", "x", "true")
		p := o.Plan
		if *p.UID != 2 || *p.GID != 4 || p.Hostname != "b" || p.Chdir != "/b" || p.Argv0 != "x" {
			t.Errorf("plan %+v", p)
		}
		want := []string{
			"bwrap: Only the last --uid option will take effect",
			"bwrap: Only the last --gid option will take effect",
			"bwrap: Only the last --hostname option will take effect",
			"bwrap: Only the last --chdir option will take effect",
		}
		if !reflect.DeepEqual(o.Warnings, want) {
			t.Errorf("warnings %q", o.Warnings)
		}
	})
	t.Run("flags", func(t *testing.T) {
		o := mustParse(t, newFakeEnv(), "--new-session", "--die-with-parent", "--unshare-pid", "--as-pid-1",
			"--unshare-user", "--disable-userns", "--assert-userns-disabled", "--not-a-security-boundary", "true")
		p := o.Plan
		if !p.NewSession || !p.DieWithParent || !p.AsPID1 || !p.DisableUserns || !p.AssertUsernsDisabled || !o.NotASecurityBoundary {
			t.Errorf("plan %+v opts %+v", p, o)
		}
		o = mustParse(t, newFakeEnv(), "--assert-userns-disabled", "true")
		if !o.Plan.AssertUsernsDisabled || o.Plan.DisableUserns {
			t.Errorf("assert only: %+v", o.Plan)
		}
	})
}

// TestCaps: bwrap's capability rules.
func TestCaps(t *testing.T) {
	allCaps := capList(1<<(lastCap+1) - 1)
	dockerSet := uint64(0xa80425fb) // Docker's default bounding/effective set for root
	tests := []struct {
		name     string
		uid      int
		eff      uint64
		args     []string
		want     []int
		explicit bool
	}{
		{"non-root: none", 1000, 0, nil, nil, false},
		{"non-root: cap-add", 1000, 0, []string{"--cap-add", "CAP_NET_ADMIN"}, []int{12}, true},
		{"non-root: lower case and numbers", 1000, 0, []string{"--cap-add", "cap_sys_admin", "--cap-add", "0x0", "--cap-add", "40"}, []int{0, 21, 40}, true},
		{"non-root: add then drop", 1000, 0, []string{"--cap-add", "CAP_NET_ADMIN", "--cap-add", "CAP_NET_RAW", "--cap-drop", "CAP_NET_ADMIN"}, []int{13}, true},
		{"non-root: drop only", 1000, 0, []string{"--cap-drop", "CAP_CHOWN"}, nil, true},
		{"non-root: add ALL", 1000, 0, []string{"--cap-add", "all"}, allCaps, true},
		{"root: keeps everything", 0, 1<<(lastCap+1) - 1, nil, allCaps, false},
		{"root: keeps its own set", 0, dockerSet, []string{"--unshare-user"}, capList(dockerSet), false},
		{"root: drop ALL", 0, 1<<(lastCap+1) - 1, []string{"--cap-drop", "ALL"}, nil, true},
		{"root: drop ALL then add", 0, 1<<(lastCap+1) - 1, []string{"--cap-drop", "aLL", "--cap-add", "CAP_SYS_ADMIN"}, []int{21}, true},
		{"root: drop one", 0, dockerSet, []string{"--cap-drop", "CAP_KILL"}, capList(dockerSet &^ (1 << 5)), true},
		{"root: add ALL beyond own set", 0, 0, []string{"--cap-add", "ALL"}, allCaps, true},
		{"root: order matters", 0, 0, []string{"--cap-add", "ALL", "--cap-drop", "ALL"}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newFakeEnv()
			env.uid, env.caps = tt.uid, tt.eff
			o := mustParse(t, env, append(tt.args, "true")...)
			if !reflect.DeepEqual(o.Plan.Caps.Keep, tt.want) {
				t.Errorf("keep %v, want %v", o.Plan.Caps.Keep, tt.want)
			}
			if o.CapsExplicit != tt.explicit {
				t.Errorf("CapsExplicit %v", o.CapsExplicit)
			}
		})
	}
	for i, n := range capNames {
		if c, ok := capFromName(strings.ToUpper(n)); !ok || c != i {
			t.Errorf("capFromName(%s) = %d, %v", n, c, ok)
		}
		if name := policy.CapName(i); !strings.EqualFold(name, n) {
			t.Errorf("cap %d: bwrapcli %s vs policy %s", i, n, name)
		}
	}
}

// TestStatus: the status and synchronisation fds, and lock files.
func TestStatus(t *testing.T) {
	o := mustParse(t, newFakeEnv(),
		"--unshare-user", "--info-fd", "3", "--json-status-fd", "4", "--block-fd", "5", "--sync-fd", "6",
		"--userns-block-fd", "7", "--lock-file", "/usr/.ref", "--lock-file", "/app/.ref",
		"--info-fd", "8", "--sync-fd", "9", "true")
	want := policy.StatusSpec{InfoFD: ip(8), JSONStatusFD: ip(4), BlockFD: ip(5), SyncFD: ip(9), UsernsBlockFD: ip(7),
		LockFiles: []string{"/usr/.ref", "/app/.ref"}}
	if !reflect.DeepEqual(o.Plan.Status, want) {
		t.Errorf("status %+v", o.Plan.Status)
	}
	if want := []string{"bwrap: Only the last --info-fd option will take effect", "bwrap: Only the last --sync-fd option will take effect"}; !reflect.DeepEqual(o.Warnings, want) {
		t.Errorf("warnings %q", o.Warnings)
	}
	for _, opt := range []string{"--block-fd", "--json-status-fd", "--userns-block-fd"} {
		o := mustParse(t, newFakeEnv(), "--unshare-user", "--info-fd", "1", opt, "3", opt, "4", "true")
		if len(o.Warnings) != 1 || o.Warnings[0] != "bwrap: Only the last "+opt+" option will take effect" {
			t.Errorf("%s: warnings %q", opt, o.Warnings)
		}
	}
}

// TestSeccomp: --seccomp is read last (after validation), --add-seccomp-fd
// immediately and in order.
func TestSeccomp(t *testing.T) {
	prog := func(n int) string { return strings.Repeat("\x06\x00\x00\x00\x00\x00\xff\x7f", n) }
	env := newFakeEnv().withFD(3, prog(1)).withFD(4, prog(2)).withFD(5, "")
	o := mustParse(t, env, "--add-seccomp-fd", "3", "--dir", "/a", "--add-seccomp-fd", "4", "--add-seccomp-fd", "5", "true")
	f := o.Plan.Filter
	if f.Enabled || len(f.Programs) != 3 || string(f.Programs[0]) != prog(1) || string(f.Programs[1]) != prog(2) || f.Programs[2] == nil || len(f.Programs[2]) != 0 {
		t.Errorf("filter %+v", f)
	}

	env = newFakeEnv().withFD(3, prog(1)).withFD(4, prog(3))
	o = mustParse(t, env, "--seccomp", "3", "--seccomp", "4", "true")
	if len(o.Plan.Filter.Programs) != 1 || string(o.Plan.Filter.Programs[0]) != prog(3) {
		t.Errorf("last --seccomp should win: %+v", o.Plan.Filter)
	}
	if !reflect.DeepEqual(env.reads, []int{4}) {
		t.Errorf("only the last --seccomp fd is read, got reads %v", env.reads)
	}
	if len(o.Warnings) != 1 || o.Warnings[0] != "bwrap: Only the last --seccomp option will take effect" {
		t.Errorf("warnings %q", o.Warnings)
	}

	// Validation errors come before the --seccomp read.
	env = newFakeEnv().withFD(3, prog(1))
	mustFail(t, env, "--seccomp", "3", "--hostname", "h", "true")
	if len(env.reads) != 0 {
		t.Errorf("seccomp fd read before validation: %v", env.reads)
	}
}

// TestSources: relative bind sources become absolute against the cwd.
func TestSources(t *testing.T) {
	tests := []struct {
		name, cwd string
		cwdErr    error
		src, want string
	}{
		{"absolute", "/w", nil, "/etc", "/etc"},
		{"relative", "/w", nil, "sub/dir", "/w/sub/dir"},
		{"dot-dot kept for realpath", "/w", nil, "../x", "/w/../x"},
		{"dot", "/w", nil, ".", "/w/."},
		{"root cwd", "/", nil, "etc", "/etc"},
		{"empty stays empty", "/w", nil, "", ""},
		{"unknown cwd", "", syscall.ENOENT, "rel", "rel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newFakeEnv()
			env.cwd, env.cwdErr = tt.cwd, tt.cwdErr
			o := mustParse(t, env, "--bind", tt.src, "/d", "--ro-bind-try", tt.src, "/e", "--dev-bind", tt.src, "/f",
				"--symlink", tt.src, "/g", "true")
			for _, m := range o.Plan.Mounts[:3] {
				if m.Source != tt.want {
					t.Errorf("%s source %q, want %q", m.Kind, m.Source, tt.want)
				}
			}
			if s := o.Plan.Mounts[3].Source; s != tt.src {
				t.Errorf("symlink target rewritten to %q", s)
			}
			if m := o.Plan.Mounts[0].Dest; m != "/d" {
				t.Errorf("dest rewritten to %q", m)
			}
		})
	}
}

// TestLevelPrefix: --level-prefix affects only diagnostics after it.
func TestLevelPrefix(t *testing.T) {
	o := mustParse(t, newFakeEnv(), "--chdir", "/a", "--chdir", "/b", "--level-prefix", "--chdir", "/c", "true")
	want := []string{"bwrap: Only the last --chdir option will take effect", "<4>bwrap: Only the last --chdir option will take effect"}
	if !o.LevelPrefix || !reflect.DeepEqual(o.Warnings, want) {
		t.Errorf("opts %+v", o)
	}

	e := mustFail(t, newFakeEnv(), "--level-prefix", "--chdir", "/a", "--chdir", "/b", "--bogus")
	if !e.LevelPrefix || e.Stderr("bwrap") != "<3>bwrap: Unknown option --bogus\n" {
		t.Errorf("error %+v stderr %q", e, e.Stderr("bwrap"))
	}
	if !reflect.DeepEqual(e.Warnings, []string{"<4>bwrap: Only the last --chdir option will take effect"}) {
		t.Errorf("warnings carried by the error: %q", e.Warnings)
	}
	e = mustFail(t, newFakeEnv(), "--bogus", "--level-prefix")
	if e.LevelPrefix {
		t.Errorf("prefix applied to an error before --level-prefix")
	}
	// Post-parse errors come after every option, so they are prefixed.
	e = mustFail(t, newFakeEnv(), "--hostname", "x", "--level-prefix", "true")
	if e.Stderr("bwrap") != "<3>bwrap: Specifying --hostname requires --unshare-uts\n" {
		t.Errorf("stderr %q", e.Stderr("bwrap"))
	}
}

func TestStrerror(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{syscall.EBADF, "Bad file descriptor"},
		{fmt.Errorf("read fd 3: %w", syscall.EAGAIN), "Resource temporarily unavailable"},
		{errors.New("plain"), "Plain"},
		{errors.New(""), ""},
	}
	for _, tt := range tests {
		if got := strerror(tt.err); got != tt.want {
			t.Errorf("strerror(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestNumbers(t *testing.T) {
	ints := []struct {
		in   string
		want int
		ok   bool
	}{
		{"0", 0, true}, {"3", 3, true}, {" \t3", 3, true}, {"+3", 3, true}, {"-0", 0, true}, {"007", 7, true},
		{"2147483647", 2147483647, true}, {"2147483648", 0, false}, {"", 0, false}, {" ", 0, false},
		{"-", 0, false}, {"3 ", 0, false}, {"0x3", 0, false}, {"-1", 0, false}, {"1e3", 0, false},
	}
	for _, tt := range ints {
		if got, ok := parseCInt(tt.in); got != tt.want || ok != tt.ok {
			t.Errorf("parseCInt(%q) = %d, %v", tt.in, got, ok)
		}
	}
	sizes := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"1", 1, true}, {"4096", 4096, true}, {"0x1000", 4096, true}, {"0X1f", 31, true}, {"0755", 493, true},
		{"18446744073709551615", 18446744073709551615, true}, {"0", 0, false}, {"00", 0, false},
		{"0x", 0, false}, {"0xg", 0, false}, {"09", 0, false}, {"1 ", 0, false}, {"-1", 0, false},
		{"1_000", 0, false}, {"0x-1", 0, false},
	}
	for _, tt := range sizes {
		if got, ok := parseSize(tt.in); got != tt.want || ok != tt.ok {
			t.Errorf("parseSize(%q) = %d, %v", tt.in, got, ok)
		}
	}
}

package bwrapcli

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/zbox-sandbox/zbox/policy"
)

// FuzzParse: Parse never panics, every error is an *Error with a message,
// and a successful parse yields a consistent Plan whose JSON encoding (the
// form in which it travels to the sandbox's pid 1) round-trips.
//
// argv is NUL-separated; fds 3 and 4 yield fdData (an --args file, data
// for --file, a seccomp program), fd 5 yields 8 bytes.
func FuzzParse(f *testing.F) {
	seeds := []struct {
		argv   string
		fdData string
		uid    uint8
	}{
		{"--ro-bind\x00/\x00/\x00--dev\x00/dev\x00--unshare-user\x00--unshare-pid\x00--proc\x00/proc\x00--\x00true", "", 0},
		{"--args\x003\x00true", "--perms\x000700\x00--dir\x00/a\x00", 1},
		{"--perms\x00111\x00--tmpfs\x00/x\x00--dir\x00/x/y\x00--remount-ro\x00/x\x00sh", "", 0},
		{"--size\x000x100\x00--tmpfs\x00/t\x00--file\x003\x00/f\x00--seccomp\x005\x00ls", "data", 1},
		{"--clearenv\x00--setenv\x00A\x00b\x00--unsetenv\x00PATH\x00--chdir\x00/\x00env", "", 1},
		{"--unshare-all\x00--share-net\x00--cap-add\x00ALL\x00--cap-drop\x00CAP_SYS_ADMIN\x00id", "", 0},
		{"--level-prefix\x00--info-fd\x003\x00--info-fd\x004\x00--bogus", "", 1},
		{"--add-seccomp-fd\x003\x00--add-seccomp-fd\x005\x00--bind-fd\x004\x00rel\x00x", "12345678", 1},
		{"--uid\x005\x00--hostname\x00h\x00--unshare-uts\x00--as-pid-1\x00--unshare-pid\x00x", "", 0},
		{"--help", "", 0},
	}
	for _, s := range seeds {
		f.Add([]byte(s.argv), []byte(s.fdData), s.uid, true, true)
	}
	f.Fuzz(func(t *testing.T, argv, fdData []byte, uidSel uint8, userns, cgroup bool) {
		var args []string
		if len(argv) > 0 {
			args = strings.Split(string(argv), "\x00")
		}
		if len(args) > 2*maxArgs {
			return
		}
		env := newFakeEnv().withFD(3, string(fdData)).withFD(4, string(fdData)).withFD(5, "abcdefgh")
		if uidSel%2 == 0 {
			env.asRoot()
		}
		env.userns = userns
		if !cgroup {
			env.cgroupErr = noCgroup
		}
		o, err := Parse(args, env)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T %v is not *Error", err, err)
			}
			if o != nil {
				t.Fatalf("options returned with an error")
			}
			if !e.Usage && e.Msg == "" {
				t.Fatalf("empty error message")
			}
			if e.Stderr("bwrap") == "" {
				t.Fatalf("empty stderr rendering")
			}
			return
		}
		if o.Help || o.Version {
			if o.Plan != nil {
				t.Fatalf("plan with --help/--version")
			}
			return
		}
		p := o.Plan
		checkPlanInvariants(t, p, env.uid)

		data, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("marshal plan: %v", err)
		}
		var back policy.Plan
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatalf("unmarshal plan: %v\n%s", err, data)
		}
		if (back.Env == nil) != (p.Env == nil) {
			t.Fatalf("Env nil-ness lost in JSON: %v vs %v", p.Env == nil, back.Env == nil)
		}
		// encoding/json replaces invalid UTF-8 with U+FFFD, so only valid
		// strings can round-trip exactly (a known limit of the plan's JSON
		// transport, reported to the lead).
		if utf8.Valid(argv) && utf8.Valid(fdData) && validEnv(env.environ) {
			again, err := json.Marshal(&back)
			if err != nil || !bytes.Equal(data, again) {
				t.Fatalf("JSON not stable:\n%s\n%s", data, again)
			}
			if !reflect.DeepEqual(normalize(p), normalize(&back)) {
				t.Fatalf("plan changed through JSON:\n got %+v\nwant %+v", back, *p)
			}
		}
	})
}

func validEnv(env []string) bool {
	for _, kv := range env {
		if !utf8.ValidString(kv) {
			return false
		}
	}
	return true
}

// normalize maps the encodings JSON cannot tell apart to one form: an
// empty Data is dropped by omitempty.
func normalize(p *policy.Plan) *policy.Plan {
	q := *p
	q.Mounts = append([]policy.MountOp(nil), p.Mounts...)
	for i := range q.Mounts {
		if len(q.Mounts[i].Data) == 0 {
			q.Mounts[i].Data = nil
		}
	}
	return &q
}

// checkPlanInvariants are the rules every plan from Parse satisfies.
func checkPlanInvariants(t *testing.T, p *policy.Plan, uid int) {
	t.Helper()
	if p == nil {
		t.Fatalf("nil plan")
	}
	if !p.Namespaces.Mount {
		t.Errorf("no mount namespace")
	}
	if uid != 0 && !p.Namespaces.User {
		t.Errorf("uid %d without a user namespace", uid)
	}
	if p.Env == nil {
		t.Errorf("nil Env")
	}
	if len(p.Command) == 0 {
		t.Errorf("empty command")
	}
	if p.Filter.Enabled {
		t.Errorf("bwrap front-end enabled zbox's filter")
	}
	if (p.Network.Mode == policy.NetIsolated) != p.Namespaces.Net {
		t.Errorf("network mode %q with net namespace %v", p.Network.Mode, p.Namespaces.Net)
	}
	if p.Hostname != "" && !p.Namespaces.UTS {
		t.Errorf("hostname without UTS namespace")
	}
	if p.AsPID1 && (!p.Namespaces.PID || len(p.Status.LockFiles) > 0) {
		t.Errorf("as-pid-1 without pid namespace or with lock files")
	}
	if p.DisableUserns && !p.Namespaces.User {
		t.Errorf("disable-userns without user namespace")
	}
	for _, prog := range p.Filter.Programs {
		if len(prog)%8 != 0 {
			t.Errorf("seccomp program of %d bytes", len(prog))
		}
	}
	for _, c := range p.Caps.Keep {
		if c < 0 || c > lastCap {
			t.Errorf("capability %d out of range", c)
		}
	}
	for i, m := range p.Mounts {
		if m.Perms != nil && *m.Perms > 0o7777 {
			t.Errorf("mount %d: perms %o", i, *m.Perms)
		}
		if m.Size > maxTmpfsBytes || (m.Size != 0 && m.Kind != policy.OpTmpfs) {
			t.Errorf("mount %d: size %d on %s", i, m.Size, m.Kind)
		}
		switch m.Kind {
		case policy.OpTmpfs, policy.OpDir, policy.OpFile, policy.OpBindData, policy.OpROBindData, policy.OpChmod:
			if m.Perms == nil {
				t.Errorf("mount %d (%s) without perms", i, m.Kind)
			}
		default:
			if m.Perms != nil {
				t.Errorf("mount %d (%s) with perms", i, m.Kind)
			}
		}
		if m.FD != nil && (m.Source != "/proc/self/fd/"+strconv.Itoa(*m.FD) || (m.Kind != policy.OpBind && m.Kind != policy.OpROBind)) {
			t.Errorf("mount %d: fd %d with source %q kind %s", i, *m.FD, m.Source, m.Kind)
		}
	}
}

// FuzzNumbers compares the C-style number parsers with strconv on the
// inputs where both must agree.
func FuzzNumbers(f *testing.F) {
	for _, s := range []string{"0", "3", "+3", " 3", "-0", "0x10", "0755", "2147483648", "99999999999999999999", "", "08"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fd, ok := parseCInt(s)
		if ok && (fd < 0 || strconv.Itoa(fd) != strings.TrimLeft(strings.TrimLeft(strings.TrimLeft(s, " \t\n\v\f\r"), "+-"), "0") && fd != 0) {
			t.Errorf("parseCInt(%q) = %d", s, fd)
		}
		if n, err := strconv.ParseUint(s, 10, 31); err == nil && !strings.HasPrefix(s, "+") {
			if got, ok := parseCInt(s); !ok || uint64(got) != n {
				t.Errorf("parseCInt(%q) = %d, %v; strconv says %d", s, got, ok, n)
			}
		}
		if m, ok := parseOctalMode(s); ok && m > 0o7777 {
			t.Errorf("parseOctalMode(%q) = %o", s, m)
		}
		size, ok := parseSize(s)
		if ok {
			if size == 0 {
				t.Errorf("parseSize(%q) = 0", s)
			}
			if n, err := strconv.ParseUint(s, 0, 64); err == nil && n != size && !strings.Contains(s, "_") && !strings.HasPrefix(s, "0b") && !strings.HasPrefix(s, "0o") {
				t.Errorf("parseSize(%q) = %d, strconv says %d", s, size, n)
			}
		}
		if c, ok := capFromName(s); ok && (c < 0 || c > lastCap) {
			t.Errorf("capFromName(%q) = %d", s, c)
		}
	})
}

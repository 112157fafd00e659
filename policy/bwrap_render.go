package policy

// Rendering a Plan as bubblewrap argv.
//
// The system-bwrap engine (and the golden tests against the real Codex
// helper) need the Plan spelled the way bwrap spells it. The Plan's mount
// vocabulary is bwrap's, so this is mostly a one-to-one mapping; what
// needs care is the position of the non-queued options, because the
// Codex helper's argv has a fixed shape (codex-helper spec §3.1):
//
//	--new-session --die-with-parent <fs ops...> --unshare-user --unshare-pid
//	[--unshare-net] [--proc /proc] [ops after proc] [--chdir X] [--argv0 A] -- CMD...
//
// bwrap queues the filesystem ops and runs them in command-line order, so
// the position of --proc among the mounts matters, while the --unshare-*
// flags are plain switches that may sit anywhere. We put the switches
// right before the first --proc op (or after the last op when there is no
// --proc), which reproduces the helper's argv exactly.
//
// What is deliberately NOT rendered, because bwrap cannot do it and the
// engine's inner command (zbox re-executing itself inside the sandbox)
// does it instead: the seccomp filter (Plan.Filter), Landlock, the proxy
// routes, the environment (the engine passes Env to bwrap's execve and
// bwrap keeps it), and ProcFallback (bwrap's --proc is always fatal; the
// engine runs the helper-style /proc preflight, spec §4, and drops the
// proc op itself).

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// capNames maps Linux capability numbers to the names bwrap's --cap-add and
// --cap-drop accept (libcap spelling). Kept here rather than taken from
// x/sys/unix so that the policy package stays pure data and builds on
// every GOOS.
var capNames = [...]string{
	0:  "CAP_CHOWN",
	1:  "CAP_DAC_OVERRIDE",
	2:  "CAP_DAC_READ_SEARCH",
	3:  "CAP_FOWNER",
	4:  "CAP_FSETID",
	5:  "CAP_KILL",
	6:  "CAP_SETGID",
	7:  "CAP_SETUID",
	8:  "CAP_SETPCAP",
	9:  "CAP_LINUX_IMMUTABLE",
	10: "CAP_NET_BIND_SERVICE",
	11: "CAP_NET_BROADCAST",
	12: "CAP_NET_ADMIN",
	13: "CAP_NET_RAW",
	14: "CAP_IPC_LOCK",
	15: "CAP_IPC_OWNER",
	16: "CAP_SYS_MODULE",
	17: "CAP_SYS_RAWIO",
	18: "CAP_SYS_CHROOT",
	19: "CAP_SYS_PTRACE",
	20: "CAP_SYS_PACCT",
	21: "CAP_SYS_ADMIN",
	22: "CAP_SYS_BOOT",
	23: "CAP_SYS_NICE",
	24: "CAP_SYS_RESOURCE",
	25: "CAP_SYS_TIME",
	26: "CAP_SYS_TTY_CONFIG",
	27: "CAP_MKNOD",
	28: "CAP_LEASE",
	29: "CAP_AUDIT_WRITE",
	30: "CAP_AUDIT_CONTROL",
	31: "CAP_SETFCAP",
	32: "CAP_MAC_OVERRIDE",
	33: "CAP_MAC_ADMIN",
	34: "CAP_SYSLOG",
	35: "CAP_WAKE_ALARM",
	36: "CAP_BLOCK_SUSPEND",
	37: "CAP_AUDIT_READ",
	38: "CAP_PERFMON",
	39: "CAP_BPF",
	40: "CAP_CHECKPOINT_RESTORE",
}

// CapName returns the libcap name of capability number c ("CAP_SYS_ADMIN"),
// or "" when c is not a capability this build knows.
func CapName(c int) string {
	if c < 0 || c >= len(capNames) {
		return ""
	}
	return capNames[c]
}

// CapByName returns the number of the capability called name. The CAP_
// prefix is optional and case does not matter, as in bwrap (libcap's
// cap_from_name).
func CapByName(name string) (int, bool) {
	n := strings.ToUpper(name)
	if !strings.HasPrefix(n, "CAP_") {
		n = "CAP_" + n
	}
	for i, c := range capNames {
		if c == n {
			return i, true
		}
	}
	return 0, false
}

// BwrapArgs renders p as bubblewrap's command line, without the program
// name: the result is what follows "bwrap" in argv, ending with "--" and
// the command.
//
// dataFD is called once for every file, bind-data and ro-bind-data op, in
// argv order, with the op's Data; it returns the number of an fd that the
// bwrap process will inherit and that yields exactly those bytes (the
// engine opens /dev/null for empty data, a sealed memfd otherwise, and
// clears FD_CLOEXEC). bwrap reads and closes each such fd, so one fd must
// never be returned twice: reusing it is the Codex v0.117 bug of spec §3.5.
// dataFD may be nil when p has no such op.
//
// inner is the command bwrap executes (for the native helper pipeline, zbox
// itself in its inner-stage mode); when it is empty p.Command is used.
//
// Caps are always rendered explicitly ("--cap-drop ALL", then one
// "--cap-add" per kept capability). bwrap's own default keeps every
// capability for a uid-0 caller, which would leave a root caller's
// sandbox holding CAP_SYS_ADMIN over its own mounts and thus able to
// unmount the deny masks; the explicit drop makes the rendered argv mean
// the same thing for every caller.
func BwrapArgs(p *Plan, dataFD func(data []byte) (int, error), inner []string) ([]string, error) {
	if p == nil {
		return nil, errors.New("render bwrap argv: nil plan")
	}
	ns := p.Namespaces
	if ns == (Namespaces{}) {
		// The helper's full-disk-write shortcut (spec §2.2 step 6): the
		// command runs directly, with no namespaces. bwrap has no way to
		// say "no mount namespace", so refuse rather than silently add one.
		return nil, errors.New("render bwrap argv: plan has no namespaces (direct exec); run the command without bwrap")
	}
	if !ns.Mount {
		return nil, errors.New("render bwrap argv: plan has no mount namespace, but bwrap always creates one; set Namespaces.Mount")
	}
	cmd := inner
	if len(cmd) == 0 {
		cmd = p.Command
	}
	if len(cmd) == 0 {
		return nil, errors.New("render bwrap argv: no command to run (empty inner command and Plan.Command)")
	}
	if p.Hostname != "" && !ns.UTS {
		return nil, fmt.Errorf("render bwrap argv: hostname %q needs a UTS namespace; set Namespaces.UTS", p.Hostname)
	}
	if (p.UID != nil || p.GID != nil) && !ns.User {
		return nil, errors.New("render bwrap argv: uid/gid mapping needs a user namespace; set Namespaces.User")
	}
	if p.AsPID1 && !ns.PID {
		return nil, errors.New("render bwrap argv: as-pid-1 needs a PID namespace; set Namespaces.PID")
	}
	if p.DisableUserns && !ns.User {
		return nil, errors.New("render bwrap argv: disable-userns needs a user namespace; set Namespaces.User")
	}

	r := &renderer{dataFD: dataFD}
	if p.NewSession {
		r.add("--new-session")
	}
	if p.DieWithParent {
		r.add("--die-with-parent")
	}

	// Split the ops at the first proc mount: the switches go there.
	split := len(p.Mounts)
	for i, op := range p.Mounts {
		if op.Kind == OpProc {
			split = i
			break
		}
	}
	for i := range p.Mounts[:split] {
		if err := r.op(i, &p.Mounts[i]); err != nil {
			return nil, err
		}
	}

	// Namespace switches, in the helper's order (user, pid, net), then
	// the ones the helper never emits.
	if ns.User {
		r.add("--unshare-user")
	}
	if ns.PID {
		r.add("--unshare-pid")
	}
	if ns.Net {
		r.add("--unshare-net")
	}
	if ns.IPC {
		r.add("--unshare-ipc")
	}
	if ns.UTS {
		r.add("--unshare-uts")
	}
	if ns.Cgroup {
		r.add("--unshare-cgroup")
	}
	if p.UID != nil {
		if *p.UID < 0 {
			return nil, fmt.Errorf("render bwrap argv: invalid uid %d", *p.UID)
		}
		r.add("--uid", strconv.Itoa(*p.UID))
	}
	if p.GID != nil {
		if *p.GID < 0 {
			return nil, fmt.Errorf("render bwrap argv: invalid gid %d", *p.GID)
		}
		r.add("--gid", strconv.Itoa(*p.GID))
	}
	if p.Hostname != "" {
		r.add("--hostname", p.Hostname)
	}
	if p.DisableUserns {
		r.add("--disable-userns")
	}
	if p.AssertUsernsDisabled {
		r.add("--assert-userns-disabled")
	}
	if p.AsPID1 {
		r.add("--as-pid-1")
	}
	r.add("--cap-drop", "ALL")
	for _, c := range p.Caps.Keep {
		name := CapName(c)
		if name == "" {
			return nil, fmt.Errorf("render bwrap argv: unknown capability number %d in Caps.Keep", c)
		}
		r.add("--cap-add", name)
	}
	if err := r.status(&p.Status); err != nil {
		return nil, err
	}

	for i := split; i < len(p.Mounts); i++ {
		if err := r.op(i, &p.Mounts[i]); err != nil {
			return nil, err
		}
	}
	// --lock-file is a queued setup op that opens a sandbox path, so it
	// must come after every op that could create that path.
	for _, lf := range p.Status.LockFiles {
		if err := checkArg("lock file", lf); err != nil {
			return nil, err
		}
		r.add("--lock-file", lf)
	}
	if p.Chdir != "" {
		if err := checkArg("chdir", p.Chdir); err != nil {
			return nil, err
		}
		r.add("--chdir", p.Chdir)
	}
	if p.Argv0 != "" {
		if err := checkArg("argv0", p.Argv0); err != nil {
			return nil, err
		}
		r.add("--argv0", p.Argv0)
	}
	r.add("--")
	for _, a := range cmd {
		if strings.IndexByte(a, 0) >= 0 {
			return nil, fmt.Errorf("render bwrap argv: command argument %q contains a NUL byte", a)
		}
	}
	r.add(cmd...)
	return r.args, nil
}

type renderer struct {
	args   []string
	dataFD func([]byte) (int, error)
}

func (r *renderer) add(a ...string) { r.args = append(r.args, a...) }

// checkArg rejects values that cannot travel in argv.
func checkArg(what, v string) error {
	if strings.IndexByte(v, 0) >= 0 {
		return fmt.Errorf("render bwrap argv: %s %q contains a NUL byte", what, v)
	}
	return nil
}

func (r *renderer) status(s *StatusSpec) error {
	fds := []struct {
		flag string
		fd   *int
	}{
		{"--info-fd", s.InfoFD},
		{"--json-status-fd", s.JSONStatusFD},
		{"--block-fd", s.BlockFD},
		{"--userns-block-fd", s.UsernsBlockFD},
		{"--sync-fd", s.SyncFD},
	}
	for _, f := range fds {
		if f.fd == nil {
			continue
		}
		if *f.fd < 0 {
			return fmt.Errorf("render bwrap argv: %s: invalid fd %d", f.flag, *f.fd)
		}
		r.add(f.flag, strconv.Itoa(*f.fd))
	}
	return nil
}

// perms renders the --perms modifier. bwrap only accepts it before an op
// that creates a file or directory; anywhere else it is a hard error
// ("--perms must be followed by an option that creates a file"), so a
// Plan carrying Perms on such an op is rejected here rather than turned
// into an argv bwrap would refuse.
func (r *renderer) perms(i int, op *MountOp, allowed bool) error {
	if op.Perms == nil {
		return nil
	}
	if !allowed {
		return fmt.Errorf("render bwrap argv: mount %d (%s %s): bwrap accepts --perms only for tmpfs, dir, file, bind-data and ro-bind-data", i, op.Kind, op.Dest)
	}
	if *op.Perms > 0o7777 {
		return fmt.Errorf("render bwrap argv: mount %d (%s %s): mode %#o is larger than 07777", i, op.Kind, op.Dest, *op.Perms)
	}
	// Three digits at least, as the helper writes them ("000", "111").
	r.add("--perms", fmt.Sprintf("%03o", *op.Perms))
	return nil
}

func (r *renderer) fd(i int, op *MountOp) (string, error) {
	if r.dataFD == nil {
		return "", fmt.Errorf("render bwrap argv: mount %d (%s %s) needs a data fd but no dataFD function was given", i, op.Kind, op.Dest)
	}
	fd, err := r.dataFD(op.Data)
	if err != nil {
		return "", fmt.Errorf("render bwrap argv: mount %d (%s %s): get data fd: %w", i, op.Kind, op.Dest, err)
	}
	if fd < 0 {
		return "", fmt.Errorf("render bwrap argv: mount %d (%s %s): dataFD returned invalid fd %d", i, op.Kind, op.Dest, fd)
	}
	return strconv.Itoa(fd), nil
}

func (r *renderer) op(i int, op *MountOp) error {
	if op.Dest == "" {
		return fmt.Errorf("render bwrap argv: mount %d (%s): empty destination", i, op.Kind)
	}
	if err := checkArg("destination", op.Dest); err != nil {
		return err
	}
	if err := checkArg("source", op.Source); err != nil {
		return err
	}
	switch op.Kind {
	case OpBind, OpROBind, OpDevBind:
	default:
		if op.Try {
			return fmt.Errorf("render bwrap argv: mount %d (%s %s): only bind, ro-bind and dev-bind have a -try variant", i, op.Kind, op.Dest)
		}
	}
	if op.Size != 0 && op.Kind != OpTmpfs {
		return fmt.Errorf("render bwrap argv: mount %d (%s %s): a size limit applies to tmpfs only", i, op.Kind, op.Dest)
	}
	if len(op.Data) != 0 {
		switch op.Kind {
		case OpFile, OpBindData, OpROBindData:
		default:
			return fmt.Errorf("render bwrap argv: mount %d (%s %s): only file, bind-data and ro-bind-data carry data", i, op.Kind, op.Dest)
		}
	}
	if op.Fallback != ProcFatal && op.Kind != OpProc {
		return fmt.Errorf("render bwrap argv: mount %d (%s %s): a proc fallback applies to proc only", i, op.Kind, op.Dest)
	}
	needSrc := op.Kind == OpBind || op.Kind == OpROBind || op.Kind == OpDevBind || op.Kind == OpSymlink
	if needSrc && op.Source == "" {
		return fmt.Errorf("render bwrap argv: mount %d (%s %s): empty source", i, op.Kind, op.Dest)
	}
	if !needSrc && op.Source != "" {
		return fmt.Errorf("render bwrap argv: mount %d (%s %s): this op takes no source (got %q)", i, op.Kind, op.Dest, op.Source)
	}

	if op.FD != nil && op.Kind != OpBind && op.Kind != OpROBind {
		return fmt.Errorf("render bwrap argv: mount %d (%s %s): only bind and ro-bind can bind an fd", i, op.Kind, op.Dest)
	}

	switch op.Kind {
	case OpBind, OpROBind, OpDevBind:
		if err := r.perms(i, op, false); err != nil {
			return err
		}
		if op.FD != nil {
			// bwrap >= 0.10 binds the fd itself and checks st_dev/st_ino
			// after mounting, which closes the path-swap race a
			// "/proc/self/fd/N" source would reopen. The engine must hand
			// bwrap the fd at the same number.
			if op.Try {
				return fmt.Errorf("render bwrap argv: mount %d (%s %s): an fd bind has no -try variant", i, op.Kind, op.Dest)
			}
			if *op.FD < 0 {
				return fmt.Errorf("render bwrap argv: mount %d (%s %s): invalid fd %d", i, op.Kind, op.Dest, *op.FD)
			}
			r.add("--"+string(op.Kind)+"-fd", strconv.Itoa(*op.FD), op.Dest)
			return nil
		}
		flag := "--" + string(op.Kind)
		if op.Try {
			flag += "-try"
		}
		r.add(flag, op.Source, op.Dest)
	case OpTmpfs:
		if err := r.perms(i, op, true); err != nil {
			return err
		}
		if op.Size != 0 {
			r.add("--size", strconv.FormatUint(op.Size, 10))
		}
		r.add("--tmpfs", op.Dest)
	case OpDir:
		if err := r.perms(i, op, true); err != nil {
			return err
		}
		r.add("--dir", op.Dest)
	case OpFile, OpBindData, OpROBindData:
		if err := r.perms(i, op, true); err != nil {
			return err
		}
		fd, err := r.fd(i, op)
		if err != nil {
			return err
		}
		r.add("--"+string(op.Kind), fd, op.Dest)
	case OpDev, OpProc, OpMqueue, OpRemountRO:
		if err := r.perms(i, op, false); err != nil {
			return err
		}
		r.add("--"+string(op.Kind), op.Dest)
	case OpSymlink:
		if err := r.perms(i, op, false); err != nil {
			return err
		}
		r.add("--symlink", op.Source, op.Dest)
	case OpChmod:
		if op.Perms == nil {
			return fmt.Errorf("render bwrap argv: mount %d (chmod %s): no mode given", i, op.Dest)
		}
		if *op.Perms > 0o7777 {
			return fmt.Errorf("render bwrap argv: mount %d (chmod %s): mode %#o is larger than 07777", i, op.Dest, *op.Perms)
		}
		r.add("--chmod", fmt.Sprintf("%03o", *op.Perms), op.Dest)
	default:
		return fmt.Errorf("render bwrap argv: mount %d (%s %s): unknown op kind", i, op.Kind, op.Dest)
	}
	return nil
}

// Package bwrapcli is zbox's bubblewrap command-line front-end: it turns a
// bwrap argv into a policy.Plan with bwrap v0.11.1's semantics (spec:
// bubblewrap.md §1, §2, Appendix A).
//
// Parsing is pure apart from the questions bwrap itself asks of the host
// while parsing (reading --args/--file/--bind-data/--seccomp fds, the
// environment, the caller's ids, the --unshare-*-try probes, the caller's
// effective capabilities); those go through Env so that tests can inject
// them. The Linux implementation is OSEnv.
//
// Every failure is an *Error. bwrap prints "bwrap: <msg>" (or
// "<3>bwrap: <msg>" once --level-prefix has been parsed) and exits 1;
// Error.Stderr renders exactly that.
package bwrapcli

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"syscall"
	"unicode"
	"unicode/utf8"

	"github.com/zbox-sandbox/zbox/policy"
)

// maxArgs is bwrap's cap on the number of parsed words: the real argv
// (COMMAND and its arguments included) plus every word expanded from
// --args. bwrap adds it as hardening against argument-list overflows.
const maxArgs = 9000

// maxTmpfsBytes is bwrap's MAX_TMPFS_BYTES (SIZE_MAX >> 1 on a 64-bit
// build, which is what zbox targets on amd64 and arm64).
const maxTmpfsBytes = math.MaxInt64

// lastCap is the highest capability number zbox knows (CAP_CHECKPOINT_RESTORE
// on Linux ≥ 5.9; golang.org/x/sys/unix.CAP_LAST_CAP). parse.go is pure, so
// the constant is spelled out here instead of importing unix.
const lastCap = 40

// Options is the outcome of a successful Parse.
type Options struct {
	// Plan is the sandbox to build. It is nil when Help or Version is set.
	//
	// The front-end fills it as follows:
	//   - Mounts: bwrap's setup ops in command-line order. Ops that take a
	//     mode (tmpfs, dir, file, bind-data, ro-bind-data, chmod) always
	//     carry Perms, defaulted the way bwrap does (0755, 0755, 0666,
	//     0600, 0600), because bwrap also derives the mode of the missing
	//     parents of DEST from it. Relative bind sources are joined to the
	//     caller's cwd without cleaning (realpath happens at setup time).
	//     --bind-fd/--ro-bind-fd become bind/ro-bind ops with
	//     Source "/proc/self/fd/N" and FD set (see policy.MountOp.FD).
	//   - Env: the environment after every --setenv/--unsetenv/--clearenv,
	//     applied in order to Env.Environ(); never nil (empty after a bare
	//     --clearenv). PWD is not added here: bwrap sets it at exec time.
	//   - Namespaces: after bwrap's post-parse rules (user namespace
	//     implied for uid ≠ 0, -try probes resolved); Mount is always set.
	//   - Caps.Keep: see CapsExplicit.
	//   - Filter: Enabled is false (bwrap installs no filter of its own);
	//     Programs holds the raw --seccomp / --add-seccomp-fd programs.
	//   - Network.Mode: isolated with --unshare-net, else full.
	Plan *policy.Plan

	// LevelPrefix is set when --level-prefix was given: diagnostics the
	// engine prints from now on start with "<3>" (errors) or "<4>"
	// (warnings).
	LevelPrefix bool
	// Help: print Usage(argv0) to stdout and exit 0.
	Help bool
	// Version: print VersionString() to stdout and exit 0.
	Version bool

	// Warnings are the lines bwrap would have printed to stderr while
	// parsing ("bwrap: Only the last --chdir option will take effect",
	// with "<4>" in front once --level-prefix was seen), without the
	// trailing newline. Print them before anything else, also when Help
	// or Version is set.
	Warnings []string

	// CapsExplicit is set when --cap-add or --cap-drop was used. When it
	// is false and the caller's uid is 0, bwrap never calls capset at all:
	// the target keeps the caller's effective set (Plan.Caps.Keep holds
	// it), inside the new user namespace if there is one. When it is false
	// and the uid is not 0, Plan.Caps.Keep is empty.
	CapsExplicit bool

	// NotASecurityBoundary records bwrap 0.12's --not-a-security-boundary:
	// failures to remount submounts of a recursive bind may be downgraded
	// to warnings. An engine may ignore it (failing closed is always
	// allowed).
	NotASecurityBoundary bool
}

// Env is what Parse needs from the host. OSEnv is the real one.
type Env interface {
	// Getuid and Getgid return the caller's real ids.
	Getuid() int
	Getgid() int
	// ReadFD reads fd to EOF and then closes it (bwrap closes every fd
	// whose content it consumes: --args, --add-seccomp-fd, --seccomp,
	// --file, --bind-data, --ro-bind-data).
	ReadFD(fd int) ([]byte, error)
	// Environ returns the caller's environment ("KEY=value" entries).
	Environ() []string
	// Getwd returns the caller's working directory; relative bind
	// sources are resolved against it.
	Getwd() (string, error)

	// UserNSEnabled answers bwrap's --unshare-user-try probe:
	// /proc/self/ns/user exists, /sys/module/user_namespace/parameters/enable
	// does not start with 'N' and /proc/sys/user/max_user_namespaces is
	// not "0\n".
	UserNSEnabled() bool
	// CgroupNS stats /proc/self/ns/cgroup: nil when the kernel has cgroup
	// namespaces, an error satisfying errors.Is(err, fs.ErrNotExist) when
	// it does not, any other error when the stat failed otherwise.
	CgroupNS() error
	// EffectiveCaps returns the caller's effective capability set as a bit
	// mask. It is only asked when the uid is 0: bwrap's root caller starts
	// from the set it already has.
	EffectiveCaps() (uint64, error)
}

// Error is a bwrap argument or validation error: the caller prints it and
// exits 1.
type Error struct {
	// Msg is bwrap's message, without the "bwrap: " prefix.
	Msg string
	// Usage: bwrap prints the usage text to stderr instead of a message
	// (no arguments at all, or no COMMAND).
	Usage bool
	// LevelPrefix: --level-prefix had been parsed when the error occurred,
	// so the line starts with "<3>".
	LevelPrefix bool
	// Warnings bwrap printed before failing; same format as
	// Options.Warnings.
	Warnings []string
}

// Error returns the message without the "bwrap: " prefix.
func (e *Error) Error() string { return e.Msg }

// Stderr renders exactly what bwrap writes to stderr for this error,
// warnings excluded: the usage text for a usage error, else
// "bwrap: <msg>\n" with "<3>" in front under --level-prefix.
func (e *Error) Stderr(argv0 string) string {
	if e.Usage {
		return Usage(argv0)
	}
	return logLine(e.LevelPrefix, "<3>", e.Msg) + "\n"
}

func logLine(levelPrefix bool, level, msg string) string {
	if levelPrefix {
		return level + "bwrap: " + msg
	}
	return "bwrap: " + msg
}

// unsupported are bwrap options zbox deliberately does not implement
// (spec §7, tier 3). They fail loudly instead of being ignored, because
// every one of them changes what the sandbox isolates.
var unsupported = map[string]string{
	"--userns":      "joining an existing user namespace",
	"--userns2":     "switching to a second user namespace after setup",
	"--pidns":       "joining an existing pid namespace",
	"--overlay-src": "overlay mounts",
	"--overlay":     "overlay mounts",
	"--tmp-overlay": "overlay mounts",
	"--ro-overlay":  "overlay mounts",
	"--overlay-opt": "overlay mounts",
}

// parser is bwrap's parse_args_recurse state.
type parser struct {
	env      Env
	realUID  int
	realGID  int
	plan     *policy.Plan
	opts     *Options
	environ  []string
	warnings []string

	levelPrefix bool
	done        bool // --help or --version seen
	total       int  // words parsed so far, for maxArgs

	nextPerms int    // pending --perms, -1 when unset
	nextSize  uint64 // pending --size, 0 when unset

	unshareUser, unshareUserTry     bool
	unshareCgroup, unshareCgroupTry bool
	uidSet, gidSet, hostnameSet     bool
	chdirSet, argv0Set              bool
	seccompFD                       int // --seccomp, read after validation; -1 when unset
	caps                            uint64

	cwd     string
	cwdErr  error
	cwdDone bool
}

// Parse turns bwrap's argv (without argv[0]) into Options. The returned
// error is always an *Error.
func Parse(args []string, env Env) (*Options, error) {
	// bwrap answers a lone --version before any privilege work, so that it
	// works in build sandboxes.
	if len(args) == 1 && args[0] == "--version" {
		return &Options{Version: true}, nil
	}
	p := &parser{
		env:       env,
		realUID:   env.Getuid(),
		realGID:   env.Getgid(),
		opts:      &Options{},
		nextPerms: -1,
		seccompFD: -1,
	}
	p.plan = &policy.Plan{
		Namespaces: policy.Namespaces{Mount: true}, // bwrap always clones with CLONE_NEWNS
		Network:    policy.NetworkSpec{Mode: policy.NetFull},
		Filter:     policy.FilterSpec{Enabled: false, Network: policy.SeccompNone},
	}
	p.environ = append([]string{}, env.Environ()...)

	// A uid-0 caller starts from the capabilities it already has; every
	// other caller from none (bwrap's acquire_privs, before parsing so
	// that --cap-drop can remove from it).
	if p.realUID == 0 {
		eff, err := env.EffectiveCaps()
		if err != nil {
			return nil, p.fail("capget failed: %s", strerror(err))
		}
		p.caps = eff
	}
	if len(args) == 0 {
		return nil, p.usage()
	}

	p.total = len(args)
	command, err := p.parseArgs(args, false)
	if err != nil {
		return nil, err
	}
	p.opts.LevelPrefix = p.levelPrefix
	p.opts.Warnings = p.warnings
	if p.done {
		return p.opts, nil
	}
	if err := p.validate(command); err != nil {
		return nil, err
	}
	p.plan.Command = append([]string{}, command...)
	p.plan.Env = p.environ
	if p.plan.Namespaces.Net {
		p.plan.Network.Mode = policy.NetIsolated
	}
	p.plan.Caps.Keep = capList(p.caps)
	p.opts.Plan = p.plan
	return p.opts, nil
}

// fail builds an *Error carrying the warnings printed so far.
func (p *parser) fail(format string, args ...any) *Error {
	return &Error{
		Msg:         fmt.Sprintf(format, args...),
		LevelPrefix: p.levelPrefix,
		Warnings:    p.warnings,
	}
}

func (p *parser) usage() *Error {
	return &Error{Msg: "no COMMAND given", Usage: true, LevelPrefix: p.levelPrefix, Warnings: p.warnings}
}

func (p *parser) warn(format string, args ...any) {
	p.warnings = append(p.warnings, logLine(p.levelPrefix, "<4>", fmt.Sprintf(format, args...)))
}

func (p *parser) warnOnlyLast(name string) {
	p.warn("Only the last %s option will take effect", name)
}

// parseArgs is bwrap's parse_args_recurse. It returns the words after the
// options (COMMAND and its arguments): everything after the first word
// that does not start with '-', or after "--".
func (p *parser) parseArgs(args []string, inFile bool) ([]string, error) {
	if p.total > maxArgs {
		return nil, p.fail("Exceeded maximum number of arguments %d", maxArgs)
	}
	for len(args) > 0 {
		arg := args[0]
		// need checks that the option has n arguments; msg is bwrap's
		// wording for this option, which differs between options.
		need := func(n int, msg string) error {
			if len(args) < n+1 {
				return p.fail("%s", msg)
			}
			return nil
		}
		consumed := 1
		var err error

		switch arg {
		case "--help":
			p.opts.Help = true
			p.done = true
			return nil, nil
		case "--version":
			p.opts.Version = true
			p.done = true
			return nil, nil

		case "--args":
			if inFile {
				return nil, p.fail("--args not supported in arguments file")
			}
			if err = need(1, "--args takes an argument"); err != nil {
				return nil, err
			}
			if err = p.expandArgs(args[1]); err != nil {
				return nil, err
			}
			if p.done {
				return nil, nil
			}
			consumed = 2

		case "--argv0":
			if err = need(1, "--argv0 takes one argument"); err != nil {
				return nil, err
			}
			if p.argv0Set {
				return nil, p.fail("--argv0 used multiple times")
			}
			p.argv0Set = true
			p.plan.Argv0 = args[1]
			consumed = 2

		case "--level-prefix":
			p.levelPrefix = true

		case "--not-a-security-boundary":
			p.opts.NotASecurityBoundary = true

		case "--unshare-all":
			// The -try forms for user and cgroup, so that --unshare-all
			// works on kernels without them.
			p.unshareUserTry = true
			p.plan.Namespaces.IPC = true
			p.plan.Namespaces.PID = true
			p.plan.Namespaces.UTS = true
			p.unshareCgroupTry = true
			p.plan.Namespaces.Net = true
		case "--unshare-user":
			p.unshareUser = true
		case "--unshare-user-try":
			p.unshareUserTry = true
		case "--unshare-ipc":
			p.plan.Namespaces.IPC = true
		case "--unshare-pid":
			p.plan.Namespaces.PID = true
		case "--unshare-net":
			p.plan.Namespaces.Net = true
		case "--unshare-uts":
			p.plan.Namespaces.UTS = true
		case "--unshare-cgroup":
			p.unshareCgroup = true
		case "--unshare-cgroup-try":
			p.unshareCgroupTry = true
		case "--share-net":
			// Only undoes an earlier --unshare-net/--unshare-all.
			p.plan.Namespaces.Net = false

		case "--chdir":
			if err = need(1, "--chdir takes one argument"); err != nil {
				return nil, err
			}
			if p.chdirSet {
				p.warnOnlyLast("--chdir")
			}
			p.chdirSet = true
			p.plan.Chdir = args[1]
			consumed = 2

		case "--disable-userns":
			p.plan.DisableUserns = true
		case "--assert-userns-disabled":
			p.plan.AssertUsernsDisabled = true

		case "--remount-ro":
			if err = need(1, "--remount-ro takes one argument"); err != nil {
				return nil, err
			}
			p.addOp(policy.MountOp{Kind: policy.OpRemountRO, Dest: args[1]})
			consumed = 2

		case "--bind", "--bind-try", "--ro-bind", "--ro-bind-try", "--dev-bind", "--dev-bind-try":
			if err = need(2, arg+" takes two arguments"); err != nil {
				return nil, err
			}
			kind := policy.OpBind
			switch strings.TrimSuffix(arg, "-try") {
			case "--ro-bind":
				kind = policy.OpROBind
			case "--dev-bind":
				kind = policy.OpDevBind
			}
			p.addOp(policy.MountOp{
				Kind:   kind,
				Source: p.absSource(args[1]),
				Dest:   args[2],
				Try:    strings.HasSuffix(arg, "-try"),
			})
			consumed = 3

		case "--bind-fd", "--ro-bind-fd":
			// Both variants use the --bind-fd wording in bwrap.
			if err = need(2, "--bind-fd takes two arguments"); err != nil {
				return nil, err
			}
			fd, err := p.parseFD(args[1])
			if err != nil {
				return nil, err
			}
			kind := policy.OpBind
			if arg == "--ro-bind-fd" {
				kind = policy.OpROBind
			}
			// bwrap binds the fd's magic link and then checks that the
			// mount has the fd's st_dev/st_ino ("Race condition binding
			// dirfd"); the engine needs the fd for that check.
			p.addOp(policy.MountOp{
				Kind:   kind,
				Source: "/proc/self/fd/" + strconv.Itoa(fd),
				Dest:   args[2],
				FD:     &fd,
			})
			consumed = 3

		case "--proc":
			if err = need(1, "--proc takes an argument"); err != nil {
				return nil, err
			}
			p.addOp(policy.MountOp{Kind: policy.OpProc, Dest: args[1], Fallback: policy.ProcFatal})
			consumed = 2

		case "--exec-label", "--file-label":
			if err = need(1, arg+" takes an argument"); err != nil {
				return nil, err
			}
			// What bwrap prints on a host without SELinux; zbox has no
			// SELinux support at all.
			return nil, p.fail("labeling not supported on this system")

		case "--dev":
			if err = need(1, "--dev takes an argument"); err != nil {
				return nil, err
			}
			p.addOp(policy.MountOp{Kind: policy.OpDev, Dest: args[1]})
			consumed = 2

		case "--tmpfs":
			if err = need(1, "--tmpfs takes an argument"); err != nil {
				return nil, err
			}
			p.addOp(policy.MountOp{
				Kind:  policy.OpTmpfs,
				Dest:  args[1],
				Perms: policy.Uint32(p.takePerms(0o755)),
				Size:  p.takeSize(),
			})
			consumed = 2

		case "--mqueue":
			if err = need(1, "--mqueue takes an argument"); err != nil {
				return nil, err
			}
			p.addOp(policy.MountOp{Kind: policy.OpMqueue, Dest: args[1]})
			consumed = 2

		case "--dir":
			if err = need(1, "--dir takes an argument"); err != nil {
				return nil, err
			}
			p.addOp(policy.MountOp{Kind: policy.OpDir, Dest: args[1], Perms: policy.Uint32(p.takePerms(0o755))})
			consumed = 2

		case "--file", "--bind-data", "--ro-bind-data":
			if err = need(2, arg+" takes two arguments"); err != nil {
				return nil, err
			}
			fd, err := p.parseFD(args[1])
			if err != nil {
				return nil, err
			}
			kind, def := policy.OpFile, uint32(0o666)
			switch arg {
			case "--bind-data":
				// bwrap's temp file comes from mkstemp(), hence 0600.
				kind, def = policy.OpBindData, 0o600
			case "--ro-bind-data":
				kind, def = policy.OpROBindData, 0o600
			}
			op := policy.MountOp{Kind: kind, Dest: args[2], Perms: policy.Uint32(p.takePerms(def))}
			// bwrap copies the fd at setup time; reading it now makes the
			// plan self-contained (it travels to the sandbox's pid 1).
			data, rerr := p.env.ReadFD(fd)
			if rerr != nil {
				return nil, p.fail("Can't write data to file %s: %s", args[2], strerror(rerr))
			}
			op.Data = data
			p.addOp(op)
			consumed = 3

		case "--symlink":
			if err = need(2, "--symlink takes two arguments"); err != nil {
				return nil, err
			}
			// The target is taken literally, never made absolute.
			p.addOp(policy.MountOp{Kind: policy.OpSymlink, Source: args[1], Dest: args[2]})
			consumed = 3

		case "--lock-file":
			if err = need(1, "--lock-file takes an argument"); err != nil {
				return nil, err
			}
			p.plan.Status.LockFiles = append(p.plan.Status.LockFiles, args[1])
			consumed = 2

		case "--sync-fd", "--block-fd", "--userns-block-fd", "--info-fd", "--json-status-fd":
			if err = need(1, arg+" takes an argument"); err != nil {
				return nil, err
			}
			slot := p.statusSlot(arg)
			if *slot != nil {
				p.warnOnlyLast(arg)
			}
			fd, err := p.parseFD(args[1])
			if err != nil {
				return nil, err
			}
			*slot = &fd
			consumed = 2

		case "--seccomp":
			if err = need(1, "--seccomp takes an argument"); err != nil {
				return nil, err
			}
			if len(p.plan.Filter.Programs) > 0 {
				return nil, p.fail("--seccomp cannot be combined with --add-seccomp-fd")
			}
			if p.seccompFD != -1 {
				p.warnOnlyLast("--seccomp")
			}
			fd, err := p.parseFD(args[1])
			if err != nil {
				return nil, err
			}
			// Read after validation, like bwrap, which reads it last
			// (after dropping privileges).
			p.seccompFD = fd
			consumed = 2

		case "--add-seccomp-fd":
			if err = need(1, "--add-seccomp-fd takes an argument"); err != nil {
				return nil, err
			}
			if p.seccompFD != -1 {
				return nil, p.fail("--add-seccomp-fd cannot be combined with --seccomp")
			}
			fd, err := p.parseFD(args[1])
			if err != nil {
				return nil, err
			}
			// Read (and closed) immediately, in order: passing the same fd
			// twice fails on the second read, as in bwrap.
			prog, err := p.readSeccomp(fd)
			if err != nil {
				return nil, err
			}
			p.plan.Filter.Programs = append(p.plan.Filter.Programs, prog)
			consumed = 2

		case "--clearenv":
			p.environ = []string{}
		case "--setenv":
			if err = need(2, "--setenv takes two arguments"); err != nil {
				return nil, err
			}
			if !validEnvName(args[1]) {
				return nil, p.fail("setenv failed")
			}
			p.environ = setenv(p.environ, args[1], args[2])
			consumed = 3
		case "--unsetenv":
			if err = need(1, "--unsetenv takes an argument"); err != nil {
				return nil, err
			}
			if !validEnvName(args[1]) {
				return nil, p.fail("unsetenv failed")
			}
			p.environ = unsetenv(p.environ, args[1])
			consumed = 2

		case "--uid", "--gid":
			if err = need(1, arg+" takes an argument"); err != nil {
				return nil, err
			}
			slot, set, what := &p.plan.UID, &p.uidSet, "uid"
			if arg == "--gid" {
				slot, set, what = &p.plan.GID, &p.gidSet, "gid"
			}
			if *set {
				p.warnOnlyLast(arg)
			}
			id, ok := parseCInt(args[1])
			if !ok {
				return nil, p.fail("Invalid %s: %s", what, args[1])
			}
			*slot, *set = &id, true
			consumed = 2

		case "--hostname":
			if err = need(1, "--hostname takes an argument"); err != nil {
				return nil, err
			}
			if p.hostnameSet {
				p.warnOnlyLast("--hostname")
			}
			// bwrap queues a sethostname op per use; only the last one is
			// visible in the end, so the plan keeps the last value.
			p.hostnameSet = true
			p.plan.Hostname = args[1]
			consumed = 2

		case "--new-session":
			p.plan.NewSession = true
		case "--die-with-parent":
			p.plan.DieWithParent = true
		case "--as-pid-1":
			p.plan.AsPID1 = true

		case "--cap-add", "--cap-drop":
			if err = need(1, arg+" takes an argument"); err != nil {
				return nil, err
			}
			p.opts.CapsExplicit = true
			var mask uint64
			if strings.EqualFold(args[1], "ALL") {
				mask = math.MaxUint64
			} else {
				c, ok := capFromName(args[1])
				if !ok {
					return nil, p.fail("unknown cap: %s", args[1])
				}
				mask = 1 << uint(c)
			}
			if arg == "--cap-add" {
				p.caps |= mask
			} else {
				p.caps &^= mask
			}
			consumed = 2

		case "--perms":
			if err = need(1, "--perms takes an argument"); err != nil {
				return nil, err
			}
			if p.nextPerms != -1 {
				return nil, p.fail("--perms given twice for the same action")
			}
			mode, ok := parseOctalMode(args[1])
			if !ok {
				return nil, p.fail("--perms takes an octal argument <= 07777")
			}
			p.nextPerms = int(mode)
			consumed = 2

		case "--size":
			if err = need(1, "--size takes an argument"); err != nil {
				return nil, err
			}
			if p.nextSize != 0 {
				return nil, p.fail("--size given twice for the same action")
			}
			size, ok := parseSize(args[1])
			if !ok {
				return nil, p.fail("--size takes a non-zero number of bytes")
			}
			if size > maxTmpfsBytes {
				return nil, p.fail("--size (for tmpfs) is limited to %d", uint64(maxTmpfsBytes))
			}
			p.nextSize = size
			consumed = 2

		case "--chmod":
			if err = need(2, "--chmod takes two arguments"); err != nil {
				return nil, err
			}
			mode, ok := parseOctalMode(args[1])
			if !ok {
				return nil, p.fail("--chmod takes an octal argument <= 07777")
			}
			p.addOp(policy.MountOp{Kind: policy.OpChmod, Dest: args[2], Perms: policy.Uint32(mode)})
			consumed = 3

		case "--":
			return args[1:], nil

		default:
			if what, ok := unsupported[arg]; ok {
				return nil, p.fail("%s is not supported by zbox (%s)", arg, what)
			}
			if strings.HasPrefix(arg, "--debug-opt=") {
				return nil, p.fail("%s is not supported by zbox", arg)
			}
			if strings.HasPrefix(arg, "-") {
				return nil, p.fail("Unknown option %s", arg)
			}
			return args, nil
		}

		// bwrap checks after every option (but not when it stops at
		// COMMAND or "--", hence a trailing "--perms X" before COMMAND is
		// silently ignored) that a pending modifier was consumed.
		if arg != "--perms" && arg != "--size" {
			if p.nextPerms >= 0 {
				return nil, p.fail("--perms must be followed by an option that creates a file")
			}
			if p.nextSize != 0 {
				return nil, p.fail("--size must be followed by --tmpfs")
			}
		}
		args = args[consumed:]
	}
	return args, nil
}

// expandArgs reads fd, splits it on NUL bytes and parses the words as if
// they were inserted at this point. A non-option word or "--" in the file
// ends the file's parsing; the rest of the file is ignored and COMMAND
// comes from the real argv.
func (p *parser) expandArgs(fdArg string) error {
	fd, err := p.parseFD(fdArg)
	if err != nil {
		return err
	}
	data, rerr := p.env.ReadFD(fd)
	if rerr != nil {
		return p.fail("Can't read --args data: %s", strerror(rerr))
	}
	var words []string
	for len(data) > 0 {
		p.total++
		if p.total > maxArgs {
			return p.fail("Exceeded maximum number of arguments %d", maxArgs)
		}
		// A final word without a terminating NUL still counts.
		i := indexNUL(data)
		if i < 0 {
			words = append(words, string(data))
			break
		}
		words = append(words, string(data[:i]))
		data = data[i+1:]
	}
	_, err = p.parseArgs(words, true)
	return err
}

func indexNUL(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return -1
}

// validate applies bwrap's post-parse checks and rules, in bwrap's order
// (spec §1.3). Nothing here touches namespaces, so bad arguments never
// leave partial state behind.
func (p *parser) validate(command []string) error {
	st := &p.plan.Status
	if st.UsernsBlockFD != nil && !p.unshareUser {
		return p.fail("--userns-block-fd requires --unshare-user")
	}
	if st.UsernsBlockFD != nil && st.InfoFD == nil {
		return p.fail("--userns-block-fd requires --info-fd")
	}
	if p.plan.DisableUserns && !p.unshareUser {
		return p.fail("--disable-userns requires --unshare-user")
	}
	if p.plan.DisableUserns && st.UsernsBlockFD != nil {
		// The double space is bwrap's.
		return p.fail("--disable-userns is not compatible with  --userns-block-fd")
	}

	// An unprivileged caller can only get anywhere through a user
	// namespace, so bwrap implies it (it does not for uid 0, which is why
	// Codex passes --unshare-user explicitly).
	if p.realUID != 0 {
		p.unshareUser = true
	}
	if p.unshareUserTry && !p.unshareUser && p.env.UserNSEnabled() {
		p.unshareUser = true
	}
	p.plan.Namespaces.User = p.unshareUser

	if len(command) == 0 {
		return p.usage()
	}

	if p.uidSet && *p.plan.UID != p.realUID && !p.unshareUser {
		return p.fail("Specifying --uid requires --unshare-user or --userns")
	}
	if p.gidSet && *p.plan.GID != p.realGID && !p.unshareUser {
		return p.fail("Specifying --gid requires --unshare-user or --userns")
	}
	if p.hostnameSet && !p.plan.Namespaces.UTS {
		return p.fail("Specifying --hostname requires --unshare-uts")
	}
	if p.plan.AsPID1 && !p.plan.Namespaces.PID {
		return p.fail("Specifying --as-pid-1 requires --unshare-pid")
	}
	if p.plan.AsPID1 && len(st.LockFiles) > 0 {
		return p.fail("Specifying --as-pid-1 and --lock-file is not permitted")
	}

	if p.unshareCgroup {
		if err := p.env.CgroupNS(); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return p.fail("Cannot create new cgroup namespace because the kernel does not support it")
			}
			return p.fail("stat on /proc/self/ns/cgroup failed: %s", strerror(err))
		}
	}
	if p.unshareCgroupTry && !p.unshareCgroup {
		p.unshareCgroup = p.env.CgroupNS() == nil
	}
	p.plan.Namespaces.Cgroup = p.unshareCgroup

	// Empty values the plan cannot express, because "" means "not given"
	// there. They are checked last so that every bwrap error that would
	// come first still does.
	if p.chdirSet && p.plan.Chdir == "" {
		// What bwrap prints when chdir("") fails after setup.
		return p.fail("Can't chdir to : No such file or directory")
	}
	if p.hostnameSet && p.plan.Hostname == "" {
		// bwrap would set an empty hostname; zbox would silently keep the
		// inherited one, so refuse instead.
		return p.fail("--hostname with an empty name is not supported by zbox")
	}
	if p.argv0Set && p.plan.Argv0 == "" {
		return p.fail("--argv0 with an empty value is not supported by zbox")
	}

	if p.seccompFD != -1 {
		prog, err := p.readSeccomp(p.seccompFD)
		if err != nil {
			return err
		}
		p.plan.Filter.Programs = [][]byte{prog}
	}
	return nil
}

// readSeccomp reads one classic-BPF program (an array of 8-byte struct
// sock_filter) from fd.
func (p *parser) readSeccomp(fd int) ([]byte, error) {
	data, err := p.env.ReadFD(fd)
	if err != nil {
		return nil, p.fail("Can't read seccomp data: %s", strerror(err))
	}
	if len(data)%8 != 0 {
		return nil, p.fail("Invalid seccomp data, must be multiple of 8")
	}
	if data == nil {
		data = []byte{}
	}
	return data, nil
}

func (p *parser) addOp(op policy.MountOp) { p.plan.Mounts = append(p.plan.Mounts, op) }

// takePerms consumes a pending --perms, or returns the op's default.
func (p *parser) takePerms(def uint32) uint32 {
	if p.nextPerms >= 0 {
		m := uint32(p.nextPerms)
		p.nextPerms = -1
		return m
	}
	return def
}

// takeSize consumes a pending --size (0: the kernel's default).
func (p *parser) takeSize() uint64 {
	s := p.nextSize
	p.nextSize = 0
	return s
}

func (p *parser) statusSlot(opt string) **int {
	st := &p.plan.Status
	switch opt {
	case "--sync-fd":
		return &st.SyncFD
	case "--block-fd":
		return &st.BlockFD
	case "--userns-block-fd":
		return &st.UsernsBlockFD
	case "--info-fd":
		return &st.InfoFD
	default: // --json-status-fd
		return &st.JSONStatusFD
	}
}

func (p *parser) parseFD(s string) (int, error) {
	fd, ok := parseCInt(s)
	if !ok {
		return 0, p.fail("Invalid fd: %s", s)
	}
	return fd, nil
}

// absSource makes a relative bind source absolute against the caller's
// cwd, as bwrap's realpath() would see it. The path is not cleaned: ".."
// after a symlink must still be resolved by realpath at setup time, and an
// empty source stays empty (bwrap's realpath("") fails with ENOENT; an
// empty path must not turn into the cwd). If the cwd is unknown the path
// is left relative and fails or is skipped at setup, as in bwrap.
func (p *parser) absSource(src string) string {
	if src == "" || strings.HasPrefix(src, "/") {
		return src
	}
	if !p.cwdDone {
		p.cwd, p.cwdErr = p.env.Getwd()
		p.cwdDone = true
	}
	if p.cwdErr != nil || !strings.HasPrefix(p.cwd, "/") {
		return src
	}
	return strings.TrimSuffix(p.cwd, "/") + "/" + src
}

// validEnvName is glibc's setenv/unsetenv check: EINVAL for an empty name
// or one containing '='.
func validEnvName(name string) bool {
	return name != "" && !strings.Contains(name, "=")
}

// setenv replaces the first NAME= entry in place, or appends one (glibc).
func setenv(env []string, name, value string) []string {
	prefix := name + "="
	for i, kv := range env {
		if strings.HasPrefix(kv, prefix) {
			env[i] = prefix + value
			return env
		}
	}
	return append(env, prefix+value)
}

// unsetenv removes every NAME= entry (glibc).
func unsetenv(env []string, name string) []string {
	prefix := name + "="
	out := env[:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, prefix) {
			out = append(out, kv)
		}
	}
	return out
}

// capList turns a capability mask into the capability numbers the kernel
// knows, ascending.
func capList(mask uint64) []int {
	var out []int
	for mask != 0 {
		c := bits.TrailingZeros64(mask)
		if c > lastCap {
			break
		}
		out = append(out, c)
		mask &^= 1 << uint(c)
	}
	return out
}

// strerror renders err the way glibc's strerror renders an errno (Go's
// texts are glibc's with a lower-case first letter).
func strerror(err error) string {
	var errno syscall.Errno
	msg := err.Error()
	if errors.As(err, &errno) {
		msg = errno.Error()
	}
	r, n := utf8.DecodeRuneInString(msg)
	if n == 0 {
		return msg
	}
	return string(unicode.ToUpper(r)) + msg[n:]
}

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/alecthomas/kong"

	"github.com/zbox-sandbox/zbox/policy"
)

// cli is one invocation of zbox's own command line. The fields are the
// process's environment, replaceable in tests.
type cli struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	host           hostInfo
	// start is when zbox started, for --debug step timings.
	start time.Time
}

// runCLI is zbox's own command line. main has already dispatched the
// sandbox's init (argv[0]) and the bwrap / linux-sandbox front-ends.
func runCLI(args []string) int {
	if len(args) >= 1 && args[0] == "exec-plan" {
		return runExecPlan(args[1:])
	}
	c := &cli{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, host: currentHost(), start: time.Now()}
	return c.main(args)
}

// subcommands are the first words that are not a sandboxed command.
var subcommands = []string{"run", "explain", "doctor", "profile", "version"}

// kongExit carries kong's exit status (after --help) out of Parse.
type kongExit int

const cliDescription = `Run a command in a Linux sandbox.

With no flags the command can read the whole disk, write nothing and has no
network; it runs with no capabilities in its own pid, ipc, uts, mount and
network namespaces. 'zbox [FLAGS] -- CMD' is short for 'zbox run [FLAGS] -- CMD';
see 'zbox run --help' for the flags. Exit status: the command's, 128+N when a
signal N killed it, 124 after --timeout, 1 when zbox itself failed, 2 for a
usage error.`

func (c *cli) parser(root any) (*kong.Kong, error) {
	return kong.New(root,
		kong.Name("zbox"),
		kong.Description(cliDescription),
		kong.Writers(c.stdout, c.stderr),
		kong.Exit(func(code int) { panic(kongExit(code)) }),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true, NoExpandSubcommands: true}),
	)
}

// rawTail returns the command kong collected as the caller wrote it: kong
// replaces invalid UTF-8 in positional arguments with U+FFFD, but a
// command line is bytes (file names in Latin-1 must reach the command
// intact). The command is always the tail of the arguments.
func rawTail(args, cmd []string) []string {
	if len(cmd) == 0 || len(cmd) > len(args) {
		return cmd
	}
	return append([]string(nil), args[len(args)-len(cmd):]...)
}

// parse runs kong, turning its exit (after --help) into a status.
func parse(k *kong.Kong, args []string) (ctx *kong.Context, exit int, err error) {
	exit = -1
	defer func() {
		if r := recover(); r != nil {
			code, ok := r.(kongExit)
			if !ok {
				panic(r)
			}
			exit = int(code)
		}
	}()
	ctx, err = k.Parse(args)
	return ctx, exit, err
}

func (c *cli) main(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(c.stderr, "zbox: no command given (usage: zbox [FLAGS] -- CMD [ARGS...]; see zbox --help)")
		return exitUsage
	}
	switch args[0] {
	case "help":
		args = append(slices.Clone(args[1:]), "--help")
	case "-h", "--help":
	case "--version", "-V":
		args = []string{"version"}
	default:
		if !slices.Contains(subcommands, args[0]) {
			// The default command: zbox [FLAGS] -- CMD.
			args = append([]string{"run"}, args...)
		}
	}
	if args[0] == "run" {
		if f, cmd, ok := fastRunFlags(args); ok {
			return c.runOrExplain(&f, cmd, false, false)
		}
		// The everyday path gets a grammar with the run command alone:
		// kong builds its model by reflection over every command and
		// flag, and that is most of its cost (about 0.6 ms of the 0.7
		// ms it takes with the full grammar) on every sandbox start.
		var only struct {
			Run runCmd `cmd:"" help:"Run a command in a sandbox."`
		}
		k, err := c.parser(&only)
		if err != nil {
			fmt.Fprintf(c.stderr, "zbox: internal error: command-line grammar: %v\n", err)
			return exitSetup
		}
		_, exit, err := parse(k, args)
		if exit >= 0 {
			return exit
		}
		if err != nil {
			return c.usage(err)
		}
		return c.runOrExplain(&only.Run.policyFlags, rawTail(args, only.Run.Command), false, false)
	}
	var root cliRoot
	k, err := c.parser(&root)
	if err != nil {
		fmt.Fprintf(c.stderr, "zbox: internal error: command-line grammar: %v\n", err)
		return exitSetup
	}
	ctx, exit, err := parse(k, args)
	if exit >= 0 {
		return exit
	}
	if err != nil {
		return c.usage(err)
	}
	switch cmd := strings.Fields(ctx.Command()); cmd[0] {
	case "run":
		return c.runOrExplain(&root.Run.policyFlags, rawTail(args, root.Run.Command), false, false)
	case "explain":
		return c.runOrExplain(&root.Explain.policyFlags, rawTail(args, root.Explain.Command), true, root.Explain.JSON)
	case "doctor":
		return c.doctor(root.Doctor.JSON)
	case "version":
		fmt.Fprintln(c.stdout, versionLine())
		return 0
	case "profile":
		if len(cmd) > 1 && cmd[1] == "show" {
			return c.profileShow(root.Profile.Show.Name, root.Profile.Show.Resolved)
		}
		return c.profileList()
	}
	fmt.Fprintf(c.stderr, "zbox: internal error: unhandled command %q\n", ctx.Command())
	return exitSetup
}

// usage prints a usage error as one line and returns exit status 2.
func (c *cli) usage(err error) int {
	msg := strings.TrimSpace(err.Error())
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(c.stderr, "zbox: %s\n", msg)
	} else {
		// A kong parse error: say where help is.
		fmt.Fprintf(c.stderr, "zbox: %s (see zbox run --help)\n", msg)
	}
	return exitUsage
}

// fail reports err with the exit status its kind calls for.
func (c *cli) fail(err error) int {
	var ue *usageError
	if errors.As(err, &ue) {
		return c.usage(err)
	}
	var ee *ExecError
	if errors.As(err, &ee) {
		fmt.Fprintf(c.stderr, "zbox: %s: %s\n", ee.Cmd, ee.Text)
		if ee.Errno == 2 {
			return 127
		}
		return 126
	}
	fmt.Fprintf(c.stderr, "zbox: %v\n", err)
	return exitSetup
}

// optFlags lists the optional-valued flags, for the "/tmp is not a
// command" check.
func (f *policyFlags) bareOptional() []string {
	var out []string
	for _, o := range []struct {
		name string
		v    *optList
	}{{"allow-read", &f.AllowRead}, {"allow-write", &f.AllowWrite}, {"allow-net", &f.AllowNet}, {"allow-env", &f.AllowEnv}} {
		if o.v.Bare > 0 {
			out = append(out, "--"+o.name)
		}
	}
	return out
}

// resolve turns flags and profiles into settings.
func (c *cli) resolve(f *policyFlags) (settings, error) {
	cl, err := cliLayer(f)
	if err != nil {
		return settings{}, err
	}
	var names []string
	for _, v := range f.Profile {
		items, err := cliItems("--profile", v)
		if err != nil {
			return settings{}, err
		}
		for _, it := range items {
			names = append(names, it.Value)
		}
	}
	if len(names) == 0 {
		// The default profile: a user file may shadow it to change what
		// a bare "zbox -- CMD" means.
		names = []string{"default"}
	}
	store := newProfileStore(c.getenv, c.host.Cwd)
	layers, applied, err := profileLayers(store, names)
	if err != nil {
		return settings{}, err
	}
	s, err := resolveSettings(append(layers, cl), c.host)
	if err != nil {
		return settings{}, err
	}
	s.Profiles = applied
	if err := protectProfiles(&s, store.UserDir); err != nil {
		return settings{}, err
	}
	// Profile and policy files given by path (a project's ./zbox.json)
	// decide the next run's policy as much as the user's: read-only
	// inside wherever the sandbox could write them.
	var files []string
	for _, n := range applied {
		if p, ok := store.filePath(n); ok {
			files = append(files, policy.EffectivePath(policy.HostFS, filepath.Clean(p)))
		}
	}
	if s.Policy != "" {
		files = append(files, s.Policy)
	}
	protectFiles(&s, files)
	return s, nil
}

// protectFiles adds each existing file in a writable path to DenyWrite.
func protectFiles(s *settings, files []string) {
	for _, f := range files {
		if st, err := os.Stat(f); err != nil || !st.Mode().IsRegular() {
			continue
		}
		if s.WriteAll || slices.ContainsFunc(s.Write, func(w string) bool { return under(f, w) }) {
			s.DenyWrite = appendNew(s.DenyWrite, f)
		}
	}
}

// protectProfiles keeps zbox's own configuration out of the sandbox's
// reach. A user profile shadows the built-in one of its name, "default"
// included, which is what a bare `zbox -- CMD` uses: a sandbox that could
// write $XDG_CONFIG_HOME/zbox/profiles/default.json would choose the
// next sandbox's policy. So when that directory lies in a writable path,
// it is created (by zbox, as the user; it is zbox's own) and made
// read-only inside, like --deny-write.
//
// Best effort, not a boundary: a sandbox that can write the home
// directory can also write ~/.bashrc, which the next login runs outside
// any sandbox; and where ~/.config is a symlink in a writable directory
// (dotfile managers), the sandbox could re-point it. That case is not
// refused (it would make `--allow-write=$HOME` unusable for those users);
// README, "Protections hold across runs", says so.
func protectProfiles(s *settings, userDir string) error {
	if userDir == "" {
		return nil
	}
	dir := filepath.Dir(userDir) // .../zbox
	writable := s.Write
	if s.WriteAll {
		writable = []string{"/"}
	}
	eff := policy.EffectivePath(policy.HostFS, dir)
	if !slices.ContainsFunc(writable, func(w string) bool { return under(eff, w) }) {
		return nil
	}
	_ = os.MkdirAll(dir, 0o700) // if zbox cannot, the sandbox (same user) cannot either
	s.DenyWrite = appendNew(s.DenyWrite, eff)
	return nil
}

// runOrExplain is zbox run and zbox explain.
func (c *cli) runOrExplain(f *policyFlags, command []string, explain, asJSON bool) int {
	if len(command) > 0 && command[0] == "--" {
		command = command[1:]
	} else if bare := f.bareOptional(); len(bare) > 0 && len(command) > 0 {
		// "--allow-write /tmp -- cmd": a value given with a space belongs
		// to the command, not the flag. A directory cannot be a command,
		// so this is certainly a mistake.
		if st, err := os.Stat(command[0]); err == nil && st.IsDir() {
			return c.usage(usagef("%s %s: %s is a directory, not a command; a value for %s is written with '=' (%s=%s), and the command goes after --",
				bare[0], command[0], command[0], bare[0], bare[0], command[0]))
		}
	}
	s, err := c.resolve(f)
	if err != nil {
		return c.fail(err)
	}
	log := c.logger(s.Debug)
	log.Debug("settings resolved", "profiles", strings.Join(s.Profiles, ","), "took", time.Since(c.start).Round(time.Microsecond))
	t := time.Now()
	spec, err := buildSpec(s, command, c.host)
	if err != nil {
		return c.fail(err)
	}
	log.Debug("plan built", "mounts", len(spec.Plan.Mounts), "network", spec.Plan.Network.Mode, "took", time.Since(t).Round(time.Microsecond))
	for _, n := range spec.Notes {
		log.Debug("note", "msg", n)
	}
	if explain {
		if err := c.explain(spec, asJSON); err != nil {
			return c.fail(err)
		}
		return 0
	}
	return c.runSpec(spec, log)
}

// logger is --debug's: one slog line per setup step on stderr.
func (c *cli) logger(debug bool) *slog.Logger {
	if !debug {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("stage", "zbox")
}

// reportError prints err in zbox's one-line form and returns the exit
// status for it.
func reportError(prog string, err error) int {
	var ee *ExecError
	if errors.As(err, &ee) {
		fmt.Fprintf(os.Stderr, "%s: %s: %s\n", prog, ee.Cmd, ee.Text)
		if ee.Errno == 2 {
			return 127
		}
		return 126
	}
	fmt.Fprintf(os.Stderr, "%s: %v\n", prog, err)
	return exitSetup
}

// runExecPlan runs a plan given as JSON (a file, or - for stdin): zbox
// exec-plan [--debug] FILE. It is the engine's test and debugging entry
// point: e2e tests drive the native engine with plans they build
// themselves, independent of any front-end.
func runExecPlan(args []string) int {
	debug := false
	if len(args) > 0 && args[0] == "--debug" {
		debug = true
		args = args[1:]
	}
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "zbox: usage: zbox exec-plan [--debug] FILE|-")
		return exitUsage
	}
	var data []byte
	var err error
	if args[0] == "-" {
		data, err = io.ReadAll(os.Stdin)
	} else {
		data, err = os.ReadFile(args[0])
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "zbox: read plan: %v\n", err)
		return exitUsage
	}
	var plan policy.Plan
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&plan); err != nil {
		fmt.Fprintf(os.Stderr, "zbox: parse plan %s: %v\n", args[0], err)
		return exitUsage
	}
	var logf func(string, ...any)
	if debug {
		logf = func(f string, a ...any) { fmt.Fprintf(os.Stderr, "zbox: "+f+"\n", a...) }
	}
	res, err := runNative(&plan, nativeOptions{Debug: debug, Logf: logf})
	if err != nil {
		return reportError("zbox", err)
	}
	return res.Status
}

package main

// The kong grammar of zbox's own command line.
//
//	zbox [FLAGS] [--] CMD [ARGS...]     (the same as zbox run ...)
//	zbox run [FLAGS] [--] CMD [ARGS...]
//	zbox explain [--json] [FLAGS] [--] CMD [ARGS...]
//	zbox doctor [--json]
//	zbox profile list | show [--resolved] NAME
//	zbox version
//
// The flags only collect what the user typed: lists stay raw (comma
// splitting, "~", relative paths and profile merging happen in
// cli_settings.go, where errors can name the flag and the profile).

import (
	"strings"

	"github.com/alecthomas/kong"
)

// cliRoot is the top of the grammar. Every command's Run is dispatched
// by cli.run, not by kong's reflection-based Run.
type cliRoot struct {
	Run     runCmd     `cmd:"" help:"Run a command in a sandbox (the default command: 'zbox [FLAGS] -- CMD' is 'zbox run [FLAGS] -- CMD')."`
	Explain explainCmd `cmd:"" help:"Show the resolved policy, the sandbox plan step by step and the equivalent bwrap argv, without running anything."`
	Doctor  doctorCmd  `cmd:"" help:"Check what this host offers (user namespaces, Landlock, seccomp, /proc, cgroups, bwrap) and what each missing piece disables."`
	Profile profileCmd `cmd:"" help:"List or show profiles."`
	Version versionCmd `cmd:"" help:"Print zbox's version."`
}

// policyFlags are shared by run and explain: everything that shapes the
// sandbox. A profile may set any of them (see profile.go).
type policyFlags struct {
	AllowRead  optList  `name:"allow-read" group:"Filesystem" help:"Read only PATHS plus what programs need to run (/usr, /etc, /bin, /lib, ...); '--allow-read=PATHS'. Bare: read everything (the default)."`
	DenyRead   []string `name:"deny-read" sep:"none" group:"Filesystem" placeholder:"PATHS" help:"Hide PATHS (comma list, repeatable)."`
	AllowWrite optList  `name:"allow-write" group:"Filesystem" help:"Make PATHS writable; '--allow-write=PATHS'. Bare: write anywhere."`
	DenyWrite  []string `name:"deny-write" sep:"none" group:"Filesystem" placeholder:"PATHS" help:"Keep PATHS read-only inside writable ones (comma list, repeatable)."`

	AllowNet optList  `name:"allow-net" group:"Network" help:"Reach only DOMAINS, through zbox's allow-list proxy; '--allow-net=DOMAINS' (example.com, *.example.com, 192.0.2.1, host:443). Bare: full network."`
	DenyNet  []string `name:"deny-net" sep:"none" group:"Network" placeholder:"DOMAINS" help:"Refuse DOMAINS even if allowed (comma list, repeatable)."`

	Env      []string `name:"env" sep:"none" group:"Environment" placeholder:"K=V" help:"Set K to V in the command's environment (repeatable)."`
	AllowEnv optList  `name:"allow-env" group:"Environment" help:"Pass these variables through as well ('--allow-env=KEYS', 'AWS_*' patterns). Bare: inherit the whole environment."`
	DenyEnv  []string `name:"deny-env" sep:"none" group:"Environment" placeholder:"KEYS" help:"Never pass these variables (comma list, 'K_*' patterns)."`

	Cwd          string   `name:"cwd" short:"C" placeholder:"DIR" group:"Sandbox" help:"Run as if zbox was started in DIR: the command's working directory, the base of relative paths and of $CWD in profiles."`
	Policy       string   `name:"policy" placeholder:"FILE" group:"Sandbox" help:"Start from a helper-format JSON policy (a file-system policy, a legacy sandbox policy, or {\"sandbox_policy\":..,\"file_system_sandbox_policy\":..,\"network_sandbox_policy\":..})."`
	Profile      []string `name:"profile" sep:"none" placeholder:"NAME" group:"Sandbox" help:"Apply profiles (comma list, repeatable; default: 'default'). See 'zbox profile list'."`
	NoProc       bool     `name:"no-proc" group:"Sandbox" help:"No /proc in the sandbox (an empty directory) instead of a fresh one."`
	NoNewSession bool     `name:"no-new-session" group:"Sandbox" help:"Keep the command in your terminal's session and foreground process group (job control, interactive programs) instead of a new session; terminal input injection (TIOCSTI, TIOCLINUX) stays denied by the filter."`
	Engine       string   `name:"engine" placeholder:"native|bwrap|auto" group:"Sandbox" help:"Engine: native (namespaces), bwrap (the system bwrap), auto (native; Landlock-only with a warning where user namespaces are unavailable). Default: auto."`
	Strict       bool     `name:"strict" group:"Sandbox" help:"Fail instead of falling back to a weaker sandbox."`
	Timeout      string   `name:"timeout" placeholder:"DURATION" group:"Limits" help:"Kill the whole sandbox after DURATION (e.g. 30s, 5m) and exit 124."`
	Limit        []string `name:"limit" sep:"none" placeholder:"RES=N" group:"Limits" help:"Resource limits, comma list: memory=512M (address space per process), processes=100, files=1024 (open files), cpu=30s (CPU time per process)."`
	Debug        bool     `name:"debug" group:"Sandbox" help:"Log each setup step and its duration on stderr."`
}

type runCmd struct {
	policyFlags
	Command []string `arg:"" optional:"" passthrough:"partial" name:"command" help:"The command and its arguments; put -- before it."`
}

type explainCmd struct {
	policyFlags
	JSON    bool     `name:"json" help:"Print JSON for machines."`
	Command []string `arg:"" optional:"" passthrough:"partial" name:"command" help:"The command and its arguments; put -- before it."`
}

type doctorCmd struct {
	JSON bool `name:"json" help:"Print JSON for machines."`
}

type profileCmd struct {
	List profileListCmd `cmd:"" help:"List the profiles: built-in ones and those in $XDG_CONFIG_HOME/zbox/profiles."`
	Show profileShowCmd `cmd:"" help:"Print a profile's JSON."`
}

type profileListCmd struct{}

type profileShowCmd struct {
	Resolved bool   `name:"resolved" help:"Print the profile after composition (use) and $HOME/$CWD/$TMPDIR expansion."`
	Name     string `arg:"" name:"name" help:"Profile name."`
}

type versionCmd struct{}

// optList is a flag whose value is optional: "--allow-write" alone
// (All) or "--allow-write=a,b" (Values). A value must be attached with
// "=": "--allow-write /tmp" is the bare flag followed by the command
// /tmp, as with Deno's permission flags, because a command can follow
// directly. It is repeatable; every occurrence is kept.
type optList struct {
	All    bool
	Values []string
	// Bare counts the occurrences without "=", for the "did you mean
	// --flag=VALUE" check in cli.go.
	Bare int
}

// Decode implements kong.MapperValue: only a value glued with "=" (a
// FlagValueToken) belongs to the flag.
func (o *optList) Decode(ctx *kong.DecodeContext) error {
	if ctx.Scan.Peek().Type != kong.FlagValueToken {
		o.All = true
		o.Bare++
		return nil
	}
	var v string
	if err := ctx.Scan.PopValueInto("value", &v); err != nil {
		return err
	}
	o.Values = append(o.Values, v)
	return nil
}

// IsBool tells kong the flag needs no value (kong.BoolMapperValue).
func (o *optList) IsBool() bool { return true }

// Set reports whether the flag appeared at all.
func (o *optList) Set() bool { return o.All || len(o.Values) > 0 }

// splitList splits one flag value at commas. "\," is a literal comma
// and "\\" a literal backslash, so that any path can be written; any
// other backslash is kept as is. Empty items are an error: "a,,b" or a
// trailing comma is almost certainly a typo, and for deny rules a
// silently dropped item would fail open.
func splitList(v string) ([]string, error) {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\\' && i+1 < len(v) && (v[i+1] == ',' || v[i+1] == '\\'):
			cur.WriteByte(v[i+1])
			i++
		case c == ',':
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	out = append(out, cur.String())
	for _, it := range out {
		if strings.TrimSpace(it) == "" {
			return nil, errEmptyItem
		}
	}
	return out, nil
}

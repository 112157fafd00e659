package main

// zbox explain: what a run would do, without doing it.

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/zbox-sandbox/zbox/filter"
	"github.com/zbox-sandbox/zbox/lsm"
	"github.com/zbox-sandbox/zbox/policy"
)

// explanation is explain's JSON document.
type explanation struct {
	Command  []string     `json:"command"`
	Settings settings     `json:"settings"`
	Policy   policyJSON   `json:"policy"`
	Proxy    *proxyConfig `json:"proxy,omitempty"`
	Engine   engineChoice `json:"engine"`
	// Start is how the native engine would start it: the direct start
	// or the general init, and why.
	Start string `json:"start,omitempty"`
	// EngineWarning is the line a run would print when falling back.
	EngineWarning string       `json:"engine_warning,omitempty"`
	Plan          *policy.Plan `json:"plan"`
	Steps         []string     `json:"steps"`
	Bwrap         bwrapJSON    `json:"bwrap"`
	Notes         []string     `json:"notes,omitempty"`
}

type policyJSON struct {
	FileSystem policy.FileSystemPolicy `json:"file_system_sandbox_policy"`
	Network    policy.NetworkPolicy    `json:"network_sandbox_policy"`
	Legacy     *policy.SandboxPolicy   `json:"sandbox_policy,omitempty"`
}

// bwrapJSON is the equivalent bwrap command line.
type bwrapJSON struct {
	// Argv starts with "bwrap". Error is set instead when the plan has no
	// bwrap form.
	Argv  []string `json:"argv,omitempty"`
	Error string   `json:"error,omitempty"`
	// FDs are the descriptors the argv refers to, numbered from 3 in
	// order: each must be open on the given content when bwrap starts
	// (exec.Cmd.ExtraFiles order; in a shell: 3</dev/null 4</dev/null).
	FDs []bwrapFD `json:"fds,omitempty"`
	// NotExpressed lists what the native engine adds that bwrap's argv
	// cannot say.
	NotExpressed []string `json:"not_expressed,omitempty"`
}

type bwrapFD struct {
	FD int `json:"fd"`
	// Bytes is the content length; 0 means an empty file (/dev/null).
	Bytes int `json:"bytes"`
}

func (c *cli) explain(spec *sandboxSpec, asJSON bool) error {
	s := spec.Settings
	choice, err := selectEngine(s.Engine, false, probeUsernsSysctls)
	if err != nil {
		return err
	}
	warning := ""
	if choice.Name == "landlock" {
		warning = landlockWarning(choice.Reason, spec.Plan)
	}
	e := explanation{
		Command:  spec.Plan.Command,
		Settings: s,
		Policy:   policyJSON{FileSystem: spec.FS, Network: spec.Net, Legacy: spec.Legacy},
		Proxy:    spec.Proxy,
		Engine:   choice,
		Plan:     spec.Plan,
		Steps:    planSteps(spec.Plan, s),
		Bwrap:    bwrapEquivalent(spec.Plan, s),
		Notes:    spec.Notes,
	}
	if choice.Name == "native" {
		e.Start = directVerdict(spec.Plan, s.Debug)
	}
	if warning != "" {
		e.EngineWarning = warning
		if s.Strict {
			e.Notes = append(e.Notes, "--strict: the run would fail instead of falling back to Landlock-only")
		}
	}
	if asJSON {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(e)
	}
	writeExplanation(c.stdout, &e)
	return nil
}

func writeExplanation(w io.Writer, e *explanation) {
	s := e.Settings
	fmt.Fprintf(w, "Command: %s\n\n", shellJoin(e.Command))
	fmt.Fprintln(w, "Settings")
	fmt.Fprintf(w, "  profiles:   %s\n", strings.Join(s.Profiles, ", "))
	cwd := s.Cwd
	if s.CwdGiven {
		cwd += " (-C)"
	}
	fmt.Fprintf(w, "  cwd:        %s\n", cwd)
	eng := e.Engine.Name
	if s.Engine == "auto" {
		eng = "auto -> " + eng
		if e.Engine.Reason != "" {
			eng += " (" + e.Engine.Reason + ")"
		}
	}
	fmt.Fprintf(w, "  engine:     %s\n", eng)
	if e.Start != "" {
		fmt.Fprintf(w, "  start:      %s\n", e.Start)
	}
	read := accessSummary(s.ReadAll || len(s.Read) == 0, s.Read, "everything")
	if !s.ReadAll && len(s.Read) > 0 {
		read += " (plus what programs need: /usr, /etc, /bin, /lib...)"
	}
	fmt.Fprintf(w, "  read:       %s\n", read)
	fmt.Fprintf(w, "  write:      %s\n", accessSummary(s.WriteAll, s.Write, "anywhere"))
	if len(s.DenyRead) > 0 {
		fmt.Fprintf(w, "  deny-read:  %s\n", strings.Join(s.DenyRead, ", "))
	}
	if len(s.DenyWrite) > 0 {
		fmt.Fprintf(w, "  deny-write: %s\n", strings.Join(s.DenyWrite, ", "))
	}
	switch {
	case e.Proxy != nil:
		fmt.Fprintf(w, "  network:    through the allow-list proxy: allow %s", strings.Join(e.Proxy.Allow, ", "))
		if len(e.Proxy.Deny) > 0 {
			fmt.Fprintf(w, "; deny %s", strings.Join(e.Proxy.Deny, ", "))
		}
		fmt.Fprintln(w)
	case e.Policy.Network.IsEnabled():
		fmt.Fprintln(w, "  network:    full (the host's)")
	default:
		fmt.Fprintln(w, "  network:    none")
	}
	if s.Timeout > 0 {
		fmt.Fprintf(w, "  timeout:    %s\n", s.Timeout)
	}

	fmt.Fprintln(w, "\nPolicy (Codex helper model)")
	if b, err := json.Marshal(e.Policy.FileSystem); err == nil {
		fmt.Fprintf(w, "  --file-system-sandbox-policy '%s'\n", b)
	}
	if b, err := json.Marshal(e.Policy.Network); err == nil {
		fmt.Fprintf(w, "  --network-sandbox-policy '%s'\n", b)
	}
	if e.Policy.Legacy != nil {
		if b, err := json.Marshal(e.Policy.Legacy); err == nil {
			fmt.Fprintf(w, "  --sandbox-policy '%s'\n", b)
		}
	} else {
		fmt.Fprintln(w, "  (no legacy --sandbox-policy says the same: the policy needs direct enforcement)")
	}

	fmt.Fprintln(w, "\nPlan")
	for i, st := range e.Steps {
		fmt.Fprintf(w, "  %2d. %s\n", i+1, st)
	}

	fmt.Fprintln(w, "\nEquivalent bwrap command")
	if e.Bwrap.Error != "" {
		fmt.Fprintf(w, "  none: %s\n", e.Bwrap.Error)
	} else {
		var redir []string
		for _, f := range e.Bwrap.FDs {
			if f.Bytes == 0 {
				redir = append(redir, fmt.Sprintf("%d</dev/null", f.FD))
			} else {
				redir = append(redir, fmt.Sprintf("%d<FILE-OF-%d-BYTES", f.FD, f.Bytes))
			}
		}
		line := shellJoin(e.Bwrap.Argv)
		if len(redir) > 0 {
			line += " " + strings.Join(redir, " ")
		}
		fmt.Fprintf(w, "  %s\n", line)
		if len(e.Bwrap.NotExpressed) > 0 {
			fmt.Fprintf(w, "  not expressed in bwrap's argv: %s\n", strings.Join(e.Bwrap.NotExpressed, "; "))
		}
	}
	notes := slices.Clone(e.Notes)
	if e.EngineWarning != "" {
		notes = append([]string{e.EngineWarning}, notes...)
	}
	if len(notes) > 0 {
		fmt.Fprintln(w, "\nNotes")
		for _, n := range notes {
			fmt.Fprintf(w, "  - %s\n", n)
		}
	}
}

func accessSummary(all bool, paths []string, allWord string) string {
	switch {
	case all:
		return allWord
	case len(paths) == 0:
		return "nothing"
	}
	return strings.Join(paths, ", ")
}

// planSteps describes the plan in execution order.
func planSteps(p *policy.Plan, s settings) []string {
	var out []string
	var ns []string
	for _, n := range []struct {
		on   bool
		name string
	}{{p.Namespaces.User, "user"}, {p.Namespaces.Mount, "mount"}, {p.Namespaces.PID, "pid"}, {p.Namespaces.Net, "net"},
		{p.Namespaces.IPC, "ipc"}, {p.Namespaces.UTS, "uts"}, {p.Namespaces.Cgroup, "cgroup"}} {
		if n.on {
			ns = append(ns, n.name)
		}
	}
	if len(ns) == 0 {
		out = append(out, "no new namespaces: the command runs directly")
	} else {
		out = append(out, "create namespaces: "+strings.Join(ns, ", ")+"; map your uid and gid to themselves")
	}
	for _, op := range p.Mounts {
		out = append(out, describeOp(op))
	}
	switch p.Network.Mode {
	case policy.NetIsolated:
		out = append(out, "network: only loopback (lo up), nothing reaches the host")
	case policy.NetFull:
		out = append(out, "network: the host's network namespace")
	case policy.NetProxyOnly:
		out = append(out, fmt.Sprintf("network: only loopback plus a listener on 127.0.0.1 bridged to zbox's allow-list proxy; %s point at it (allow %s; deny %s)",
			routeKeys(p.Network.Routes), strings.Join(p.Network.AllowDomains, ","), orNone(p.Network.DenyDomains)))
	}
	if p.Chdir != "" {
		out = append(out, "chdir "+p.Chdir)
	} else {
		out = append(out, "chdir: the current directory if visible inside, else $HOME, else /")
	}
	out = append(out, envStep(p.Env))
	if len(p.Caps.Keep) == 0 {
		out = append(out, "capabilities: none in any set (also for root)")
	}
	out = append(out, filter.Describe(p.Filter))
	if p.Landlock != nil {
		out = append(out, lsm.Plan(*p.Landlock, lsm.Probe().EffectiveABI()).String())
	}
	if l := p.Limits; l != nil {
		out = append(out, "limits: "+limitsString(*l))
	}
	if s.Timeout > 0 {
		out = append(out, fmt.Sprintf("timeout: kill the whole sandbox after %s (exit 124)", s.Timeout))
	}
	if p.NewSession {
		out = append(out, "new session (setsid): no access to your terminal's input queue")
	} else if p.Filter.DenyTerminalInjection {
		out = append(out, "your terminal's session and foreground process group (--no-new-session): job control works; input injection (TIOCSTI, TIOCLINUX) denied")
	}
	if p.DieWithParent {
		out = append(out, "dies with zbox (even on SIGKILL)")
	}
	out = append(out, "exec "+shellJoin(p.Command))
	return out
}

func orNone(v []string) string {
	if len(v) == 0 {
		return "none"
	}
	return strings.Join(v, ",")
}

func routeKeys(rs []policy.ProxyRoute) string {
	var k []string
	for _, r := range rs {
		k = append(k, r.EnvKey)
	}
	return strings.Join(k, ",")
}

func envStep(env []string) string {
	if env == nil {
		return "environment: inherited from zbox"
	}
	var keys []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		keys = append(keys, k)
	}
	return fmt.Sprintf("environment: %d variables: %s", len(keys), strings.Join(keys, " "))
}

func limitsString(l policy.Limits) string {
	var parts []string
	if l.MemoryBytes > 0 {
		parts = append(parts, fmt.Sprintf("address space %s per process", sizeString(l.MemoryBytes)))
	}
	if l.Processes > 0 {
		parts = append(parts, fmt.Sprintf("%d processes (threads count, zbox's init included)", l.Processes))
	}
	if l.OpenFiles > 0 {
		parts = append(parts, fmt.Sprintf("%d open files per process", l.OpenFiles))
	}
	if l.CPUSeconds > 0 {
		parts = append(parts, fmt.Sprintf("%s CPU time per process", time.Duration(l.CPUSeconds)*time.Second))
	}
	return strings.Join(parts, ", ")
}

func sizeString(n uint64) string {
	for _, u := range []struct {
		s string
		v uint64
	}{{"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if n >= u.v && n%u.v == 0 {
			return strconv.FormatUint(n/u.v, 10) + u.s
		}
	}
	return strconv.FormatUint(n, 10) + " bytes"
}

func permsString(p *uint32, def uint32) string {
	if p == nil {
		return fmt.Sprintf("%04o", def)
	}
	return fmt.Sprintf("%04o", *p)
}

// describeOp is one mount op in words.
func describeOp(op policy.MountOp) string {
	try := ""
	if op.Try {
		try = " (if it exists)"
	}
	switch op.Kind {
	case policy.OpROBind:
		if op.Source == "/dev/null" {
			return fmt.Sprintf("block %s: /dev/null bound read-only over it (it cannot be created, replaced or re-pointed)", op.Dest)
		}
		if op.Source == op.Dest {
			return fmt.Sprintf("bind %s read-only%s", op.Dest, try)
		}
		return fmt.Sprintf("bind %s read-only at %s%s", op.Source, op.Dest, try)
	case policy.OpBind:
		if op.Source == op.Dest {
			return fmt.Sprintf("bind %s writable%s", op.Dest, try)
		}
		return fmt.Sprintf("bind %s writable at %s%s", op.Source, op.Dest, try)
	case policy.OpDevBind:
		return fmt.Sprintf("bind %s with devices at %s%s", op.Source, op.Dest, try)
	case policy.OpTmpfs:
		if op.Dest == "/" {
			return "empty tmpfs as the new root (only what is bound into it exists)"
		}
		if op.Perms != nil && *op.Perms&0o444 == 0 {
			return fmt.Sprintf("hide %s: empty tmpfs, mode %s", op.Dest, permsString(op.Perms, 0o755))
		}
		return fmt.Sprintf("tmpfs at %s, mode %s", op.Dest, permsString(op.Perms, 0o755))
	case policy.OpDev:
		return fmt.Sprintf("fresh minimal %s: null zero full random urandom tty, private devpts, shm", op.Dest)
	case policy.OpProc:
		fb := "fatal if refused"
		switch op.Fallback {
		case policy.ProcBindHost:
			fb = "where the kernel refuses one, as under a container's masked /proc, the host's /proc is bound instead"
		case policy.ProcSkip:
			fb = "skipped if the kernel refuses one"
		}
		return fmt.Sprintf("fresh %s for the new pid namespace (%s)", op.Dest, fb)
	case policy.OpMqueue:
		return fmt.Sprintf("fresh mqueue at %s", op.Dest)
	case policy.OpDir:
		return fmt.Sprintf("create directory %s", op.Dest)
	case policy.OpFile:
		return fmt.Sprintf("create file %s (%d bytes)", op.Dest, len(op.Data))
	case policy.OpBindData, policy.OpROBindData:
		if len(op.Data) == 0 && op.Perms != nil && *op.Perms == 0 {
			return fmt.Sprintf("hide file %s: an empty mode-0000 file bound read-only over it", op.Dest)
		}
		rw := "read-only"
		if op.Kind == policy.OpBindData {
			rw = "writable"
		}
		return fmt.Sprintf("bind a %d-byte file %s at %s", len(op.Data), rw, op.Dest)
	case policy.OpSymlink:
		return fmt.Sprintf("symlink %s -> %s", op.Dest, op.Source)
	case policy.OpRemountRO:
		return fmt.Sprintf("make %s read-only", op.Dest)
	case policy.OpChmod:
		return fmt.Sprintf("chmod %s %s", permsString(op.Perms, 0), op.Dest)
	}
	return fmt.Sprintf("%s %s", op.Kind, op.Dest)
}

// bwrapEquivalent renders the plan as a bwrap command line: the mounts,
// namespaces and environment exactly, fds numbered from 3.
func bwrapEquivalent(p *policy.Plan, s settings) bwrapJSON {
	var out bwrapJSON
	next := 3
	args, err := policy.BwrapArgs(p, func(data []byte) (int, error) {
		fd := next
		next++
		out.FDs = append(out.FDs, bwrapFD{FD: fd, Bytes: len(data)})
		return fd, nil
	}, nil)
	if err != nil {
		out.Error = err.Error()
		out.FDs = nil
		return out
	}
	// The environment: bwrap keeps its own unless told; insert it before
	// the "--" that ends bwrap's options.
	if p.Env != nil {
		sep := slices.Index(args, "--")
		env := []string{"--clearenv"}
		for _, kv := range p.Env {
			k, v, _ := strings.Cut(kv, "=")
			env = append(env, "--setenv", k, v)
		}
		args = slices.Insert(args, sep, env...)
	}
	out.Argv = append([]string{"bwrap"}, args...)
	if p.Filter.Enabled {
		out.NotExpressed = append(out.NotExpressed, "the seccomp filter")
	}
	if p.Landlock != nil {
		out.NotExpressed = append(out.NotExpressed, "Landlock")
	}
	if p.Network.Mode == policy.NetProxyOnly {
		out.NotExpressed = append(out.NotExpressed, "the allow-list proxy (bwrap's sandbox has no network at all)")
	}
	if p.Limits != nil {
		out.NotExpressed = append(out.NotExpressed, "--limit")
	}
	if s.Timeout > 0 {
		out.NotExpressed = append(out.NotExpressed, "--timeout")
	}
	for _, op := range p.Mounts {
		if op.Kind == policy.OpProc && op.Fallback != policy.ProcFatal {
			out.NotExpressed = append(out.NotExpressed, "the /proc fallback (bwrap fails where /proc is masked)")
			break
		}
	}
	return out
}

// shellJoin quotes args for a POSIX shell.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}

func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

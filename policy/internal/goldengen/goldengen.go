// Package goldengen holds the golden cases that pin zbox's helper plan
// builder to the real Codex Linux sandbox helper (`codex-linux-sandbox`
// from npm @openai/codex@0.125.0-linux-x64), and the pieces shared by the
// generator (./gen, run through policy/testdata/gen-golden.sh) and by the
// golden test in package policy: the case table, the tree builder, the
// argv normalisation and the golden file format.
//
// It deliberately does not import package policy, so that policy's own
// tests can import it.
package goldengen

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// RootVar is what the case root is replaced with in goldens, policy JSON
// and tree entries.
const RootVar = "$ROOT"

// FDVar replaces the fd number of --file, --bind-data and --ro-bind-data
// in goldens: the helper's numbers depend on its own open files, and
// v0.117-0.125 even reuse one fd for every mask (spec §3.5, the upstream
// bug zbox does not reproduce).
const FDVar = "$FD"

// NodeKind is the type of a tree entry.
type NodeKind int

const (
	Dir NodeKind = iota
	File
	Symlink
)

// Node is one entry of a case's tree. Path is relative to the case root.
// Data is a file's content or a symlink's target; "$ROOT" in it is
// expanded.
type Node struct {
	Kind NodeKind
	Path string
	Data string
}

// D, F and L build tree entries.
func D(p string) Node          { return Node{Kind: Dir, Path: p} }
func F(p, content string) Node { return Node{Kind: File, Path: p, Data: content} }
func L(p, target string) Node  { return Node{Kind: Symlink, Path: p, Data: target} }

func paths(ns ...Node) []Node { return ns }

// Case is one golden case. Every string may contain "$ROOT".
type Case struct {
	Name string
	// Doc says what the case pins down.
	Doc  string
	Tree []Node
	// Cwd is --sandbox-policy-cwd; CommandCwd is --command-cwd ("" = not
	// given).
	Cwd, CommandCwd string
	// Legacy, FS and Net are the JSON of --sandbox-policy,
	// --file-system-sandbox-policy and --network-sandbox-policy; "" means
	// the flag is not given.
	Legacy, FS, Net string
	// TMPDIR is the helper's $TMPDIR; "" means unset.
	TMPDIR string
	NoProc bool
	// Proxy runs the helper with --allow-network-for-proxy (and a loopback
	// HTTP_PROXY so that it can prepare its bridge).
	Proxy bool
	// PlatformDefaults marks cases whose argv lists the host's platform
	// default read roots (/bin, /usr, ...): the golden is only valid on a
	// host with the same set (HostPlatformRoots).
	PlatformDefaults bool
}

// HostPlatformRoots is the set of Linux platform default read roots (spec
// §3.4) that existed where the goldens were generated; the golden test
// skips the PlatformDefaults cases on hosts with a different set.
var HostPlatformRoots = []string{"/bin", "/etc", "/lib", "/lib64", "/sbin", "/usr"}

// Expand replaces "$ROOT" with root.
func Expand(s, root string) string { return strings.ReplaceAll(s, RootVar, root) }

// Build creates c's tree under root, which must exist and be empty.
func Build(root string, c Case) error {
	for _, n := range c.Tree {
		p := filepath.Join(root, n.Path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("golden case %s: %w", c.Name, err)
		}
		var err error
		switch n.Kind {
		case Dir:
			err = os.MkdirAll(p, 0o755)
		case File:
			err = os.WriteFile(p, []byte(Expand(n.Data, root)), 0o644)
		case Symlink:
			err = os.Symlink(Expand(n.Data, root), p)
		default:
			err = fmt.Errorf("unknown node kind %d", n.Kind)
		}
		if err != nil {
			return fmt.Errorf("golden case %s: build %s: %w", c.Name, n.Path, err)
		}
	}
	return nil
}

// Normalize turns a bwrap argv (without the program name) into golden
// form: the case root becomes $ROOT, data fds become $FD, and everything
// after the first "--" (the inner command, which names the helper binary
// and its re-serialised policies) is dropped; "--" itself is kept.
func Normalize(args []string, root string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			out = append(out, a)
			break
		}
		switch a {
		case "--file", "--bind-data", "--ro-bind-data":
			out = append(out, a)
			if i+1 < len(args) {
				out = append(out, FDVar)
				i++
			}
			continue
		}
		out = append(out, replaceRoot(a, root))
	}
	return out
}

// NormalizeMessage replaces the case root in an error message.
func NormalizeMessage(msg, root string) string { return replaceRoot(msg, root) }

func replaceRoot(s, root string) string {
	if root == "" || root == "/" {
		return s
	}
	return strings.ReplaceAll(s, root, RootVar)
}

// Outcome is what the helper did for one case.
type Outcome struct {
	// NoBwrap: the helper ran the command directly (full-disk-write
	// shortcut, spec §2.2 step 6).
	NoBwrap bool
	// Error: the helper failed before running bwrap (a panic, exit 101);
	// this is the normalised message.
	Error string
	// Args: the normalised argv of the real (non-preflight) bwrap run.
	Args []string
}

const (
	noBwrapLine = "!no-bwrap"
	errorPrefix = "!error "
	headerMark  = "#"
)

// Format renders a golden file: a header comment, then either one of the
// "!" directives or one argv element per line.
func Format(c Case, o Outcome, provenance string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s: %s\n", c.Name, c.Doc)
	fmt.Fprintf(&b, "# %s\n", provenance)
	switch {
	case o.NoBwrap:
		b.WriteString(noBwrapLine + "\n")
	case o.Error != "":
		b.WriteString(errorPrefix + o.Error + "\n")
	default:
		for _, a := range o.Args {
			b.WriteString(a)
			b.WriteByte('\n')
		}
	}
	return []byte(b.String())
}

// Parse reads a golden file written by Format.
func Parse(data []byte) (Outcome, error) {
	var o Outcome
	lines := strings.Split(string(data), "\n")
	if n := len(lines); n > 0 && lines[n-1] == "" {
		lines = lines[:n-1]
	}
	i := 0
	for i < len(lines) && strings.HasPrefix(lines[i], headerMark) {
		i++
	}
	body := lines[i:]
	if len(body) == 0 {
		return o, errors.New("golden file has no body")
	}
	switch {
	case body[0] == noBwrapLine:
		o.NoBwrap = true
	case strings.HasPrefix(body[0], errorPrefix):
		o.Error = strings.TrimPrefix(body[0], errorPrefix)
	default:
		o.Args = body
		return o, nil
	}
	if len(body) != 1 {
		return o, fmt.Errorf("golden file: unexpected lines after %q", body[0])
	}
	return o, nil
}

// Legacy-policy and split-policy JSON helpers for the case table.
func pathEntry(p, access string) string {
	return fmt.Sprintf(`{"path":{"type":"path","path":%q},"access":%q}`, p, access)
}

func specialEntry(kind, access string) string {
	return fmt.Sprintf(`{"path":{"type":"special","value":{"kind":%q}},"access":%q}`, kind, access)
}

func restricted(entries ...string) string {
	return `{"kind":"restricted","entries":[` + strings.Join(entries, ",") + `]}`
}

const (
	wsNoTmp   = `{"type":"workspace-write","exclude_slash_tmp":true,"exclude_tmpdir_env_var":true}`
	netOff    = `"restricted"`
	netOn     = `"enabled"`
	readOnly  = `{"type":"read-only"}`
	fullAcces = `{"type":"danger-full-access"}`
)

// Cases is the golden case table. Names are file names under
// policy/testdata/golden (<name>.args).
func Cases() []Case {
	return []Case{
		{
			Name: "read-only", Doc: "legacy read-only policy: ro-bind /, dev, netns, proc",
			Tree: paths(D("ws")), Cwd: "$ROOT/ws", Legacy: readOnly,
		},
		{
			Name: "workspace-write-tmp", Doc: "workspace-write with /tmp and $TMPDIR writable; /tmp inherits the nested roots' protected paths",
			Tree: paths(D("ws"), D("tmpdir")), Cwd: "$ROOT/ws", TMPDIR: "$ROOT/tmpdir",
			Legacy: `{"type":"workspace-write"}`,
		},
		{
			Name: "workspace-write-no-tmp", Doc: "workspace-write excluding /tmp and $TMPDIR",
			Tree: paths(D("ws"), D("tmpdir")), Cwd: "$ROOT/ws", TMPDIR: "$ROOT/tmpdir",
			Legacy: wsNoTmp,
		},
		{
			Name: "extra-writable-roots", Doc: "extra writable roots; a missing one is dropped silently",
			Tree: paths(D("ws"), D("extra1"), D("extra2")), Cwd: "$ROOT/ws",
			Legacy: `{"type":"workspace-write","writable_roots":["$ROOT/extra2","$ROOT/missing","$ROOT/extra1"],"exclude_slash_tmp":true,"exclude_tmpdir_env_var":true}`,
		},
		{
			Name: "nested-writable-roots", Doc: "writable roots nested in the workspace, bound by depth after it",
			Tree: paths(D("ws/.git"), D("ws/sub/deeper"), D("ws/sub/.codex")), Cwd: "$ROOT/ws",
			Legacy: `{"type":"workspace-write","writable_roots":["$ROOT/ws/sub/deeper","$ROOT/ws/sub"],"exclude_slash_tmp":true,"exclude_tmpdir_env_var":true}`,
		},
		{
			Name: "protected-nested-legacy", Doc: "legacy policy: a nested root's protected paths are also re-bound under the enclosing root; a .codex file in the cwd root is protected",
			Tree: paths(F("ws/.codex", "x\n"), F("ws/.agents", "y\n"), D("ws/sub/.git")), Cwd: "$ROOT/ws",
			Legacy: `{"type":"workspace-write","writable_roots":["$ROOT/ws/sub"],"exclude_slash_tmp":true,"exclude_tmpdir_env_var":true}`,
		},
		{
			Name: "protected-nested-split", Doc: "split policy: no cross-root protected paths; a missing read carve-out and a deny under a nested root",
			Tree: paths(F("ws/.codex", "x\n"), D("ws/sub/.git"), D("ws/sub/sec")), Cwd: "$ROOT/ws",
			Legacy: `{"type":"workspace-write","writable_roots":["$ROOT/ws/sub"],"exclude_slash_tmp":true,"exclude_tmpdir_env_var":true}`,
			FS: restricted(specialEntry("root", "read"), specialEntry("current_working_directory", "write"),
				pathEntry("$ROOT/ws/sub", "write"), pathEntry("$ROOT/ws/sub/sec", "none"), pathEntry("$ROOT/ws/docs", "read")),
			Net: netOff,
		},
		{
			Name: "git-dir", Doc: ".git, .agents and .codex directories are re-bound read-only",
			Tree: paths(D("ws/.git"), D("ws/.agents"), D("ws/.codex")), Cwd: "$ROOT/ws", Legacy: wsNoTmp,
		},
		{
			Name: "git-file", Doc: "a gitdir: file; the gitdir inside the root is protected too",
			Tree: paths(F("ws/.git", "gitdir: gd\n"), D("ws/gd")), Cwd: "$ROOT/ws", Legacy: wsNoTmp,
		},
		{
			Name: "git-file-outside", Doc: "a gitdir: file pointing outside every writable root: only .git is protected",
			Tree: paths(F("ws/.git", "gitdir: $ROOT/real-gitdir\n"), D("real-gitdir")), Cwd: "$ROOT/ws", Legacy: wsNoTmp,
		},
		{
			Name: "git-missing", Doc: "no .git; the missing .codex of the cwd root is still masked (v0.118+)",
			Tree: paths(D("ws")), Cwd: "$ROOT/ws", Legacy: wsNoTmp,
		},
		{
			Name: "deny-file", Doc: "two denied files in a writable root: perms 000 + ro-bind-data each",
			Tree: paths(F("ws/secret.txt", "s\n"), F("ws/secret2.txt", "s\n")), Cwd: "$ROOT/ws", Legacy: wsNoTmp,
			FS: restricted(specialEntry("root", "read"), specialEntry("current_working_directory", "write"),
				pathEntry("$ROOT/ws/secret.txt", "none"), pathEntry("$ROOT/ws/secret2.txt", "none")),
			Net: netOff,
		},
		{
			Name: "deny-dir", Doc: "a denied directory in a writable root: perms 000 + tmpfs + remount-ro",
			Tree: paths(F("ws/secrets/key", "k\n")), Cwd: "$ROOT/ws", Legacy: wsNoTmp,
			FS: restricted(specialEntry("root", "read"), specialEntry("current_working_directory", "write"),
				pathEntry("$ROOT/ws/secrets", "none")),
			Net: netOff,
		},
		{
			Name: "deny-reopen", Doc: "spec §3.3 example /repo=write, /repo/a=none, /repo/a/b=write",
			Tree: paths(D("repo/a/b")), Cwd: "$ROOT/repo", Legacy: wsNoTmp,
			FS: restricted(specialEntry("root", "read"), pathEntry("$ROOT/repo", "write"),
				pathEntry("$ROOT/repo/a", "none"), pathEntry("$ROOT/repo/a/b", "write")),
			Net: netOff,
		},
		{
			Name: "deny-chains", Doc: "writable roots (dirs and a file) inside a denied directory: --dir chains, not de-duplicated",
			Tree: paths(D("ws/d/a/w1"), D("ws/d/a/w2"), F("ws/d/x/wf", "f\n")), Cwd: "$ROOT/ws", Legacy: wsNoTmp,
			FS: restricted(specialEntry("root", "read"), specialEntry("current_working_directory", "write"),
				pathEntry("$ROOT/ws/d", "none"), pathEntry("$ROOT/ws/d/a/w2", "write"),
				pathEntry("$ROOT/ws/d/a/w1", "write"), pathEntry("$ROOT/ws/d/x/wf", "write")),
			Net: netOff,
		},
		{
			Name: "deny-ancestor", Doc: "a denied ancestor of a writable root, denies outside writable roots, a missing deny outside",
			Tree: paths(D("ws"), D("priv/deep/w"), F("other/f", "x\n")), Cwd: "$ROOT/ws",
			Legacy: `{"type":"workspace-write","writable_roots":["$ROOT/priv/deep/w"],"exclude_slash_tmp":true,"exclude_tmpdir_env_var":true}`,
			FS: restricted(specialEntry("root", "read"), specialEntry("current_working_directory", "write"),
				pathEntry("$ROOT/priv", "none"), pathEntry("$ROOT/priv/deep/w", "write"),
				pathEntry("$ROOT/other/f", "none"), pathEntry("$ROOT/gone", "none"), pathEntry("$ROOT/other", "none")),
			Net: netOff,
		},
		{
			Name: "deny-missing", Doc: "a missing deny path under a writable root: its first missing component is masked",
			Tree: paths(D("ws")), Cwd: "$ROOT/ws", Legacy: wsNoTmp,
			FS: restricted(specialEntry("root", "read"), specialEntry("current_working_directory", "write"),
				pathEntry("$ROOT/ws/nope/deeper", "none")),
			Net: netOff,
		},
		{
			Name: "deny-symlink", Doc: "a deny path through a symlink in a writable root fails closed (v0.122+)",
			Tree: paths(F("ws/real/f", "x\n"), L("ws/link", "real")), Cwd: "$ROOT/ws", Legacy: wsNoTmp,
			FS: restricted(specialEntry("root", "read"), specialEntry("current_working_directory", "write"),
				pathEntry("$ROOT/ws/link/f", "none")),
			Net: netOff,
		},
		{
			Name: "protected-explicit-read", Doc: "an explicit read entry for .git replaces the default (entry order after the missing .codex)",
			Tree: paths(D("ws/.git"), D("ws/a")), Cwd: "$ROOT/ws",
			FS: restricted(specialEntry("root", "read"), specialEntry("current_working_directory", "write"),
				pathEntry("$ROOT/ws/a", "read"), pathEntry("$ROOT/ws/.git", "read")),
			Net: netOff,
		},
		{
			Name: "protected-explicit-write", Doc: "an explicit write entry for .codex lifts its protection",
			Tree: paths(D("ws/.git"), D("ws/.codex")), Cwd: "$ROOT/ws",
			FS: restricted(specialEntry("root", "read"), specialEntry("current_working_directory", "write"),
				pathEntry("$ROOT/ws/.codex", "write")),
			Net: netOff,
		},
		{
			Name: "protected-tmpdir-legacy", Doc: "legacy policy: $TMPDIR's protected paths are not repeated under an enclosing writable root",
			Tree: paths(D("ws"), D("t/inner/.git")), Cwd: "$ROOT/ws", TMPDIR: "$ROOT/t/inner",
			Legacy: `{"type":"workspace-write","writable_roots":["$ROOT/t"],"exclude_slash_tmp":true}`,
		},
		{
			Name: "protected-restricted-reads", Doc: "legacy policy with restricted reads: the protected paths become readable roots too; a readable path inside the missing .codex stays a carve-out",
			Tree: paths(D("ws/.git")), Cwd: "$ROOT/ws",
			Legacy: `{"type":"workspace-write","read_only_access":{"type":"restricted","include_platform_defaults":false,"readable_roots":["$ROOT/ws/.codex/x"]},"exclude_slash_tmp":true,"exclude_tmpdir_env_var":true}`,
		},
		{
			Name: "split-cwd-under-tmp", Doc: "cwd below a writable /tmp: the split policy needs direct enforcement, so a paired legacy policy is not checked",
			Tree: paths(D("ws")), Cwd: "$ROOT/ws", Legacy: readOnly,
			FS:  restricted(specialEntry("root", "read"), specialEntry("current_working_directory", "write"), specialEntry("slash_tmp", "write")),
			Net: netOff,
		},
		{
			Name: "deny-nested-symlink", Doc: "a deny path through a symlink outside every writable root is masked as spelled",
			Tree: paths(D("ws"), F("other/f", "x\n"), L("l2", "other")), Cwd: "$ROOT/ws", Legacy: wsNoTmp,
			FS: restricted(specialEntry("root", "read"), specialEntry("current_working_directory", "write"),
				pathEntry("$ROOT/l2/f", "none")),
			Net: netOff,
		},
		{
			Name: "deny-symlinked-root", Doc: "a deny path spelled through a symlinked writable root is re-rooted onto the bound (canonical) root",
			Tree: paths(D("ws"), D("extra/q"), L("wl", "extra")), Cwd: "$ROOT/ws",
			Legacy: `{"type":"workspace-write","writable_roots":["$ROOT/wl"],"exclude_slash_tmp":true,"exclude_tmpdir_env_var":true}`,
			FS: restricted(specialEntry("root", "read"), specialEntry("current_working_directory", "write"),
				pathEntry("$ROOT/wl", "write"), pathEntry("$ROOT/wl/q", "none")),
			Net: netOff,
		},
		{
			Name: "deny-via-outside-symlink", Doc: "a deny path spelled through a symlink outside the writable roots into one: masked as spelled, after the roots, and no read-only carve-out for its target",
			Tree: paths(D("ws"), D("real/decoy"), L("link", "$ROOT/real"), L("via", "$ROOT/real/decoy")), Cwd: "$ROOT/ws",
			Legacy: `{"type":"workspace-write","writable_roots":["$ROOT/link"],"exclude_slash_tmp":true,"exclude_tmpdir_env_var":true}`,
			FS: restricted(specialEntry("root", "read"), specialEntry("current_working_directory", "write"),
				pathEntry("$ROOT/link", "write"), pathEntry("$ROOT/via", "none")),
			Net: netOff,
		},
		{
			Name: "deny-symlinked-root-symlink", Doc: "re-rooted deny path that crosses a symlink inside the root fails closed, naming the re-rooted path",
			Tree: paths(D("ws"), D("real/decoy"), L("link", "$ROOT/real"), L("real/linked", "$ROOT/real/decoy")), Cwd: "$ROOT/ws",
			Legacy: `{"type":"workspace-write","writable_roots":["$ROOT/link"],"exclude_slash_tmp":true,"exclude_tmpdir_env_var":true}`,
			FS: restricted(specialEntry("root", "read"), specialEntry("current_working_directory", "write"),
				pathEntry("$ROOT/link", "write"), pathEntry("$ROOT/link/linked", "none")),
			Net: netOff,
		},
		{
			Name: "protected-symlink", Doc: "a .codex symlink in a writable root fails closed (v0.122+)",
			Tree: paths(D("ws"), D("decoy"), L("ws/.codex", "$ROOT/decoy")), Cwd: "$ROOT/ws", Legacy: wsNoTmp,
		},
		{
			Name: "restricted-reads", Doc: "restricted reads with platform defaults: tmpfs root, sorted ro-binds, no nested pruning",
			Tree: paths(D("ws"), D("data/nested")), Cwd: "$ROOT/ws",
			Legacy:           `{"type":"read-only","access":{"type":"restricted","include_platform_defaults":true,"readable_roots":["$ROOT/data/nested","$ROOT/data","$ROOT/missing"]}}`,
			PlatformDefaults: true,
		},
		{
			Name: "restricted-reads-deny", Doc: "tmpfs root with a deny between a readable and a writable root",
			Tree: paths(D("ws"), D("priv/deep/w")), Cwd: "$ROOT/ws",
			Legacy: `{"type":"workspace-write","writable_roots":["$ROOT/priv/deep/w"],"exclude_slash_tmp":true,"exclude_tmpdir_env_var":true}`,
			FS: restricted(specialEntry("minimal", "read"), specialEntry("current_working_directory", "write"),
				pathEntry("$ROOT/priv", "read"), pathEntry("$ROOT/priv/deep", "none"), pathEntry("$ROOT/priv/deep/w", "write")),
			Net:              netOff,
			PlatformDefaults: true,
		},
		{
			Name: "restricted-reads-workspace", Doc: "workspace-write with restricted reads and no platform defaults",
			Tree: paths(D("ws"), D("data"), D("extra"), D("tmpdir")), Cwd: "$ROOT/ws", TMPDIR: "$ROOT/tmpdir",
			Legacy: `{"type":"workspace-write","writable_roots":["$ROOT/extra"],"read_only_access":{"type":"restricted","include_platform_defaults":false,"readable_roots":["$ROOT/data"]},"exclude_slash_tmp":true}`,
		},
		{
			Name: "danger-full-access", Doc: "full access: the helper runs the command without bwrap",
			Tree: paths(D("ws")), Cwd: "$ROOT/ws", Legacy: fullAcces,
		},
		{
			Name: "external-sandbox", Doc: "external sandbox, network restricted: no bwrap either",
			Tree: paths(D("ws")), Cwd: "$ROOT/ws", Legacy: `{"type":"external-sandbox","network_access":"restricted"}`,
		},
		{
			Name: "network-enabled", Doc: "network enabled: no --unshare-net",
			Tree: paths(D("ws")), Cwd: "$ROOT/ws",
			Legacy: `{"type":"workspace-write","network_access":true,"exclude_slash_tmp":true,"exclude_tmpdir_env_var":true}`,
		},
		{
			Name: "split-only", Doc: "split policies without --sandbox-policy, network enabled",
			Tree: paths(D("ws")), Cwd: "$ROOT/ws",
			FS:  restricted(specialEntry("root", "read"), specialEntry("current_working_directory", "write")),
			Net: netOn,
		},
		{
			Name: "no-proc", Doc: "--no-proc: no --proc and no preflight",
			Tree: paths(D("ws")), Cwd: "$ROOT/ws", Legacy: readOnly, NoProc: true,
		},
		{
			Name: "symlinked-cwd", Doc: "a symlinked policy cwd: canonical root bound, --chdir to it",
			Tree: paths(D("real"), L("ws", "real")), Cwd: "$ROOT/ws", Legacy: wsNoTmp,
		},
		{
			Name: "command-cwd-symlink", Doc: "--command-cwd through a symlink: --chdir to its realpath",
			Tree: paths(D("real/sub"), L("link", "real/sub")), Cwd: "$ROOT/real", CommandCwd: "$ROOT/link", Legacy: readOnly,
		},
		{
			Name: "command-cwd-plain", Doc: "--command-cwd with a trailing slash and no symlink: no --chdir",
			Tree: paths(D("real/sub")), Cwd: "$ROOT/real", CommandCwd: "$ROOT/real/sub/", Legacy: readOnly,
		},
		{
			Name: "proxy-full-write", Doc: "managed proxy with full disk write: bind / / (spec §3.1 case 1)",
			Tree: paths(D("ws"), D("tmpdir")), Cwd: "$ROOT/ws", TMPDIR: "$ROOT/tmpdir", Legacy: fullAcces, Proxy: true,
		},
		{
			Name: "proxy-workspace", Doc: "managed proxy with workspace-write: ProxyOnly forces --unshare-net",
			Tree: paths(D("ws"), D("tmpdir")), Cwd: "$ROOT/ws", TMPDIR: "$ROOT/tmpdir", Proxy: true,
			Legacy: `{"type":"workspace-write","network_access":true,"exclude_slash_tmp":true,"exclude_tmpdir_env_var":true}`,
		},
	}
}

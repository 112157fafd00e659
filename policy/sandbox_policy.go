package policy

// The legacy `SandboxPolicy` of the Codex helper (flag --sandbox-policy,
// spec codex-helper.md §1.2): an internally tagged enum, tag "type",
// variants kebab-case, fields snake_case. Parsed strictly, serialised
// byte-for-byte like the helper's serde_json output.

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// SandboxPolicyType is the "type" tag of a SandboxPolicy.
type SandboxPolicyType string

const (
	PolicyDangerFullAccess SandboxPolicyType = "danger-full-access"
	PolicyReadOnly         SandboxPolicyType = "read-only"
	PolicyExternalSandbox  SandboxPolicyType = "external-sandbox"
	PolicyWorkspaceWrite   SandboxPolicyType = "workspace-write"
)

var sandboxPolicyTypes = []string{
	string(PolicyDangerFullAccess), string(PolicyReadOnly),
	string(PolicyExternalSandbox), string(PolicyWorkspaceWrite),
}

// ReadOnlyAccess is the helper's ReadOnlyAccess: the zero value is
// {"type":"full-access"}; Restricted is
// {"type":"restricted","include_platform_defaults":..,"readable_roots":[..]}.
type ReadOnlyAccess struct {
	Restricted bool
	// IncludePlatformDefaults (restricted only; JSON default true) adds
	// PlatformDefaultReadRoots in tmpfs-root mode.
	IncludePlatformDefaults bool
	// ReadableRoots (restricted only): clean absolute paths.
	ReadableRoots []string
}

// FullReadAccess is {"type":"full-access"}.
func FullReadAccess() ReadOnlyAccess { return ReadOnlyAccess{} }

// RestrictedReadAccess is {"type":"restricted",...}.
func RestrictedReadAccess(includePlatformDefaults bool, roots ...string) ReadOnlyAccess {
	return ReadOnlyAccess{Restricted: true, IncludePlatformDefaults: includePlatformDefaults, ReadableRoots: roots}
}

// SandboxPolicy is the legacy policy. Which fields mean something depends
// on Type; the others stay zero (values produced by ParseSandboxPolicy
// always are, so == on the parsed form is meaningful via reflect.DeepEqual).
//
//	danger-full-access: nothing
//	read-only:          Access, NetworkAccess
//	external-sandbox:   NetworkAccess (serialised as "restricted"/"enabled")
//	workspace-write:    WritableRoots, Access (JSON "read_only_access"),
//	                    NetworkAccess, ExcludeTmpdirEnvVar, ExcludeSlashTmp
type SandboxPolicy struct {
	Type                SandboxPolicyType
	Access              ReadOnlyAccess
	NetworkAccess       bool
	WritableRoots       []string
	ExcludeTmpdirEnvVar bool
	ExcludeSlashTmp     bool
}

// NewReadOnlyPolicy is {"type":"read-only"}.
func NewReadOnlyPolicy() SandboxPolicy { return SandboxPolicy{Type: PolicyReadOnly} }

// NewWorkspaceWritePolicy is {"type":"workspace-write"} with its defaults.
func NewWorkspaceWritePolicy() SandboxPolicy { return SandboxPolicy{Type: PolicyWorkspaceWrite} }

// DangerFullAccessPolicy is {"type":"danger-full-access"}.
func DangerFullAccessPolicy() SandboxPolicy { return SandboxPolicy{Type: PolicyDangerFullAccess} }

// ExternalSandboxPolicy is {"type":"external-sandbox","network_access":...}.
func ExternalSandboxPolicy(network bool) SandboxPolicy {
	return SandboxPolicy{Type: PolicyExternalSandbox, NetworkAccess: network}
}

const sandboxPolicyCtx = "sandbox policy"

// ParseSandboxPolicy parses the JSON of --sandbox-policy. It accepts what
// the helper's serde_json accepts except unknown fields, which it rejects.
func ParseSandboxPolicy(s string) (SandboxPolicy, error) {
	raw, err := topLevelJSON(sandboxPolicyCtx, s)
	if err != nil {
		return SandboxPolicy{}, err
	}
	return decodeSandboxPolicy(raw)
}

// UnmarshalJSON implements json.Unmarshaler with ParseSandboxPolicy's rules.
func (p *SandboxPolicy) UnmarshalJSON(b []byte) error {
	v, err := ParseSandboxPolicy(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

func decodeSandboxPolicy(raw json.RawMessage) (SandboxPolicy, error) {
	o, err := parseJSONObject(sandboxPolicyCtx, raw)
	if err != nil {
		return SandboxPolicy{}, err
	}
	tag, _, err := o.str("type", true)
	if err != nil {
		return SandboxPolicy{}, err
	}
	p := SandboxPolicy{Type: SandboxPolicyType(tag)}
	switch p.Type {
	case PolicyDangerFullAccess:
		return p, o.finish("type")
	case PolicyReadOnly:
		if p.Access, err = decodeReadOnlyAccess(o, "access"); err != nil {
			return SandboxPolicy{}, err
		}
		if p.NetworkAccess, err = o.boolean("network_access", false); err != nil {
			return SandboxPolicy{}, err
		}
		return p, o.finish("type", "access", "network_access")
	case PolicyExternalSandbox:
		net, ok, err := o.str("network_access", false)
		if err != nil {
			return SandboxPolicy{}, err
		}
		switch {
		case !ok || net == "restricted":
		case net == "enabled":
			p.NetworkAccess = true
		default:
			return SandboxPolicy{}, variantErr(sandboxPolicyCtx, "network_access", net, []string{"restricted", "enabled"})
		}
		return p, o.finish("type", "network_access")
	case PolicyWorkspaceWrite:
		if p.WritableRoots, err = o.paths("writable_roots"); err != nil {
			return SandboxPolicy{}, err
		}
		if p.Access, err = decodeReadOnlyAccess(o, "read_only_access"); err != nil {
			return SandboxPolicy{}, err
		}
		if p.NetworkAccess, err = o.boolean("network_access", false); err != nil {
			return SandboxPolicy{}, err
		}
		if p.ExcludeTmpdirEnvVar, err = o.boolean("exclude_tmpdir_env_var", false); err != nil {
			return SandboxPolicy{}, err
		}
		if p.ExcludeSlashTmp, err = o.boolean("exclude_slash_tmp", false); err != nil {
			return SandboxPolicy{}, err
		}
		return p, o.finish("type", "writable_roots", "read_only_access", "network_access", "exclude_tmpdir_env_var", "exclude_slash_tmp")
	default:
		return SandboxPolicy{}, variantErr(sandboxPolicyCtx, "type", tag, sandboxPolicyTypes)
	}
}

func decodeReadOnlyAccess(parent *jsonObject, field string) (ReadOnlyAccess, error) {
	raw, ok := parent.get(field)
	if !ok {
		return ReadOnlyAccess{}, nil // default: full access
	}
	o, err := parseJSONObject(parent.ctx+": field "+fmt.Sprintf("%q", field), raw)
	if err != nil {
		return ReadOnlyAccess{}, err
	}
	tag, _, err := o.str("type", true)
	if err != nil {
		return ReadOnlyAccess{}, err
	}
	switch tag {
	case "full-access":
		return ReadOnlyAccess{}, o.finish("type")
	case "restricted":
		a := ReadOnlyAccess{Restricted: true}
		if a.IncludePlatformDefaults, err = o.boolean("include_platform_defaults", true); err != nil {
			return ReadOnlyAccess{}, err
		}
		if a.ReadableRoots, err = o.paths("readable_roots"); err != nil {
			return ReadOnlyAccess{}, err
		}
		return a, o.finish("type", "include_platform_defaults", "readable_roots")
	default:
		return ReadOnlyAccess{}, variantErr(o.ctx, "type", tag, []string{"restricted", "full-access"})
	}
}

// MarshalJSON renders the policy exactly like the helper (serde_json,
// compact, fields in declaration order, defaults omitted per §1.2). It
// fails for an unknown Type or a path that is not clean and absolute.
func (p SandboxPolicy) MarshalJSON() ([]byte, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	var w jsonWriter
	w.raw(`{"type":`)
	w.str(string(p.Type))
	switch p.Type {
	case PolicyReadOnly:
		if p.Access.Restricted {
			w.key("access", false)
			p.Access.write(&w)
		}
		if p.NetworkAccess {
			w.key("network_access", false)
			w.boolean(true)
		}
	case PolicyExternalSandbox:
		w.key("network_access", false)
		if p.NetworkAccess {
			w.str("enabled")
		} else {
			w.str("restricted")
		}
	case PolicyWorkspaceWrite:
		if len(p.WritableRoots) > 0 {
			w.key("writable_roots", false)
			w.strs(p.WritableRoots)
		}
		if p.Access.Restricted {
			w.key("read_only_access", false)
			p.Access.write(&w)
		}
		w.key("network_access", false)
		w.boolean(p.NetworkAccess)
		w.key("exclude_tmpdir_env_var", false)
		w.boolean(p.ExcludeTmpdirEnvVar)
		w.key("exclude_slash_tmp", false)
		w.boolean(p.ExcludeSlashTmp)
	}
	w.raw("}")
	return w.b.Bytes(), nil
}

func (p SandboxPolicy) validate() error {
	switch p.Type {
	case PolicyDangerFullAccess, PolicyReadOnly, PolicyExternalSandbox, PolicyWorkspaceWrite:
	default:
		return fmt.Errorf("sandbox policy: cannot serialise unknown type %q", string(p.Type))
	}
	if err := checkAbsPaths("sandbox policy: writable_roots", p.WritableRoots); err != nil {
		return err
	}
	return checkAbsPaths("sandbox policy: readable_roots", p.Access.ReadableRoots)
}

// MarshalJSON renders the access object on its own.
func (a ReadOnlyAccess) MarshalJSON() ([]byte, error) {
	if err := checkAbsPaths("read-only access: readable_roots", a.ReadableRoots); err != nil {
		return nil, err
	}
	var w jsonWriter
	a.write(&w)
	return w.b.Bytes(), nil
}

func (a ReadOnlyAccess) write(w *jsonWriter) {
	if !a.Restricted {
		w.raw(`{"type":"full-access"}`)
		return
	}
	w.raw(`{"type":"restricted","include_platform_defaults":`)
	w.boolean(a.IncludePlatformDefaults)
	if len(a.ReadableRoots) > 0 {
		w.key("readable_roots", false)
		w.strs(a.ReadableRoots)
	}
	w.raw("}")
}

// String formats the policy like the helper's Rust Debug output, which is
// what the "legacy sandbox policy must match" error prints, e.g.
// `ReadOnly { access: FullAccess, network_access: false }`.
func (p SandboxPolicy) String() string {
	switch p.Type {
	case PolicyDangerFullAccess:
		return "DangerFullAccess"
	case PolicyReadOnly:
		return fmt.Sprintf("ReadOnly { access: %s, network_access: %t }", p.Access, p.NetworkAccess)
	case PolicyExternalSandbox:
		net := "Restricted"
		if p.NetworkAccess {
			net = "Enabled"
		}
		return "ExternalSandbox { network_access: " + net + " }"
	case PolicyWorkspaceWrite:
		return fmt.Sprintf("WorkspaceWrite { writable_roots: %s, read_only_access: %s, network_access: %t, exclude_tmpdir_env_var: %t, exclude_slash_tmp: %t }",
			rustDebugPaths(p.WritableRoots), p.Access, p.NetworkAccess, p.ExcludeTmpdirEnvVar, p.ExcludeSlashTmp)
	}
	return fmt.Sprintf("InvalidSandboxPolicy(%q)", string(p.Type))
}

// String is the Rust Debug form of the access.
func (a ReadOnlyAccess) String() string {
	if !a.Restricted {
		return "FullAccess"
	}
	return fmt.Sprintf("Restricted { include_platform_defaults: %t, readable_roots: %s }", a.IncludePlatformDefaults, rustDebugPaths(a.ReadableRoots))
}

// HasFullDiskReadAccess: danger-full-access and external-sandbox always;
// the others when their access is full-access.
func (p SandboxPolicy) HasFullDiskReadAccess() bool {
	switch p.Type {
	case PolicyDangerFullAccess, PolicyExternalSandbox:
		return true
	case PolicyReadOnly, PolicyWorkspaceWrite:
		return !p.Access.Restricted
	}
	return false
}

// HasFullDiskWriteAccess: danger-full-access and external-sandbox only.
func (p SandboxPolicy) HasFullDiskWriteAccess() bool {
	return p.Type == PolicyDangerFullAccess || p.Type == PolicyExternalSandbox
}

// HasFullNetworkAccess: danger-full-access always, otherwise the
// variant's network setting.
func (p SandboxPolicy) HasFullNetworkAccess() bool {
	switch p.Type {
	case PolicyDangerFullAccess:
		return true
	case PolicyExternalSandbox, PolicyReadOnly, PolicyWorkspaceWrite:
		return p.NetworkAccess
	}
	return false
}

// IncludePlatformDefaults: reads are restricted and the access asks for
// the platform default read roots.
func (p SandboxPolicy) IncludePlatformDefaults() bool {
	return !p.HasFullDiskReadAccess() && p.Access.Restricted && p.Access.IncludePlatformDefaults
}

// WritableRoot is one writable root and the subpaths that stay read-only
// below it (§1.6 protected subpaths plus carve-outs, §1.5).
type WritableRoot struct {
	Root             string
	ReadOnlySubpaths []string
}

// IsPathWritable: p is under Root and under none of the read-only
// subpaths (component-wise, lexical).
func (r WritableRoot) IsPathWritable(p string) bool {
	if !pathUnder(p, r.Root) {
		return false
	}
	for _, s := range r.ReadOnlySubpaths {
		if pathUnder(p, s) {
			return false
		}
	}
	return true
}

func (r WritableRoot) equal(o WritableRoot) bool {
	return r.Root == o.Root && equalStrings(r.ReadOnlySubpaths, o.ReadOnlySubpaths)
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// WritableRootsWithCwd (workspace-write only; nil otherwise): the explicit
// writable_roots, then cwd, then /tmp (if a directory and not excluded),
// then $TMPDIR (if set, non-empty, absolute and not excluded), each with
// its protected read-only subpaths. Roots are not de-duplicated and not
// canonicalised (the bwrap renderer drops missing ones). A root that is
// the cwd also protects a missing or non-directory <cwd>/.codex
// (v0.118+, #15067; the 0.125 reference helper does this).
func (p SandboxPolicy) WritableRootsWithCwd(fsys FS, cwd string) []WritableRoot {
	if p.Type != PolicyWorkspaceWrite {
		return nil
	}
	roots := append([]string(nil), p.WritableRoots...)
	c, cerr := NormalizeAbs(cwd)
	if cerr == nil {
		roots = append(roots, c)
	}
	if !p.ExcludeSlashTmp && isDir(fsys, "/tmp") {
		roots = append(roots, "/tmp")
	}
	if !p.ExcludeTmpdirEnvVar {
		if t := tmpdirEnv(); t != "" {
			roots = append(roots, t)
		}
	}
	out := make([]WritableRoot, 0, len(roots))
	for _, r := range roots {
		protectCodex := cerr == nil && r == c
		out = append(out, WritableRoot{Root: r, ReadOnlySubpaths: defaultReadOnlySubpaths(fsys, r, protectCodex)})
	}
	return out
}

// ReadableRootsWithCwd is empty when reads are full; otherwise the
// readable_roots, the cwd, and (workspace-write) the writable roots,
// de-duplicated in that order.
func (p SandboxPolicy) ReadableRootsWithCwd(fsys FS, cwd string) []string {
	if p.HasFullDiskReadAccess() {
		return nil
	}
	roots := append([]string(nil), p.Access.ReadableRoots...)
	if c, err := NormalizeAbs(cwd); err == nil {
		roots = append(roots, c)
	}
	for _, w := range p.WritableRootsWithCwd(fsys, cwd) {
		roots = append(roots, w.Root)
	}
	return dedupPaths(fsys, roots, false)
}

// maxGitPointerSize bounds how much of a `.git` file is read; git itself
// refuses larger gitfiles, so nothing legitimate is lost.
const maxGitPointerSize = 1 << 20

// defaultReadOnlySubpaths is §1.6 for one writable root: <root>/.git when
// it is a directory or a regular file (plus, for a `gitdir: <path>` file,
// the existing gitdir it points to, listed first), <root>/.agents when it
// is a directory, and <root>/.codex when it is a directory or, with
// protectMissingCodex (the root is the cwd), whatever it is: missing, a
// plain file, anything. That last rule is v0.118+ (#15067) and what the
// 0.125 reference helper does: the target must not be able to create
// the project's .codex (its config) without going through the host's
// approval flow; the renderer masks a missing one with /dev/null. Stat
// follows symlinks, like the helper's is_dir()/is_file(); the paths
// themselves stay literal so the renderer can mask a symlinked
// .git/.codex inode itself.
func defaultReadOnlySubpaths(fsys FS, root string, protectMissingCodex bool) []string {
	var subpaths []string
	git := filepath.Join(root, ".git")
	gitIsDir, gitIsFile := isDir(fsys, git), isRegular(fsys, git)
	if gitIsDir || gitIsFile {
		if gitIsFile {
			if gd, ok := resolveGitdir(fsys, git); ok {
				subpaths = append(subpaths, gd)
			}
		}
		subpaths = append(subpaths, git)
	}
	if d := filepath.Join(root, ".agents"); isDir(fsys, d) {
		subpaths = append(subpaths, d)
	}
	if d := filepath.Join(root, ".codex"); protectMissingCodex || isDir(fsys, d) {
		subpaths = append(subpaths, d)
	}
	return dedupPaths(fsys, subpaths, false)
}

// resolveGitdir reads a `.git` pointer file (worktrees, submodules):
// trimmed content, everything after the first ':' trimmed, resolved
// against the directory holding .git; it must exist. Failures only mean
// the extra path is not protected (the helper logs and carries on); the
// .git file itself stays protected either way.
func resolveGitdir(fsys FS, dotGit string) (string, bool) {
	if st, err := fsys.Stat(dotGit); err != nil || st.Size() > maxGitPointerSize {
		return "", false
	}
	data, err := fsys.ReadFile(dotGit)
	if err != nil || len(data) > maxGitPointerSize || !utf8.Valid(data) {
		return "", false
	}
	_, raw, ok := strings.Cut(strings.TrimSpace(string(data)), ":")
	if !ok {
		return "", false
	}
	raw = strings.TrimSpace(raw)
	if raw == "" || strings.IndexByte(raw, 0) >= 0 {
		return "", false
	}
	gd := resolveAgainstBase(raw, filepath.Dir(dotGit))
	if !exists(fsys, gd) {
		return "", false
	}
	return gd, true
}

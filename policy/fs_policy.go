package policy

// The split filesystem policy of the Codex helper (flag
// --file-system-sandbox-policy, spec codex-helper.md §1.4-§1.7): a kind
// plus an ordered list of {path, access} entries, the queries the helper
// derives its mounts from, and the conversions to and from the legacy
// SandboxPolicy.

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// FSKind is the policy's "kind".
type FSKind string

const (
	FSRestricted      FSKind = "restricted"
	FSUnrestricted    FSKind = "unrestricted"
	FSExternalSandbox FSKind = "external-sandbox"
)

// FSAccess is an entry's access mode. Between equally specific entries
// the conflict precedence is none > write > read.
type FSAccess string

const (
	AccessRead  FSAccess = "read"
	AccessWrite FSAccess = "write"
	AccessNone  FSAccess = "none"
)

// CanRead: read or write.
func (a FSAccess) CanRead() bool { return a == AccessRead || a == AccessWrite }

// CanWrite: write only.
func (a FSAccess) CanWrite() bool { return a == AccessWrite }

// rank orders accesses by conflict precedence (read < write < none).
func (a FSAccess) rank() int {
	switch a {
	case AccessRead:
		return 0
	case AccessWrite:
		return 1
	}
	return 2 // none (and anything invalid: fail closed)
}

// SpecialKind is the "kind" of a special path.
type SpecialKind string

const (
	// SpecialRoot: the filesystem root of the cwd ("/").
	SpecialRoot SpecialKind = "root"
	// SpecialMinimal: no path; a readable :minimal entry turns on the
	// platform default read roots.
	SpecialMinimal SpecialKind = "minimal"
	// SpecialCurrentWorkingDirectory: the policy cwd.
	SpecialCurrentWorkingDirectory SpecialKind = "current_working_directory"
	// SpecialProjectRoots: the cwd, or cwd/Subpath.
	SpecialProjectRoots SpecialKind = "project_roots"
	// SpecialTmpdir: $TMPDIR when set, non-empty and absolute.
	SpecialTmpdir SpecialKind = "tmpdir"
	// SpecialSlashTmp: /tmp when it is a directory.
	SpecialSlashTmp SpecialKind = "slash_tmp"
	// SpecialUnknown: a token from a newer Codex (Path holds it, e.g.
	// ":future"); resolves to nothing, the entry is ignored.
	SpecialUnknown SpecialKind = "unknown"
)

var specialKinds = []string{
	string(SpecialRoot), string(SpecialMinimal), string(SpecialCurrentWorkingDirectory),
	string(SpecialProjectRoots), string(SpecialTmpdir), string(SpecialSlashTmp), string(SpecialUnknown),
}

// FSPath is a FileSystemPath:
//
//	{"type":"path","path":"/abs"}                          Special == ""
//	{"type":"special","value":{"kind":"root"}}             Special == SpecialRoot, ...
//	{"type":"special","value":{"kind":"project_roots","subpath":"docs"}}
//	{"type":"special","value":{"kind":"unknown","path":":x","subpath":"y"}}
type FSPath struct {
	// Special is "" for a plain path, else the special kind.
	Special SpecialKind
	// Path is the clean absolute path of a plain entry, or the token of
	// a SpecialUnknown one; empty otherwise.
	Path string
	// Subpath is the optional subpath of SpecialProjectRoots and
	// SpecialUnknown (Rust Option<PathBuf>: any string, relative or not).
	Subpath *string
}

// PlainPath is {"type":"path","path":p}; p must be clean and absolute.
func PlainPath(p string) FSPath { return FSPath{Path: p} }

// SpecialPath is {"type":"special","value":{"kind":k}}.
func SpecialPath(k SpecialKind) FSPath { return FSPath{Special: k} }

// ProjectRootsPath is :project_roots with a subpath.
func ProjectRootsPath(subpath string) FSPath {
	return FSPath{Special: SpecialProjectRoots, Subpath: &subpath}
}

// FSEntry is one {"path":..,"access":..} entry.
type FSEntry struct {
	Path   FSPath
	Access FSAccess
}

// FileSystemPolicy is FileSystemSandboxPolicy.
type FileSystemPolicy struct {
	Kind    FSKind
	Entries []FSEntry
}

// DefaultFileSystemPolicy is the helper's Default: restricted, :root read.
func DefaultFileSystemPolicy() FileSystemPolicy {
	return RestrictedFileSystemPolicy(FSEntry{Path: SpecialPath(SpecialRoot), Access: AccessRead})
}

// RestrictedFileSystemPolicy is {"kind":"restricted","entries":[...]}.
func RestrictedFileSystemPolicy(entries ...FSEntry) FileSystemPolicy {
	return FileSystemPolicy{Kind: FSRestricted, Entries: entries}
}

// PlatformDefaultReadRoots are made readable in tmpfs-root mode when the
// policy includes platform defaults, and only those that exist (§3.4).
var PlatformDefaultReadRoots = []string{"/bin", "/sbin", "/usr", "/etc", "/lib", "/lib64", "/nix/store", "/run/current-system/sw"}

// ErrWritesOutsideWorkspace is ToLegacy's error for a restricted policy
// that writes somewhere other than the cwd and tmp dirs; the message is
// the helper's.
var ErrWritesOutsideWorkspace = errors.New("permissions profile requests filesystem writes outside the workspace root, which is not supported until the runtime enforces FileSystemSandboxPolicy directly")

// ---------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------

const fsPolicyCtx = "file-system sandbox policy"

// ParseFileSystemPolicy parses the JSON of --file-system-sandbox-policy.
// It accepts what the helper's serde_json accepts except unknown fields,
// which it rejects.
func ParseFileSystemPolicy(s string) (FileSystemPolicy, error) {
	raw, err := topLevelJSON(fsPolicyCtx, s)
	if err != nil {
		return FileSystemPolicy{}, err
	}
	return decodeFileSystemPolicy(raw)
}

// UnmarshalJSON implements json.Unmarshaler with ParseFileSystemPolicy's rules.
func (p *FileSystemPolicy) UnmarshalJSON(b []byte) error {
	v, err := ParseFileSystemPolicy(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

func decodeFileSystemPolicy(raw json.RawMessage) (FileSystemPolicy, error) {
	o, err := parseJSONObject(fsPolicyCtx, raw)
	if err != nil {
		return FileSystemPolicy{}, err
	}
	kind, _, err := o.str("kind", true)
	if err != nil {
		return FileSystemPolicy{}, err
	}
	p := FileSystemPolicy{Kind: FSKind(kind)}
	switch p.Kind {
	case FSRestricted, FSUnrestricted, FSExternalSandbox:
	default:
		return FileSystemPolicy{}, variantErr(fsPolicyCtx, "kind", kind, []string{"restricted", "unrestricted", "external-sandbox"})
	}
	if rawEntries, ok := o.get("entries"); ok {
		elems, err := jsonArray(rawEntries)
		if err != nil {
			return FileSystemPolicy{}, o.errf("field \"entries\": %w", err)
		}
		for i, e := range elems {
			entry, err := decodeFSEntry(fmt.Sprintf("%s: entries[%d]", fsPolicyCtx, i), e)
			if err != nil {
				return FileSystemPolicy{}, err
			}
			p.Entries = append(p.Entries, entry)
		}
	}
	return p, o.finish("kind", "entries")
}

func decodeFSEntry(ctx string, raw json.RawMessage) (FSEntry, error) {
	o, err := parseJSONObject(ctx, raw)
	if err != nil {
		return FSEntry{}, err
	}
	rawPath, ok := o.get("path")
	if !ok {
		return FSEntry{}, o.errf("missing field %q", "path")
	}
	path, err := decodeFSPath(ctx+".path", rawPath)
	if err != nil {
		return FSEntry{}, err
	}
	acc, _, err := o.str("access", true)
	if err != nil {
		return FSEntry{}, err
	}
	switch a := FSAccess(acc); a {
	case AccessRead, AccessWrite, AccessNone:
		return FSEntry{Path: path, Access: a}, o.finish("path", "access")
	}
	return FSEntry{}, variantErr(ctx, "access", acc, []string{"read", "write", "none"})
}

func decodeFSPath(ctx string, raw json.RawMessage) (FSPath, error) {
	o, err := parseJSONObject(ctx, raw)
	if err != nil {
		return FSPath{}, err
	}
	typ, _, err := o.str("type", true)
	if err != nil {
		return FSPath{}, err
	}
	switch typ {
	case "path":
		s, _, err := o.str("path", true)
		if err != nil {
			return FSPath{}, err
		}
		p, err := parseJSONPath(s)
		if err != nil {
			return FSPath{}, o.errf("field %q: %w", "path", err)
		}
		return FSPath{Path: p}, o.finish("type", "path")
	case "special":
		rawVal, ok := o.get("value")
		if !ok {
			return FSPath{}, o.errf("missing field %q", "value")
		}
		sp, err := decodeSpecialPath(ctx+".value", rawVal)
		if err != nil {
			return FSPath{}, err
		}
		return sp, o.finish("type", "value")
	}
	return FSPath{}, variantErr(ctx, "type", typ, []string{"path", "special"})
}

func decodeSpecialPath(ctx string, raw json.RawMessage) (FSPath, error) {
	o, err := parseJSONObject(ctx, raw)
	if err != nil {
		return FSPath{}, err
	}
	kind, _, err := o.str("kind", true)
	if err != nil {
		return FSPath{}, err
	}
	p := FSPath{Special: SpecialKind(kind)}
	switch p.Special {
	case SpecialRoot, SpecialMinimal, SpecialCurrentWorkingDirectory, SpecialTmpdir, SpecialSlashTmp:
		return p, o.finish("kind")
	case SpecialProjectRoots, SpecialUnknown:
		allowed := []string{"kind", "subpath"}
		if p.Special == SpecialUnknown {
			allowed = []string{"kind", "path", "subpath"}
			if p.Path, _, err = o.str("path", true); err != nil {
				return FSPath{}, err
			}
		}
		if p.Subpath, err = o.optStr("subpath"); err != nil {
			return FSPath{}, err
		}
		if p.Subpath != nil && strings.IndexByte(*p.Subpath, 0) >= 0 {
			return FSPath{}, o.errf("field %q: path %q contains a NUL byte", "subpath", *p.Subpath)
		}
		return p, o.finish(allowed...)
	}
	return FSPath{}, variantErr(ctx, "kind", kind, specialKinds)
}

// MarshalJSON renders the policy exactly like the helper: compact,
// `entries` omitted when empty. It fails for invalid kinds, accesses or
// paths (which the helper's types cannot represent).
func (p FileSystemPolicy) MarshalJSON() ([]byte, error) {
	switch p.Kind {
	case FSRestricted, FSUnrestricted, FSExternalSandbox:
	default:
		return nil, fmt.Errorf("%s: cannot serialise unknown kind %q", fsPolicyCtx, string(p.Kind))
	}
	var w jsonWriter
	w.raw(`{"kind":`)
	w.str(string(p.Kind))
	if len(p.Entries) > 0 {
		w.raw(`,"entries":[`)
		for i, e := range p.Entries {
			if i > 0 {
				w.raw(",")
			}
			if err := e.write(&w); err != nil {
				return nil, fmt.Errorf("%s: entries[%d]: %w", fsPolicyCtx, i, err)
			}
		}
		w.raw("]")
	}
	w.raw("}")
	return w.b.Bytes(), nil
}

// MarshalJSON renders one entry.
func (e FSEntry) MarshalJSON() ([]byte, error) {
	var w jsonWriter
	if err := e.write(&w); err != nil {
		return nil, err
	}
	return w.b.Bytes(), nil
}

func (e FSEntry) write(w *jsonWriter) error {
	switch e.Access {
	case AccessRead, AccessWrite, AccessNone:
	default:
		return fmt.Errorf("cannot serialise unknown access %q", string(e.Access))
	}
	w.raw(`{"path":`)
	if err := e.Path.write(w); err != nil {
		return err
	}
	w.raw(`,"access":`)
	w.str(string(e.Access))
	w.raw("}")
	return nil
}

func (p FSPath) write(w *jsonWriter) error {
	if p.Special == "" {
		if err := checkAbsPaths("path", []string{p.Path}); err != nil {
			return err
		}
		if p.Subpath != nil {
			return fmt.Errorf("plain path %q cannot have a subpath", p.Path)
		}
		w.raw(`{"type":"path","path":`)
		w.str(p.Path)
		w.raw("}")
		return nil
	}
	switch p.Special {
	case SpecialRoot, SpecialMinimal, SpecialCurrentWorkingDirectory, SpecialTmpdir, SpecialSlashTmp:
		if p.Path != "" || p.Subpath != nil {
			return fmt.Errorf("special path %q takes no path or subpath", string(p.Special))
		}
	case SpecialProjectRoots:
		if p.Path != "" {
			return fmt.Errorf("special path %q takes no path", string(p.Special))
		}
	case SpecialUnknown:
	default:
		return fmt.Errorf("cannot serialise unknown special path kind %q", string(p.Special))
	}
	w.raw(`{"type":"special","value":{"kind":`)
	w.str(string(p.Special))
	if p.Special == SpecialUnknown {
		w.raw(`,"path":`)
		w.str(p.Path)
	}
	if p.Subpath != nil {
		w.raw(`,"subpath":`)
		w.str(*p.Subpath)
	}
	w.raw("}}")
	return nil
}

// ---------------------------------------------------------------------
// Resolution and queries (§1.4, §1.5)
// ---------------------------------------------------------------------

type resolvedEntry struct {
	path   string
	access FSAccess
}

// policyCwd is the helper's AbsolutePathBuf::from_absolute_path(cwd).ok().
func policyCwd(cwd string) (string, bool) {
	c, err := NormalizeAbs(cwd)
	return c, err == nil
}

// resolveFSPath maps an entry path to a concrete absolute path, or false
// when it names nothing (minimal, unknown, unset $TMPDIR, missing /tmp,
// or a cwd-relative special without an absolute cwd).
func resolveFSPath(fsys FS, p FSPath, cwd string, cwdOK bool) (string, bool) {
	switch p.Special {
	case "":
		return p.Path, true
	case SpecialRoot:
		// The filesystem root of the cwd; only defined with a cwd.
		return "/", cwdOK
	case SpecialCurrentWorkingDirectory:
		return cwd, cwdOK
	case SpecialProjectRoots:
		if !cwdOK {
			return "", false
		}
		if p.Subpath == nil {
			return cwd, true
		}
		r := resolveAgainstBase(*p.Subpath, cwd)
		return r, filepath.IsAbs(r)
	case SpecialTmpdir:
		t := tmpdirEnv()
		return t, t != ""
	case SpecialSlashTmp:
		return "/tmp", isDir(fsys, "/tmp")
	}
	return "", false // minimal, unknown
}

func (p FileSystemPolicy) resolvedEntries(fsys FS, cwd string) []resolvedEntry {
	c, ok := policyCwd(cwd)
	var out []resolvedEntry
	for _, e := range p.Entries {
		if path, found := resolveFSPath(fsys, e.Path, c, ok); found {
			out = append(out, resolvedEntry{path: path, access: e.Access})
		}
	}
	return out
}

// accessIn applies the precedence rule to a clean absolute path: among
// entries that are a whole-component prefix of it, the most specific
// (most components) wins, ties go none > write > read; no match is none.
func accessIn(entries []resolvedEntry, path string) FSAccess {
	best, bestLen, found := AccessNone, -1, false
	for _, e := range entries {
		if !pathUnder(path, e.path) {
			continue
		}
		n := componentCount(e.path)
		if !found || n > bestLen || (n == bestLen && e.access.rank() > best.rank()) {
			best, bestLen, found = e.access, n, true
		}
	}
	return best
}

// ResolveAccess is resolve_access_with_cwd: unrestricted and
// external-sandbox policies grant write everywhere; a restricted one
// applies the precedence rule to path (made absolute against cwd when
// relative; "~" expands to $HOME).
func (p FileSystemPolicy) ResolveAccess(fsys FS, path, cwd string) FSAccess {
	switch p.Kind {
	case FSUnrestricted, FSExternalSandbox:
		return AccessWrite
	case FSRestricted:
	default:
		return AccessNone
	}
	e := expandHome(path)
	var cand string
	switch c, ok := policyCwd(cwd); {
	case filepath.IsAbs(e):
		cand = filepath.Clean(e)
	case ok:
		cand = filepath.Join(c, e)
	default:
		return AccessNone
	}
	return accessIn(p.resolvedEntries(fsys, cwd), cand)
}

func (p FileSystemPolicy) hasRootAccess(pred func(FSAccess) bool) bool {
	if p.Kind != FSRestricted {
		return false
	}
	for _, e := range p.Entries {
		if e.Path.Special == SpecialRoot && pred(e.Access) {
			return true
		}
	}
	return false
}

func (p FileSystemPolicy) hasExplicitDenyEntries() bool {
	if p.Kind != FSRestricted {
		return false
	}
	for _, e := range p.Entries {
		if e.Access == AccessNone {
			return true
		}
	}
	return false
}

// specialsShareTarget: the same kind (and subpath), or cwd vs
// project_roots without a subpath.
func specialsShareTarget(a, b FSPath) bool {
	isCwd := func(p FSPath) bool {
		return p.Special == SpecialCurrentWorkingDirectory || (p.Special == SpecialProjectRoots && p.Subpath == nil)
	}
	if isCwd(a) && isCwd(b) {
		return true
	}
	if a.Special != b.Special {
		return false
	}
	switch a.Special {
	case SpecialProjectRoots:
		return optEqual(a.Subpath, b.Subpath)
	case SpecialUnknown:
		return a.Path == b.Path && optEqual(a.Subpath, b.Subpath)
	}
	return true
}

func optEqual(a, b *string) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// pathsShareTarget is file_system_paths_share_target: whether two entries
// name the same location without resolving anything; only the cwd-free
// specials :root (= "/") and :slash_tmp (= "/tmp") fold onto plain paths.
func pathsShareTarget(a, b FSPath) bool {
	switch {
	case a.Special == "" && b.Special == "":
		return a.Path == b.Path
	case a.Special != "" && b.Special != "":
		return specialsShareTarget(a, b)
	}
	plain, special := a, b
	if a.Special != "" {
		plain, special = b, a
	}
	switch special.Special {
	case SpecialRoot:
		return plain.Path == "/"
	case SpecialSlashTmp:
		return plain.Path == "/tmp"
	}
	return false
}

// hasWriteNarrowingEntries: some non-write entry really reduces a
// `:root = write` grant, i.e. it is not shadowed by a same-target write
// entry. :minimal and unknown never narrow; :root narrows only as none.
func (p FileSystemPolicy) hasWriteNarrowingEntries() bool {
	if p.Kind != FSRestricted {
		return false
	}
	for _, e := range p.Entries {
		if e.Access.CanWrite() {
			continue
		}
		switch e.Path.Special {
		case SpecialRoot:
			if e.Access == AccessNone {
				return true
			}
			continue
		case SpecialMinimal, SpecialUnknown:
			continue
		}
		if !p.hasSameTargetWriteOverride(e) {
			return true
		}
	}
	return false
}

func (p FileSystemPolicy) hasSameTargetWriteOverride(e FSEntry) bool {
	for _, c := range p.Entries {
		if c.Access.CanWrite() && c.Access.rank() > e.Access.rank() && pathsShareTarget(c.Path, e.Path) {
			return true
		}
	}
	return false
}

// HasFullDiskReadAccess: unrestricted/external-sandbox always; restricted
// when a :root entry can read and no entry anywhere is none (any deny
// forces the per-root mount layout).
func (p FileSystemPolicy) HasFullDiskReadAccess() bool {
	switch p.Kind {
	case FSUnrestricted, FSExternalSandbox:
		return true
	case FSRestricted:
		return p.hasRootAccess(FSAccess.CanRead) && !p.hasExplicitDenyEntries()
	}
	return false
}

// HasFullDiskWriteAccess: unrestricted/external-sandbox always; restricted
// when :root = write and no entry narrows it.
func (p FileSystemPolicy) HasFullDiskWriteAccess() bool {
	switch p.Kind {
	case FSUnrestricted, FSExternalSandbox:
		return true
	case FSRestricted:
		return p.hasRootAccess(FSAccess.CanWrite) && !p.hasWriteNarrowingEntries()
	}
	return false
}

// IncludePlatformDefaults: restricted, reads not full, and a :minimal
// entry that can read.
func (p FileSystemPolicy) IncludePlatformDefaults() bool {
	if p.HasFullDiskReadAccess() || p.Kind != FSRestricted {
		return false
	}
	for _, e := range p.Entries {
		if e.Path.Special == SpecialMinimal && e.Access.CanRead() {
			return true
		}
	}
	return false
}

// ReadableRootsWithCwd: nil when reads are full; otherwise every
// resolvable readable entry whose own path is readable under the
// precedence rule, in effective form, de-duplicated, in entry order.
func (p FileSystemPolicy) ReadableRootsWithCwd(fsys FS, cwd string) []string {
	if p.HasFullDiskReadAccess() {
		return nil
	}
	resolved := p.resolvedEntries(fsys, cwd)
	var paths []string
	for _, e := range resolved {
		if e.access.CanRead() && accessIn(resolved, e.path).CanRead() {
			paths = append(paths, e.path)
		}
	}
	return dedupPaths(fsys, paths, true)
}

// WritableRootsWithCwd: nil when writes are full; otherwise every
// resolvable write entry whose own path is writable under the precedence
// rule, in effective form, de-duplicated. Each root's ReadOnlySubpaths
// are the §1.6 protected subpaths followed by the carve-outs: resolved
// non-write entries whose path is not writable and lies under the root.
// As in the 0.125 reference helper, the root that is the (effective) cwd
// protects <cwd>/.codex even when it is missing or a plain file, and a
// protected subpath that some entry names explicitly is left out of the
// defaults: the entry decides (a write entry lifts the protection, a
// read or none entry adds it back as a carve-out, in entry order).
// A carve-out keeps its literal path when it lies under the root
// literally (or under a symlinked spelling of the root, re-rooted onto
// the effective root), so the renderer can mask a symlink inode instead
// of its target; otherwise its effective path is used when that lies
// under the root. The root "/" always uses effective paths.
func (p FileSystemPolicy) WritableRootsWithCwd(fsys FS, cwd string) []WritableRoot {
	if p.HasFullDiskWriteAccess() {
		return nil
	}
	resolved := p.resolvedEntries(fsys, cwd)
	var writable []string
	for _, e := range resolved {
		if e.access.CanWrite() && accessIn(resolved, e.path).CanWrite() {
			writable = append(writable, e.path)
		}
	}
	roots := dedupPaths(fsys, writable, true)
	c, cwdOK := policyCwd(cwd)
	effCwd := ""
	if cwdOK {
		effCwd = EffectivePath(fsys, c)
	}
	out := make([]WritableRoot, 0, len(roots))
	for _, root := range roots {
		preserveRaw := root != "/"
		var rawRoots []string
		for _, w := range writable {
			if EffectivePath(fsys, w) == root {
				rawRoots = append(rawRoots, w)
			}
		}
		var subpaths []string
		for _, d := range defaultReadOnlySubpaths(fsys, root, cwdOK && root == effCwd) {
			if !hasResolvedEntry(resolved, d) {
				subpaths = append(subpaths, d)
			}
		}
		for _, e := range resolved {
			if e.access.CanWrite() || accessIn(resolved, e.path).CanWrite() {
				continue
			}
			if preserveRaw {
				if raw, ok := rawCarveout(e.path, root, rawRoots); ok {
					subpaths = append(subpaths, raw)
					continue
				}
			}
			eff := EffectivePath(fsys, e.path)
			if eff == root || !pathUnder(eff, root) {
				continue
			}
			subpaths = append(subpaths, eff)
		}
		out = append(out, WritableRoot{Root: root, ReadOnlySubpaths: dedupPaths(fsys, subpaths, false)})
	}
	return out
}

// hasResolvedEntry: some entry resolves exactly to p
// (has_explicit_resolved_path_entry).
func hasResolvedEntry(entries []resolvedEntry, p string) bool {
	for _, e := range entries {
		if e.path == p {
			return true
		}
	}
	return false
}

// rawCarveout returns the literal spelling of carve-out path p under the
// effective root: p itself when it lies below root, or p re-rooted from
// one of root's literal (possibly symlinked) spellings.
func rawCarveout(p, root string, rawRoots []string) (string, bool) {
	if p == root {
		return "", false
	}
	if pathUnder(p, root) {
		return p, true
	}
	for _, rr := range rawRoots {
		if suffix, ok := stripPathPrefix(p, rr); ok && suffix != "" {
			return filepath.Join(root, suffix), true
		}
	}
	return "", false
}

// UnreadableRootsWithCwd (restricted only): every resolved none entry
// whose path is unreadable under the precedence rule, excluding the
// filesystem root itself (the tmpfs root already hides everything, and a
// mask on / would erase narrower readable carve-outs), de-duplicated.
//
// The paths keep the spelling the 0.125 reference helper masks (its
// "effective" form preserves symlinks, see literalEffectivePath): the
// literal path whenever a symlink below the top level lies on it, so the
// renderer sees (and refuses to mask through) a symlink the target could
// re-point; the canonical one otherwise (/bin/x is /usr/bin/x). A path
// spelled through a symlinked writable root is then re-rooted onto that
// root's effective form, which is where the root is bound.
func (p FileSystemPolicy) UnreadableRootsWithCwd(fsys FS, cwd string) []string {
	if p.Kind != FSRestricted {
		return nil
	}
	_, cwdOK := policyCwd(cwd)
	resolved := p.resolvedEntries(fsys, cwd)
	// Writable roots as spelled (logical) -> as bound (effective).
	type spelling struct{ logical, effective string }
	var rootSpellings []spelling
	if !p.HasFullDiskWriteAccess() {
		for _, e := range resolved {
			if e.access.CanWrite() && accessIn(resolved, e.path).CanWrite() {
				l, eff := literalEffectivePath(fsys, e.path), EffectivePath(fsys, e.path)
				if l != eff {
					rootSpellings = append(rootSpellings, spelling{l, eff})
				}
			}
		}
	}
	var paths []string
	for _, e := range resolved {
		if e.access != AccessNone || accessIn(resolved, e.path).CanRead() {
			continue
		}
		if cwdOK && e.path == "/" {
			continue
		}
		u := literalEffectivePath(fsys, e.path)
		for _, r := range rootSpellings {
			if suffix, ok := stripPathPrefix(u, r.logical); ok && suffix != "" {
				u = filepath.Join(r.effective, suffix)
				break
			}
		}
		paths = append(paths, u)
	}
	return dedupPaths(fsys, paths, false)
}

// fsSignature is what the helper compares to decide whether two
// filesystem policies mean the same thing (order-sensitive, like the
// helper's Vec equality).
type fsSignature struct {
	fullRead, fullWrite, platformDefaults bool
	readable, unreadable                  []string
	writable                              []WritableRoot
}

func (p FileSystemPolicy) signature(fsys FS, cwd string) fsSignature {
	return fsSignature{
		fullRead:         p.HasFullDiskReadAccess(),
		fullWrite:        p.HasFullDiskWriteAccess(),
		platformDefaults: p.IncludePlatformDefaults(),
		readable:         p.ReadableRootsWithCwd(fsys, cwd),
		writable:         p.WritableRootsWithCwd(fsys, cwd),
		unreadable:       p.UnreadableRootsWithCwd(fsys, cwd),
	}
}

func (a fsSignature) equal(b fsSignature) bool {
	if a.fullRead != b.fullRead || a.fullWrite != b.fullWrite || a.platformDefaults != b.platformDefaults ||
		!equalStrings(a.readable, b.readable) || !equalStrings(a.unreadable, b.unreadable) ||
		len(a.writable) != len(b.writable) {
		return false
	}
	for i := range a.writable {
		if !a.writable[i].equal(b.writable[i]) {
			return false
		}
	}
	return true
}

// NeedsDirectRuntimeEnforcement: the policy is restricted and cannot be
// expressed as a legacy SandboxPolicy without changing its meaning (the
// conversion fails, or converting back gives a different semantic
// signature): deny carve-outs, nested read-only carve-outs under writable
// roots, writes outside the cwd.
func (p FileSystemPolicy) NeedsDirectRuntimeEnforcement(fsys FS, net NetworkPolicy, cwd string) bool {
	if p.Kind != FSRestricted {
		return false
	}
	legacy, err := p.ToLegacy(fsys, net, cwd)
	if err != nil {
		return true
	}
	return !p.signature(fsys, cwd).equal(FileSystemPolicyFromLegacyWithCwd(fsys, legacy, cwd).signature(fsys, cwd))
}

// ToLegacy is to_legacy_sandbox_policy (§1.5), as the 0.125 reference
// helper implements it. That is stricter than the v0.117 text of the spec
// in how :root entries count: full reads and writes come from
// HasFullDiskReadAccess/HasFullDiskWriteAccess rather than from the mere
// presence of a :root entry, so a policy whose root access is narrowed by
// carve-outs never becomes danger-full-access, external-sandbox or a
// full-read legacy policy. A :root read entry of such a policy becomes the
// readable root "/", and a narrowed :root write is a write outside the
// workspace (an error unless the cwd is writable). Errors wrap
// ErrWritesOutsideWorkspace.
func (p FileSystemPolicy) ToLegacy(fsys FS, net NetworkPolicy, cwd string) (SandboxPolicy, error) {
	switch p.Kind {
	case FSExternalSandbox:
		return ExternalSandboxPolicy(net.IsEnabled()), nil
	case FSUnrestricted:
		if net.IsEnabled() {
			return DangerFullAccessPolicy(), nil
		}
		return ExternalSandboxPolicy(false), nil
	case FSRestricted:
	default:
		return SandboxPolicy{}, fmt.Errorf("%s: unknown kind %q", fsPolicyCtx, string(p.Kind))
	}
	c, cwdOK := policyCwd(cwd)
	fullRead, fullWrite := p.HasFullDiskReadAccess(), p.HasFullDiskWriteAccess()
	var (
		platformDefaults, workspaceWritable, rootWrite bool
		tmpdirWritable, slashTmpWritable               bool
		writableRoots, readableRoots                   []string
	)
	for _, e := range p.Entries {
		switch e.Path.Special {
		case "":
			if e.Access.CanWrite() {
				if cwdOK && c == e.Path.Path {
					workspaceWritable = true
				} else {
					writableRoots = append(writableRoots, e.Path.Path)
				}
			} else if e.Access.CanRead() {
				readableRoots = append(readableRoots, e.Path.Path)
			}
		case SpecialRoot:
			switch e.Access {
			case AccessRead:
				if r, ok := resolveFSPath(fsys, e.Path, c, cwdOK); ok {
					readableRoots = append(readableRoots, r) // unused when reads are full
				}
			case AccessWrite:
				rootWrite = true // only reached here when narrowed
			}
		case SpecialMinimal:
			if e.Access.CanRead() {
				platformDefaults = true
			}
		case SpecialCurrentWorkingDirectory, SpecialTmpdir, SpecialSlashTmp:
			if e.Access.CanWrite() {
				switch e.Path.Special {
				case SpecialCurrentWorkingDirectory:
					workspaceWritable = true
				case SpecialTmpdir:
					tmpdirWritable = true
				default:
					slashTmpWritable = true
				}
			} else if e.Access.CanRead() {
				if r, ok := resolveFSPath(fsys, e.Path, c, cwdOK); ok {
					readableRoots = append(readableRoots, r)
				}
			}
		case SpecialProjectRoots:
			if e.Path.Subpath == nil && e.Access.CanWrite() {
				workspaceWritable = true
			} else if r, ok := resolveFSPath(fsys, e.Path, c, cwdOK); ok {
				if e.Access.CanWrite() {
					writableRoots = append(writableRoots, r)
				} else if e.Access.CanRead() {
					readableRoots = append(readableRoots, r)
				}
			}
		}
		// none entries and unknown specials are ignored.
	}
	if fullWrite {
		if net.IsEnabled() {
			return DangerFullAccessPolicy(), nil
		}
		return ExternalSandboxPolicy(false), nil
	}
	access := FullReadAccess()
	if !fullRead {
		access = RestrictedReadAccess(platformDefaults, dedupPaths(fsys, readableRoots, false)...)
	}
	switch {
	case workspaceWritable:
		return SandboxPolicy{
			Type:                PolicyWorkspaceWrite,
			WritableRoots:       dedupPaths(fsys, writableRoots, false),
			Access:              access,
			NetworkAccess:       net.IsEnabled(),
			ExcludeTmpdirEnvVar: !tmpdirWritable,
			ExcludeSlashTmp:     !slashTmpWritable,
		}, nil
	case rootWrite || len(writableRoots) > 0 || tmpdirWritable || slashTmpWritable:
		return SandboxPolicy{}, ErrWritesOutsideWorkspace
	}
	return SandboxPolicy{Type: PolicyReadOnly, Access: access, NetworkAccess: net.IsEnabled()}, nil
}

// FileSystemPolicyFromLegacy is FileSystemSandboxPolicy::from(&SandboxPolicy)
// (§1.7). An invalid policy Type maps to a restricted policy without
// entries, which grants nothing.
func FileSystemPolicyFromLegacy(p SandboxPolicy) FileSystemPolicy {
	entry := func(path FSPath, a FSAccess) FSEntry { return FSEntry{Path: path, Access: a} }
	switch p.Type {
	case PolicyDangerFullAccess:
		return FileSystemPolicy{Kind: FSUnrestricted}
	case PolicyExternalSandbox:
		return FileSystemPolicy{Kind: FSExternalSandbox}
	case PolicyReadOnly:
		if !p.Access.Restricted {
			return DefaultFileSystemPolicy()
		}
		entries := []FSEntry{entry(SpecialPath(SpecialCurrentWorkingDirectory), AccessRead)}
		if p.Access.IncludePlatformDefaults {
			entries = append(entries, entry(SpecialPath(SpecialMinimal), AccessRead))
		}
		for _, r := range p.Access.ReadableRoots {
			entries = append(entries, entry(PlainPath(r), AccessRead))
		}
		return RestrictedFileSystemPolicy(entries...)
	case PolicyWorkspaceWrite:
		var entries []FSEntry
		if !p.Access.Restricted {
			entries = append(entries, entry(SpecialPath(SpecialRoot), AccessRead))
		} else {
			if p.Access.IncludePlatformDefaults {
				entries = append(entries, entry(SpecialPath(SpecialMinimal), AccessRead))
			}
			for _, r := range p.Access.ReadableRoots {
				entries = append(entries, entry(PlainPath(r), AccessRead))
			}
		}
		entries = append(entries, entry(SpecialPath(SpecialCurrentWorkingDirectory), AccessWrite))
		if !p.ExcludeSlashTmp {
			entries = append(entries, entry(SpecialPath(SpecialSlashTmp), AccessWrite))
		}
		if !p.ExcludeTmpdirEnvVar {
			entries = append(entries, entry(SpecialPath(SpecialTmpdir), AccessWrite))
		}
		for _, r := range p.WritableRoots {
			entries = append(entries, entry(PlainPath(r), AccessWrite))
		}
		return RestrictedFileSystemPolicy(entries...)
	}
	return FileSystemPolicy{Kind: FSRestricted}
}

// FileSystemPolicyFromLegacyWithCwd is from_legacy_sandbox_policy: the
// same conversion, and for workspace-write
//   - the readable plain-path entries that are already writable under the
//     legacy writable roots are dropped (they would otherwise become
//     read-only carve-outs);
//   - the protected subpaths (§1.6) of the cwd (a missing or plain-file
//     .codex included) and of each explicit writable root are appended as
//     read entries, unless some plain-path entry already names them.
//
// The second step is what the 0.125 reference helper does (not in the
// v0.117 text): being entries, the protected paths of a writable root are
// also carve-outs of every writable root that encloses it (with /tmp
// writable and the cwd below /tmp, /tmp keeps <cwd>/.codex read-only too),
// and with restricted reads they are readable roots. /tmp and $TMPDIR do
// not contribute entries; their own protected subpaths still apply to
// themselves.
func FileSystemPolicyFromLegacyWithCwd(fsys FS, p SandboxPolicy, cwd string) FileSystemPolicy {
	fp := FileSystemPolicyFromLegacy(p)
	if p.Type != PolicyWorkspaceWrite {
		return fp
	}
	legacyRoots := p.WritableRootsWithCwd(fsys, cwd)
	var kept []FSEntry
	for _, e := range fp.Entries {
		if e.Access == AccessRead && e.Path.Special == "" && anyWritable(legacyRoots, e.Path.Path) {
			continue
		}
		kept = append(kept, e)
	}
	if c, ok := policyCwd(cwd); ok {
		for _, s := range defaultReadOnlySubpaths(fsys, c, true) {
			kept = appendReadIfNoPathEntry(kept, s)
		}
	}
	for _, r := range p.WritableRoots {
		for _, s := range defaultReadOnlySubpaths(fsys, r, false) {
			kept = appendReadIfNoPathEntry(kept, s)
		}
	}
	fp.Entries = kept
	return fp
}

// appendReadIfNoPathEntry is append_default_read_only_path_if_no_explicit_rule:
// a read entry for path p unless a plain-path entry for p (any access)
// exists.
func appendReadIfNoPathEntry(entries []FSEntry, p string) []FSEntry {
	for _, e := range entries {
		if e.Path.Special == "" && e.Path.Path == p {
			return entries
		}
	}
	return append(entries, FSEntry{Path: PlainPath(p), Access: AccessRead})
}

func anyWritable(roots []WritableRoot, p string) bool {
	for _, r := range roots {
		if r.IsPathWritable(p) {
			return true
		}
	}
	return false
}

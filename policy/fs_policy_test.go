package policy

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// Shorthands for building policies in tests.
func pe(p string, a FSAccess) FSEntry           { return FSEntry{Path: PlainPath(p), Access: a} }
func se(k SpecialKind, a FSAccess) FSEntry      { return FSEntry{Path: SpecialPath(k), Access: a} }
func pre(sub string, a FSAccess) FSEntry        { return FSEntry{Path: ProjectRootsPath(sub), Access: a} }
func restricted(es ...FSEntry) FileSystemPolicy { return RestrictedFileSystemPolicy(es...) }
func strp(s string) *string                     { return &s }

// fsDocs are canonical --file-system-sandbox-policy documents (§1.9 and one
// of each variant); parse then marshal must reproduce them exactly.
var fsDocs = []string{
	`{"kind":"restricted","entries":[{"path":{"type":"special","value":{"kind":"root"}},"access":"read"}]}`,
	`{"kind":"restricted","entries":[{"path":{"type":"special","value":{"kind":"root"}},"access":"read"},{"path":{"type":"special","value":{"kind":"current_working_directory"}},"access":"write"},{"path":{"type":"special","value":{"kind":"slash_tmp"}},"access":"write"},{"path":{"type":"path","path":"/home/u/.cache/pip"},"access":"write"}]}`,
	`{"kind":"restricted","entries":[{"path":{"type":"special","value":{"kind":"current_working_directory"}},"access":"read"},{"path":{"type":"special","value":{"kind":"minimal"}},"access":"read"},{"path":{"type":"path","path":"/opt/data"},"access":"read"}]}`,
	`{"kind":"unrestricted"}`,
	`{"kind":"external-sandbox"}`,
	`{"kind":"restricted","entries":[{"path":{"type":"special","value":{"kind":"root"}},"access":"read"},{"path":{"type":"path","path":"/home/me/project"},"access":"write"},{"path":{"type":"path","path":"/home/me/project/secrets"},"access":"none"},{"path":{"type":"special","value":{"kind":"project_roots","subpath":"docs"}},"access":"read"}]}`,
	`{"kind":"restricted"}`,
	`{"kind":"restricted","entries":[{"path":{"type":"special","value":{"kind":"tmpdir"}},"access":"write"},{"path":{"type":"special","value":{"kind":"project_roots"}},"access":"write"},{"path":{"type":"special","value":{"kind":"project_roots","subpath":"a/../b"}},"access":"none"},{"path":{"type":"special","value":{"kind":"unknown","path":":future"}},"access":"read"},{"path":{"type":"special","value":{"kind":"unknown","path":":future","subpath":"x"}},"access":"write"}]}`,
	`{"kind":"unrestricted","entries":[{"path":{"type":"path","path":"/"},"access":"none"}]}`,
}

func TestFileSystemPolicyRoundTrip(t *testing.T) {
	for _, doc := range fsDocs {
		p, err := ParseFileSystemPolicy(doc)
		if err != nil {
			t.Errorf("ParseFileSystemPolicy(%s): %v", doc, err)
			continue
		}
		got, err := json.Marshal(p)
		if err != nil || string(got) != doc {
			t.Errorf("round trip of %s gave %s, %v", doc, got, err)
		}
	}
}

func TestFileSystemPolicyCanonicalisation(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"kind":"restricted","entries":[]}`, `{"kind":"restricted"}`},
		{`{"entries":[{"access":"none","path":{"value":{"subpath":null,"kind":"project_roots"},"type":"special"}}],"kind":"restricted"}`,
			`{"kind":"restricted","entries":[{"path":{"type":"special","value":{"kind":"project_roots"}},"access":"none"}]}`},
		{`{"kind":"restricted","entries":[{"path":{"type":"path","path":"/a/./b/../c/"},"access":"read"}]}`,
			`{"kind":"restricted","entries":[{"path":{"type":"path","path":"/a/c"},"access":"read"}]}`},
		{`{"kind":"restricted","entries":[{"path":{"type":"special","value":{"kind":"project_roots","subpath":"<&>\u2028"}},"access":"read"}]}`,
			"{\"kind\":\"restricted\",\"entries\":[{\"path\":{\"type\":\"special\",\"value\":{\"kind\":\"project_roots\",\"subpath\":\"<&>\u2028\"}},\"access\":\"read\"}]}"},
	}
	for _, tc := range tests {
		p, err := ParseFileSystemPolicy(tc.in)
		if err != nil {
			t.Errorf("ParseFileSystemPolicy(%s): %v", tc.in, err)
			continue
		}
		if got, err := p.MarshalJSON(); err != nil || string(got) != tc.want {
			t.Errorf("ParseFileSystemPolicy(%s) marshals to %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	if got, _ := json.Marshal(DefaultFileSystemPolicy()); string(got) != fsDocs[0] {
		t.Errorf("default policy: %s", got)
	}
	p, _ := ParseFileSystemPolicy(fsDocs[7])
	want := restricted(
		se(SpecialTmpdir, AccessWrite),
		se(SpecialProjectRoots, AccessWrite),
		pre("a/../b", AccessNone),
		FSEntry{Path: FSPath{Special: SpecialUnknown, Path: ":future"}, Access: AccessRead},
		FSEntry{Path: FSPath{Special: SpecialUnknown, Path: ":future", Subpath: strp("x")}, Access: AccessWrite},
	)
	if !reflect.DeepEqual(p, want) {
		t.Errorf("parsed\n%#v\nwant\n%#v", p, want)
	}
}

func TestParseFileSystemPolicyErrors(t *testing.T) {
	const root = `{"type":"special","value":{"kind":"root"}}`
	tests := []struct{ in, want string }{
		{`{"kind":"open"}`, `file-system sandbox policy: unknown variant "open" for field "kind", expected one of "restricted", "unrestricted", "external-sandbox"`},
		{`{"entries":[]}`, `file-system sandbox policy: missing field "kind"`},
		{`{"kind":"restricted","extra":1}`, `file-system sandbox policy: unknown field "extra", expected one of "kind", "entries"`},
		{`{"kind":"restricted","entries":null}`, `field "entries": invalid type: null, expected a sequence`},
		{`{"kind":"restricted","entries":[{"path":` + root + `}]}`, `entries[0]: missing field "access"`},
		{`{"kind":"restricted","entries":[{"access":"read"}]}`, `entries[0]: missing field "path"`},
		{`{"kind":"restricted","entries":[{"path":` + root + `,"access":"deny"}]}`, `entries[0]: unknown variant "deny" for field "access", expected one of "read", "write", "none"`},
		{`{"kind":"restricted","entries":[{"path":` + root + `,"access":"read","why":"x"}]}`, `entries[0]: unknown field "why"`},
		{`{"kind":"restricted","entries":[{"path":{"type":"path","path":"rel"},"access":"read"}]}`, `entries[0].path: field "path": AbsolutePathBuf deserialized without a base path`},
		{`{"kind":"restricted","entries":[{"path":{"type":"path","path":"~/x"},"access":"read"}]}`, `AbsolutePathBuf deserialized without a base path`},
		{`{"kind":"restricted","entries":[{"path":{"type":"path"},"access":"read"}]}`, `entries[0].path: missing field "path"`},
		{`{"kind":"restricted","entries":[{"path":{"type":"glob_pattern","pattern":"*"},"access":"none"}]}`, `entries[0].path: unknown variant "glob_pattern" for field "type", expected one of "path", "special"`},
		{`{"kind":"restricted","entries":[{"path":{"type":"special"},"access":"read"}]}`, `entries[0].path: missing field "value"`},
		{`{"kind":"restricted","entries":[{"path":{"type":"special","value":{"kind":"home"}},"access":"read"}]}`, `entries[0].path.value: unknown variant "home" for field "kind"`},
		{`{"kind":"restricted","entries":[{"path":{"type":"special","value":{"kind":"root","subpath":"x"}},"access":"read"}]}`, `entries[0].path.value: unknown field "subpath", expected "kind"`},
		{`{"kind":"restricted","entries":[{"path":{"type":"special","value":{"kind":"unknown"}},"access":"read"}]}`, `entries[0].path.value: missing field "path"`},
		{`{"kind":"restricted","entries":[{"path":{"type":"special","value":{"kind":"project_roots","subpath":1}},"access":"read"}]}`, `field "subpath": invalid type: a number, expected a string`},
		{`{"kind":"restricted","entries":[{"path":{"type":"special","value":{"kind":"project_roots","subpath":"a\u0000"}},"access":"read"}]}`, `NUL byte`},
		{`{"kind":"restricted","entries":[{"path":{"type":"path","path":"/a","path":"/b"},"access":"read"}]}`, `duplicate field "path"`},
		{`{"kind":"restricted","entries":{}}`, `expected a sequence`},
		{`{"kind":"restricted","entries":["x"]}`, `entries[0]: invalid type: a string, expected a map`},
		{`{"kind":"restricted"}]`, `trailing characters`},
		{`["restricted"]`, `expected a map`},
	}
	for _, tc := range tests {
		_, err := ParseFileSystemPolicy(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseFileSystemPolicy(%s) error = %v; want it to contain %q", tc.in, err, tc.want)
		}
	}
}

func TestFileSystemPolicyMarshalRejectsInvalid(t *testing.T) {
	bad := []FileSystemPolicy{
		{},
		{Kind: "open"},
		restricted(FSEntry{Path: SpecialPath(SpecialRoot), Access: "deny"}),
		restricted(pe("rel", AccessRead)),
		restricted(pe("/a/", AccessRead)),
		restricted(FSEntry{Path: FSPath{Path: "/a", Subpath: strp("x")}, Access: AccessRead}),
		restricted(FSEntry{Path: FSPath{Special: SpecialRoot, Path: "/"}, Access: AccessRead}),
		restricted(FSEntry{Path: FSPath{Special: SpecialTmpdir, Subpath: strp("x")}, Access: AccessRead}),
		restricted(FSEntry{Path: FSPath{Special: "home"}, Access: AccessRead}),
	}
	for _, p := range bad {
		if got, err := p.MarshalJSON(); err == nil {
			t.Errorf("MarshalJSON(%#v) = %s; want error", p, got)
		}
	}
}

func TestResolveAccessPrecedence(t *testing.T) {
	d := realTemp(t)
	t.Setenv("HOME", "/home/me")
	// resolve_access_with_cwd_uses_most_specific_entry (upstream test).
	p := restricted(
		se(SpecialCurrentWorkingDirectory, AccessWrite),
		pe(d+"/docs", AccessRead),
		pe(d+"/docs/private", AccessNone),
		pe(d+"/docs/private/public", AccessWrite),
	)
	tests := []struct {
		path string
		want FSAccess
	}{
		{d, AccessWrite},
		{d + "/x", AccessWrite},
		{d + "/docs", AccessRead},
		{d + "/docs/y", AccessRead},
		{d + "/docs/private", AccessNone},
		{d + "/docs/private/public", AccessWrite},
		{d + "/docs/private/public/z", AccessWrite},
		{d + "/docsx", AccessWrite},
		{"docs/private", AccessNone}, // relative: against cwd
		{"docs/../docs", AccessRead},
		{"/elsewhere", AccessNone}, // no match
		{"~/x", AccessNone},
	}
	for _, tc := range tests {
		if got := p.ResolveAccess(HostFS, tc.path, d); got != tc.want {
			t.Errorf("ResolveAccess(%q) = %q; want %q", tc.path, got, tc.want)
		}
	}

	// Ties between equally specific entries: none > write > read.
	ties := []struct {
		es   []FSEntry
		want FSAccess
	}{
		{[]FSEntry{pe("/a", AccessRead), pe("/a", AccessWrite)}, AccessWrite},
		{[]FSEntry{pe("/a", AccessWrite), pe("/a", AccessRead)}, AccessWrite},
		{[]FSEntry{pe("/a", AccessWrite), pe("/a", AccessNone), pe("/a", AccessRead)}, AccessNone},
		{[]FSEntry{se(SpecialRoot, AccessWrite), se(SpecialRoot, AccessNone)}, AccessNone},
		{[]FSEntry{se(SpecialRoot, AccessRead), pe("/", AccessWrite)}, AccessWrite},
		{[]FSEntry{se(SpecialMinimal, AccessWrite), FSEntry{Path: FSPath{Special: SpecialUnknown, Path: ":x"}, Access: AccessWrite}}, AccessNone},
	}
	for _, tc := range ties {
		if got := restricted(tc.es...).ResolveAccess(HostFS, "/a", "/w"); got != tc.want {
			t.Errorf("%v: ResolveAccess(/a) = %q; want %q", tc.es, got, tc.want)
		}
	}

	// :root and cwd-relative specials need an absolute cwd.
	rootRead := restricted(se(SpecialRoot, AccessRead), se(SpecialCurrentWorkingDirectory, AccessWrite))
	if got := rootRead.ResolveAccess(HostFS, "/x", "relative"); got != AccessNone {
		t.Errorf("relative cwd: %q", got)
	}
	if got := rootRead.ResolveAccess(HostFS, "x", "relative"); got != AccessNone {
		t.Errorf("relative path, relative cwd: %q", got)
	}
	for _, k := range []FSKind{FSUnrestricted, FSExternalSandbox} {
		if got := (FileSystemPolicy{Kind: k}).ResolveAccess(HostFS, "/any", "/w"); got != AccessWrite {
			t.Errorf("%s: %q", k, got)
		}
	}
	if got := (FileSystemPolicy{Kind: "bogus"}).ResolveAccess(HostFS, "/any", "/w"); got != AccessNone {
		t.Errorf("invalid kind: %q", got)
	}
}

func TestFullAccessQueries(t *testing.T) {
	tests := []struct {
		name                          string
		p                             FileSystemPolicy
		fullRead, fullWrite, defaults bool
	}{
		{"unrestricted", FileSystemPolicy{Kind: FSUnrestricted}, true, true, false},
		{"external", FileSystemPolicy{Kind: FSExternalSandbox}, true, true, false},
		{"empty restricted", restricted(), false, false, false},
		{"root read", restricted(se(SpecialRoot, AccessRead)), true, false, false},
		{"root read + deny elsewhere", restricted(se(SpecialRoot, AccessRead), pe("/x", AccessNone)), false, false, false},
		{"root read + minimal", restricted(se(SpecialRoot, AccessRead), se(SpecialMinimal, AccessRead)), true, false, false},
		{"minimal only", restricted(se(SpecialMinimal, AccessRead)), false, false, true},
		{"minimal none", restricted(se(SpecialMinimal, AccessNone)), false, false, false},
		{"minimal write", restricted(se(SpecialMinimal, AccessWrite)), false, false, true},
		{"root write", restricted(se(SpecialRoot, AccessWrite)), true, true, false},
		{"root write + read child narrows", restricted(se(SpecialRoot, AccessWrite), pe("/docs", AccessRead)), true, false, false},
		{"root write + shadowed read child", restricted(se(SpecialRoot, AccessWrite), pe("/docs", AccessRead), pe("/docs", AccessWrite)), true, true, false},
		{"root write + none child not shadowable", restricted(se(SpecialRoot, AccessWrite), pe("/docs", AccessNone), pe("/docs", AccessWrite)), false, false, false},
		{"root write + root none", restricted(se(SpecialRoot, AccessWrite), se(SpecialRoot, AccessNone)), false, false, false},
		{"root write + root read", restricted(se(SpecialRoot, AccessWrite), se(SpecialRoot, AccessRead)), true, true, false},
		{"root write + minimal/unknown read", restricted(se(SpecialRoot, AccessWrite), se(SpecialMinimal, AccessRead), FSEntry{Path: FSPath{Special: SpecialUnknown, Path: ":x"}, Access: AccessRead}), true, true, false},
		{"root write + cwd read + project_roots write", restricted(se(SpecialRoot, AccessWrite), se(SpecialCurrentWorkingDirectory, AccessRead), se(SpecialProjectRoots, AccessWrite)), true, true, false},
		{"root write + project_roots(sub) read + other sub write", restricted(se(SpecialRoot, AccessWrite), pre("a", AccessRead), pre("b", AccessWrite)), true, false, false},
		{"root write + project_roots(sub) read + same sub write", restricted(se(SpecialRoot, AccessWrite), pre("a", AccessRead), pre("a", AccessWrite)), true, true, false},
		{"root write + slash_tmp read + /tmp write", restricted(se(SpecialRoot, AccessWrite), se(SpecialSlashTmp, AccessRead), pe("/tmp", AccessWrite)), true, true, false},
		{"root write + / read", restricted(se(SpecialRoot, AccessWrite), pe("/", AccessRead)), true, true, false},
		{"root write + tmpdir read", restricted(se(SpecialRoot, AccessWrite), se(SpecialTmpdir, AccessRead)), true, false, false},
		{"path / write is not :root", restricted(pe("/", AccessWrite)), false, false, false},
	}
	for _, tc := range tests {
		if got := tc.p.HasFullDiskReadAccess(); got != tc.fullRead {
			t.Errorf("%s: HasFullDiskReadAccess = %v", tc.name, got)
		}
		if got := tc.p.HasFullDiskWriteAccess(); got != tc.fullWrite {
			t.Errorf("%s: HasFullDiskWriteAccess = %v", tc.name, got)
		}
		if got := tc.p.IncludePlatformDefaults(); got != tc.defaults {
			t.Errorf("%s: IncludePlatformDefaults = %v", tc.name, got)
		}
	}
}

func TestRootDenyDoesNotMaterialise(t *testing.T) {
	// root_deny_does_not_materialize_as_unreadable_root (upstream test).
	d := realTemp(t)
	p := restricted(se(SpecialRoot, AccessNone), pe(d+"/docs", AccessRead))
	if got := p.ResolveAccess(HostFS, d+"/docs", d); got != AccessRead {
		t.Errorf("docs: %q", got)
	}
	if got, want := p.ReadableRootsWithCwd(HostFS, d), []string{d + "/docs"}; !reflect.DeepEqual(got, want) {
		t.Errorf("readable = %v; want %v", got, want)
	}
	if got := p.UnreadableRootsWithCwd(HostFS, d); got != nil {
		t.Errorf("unreadable = %v; want none", got)
	}
	// A plain "/" none entry is excluded too, but only with a usable cwd
	// (the helper compares against the cwd's root).
	q := restricted(pe("/", AccessNone), pe(d+"/x", AccessNone))
	if got, want := q.UnreadableRootsWithCwd(HostFS, d), []string{d + "/x"}; !reflect.DeepEqual(got, want) {
		t.Errorf("unreadable = %v; want %v", got, want)
	}
	if got, want := q.UnreadableRootsWithCwd(HostFS, "rel"), []string{"/", d + "/x"}; !reflect.DeepEqual(got, want) {
		t.Errorf("relative cwd: unreadable = %v; want %v", got, want)
	}
}

func TestRootsRespectPrecedence(t *testing.T) {
	d := realTemp(t)
	t.Setenv("TMPDIR", "")
	mkdirs(t, d+"/w/a/b", d+"/r")
	p := restricted(
		se(SpecialMinimal, AccessRead),
		pe(d+"/r", AccessRead),
		pe(d+"/r", AccessNone), // wins the tie: not readable
		pe(d+"/w", AccessWrite),
		pe(d+"/w/a", AccessNone),
		pe(d+"/w/a/b", AccessWrite),
		pe(d+"/w/ro", AccessRead),
		pe(d+"/w/ro", AccessRead),
		pe(d+"/gone", AccessWrite), // missing roots are kept here, dropped by the renderer
		pe(d+"/w/a/b/deep", AccessRead),
	)
	if got, want := p.ReadableRootsWithCwd(HostFS, d), []string{d + "/w", d + "/w/a/b", d + "/w/ro", d + "/gone", d + "/w/a/b/deep"}; !reflect.DeepEqual(got, want) {
		t.Errorf("readable =\n%v\nwant\n%v", got, want)
	}
	wantW := []WritableRoot{
		{Root: d + "/w", ReadOnlySubpaths: []string{d + "/w/a", d + "/w/ro", d + "/w/a/b/deep"}},
		{Root: d + "/w/a/b", ReadOnlySubpaths: []string{d + "/w/a/b/deep"}},
		{Root: d + "/gone"},
	}
	if got := p.WritableRootsWithCwd(HostFS, d); !reflect.DeepEqual(got, wantW) {
		t.Errorf("writable =\n%#v\nwant\n%#v", got, wantW)
	}
	if got, want := p.UnreadableRootsWithCwd(HostFS, d), []string{d + "/r", d + "/w/a"}; !reflect.DeepEqual(got, want) {
		t.Errorf("unreadable = %v; want %v", got, want)
	}
	// Full reads / writes short-circuit.
	if got := restricted(se(SpecialRoot, AccessRead)).ReadableRootsWithCwd(HostFS, d); got != nil {
		t.Errorf("full read: %v", got)
	}
	if got := restricted(se(SpecialRoot, AccessWrite)).WritableRootsWithCwd(HostFS, d); got != nil {
		t.Errorf("full write: %v", got)
	}
	if got := (FileSystemPolicy{Kind: FSExternalSandbox, Entries: []FSEntry{pe("/x", AccessNone)}}).UnreadableRootsWithCwd(HostFS, d); got != nil {
		t.Errorf("external sandbox: %v", got)
	}
}

func TestEffectiveRootsCanonicaliseSymlinkedPaths(t *testing.T) {
	// effective_runtime_roots_canonicalize_symlinked_paths (upstream test).
	d := realTemp(t)
	mkdirs(t, d+"/real/blocked", d+"/real/.codex")
	symlink(t, d+"/real", d+"/link")
	p := restricted(pe(d+"/link", AccessWrite), pe(d+"/link/blocked", AccessNone))
	if got, want := p.UnreadableRootsWithCwd(HostFS, d), []string{d + "/real/blocked"}; !reflect.DeepEqual(got, want) {
		t.Errorf("unreadable = %v; want %v", got, want)
	}
	// The carve-out is re-rooted onto the canonical root (its literal
	// spelling goes through the symlinked root).
	want := []WritableRoot{{Root: d + "/real", ReadOnlySubpaths: []string{d + "/real/.codex", d + "/real/blocked"}}}
	if got := p.WritableRootsWithCwd(HostFS, d); !reflect.DeepEqual(got, want) {
		t.Errorf("writable =\n%#v\nwant\n%#v", got, want)
	}
}

func TestWritableRootsPreserveSymlinkedProtectedSubpaths(t *testing.T) {
	// writable_roots_preserve_symlinked_protected_subpaths (upstream test):
	// a .codex symlink to a decoy is protected as the symlink, never as
	// the decoy.
	d := realTemp(t)
	mkdirs(t, d+"/root/decoy-codex")
	symlink(t, d+"/root/decoy-codex", d+"/root/.codex")
	p := restricted(pe(d+"/root", AccessWrite))
	want := []WritableRoot{{Root: d + "/root", ReadOnlySubpaths: []string{d + "/root/.codex"}}}
	if got := p.WritableRootsWithCwd(HostFS, d); !reflect.DeepEqual(got, want) {
		t.Errorf("writable =\n%#v\nwant\n%#v", got, want)
	}
}

func TestWritableRootsPreserveSymlinkedCarveouts(t *testing.T) {
	// writable_roots_preserve_explicit_symlinked_carveouts_under_symlinked_roots
	// (upstream test), plus carve-outs whose symlink escapes the root or
	// points back at it: the literal in-root path is kept so the renderer
	// masks the symlink inode.
	d := realTemp(t)
	mkdirs(t, d+"/real/decoy-private", d+"/outside")
	symlink(t, d+"/real", d+"/link")
	symlink(t, d+"/real/decoy-private", d+"/real/linked-private")
	symlink(t, d+"/outside", d+"/real/escape")
	symlink(t, d+"/real", d+"/real/alias-root")
	p := restricted(
		pe(d+"/link", AccessWrite),
		pe(d+"/link/linked-private", AccessNone),
		pe(d+"/real/escape", AccessRead),
		pe(d+"/real/alias-root", AccessRead),
	)
	want := []WritableRoot{{Root: d + "/real", ReadOnlySubpaths: []string{d + "/real/linked-private", d + "/real/escape", d + "/real/alias-root"}}}
	if got := p.WritableRootsWithCwd(HostFS, d); !reflect.DeepEqual(got, want) {
		t.Errorf("writable =\n%#v\nwant\n%#v", got, want)
	}
	// 0.125 masks a deny path as spelled (re-rooted onto the canonical
	// root), not its target: the renderer must see that it crosses the
	// writable symlink real/linked-private (and then fails closed).
	if got, want := p.UnreadableRootsWithCwd(HostFS, d), []string{d + "/real/linked-private"}; !reflect.DeepEqual(got, want) {
		t.Errorf("unreadable = %v; want %v", got, want)
	}
	// A carve-out reached only through another path is kept in effective
	// form when that lies under the root, and dropped when it does not.
	symlink(t, d+"/real/decoy-private", d+"/via")
	q := restricted(pe(d+"/real", AccessWrite), pe(d+"/via", AccessRead), pe(d+"/outside", AccessRead))
	want = []WritableRoot{{Root: d + "/real", ReadOnlySubpaths: []string{d + "/real/decoy-private"}}}
	if got := q.WritableRootsWithCwd(HostFS, d); !reflect.DeepEqual(got, want) {
		t.Errorf("writable =\n%#v\nwant\n%#v", got, want)
	}
}

func TestUnreadableRootsKeepTheirSpelling(t *testing.T) {
	// 0.125 masks deny paths as spelled when a nested symlink lies on
	// them (and canonical through a top-level alias), re-rooted onto the
	// bound root when spelled through a symlinked writable root.
	d := realTemp(t)
	t.Setenv("TMPDIR", "")
	mkdirs(t, d+"/ws/real", d+"/other", d+"/extra/q", d+"/top/x")
	symlink(t, "real", d+"/ws/link")
	symlink(t, "other", d+"/l2")
	symlink(t, "extra", d+"/wl")
	fsys := aliasFS{FS: HostFS, Alias: "/zl", Target: d + "/top"}
	p := restricted(
		se(SpecialRoot, AccessRead), se(SpecialCurrentWorkingDirectory, AccessWrite), pe(d+"/wl", AccessWrite),
		pe(d+"/ws/link/f", AccessNone), // literal, under the writable root
		pe(d+"/l2/f", AccessNone),      // literal, outside every writable root
		pe(d+"/wl/q", AccessNone),      // re-rooted onto extra
		pe(d+"/extra/q", AccessNone),   // already canonical: the same mask
		pe("/zl/x", AccessNone),        // top-level alias: canonical
		pe(d+"/ws/real/g", AccessNone), // no symlink at all
	)
	want := []string{d + "/ws/link/f", d + "/l2/f", d + "/extra/q", d + "/top/x", d + "/ws/real/g"}
	if got := p.UnreadableRootsWithCwd(fsys, d+"/ws"); !reflect.DeepEqual(got, want) {
		t.Errorf("unreadable =\n%v\nwant\n%v", got, want)
	}
}

func TestWritableRootsProtectCwdCodex(t *testing.T) {
	// 0.125 (#15067): the root that is the effective cwd protects .codex
	// missing or as a plain file; an entry naming a protected path
	// replaces the default (write lifts it, read re-adds it in entry
	// order).
	d := realTemp(t)
	t.Setenv("TMPDIR", "")
	mkdirs(t, d+"/real/.git", d+"/real/a", d+"/other")
	writeFile(t, d+"/other/.codex", "x")
	symlink(t, "real", d+"/ws")
	p := restricted(se(SpecialRoot, AccessRead), se(SpecialCurrentWorkingDirectory, AccessWrite), pe(d+"/other", AccessWrite))
	want := []WritableRoot{
		{Root: d + "/real", ReadOnlySubpaths: []string{d + "/real/.git", d + "/real/.codex"}},
		{Root: d + "/other"},
	}
	if got := p.WritableRootsWithCwd(HostFS, d+"/ws"); !reflect.DeepEqual(got, want) {
		t.Errorf("writable =\n%#v\nwant\n%#v", got, want)
	}
	p = restricted(se(SpecialCurrentWorkingDirectory, AccessWrite), pe(d+"/real/a", AccessRead), pe(d+"/real/.git", AccessRead), pe(d+"/real/.codex", AccessWrite))
	want = []WritableRoot{
		{Root: d + "/real", ReadOnlySubpaths: []string{d + "/real/a", d + "/real/.git"}},
		{Root: d + "/real/.codex"},
	}
	if got := p.WritableRootsWithCwd(HostFS, d+"/real"); !reflect.DeepEqual(got, want) {
		t.Errorf("explicit entries: writable =\n%#v\nwant\n%#v", got, want)
	}
}

func TestFilesystemRootWritableUsesEffectivePaths(t *testing.T) {
	// Under a writable "/" carve-outs stay in effective form (no raw
	// spellings of root-wide aliases).
	d := realTemp(t)
	mkdirs(t, d+"/real")
	symlink(t, d+"/real", d+"/link")
	p := restricted(pe("/", AccessWrite), pe(d+"/link", AccessRead))
	got := p.WritableRootsWithCwd(HostFS, d)
	if len(got) != 1 || got[0].Root != "/" {
		t.Fatalf("writable = %#v", got)
	}
	subs := got[0].ReadOnlySubpaths
	if len(subs) == 0 || subs[len(subs)-1] != d+"/real" {
		t.Errorf("carve-out under / = %v; want it to end with %s", subs, d+"/real")
	}
}

func TestTmpdirSpecialPath(t *testing.T) {
	// tmpdir_special_path_canonicalizes_symlinked_tmpdir (upstream test).
	d := realTemp(t)
	mkdirs(t, d+"/real-tmpdir/blocked", d+"/real-tmpdir/.codex")
	symlink(t, d+"/real-tmpdir", d+"/link-tmpdir")
	t.Setenv("TMPDIR", d+"/link-tmpdir")
	p := restricted(se(SpecialTmpdir, AccessWrite), pe(d+"/link-tmpdir/blocked", AccessNone))
	if got, want := p.UnreadableRootsWithCwd(HostFS, d), []string{d + "/real-tmpdir/blocked"}; !reflect.DeepEqual(got, want) {
		t.Errorf("unreadable = %v; want %v", got, want)
	}
	want := []WritableRoot{{Root: d + "/real-tmpdir", ReadOnlySubpaths: []string{d + "/real-tmpdir/.codex", d + "/real-tmpdir/blocked"}}}
	if got := p.WritableRootsWithCwd(HostFS, d); !reflect.DeepEqual(got, want) {
		t.Errorf("writable =\n%#v\nwant\n%#v", got, want)
	}
	for _, bad := range []string{"", "relative"} {
		t.Setenv("TMPDIR", bad)
		if got := p.WritableRootsWithCwd(HostFS, d); len(got) != 0 {
			t.Errorf("TMPDIR=%q: %#v", bad, got)
		}
	}
}

func TestSlashTmpSpecialPath(t *testing.T) {
	p := restricted(se(SpecialSlashTmp, AccessWrite))
	if got := p.WritableRootsWithCwd(HostFS, "/w"); len(got) != 1 || got[0].Root != EffectivePath(HostFS, "/tmp") {
		t.Errorf("with /tmp: %#v", got)
	}
	if got := p.WritableRootsWithCwd(noTmpFS{HostFS}, "/w"); len(got) != 0 {
		t.Errorf("without /tmp: %#v", got)
	}
	if got := p.ResolveAccess(noTmpFS{HostFS}, "/tmp/x", "/w"); got != AccessNone {
		t.Errorf("without /tmp: access %q", got)
	}
}

func TestProjectRootsSubpath(t *testing.T) {
	t.Setenv("HOME", "/home/me")
	tests := []struct {
		sub  string
		want string
	}{
		{"docs", "/w/docs"},
		{"a/../b", "/w/b"},
		{"../sibling", "/sibling"},
		{"/abs", "/abs"},
		{"", "/w"},
		{"~/h", "/home/me/h"},
	}
	for _, tc := range tests {
		p := restricted(pre(tc.sub, AccessRead))
		if got := p.ReadableRootsWithCwd(HostFS, "/w"); len(got) != 1 || got[0] != tc.want {
			t.Errorf("subpath %q: readable %v; want [%s]", tc.sub, got, tc.want)
		}
	}
	if got := restricted(pre("docs", AccessRead)).ReadableRootsWithCwd(HostFS, "rel"); got != nil {
		t.Errorf("relative cwd: %v", got)
	}
}

func TestToLegacy(t *testing.T) {
	const cwd = "/home/me/project"
	t.Setenv("TMPDIR", "/var/tmpdir")
	ro := func(a ReadOnlyAccess, net bool) SandboxPolicy {
		return SandboxPolicy{Type: PolicyReadOnly, Access: a, NetworkAccess: net}
	}
	ww := func(roots []string, a ReadOnlyAccess, net, exTmpdir, exSlash bool) SandboxPolicy {
		return SandboxPolicy{Type: PolicyWorkspaceWrite, WritableRoots: roots, Access: a, NetworkAccess: net, ExcludeTmpdirEnvVar: exTmpdir, ExcludeSlashTmp: exSlash}
	}
	tests := []struct {
		name string
		p    FileSystemPolicy
		net  NetworkPolicy
		want SandboxPolicy
		err  error
	}{
		{"external restricted", FileSystemPolicy{Kind: FSExternalSandbox}, NetworkRestricted, ExternalSandboxPolicy(false), nil},
		{"external enabled", FileSystemPolicy{Kind: FSExternalSandbox}, NetworkEnabled, ExternalSandboxPolicy(true), nil},
		{"unrestricted enabled", FileSystemPolicy{Kind: FSUnrestricted}, NetworkEnabled, DangerFullAccessPolicy(), nil},
		{"unrestricted restricted", FileSystemPolicy{Kind: FSUnrestricted}, NetworkRestricted, ExternalSandboxPolicy(false), nil},
		{"root write enabled", restricted(se(SpecialRoot, AccessWrite), pe("/x", AccessRead), pe("/x", AccessWrite)), NetworkEnabled, DangerFullAccessPolicy(), nil},
		{"root write restricted", restricted(se(SpecialRoot, AccessWrite), se(SpecialMinimal, AccessRead)), NetworkRestricted, ExternalSandboxPolicy(false), nil},
		// 0.125: a narrowed :root write is not full write access.
		{"narrowed root write", restricted(se(SpecialRoot, AccessWrite), pe("/x", AccessRead)), NetworkEnabled, SandboxPolicy{}, ErrWritesOutsideWorkspace},
		{"narrowed root write, writable cwd", restricted(se(SpecialRoot, AccessWrite), pe("/var/tmp", AccessRead), se(SpecialCurrentWorkingDirectory, AccessWrite)),
			NetworkRestricted, ww(nil, FullReadAccess(), false, true, true), nil},
		{"denied root write, writable cwd", restricted(se(SpecialRoot, AccessWrite), pe("/x", AccessNone), se(SpecialCurrentWorkingDirectory, AccessWrite)),
			NetworkRestricted, ww(nil, RestrictedReadAccess(false), false, true, true), nil},
		{"read-only", restricted(se(SpecialRoot, AccessRead)), NetworkRestricted, ro(FullReadAccess(), false), nil},
		// 0.125: with a deny entry reads are not full; :root read becomes "/".
		{"read-only with deny", restricted(pe("/var/tmp", AccessRead), se(SpecialRoot, AccessRead), se(SpecialRoot, AccessRead), pe("/secret", AccessNone)),
			NetworkEnabled, ro(RestrictedReadAccess(false, "/var/tmp", "/"), true), nil},
		{"root read without a cwd", restricted(se(SpecialRoot, AccessRead), pe("/secret", AccessNone)), NetworkRestricted, SandboxPolicy{}, nil},
		{"restricted reads", restricted(se(SpecialCurrentWorkingDirectory, AccessRead), se(SpecialMinimal, AccessRead), pe("/opt/data", AccessRead), pe("/opt/data", AccessRead)),
			NetworkRestricted, ro(RestrictedReadAccess(true, cwd, "/opt/data"), false), nil},
		{"reads of specials", restricted(se(SpecialTmpdir, AccessRead), se(SpecialSlashTmp, AccessRead), pre("docs", AccessRead), se(SpecialProjectRoots, AccessRead)),
			NetworkRestricted, ro(RestrictedReadAccess(false, "/var/tmpdir", "/tmp", cwd+"/docs", cwd), false), nil},
		{"unknown ignored", restricted(FSEntry{Path: FSPath{Special: SpecialUnknown, Path: ":future"}, Access: AccessWrite}),
			NetworkRestricted, ro(RestrictedReadAccess(false), false), nil},
		{"none ignored", restricted(se(SpecialRoot, AccessNone), pe("/x", AccessNone), se(SpecialCurrentWorkingDirectory, AccessNone), se(SpecialMinimal, AccessNone)),
			NetworkRestricted, ro(RestrictedReadAccess(false), false), nil},
		{"workspace via cwd", restricted(se(SpecialRoot, AccessRead), se(SpecialCurrentWorkingDirectory, AccessWrite), se(SpecialSlashTmp, AccessWrite), pe("/home/u/.cache/pip", AccessWrite)),
			NetworkEnabled, ww([]string{"/home/u/.cache/pip"}, FullReadAccess(), true, true, false), nil},
		{"workspace via project_roots", restricted(se(SpecialProjectRoots, AccessWrite), se(SpecialTmpdir, AccessWrite), se(SpecialMinimal, AccessRead)),
			NetworkRestricted, ww(nil, RestrictedReadAccess(true), false, false, true), nil},
		{"workspace via cwd path", restricted(se(SpecialRoot, AccessRead), pe(cwd, AccessWrite), pe(cwd+"/secrets", AccessNone), pre("docs", AccessRead)),
			NetworkRestricted, ww(nil, RestrictedReadAccess(false, "/", cwd+"/docs"), false, true, true), nil},
		{"workspace, full reads", restricted(se(SpecialRoot, AccessRead), pe(cwd, AccessWrite), pre("docs", AccessRead)),
			NetworkRestricted, ww(nil, FullReadAccess(), false, true, true), nil},
		{"project_roots subpath write", restricted(se(SpecialCurrentWorkingDirectory, AccessWrite), pre("out", AccessWrite), pe("/a", AccessWrite), pe("/a", AccessWrite)),
			NetworkRestricted, ww([]string{cwd + "/out", "/a"}, RestrictedReadAccess(false), false, true, true), nil},
		{"writes outside cwd", restricted(se(SpecialRoot, AccessRead), pe("/var/tmp", AccessWrite)), NetworkRestricted, SandboxPolicy{}, ErrWritesOutsideWorkspace},
		{"tmp writes only", restricted(se(SpecialRoot, AccessRead), se(SpecialSlashTmp, AccessWrite)), NetworkRestricted, SandboxPolicy{}, ErrWritesOutsideWorkspace},
		{"tmpdir write only", restricted(se(SpecialTmpdir, AccessWrite)), NetworkRestricted, SandboxPolicy{}, ErrWritesOutsideWorkspace},
		{"subpath write only", restricted(pre("x", AccessWrite)), NetworkRestricted, SandboxPolicy{}, ErrWritesOutsideWorkspace},
	}
	for _, tc := range tests {
		if tc.name == "root read without a cwd" {
			// :root only resolves against an absolute cwd.
			got, err := tc.p.ToLegacy(HostFS, tc.net, "relative")
			if want := ro(RestrictedReadAccess(false), false); err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("%s: %#v, %v", tc.name, got, err)
			}
			continue
		}
		got, err := tc.p.ToLegacy(HostFS, tc.net, cwd)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("%s: err = %v; want %v", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: ToLegacy =\n%#v, %v\nwant\n%#v", tc.name, got, err, tc.want)
		}
	}
	if ErrWritesOutsideWorkspace.Error() != "permissions profile requests filesystem writes outside the workspace root, which is not supported until the runtime enforces FileSystemSandboxPolicy directly" {
		t.Error("ErrWritesOutsideWorkspace message changed")
	}
	if _, err := (FileSystemPolicy{Kind: "bogus"}).ToLegacy(HostFS, NetworkRestricted, cwd); err == nil {
		t.Error("invalid kind accepted")
	}
}

func TestFileSystemPolicyFromLegacy(t *testing.T) {
	tests := []struct {
		legacy string
		want   string
	}{
		{`{"type":"danger-full-access"}`, `{"kind":"unrestricted"}`},
		{`{"type":"external-sandbox","network_access":"enabled"}`, `{"kind":"external-sandbox"}`},
		{`{"type":"read-only","network_access":true}`, `{"kind":"restricted","entries":[{"path":{"type":"special","value":{"kind":"root"}},"access":"read"}]}`},
		{`{"type":"read-only","access":{"type":"restricted","include_platform_defaults":true,"readable_roots":["/opt/data"]}}`,
			`{"kind":"restricted","entries":[{"path":{"type":"special","value":{"kind":"current_working_directory"}},"access":"read"},{"path":{"type":"special","value":{"kind":"minimal"}},"access":"read"},{"path":{"type":"path","path":"/opt/data"},"access":"read"}]}`},
		{`{"type":"read-only","access":{"type":"restricted","include_platform_defaults":false}}`,
			`{"kind":"restricted","entries":[{"path":{"type":"special","value":{"kind":"current_working_directory"}},"access":"read"}]}`},
		{`{"type":"workspace-write"}`,
			`{"kind":"restricted","entries":[{"path":{"type":"special","value":{"kind":"root"}},"access":"read"},{"path":{"type":"special","value":{"kind":"current_working_directory"}},"access":"write"},{"path":{"type":"special","value":{"kind":"slash_tmp"}},"access":"write"},{"path":{"type":"special","value":{"kind":"tmpdir"}},"access":"write"}]}`},
		{`{"type":"workspace-write","writable_roots":["/home/u/.cache/pip"],"network_access":true,"exclude_tmpdir_env_var":true,"exclude_slash_tmp":false}`,
			`{"kind":"restricted","entries":[{"path":{"type":"special","value":{"kind":"root"}},"access":"read"},{"path":{"type":"special","value":{"kind":"current_working_directory"}},"access":"write"},{"path":{"type":"special","value":{"kind":"slash_tmp"}},"access":"write"},{"path":{"type":"path","path":"/home/u/.cache/pip"},"access":"write"}]}`},
		{`{"type":"workspace-write","writable_roots":["/w"],"read_only_access":{"type":"restricted","readable_roots":["/etc","/w/sub"]},"exclude_tmpdir_env_var":true,"exclude_slash_tmp":true}`,
			`{"kind":"restricted","entries":[{"path":{"type":"special","value":{"kind":"minimal"}},"access":"read"},{"path":{"type":"path","path":"/etc"},"access":"read"},{"path":{"type":"path","path":"/w/sub"},"access":"read"},{"path":{"type":"special","value":{"kind":"current_working_directory"}},"access":"write"},{"path":{"type":"path","path":"/w"},"access":"write"}]}`},
	}
	for _, tc := range tests {
		p, err := ParseSandboxPolicy(tc.legacy)
		if err != nil {
			t.Fatal(err)
		}
		got, err := json.Marshal(FileSystemPolicyFromLegacy(p))
		if err != nil || string(got) != tc.want {
			t.Errorf("FileSystemPolicyFromLegacy(%s) =\n%s, %v\nwant\n%s", tc.legacy, got, err, tc.want)
		}
	}
	if got := FileSystemPolicyFromLegacy(SandboxPolicy{}); got.Kind != FSRestricted || len(got.Entries) != 0 {
		t.Errorf("invalid legacy policy must grant nothing: %#v", got)
	}
}

func TestFileSystemPolicyFromLegacyWithCwd(t *testing.T) {
	d := realTemp(t)
	t.Setenv("TMPDIR", "")
	cwd := d + "/proj"
	mkdirs(t, cwd+"/.git", d+"/w/.git", d+"/w2/.codex")
	legacy := SandboxPolicy{
		Type:            PolicyWorkspaceWrite,
		WritableRoots:   []string{d + "/w", d + "/w2"},
		Access:          RestrictedReadAccess(false, "/etc", d+"/w/sub", cwd+"/src", cwd+"/.git/hooks", cwd, d+"/w2/.codex"),
		ExcludeSlashTmp: true,
	}
	// Readable paths already writable under the legacy roots are dropped;
	// ones inside a protected subpath (.git) stay, as does everything for
	// non-workspace policies. Then (0.125) the protected subpaths of the
	// cwd (its missing .codex included) and of each explicit writable
	// root follow as read entries, except those already named by a path
	// entry (w2/.codex).
	want := restricted(
		pe("/etc", AccessRead),
		pe(cwd+"/.git/hooks", AccessRead),
		pe(d+"/w2/.codex", AccessRead),
		se(SpecialCurrentWorkingDirectory, AccessWrite),
		se(SpecialTmpdir, AccessWrite),
		pe(d+"/w", AccessWrite),
		pe(d+"/w2", AccessWrite),
		pe(cwd+"/.git", AccessRead),
		pe(cwd+"/.codex", AccessRead),
		pe(d+"/w/.git", AccessRead),
	)
	if got := FileSystemPolicyFromLegacyWithCwd(HostFS, legacy, cwd); !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%#v\nwant\n%#v", got, want)
	}
	// Being entries, a nested root's protected subpaths are carve-outs of
	// the enclosing root too (0.125), after the root's own.
	nested := SandboxPolicy{Type: PolicyWorkspaceWrite, WritableRoots: []string{cwd + "/sub"}, ExcludeSlashTmp: true, ExcludeTmpdirEnvVar: true}
	mkdirs(t, cwd+"/sub/.git")
	wantW := []WritableRoot{
		{Root: cwd, ReadOnlySubpaths: []string{cwd + "/.git", cwd + "/.codex", cwd + "/sub/.git"}},
		{Root: cwd + "/sub", ReadOnlySubpaths: []string{cwd + "/sub/.git"}},
	}
	if got := FileSystemPolicyFromLegacyWithCwd(HostFS, nested, cwd).WritableRootsWithCwd(HostFS, cwd); !reflect.DeepEqual(got, wantW) {
		t.Errorf("nested roots:\n%#v\nwant\n%#v", got, wantW)
	}
	ro := SandboxPolicy{Type: PolicyReadOnly, Access: RestrictedReadAccess(false, cwd+"/src")}
	if got := FileSystemPolicyFromLegacyWithCwd(HostFS, ro, cwd); !reflect.DeepEqual(got, FileSystemPolicyFromLegacy(ro)) {
		t.Errorf("read-only changed: %#v", got)
	}
}

func TestNeedsDirectRuntimeEnforcement(t *testing.T) {
	d := realTemp(t)
	t.Setenv("TMPDIR", "")
	mkdirs(t, d+"/docs")
	e, err := ParseFileSystemPolicy(fsDocs[5]) // §1.9 E
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		p    FileSystemPolicy
		cwd  string
		want bool
	}{
		{"unrestricted", FileSystemPolicy{Kind: FSUnrestricted}, d, false},
		{"external", FileSystemPolicy{Kind: FSExternalSandbox, Entries: []FSEntry{pe("/x", AccessNone)}}, d, false},
		{"read-only", restricted(se(SpecialRoot, AccessRead)), d, false},
		{"legacy workspace-write", FileSystemPolicyFromLegacy(NewWorkspaceWritePolicy()), "/zbox-nonexistent/proj", false},
		// 0.125: with the cwd below a writable /tmp, the legacy form also
		// protects <cwd>/.codex under /tmp, so the split form no longer
		// round-trips (the real helper then accepts any paired legacy policy).
		{"legacy workspace-write, cwd below /tmp", FileSystemPolicyFromLegacy(NewWorkspaceWritePolicy()), d, true},
		{"legacy restricted reads", FileSystemPolicyFromLegacy(SandboxPolicy{Type: PolicyReadOnly, Access: RestrictedReadAccess(true, "/opt/data")}), d, false},
		{"nested read-only carve-out", restricted(se(SpecialCurrentWorkingDirectory, AccessWrite), pe(d+"/docs", AccessRead)), d, true},
		{"deny carve-out", restricted(se(SpecialRoot, AccessRead), pe(d+"/docs", AccessNone)), d, true},
		{"root write with read-only child", restricted(se(SpecialRoot, AccessWrite), pe(d+"/docs", AccessRead)), d, true},
		{"writes outside cwd", restricted(se(SpecialRoot, AccessRead), pe("/var/tmp", AccessWrite)), d, true},
		{"§1.9 E", e, "/home/me/project", true},
		{"cwd written as a path", restricted(se(SpecialRoot, AccessRead), pe(d, AccessWrite)), d, false},
		{"writable roots in another order", restricted(se(SpecialRoot, AccessRead), pe("/var/tmp", AccessWrite), se(SpecialCurrentWorkingDirectory, AccessWrite)), d, true},
	}
	for _, tc := range tests {
		if got := tc.p.NeedsDirectRuntimeEnforcement(HostFS, NetworkRestricted, tc.cwd); got != tc.want {
			t.Errorf("%s: NeedsDirectRuntimeEnforcement = %v; want %v", tc.name, got, tc.want)
		}
	}
}

func FuzzParseFileSystemPolicy(f *testing.F) {
	for _, d := range fsDocs {
		f.Add(d)
	}
	f.Add(`{"kind":"restricted","entries":[{"path":{"type":"special","value":{"kind":"project_roots","subpath":null}},"access":"read"}]}`)
	f.Add(`{"kind":"restricted","entries":[{"path":{"type":"path","path":"/a/../b/"},"access":"none"}]}`)
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseFileSystemPolicy(s)
		if err != nil {
			return
		}
		out, err := p.MarshalJSON()
		if err != nil {
			t.Fatalf("parsed %q but cannot marshal: %v", s, err)
		}
		q, err := ParseFileSystemPolicy(string(out))
		if err != nil {
			t.Fatalf("re-parse of %s: %v", out, err)
		}
		if !reflect.DeepEqual(p, q) {
			t.Fatalf("round trip changed the policy:\n%#v\n%#v", p, q)
		}
		if out2, _ := q.MarshalJSON(); string(out2) != string(out) {
			t.Fatalf("marshal not canonical: %s vs %s", out, out2)
		}
	})
}

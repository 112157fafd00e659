package policy

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// legacyDocs are canonical --sandbox-policy documents: parsing then
// marshalling each must give it back byte for byte. The outputs were
// checked against the 0.125 helper's re-serialisation (spec §7.2).
var legacyDocs = []string{
	// §1.9 A-E
	`{"type":"read-only"}`,
	`{"type":"workspace-write","writable_roots":["/home/u/.cache/pip"],"network_access":true,"exclude_tmpdir_env_var":true,"exclude_slash_tmp":false}`,
	`{"type":"read-only","access":{"type":"restricted","include_platform_defaults":true,"readable_roots":["/opt/data"]}}`,
	`{"type":"danger-full-access"}`,
	`{"type":"external-sandbox","network_access":"restricted"}`,
	`{"type":"workspace-write","network_access":false,"exclude_tmpdir_env_var":true,"exclude_slash_tmp":true}`,
	// every variant and option
	`{"type":"external-sandbox","network_access":"enabled"}`,
	`{"type":"read-only","network_access":true}`,
	`{"type":"read-only","access":{"type":"restricted","include_platform_defaults":false},"network_access":true}`,
	`{"type":"workspace-write","network_access":false,"exclude_tmpdir_env_var":false,"exclude_slash_tmp":false}`,
	`{"type":"workspace-write","writable_roots":["/var/tmp","/a b\"c"],"read_only_access":{"type":"restricted","include_platform_defaults":true,"readable_roots":["/etc"]},"network_access":false,"exclude_tmpdir_env_var":false,"exclude_slash_tmp":false}`,
	`{"type":"workspace-write","read_only_access":{"type":"restricted","include_platform_defaults":false},"network_access":true,"exclude_tmpdir_env_var":true,"exclude_slash_tmp":true}`,
}

func TestSandboxPolicyRoundTrip(t *testing.T) {
	for _, doc := range legacyDocs {
		p, err := ParseSandboxPolicy(doc)
		if err != nil {
			t.Errorf("ParseSandboxPolicy(%s): %v", doc, err)
			continue
		}
		got, err := json.Marshal(p)
		if err != nil || string(got) != doc {
			t.Errorf("round trip of %s gave %s, %v", doc, got, err)
		}
	}
}

func TestSandboxPolicyCanonicalisation(t *testing.T) {
	// Inputs the helper accepts, and the exact document it forwards.
	tests := []struct{ in, want string }{
		{`{"type":"workspace-write"}`, `{"type":"workspace-write","network_access":false,"exclude_tmpdir_env_var":false,"exclude_slash_tmp":false}`},
		{`{"type":"external-sandbox"}`, `{"type":"external-sandbox","network_access":"restricted"}`},
		{`{"type":"read-only","network_access":false,"access":{"type":"full-access"}}`, `{"type":"read-only"}`},
		{`{"type":"read-only","access":{"type":"restricted"}}`, `{"type":"read-only","access":{"type":"restricted","include_platform_defaults":true}}`},
		{`{"type":"read-only","access":{"type":"restricted","readable_roots":[]}}`, `{"type":"read-only","access":{"type":"restricted","include_platform_defaults":true}}`},
		{`{"exclude_slash_tmp":true,"read_only_access":{"type":"restricted","include_platform_defaults":false,"readable_roots":["/etc"]},"writable_roots":["/var/tmp"],"type":"workspace-write","exclude_tmpdir_env_var":true}`,
			`{"type":"workspace-write","writable_roots":["/var/tmp"],"read_only_access":{"type":"restricted","include_platform_defaults":false,"readable_roots":["/etc"]},"network_access":false,"exclude_tmpdir_env_var":true,"exclude_slash_tmp":true}`},
		{`{"type":"workspace-write","read_only_access":{"type":"full-access"},"network_access":true}`, `{"type":"workspace-write","network_access":true,"exclude_tmpdir_env_var":false,"exclude_slash_tmp":false}`},
		{`{"type":"read-only","access":{"type":"restricted","include_platform_defaults":false,"readable_roots":["/opt/x/../data/./y/","/opt//z","/.."]}}`,
			`{"type":"read-only","access":{"type":"restricted","include_platform_defaults":false,"readable_roots":["/opt/data/y","/opt/z","/"]}}`},
		{` {"type" : "danger-full-access"} `, `{"type":"danger-full-access"}`},
		{`{"type":"read-only","access":{"type":"restricted","readable_roots":["/\u00e9\u0001\ud83d\ude00"]}}`, "{\"type\":\"read-only\",\"access\":{\"type\":\"restricted\",\"include_platform_defaults\":true,\"readable_roots\":[\"/é\\u0001😀\"]}}"},
	}
	for _, tc := range tests {
		p, err := ParseSandboxPolicy(tc.in)
		if err != nil {
			t.Errorf("ParseSandboxPolicy(%s): %v", tc.in, err)
			continue
		}
		got, err := p.MarshalJSON()
		if err != nil || string(got) != tc.want {
			t.Errorf("ParseSandboxPolicy(%s) marshals to %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

func TestSandboxPolicyDefaultsMarshal(t *testing.T) {
	tests := []struct {
		p    SandboxPolicy
		want string
	}{
		{NewReadOnlyPolicy(), `{"type":"read-only"}`},
		{NewWorkspaceWritePolicy(), `{"type":"workspace-write","network_access":false,"exclude_tmpdir_env_var":false,"exclude_slash_tmp":false}`},
		{DangerFullAccessPolicy(), `{"type":"danger-full-access"}`},
		{ExternalSandboxPolicy(false), `{"type":"external-sandbox","network_access":"restricted"}`},
		{ExternalSandboxPolicy(true), `{"type":"external-sandbox","network_access":"enabled"}`},
	}
	for _, tc := range tests {
		got, err := json.Marshal(tc.p)
		if err != nil || string(got) != tc.want {
			t.Errorf("Marshal(%v) = %s, %v; want %s", tc.p, got, err, tc.want)
		}
	}
	for _, a := range []struct {
		a    ReadOnlyAccess
		want string
	}{
		{FullReadAccess(), `{"type":"full-access"}`},
		{RestrictedReadAccess(true), `{"type":"restricted","include_platform_defaults":true}`},
		{RestrictedReadAccess(false, "/a"), `{"type":"restricted","include_platform_defaults":false,"readable_roots":["/a"]}`},
	} {
		if got, err := json.Marshal(a.a); err != nil || string(got) != a.want {
			t.Errorf("Marshal(%v) = %s, %v; want %s", a.a, got, err, a.want)
		}
	}
}

func TestSandboxPolicyMarshalRejectsInvalid(t *testing.T) {
	bad := []SandboxPolicy{
		{},
		{Type: "bogus"},
		{Type: PolicyWorkspaceWrite, WritableRoots: []string{"rel"}},
		{Type: PolicyWorkspaceWrite, WritableRoots: []string{"/a/../b"}},
		{Type: PolicyReadOnly, Access: RestrictedReadAccess(true, "/x/")},
	}
	for _, p := range bad {
		if got, err := p.MarshalJSON(); err == nil {
			t.Errorf("MarshalJSON(%#v) = %s; want error", p, got)
		}
	}
}

func TestParseSandboxPolicyErrors(t *testing.T) {
	t.Setenv("HOME", "/home/me")
	tests := []struct{ in, want string }{
		{`{"type":"foo"}`, `sandbox policy: unknown variant "foo" for field "type", expected one of "danger-full-access", "read-only", "external-sandbox", "workspace-write"`},
		{`{}`, `sandbox policy: missing field "type"`},
		{`{"type":1}`, `sandbox policy: field "type": invalid type: a number, expected a string`},
		{`{"type":"read-only","foo":1}`, `sandbox policy: unknown field "foo", expected one of "type", "access", "network_access"`},
		{`{"type":"danger-full-access","network_access":true}`, `sandbox policy: unknown field "network_access", expected "type"`},
		{`{"type":"Read-Only"}`, `unknown variant "Read-Only"`},
		{`{"Type":"read-only"}`, `missing field "type"`},
		{`{"type":"read-only"} x`, `sandbox policy: trailing characters`},
		{`{"type":"read-only"}{}`, `trailing characters`},
		{`{"type":"read-only","type":"read-only"}`, `sandbox policy: duplicate field "type"`},
		{`{"type":"read-only","network_access":null}`, `field "network_access": invalid type: null, expected a boolean`},
		{`{"type":"read-only","network_access":"true"}`, `expected a boolean`},
		{`{"type":"workspace-write","writable_roots":["rel"]}`, `field "writable_roots"[0]: AbsolutePathBuf deserialized without a base path`},
		{`{"type":"workspace-write","writable_roots":["~/x"]}`, `AbsolutePathBuf deserialized without a base path`},
		{`{"type":"workspace-write","writable_roots":null}`, `field "writable_roots": invalid type: null, expected a sequence`},
		{`{"type":"workspace-write","writable_roots":"/x"}`, `expected a sequence`},
		{`{"type":"workspace-write","writable_roots":[1]}`, `expected a string`},
		{`{"type":"workspace-write","writable_roots":["/a\u0000b"]}`, `NUL byte`},
		{`{"type":"external-sandbox","network_access":true}`, `expected a string`},
		{`{"type":"external-sandbox","network_access":"on"}`, `unknown variant "on" for field "network_access"`},
		{`{"type":"read-only","access":{"type":"partial"}}`, `field "access": unknown variant "partial" for field "type", expected one of "restricted", "full-access"`},
		{`{"type":"read-only","access":{"type":"full-access","readable_roots":[]}}`, `unknown field "readable_roots"`},
		{`{"type":"read-only","access":{"include_platform_defaults":true}}`, `missing field "type"`},
		{`{"type":"read-only","access":null}`, `expected a map`},
		{`{"type":"read-only","access":{"type":"restricted","readable_roots":["/\ud800"]}}`, `lone leading surrogate`},
		{`[]`, `sandbox policy: invalid type: a sequence, expected a map`},
		{`"read-only"`, `expected a map`},
		{``, `sandbox policy: empty input`},
		{`{"type":"read-only"`, `invalid JSON`},
		{"{\"type\":\"read-only\",\"x\":\"\xff\"}", `not valid UTF-8`},
	}
	for _, tc := range tests {
		_, err := ParseSandboxPolicy(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseSandboxPolicy(%s) error = %v; want it to contain %q", tc.in, err, tc.want)
		}
	}
}

func TestSandboxPolicyUnmarshalJSON(t *testing.T) {
	var v struct{ P SandboxPolicy }
	if err := json.Unmarshal([]byte(`{"P":{"type":"read-only","network_access":true}}`), &v); err != nil {
		t.Fatal(err)
	}
	if want := (SandboxPolicy{Type: PolicyReadOnly, NetworkAccess: true}); !reflect.DeepEqual(v.P, want) {
		t.Errorf("got %#v", v.P)
	}
	if err := json.Unmarshal([]byte(`{"P":{"type":"read-only","x":1}}`), &v); err == nil {
		t.Error("unknown field accepted through UnmarshalJSON")
	}
}

func TestSandboxPolicyString(t *testing.T) {
	// The Rust Debug forms the helper prints in its mismatch error
	// (captured from the 0.125 helper).
	tests := []struct{ doc, want string }{
		{`{"type":"danger-full-access"}`, `DangerFullAccess`},
		{`{"type":"read-only"}`, `ReadOnly { access: FullAccess, network_access: false }`},
		{`{"type":"external-sandbox"}`, `ExternalSandbox { network_access: Restricted }`},
		{`{"type":"external-sandbox","network_access":"enabled"}`, `ExternalSandbox { network_access: Enabled }`},
		{`{"type":"read-only","access":{"type":"restricted","include_platform_defaults":false,"readable_roots":["/é\u0001"]}}`,
			`ReadOnly { access: Restricted { include_platform_defaults: false, readable_roots: [AbsolutePathBuf("/é\u{1}")] }, network_access: false }`},
		{`{"type":"workspace-write","writable_roots":["/var/tmp","/a b\"c"],"read_only_access":{"type":"restricted","readable_roots":["/etc"]}}`,
			`WorkspaceWrite { writable_roots: [AbsolutePathBuf("/var/tmp"), AbsolutePathBuf("/a b\"c")], read_only_access: Restricted { include_platform_defaults: true, readable_roots: [AbsolutePathBuf("/etc")] }, network_access: false, exclude_tmpdir_env_var: false, exclude_slash_tmp: false }`},
		{`{"type":"workspace-write"}`, `WorkspaceWrite { writable_roots: [], read_only_access: FullAccess, network_access: false, exclude_tmpdir_env_var: false, exclude_slash_tmp: false }`},
	}
	for _, tc := range tests {
		p, err := ParseSandboxPolicy(tc.doc)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.String(); got != tc.want {
			t.Errorf("String(%s) =\n%s\nwant\n%s", tc.doc, got, tc.want)
		}
	}
}

func TestSandboxPolicyAccessQueries(t *testing.T) {
	tests := []struct {
		doc                        string
		fullRead, fullWrite, netOK bool
		platformDefaults           bool
		net                        NetworkPolicy
	}{
		{`{"type":"danger-full-access"}`, true, true, true, false, NetworkEnabled},
		{`{"type":"external-sandbox"}`, true, true, false, false, NetworkRestricted},
		{`{"type":"external-sandbox","network_access":"enabled"}`, true, true, true, false, NetworkEnabled},
		{`{"type":"read-only"}`, true, false, false, false, NetworkRestricted},
		{`{"type":"read-only","network_access":true}`, true, false, true, false, NetworkEnabled},
		{`{"type":"read-only","access":{"type":"restricted"}}`, false, false, false, true, NetworkRestricted},
		{`{"type":"read-only","access":{"type":"restricted","include_platform_defaults":false}}`, false, false, false, false, NetworkRestricted},
		{`{"type":"workspace-write"}`, true, false, false, false, NetworkRestricted},
		{`{"type":"workspace-write","network_access":true,"read_only_access":{"type":"restricted"}}`, false, false, true, true, NetworkEnabled},
	}
	for _, tc := range tests {
		p, err := ParseSandboxPolicy(tc.doc)
		if err != nil {
			t.Fatal(err)
		}
		if p.HasFullDiskReadAccess() != tc.fullRead || p.HasFullDiskWriteAccess() != tc.fullWrite ||
			p.HasFullNetworkAccess() != tc.netOK || p.IncludePlatformDefaults() != tc.platformDefaults {
			t.Errorf("%s: read=%v write=%v net=%v defaults=%v", tc.doc, p.HasFullDiskReadAccess(), p.HasFullDiskWriteAccess(), p.HasFullNetworkAccess(), p.IncludePlatformDefaults())
		}
		if got := NetworkPolicyFromLegacy(p); got != tc.net {
			t.Errorf("%s: NetworkPolicyFromLegacy = %q; want %q", tc.doc, got, tc.net)
		}
	}
	if (SandboxPolicy{}).HasFullDiskReadAccess() || (SandboxPolicy{}).HasFullNetworkAccess() {
		t.Error("invalid policy must grant nothing")
	}
}

func TestLegacyWritableRoots(t *testing.T) {
	d := realTemp(t)
	cwd := d + "/proj"
	extra := d + "/extra"
	tmpdir := d + "/tmpdir"
	mkdirs(t, cwd+"/.git", cwd+"/.agents", cwd+"/.codex", extra, tmpdir+"/.codex")
	t.Setenv("TMPDIR", tmpdir)

	ww := SandboxPolicy{Type: PolicyWorkspaceWrite, WritableRoots: []string{extra, cwd}}
	got := ww.WritableRootsWithCwd(HostFS, cwd)
	want := []WritableRoot{
		{Root: extra},
		{Root: cwd, ReadOnlySubpaths: []string{cwd + "/.git", cwd + "/.agents", cwd + "/.codex"}},
		{Root: cwd, ReadOnlySubpaths: []string{cwd + "/.git", cwd + "/.agents", cwd + "/.codex"}}, // not de-duplicated
		{Root: "/tmp"},
		{Root: tmpdir, ReadOnlySubpaths: []string{tmpdir + "/.codex"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("WritableRootsWithCwd =\n%#v\nwant\n%#v", got, want)
	}

	// 0.125: the cwd root protects a missing .codex; no other root does.
	bare := d + "/bare"
	mkdirs(t, bare)
	ww = SandboxPolicy{Type: PolicyWorkspaceWrite, WritableRoots: []string{extra}, ExcludeSlashTmp: true, ExcludeTmpdirEnvVar: true}
	want = []WritableRoot{{Root: extra}, {Root: bare, ReadOnlySubpaths: []string{bare + "/.codex"}}}
	if got := ww.WritableRootsWithCwd(HostFS, bare+"/"); !reflect.DeepEqual(got, want) {
		t.Errorf("missing .codex: WritableRootsWithCwd =\n%#v\nwant\n%#v", got, want)
	}

	// Exclusions, a missing /tmp, and an unusable $TMPDIR.
	ww = SandboxPolicy{Type: PolicyWorkspaceWrite, ExcludeTmpdirEnvVar: true}
	if got := ww.WritableRootsWithCwd(noTmpFS{HostFS}, cwd); len(got) != 1 || got[0].Root != cwd {
		t.Errorf("excluded tmp: %#v", got)
	}
	ww = SandboxPolicy{Type: PolicyWorkspaceWrite, ExcludeSlashTmp: true}
	for _, bad := range []string{"", "relative/tmp"} {
		t.Setenv("TMPDIR", bad)
		if got := ww.WritableRootsWithCwd(HostFS, cwd); len(got) != 1 {
			t.Errorf("TMPDIR=%q: %#v", bad, got)
		}
	}
	// A relative cwd is ignored, as the helper logs and skips it.
	if got := ww.WritableRootsWithCwd(HostFS, "rel"); len(got) != 0 {
		t.Errorf("relative cwd: %#v", got)
	}
	for _, p := range []SandboxPolicy{NewReadOnlyPolicy(), DangerFullAccessPolicy(), ExternalSandboxPolicy(true)} {
		if got := p.WritableRootsWithCwd(HostFS, cwd); got != nil {
			t.Errorf("%v: writable roots %v", p, got)
		}
	}
}

func TestLegacyReadableRoots(t *testing.T) {
	d := realTemp(t)
	t.Setenv("TMPDIR", "")
	cwd := d + "/proj"
	mkdirs(t, cwd)
	ro := SandboxPolicy{Type: PolicyReadOnly, Access: RestrictedReadAccess(true, "/opt/data", cwd, "/opt/data")}
	if got, want := ro.ReadableRootsWithCwd(HostFS, cwd), []string{"/opt/data", cwd}; !reflect.DeepEqual(got, want) {
		t.Errorf("read-only restricted: %v; want %v", got, want)
	}
	ww := SandboxPolicy{Type: PolicyWorkspaceWrite, WritableRoots: []string{"/w"}, Access: RestrictedReadAccess(false, "/r")}
	if got, want := ww.ReadableRootsWithCwd(HostFS, cwd), []string{"/r", cwd, "/w", "/tmp"}; !reflect.DeepEqual(got, want) {
		t.Errorf("workspace-write restricted: %v; want %v", got, want)
	}
	for _, p := range []SandboxPolicy{NewReadOnlyPolicy(), NewWorkspaceWritePolicy(), DangerFullAccessPolicy(), ExternalSandboxPolicy(false)} {
		if got := p.ReadableRootsWithCwd(HostFS, cwd); got != nil {
			t.Errorf("%v: full reads must give no readable roots, got %v", p, got)
		}
	}
}

func TestProtectedSubpaths(t *testing.T) {
	d := realTemp(t)
	t.Setenv("HOME", d+"/home")
	type node struct{ kind, path, data string } // kind: d(ir), f(ile), l(ink)
	tests := []struct {
		name string
		tree []node
		want []string // relative to the root; "@" prefix: relative to d
	}{
		{"empty", nil, nil},
		{"git dir", []node{{"d", ".git", ""}}, []string{".git"}},
		{"all three", []node{{"d", ".git", ""}, {"d", ".agents", ""}, {"d", ".codex", ""}}, []string{".git", ".agents", ".codex"}},
		{"agents and codex files are not protected", []node{{"f", ".agents", ""}, {"f", ".codex", ""}}, nil},
		{"git file without pointer", []node{{"f", ".git", "garbage"}}, []string{".git"}},
		{"gitdir relative", []node{{"d", "gd", ""}, {"f", ".git", "gitdir: gd\n"}}, []string{"gd", ".git"}},
		{"gitdir relative with dots", []node{{"d", "@outside/wt", ""}, {"f", ".git", "gitdir: ../outside/wt"}}, []string{"@outside/wt", ".git"}},
		{"gitdir absolute", []node{{"d", "@abs/gd", ""}, {"f", ".git", "  gitdir:   " + d + "/abs/gd  \n\n"}}, []string{"@abs/gd", ".git"}},
		{"gitdir home", []node{{"d", "@home/g", ""}, {"f", ".git", "gitdir: ~/g"}}, []string{"@home/g", ".git"}},
		{"gitdir missing", []node{{"f", ".git", "gitdir: nowhere"}}, []string{".git"}},
		{"gitdir empty", []node{{"f", ".git", "gitdir:   "}}, []string{".git"}},
		{"gitdir any prefix", []node{{"d", "gd", ""}, {"f", ".git", "x: gd"}}, []string{"gd", ".git"}},
		{"gitdir is .git itself", []node{{"f", ".git", "gitdir: .git"}}, []string{".git"}},
		{"git symlink to dir", []node{{"d", "real", ""}, {"l", ".git", "real"}}, []string{".git"}},
		{"codex symlink to dir keeps the literal path", []node{{"d", "decoy", ""}, {"l", ".codex", "decoy"}}, []string{".codex"}},
		{"dangling git symlink", []node{{"l", ".git", "missing"}}, nil},
		{"git fifo-like special is ignored", []node{{"l", ".git", "/dev/null"}}, nil},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := d + "/case" + string(rune('a'+i))
			mkdirs(t, root)
			for _, n := range tc.tree {
				p := root + "/" + n.path
				if rest, ok := strings.CutPrefix(n.path, "@"); ok {
					p = d + "/" + rest
				}
				switch n.kind {
				case "d":
					mkdirs(t, p)
				case "f":
					writeFile(t, p, n.data)
				case "l":
					symlink(t, n.data, p)
				}
			}
			var want []string
			for _, w := range tc.want {
				if rest, ok := strings.CutPrefix(w, "@"); ok {
					want = append(want, d+"/"+rest)
				} else {
					want = append(want, root+"/"+w)
				}
			}
			if got := defaultReadOnlySubpaths(HostFS, root, false); !reflect.DeepEqual(got, want) {
				t.Errorf("got %v; want %v", got, want)
			}
		})
	}
}

func TestProtectedSubpathsOfCwdRoot(t *testing.T) {
	// 0.125 (v0.118+, #15067): the cwd's root protects .codex whatever it
	// is, missing and plain file included; .agents only as a directory.
	d := realTemp(t)
	mkdirs(t, d+"/missing", d+"/file", d+"/dir/.codex", d+"/dir/.agents")
	writeFile(t, d+"/file/.codex", "x\n")
	writeFile(t, d+"/file/.agents", "y\n")
	for root, want := range map[string][]string{
		d + "/missing": {d + "/missing/.codex"},
		d + "/file":    {d + "/file/.codex"},
		d + "/dir":     {d + "/dir/.agents", d + "/dir/.codex"},
	} {
		if got := defaultReadOnlySubpaths(HostFS, root, true); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %v; want %v", root, got, want)
		}
	}
	// Other roots: neither a missing nor a plain-file .codex.
	for _, root := range []string{d + "/missing", d + "/file"} {
		if got := defaultReadOnlySubpaths(HostFS, root, false); got != nil {
			t.Errorf("%s (not the cwd): got %v; want none", root, got)
		}
	}
}

func TestGitPointerSizeCap(t *testing.T) {
	d := realTemp(t)
	mkdirs(t, d+"/gd")
	writeFile(t, d+"/.git", "gitdir: gd"+strings.Repeat(" ", maxGitPointerSize))
	if got, want := defaultReadOnlySubpaths(HostFS, d, false), []string{d + "/.git"}; !reflect.DeepEqual(got, want) {
		t.Errorf("oversized .git: %v; want %v", got, want)
	}
}

func TestWritableRootIsPathWritable(t *testing.T) {
	r := WritableRoot{Root: "/w", ReadOnlySubpaths: []string{"/w/.git", "/w/ro"}}
	for p, want := range map[string]bool{"/w": true, "/w/x": true, "/w/.gitx": true, "/w/.git": false, "/w/.git/hooks": false, "/w/ro/y": false, "/wx": false, "/": false} {
		if got := r.IsPathWritable(p); got != want {
			t.Errorf("IsPathWritable(%q) = %v", p, got)
		}
	}
}

func FuzzParseSandboxPolicy(f *testing.F) {
	for _, d := range legacyDocs {
		f.Add(d)
	}
	f.Add(`{"type":"workspace-write"}`)
	f.Add(`{"type":"read-only","access":{"type":"restricted","readable_roots":["/a/../b","/\u00e9"]}}`)
	f.Add(`{"type":"read-only","x":null}`)
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseSandboxPolicy(s)
		if err != nil {
			return
		}
		out, err := p.MarshalJSON()
		if err != nil {
			t.Fatalf("parsed %q but cannot marshal: %v", s, err)
		}
		q, err := ParseSandboxPolicy(string(out))
		if err != nil {
			t.Fatalf("re-parse of %s: %v", out, err)
		}
		if !reflect.DeepEqual(p, q) {
			t.Fatalf("round trip changed the policy:\n%#v\n%#v", p, q)
		}
		out2, _ := q.MarshalJSON()
		if string(out2) != string(out) {
			t.Fatalf("marshal not canonical: %s vs %s", out, out2)
		}
		_ = p.String()
	})
}

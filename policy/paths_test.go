package policy

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// realTemp returns a fresh temp dir with symlinks resolved, so expected
// effective paths can be spelled literally even if $TMPDIR is a symlink.
func realTemp(t *testing.T) string {
	t.Helper()
	d, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func mkdirs(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func writeFile(t *testing.T, p, content string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// noTmpFS is the host filesystem without /tmp, to exercise the rules that
// depend on /tmp being a directory.
type noTmpFS struct{ FS }

func (f noTmpFS) Stat(name string) (fs.FileInfo, error) {
	if name == "/tmp" {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
	}
	return f.FS.Stat(name)
}

// dirsFS is an in-memory FS holding only directories, without symlinks.
type dirsFS map[string]bool

type dirInfo struct{ fs.FileInfo }

func (dirInfo) IsDir() bool       { return true }
func (dirInfo) Mode() fs.FileMode { return fs.ModeDir | 0o755 }
func (dirInfo) Size() int64       { return 0 }

func (m dirsFS) Stat(name string) (fs.FileInfo, error) {
	if m[name] {
		return dirInfo{}, nil
	}
	return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
}
func (m dirsFS) Lstat(name string) (fs.FileInfo, error) { return m.Stat(name) }
func (m dirsFS) ReadFile(name string) ([]byte, error) {
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}
func (m dirsFS) EvalSymlinks(name string) (string, error) {
	if m[name] {
		return name, nil
	}
	return "", &fs.PathError{Op: "lstat", Path: name, Err: fs.ErrNotExist}
}

func TestNormalizeAbs(t *testing.T) {
	t.Setenv("HOME", "/home/me")
	tests := []struct {
		in, want string
		err      string
	}{
		{"/", "/", ""},
		{"/a/b/", "/a/b", ""},
		{"//a//b", "/a/b", ""},
		{"/a/./b/../c", "/a/c", ""},
		{"/..", "/", ""},
		{"/../../x", "/x", ""},
		{"~", "/home/me", ""},
		{"~/x/../y", "/home/me/y", ""},
		{"~//code", "/home/me/code", ""},
		{"~user/x", "", errRelativePath},
		{"rel", "", errRelativePath},
		{"./rel", "", errRelativePath},
		{"", "", errRelativePath},
		{"/a\x00b", "", "NUL"},
	}
	for _, tc := range tests {
		got, err := NormalizeAbs(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("NormalizeAbs(%q) = %q, %v; want error containing %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("NormalizeAbs(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestParseJSONPathRejectsTilde(t *testing.T) {
	// The helper deserialises without a base path: the absoluteness check
	// comes before home expansion, so "~" is a relative path there.
	t.Setenv("HOME", "/home/me")
	for _, in := range []string{"~", "~/x", "x", ""} {
		if _, err := parseJSONPath(in); err == nil || err.Error() != errRelativePath {
			t.Errorf("parseJSONPath(%q) error = %v; want %q", in, err, errRelativePath)
		}
	}
	if got, err := parseJSONPath("/a/../b/"); err != nil || got != "/b" {
		t.Errorf("parseJSONPath(/a/../b/) = %q, %v", got, err)
	}
}

func TestResolveAgainstBase(t *testing.T) {
	t.Setenv("HOME", "/home/me")
	tests := []struct{ p, base, want string }{
		{"docs", "/w", "/w/docs"},
		{"a/../b", "/w", "/w/b"},
		{"../up", "/w/x", "/w/up"},
		{"/abs", "/w", "/abs"},
		{"", "/w", "/w"},
		{"~/c", "/w", "/home/me/c"},
	}
	for _, tc := range tests {
		if got := resolveAgainstBase(tc.p, tc.base); got != tc.want {
			t.Errorf("resolveAgainstBase(%q, %q) = %q; want %q", tc.p, tc.base, got, tc.want)
		}
	}
}

func TestPathHelpers(t *testing.T) {
	under := []struct {
		p, root string
		want    bool
	}{
		{"/a", "/", true},
		{"/", "/", true},
		{"/a/b", "/a", true},
		{"/a", "/a", true},
		{"/ab", "/a", false},
		{"/a", "/a/b", false},
		{"/", "/a", false},
	}
	for _, tc := range under {
		if got := pathUnder(tc.p, tc.root); got != tc.want {
			t.Errorf("pathUnder(%q, %q) = %v", tc.p, tc.root, got)
		}
	}
	strip := []struct {
		p, root, want string
		ok            bool
	}{
		{"/a/b/c", "/a", "b/c", true},
		{"/a", "/a", "", true},
		{"/a/b", "/", "a/b", true},
		{"/ab", "/a", "", false},
	}
	for _, tc := range strip {
		got, ok := stripPathPrefix(tc.p, tc.root)
		if got != tc.want || ok != tc.ok {
			t.Errorf("stripPathPrefix(%q, %q) = %q, %v", tc.p, tc.root, got, ok)
		}
	}
	for p, want := range map[string]int{"/": 1, "/a": 2, "/a/b/c": 4} {
		if got := componentCount(p); got != want {
			t.Errorf("componentCount(%q) = %d; want %d", p, got, want)
		}
	}
}

func TestEffectivePath(t *testing.T) {
	d := realTemp(t)
	mkdirs(t, d+"/real/sub")
	symlink(t, d+"/real", d+"/link")
	symlink(t, "real/sub", d+"/rel")
	symlink(t, d+"/loop", d+"/loop")
	writeFile(t, d+"/file", "x")
	tests := []struct{ in, want string }{
		{d + "/real/sub", d + "/real/sub"},
		{d + "/link", d + "/real"},
		{d + "/link/sub", d + "/real/sub"},
		{d + "/link/missing/deeper", d + "/real/missing/deeper"},
		{d + "/rel", d + "/real/sub"},
		{d + "/loop/x", d + "/loop/x"}, // unresolvable link: keep its spelling below the parent
		{d + "/file/x", d + "/file/x"}, // ENOTDIR: canonical parent + suffix
		{"/", "/"},
		{d + "/missing", d + "/missing"},
	}
	for _, tc := range tests {
		if got := EffectivePath(HostFS, tc.in); got != tc.want {
			t.Errorf("EffectivePath(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

// aliasFS is the host filesystem plus a top-level symlink Alias ("/zl")
// to the directory Target, like /bin -> usr/bin on merged-/usr hosts.
type aliasFS struct {
	FS
	Alias, Target string
}

type linkInfo struct{ fs.FileInfo }

func (linkInfo) Mode() fs.FileMode { return fs.ModeSymlink | 0o777 }
func (linkInfo) IsDir() bool       { return false }

func (a aliasFS) real(name string) string {
	if rest, ok := stripPathPrefix(name, a.Alias); ok {
		return filepath.Join(a.Target, rest)
	}
	return name
}

func (a aliasFS) Lstat(name string) (fs.FileInfo, error) {
	if name == a.Alias {
		st, err := a.FS.Lstat(a.Target)
		if err != nil {
			return nil, err
		}
		return linkInfo{st}, nil
	}
	return a.FS.Lstat(a.real(name))
}
func (a aliasFS) Stat(name string) (fs.FileInfo, error)    { return a.FS.Stat(a.real(name)) }
func (a aliasFS) ReadFile(name string) ([]byte, error)     { return a.FS.ReadFile(a.real(name)) }
func (a aliasFS) EvalSymlinks(name string) (string, error) { return a.FS.EvalSymlinks(a.real(name)) }

func TestLiteralEffectivePath(t *testing.T) {
	// 0.125's effective form for masked paths (canonicalize_preserving_symlinks):
	// the spelling survives a symlink below the top level; a top-level
	// alias is still resolved.
	d := realTemp(t)
	mkdirs(t, d+"/real/sub")
	symlink(t, d+"/real", d+"/link")
	symlink(t, d+"/gone", d+"/dangling")
	fsys := aliasFS{FS: HostFS, Alias: "/zl", Target: d + "/real"}
	tests := []struct{ in, want string }{
		{d + "/real/sub", d + "/real/sub"},
		{d + "/link", d + "/link"},
		{d + "/link/sub/", d + "/link/sub"},
		{d + "/link/missing/deeper", d + "/link/missing/deeper"},
		{d + "/dangling/x", d + "/dangling/x"},
		{d + "/missing/x", d + "/missing/x"},
		{"/zl/sub", d + "/real/sub"},         // top-level alias: canonical
		{"/zl/missing", d + "/real/missing"}, // ... with a missing suffix
		{"/", "/"},
	}
	for _, tc := range tests {
		if got := literalEffectivePath(fsys, tc.in); got != tc.want {
			t.Errorf("literalEffectivePath(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

func TestRustDebugStr(t *testing.T) {
	tests := map[string]string{
		`/a b"c`:      `"/a b\"c"`,
		"/é\x01":      `"/é\u{1}"`,
		"/t\tn\n\\":   `"/t\tn\n\\"`,
		"/x\x00\x7f'": `"/x\0\u{7f}'"`,
	}
	for in, want := range tests {
		if got := rustDebugStr(in); got != want {
			t.Errorf("rustDebugStr(%q) = %s; want %s", in, got, want)
		}
	}
}

func TestJSONWriterEscapesLikeSerde(t *testing.T) {
	// Confirmed against the 0.125 helper: serde_json escapes only '"',
	// '\\' and C0 controls (lowercase \u00xx), not <>&, DEL or U+2028.
	var w jsonWriter
	w.str("/a<>&\u2028\x01\x1f\x7f\b\f\t\"\\/é😀\n\r")
	want := "\"/a<>&\u2028\\u0001\\u001f\x7f\\b\\f\\t\\\"\\\\/é😀\\n\\r\""
	if got := w.b.String(); got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
}

func TestCheckSurrogates(t *testing.T) {
	ok := []string{`"a"`, `"\u0041"`, `"\\u d800"`, `"\\ud800"`, `"\ud83d\ude00"`, `"\n\u00e9"`}
	bad := []string{`"\ud800"`, `"\udc00"`, `"\ud800\u0041"`, `"\ud800x"`}
	for _, s := range ok {
		if err := checkSurrogates([]byte(s)); err != nil {
			t.Errorf("checkSurrogates(%s) = %v", s, err)
		}
	}
	for _, s := range bad {
		if err := checkSurrogates([]byte(s)); err == nil {
			t.Errorf("checkSurrogates(%s) accepted", s)
		}
	}
}

func TestTopLevelJSON(t *testing.T) {
	tests := []struct {
		in   string
		want string
		err  string
	}{
		{` {"a":1} `, `{"a":1}`, ""},
		{"\t\"x\"\n", `"x"`, ""},
		{`{"a":1} x`, "", "trailing characters"},
		{`{"a":1}{}`, "", "trailing characters"},
		{``, "", "empty input"},
		{`   `, "", "empty input"},
		{`{"a":`, "", "invalid JSON"},
		{"\"\xff\"", "", "not valid UTF-8"},
	}
	for _, tc := range tests {
		got, err := topLevelJSON("x", tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("topLevelJSON(%q) = %s, %v; want error %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || string(got) != tc.want {
			t.Errorf("topLevelJSON(%q) = %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

func TestHostFS(t *testing.T) {
	d := realTemp(t)
	writeFile(t, d+"/f", "data")
	symlink(t, "f", d+"/l")
	if st, err := HostFS.Lstat(d + "/l"); err != nil || st.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("Lstat symlink: %v %v", st, err)
	}
	if st, err := HostFS.Stat(d + "/l"); err != nil || !st.Mode().IsRegular() {
		t.Errorf("Stat symlink: %v %v", st, err)
	}
	if b, err := HostFS.ReadFile(d + "/l"); err != nil || string(b) != "data" {
		t.Errorf("ReadFile: %q %v", b, err)
	}
	if p, err := HostFS.EvalSymlinks(d + "/l"); err != nil || p != d+"/f" {
		t.Errorf("EvalSymlinks: %q %v", p, err)
	}
	if _, err := HostFS.Stat(d + "/missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat missing: %v", err)
	}
}

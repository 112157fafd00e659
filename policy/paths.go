package policy

// Path values of the Codex helper policy model (spec codex-helper.md §1.1,
// §1.5 "effective" normalisation) and the strict JSON primitives the three
// policy parsers share.
//
// Everything here is pure: the only filesystem access goes through the FS
// interface, so the policy algebra can be tested against real temp trees
// and replayed against a fake filesystem.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// FS is every filesystem read the policy package performs: no writes, no
// mounts. Lstat and Stat follow os semantics (Stat follows symlinks),
// EvalSymlinks is realpath(3) (every component must exist).
type FS interface {
	Lstat(name string) (fs.FileInfo, error)
	Stat(name string) (fs.FileInfo, error)
	ReadFile(name string) ([]byte, error)
	EvalSymlinks(name string) (string, error)
}

type osFS struct{}

func (osFS) Lstat(name string) (fs.FileInfo, error)   { return os.Lstat(name) }
func (osFS) Stat(name string) (fs.FileInfo, error)    { return os.Stat(name) }
func (osFS) ReadFile(name string) ([]byte, error)     { return os.ReadFile(name) }
func (osFS) EvalSymlinks(name string) (string, error) { return filepath.EvalSymlinks(name) }

// HostFS is the FS of the calling process.
var HostFS FS = osFS{}

// errRelativePath is serde's message for a relative AbsolutePathBuf; the
// helper prints it verbatim and callers match on it.
const errRelativePath = "AbsolutePathBuf deserialized without a base path"

// homeDir mirrors dirs::home_dir on Linux: $HOME when set and non-empty,
// else the passwd entry of the current user. "" when neither is known.
func homeDir() string {
	if h := os.Getenv("HOME"); h != "" {
		return h
	}
	if u, err := user.Current(); err == nil {
		return u.HomeDir
	}
	return ""
}

// expandHome implements AbsolutePathBuf::maybe_expand_home_directory:
// exactly "~" becomes $HOME and "~/rest" becomes $HOME/rest. "~user" is
// left alone (and is then a relative path).
func expandHome(p string) string {
	rest, ok := strings.CutPrefix(p, "~")
	if !ok {
		return p
	}
	home := homeDir()
	if home == "" {
		return p
	}
	if rest == "" {
		return home
	}
	if r, ok := strings.CutPrefix(rest, "/"); ok {
		return filepath.Join(home, strings.TrimLeft(r, "/"))
	}
	return p
}

// NormalizeAbs is AbsolutePathBuf::from_absolute_path: "~" and "~/x" are
// expanded to $HOME, the result must be absolute, and "." / ".." / "//"
// are resolved lexically, without touching the filesystem (symlinks are
// not followed, so "/link/.." is "/" even if /link points elsewhere).
func NormalizeAbs(p string) (string, error) {
	if strings.IndexByte(p, 0) >= 0 {
		return "", fmt.Errorf("path %q contains a NUL byte", p)
	}
	e := expandHome(p)
	if !filepath.IsAbs(e) {
		return "", errors.New(errRelativePath)
	}
	return filepath.Clean(e), nil
}

// resolveAgainstBase is AbsolutePathBuf::resolve_path_against_base: home
// expansion, then an absolute path stands alone and a relative one is
// joined to base; the result is cleaned lexically.
func resolveAgainstBase(p, base string) string {
	e := expandHome(p)
	if filepath.IsAbs(e) {
		return filepath.Clean(e)
	}
	return filepath.Join(base, e)
}

// parseJSONPath decodes an AbsolutePathBuf the way the helper does: the
// helper deserialises without a base path, so the absoluteness check
// happens BEFORE home expansion and "~/x" is rejected just like "x".
func parseJSONPath(p string) (string, error) {
	if strings.IndexByte(p, 0) >= 0 {
		// Not representable in argv or a mount target; the helper would
		// only fail later, when building the bwrap command line.
		return "", fmt.Errorf("path %q contains a NUL byte", p)
	}
	if !filepath.IsAbs(p) {
		return "", errors.New(errRelativePath)
	}
	return filepath.Clean(p), nil
}

// pathUnder reports whether p equals root or lies below it, comparing
// whole components (Rust's Path::starts_with). Both must be clean.
func pathUnder(p, root string) bool {
	switch {
	case p == root:
		return true
	case root == "/":
		return strings.HasPrefix(p, "/")
	}
	return len(p) > len(root) && p[len(root)] == '/' && strings.HasPrefix(p, root)
}

// stripPathPrefix returns p relative to root (whole components) and
// whether p is under root at all. The suffix is "" when p == root.
func stripPathPrefix(p, root string) (string, bool) {
	if !pathUnder(p, root) {
		return "", false
	}
	if p == root {
		return "", true
	}
	if root == "/" {
		return p[1:], true
	}
	return p[len(root)+1:], true
}

// componentCount is Path::components().count() for a clean absolute
// path: the root directory counts as one component.
func componentCount(p string) int {
	n := 1
	for _, part := range strings.Split(p, "/") {
		if part != "" {
			n++
		}
	}
	return n
}

// parentDirs lists p and its ancestors, deepest first, ending with "/".
func parentDirs(p string) []string {
	out := []string{p}
	for p != "/" && p != "." && p != "" {
		p = filepath.Dir(p)
		out = append(out, p)
	}
	return out
}

// EffectivePath is the helper's "effective" normalisation
// (normalize_effective_absolute_path): find the longest ancestor of p that
// can be canonicalised (it exists, every symlink on the way resolves),
// canonicalise it and re-append the missing suffix. A path whose parts do
// not exist yet still gets its existing symlinked prefix resolved, so a
// writable root given through a symlink and a carve-out given through the
// real path compare equal. p must be absolute; it is returned cleaned when
// nothing can be canonicalised.
func EffectivePath(fsys FS, p string) string {
	p = filepath.Clean(p)
	for _, anc := range parentDirs(p) {
		canon, err := fsys.EvalSymlinks(anc)
		if err != nil || !filepath.IsAbs(canon) {
			continue
		}
		suffix, _ := stripPathPrefix(p, anc)
		return filepath.Join(canon, suffix)
	}
	return p
}

// literalEffectivePath is the "effective" normalisation of the 0.125
// reference helper for the paths it masks (normalize_effective_absolute_path
// over canonicalize_preserving_symlinks): p stays as spelled (cleaned)
// when a symlink below the top level lies on its existing part, and is
// EffectivePath otherwise. Top-level aliases (/bin -> usr/bin,
// /var -> private/var) are still resolved; a nested symlink is kept so the
// renderer masks the path the policy names, and can see when that path
// crosses a symlink the target could re-point.
func literalEffectivePath(fsys FS, p string) string {
	p = filepath.Clean(p)
	if hasNestedSymlink(fsys, p) {
		return p
	}
	return EffectivePath(fsys, p)
}

// hasNestedSymlink reports whether some prefix of p with at least two
// components ("/a/b", not "/a") is a symlink (lstat). The walk stops at
// the first prefix that cannot be lstat'ed: nothing exists below it.
func hasNestedSymlink(fsys FS, p string) bool {
	cur := "/"
	for _, c := range strings.Split(p, "/") {
		if c == "" {
			continue
		}
		if cur == "/" {
			cur = "/" + c
		} else {
			cur = cur + "/" + c
		}
		fi, err := fsys.Lstat(cur)
		if err != nil {
			return false
		}
		if fi.Mode()&fs.ModeSymlink != 0 && strings.Count(cur, "/") >= 2 {
			return true
		}
	}
	return false
}

// dedupPaths keeps the first occurrence of each path; with normalize the
// paths are replaced by their effective form first (dedup_absolute_paths).
func dedupPaths(fsys FS, paths []string, normalize bool) []string {
	var out []string
	seen := make(map[string]bool, len(paths))
	for _, p := range paths {
		if normalize {
			p = EffectivePath(fsys, p)
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

func isDir(fsys FS, p string) bool {
	st, err := fsys.Stat(p)
	return err == nil && st.IsDir()
}

func isRegular(fsys FS, p string) bool {
	st, err := fsys.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

func exists(fsys FS, p string) bool {
	_, err := fsys.Stat(p)
	return err == nil
}

// tmpdirEnv resolves $TMPDIR as the helper does: set, non-empty and
// absolute after home expansion; otherwise "".
func tmpdirEnv() string {
	t := os.Getenv("TMPDIR")
	if t == "" {
		return ""
	}
	p, err := NormalizeAbs(t)
	if err != nil {
		return ""
	}
	return p
}

// rustDebugStr formats s like Rust's <str as Debug>, which is what the
// helper's mismatch error prints for paths (AbsolutePathBuf("...")).
// Printability of non-ASCII runes follows Go's unicode.IsPrint, which
// agrees with Rust for every character a sane path contains.
func rustDebugStr(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case 0:
			b.WriteString(`\0`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		case '\n':
			b.WriteString(`\n`)
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		default:
			if r == ' ' || unicode.IsPrint(r) {
				b.WriteRune(r)
			} else {
				fmt.Fprintf(&b, `\u{%x}`, r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

func rustDebugPaths(paths []string) string {
	parts := make([]string, len(paths))
	for i, p := range paths {
		parts[i] = "AbsolutePathBuf(" + rustDebugStr(p) + ")"
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// ---------------------------------------------------------------------
// Strict JSON primitives.
//
// The helper parses its flags with serde_json. We accept exactly what it
// accepts, minus unknown fields (serde ignores them; a typo in a sandbox
// policy must not silently widen or narrow it), and produce byte-identical
// output. encoding/json is unsuitable as-is: it matches field names
// case-insensitively, accepts duplicate keys, maps null to zero values,
// replaces invalid UTF-16 escapes with U+FFFD and escapes <, >, & and
// U+2028 differently from serde_json.
// ---------------------------------------------------------------------

// topLevelJSON checks that s is one JSON value with nothing but JSON
// whitespace around it, in valid UTF-8, and returns it trimmed.
func topLevelJSON(what, s string) ([]byte, error) {
	if !utf8.ValidString(s) {
		return nil, fmt.Errorf("%s: input is not valid UTF-8", what)
	}
	data := []byte(s)
	dec := json.NewDecoder(bytes.NewReader(data))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		if err == io.EOF {
			return nil, fmt.Errorf("%s: empty input, expected a JSON value", what)
		}
		return nil, fmt.Errorf("%s: invalid JSON: %w", what, err)
	}
	off := dec.InputOffset()
	if rest := bytes.TrimLeft(data[off:], " \t\r\n"); len(rest) > 0 {
		return nil, fmt.Errorf("%s: trailing characters at offset %d after the JSON value", what, len(data)-len(rest))
	}
	return raw, nil
}

// jsonKind names the JSON type of a raw value for error messages.
func jsonKind(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "a map"
	case '[':
		return "a sequence"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

// checkSurrogates rejects \uD800-\uDFFF escapes that do not form a valid
// UTF-16 pair; serde_json refuses them, encoding/json would silently
// substitute U+FFFD (and so change a path).
func checkSurrogates(raw []byte) error {
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		if i+1 >= len(raw) {
			return nil
		}
		if raw[i+1] != 'u' {
			i++ // skip the escaped character (it may be a backslash)
			continue
		}
		if i+6 > len(raw) {
			return errors.New("truncated \\u escape")
		}
		v, err := strconv.ParseUint(string(raw[i+2:i+6]), 16, 16)
		if err != nil {
			return fmt.Errorf("invalid \\u escape %q", raw[i:i+6])
		}
		switch {
		case v >= 0xDC00 && v <= 0xDFFF:
			return errors.New("lone trailing surrogate in \\u escape")
		case v >= 0xD800 && v <= 0xDBFF:
			j := i + 6
			if j+6 > len(raw) || raw[j] != '\\' || raw[j+1] != 'u' {
				return errors.New("lone leading surrogate in \\u escape")
			}
			w, err := strconv.ParseUint(string(raw[j+2:j+6]), 16, 16)
			if err != nil || w < 0xDC00 || w > 0xDFFF {
				return errors.New("lone leading surrogate in \\u escape")
			}
			i = j + 5
		default:
			i += 5
		}
	}
	return nil
}

// jsonString decodes a JSON string value strictly.
func jsonString(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", fmt.Errorf("invalid type: %s, expected a string", jsonKind(raw))
	}
	if err := checkSurrogates(raw); err != nil {
		return "", err
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", err
	}
	return s, nil
}

// jsonArray splits a JSON array into its elements.
func jsonArray(raw json.RawMessage) ([]json.RawMessage, error) {
	if len(raw) == 0 || raw[0] != '[' {
		return nil, fmt.Errorf("invalid type: %s, expected a sequence", jsonKind(raw))
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, err
	}
	return elems, nil
}

// jsonObject is one JSON object with its fields, for strict decoding: each
// lookup marks the field used and finish() rejects whatever is left.
type jsonObject struct {
	ctx    string
	fields map[string]json.RawMessage
	used   map[string]bool
}

func parseJSONObject(ctx string, raw json.RawMessage) (*jsonObject, error) {
	if len(raw) == 0 || raw[0] != '{' {
		return nil, fmt.Errorf("%s: invalid type: %s, expected a map", ctx, jsonKind(raw))
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil { // the '{'
		return nil, fmt.Errorf("%s: %w", ctx, err)
	}
	o := &jsonObject{ctx: ctx, fields: map[string]json.RawMessage{}, used: map[string]bool{}}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ctx, err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("%s: expected an object key, found %v", ctx, tok)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("%s: field %q: %w", ctx, key, err)
		}
		if _, dup := o.fields[key]; dup {
			return nil, fmt.Errorf("%s: duplicate field %q", ctx, key)
		}
		o.fields[key] = v
	}
	return o, nil
}

func (o *jsonObject) errf(format string, args ...any) error {
	return fmt.Errorf(o.ctx+": "+format, args...)
}

// get returns a field's raw value and marks it used.
func (o *jsonObject) get(name string) (json.RawMessage, bool) {
	v, ok := o.fields[name]
	if ok {
		o.used[name] = true
	}
	return v, ok
}

// str reads a string field; required fields must be present.
func (o *jsonObject) str(name string, required bool) (string, bool, error) {
	raw, ok := o.get(name)
	if !ok {
		if required {
			return "", false, o.errf("missing field %q", name)
		}
		return "", false, nil
	}
	s, err := jsonString(raw)
	if err != nil {
		return "", false, o.errf("field %q: %w", name, err)
	}
	return s, true, nil
}

// optStr reads an Option<String>-like field: absent and null are None.
func (o *jsonObject) optStr(name string) (*string, error) {
	raw, ok := o.get(name)
	if !ok || string(raw) == "null" {
		return nil, nil
	}
	s, err := jsonString(raw)
	if err != nil {
		return nil, o.errf("field %q: %w", name, err)
	}
	return &s, nil
}

// boolean reads a bool field, def when absent. null is an error, as in
// serde (a default only applies to a missing field).
func (o *jsonObject) boolean(name string, def bool) (bool, error) {
	raw, ok := o.get(name)
	if !ok {
		return def, nil
	}
	switch string(raw) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, o.errf("field %q: invalid type: %s, expected a boolean", name, jsonKind(raw))
}

// paths reads an array of absolute paths; nil when absent or empty.
func (o *jsonObject) paths(name string) ([]string, error) {
	raw, ok := o.get(name)
	if !ok {
		return nil, nil
	}
	elems, err := jsonArray(raw)
	if err != nil {
		return nil, o.errf("field %q: %w", name, err)
	}
	var out []string
	for i, e := range elems {
		s, err := jsonString(e)
		if err != nil {
			return nil, o.errf("field %q[%d]: %w", name, i, err)
		}
		p, err := parseJSONPath(s)
		if err != nil {
			return nil, o.errf("field %q[%d]: %w", name, i, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// finish rejects fields that were never looked up.
func (o *jsonObject) finish(allowed ...string) error {
	var unknown []string
	for k := range o.fields {
		if !o.used[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	if len(allowed) == 0 {
		return o.errf("unknown field %q, there are no fields", unknown[0])
	}
	return o.errf("unknown field %q, expected %s", unknown[0], oneOf(allowed))
}

// variantErr is the error for a tag value that names no variant.
func variantErr(ctx, field, got string, allowed []string) error {
	return fmt.Errorf("%s: unknown variant %q for field %q, expected %s", ctx, got, field, oneOf(allowed))
}

func oneOf(allowed []string) string {
	q := make([]string, len(allowed))
	for i, a := range allowed {
		q[i] = strconv.Quote(a)
	}
	if len(q) == 1 {
		return q[0]
	}
	return "one of " + strings.Join(q, ", ")
}

// jsonWriter emits compact JSON exactly like serde_json::to_string.
type jsonWriter struct{ b bytes.Buffer }

// str writes s with serde_json's escaping: '"' and '\\' escaped, the C0
// controls as \b \f \n \r \t or \u00xx (lowercase hex), nothing else (no
// escaping of '<', '>', '&', DEL or U+2028/2029, unlike encoding/json).
func (w *jsonWriter) str(s string) {
	const hex = "0123456789abcdef"
	w.b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			w.b.WriteString(`\"`)
		case '\\':
			w.b.WriteString(`\\`)
		case '\b':
			w.b.WriteString(`\b`)
		case '\f':
			w.b.WriteString(`\f`)
		case '\n':
			w.b.WriteString(`\n`)
		case '\r':
			w.b.WriteString(`\r`)
		case '\t':
			w.b.WriteString(`\t`)
		default:
			if c < 0x20 {
				w.b.WriteString(`\u00`)
				w.b.WriteByte(hex[c>>4])
				w.b.WriteByte(hex[c&0xf])
			} else {
				w.b.WriteByte(c)
			}
		}
	}
	w.b.WriteByte('"')
}

func (w *jsonWriter) raw(s string) { w.b.WriteString(s) }

// key writes `,"name":` (the comma unless first).
func (w *jsonWriter) key(name string, first bool) {
	if !first {
		w.b.WriteByte(',')
	}
	w.str(name)
	w.b.WriteByte(':')
}

func (w *jsonWriter) boolean(v bool) {
	if v {
		w.raw("true")
	} else {
		w.raw("false")
	}
}

func (w *jsonWriter) strs(ss []string) {
	w.b.WriteByte('[')
	for i, s := range ss {
		if i > 0 {
			w.b.WriteByte(',')
		}
		w.str(s)
	}
	w.b.WriteByte(']')
}

// checkAbsPaths validates paths of a value built in Go before it is
// serialised: the helper's AbsolutePathBuf cannot hold anything else.
func checkAbsPaths(ctx string, paths []string) error {
	for i, p := range paths {
		if q, err := parseJSONPath(p); err != nil || q != p {
			return fmt.Errorf("%s[%d]: %q is not a clean absolute path", ctx, i, p)
		}
	}
	return nil
}

// cachedFS remembers every answer of the FS it wraps. Building one plan
// asks about the same few directories again and again (every deny path
// under $HOME walks and resolves $HOME, $HOME/.config, ...: over a
// thousand stat calls for the agent profile), and the answers are meant
// to be one snapshot anyway. Not safe for concurrent use; make one per
// build, and never across a change to the filesystem.
type cachedFS struct {
	fs    FS
	stat  map[string]cachedInfo
	lstat map[string]cachedInfo
	eval  map[string]cachedPath
}

type cachedInfo struct {
	fi  fs.FileInfo
	err error
}

type cachedPath struct {
	p   string
	err error
}

// Snapshot wraps f so that each question is asked of it once (cachedFS).
func Snapshot(f FS) FS { return newCachedFS(f) }

func newCachedFS(f FS) *cachedFS {
	if c, ok := f.(*cachedFS); ok {
		return c
	}
	return &cachedFS{fs: f, stat: map[string]cachedInfo{}, lstat: map[string]cachedInfo{}, eval: map[string]cachedPath{}}
}

func (c *cachedFS) Stat(name string) (fs.FileInfo, error) {
	r, ok := c.stat[name]
	if !ok {
		r.fi, r.err = c.fs.Stat(name)
		c.stat[name] = r
	}
	return r.fi, r.err
}

func (c *cachedFS) Lstat(name string) (fs.FileInfo, error) {
	r, ok := c.lstat[name]
	if !ok {
		r.fi, r.err = c.fs.Lstat(name)
		c.lstat[name] = r
	}
	return r.fi, r.err
}

func (c *cachedFS) EvalSymlinks(name string) (string, error) {
	r, ok := c.eval[name]
	if !ok {
		r.p, r.err = c.fs.EvalSymlinks(name)
		c.eval[name] = r
	}
	return r.p, r.err
}

// ReadFile is not cached: gitdir files are read once each.
func (c *cachedFS) ReadFile(name string) ([]byte, error) { return c.fs.ReadFile(name) }

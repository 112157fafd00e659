package main

// From what the user typed (profiles, then flags) to one resolved set of
// settings: paths absolute and effective, lists merged, durations and
// limits parsed. Everything here is a usage error when it fails: nothing
// has run yet, and the message names the flag or profile at fault.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/zbox-sandbox/zbox/policy"
)

// usageError is a mistake on the command line or in a profile: exit 2,
// one line, nothing runs.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

var errEmptyItem = errors.New("empty item in comma list (a path with a comma is written with \\,)")

// item is one value of a list setting, with where it came from.
type item struct {
	Value string
	// Origin is "--deny-read" or "profile agent (built-in)": it starts
	// every error about the value.
	Origin string
	// Expand: $HOME, $CWD and $TMPDIR are expanded (profile values only;
	// on the command line the shell has already done that).
	Expand bool
}

// optField is an optional-valued setting (--allow-read[=PATHS]).
type optField struct {
	All   bool
	Items []item
}

func (o *optField) add(x optField) {
	o.All = o.All || x.All
	o.Items = append(o.Items, x.Items...)
}

// layer is one profile's or the command line's contribution.
type layer struct {
	Origin string

	AllowRead, AllowWrite, AllowNet, AllowEnv optField
	DenyRead, DenyWrite, DenyNet, DenyEnv     []item
	Env, Limit                                []item

	Cwd, Policy, Engine, Timeout *item
	NoProc, Strict, Debug        *bool
	NoNewSession                 *bool
}

// settings are the resolved, merged settings of one sandbox.
type settings struct {
	ReadAll   bool     `json:"read_all"`
	Read      []string `json:"read,omitempty"`
	DenyRead  []string `json:"deny_read,omitempty"`
	WriteAll  bool     `json:"write_all"`
	Write     []string `json:"write,omitempty"`
	DenyWrite []string `json:"deny_write,omitempty"`

	NetAll  bool     `json:"net_all"`
	Net     []string `json:"net,omitempty"`
	DenyNet []string `json:"deny_net,omitempty"`

	// SetEnv are --env K=V in order; EnvAll/EnvKeys/DenyEnv select what
	// is inherited (patterns with *).
	SetEnv  []string `json:"set_env,omitempty"`
	EnvAll  bool     `json:"env_all"`
	EnvKeys []string `json:"env_keys,omitempty"`
	DenyEnv []string `json:"deny_env,omitempty"`

	// Cwd is the absolute working directory of the command and the base
	// of relative paths; CwdGiven says it came from -C or a profile.
	Cwd      string `json:"cwd"`
	CwdGiven bool   `json:"cwd_given"`
	Policy   string `json:"policy,omitempty"`
	NoProc   bool   `json:"no_proc"`
	// NoNewSession keeps the command in the caller's session.
	NoNewSession bool   `json:"no_new_session,omitempty"`
	Engine       string `json:"engine"`
	Strict       bool   `json:"strict"`
	// Timeout is 0 for none.
	Timeout time.Duration `json:"timeout"`
	Limits  policy.Limits `json:"limits"`
	Debug   bool          `json:"debug"`

	// Profiles are the profiles applied, in application order.
	Profiles []string `json:"profiles"`
	// Missing are allow paths that do not exist (they grant nothing).
	Missing []string `json:"missing,omitempty"`
}

// hostInfo is what resolution needs from the calling process.
type hostInfo struct {
	Cwd    string // the process's working directory
	Home   string
	TmpDir string // $TMPDIR, or /tmp
	Env    []string
}

func currentHost() hostInfo {
	cwd, _ := os.Getwd()
	return hostInfo{Cwd: cwd, Home: os.Getenv("HOME"), TmpDir: os.TempDir(), Env: os.Environ()}
}

// cliLayer turns the parsed flags into a layer.
func cliLayer(f *policyFlags) (layer, error) {
	l := layer{Origin: "command line"}
	var err error
	opt := func(name string, o optList) (optField, error) {
		r := optField{All: o.All}
		for _, v := range o.Values {
			if v == "" {
				return r, usagef("--%s=: empty value; write --%s alone for everything, or --%s=VALUE", name, name, name)
			}
			items, err := cliItems("--"+name, v)
			if err != nil {
				return r, err
			}
			r.Items = append(r.Items, items...)
		}
		return r, nil
	}
	list := func(name string, vs []string) ([]item, error) {
		var out []item
		for _, v := range vs {
			items, err := cliItems("--"+name, v)
			if err != nil {
				return nil, err
			}
			out = append(out, items...)
		}
		return out, nil
	}
	if l.AllowRead, err = opt("allow-read", f.AllowRead); err != nil {
		return l, err
	}
	if l.AllowWrite, err = opt("allow-write", f.AllowWrite); err != nil {
		return l, err
	}
	if l.AllowNet, err = opt("allow-net", f.AllowNet); err != nil {
		return l, err
	}
	if l.AllowEnv, err = opt("allow-env", f.AllowEnv); err != nil {
		return l, err
	}
	if l.DenyRead, err = list("deny-read", f.DenyRead); err != nil {
		return l, err
	}
	if l.DenyWrite, err = list("deny-write", f.DenyWrite); err != nil {
		return l, err
	}
	if l.DenyNet, err = list("deny-net", f.DenyNet); err != nil {
		return l, err
	}
	if l.DenyEnv, err = list("deny-env", f.DenyEnv); err != nil {
		return l, err
	}
	if l.Limit, err = list("limit", f.Limit); err != nil {
		return l, err
	}
	// --env values are not split: a value may contain commas.
	for _, v := range f.Env {
		l.Env = append(l.Env, item{Value: v, Origin: "--env"})
	}
	str := func(name, v string) *item {
		if v == "" {
			return nil
		}
		return &item{Value: v, Origin: "--" + name}
	}
	l.Cwd = str("cwd", f.Cwd)
	l.Policy = str("policy", f.Policy)
	l.Engine = str("engine", f.Engine)
	l.Timeout = str("timeout", f.Timeout)
	b := func(v bool) *bool {
		if !v {
			return nil
		}
		return &v
	}
	l.NoProc, l.Strict, l.Debug = b(f.NoProc), b(f.Strict), b(f.Debug)
	l.NoNewSession = b(f.NoNewSession)
	return l, nil
}

func cliItems(origin, v string) ([]item, error) {
	parts, err := splitList(v)
	if err != nil {
		return nil, usagef("%s=%s: %v", origin, v, err)
	}
	out := make([]item, len(parts))
	for i, p := range parts {
		out[i] = item{Value: strings.TrimSpace(p), Origin: origin}
	}
	return out, nil
}

// resolveSettings merges layers (profiles first, the command line last)
// and resolves every value.
func resolveSettings(layers []layer, h hostInfo) (settings, error) {
	var s settings
	// The working directory comes first: relative paths and $CWD depend
	// on it. The last layer that sets it wins.
	s.Cwd = h.Cwd
	for _, l := range layers {
		if l.Cwd == nil {
			continue
		}
		x := expander{h: h, cwd: h.Cwd}
		p, err := x.path(*l.Cwd)
		if err != nil {
			return s, err
		}
		st, err := os.Stat(p)
		if err != nil {
			return s, usagef("%s %s: %v", l.Cwd.Origin, l.Cwd.Value, errText(err))
		}
		if !st.IsDir() {
			return s, usagef("%s %s: not a directory", l.Cwd.Origin, l.Cwd.Value)
		}
		s.Cwd, s.CwdGiven = p, true
	}
	if s.Cwd == "" || !filepath.IsAbs(s.Cwd) {
		return s, usagef("cannot determine the working directory; pass -C DIR")
	}
	// One snapshot of the filesystem for resolving every path value (the
	// profiles name dozens under $HOME).
	x := expander{h: h, cwd: s.Cwd, fsys: policy.Snapshot(policy.HostFS)}

	var read, write, net, env optField
	var denyRead, denyWrite, denyNet, denyEnv, setEnv, limit []item
	for _, l := range layers {
		read.add(l.AllowRead)
		write.add(l.AllowWrite)
		net.add(l.AllowNet)
		env.add(l.AllowEnv)
		denyRead = append(denyRead, l.DenyRead...)
		denyWrite = append(denyWrite, l.DenyWrite...)
		denyNet = append(denyNet, l.DenyNet...)
		denyEnv = append(denyEnv, l.DenyEnv...)
		setEnv = append(setEnv, l.Env...)
		limit = append(limit, l.Limit...)
		if l.Policy != nil {
			p, err := x.path(*l.Policy)
			if err != nil {
				return s, err
			}
			s.Policy = p
		}
		if l.Engine != nil {
			s.Engine = l.Engine.Value
		}
		if l.Timeout != nil {
			d, err := parseTimeout(l.Timeout.Value)
			if err != nil {
				return s, usagef("%s %s: %v", l.Timeout.Origin, l.Timeout.Value, err)
			}
			s.Timeout = d
		}
		if l.NoProc != nil {
			s.NoProc = *l.NoProc
		}
		if l.NoNewSession != nil {
			s.NoNewSession = *l.NoNewSession
		}
		if l.Strict != nil {
			s.Strict = *l.Strict
		}
		if l.Debug != nil {
			s.Debug = *l.Debug
		}
	}
	switch s.Engine {
	case "":
		s.Engine = "auto"
	case "native", "bwrap", "auto":
	default:
		return s, usagef("--engine must be one of native, bwrap, auto (got %q)", s.Engine)
	}

	var err error
	var linked []linkedPath
	s.ReadAll, s.WriteAll = read.All, write.All
	if s.Read, err = x.paths("--allow-read", read.Items, &linked); err != nil {
		return s, err
	}
	if s.Write, err = x.paths("--allow-write", write.Items, &linked); err != nil {
		return s, err
	}
	if s.DenyRead, err = x.paths("--deny-read", denyRead, &linked); err != nil {
		return s, err
	}
	if s.DenyWrite, err = x.paths("--deny-write", denyWrite, &linked); err != nil {
		return s, err
	}
	if !s.WriteAll {
		// Paths are used in their symlink-resolved form. A symlink that
		// sits in a writable directory could have been planted or
		// re-pointed by an earlier sandbox, and this one would then
		// write, read, or leave unmasked whatever it now leads to: refuse
		// such paths (fail closed, as the helper does for masks). Only
		// paths whose resolution changed them can go through a symlink.
		for _, l := range linked {
			if link := writableSymlinkOn(l.raw, s.Write); link != "" {
				return s, usagef("%s %s: it goes through the symlink %s, which is in a writable directory: a sandboxed program could re-point it for the next run; name the path it leads to instead (%s)",
					l.flag, l.it.Value, link, l.resolved)
			}
		}
	}
	for _, p := range append(slices.Clone(s.Read), s.Write...) {
		if _, err := os.Stat(p); err != nil && !slices.Contains(s.Missing, p) {
			s.Missing = append(s.Missing, p)
		}
	}

	s.NetAll = net.All
	for _, it := range net.Items {
		s.Net = appendNew(s.Net, it.Value)
	}
	for _, it := range denyNet {
		s.DenyNet = appendNew(s.DenyNet, it.Value)
	}

	s.EnvAll = env.All
	for _, it := range env.Items {
		if err := checkEnvPattern(it); err != nil {
			return s, err
		}
		s.EnvKeys = appendNew(s.EnvKeys, it.Value)
	}
	for _, it := range denyEnv {
		if err := checkEnvPattern(it); err != nil {
			return s, err
		}
		s.DenyEnv = appendNew(s.DenyEnv, it.Value)
	}
	for _, it := range setEnv {
		k, v, ok := strings.Cut(it.Value, "=")
		if !ok || k == "" {
			return s, usagef("%s %q: expected KEY=VALUE", it.Origin, it.Value)
		}
		if strings.ContainsRune(it.Value, 0) {
			return s, usagef("%s %q: contains a NUL byte", it.Origin, it.Value)
		}
		if it.Expand {
			ev, err := x.expand(item{Value: v, Origin: it.Origin, Expand: true})
			if err != nil {
				return s, err
			}
			v = ev
		}
		s.SetEnv = append(s.SetEnv, k+"="+v)
	}
	for _, it := range limit {
		if err := parseLimit(it.Value, &s.Limits); err != nil {
			return s, usagef("%s %s: %v", it.Origin, it.Value, err)
		}
	}
	return s, nil
}

func appendNew(list []string, v string) []string {
	if slices.Contains(list, v) {
		return list
	}
	return append(list, v)
}

func checkEnvPattern(it item) error {
	if it.Value == "" || strings.ContainsAny(it.Value, "=\x00") {
		return usagef("%s %q: not a variable name or pattern", it.Origin, it.Value)
	}
	if _, err := path.Match(it.Value, ""); err != nil {
		return usagef("%s %q: bad pattern: %v", it.Origin, it.Value, err)
	}
	return nil
}

// expander resolves path values: $HOME/$CWD/$TMPDIR (profiles only), "~",
// relative paths against the working directory, then symlinks in the
// longest existing prefix (policy.EffectivePath).
type expander struct {
	h   hostInfo
	cwd string
	// fsys resolves symlinks (policy.HostFS when nil).
	fsys policy.FS
}

func (x expander) fs() policy.FS {
	if x.fsys == nil {
		return policy.HostFS
	}
	return x.fsys
}

func (x expander) expand(it item) (string, error) {
	if !it.Expand {
		return it.Value, nil
	}
	v := it.Value
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != '$' {
			b.WriteByte(v[i])
			continue
		}
		if i+1 < len(v) && v[i+1] == '$' {
			b.WriteByte('$')
			i++
			continue
		}
		name, n := varName(v[i+1:])
		if n == 0 {
			return "", usagef("%s %q: a lone '$' (write $$ for a literal dollar)", it.Origin, v)
		}
		var val string
		switch name {
		case "HOME":
			val = x.h.Home
		case "CWD":
			val = x.cwd
		case "TMPDIR":
			val = x.h.TmpDir
		default:
			return "", usagef("%s %q: unknown variable $%s (profiles expand only $HOME, $CWD and $TMPDIR)", it.Origin, v, name)
		}
		if val == "" {
			return "", usagef("%s %q: $%s is not set", it.Origin, v, name)
		}
		b.WriteString(val)
		i += n
	}
	return b.String(), nil
}

// varName reads NAME or {NAME} at the start of s; n is the bytes used.
func varName(s string) (name string, n int) {
	if strings.HasPrefix(s, "{") {
		end := strings.IndexByte(s, '}')
		if end <= 1 {
			return "", 0
		}
		return s[1:end], end + 1
	}
	for n < len(s) && (s[n] == '_' || s[n] >= 'A' && s[n] <= 'Z' || s[n] >= 'a' && s[n] <= 'z' || n > 0 && s[n] >= '0' && s[n] <= '9') {
		n++
	}
	return s[:n], n
}

func (x expander) path(it item) (string, error) {
	v, err := x.rawPath(it)
	if err != nil {
		return "", err
	}
	return policy.EffectivePath(x.fs(), v), nil
}

// writableSymlinkOn returns the first component of p (absolute, clean,
// symlinks unresolved) that is a symlink in a directory under one of the
// writable roots (symlink-resolved), or "".
func writableSymlinkOn(p string, writable []string) string {
	cur := "/"
	for _, c := range strings.Split(p, "/") {
		if c == "" {
			continue
		}
		parent := cur
		cur = filepath.Join(cur, c)
		fi, err := os.Lstat(cur)
		if err != nil {
			return "" // missing: nothing below can be reached through it
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			continue
		}
		dir := policy.EffectivePath(policy.HostFS, parent)
		for _, w := range writable {
			if under(dir, w) {
				return cur
			}
		}
	}
	return ""
}

// rawPath is path without the symlink resolution.
func (x expander) rawPath(it item) (string, error) {
	v, err := x.expand(it)
	if err != nil {
		return "", err
	}
	if v == "" {
		return "", usagef("%s: empty path", it.Origin)
	}
	if strings.IndexByte(v, 0) >= 0 {
		return "", usagef("%s %q: contains a NUL byte", it.Origin, v)
	}
	switch {
	case v == "~" || strings.HasPrefix(v, "~/"):
		if x.h.Home == "" {
			return "", usagef("%s %s: $HOME is not set", it.Origin, v)
		}
		v = filepath.Join(x.h.Home, v[1:])
	case strings.HasPrefix(v, "~"):
		return "", usagef("%s %s: ~user is not supported; write the full path", it.Origin, v)
	}
	if !filepath.IsAbs(v) {
		v = filepath.Join(x.cwd, v)
	}
	v = filepath.Clean(v)
	if bad, why := cannotExist(v); bad != "" {
		return "", usagef("%s %s: cannot exist: %s %s", it.Origin, it.Value, bad, why)
	}
	return v, nil
}

// linkedPath is a path value that symlinks resolve to another path.
type linkedPath struct {
	flag          string
	it            item
	raw, resolved string
}

// paths resolves items (path, de-duplicated) and appends to linked those
// whose resolution went through a symlink.
func (x expander) paths(flag string, items []item, linked *[]linkedPath) ([]string, error) {
	var out []string
	for _, it := range items {
		raw, err := x.rawPath(it)
		if err != nil {
			return nil, err
		}
		p := policy.EffectivePath(x.fs(), raw)
		if p != raw {
			*linked = append(*linked, linkedPath{flag: flag, it: it, raw: raw, resolved: p})
		}
		out = appendNew(out, p)
	}
	return out, nil
}

// cannotExist returns the prefix of p that rules p out (an existing
// non-directory with more path below it), or "".
func cannotExist(p string) (string, string) {
	cur := "/"
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for i, c := range parts {
		if c == "" {
			continue
		}
		cur = filepath.Join(cur, c)
		if i == len(parts)-1 {
			break
		}
		st, err := os.Stat(cur)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return "", ""
			}
			// ENOTDIR from a deeper component, ELOOP, EACCES: only
			// ENOTDIR proves the path impossible.
			if errors.Is(err, syscall.ENOTDIR) {
				return cur, "lies below a file"
			}
			return "", ""
		}
		if !st.IsDir() {
			return cur, "is not a directory"
		}
	}
	return "", ""
}

// parseTimeout accepts Go durations (1m30s) and, like timeout(1), a bare
// number of seconds.
func parseTimeout(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if !(f > 0 && f <= 1e9) { // NaN too
			return 0, errors.New("must be a positive duration such as 30s or 5m")
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, errors.New("not a duration (use e.g. 30s, 5m, 1h30m)")
	}
	if d <= 0 {
		return 0, errors.New("must be a positive duration such as 30s or 5m")
	}
	return d, nil
}

// parseLimit applies one RES=N to l.
func parseLimit(v string, l *policy.Limits) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || strings.TrimSpace(val) == "" {
		return errors.New("expected RES=N, e.g. memory=512M, processes=100, files=1024, cpu=30s")
	}
	val = strings.TrimSpace(val)
	var err error
	var n uint64
	switch strings.ToLower(strings.TrimSpace(k)) {
	case "memory", "mem", "as":
		n, err = parseSize(val)
		if err == nil && n < 1<<20 {
			err = errors.New("memory limit below 1M: nothing could run")
		}
		l.MemoryBytes = n
	case "processes", "procs", "nproc", "pids":
		n, err = parseCount(val)
		l.Processes = n
	case "files", "nofile", "open-files", "fds":
		n, err = parseCount(val)
		if err == nil && n < 8 {
			err = errors.New("open-files limit below 8: nothing could run")
		}
		l.OpenFiles = n
	case "cpu", "cpu-seconds":
		var d time.Duration
		d, err = parseTimeout(val)
		n = uint64((d + time.Second - 1) / time.Second)
		l.CPUSeconds = n
	default:
		return fmt.Errorf("unknown resource %q (memory, processes, files, cpu)", k)
	}
	if err == nil && n == 0 {
		err = errors.New("must be at least 1")
	}
	return err
}

func parseCount(v string) (uint64, error) {
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n > 1<<31 {
		return 0, fmt.Errorf("%q is not a count", v)
	}
	return n, nil
}

// parseSize reads 512, 512K, 512M, 2G, 1T (binary units; a trailing B or
// iB is accepted: 512MB, 512MiB).
func parseSize(v string) (uint64, error) {
	s := strings.ToUpper(strings.TrimSpace(v))
	s = strings.TrimSuffix(strings.TrimSuffix(s, "B"), "I")
	mult := uint64(1)
	if s != "" {
		switch s[len(s)-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		case 'T':
			mult = 1 << 40
		}
		if mult != 1 {
			s = s[:len(s)-1]
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n == 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size (e.g. 512M, 2G)", v)
	}
	return n * mult, nil
}

func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

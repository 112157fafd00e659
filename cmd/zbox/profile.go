package main

// Profiles: named JSON bundles of flags.
//
//	{
//	  "description": "...",
//	  "use": ["workspace", "deny-credentials"],   // applied first, in order
//	  "allow-write": ["$CWD", "~/.cache"],        // any long flag is a field
//	  "allow-net": true,                          // true: the bare flag
//	  "env": {"GOFLAGS": "-mod=mod"},
//	  "limit": {"memory": "2G", "processes": 256},
//	  "timeout": "10m"
//	}
//
// Lists accept a JSON array (items taken literally) or a string (split at
// commas like the flag). $HOME, $CWD and $TMPDIR are expanded in paths,
// cwd, policy and env values. Built-in profiles are embedded from
// profiles/*.json; $XDG_CONFIG_HOME/zbox/profiles/NAME.json (default
// ~/.config/zbox/profiles) shadows a built-in of the same name. A
// profile is applied once even when several others use it; a cycle is
// an error.

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

//go:embed profiles/*.json
var builtinProfileFS embed.FS

// maxProfileDepth bounds "use" chains (zerobox uses 100; nobody needs
// more than a handful).
const maxProfileDepth = 32

// maxProfileSize bounds a profile file: it is configuration, not data.
const maxProfileSize = 1 << 20

var profileNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// profileFile is one profile's source.
type profileFile struct {
	Name string `json:"name"`
	// Path is the file, or "built-in".
	Path    string `json:"path"`
	Builtin bool   `json:"builtin"`
	// Shadows: a user file hides the built-in of the same name.
	Shadows     bool   `json:"shadows,omitempty"`
	Description string `json:"description,omitempty"`
	Data        []byte `json:"-"`
}

func (p profileFile) origin() string {
	if p.Builtin {
		return "profile " + p.Name + " (built-in)"
	}
	return "profile " + p.Name + " (" + p.Path + ")"
}

// profileStore finds profiles.
type profileStore struct {
	// UserDir is where user profiles live ("" when neither
	// $XDG_CONFIG_HOME nor $HOME is known).
	UserDir string
	// Cwd resolves a profile given as a relative file path.
	Cwd string
}

func newProfileStore(getenv func(string) string, cwd string) profileStore {
	dir := ""
	if x := getenv("XDG_CONFIG_HOME"); x != "" && filepath.IsAbs(x) {
		dir = filepath.Join(x, "zbox", "profiles")
	} else if h := getenv("HOME"); h != "" {
		dir = filepath.Join(h, ".config", "zbox", "profiles")
	}
	return profileStore{UserDir: dir, Cwd: cwd}
}

func builtinNames() []string {
	ents, _ := fs.ReadDir(builtinProfileFS, "profiles")
	var out []string
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".json"); ok {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// filePath is the file a profile name stands for when it is a path (it
// contains a slash or ends in .json), made absolute against Cwd.
func (s profileStore) filePath(name string) (string, bool) {
	if !strings.Contains(name, "/") && !strings.HasSuffix(name, ".json") {
		return "", false
	}
	if !filepath.IsAbs(name) {
		name = filepath.Join(s.Cwd, name)
	}
	return name, true
}

// lookup finds a profile by name, or by file path when name contains a
// slash or ends in .json.
func (s profileStore) lookup(name string) (profileFile, error) {
	if p, ok := s.filePath(name); ok {
		data, err := readProfileFile(p)
		if err != nil {
			return profileFile{}, usagef("profile %s: %v", name, err)
		}
		return profileFile{Name: name, Path: p, Data: data}, nil
	}
	if !profileNameRE.MatchString(name) {
		return profileFile{}, usagef("profile name %q: use letters, digits, '.', '_' and '-' (or a path to a .json file)", name)
	}
	builtin, berr := fs.ReadFile(builtinProfileFS, "profiles/"+name+".json")
	if s.UserDir != "" {
		p := filepath.Join(s.UserDir, name+".json")
		data, err := readProfileFile(p)
		if err == nil {
			return profileFile{Name: name, Path: p, Data: data, Shadows: berr == nil}, nil
		}
		if !errors.Is(err, fs.ErrNotExist) && !unsearchable(p) {
			return profileFile{}, usagef("profile %s: %v", name, err)
		}
	}
	if berr == nil {
		return profileFile{Name: name, Path: "built-in", Builtin: true, Data: builtin}, nil
	}
	where := "no user profiles directory ($XDG_CONFIG_HOME and $HOME unset)"
	if s.UserDir != "" {
		where = "user profiles are read from " + s.UserDir
	}
	return profileFile{}, usagef("unknown profile %q (built-in: %s; %s)", name, strings.Join(builtinNames(), ", "), where)
}

// unsearchable: p cannot even be looked up (a directory on the way is
// not searchable, as with another user's $HOME kept by sudo or setpriv):
// the user has no profile there, rather than an unreadable one.
func unsearchable(p string) bool {
	_, err := os.Lstat(p)
	return errors.Is(err, fs.ErrPermission)
}

func readProfileFile(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", p)
	}
	if st.Size() > maxProfileSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", p, maxProfileSize)
	}
	buf := make([]byte, st.Size()+1)
	n, err := f.Read(buf)
	if err != nil && n == 0 && st.Size() > 0 {
		return nil, err
	}
	return buf[:n], nil
}

// list returns every profile: built-ins, then user ones; a user profile
// with a built-in's name replaces it.
func (s profileStore) list() ([]profileFile, error) {
	byName := map[string]profileFile{}
	for _, n := range builtinNames() {
		data, _ := fs.ReadFile(builtinProfileFS, "profiles/"+n+".json")
		byName[n] = profileFile{Name: n, Path: "built-in", Builtin: true, Data: data}
	}
	if s.UserDir != "" {
		ents, err := os.ReadDir(s.UserDir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) && !unsearchable(s.UserDir) {
			return nil, fmt.Errorf("read user profiles in %s: %w", s.UserDir, err)
		}
		for _, e := range ents {
			n, ok := strings.CutSuffix(e.Name(), ".json")
			if !ok || !profileNameRE.MatchString(n) {
				continue
			}
			p, err := s.lookup(n)
			if err != nil {
				return nil, err
			}
			byName[n] = p
		}
	}
	var out []profileFile
	for _, p := range byName {
		if d, err := decodeProfile(p); err == nil {
			p.Description = d.Description
		} else {
			p.Description = "INVALID: " + err.Error()
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// decodedProfile is a profile's own content.
type decodedProfile struct {
	Description string
	Use         []string
	Layer       layer
}

// profileKeys are the accepted fields: every long flag of run (in
// kebab-case; snake_case is accepted too), plus use and description.
var profileKeys = []string{
	"$schema", "description", "use",
	"allow-read", "deny-read", "allow-write", "deny-write",
	"allow-net", "deny-net", "env", "allow-env", "deny-env",
	"cwd", "policy", "no-proc", "no-new-session", "engine", "strict", "timeout", "limit", "debug",
}

// decodeProfile parses a profile strictly: unknown fields, wrong types
// and trailing data are errors naming the profile and the field.
func decodeProfile(p profileFile) (decodedProfile, error) {
	var d decodedProfile
	origin := p.origin()
	dec := json.NewDecoder(bytes.NewReader(p.Data))
	dec.UseNumber()
	var fields map[string]json.RawMessage
	if err := dec.Decode(&fields); err != nil {
		return d, usagef("%s: invalid JSON: %v", origin, err)
	}
	if fields == nil {
		return d, usagef("%s: expected a JSON object", origin)
	}
	if dec.More() {
		return d, usagef("%s: trailing data after the JSON object", origin)
	}
	d.Layer.Origin = origin
	l := &d.Layer
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	seen := map[string]bool{}
	for _, rawKey := range keys {
		raw := fields[rawKey]
		key := strings.ReplaceAll(rawKey, "_", "-")
		if !slices.Contains(profileKeys, key) {
			return d, usagef("%s: unknown field %q (fields are the long flags of zbox run, plus use and description)", origin, rawKey)
		}
		if seen[key] {
			return d, usagef("%s: field %q given twice", origin, key)
		}
		seen[key] = true
		fo := origin + ": " + key
		var err error
		switch key {
		case "$schema":
		case "description":
			err = json.Unmarshal(raw, &d.Description)
		case "use":
			var items []item
			items, err = jsonList(raw, fo, false)
			for _, it := range items {
				d.Use = append(d.Use, it.Value)
			}
		case "allow-read":
			l.AllowRead, err = jsonOpt(raw, fo)
		case "allow-write":
			l.AllowWrite, err = jsonOpt(raw, fo)
		case "allow-net":
			l.AllowNet, err = jsonOpt(raw, fo)
		case "allow-env":
			l.AllowEnv, err = jsonOpt(raw, fo)
		case "deny-read":
			l.DenyRead, err = jsonList(raw, fo, true)
		case "deny-write":
			l.DenyWrite, err = jsonList(raw, fo, true)
		case "deny-net":
			l.DenyNet, err = jsonList(raw, fo, false)
		case "deny-env":
			l.DenyEnv, err = jsonList(raw, fo, false)
		case "env":
			l.Env, err = jsonEnv(raw, fo)
		case "limit":
			l.Limit, err = jsonLimits(raw, fo)
		case "cwd":
			l.Cwd, err = jsonStr(raw, fo, true)
		case "policy":
			l.Policy, err = jsonStr(raw, fo, true)
		case "engine":
			l.Engine, err = jsonStr(raw, fo, false)
		case "timeout":
			l.Timeout, err = jsonStrOrNum(raw, fo)
		case "no-proc":
			l.NoProc, err = jsonBool(raw)
		case "no-new-session":
			l.NoNewSession, err = jsonBool(raw)
		case "strict":
			l.Strict, err = jsonBool(raw)
		case "debug":
			l.Debug, err = jsonBool(raw)
		}
		if err != nil {
			var ue *usageError
			if errors.As(err, &ue) {
				return d, err
			}
			return d, usagef("%s: %v", fo, jsonTypeErr(err))
		}
	}
	return d, nil
}

func jsonTypeErr(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("expected %s, got a JSON %s", te.Type, te.Value)
	}
	return err
}

// jsonList: a string (comma list) or an array of strings.
func jsonList(raw json.RawMessage, origin string, expand bool) ([]item, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if s == "" {
			return nil, nil
		}
		parts, err := splitList(s)
		if err != nil {
			return nil, usagef("%s %q: %v", origin, s, err)
		}
		out := make([]item, len(parts))
		for i, p := range parts {
			out[i] = item{Value: strings.TrimSpace(p), Origin: origin, Expand: expand}
		}
		return out, nil
	}
	var arr []string
	if err := json.Unmarshal(raw, &arr); err != nil {
		return nil, usagef("%s: expected a string or an array of strings", origin)
	}
	out := make([]item, 0, len(arr))
	for _, v := range arr {
		if strings.TrimSpace(v) == "" {
			return nil, usagef("%s: empty item", origin)
		}
		out = append(out, item{Value: v, Origin: origin, Expand: expand})
	}
	return out, nil
}

// jsonOpt: true (the bare flag), false (nothing), or a list.
func jsonOpt(raw json.RawMessage, origin string) (optField, error) {
	var b bool
	if err := json.Unmarshal(raw, &b); err == nil {
		return optField{All: b}, nil
	}
	items, err := jsonList(raw, origin, true)
	if err != nil {
		return optField{}, usagef("%s: expected true, false, a string or an array of strings", origin)
	}
	return optField{Items: items}, nil
}

// jsonEnv: {"K":"V"} (applied in key order), ["K=V"] or "K=V".
func jsonEnv(raw json.RawMessage, origin string) ([]item, error) {
	var m map[string]string
	if err := json.Unmarshal(raw, &m); err == nil {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make([]item, 0, len(m))
		for _, k := range keys {
			out = append(out, item{Value: k + "=" + m[k], Origin: origin, Expand: true})
		}
		return out, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return []item{{Value: s, Origin: origin, Expand: true}}, nil
	}
	var arr []string
	if err := json.Unmarshal(raw, &arr); err != nil {
		return nil, usagef("%s: expected an object of strings, \"K=V\" or an array of \"K=V\"", origin)
	}
	out := make([]item, 0, len(arr))
	for _, v := range arr {
		out = append(out, item{Value: v, Origin: origin, Expand: true})
	}
	return out, nil
}

// jsonLimits: {"memory":"1G","processes":100}, ["memory=1G"] or a
// comma-list string.
func jsonLimits(raw json.RawMessage, origin string) ([]item, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var obj map[string]any
	if err := d.Decode(&obj); err == nil && obj != nil {
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var out []item
		for _, k := range keys {
			var v string
			switch x := obj[k].(type) {
			case string:
				v = x
			case json.Number:
				v = x.String()
			default:
				return nil, usagef("%s: %q must be a string or a number", origin, k)
			}
			out = append(out, item{Value: k + "=" + v, Origin: origin})
		}
		return out, nil
	}
	return jsonList(raw, origin, false)
}

func jsonStr(raw json.RawMessage, origin string, expand bool) (*item, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, usagef("%s: expected a string", origin)
	}
	if s == "" {
		return nil, nil
	}
	return &item{Value: s, Origin: origin, Expand: expand}, nil
}

func jsonStrOrNum(raw json.RawMessage, origin string) (*item, error) {
	var n json.Number
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&n); err == nil {
		if _, err := strconv.ParseFloat(n.String(), 64); err == nil {
			return &item{Value: n.String(), Origin: origin}, nil
		}
	}
	return jsonStr(raw, origin, false)
}

func jsonBool(raw json.RawMessage) (*bool, error) {
	var b bool
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, err
	}
	return &b, nil
}

// profileLayers resolves names (with their "use" chains) into layers in
// application order: a profile's uses come before it, and each profile
// is applied once, at its first use.
func profileLayers(store profileStore, names []string) ([]layer, []string, error) {
	var layers []layer
	var applied []string
	done := map[string]bool{}
	var visit func(name string, stack []string) error
	visit = func(name string, stack []string) error {
		if i := slices.Index(stack, name); i >= 0 {
			return usagef("profile cycle: %s", strings.Join(append(stack[i:], name), " -> "))
		}
		if len(stack) >= maxProfileDepth {
			return usagef("profiles nest deeper than %d: %s", maxProfileDepth, strings.Join(stack, " -> "))
		}
		if done[name] {
			return nil
		}
		pf, err := store.lookup(name)
		if err != nil {
			if len(stack) > 0 {
				return usagef("%v (used by profile %s)", err, stack[len(stack)-1])
			}
			return err
		}
		d, err := decodeProfile(pf)
		if err != nil {
			return err
		}
		stack = append(stack, name)
		for _, u := range d.Use {
			if err := visit(u, stack); err != nil {
				return err
			}
		}
		done[name] = true
		layers = append(layers, d.Layer)
		applied = append(applied, name)
		return nil
	}
	for _, n := range names {
		if err := visit(n, nil); err != nil {
			return nil, nil, err
		}
	}
	return layers, applied, nil
}

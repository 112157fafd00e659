package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/zbox-sandbox/zbox/policy"
)

func writeProfile(t *testing.T, tc *testCLI, name, content string) string {
	t.Helper()
	dir := filepath.Join(tc.home, ".config", "zbox", "profiles")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name+".json")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBuiltinProfilesValid(t *testing.T) {
	names := builtinNames()
	for _, want := range []string{"default", "workspace", "deny-credentials", "agent"} {
		if !slices.Contains(names, want) {
			t.Errorf("built-in profile %s missing (have %q)", want, names)
		}
	}
	tc := newTestCLI(t)
	store := newProfileStore(tc.getenv, tc.host.Cwd)
	for _, n := range names {
		layers, _, err := profileLayers(store, []string{n})
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		s, err := resolveSettings(layers, tc.host)
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		if _, err := buildSpec(s, []string{"true"}, tc.host); err != nil {
			t.Fatalf("%s: build plan: %v", n, err)
		}
	}
}

func TestBuiltinProfileContents(t *testing.T) {
	tc := newTestCLI(t)
	e := tc.explain(t, "--profile=agent", "--", "true")
	if !slices.Equal(e.Settings.Profiles, []string{"default", "workspace", "deny-credentials", "agent"}) {
		t.Errorf("agent applies %q", e.Settings.Profiles)
	}
	if !slices.Contains(e.Settings.Write, tc.host.Cwd) || !slices.Contains(e.Settings.Write, "/tmp") {
		t.Errorf("agent writes %q", e.Settings.Write)
	}
	for _, p := range []string{".ssh", ".aws", ".gnupg", ".kube", ".netrc", ".git-credentials", ".docker"} {
		if !slices.Contains(e.Settings.DenyRead, filepath.Join(tc.home, p)) {
			t.Errorf("deny-credentials lacks ~/%s: %q", p, e.Settings.DenyRead)
		}
	}
	if e.Proxy == nil || !slices.Contains(e.Proxy.Allow, "github.com") || !slices.Contains(e.Proxy.Allow, "registry.npmjs.org") || !slices.Contains(e.Proxy.Allow, "pypi.org") {
		t.Errorf("agent network %+v", e.Proxy)
	}
	if slices.Contains(e.Plan.Env, "AWS_KEY=y") {
		t.Errorf("deny-credentials leaked AWS_* env")
	}
}

func TestProfileComposition(t *testing.T) {
	tc := newTestCLI(t)
	d := t.TempDir()
	for _, s := range []string{"a", "b", "c"} {
		os.Mkdir(filepath.Join(d, s), 0o755)
	}
	writeProfile(t, tc, "base", `{"use":"default","allow-write":["`+d+`/a"],"timeout":"1m","env":{"X":"$HOME"}}`)
	writeProfile(t, tc, "left", `{"use":["base"],"deny-write":"`+d+`/a/x","engine":"native"}`)
	writeProfile(t, tc, "right", `{"use":["base"],"allow-write":["`+d+`/b"],"timeout":30,"limit":{"memory":"1G","processes":64}}`)
	writeProfile(t, tc, "top", `{"use":["left","right"],"allow_read":true,"no-proc":true}`)
	e := tc.explain(t, "--profile=top", "--allow-write="+d+"/c", "--timeout=2m", "--", "true")
	s := e.Settings
	if !slices.Equal(s.Profiles, []string{"default", "base", "left", "right", "top"}) {
		t.Errorf("order %q", s.Profiles)
	}
	if !slices.Equal(s.Write, []string{d + "/a", d + "/b", d + "/c"}) {
		t.Errorf("write %q", s.Write)
	}
	if s.Timeout.String() != "2m0s" || s.Engine != "native" || !s.NoProc || !s.ReadAll {
		t.Errorf("scalars: %+v", s)
	}
	if s.Limits != (policy.Limits{MemoryBytes: 1 << 30, Processes: 64}) {
		t.Errorf("limits %+v", s.Limits)
	}
	if !slices.Contains(e.Plan.Env, "X="+tc.home) {
		t.Errorf("env %q", e.Plan.Env)
	}
	// The command line's profile list replaces the default profile.
	e = tc.explain(t, "--profile=base,right", "--", "true")
	if !slices.Equal(e.Settings.Profiles, []string{"default", "base", "right"}) || e.Settings.Timeout.String() != "30s" {
		t.Errorf("base,right: %q %v", e.Settings.Profiles, e.Settings.Timeout)
	}
}

func TestProfileErrors(t *testing.T) {
	tests := []struct {
		name, content, want string
	}{
		{"cycle", `{"use":["cycle2"]}`, "profile cycle: cycle -> cycle2 -> cycle"},
		{"self", `{"use":"self"}`, "profile cycle: self -> self"},
		{"unknown field", `{"allow-writes":true}`, `unknown field "allow-writes"`},
		{"wrong type", `{"deny-read":true}`, "deny-read: expected a string or an array"},
		{"wrong bool", `{"no-proc":"yes"}`, "no-proc"},
		{"bad json", `{"deny-read":`, "invalid JSON"},
		{"not object", `[1]`, "invalid JSON"},
		{"trailing", `{} {}`, "trailing data"},
		{"missing use", `{"use":"nope-zbox"}`, `unknown profile "nope-zbox" (built-in: agent, default, deny-credentials, workspace; user profiles are read from`},
		{"bad var", `{"allow-write":"$USER/x"}`, "unknown variable $USER"},
		{"bad limit", `{"limit":{"memory":true}}`, "must be a string or a number"},
		{"twice", `{"allow-write":true,"allow_write":false}`, "given twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc := newTestCLI(t)
			name := strings.ReplaceAll(tt.name, " ", "-")
			writeProfile(t, tc, name, tt.content)
			writeProfile(t, tc, "cycle2", `{"use":"cycle"}`)
			code := tc.run("explain", "--profile="+name, "--", "true")
			if code != exitUsage || !strings.Contains(tc.errb.String(), tt.want) || strings.Count(tc.errb.String(), "\n") != 1 {
				t.Fatalf("exit %d, stderr %q; want 2 and %q", code, tc.errb, tt.want)
			}
		})
	}
}

func TestProfileShadowingAndCommands(t *testing.T) {
	tc := newTestCLI(t)
	d := t.TempDir()
	// A user "default" changes what a bare zbox means.
	p := writeProfile(t, tc, "default", `{"description":"mine","allow-write":["`+d+`"]}`)
	e := tc.explain(t, "--", "true")
	if !slices.Equal(e.Settings.Write, []string{d}) {
		t.Errorf("shadowed default not applied: %+v", e.Settings)
	}
	// workspace uses "default": the user's.
	e = tc.explain(t, "--profile=workspace", "--", "true")
	if !slices.Contains(e.Settings.Write, d) {
		t.Errorf("workspace does not use the shadowing default: %+v", e.Settings.Write)
	}

	if code := tc.run("profile", "list"); code != 0 {
		t.Fatalf("profile list: %d %s", code, tc.errb)
	}
	out := tc.out.String()
	for _, want := range []string{"agent", "deny-credentials", "workspace", p + " (shadows the built-in)", "mine"} {
		if !strings.Contains(out, want) {
			t.Errorf("profile list lacks %q:\n%s", want, out)
		}
	}
	if code := tc.run("profile", "show", "default"); code != 0 || !strings.Contains(tc.out.String(), `"mine"`) {
		t.Errorf("profile show default: %d %q", code, tc.out)
	}
	if code := tc.run("profile", "show", "agent"); code != 0 || !strings.Contains(tc.out.String(), `"use": ["workspace", "deny-credentials"]`) {
		t.Errorf("profile show agent: %d %q", code, tc.out)
	}
	if code := tc.run("profile", "show", "--resolved", "workspace"); code != 0 {
		t.Fatalf("profile show --resolved: %d %s", code, tc.errb)
	}
	var s settings
	if err := json.Unmarshal(tc.out.Bytes(), &s); err != nil || !slices.Contains(s.Write, tc.host.Cwd) {
		t.Errorf("resolved workspace: %v %+v", err, s)
	}
	// A profile given as a file path.
	f := filepath.Join(d, "p.json")
	os.WriteFile(f, []byte(`{"deny-read":"/etc/shadow"}`), 0o644)
	e = tc.explain(t, "--profile="+f, "--", "true")
	if !slices.Contains(e.Settings.DenyRead, "/etc/shadow") {
		t.Errorf("file profile: %+v", e.Settings)
	}
}

func FuzzDecodeProfile(f *testing.F) {
	for _, s := range []string{`{}`, `{"use":"a","allow-read":true}`, `{"env":{"A":"$HOME"},"limit":{"memory":1}}`,
		`{"allow-write":["$CWD","~/x"],"timeout":5}`, `{"deny-net":"a,b"}`, `[]`, `null`, `{"x":1}`} {
		f.Add([]byte(s))
	}
	host := hostInfo{Cwd: "/", Home: "/home/u", TmpDir: "/tmp"}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := decodeProfile(profileFile{Name: "fuzz", Path: "fuzz.json", Data: data})
		if err != nil {
			if _, ok := err.(*usageError); !ok {
				t.Fatalf("non-usage error %T: %v", err, err)
			}
			return
		}
		d.Layer.Cwd = nil // would stat the filesystem
		if _, err := resolveSettings([]layer{d.Layer}, host); err != nil {
			if _, ok := err.(*usageError); !ok {
				t.Fatalf("non-usage error %T: %v", err, err)
			}
		}
	})
}

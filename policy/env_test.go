package policy

import (
	"slices"
	"testing"
)

func TestEnvHelpers(t *testing.T) {
	env := []string{"A=1", "PATH=/bin", "A=2", "EMPTY="}
	for _, tc := range []struct {
		k, v string
		ok   bool
	}{{"A", "2", true}, {"PATH", "/bin", true}, {"EMPTY", "", true}, {"NOPE", "", false}, {"PAT", "", false}} {
		if v, ok := LookupEnv(env, tc.k); v != tc.v || ok != tc.ok {
			t.Errorf("LookupEnv(%s) = %q, %v; want %q, %v", tc.k, v, ok, tc.v, tc.ok)
		}
	}
	got := SetEnv(env, "A", "3")
	if want := []string{"PATH=/bin", "EMPTY=", "A=3"}; !slices.Equal(got, want) {
		t.Errorf("SetEnv = %q, want %q", got, want)
	}
	if env[0] != "A=1" {
		t.Error("SetEnv changed its input")
	}
}

func TestExecCandidates(t *testing.T) {
	for _, tc := range []struct {
		file string
		env  []string
		want []string
	}{
		{"ls", []string{"PATH=/a:/b"}, []string{"/a/ls", "/b/ls"}},
		{"ls", []string{"PATH=/a::/b"}, []string{"/a/ls", "ls", "/b/ls"}}, // "" is the cwd
		{"ls", nil, []string{"/usr/local/bin/ls", "/usr/bin/ls", "/bin/ls"}},
		{"./run", []string{"PATH=/a"}, []string{"./run"}},
		{"/bin/true", nil, []string{"/bin/true"}},
	} {
		if got := ExecCandidates(tc.file, tc.env); !slices.Equal(got, tc.want) {
			t.Errorf("ExecCandidates(%q, %q) = %q, want %q", tc.file, tc.env, got, tc.want)
		}
	}
}

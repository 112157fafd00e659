package policy

import (
	"path/filepath"
	"strings"
)

// Environment lists ("K=V" strings) as a plan's Env holds them. Later
// entries win, as with execve's consumers.

// LookupEnv returns the value of k in env.
func LookupEnv(env []string, k string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if strings.HasPrefix(env[i], k+"=") {
			return env[i][len(k)+1:], true
		}
	}
	return "", false
}

// GetEnv returns the value of k in env, "" if unset.
func GetEnv(env []string, k string) string {
	v, _ := LookupEnv(env, k)
	return v
}

// SetEnv returns a copy of env with every k entry replaced by k=v (last).
func SetEnv(env []string, k, v string) []string {
	out := make([]string, 0, len(env)+1)
	for _, e := range env {
		if !strings.HasPrefix(e, k+"=") {
			out = append(out, e)
		}
	}
	return append(out, k+"="+v)
}

// DefaultPath is the search path when the environment has no PATH.
const DefaultPath = "/usr/local/bin:/usr/bin:/bin"

// ExecCandidates lists, in order, the paths execvp would try for file
// under env's PATH: file itself when it contains a slash; an empty PATH
// entry means the current directory.
func ExecCandidates(file string, env []string) []string {
	if strings.Contains(file, "/") {
		return []string{file}
	}
	path, ok := LookupEnv(env, "PATH")
	if !ok {
		path = DefaultPath
	}
	var out []string
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		out = append(out, filepath.Join(dir, file))
	}
	return out
}

package main

import (
	"errors"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/zbox-sandbox/zbox/policy"
)

// The expected texts below are what the real helper (codex-linux-sandbox
// 0.125.0, clap 4) prints; e2e/helper_test.go compares against the live
// binary when it is installed.

func TestParseHelperArgs(t *testing.T) {
	t.Setenv("ZBOX_ENGINE", "")
	ro := `{"type":"read-only"}`
	for _, tc := range []struct {
		name string
		args []string
		want helperArgs
	}{
		{"separate values", []string{"--sandbox-policy-cwd", "/w", "--sandbox-policy", ro, "--", "ls", "-l"},
			helperArgs{PolicyCwd: "/w", SandboxPolicy: ro, hasSandbox: true, Engine: "native", Command: []string{"ls", "-l"}}},
		{"equals form", []string{"--sandbox-policy-cwd=/w", "--command-cwd=/c", "--sandbox-policy=" + ro, "ls"},
			helperArgs{PolicyCwd: "/w", CommandCwd: "/c", SandboxPolicy: ro, hasSandbox: true, Engine: "native", Command: []string{"ls"}}},
		{"command from the first positional on", []string{"--sandbox-policy-cwd", "/w", "sh", "--no-proc", "--"},
			helperArgs{PolicyCwd: "/w", Engine: "native", Command: []string{"sh", "--no-proc", "--"}}},
		{"switches", []string{"--no-proc", "--use-legacy-landlock", "--allow-network-for-proxy", "--apply-seccomp-then-exec", "--sandbox-policy-cwd", "/w", "--", "x"},
			helperArgs{PolicyCwd: "/w", NoProc: true, LegacyLandlock: true, ProxyMode: true, ApplySeccomp: true, Engine: "native", Command: []string{"x"}}},
		{"split flags", []string{"--sandbox-policy-cwd", "/w", "--file-system-sandbox-policy", `{"kind":"unrestricted"}`, "--network-sandbox-policy", `"enabled"`, "--", "x"},
			helperArgs{PolicyCwd: "/w", FSPolicy: `{"kind":"unrestricted"}`, NetPolicy: `"enabled"`, hasFS: true, hasNet: true, Engine: "native", Command: []string{"x"}}},
		{"lone dash is the command", []string{"--sandbox-policy-cwd", "/w", "-"},
			helperArgs{PolicyCwd: "/w", Engine: "native", Command: []string{"-"}}},
		{"engine", []string{"--sandbox-policy-cwd", "/w", "--engine", "bwrap", "--", "x"},
			helperArgs{PolicyCwd: "/w", Engine: "bwrap", Command: []string{"x"}}},
		{"no command", []string{"--sandbox-policy-cwd", "/w"},
			helperArgs{PolicyCwd: "/w", Engine: "native"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseHelperArgs(tc.args)
			if err != nil {
				t.Fatalf("parseHelperArgs: %v", err)
			}
			if got.Command == nil && tc.want.Command != nil || !slices.Equal(got.Command, tc.want.Command) {
				t.Errorf("command %q, want %q", got.Command, tc.want.Command)
			}
			got.Command, tc.want.Command = nil, nil
			if !reflect.DeepEqual(*got, tc.want) {
				t.Errorf("got %+v\nwant %+v", *got, tc.want)
			}
		})
	}
}

func TestParseHelperArgsErrors(t *testing.T) {
	t.Setenv("ZBOX_ENGINE", "")
	// helperBinName reads os.Args[0]: pin it.
	defer func(a []string) { os.Args = a }(os.Args)
	os.Args = []string{"/tmp/x/codex-linux-sandbox"}
	full := "Usage: codex-linux-sandbox [OPTIONS] --sandbox-policy-cwd <SANDBOX_POLICY_CWD> [COMMAND]..."
	smart := "Usage: codex-linux-sandbox --sandbox-policy-cwd <SANDBOX_POLICY_CWD> [COMMAND]..."
	more := "\n\nFor more information, try '--help'.\n"
	for _, tc := range []struct {
		name string
		args []string
		want string // rendered stderr
	}{
		{"nothing", nil,
			"error: the following required arguments were not provided:\n  --sandbox-policy-cwd <SANDBOX_POLICY_CWD>\n\n" + smart + more},
		{"missing cwd with a command", []string{"--no-proc", "--", "true"},
			"error: the following required arguments were not provided:\n  --sandbox-policy-cwd <SANDBOX_POLICY_CWD>\n\nUsage: codex-linux-sandbox --sandbox-policy-cwd <SANDBOX_POLICY_CWD> --no-proc <COMMAND>..." + more},
		{"unknown long flag first", []string{"--bogus"},
			"error: unexpected argument '--bogus' found\n\n  tip: to pass '--bogus' as a value, use '-- --bogus'\n\n" + full + more},
		{"unknown long flag after another", []string{"--sandbox-policy-cwd", "/w", "--bogus"},
			"error: unexpected argument '--bogus' found\n\n  tip: to pass '--bogus' as a value, use '-- --bogus'\n\n" + smart + more},
		{"unknown short flag", []string{"--sandbox-policy-cwd", "/w", "-x"},
			"error: unexpected argument '-x' found\n\n  tip: to pass '-x' as a value, use '-- -x'\n\n" + full + more},
		{"value twice", []string{"--sandbox-policy-cwd", "/w", "--sandbox-policy-cwd", "/v"},
			"error: the argument '--sandbox-policy-cwd <SANDBOX_POLICY_CWD>' cannot be used multiple times\n\n" + full + more},
		{"switch twice", []string{"--no-proc", "--no-proc"},
			"error: the argument '--no-proc' cannot be used multiple times\n\n" + full + more},
		{"value for a switch", []string{"--sandbox-policy-cwd", "/w", "--no-proc=1"},
			"error: unexpected value '1' for '--no-proc' found; no more were expected\n\nUsage: codex-linux-sandbox --sandbox-policy-cwd <SANDBOX_POLICY_CWD> --no-proc [COMMAND]..." + more},
		{"missing value", []string{"--sandbox-policy-cwd", "/w", "--command-cwd"},
			"error: a value is required for '--command-cwd <COMMAND_CWD>' but none was supplied" + more},
		{"invalid JSON before the missing cwd", []string{"--sandbox-policy", "x"},
			"error: invalid value 'x' for '--sandbox-policy <SANDBOX_POLICY>': "},
		{"invalid network policy", []string{"--sandbox-policy-cwd", "/w", "--network-sandbox-policy", "restricted"},
			"error: invalid value 'restricted' for '--network-sandbox-policy <NETWORK_SANDBOX_POLICY>': "},
		{"relative path in a policy", []string{"--sandbox-policy-cwd", "/w", "--file-system-sandbox-policy", `{"kind":"restricted","entries":[{"path":{"type":"path","path":"rel"},"access":"read"}]}`},
			"error: invalid value '{\"kind\":\"restricted\""},
		{"bad engine", []string{"--sandbox-policy-cwd", "/w", "--engine", "x"},
			"error: invalid value 'x' for '--engine <ENGINE>': one of native, bwrap, auto" + more},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseHelperArgs(tc.args)
			var ue *helperUsageError
			if !errors.As(err, &ue) {
				t.Fatalf("error %v, want a usage error", err)
			}
			got := ue.render()
			if strings.HasSuffix(tc.want, more) {
				if got != tc.want {
					t.Fatalf("stderr\n%q\nwant\n%q", got, tc.want)
				}
			} else if !strings.HasPrefix(got, tc.want) || !strings.HasSuffix(got, more) {
				t.Fatalf("stderr\n%q\nwant the prefix\n%q", got, tc.want)
			}
		})
	}
}

func TestHelperHelpFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		long bool
	}{
		{[]string{"--help"}, true},
		{[]string{"-h"}, false},
		{[]string{"--sandbox-policy-cwd", "/w", "-h", "--bogus"}, false},
	} {
		_, err := parseHelperArgs(tc.args)
		var h helperHelpRequested
		if !errors.As(err, &h) || h.long != tc.long {
			t.Errorf("%q: %v, want help (long=%v)", tc.args, err, tc.long)
		}
	}
	// After "--" it is the command.
	h, err := parseHelperArgs([]string{"--sandbox-policy-cwd", "/w", "--", "--help"})
	if err != nil || !slices.Equal(h.Command, []string{"--help"}) {
		t.Errorf("-- --help: %v, %v", h, err)
	}
	if !strings.Contains(helperHelp(true), "\n  -h, --help\n          Print help (see a summary with '-h')\n") ||
		!strings.Contains(helperHelp(false), "Print help (see more with '--help')") {
		t.Error("help texts lack clap's help line")
	}
}

func TestHelperBuildError(t *testing.T) {
	ws := &policy.WritableSymlinkError{Kind: "read-only", Path: "/w/l/.git", Symlink: "/w/l"}
	if got, want := helperBuildError(ws), `Fatal("cannot enforce sandbox read-only path /w/l/.git because it crosses writable symlink /w/l")`; got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
	if got := helperBuildError(errors.New("plain")); got != "plain" {
		t.Errorf("got %q", got)
	}
	for in, want := range map[string]string{
		`a"b\c`:       `"a\"b\\c"`,
		"tab\tnl\n\r": `"tab\tnl\n\r"`,
		"nul\x00":     `"nul\0"`,
		"bell\x07":    `"bell\u{7}"`,
		"é ü":         `"é ü"`,
		"bad\xff":     `"bad\u{fffd}"`,
	} {
		if got := rustDebugString(in); got != want {
			t.Errorf("rustDebugString(%q) = %s, want %s", in, got, want)
		}
	}
}

// FuzzParseHelperArgs: any command line either parses into something
// coherent or renders a clap error; never a panic.
func FuzzParseHelperArgs(f *testing.F) {
	for _, s := range []string{
		"--sandbox-policy-cwd\x00/w\x00--sandbox-policy\x00{\"type\":\"read-only\"}\x00--\x00ls",
		"--no-proc=\x00-h",
		"--sandbox-policy-cwd=\x00--engine=bwrap\x00-",
		"--network-sandbox-policy\x00\"enabled\"\x00--file-system-sandbox-policy\x00{\"kind\":\"unrestricted\"}",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		t.Setenv("ZBOX_ENGINE", "")
		args := strings.Split(s, "\x00")
		h, err := parseHelperArgs(args)
		var ue *helperUsageError
		var help helperHelpRequested
		switch {
		case err == nil:
			if !slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--sandbox-policy-cwd") }) {
				t.Fatalf("parsed without --sandbox-policy-cwd: %q", args)
			}
			if h.Engine != "native" && h.Engine != "bwrap" {
				t.Fatalf("engine %q", h.Engine)
			}
		case errors.As(err, &ue):
			r := ue.render()
			if !strings.HasPrefix(r, "error: ") || !strings.HasSuffix(r, "For more information, try '--help'.\n") {
				t.Fatalf("render %q", r)
			}
		case errors.As(err, &help):
		default:
			t.Fatalf("unexpected error type %T: %v", err, err)
		}
	})
}

package main

import (
	"io"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// kongRun parses args ("run" first) with kong's run-only grammar.
func kongRun(t testing.TB, args []string) (policyFlags, []string, bool) {
	var only struct {
		Run runCmd `cmd:""`
	}
	c := &cli{stdout: io.Discard, stderr: io.Discard}
	k, err := c.parser(&only)
	if err != nil {
		t.Fatal(err)
	}
	_, exit, err := parse(k, args)
	if exit >= 0 || err != nil {
		return policyFlags{}, nil, false
	}
	return only.Run.policyFlags, rawTail(args, only.Run.Command), true
}

func TestFastRunFlagsMatchesKong(t *testing.T) {
	cases := []struct {
		args     string // split on spaces
		wantFast bool
	}{
		{"run -- /bin/true", true},
		{"run -- ls -la", true},
		{"run ls -la", true},
		{"run --allow-write -- make", true},
		{"run --allow-write=/tmp,/work --deny-read=/etc/shadow -- cat x", true},
		{"run --allow-write=/a --allow-write=/b --allow-write -- x", true},
		{"run --allow-net=example.com --deny-net=bad.example.com -- curl", true},
		{"run --env A=1 --env=B=2 --allow-env --deny-env=AWS_* -- env", true},
		{"run -C /tmp -- pwd", true},
		{"run --cwd /tmp --timeout 5s --limit memory=1G --engine native -- pwd", true},
		{"run --no-proc --strict --debug -- true", true},
		{"run --profile a,b --profile=c --policy p.json -- true", true},
		{"run --allow-read -- true", true},
		{"run --allow-read=/usr -- true", true},
		{"run --", true},
		{"run", true},
		{"run --cwd= -- pwd", true},
		// Shapes left to kong.
		{"run --help", false},
		{"run -h", false},
		{"run --debug=true -- x", false},
		{"run --nope -- x", false},
		{"run -C=/tmp -- x", false},
		{"run -C/tmp -- x", false},
		{"run --cwd -x -- x", false},
		{"run --cwd", false},
		{"run ls -- -la", false},
		{"run - x", false},
	}
	for _, tc := range cases {
		args := strings.Fields(tc.args)
		ff, fc, fok := fastRunFlags(args)
		if fok != tc.wantFast {
			t.Errorf("%q: fast path ok=%v, want %v", tc.args, fok, tc.wantFast)
		}
		if !fok {
			continue
		}
		kf, kc, kok := kongRun(t, args)
		if !kok {
			t.Errorf("%q: the fast path accepted what kong rejects", tc.args)
			continue
		}
		if !reflect.DeepEqual(ff, kf) || !reflect.DeepEqual(fc, kc) {
			t.Errorf("%q:\n fast %+v %q\n kong %+v %q", tc.args, ff, fc, kf, kc)
		}
	}
}

// FuzzFastRunFlags: whenever the fast path accepts a command line, kong
// must accept it too and produce the same flags and command.
func FuzzFastRunFlags(f *testing.F) {
	for _, s := range []string{"--allow-write=/tmp\x00--\x00ls", "-C\x00/x\x00ls", "--env\x00A=1\x00--debug\x00--\x00x", "--allow-net\x00--\x00--"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			// kong turns invalid UTF-8 in flag values into U+FFFD; the
			// fast path keeps the bytes (a path is bytes). Not comparable.
			return
		}
		args := append([]string{"run"}, strings.Split(s, "\x00")...)
		ff, fc, fok := fastRunFlags(args)
		if !fok {
			return
		}
		kf, kc, kok := kongRun(t, args)
		if !kok {
			t.Fatalf("%q: the fast path accepted what kong rejects", args)
		}
		if !reflect.DeepEqual(ff, kf) || !reflect.DeepEqual(fc, kc) {
			t.Fatalf("%q:\n fast %+v %q\n kong %+v %q", args, ff, fc, kf, kc)
		}
	})
}

package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/zbox-sandbox/zbox/lsm"
	"github.com/zbox-sandbox/zbox/policy"
)

func TestSelectEngine(t *testing.T) {
	ok := func() usernsStatus { return usernsStatus{OK: true} }
	no := func() usernsStatus { return usernsStatus{Reason: "sysctl x is 0", Fix: "set x"} }
	tests := []struct {
		want   string
		strict bool
		probe  func() usernsStatus
		engine string
		warn   bool
		err    string
	}{
		{"auto", false, ok, "native", false, ""},
		{"auto", false, no, "landlock", true, ""},
		{"auto", true, no, "", false, "--strict refuses"},
		{"native", false, no, "native", false, ""},
		{"bwrap", false, ok, "bwrap", false, ""},
	}
	for _, tt := range tests {
		c, err := selectEngine(tt.want, tt.strict, tt.probe)
		warn := ""
		if c.Name == "landlock" {
			warn = landlockWarning(c.Reason, &policy.Plan{})
		}
		if tt.err != "" {
			var se *SetupError
			if !errors.As(err, &se) || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), "set x") {
				t.Errorf("%s strict=%v: err %v", tt.want, tt.strict, err)
			}
			continue
		}
		if err != nil || c.Name != tt.engine || (warn != "") != tt.warn || c.run == nil {
			t.Errorf("%s: got %+v %q %v", tt.want, c, warn, err)
		}
		if tt.warn && (strings.Count(warn, "\n") != 0 || !strings.Contains(warn, "sysctl x is 0") || !strings.Contains(warn, "weaker")) {
			t.Errorf("warning %q", warn)
		}
	}
	if !isUsernsFailure(&SetupError{Msg: "create sandbox namespaces: fork/exec: operation not permitted"}) || isUsernsFailure(&SetupError{Msg: "mount /x: EPERM"}) {
		t.Error("isUsernsFailure misclassifies")
	}
}

func TestDoctorPieces(t *testing.T) {
	st := selfSeccomp()
	if !st.Known {
		t.Skip("no Seccomp line in /proc/self/status: kernel without seccomp")
	}
	if f := checkSeccomp(st); f.Status != "ok" {
		t.Errorf("seccomp: %+v", f)
	}
	for _, tt := range []struct {
		st   lsm.Status
		want string
	}{
		{lsm.Status{}, "missing"},
		{lsm.Status{Available: true, ABI: 3}, "warn"},
		{lsm.Status{Available: true, ABI: 7, Errata: 0xff}, "ok"},
	} {
		if f := checkLandlock(tt.st); f.Status != tt.want || (f.Status != "ok" && (f.Fix == "" || f.Disables == "")) {
			t.Errorf("landlock %+v: %+v", tt.st, f)
		}
	}
	for _, f := range []finding{checkCgroup(), checkBwrap(), checkRedirect()} {
		if f.Status == "" || f.Detail == "" || (f.Status != "ok" && f.Fix == "") {
			t.Errorf("incomplete finding %+v", f)
		}
	}
	var b bytes.Buffer
	writeDoctor(&b, doctorReport{Version: "zbox x", Kernel: "6.18", Arch: "amd64",
		Findings:   []finding{{Name: "user namespaces", Status: "missing", Detail: "refused", Disables: "native", Fix: "allow it"}},
		AutoEngine: "landlock", AutoReason: "no userns"})
	for _, want := range []string{"[missing] user namespaces: refused", "disables: native", "fix: allow it", "engine auto would use: landlock"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("doctor text lacks %q:\n%s", want, b.String())
		}
	}
}

package mountns

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInRoot resolves destinations inside a fake new root built in a temp
// dir: absolute symlinks restart at the root, ".." never leaves it, and
// missing components are kept literally.
func TestInRoot(t *testing.T) {
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "usr/lib"), 0o755))
	must(os.MkdirAll(filepath.Join(root, "home/me/ws"), 0o755))
	must(os.Symlink("/usr/lib", filepath.Join(root, "lib")))          // absolute
	must(os.Symlink("me/ws", filepath.Join(root, "home/w")))          // relative
	must(os.Symlink("../../../../etc", filepath.Join(root, "esc")))   // climbs out
	must(os.Symlink("/loop2", filepath.Join(root, "loop1")))          // loop
	must(os.Symlink("/loop1", filepath.Join(root, "loop2")))          // loop
	must(os.Symlink("/usr/lib", filepath.Join(root, "home/me/link"))) // last component

	for _, tc := range []struct {
		in, want   string
		followLast bool
		err        string
	}{
		{in: "/", want: "/", followLast: true},
		{in: "/usr/lib/x", want: "/usr/lib/x", followLast: true},
		{in: "/lib/x", want: "/usr/lib/x", followLast: true},
		{in: "/lib", want: "/usr/lib", followLast: true},
		{in: "/lib", want: "/lib", followLast: false},
		{in: "/home/w/.git", want: "/home/me/ws/.git", followLast: true},
		{in: "/esc/passwd", want: "/etc/passwd", followLast: true},
		{in: "/../../etc", want: "/etc", followLast: true},
		{in: "/missing/../../x", want: "/x", followLast: true},
		{in: "/home/me/link", want: "/home/me/link", followLast: false},
		{in: "/home/me/link", want: "/usr/lib", followLast: true},
		{in: "/loop1/x", followLast: true, err: "too many levels"},
		{in: "relative", followLast: true, err: "not absolute"},
	} {
		got, err := InRoot(root, tc.in, tc.followLast)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("InRoot(%q): err %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("InRoot(%q): %v", tc.in, err)
			continue
		}
		if want := filepath.Join(root, tc.want); got != want {
			t.Errorf("InRoot(%q, follow=%v) = %q, want %q", tc.in, tc.followLast, got, want)
		}
	}
}

func TestUnescapeMountinfo(t *testing.T) {
	for in, want := range map[string]string{
		`/a\040b`:  "/a b",
		`/tab\011`: "/tab\t",
		`/plain`:   "/plain",
		`/bs\134x`: `/bs\x`,
	} {
		if got := unescapeMountinfo(in); got != want {
			t.Errorf("unescapeMountinfo(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestHostPathOf: a path under a bind maps to the bind's host source; the
// latest covering mount wins; tmpfs and the scratch root are not host.
func TestHostPathOf(t *testing.T) {
	b := &builder{layers: []layer{
		{dest: "/newroot", host: "/"},
		{dest: "/newroot/home/me/ws", host: "/srv/ws"},
		{dest: "/newroot/home/me/ws/tmp", host: ""},
	}}
	for in, want := range map[string]string{
		"/newroot/etc/x":             "/etc/x",
		"/newroot/home/me/ws/.codex": "/srv/ws/.codex",
		"/newroot/home/me/ws":        "/srv/ws",
		"/newroot/home/me/wsx":       "/home/me/wsx",
		"/newroot/home/me/ws/tmp/a":  "",
		"/bindfile1":                 "",
	} {
		got, ok := b.hostPathOf(in)
		if (want == "") == ok || got != want {
			t.Errorf("hostPathOf(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

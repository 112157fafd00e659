package bwrapcli

import (
	"reflect"
	"testing"

	"github.com/zbox-sandbox/zbox/policy"
)

// TestRenderBack parses bwrap argv, renders the plan back with the
// engine's renderer (policy.BwrapArgs) and parses that again: both plans
// must describe the same sandbox. What the renderer leaves out by design
// (Env, seccomp programs, the fd of --bind-fd) is cleared before
// comparing.
func TestRenderBack(t *testing.T) {
	tests := []struct {
		name string
		root bool
		args []string
	}{
		{"codex", true, []string{
			"--new-session", "--die-with-parent", "--ro-bind", "/", "/", "--dev", "/dev", "--bind", "/tmp", "/tmp",
			"--perms", "000", "--tmpfs", "/s", "--remount-ro", "/s", "--perms", "000", "--ro-bind-data", "3", "/k",
			"--perms", "111", "--tmpfs", "/w", "--dir", "/w/x", "--remount-ro", "/w",
			"--unshare-user", "--unshare-pid", "--unshare-net", "--proc", "/proc", "--as-pid-1",
			"--chdir", "/w", "--argv0", "codex-linux-sandbox", "--", "cmd", "-x"}},
		{"flatpak-like", false, []string{
			"--unshare-ipc", "--unshare-pid", "--unshare-user", "--disable-userns", "--die-with-parent",
			"--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--symlink", "usr/lib", "/lib",
			"--ro-bind-try", "/usr", "/usr", "--dev-bind-try", "/dev/dri", "/dev/dri",
			"--perms", "0700", "--dir", "/run/user/1000", "--perms", "0600", "--file", "3", "/.flatpak-info",
			"--ro-bind-data", "4", "/etc/passwd", "--bind-data", "5", "/etc/x", "--lock-file", "/usr/.ref",
			"--sync-fd", "6", "--info-fd", "7", "--json-status-fd", "8", "--block-fd", "9",
			"--chmod", "0755", "/run", "--size", "1048576", "--tmpfs", "/dev/shm", "--mqueue", "/dev/mqueue",
			"app"}},
		{"agent", true, []string{
			"--unshare-all", "--share-net", "--hostname", "box", "--uid", "1000", "--gid", "1000",
			"--cap-drop", "ALL", "--cap-add", "CAP_NET_ADMIN", "--bind", "/work", "/work", "--remount-ro", "/work",
			"--unshare-uts", "--assert-userns-disabled", "bash"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := func() *fakeEnv {
				e := newFakeEnv().withFD(3, "").withFD(4, "root:x:0:0::/:/bin/sh\n").withFD(5, "x").withFD(6, "")
				if tt.root {
					e.asRoot()
				}
				return e
			}
			first := mustParse(t, env(), tt.args...)

			second := env()
			next := 100
			dataFD := func(data []byte) (int, error) {
				next++
				second.fds[next] = append([]byte{}, data...)
				return next, nil
			}
			argv, err := policy.BwrapArgs(first.Plan, dataFD, nil)
			if err != nil {
				t.Fatalf("BwrapArgs: %v", err)
			}
			again := mustParse(t, second, argv...)

			a, b := comparable(first.Plan), comparable(again.Plan)
			if !reflect.DeepEqual(a, b) {
				t.Errorf("plans differ after render-back\nargv: %q\n got %+v\nwant %+v", argv, *b, *a)
			}
		})
	}
}

func comparable(p *policy.Plan) *policy.Plan {
	q := *normalize(p)
	q.Env = nil
	q.Filter.Programs = nil
	for i := range q.Mounts {
		q.Mounts[i].FD = nil
	}
	return &q
}

package e2e

// The native engine starts eligible sandboxes directly (package direct:
// pid 1 is a raw-syscall fork of zbox) and the rest with the general
// init (a re-exec of zbox). ZBOX_INIT=direct forbids the fallback,
// ZBOX_INIT=go forces the general init. These tests prove that the
// everyday sandboxes take the direct path and that both paths build the
// same sandbox.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zbox-sandbox/zbox/policy"
)

// runInit runs zbox args with ZBOX_INIT=mode.
func runInit(t *testing.T, mode string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, zboxBin, args...)
	cmd.Env = append(os.Environ(), "ZBOX_INIT="+mode)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code, ok := exitCode(err)
	if !ok || ctx.Err() != nil {
		t.Fatalf("zbox %v (ZBOX_INIT=%s): %v", args, mode, err)
	}
	return result{Code: code, Stdout: out.String(), Stderr: errb.String()}
}

// fingerprint prints what the target sees of its sandbox. Anonymous
// device numbers (fresh tmpfs, proc, devpts) differ between any two runs
// and are normalised by the caller.
const fingerprint = `
echo "== mounts"; sed 's/^[0-9]* [0-9]* //' /proc/self/mountinfo
echo "== pids"; if [ "$(cat /proc/1/comm)" = zbox-init ]; then set -- /proc/[0-9]*; echo $#; else echo "the host's /proc"; fi
echo "== pid1"; cat /proc/1/comm
echo "== ids"; id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups
echo "== status"; grep -E '^(Cap|NoNewPrivs|Seccomp:|SigBlk|SigIgn)' /proc/self/status
echo "== cwd"; pwd
echo "== env"; env | grep -v '^_=' | grep -v '^ZBOX_INIT=' | sort
echo "== dev"; ls -la /dev | sed 's/.* \([^ ]* -> [^ ]*\)$/\1/; s/^\([^ ]*\) .* \([^ ]*\)$/\1 \2/'
echo "== hostname"; cat /proc/sys/kernel/hostname
echo "== net"; cat /proc/net/dev | sed 1,2d | cut -d: -f1
exit 3
`

var anonDev = regexp.MustCompile(`\b0:[0-9]+\b`)

func TestDirectMatchesGeneralInit(t *testing.T) {
	d := hostDir(t)
	writeFile(t, filepath.Join(d, ".git", "HEAD"), "ref: main\n")
	writeFile(t, filepath.Join(d, "secret.txt"), "TOPSECRET\n")
	writeFile(t, filepath.Join(d, "keys", "id"), "KEY\n")
	script := func() []string { return []string{"/bin/sh", "-c", fingerprint} }

	plans := map[string]*policy.Plan{}

	p := basePlan("")
	p.Command, p.Hostname = script(), "zbox-test"
	p.Landlock = &policy.LandlockSpec{Scope: true}
	plans["default"] = p

	p = basePlan("",
		policy.MountOp{Kind: policy.OpBind, Source: d, Dest: d},
		policy.MountOp{Kind: policy.OpROBind, Source: d + "/.git", Dest: d + "/.git"},
		policy.MountOp{Kind: policy.OpROBindData, Dest: d + "/secret.txt", Perms: policy.Uint32(0)},
		policy.MountOp{Kind: policy.OpTmpfs, Dest: d + "/keys", Perms: policy.Uint32(0)},
		policy.MountOp{Kind: policy.OpRemountRO, Dest: d + "/keys"})
	p.Command, p.Chdir = script(), d
	p.Env = []string{"PATH=/usr/bin:/bin", "FOO=bar"}
	plans["workspace"] = p

	var restricted []policy.MountOp
	restricted = append(restricted, policy.MountOp{Kind: policy.OpTmpfs, Dest: "/"})
	for _, dir := range []string{"/usr", "/bin", "/lib", "/lib64", "/etc", "/sbin"} {
		restricted = append(restricted, policy.MountOp{Kind: policy.OpROBind, Source: dir, Dest: dir, Try: true})
	}
	restricted = append(restricted, policy.MountOp{Kind: policy.OpROBind, Source: d, Dest: d + "/sub/dir"})
	p = basePlan("")
	p.Mounts = append(restricted, policy.MountOp{Kind: policy.OpDev, Dest: "/dev"}, policy.MountOp{Kind: policy.OpProc, Dest: "/proc", Fallback: policy.ProcBindHost})
	p.Command = script()
	plans["restricted-reads"] = p

	// bwrap's vocabulary on a tmpfs of the sandbox's own.
	tm := d + "/tm"
	if err := os.Mkdir(tm, 0o755); err != nil {
		t.Fatal(err)
	}
	p = basePlan("",
		policy.MountOp{Kind: policy.OpTmpfs, Dest: tm, Perms: policy.Uint32(0o750)},
		policy.MountOp{Kind: policy.OpDir, Dest: tm + "/a/b", Perms: policy.Uint32(0o1777)},
		policy.MountOp{Kind: policy.OpSymlink, Source: "a/b", Dest: tm + "/link"},
		policy.MountOp{Kind: policy.OpFile, Dest: tm + "/c/file", Data: []byte("data\n"), Perms: policy.Uint32(0o640)},
		policy.MountOp{Kind: policy.OpChmod, Dest: tm + "/a", Perms: policy.Uint32(0o711)},
		policy.MountOp{Kind: policy.OpMqueue, Dest: tm + "/mq"},
		// On the fresh /dev, as flatpak-style bwrap lines do.
		policy.MountOp{Kind: policy.OpTmpfs, Dest: "/dev/shm", Perms: policy.Uint32(0o1777)},
		policy.MountOp{Kind: policy.OpMqueue, Dest: "/dev/mqueue"})
	p.Command = []string{"/bin/sh", "-c", "ls -lan " + tm + " " + tm + "/a " + tm + "/c | sed 's/ [A-Z][a-z][a-z] .* / /'; cat " + tm + "/c/file;" + fingerprint}
	plans["bwrap-ops"] = p

	p = basePlan("")
	p.Mounts = p.Mounts[:2] // no /proc op: the host's stays visible read-only
	p.Command, p.NewSession, p.DieWithParent = script(), false, false
	p.Namespaces.Net, p.Network = false, policy.NetworkSpec{Mode: policy.NetFull}
	p.Filter = policy.FilterSpec{Enabled: true, Network: policy.SeccompNone}
	plans["no-proc-full-net"] = p

	for name, plan := range plans {
		t.Run(name, func(t *testing.T) {
			f := planFile(t, plan)
			direct := runInit(t, "direct", "exec-plan", f)
			general := runInit(t, "go", "exec-plan", f)
			if direct.Code != 3 || general.Code != 3 {
				t.Fatalf("exit codes: direct %d, general %d, want 3\ndirect:\n%s\ngeneral:\n%s", direct.Code, general.Code, direct, general)
			}
			dOut := anonDev.ReplaceAllString(direct.Stdout, "0:N")
			gOut := anonDev.ReplaceAllString(general.Stdout, "0:N")
			if dOut != gOut {
				t.Fatalf("the two paths built different sandboxes:\n%s", lineDiff(gOut, dOut))
			}
			if direct.Stderr != general.Stderr {
				t.Fatalf("stderr differs:\ndirect: %q\ngeneral: %q", direct.Stderr, general.Stderr)
			}
		})
	}
}

// lineDiff lists the lines only in a (general) or only in b (direct).
func lineDiff(a, b string) string {
	in := func(s string) map[string]int {
		m := map[string]int{}
		for _, l := range strings.Split(s, "\n") {
			m[l]++
		}
		return m
	}
	ma, mb := in(a), in(b)
	var out []string
	for _, l := range strings.Split(a, "\n") {
		if mb[l] == 0 {
			out = append(out, "general only: "+l)
		}
	}
	for _, l := range strings.Split(b, "\n") {
		if ma[l] == 0 {
			out = append(out, "direct only:  "+l)
		}
	}
	return strings.Join(out, "\n")
}

// TestDirectIsUsedForEverydaySandboxes: zbox's default sandbox, its
// allow-list sandbox and the helper's usual policies, proxy mode
// included, start directly (ZBOX_INIT=direct would fail otherwise).
func TestDirectIsUsedForEverydaySandboxes(t *testing.T) {
	ws := hostDir(t)
	cases := map[string][]string{
		"zbox default":     {"--", "/bin/true"},
		"zbox write":       {"--allow-write=" + ws, "--", "/bin/true"},
		"zbox no-proc":     {"--no-proc", "--", "/bin/true"},
		"zbox restricted":  {"--allow-read=" + ws, "--", "/bin/true"},
		"helper read-only": {"linux-sandbox", "--sandbox-policy-cwd", ws, "--sandbox-policy", `{"type":"read-only"}`, "--", "/bin/true"},
		"helper workspace": {"linux-sandbox", "--sandbox-policy-cwd", ws, "--sandbox-policy", `{"type":"workspace-write"}`, "--", "/bin/true"},
		"helper no-proc":   {"linux-sandbox", "--sandbox-policy-cwd", ws, "--no-proc", "--sandbox-policy", `{"type":"read-only"}`, "--", "/bin/true"},
		"zbox missing cmd": {"--", "/nonexistent/cmd"},
		// Proxy-only: the bridges' listeners come from pid 1, the connect
		// redirect's listener from the command's process.
		"zbox allow-net": {"--allow-net=example.com", "--", "/bin/true"},
		"helper proxy":   {"linux-sandbox", "--sandbox-policy-cwd", ws, "--sandbox-policy", `{"type":"read-only"}`, "--allow-network-for-proxy", "--", "/bin/true"},
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			if name == "helper proxy" {
				t.Setenv("HTTP_PROXY", "http://127.0.0.1:9")
			}
			r := runInit(t, "direct", args...)
			// Mount points created in the workspace (the helper's
			// missing .codex) are gone afterwards.
			if ents, _ := os.ReadDir(ws); len(ents) != 0 {
				t.Errorf("left in the workspace: %v", ents)
			}
			want := 0
			if strings.Contains(name, "missing") {
				want = 127
				mustContain(t, r, "/nonexistent/cmd: No such file or directory")
			}
			if r.Code != want || strings.Contains(r.Stderr, "direct start") {
				t.Fatalf("exit %d, want %d, through the direct start:\n%s", r.Code, want, r)
			}
		})
	}
}

// TestDirectFallsBack: a plan the direct start cannot express (mount
// points whose parents must be created on the host, a symlink in a
// destination)
// runs with the general init; ZBOX_INIT=direct says why it cannot.
func TestDirectFallsBack(t *testing.T) {
	d := hostDir(t)
	if err := os.Symlink(filepath.Join(d, "real"), filepath.Join(d, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(d, "real"), 0o755); err != nil {
		t.Fatal(err)
	}
	cases := map[string]*policy.Plan{
		"missing parents on the host": basePlan("test -d "+d+"/newdir/sub && echo ok",
			policy.MountOp{Kind: policy.OpBind, Source: d, Dest: d},
			policy.MountOp{Kind: policy.OpROBind, Source: "/usr", Dest: d + "/newdir/sub"}),
		"symlink in destination": basePlan("test -d "+d+"/real/usr && echo ok",
			policy.MountOp{Kind: policy.OpBind, Source: d, Dest: d},
			policy.MountOp{Kind: policy.OpTmpfs, Dest: d + "/link/usr"}),
	}
	for name, plan := range cases {
		t.Run(name, func(t *testing.T) {
			f := planFile(t, plan)
			r := runInit(t, "", "exec-plan", f)
			mustExit(t, r, 0)
			mustContain(t, r, "ok")
			r = runInit(t, "direct", "exec-plan", f)
			if r.Code != 1 || !strings.Contains(r.Stderr, "direct start (ZBOX_INIT=direct): direct start not possible") {
				t.Fatalf("ZBOX_INIT=direct should refuse with a reason:\n%s", r)
			}
		})
	}
	// Nothing was left on the host by the general init's ghost either.
	if _, err := os.Stat(filepath.Join(d, "newdir")); err == nil {
		t.Fatal("the ghost mount point stayed on the host")
	}
}

// TestDirectPid1Unreachable: the target of a direct start cannot signal,
// ptrace or read its pid 1 (pid 1 stays outside the target's Landlock
// domain, keeps capabilities the target lacks, and is non-dumpable).
func TestDirectPid1Unreachable(t *testing.T) {
	if !landlockScopes() {
		t.Skip("needs Landlock signal scoping (ABI 6+)")
	}
	r := runInit(t, "direct", "--", "sh", "-c", `kill -TERM 1; echo kill=$?; cat /proc/1/environ >/dev/null; echo environ=$?; readlink /proc/1/exe; echo exe=$?`)
	mustExit(t, r, 0)
	for _, want := range []string{"kill=1", "environ=1", "exe=1"} {
		mustContain(t, r, want)
	}
}

// TestGhostsRemovedWhenZboxIsKilled: with Codex's workspace-write policy
// and no <cwd>/.codex yet, the sandbox creates .codex on the host as a
// mount point — twice covered (/dev/null over it, <cwd> bound over its
// parent, /dev/null again). When zbox is SIGKILLed, pid 1 must still
// remove it, under both the direct start and the general init.
func TestGhostsRemovedWhenZboxIsKilled(t *testing.T) {
	for i, mode := range []string{"direct", "go"} {
		t.Run(mode, func(t *testing.T) {
			ws := hostDir(t)
			nap := fmt.Sprintf("31.41%d%d", os.Getpid()%1000, i) // a marker in sleep's command line
			started := filepath.Join(ws, "started")
			cmd := exec.Command(zboxBin, "linux-sandbox", "--sandbox-policy-cwd", ws, "--sandbox-policy", `{"type":"workspace-write"}`,
				"--", "/bin/sh", "-c", "touch "+started+"; exec sleep "+nap)
			cmd.Dir = ws
			cmd.Env = append(os.Environ(), "ZBOX_INIT="+mode)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				if _, err := os.Stat(started); err == nil {
					break
				}
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					t.Fatal("the sandbox did not start")
				}
				time.Sleep(10 * time.Millisecond)
			}
			if _, err := os.Lstat(filepath.Join(ws, ".codex")); err != nil {
				t.Fatalf("expected the .codex mount point on the host while the sandbox runs: %v", err)
			}
			cmd.Process.Kill()
			cmd.Wait()
			deadline = time.Now().Add(5 * time.Second)
			for {
				_, err := os.Lstat(filepath.Join(ws, ".codex"))
				if os.IsNotExist(err) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal(".codex stayed on the host after zbox was killed")
				}
				time.Sleep(20 * time.Millisecond)
			}
			if n := countProcs(nap); n != 0 {
				t.Fatalf("%d sandbox processes survived zbox", n)
			}
		})
	}
}

// TestDirectWithoutMountAPI: under a seccomp profile that refuses
// open_tree and move_mount (an older container profile), zbox's probe
// sees it and uses the general init from the start; ZBOX_INIT=direct and
// doctor say why.
func TestDirectWithoutMountAPI(t *testing.T) {
	d := hostDir(t)
	env := cleanEnv(t)
	r := zrun{env: env, noMountAPI: true}.run(t, "--allow-write="+d, "--", "/bin/sh", "-c", "echo ok > "+d+"/f; cat "+d+"/f")
	mustExit(t, r, 0)
	mustContain(t, r, "ok")
	if r.Stderr != "" {
		t.Fatalf("the fallback is silent, but zbox said:\n%s", r)
	}
	r = zrun{env: append(env, "ZBOX_INIT=direct"), noMountAPI: true}.run(t, "--", "/bin/true")
	mustExit(t, r, 1)
	mustContain(t, r, "open_tree")
	r = zrun{env: env, noMountAPI: true}.run(t, "doctor")
	mustExit(t, r, 0)
	mustContain(t, r, "[warn]    direct start")
	mustContain(t, r, "open_tree")
}

// TestDirectLimitsBeforeExec: where zbox cannot make a cgroup (an
// unprivileged caller without a delegated subtree), --limit is rlimits,
// which both starts put on the command before its execve (the general
// init through direct.Spawn): a program that allocates in its very
// first instructions is bound too. Under the general init this runs as
// root as well, where the rlimits come on top of the cgroup.
func TestDirectLimitsBeforeExec(t *testing.T) {
	for _, init := range []string{"direct", "go"} {
		t.Run(init, func(t *testing.T) {
			if isRoot() && init == "direct" {
				t.Skip("root gets a cgroup for --limit, which the general init handles; CI's unprivileged pass runs this")
			}
			env := append(cleanEnv(t), "ZBOX_INIT="+init)
			r := zrun{env: env}.run(t, "--limit=memory=64M", "--", "dd", "if=/dev/zero", "of=/dev/null", "bs=256M", "count=1")
			if r.Code == 0 || strings.Contains(r.Stderr, "direct start") {
				t.Fatalf("dd allocated 256M at once under a 64M limit, or the direct start refused:\n%s", r)
			}
			mustContain(t, r, "memory exhausted")
			// Under a 2 MiB limit the dynamic loader cannot even map libc.
			// Set after execve (as the general init once did), the limit
			// lost that race about one run in three.
			for i := 0; i < 10; i++ {
				r = zrun{env: env}.run(t, "--limit=memory=2M", "--", "/bin/true")
				if r.Code == 0 {
					t.Fatalf("run %d: /bin/true loaded its libraries under a 2M address-space limit: the limit came after execve\n%s", i, r)
				}
			}
			r = zrun{env: env}.run(t, "--limit=memory=64M,files=32,processes=50", "--", "/bin/sh", "-c", "grep -E '^Max (processes|open files|address space)' /proc/self/limits")
			mustExit(t, r, 0)
			for _, re := range []string{`Max processes +50 +50 `, `Max open files +32 +32 `, `Max address space +67108864 +67108864 `} {
				if !regexp.MustCompile(re).MatchString(r.Stdout) {
					t.Fatalf("limits lack %q:\n%s", re, r)
				}
			}
		})
	}
}

// TestOpenFilesLimitPassesThrough: the command gets the soft open-files
// limit zbox was started with, as under bwrap, although zbox's Go runtime
// raised its own (package syscall's init does, for every Go program);
// a --limit files still wins (capped at the hard limit). For the direct start, the general init,
// bwrap's argv and helper mode. (Programs that use select(2), or close
// every fd up to the soft limit, depend on it.)
func TestOpenFilesLimitPassesThrough(t *testing.T) {
	if _, err := exec.LookPath("prlimit"); err != nil {
		t.Skip("prlimit (util-linux) is not installed")
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Max < 1100 {
		t.Skipf("hard RLIMIT_NOFILE %d (%v): the test needs room above 1000", lim.Max, err)
	}
	ws := t.TempDir()
	policyJSON := `{"type":"read-only"}`
	for _, c := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"cli/direct", []string{"ZBOX_INIT=direct"}, []string{"--", "/bin/sh", "-c", "ulimit -Sn"}, "1000"},
		{"cli/go", []string{"ZBOX_INIT=go"}, []string{"--", "/bin/sh", "-c", "ulimit -Sn"}, "1000"},
		{"cli/limit", nil, []string{"--limit=files=64", "--", "/bin/sh", "-c", "ulimit -Sn"}, "64"},
		// Above the hard limit: capped at it, not a setup failure.
		{"cli/limit above the hard limit", nil, []string{"--limit=files=99999999", "--", "/bin/sh", "-c", "ulimit -Sn"}, strconv.FormatUint(lim.Max, 10)},
		{"bwrap argv", nil, []string{"bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--unshare-all", "/bin/sh", "-c", "ulimit -Sn"}, "1000"},
		{"helper", nil, []string{"linux-sandbox", "--sandbox-policy-cwd", ws, "--sandbox-policy", policyJSON, "--", "/bin/sh", "-c", "ulimit -Sn"}, "1000"},
	} {
		t.Run(c.name, func(t *testing.T) {
			// prlimit sets the limit on itself and execs zbox: no Go code
			// of zbox's runs before it.
			args := append([]string{"--nofile=1000:", zboxBin}, c.args...)
			cmd := exec.Command("prlimit", args...)
			cmd.Env = append(cleanEnv(t), c.env...)
			cmd.Dir = ws
			out, err := cmd.CombinedOutput()
			if err != nil || strings.TrimSpace(string(out)) != c.want {
				t.Errorf("soft RLIMIT_NOFILE in the sandbox: %q (%v), want %s", out, err, c.want)
			}
		})
	}
	if bw, err := exec.LookPath("bwrap"); err == nil {
		out, err := exec.Command("prlimit", "--nofile=1000:", bw, "--ro-bind", "/", "/", "--unshare-user", "/bin/sh", "-c", "ulimit -Sn").CombinedOutput()
		t.Logf("bwrap itself: %q (%v)", strings.TrimSpace(string(out)), err)
	}
}

package main

// From resolved settings to the helper's policy model and then to a Plan.
//
// zbox's CLI maps its flags onto the Codex helper's split policies the
// way zerobox does (codex-helper.md §3.10) and goes through the same
// policy.HelperPlan as the helper front-end, with Hardened set. The plan
// is then adjusted for what zbox promises its own users and the helper
// does not: a fresh /dev even when "/" is writable, a namespaced sandbox
// even for write-anywhere, readable carve-outs inside hidden directories,
// the host /proc as fallback, the environment, limits and the proxy.
//
// Precedence, as the issue states it: the most specific rule wins
// whatever its order, and on the same path deny beats allow. The helper's
// resolution already gives the most specific entry priority and breaks
// ties none > write > read; two places need help from here:
//   - --deny-write=P next to --allow-write=P: a tie that the helper would
//     give to write, so the write entry is dropped;
//   - --deny-write=P becomes "P read", which must not make P readable
//     when it was not (restricted reads), so it is only emitted where P
//     is writable in the first place; likewise --allow-read=P must not
//     turn a writable P read-only, so it is skipped there.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/zbox-sandbox/zbox/netns"
	"github.com/zbox-sandbox/zbox/policy"
)

// proxyEndpoint is the placeholder endpoint of the in-process proxy's
// routes: the engine serves every route's bridge with the Proxy.
const proxyEndpoint = "zbox-proxy:0"

// proxyEnvKeys get a route to the allow-list proxy, in both spellings
// (curl reads the lower-case ones, most others the upper-case ones).
var proxyEnvKeys = []string{"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"}

// defaultEnvKeys are inherited when --allow-env is not bare.
var defaultEnvKeys = []string{"PATH", "HOME", "USER", "LOGNAME", "SHELL", "TERM", "LANG", "LC_*", "TZ", "TMPDIR"}

// proxyConfig configures zbox's allow-list proxy for one sandbox.
type proxyConfig struct {
	Allow []string `json:"allow"`
	Deny  []string `json:"deny,omitempty"`
	// AllowNonPublic: "--allow-net --deny-net=X" means the full network
	// minus X, private addresses included.
	AllowNonPublic bool        `json:"allow_non_public,omitempty"`
	Rules          netns.Rules `json:"-"`
}

// sandboxSpec is everything run and explain derive from the settings.
type sandboxSpec struct {
	Settings settings                `json:"settings"`
	FS       policy.FileSystemPolicy `json:"file_system_sandbox_policy"`
	Net      policy.NetworkPolicy    `json:"network_sandbox_policy"`
	// Legacy is the equivalent legacy policy when one exists.
	Legacy *policy.SandboxPolicy `json:"sandbox_policy,omitempty"`
	Proxy  *proxyConfig          `json:"proxy,omitempty"`
	Plan   *policy.Plan          `json:"plan"`
	// Notes are facts explain shows and --debug logs (e.g. an allow
	// path that does not exist).
	Notes []string `json:"notes,omitempty"`
}

// setupErr marks a failure that is not the user's typing: exit 1.
func setupErrf(format string, args ...any) error {
	return &SetupError{Msg: fmt.Sprintf(format, args...)}
}

// buildSpec turns settings into policies and a plan.
func buildSpec(s settings, command []string, h hostInfo) (*sandboxSpec, error) {
	spec := &sandboxSpec{Settings: s}
	fsys := policy.HostFS

	base, baseNet, err := loadPolicyFile(s.Policy, s.Cwd)
	if err != nil {
		return nil, err
	}
	fsPol, err := fsEntries(s, base)
	if err != nil {
		return nil, err
	}
	spec.FS = fsPol

	// Network: bare --allow-net is the host network; a domain list (or
	// "everything but --deny-net") goes through the allow-list proxy.
	net := policy.NetworkRestricted
	if baseNet != "" {
		net = baseNet
	}
	proxyMode := len(s.Net) > 0 || (s.NetAll && len(s.DenyNet) > 0)
	switch {
	case proxyMode:
		allow := slices.Clone(s.Net)
		if s.NetAll {
			allow = []string{"*"}
		}
		rules, err := netns.ParseRules(allow, s.DenyNet)
		if err != nil {
			return nil, usagef("--allow-net/--deny-net: %v", err)
		}
		spec.Proxy = &proxyConfig{Allow: allow, Deny: s.DenyNet, AllowNonPublic: s.NetAll, Rules: rules}
	case s.NetAll:
		net = policy.NetworkEnabled
	case len(s.DenyNet) > 0:
		if _, err := netns.ParseRules(nil, s.DenyNet); err != nil {
			return nil, usagef("--deny-net: %v", err)
		}
		spec.Notes = append(spec.Notes, "--deny-net without --allow-net: the network is off anyway")
	}
	spec.Net = net
	if leg, err := fsPol.ToLegacy(fsys, net, s.Cwd); err == nil && !fsPol.NeedsDirectRuntimeEnforcement(fsys, net, s.Cwd) {
		spec.Legacy = &leg
	}

	for _, m := range s.Missing {
		spec.Notes = append(spec.Notes, fmt.Sprintf("%s does not exist: the allow rule for it grants nothing", m))
	}

	if len(command) == 0 {
		return nil, usagef("no command given (usage: zbox [FLAGS] -- CMD [ARGS...])")
	}
	plan, err := policy.HelperPlan(fsys, policy.HelperInput{
		Policies:   policy.ResolvedPolicies{FS: fsPol, Net: net},
		PolicyCwd:  s.Cwd,
		CommandCwd: s.Cwd,
		NoProc:     s.NoProc,
		ProxyMode:  proxyMode,
		Command:    command,
		Hardened:   true,
	})
	if err != nil {
		var ws *policy.WritableSymlinkError
		if errors.As(err, &ws) {
			return nil, setupErrf("%v (the sandboxed command could re-point that symlink; name the real path instead, or do not make its directory writable)", err)
		}
		return nil, setupErrf("build sandbox plan: %v", err)
	}
	spec.Plan = plan

	if len(plan.Mounts) == 0 && plan.Namespaces == (policy.Namespaces{}) {
		// The helper's write-anywhere shortcut runs the command with no
		// namespaces at all. zbox keeps its pid, ipc, uts and network
		// isolation and its dropped capabilities; only the disk is open.
		namespacedFullWrite(plan, net, proxyMode, s.NoProc)
	}
	for i := range plan.Mounts {
		if plan.Mounts[i].Kind == policy.OpProc {
			// A masked /proc (container) is replaced by the outer one
			// rather than left out: programs need /proc/self.
			plan.Mounts[i].Fallback = policy.ProcBindHost
		}
	}
	// zbox's filter always refuses terminal input injection, and a new
	// session (setsid) takes the terminal away altogether unless the
	// user keeps it for job control (--no-new-session).
	plan.NewSession = !s.NoNewSession
	plan.Filter.DenyTerminalInjection = plan.Filter.Enabled
	plan.Mounts = freshDevOverWritableRoot(plan.Mounts)
	plan.Mounts = reexposeReadable(plan.Mounts, fsPol, s)
	if s.NoProc && len(plan.Mounts) > 0 && plan.Mounts[0].Dest == "/" && plan.Mounts[0].Kind != policy.OpTmpfs {
		// Without a fresh /proc, the recursive bind of the host root
		// would show the host's procfs (every process outside). --no-proc
		// means no /proc: an empty, read-only directory.
		plan.Mounts = append(plan.Mounts,
			policy.MountOp{Kind: policy.OpTmpfs, Dest: "/proc", Perms: policy.Uint32(0o555)},
			policy.MountOp{Kind: policy.OpRemountRO, Dest: "/proc"})
	}

	if s.CwdGiven {
		if !fsPol.ResolveAccess(fsys, s.Cwd, s.Cwd).CanRead() {
			return nil, usagef("-C %s: the directory is not readable in the sandbox; add --allow-read=%s", s.Cwd, s.Cwd)
		}
		if c, err := filepath.EvalSymlinks(s.Cwd); err == nil {
			plan.Chdir = c
		} else {
			plan.Chdir = s.Cwd
		}
	}

	plan.Env = buildEnv(h.Env, s, spec.Proxy != nil)
	if spec.Proxy != nil {
		plan.Network.AllowDomains = slices.Clone(spec.Proxy.Allow)
		plan.Network.DenyDomains = slices.Clone(spec.Proxy.Deny)
		for _, k := range proxyEnvKeys {
			plan.Network.Routes = append(plan.Network.Routes, policy.ProxyRoute{EnvKey: k, Endpoint: proxyEndpoint})
		}
	}
	if s.Limits != (policy.Limits{}) {
		l := s.Limits
		plan.Limits = &l
	}
	return spec, nil
}

// fsEntries builds the split filesystem policy from the settings, on top
// of a --policy base (nil: none).
func fsEntries(s settings, base *policy.FileSystemPolicy) (policy.FileSystemPolicy, error) {
	fsys := policy.HostFS
	anyFlag := s.ReadAll || len(s.Read) > 0 || s.WriteAll || len(s.Write) > 0 || len(s.DenyRead) > 0 || len(s.DenyWrite) > 0
	var entries []policy.FSEntry
	add := func(p policy.FSPath, a policy.FSAccess) {
		entries = append(entries, policy.FSEntry{Path: p, Access: a})
	}
	switch {
	case base != nil && !anyFlag:
		return *base, nil
	case base != nil && base.Kind == policy.FSRestricted:
		entries = slices.Clone(base.Entries)
		if s.ReadAll {
			add(policy.SpecialPath(policy.SpecialRoot), policy.AccessRead)
		} else if len(s.Read) > 0 {
			add(policy.SpecialPath(policy.SpecialMinimal), policy.AccessRead)
		}
	case base != nil:
		// unrestricted / external-sandbox narrowed by flags: start from
		// "write everywhere".
		add(policy.SpecialPath(policy.SpecialRoot), policy.AccessWrite)
	case s.ReadAll || len(s.Read) == 0:
		add(policy.SpecialPath(policy.SpecialRoot), policy.AccessRead)
	default:
		// Restricted reads: the named paths plus what programs need to
		// run (the helper's platform defaults: /usr, /etc, /bin, /lib...).
		add(policy.SpecialPath(policy.SpecialMinimal), policy.AccessRead)
	}
	if s.WriteAll {
		add(policy.SpecialPath(policy.SpecialRoot), policy.AccessWrite)
	}
	for _, w := range s.Write {
		if slices.Contains(s.DenyWrite, w) {
			continue // deny beats allow on the same path
		}
		add(policy.PlainPath(w), policy.AccessWrite)
	}
	access := func(p string) policy.FSAccess {
		return policy.RestrictedFileSystemPolicy(entries...).ResolveAccess(fsys, p, s.Cwd)
	}
	for _, d := range s.DenyWrite {
		if slices.Contains(s.DenyRead, d) {
			continue // hidden anyway
		}
		if access(d).CanWrite() {
			add(policy.PlainPath(d), policy.AccessRead)
		}
	}
	for _, r := range s.Read {
		if access(r).CanWrite() {
			continue // allowing reads never takes writes away
		}
		add(policy.PlainPath(r), policy.AccessRead)
	}
	for _, d := range s.DenyRead {
		add(policy.PlainPath(d), policy.AccessNone)
	}
	return policy.RestrictedFileSystemPolicy(entries...), nil
}

// namespacedFullWrite turns the helper's no-namespace shortcut into the
// host root bound writable inside zbox's usual namespaces.
func namespacedFullWrite(p *policy.Plan, net policy.NetworkPolicy, proxy, noProc bool) {
	mode := policy.NetIsolated
	seccompNet := policy.SeccompRestricted
	switch {
	case proxy:
		mode, seccompNet = policy.NetProxyOnly, policy.SeccompProxyRouted
	case net.IsEnabled():
		mode, seccompNet = policy.NetFull, policy.SeccompNone
	}
	p.Namespaces = policy.Namespaces{User: true, Mount: true, PID: true, IPC: true, UTS: true, Net: mode != policy.NetFull}
	p.Network = policy.NetworkSpec{Mode: mode}
	p.Filter = policy.FilterSpec{Enabled: true, Network: seccompNet, DenyProcessVM: true}
	p.Landlock = &policy.LandlockSpec{Scope: true}
	p.NewSession, p.DieWithParent = true, true
	p.Mounts = []policy.MountOp{{Kind: policy.OpBind, Source: "/", Dest: "/"}}
	if !noProc {
		p.Mounts = append(p.Mounts, policy.MountOp{Kind: policy.OpProc, Dest: "/proc"})
	}
}

// freshDevOverWritableRoot puts a fresh minimal /dev back on top of a
// writable bind of "/". That bind is recursive and nodev, so it brings
// the host's /dev along with device nodes that cannot be opened:
// "cmd > /dev/null" would fail with EACCES.
func freshDevOverWritableRoot(ops []policy.MountOp) []policy.MountOp {
	var out []policy.MountOp
	for _, op := range ops {
		out = append(out, op)
		if op.Kind == policy.OpBind && op.Dest == "/" {
			out = append(out, policy.MountOp{Kind: policy.OpDev, Dest: "/dev"})
		}
	}
	return out
}

// reexposeReadable makes an --allow-read path inside a --deny-read
// directory visible again ("the more specific rule wins"). The helper's
// plan hides the whole denied directory under an empty tmpfs, readable
// carve-outs included. For each such path R, right after the tmpfs that
// hides its deepest masked ancestor D: D's mode becomes 0111 (it can be
// crossed but not listed), R is bound read-only into it, and every denied
// path inside R is masked again on top of the new bind.
func reexposeReadable(ops []policy.MountOp, fsPol policy.FileSystemPolicy, s settings) []policy.MountOp {
	fsys := policy.HostFS
	unreadable := fsPol.UnreadableRootsWithCwd(fsys, s.Cwd)
	if len(unreadable) == 0 {
		return ops
	}
	masked := map[string]int{} // tmpfs mask dest -> op index
	for i, op := range ops {
		if op.Kind == policy.OpTmpfs && slices.Contains(unreadable, op.Dest) {
			masked[op.Dest] = i
		}
	}
	inserts := map[int][]policy.MountOp{}
	reads := slices.Clone(s.Read)
	sort.SliceStable(reads, func(i, j int) bool { return strings.Count(reads[i], "/") < strings.Count(reads[j], "/") })
	for _, r := range reads {
		if _, err := os.Stat(r); err != nil {
			continue
		}
		acc := fsPol.ResolveAccess(fsys, r, s.Cwd)
		if !acc.CanRead() || acc.CanWrite() {
			continue
		}
		d, idx := "", -1
		for u, i := range masked {
			if u != r && under(r, u) && (d == "" || len(u) > len(d)) {
				d, idx = u, i
			}
		}
		if idx < 0 {
			continue
		}
		if p := ops[idx].Perms; p == nil || *p == 0 {
			ops[idx].Perms = policy.Uint32(0o111)
		}
		add := []policy.MountOp{{Kind: policy.OpROBind, Source: r, Dest: r}}
		var inner []string
		for _, u := range unreadable {
			if u != r && under(u, r) {
				inner = append(inner, u)
			}
		}
		sort.SliceStable(inner, func(i, j int) bool { return strings.Count(inner[i], "/") < strings.Count(inner[j], "/") })
		for _, u := range inner {
			st, err := os.Stat(u)
			switch {
			case err != nil:
				// Nothing to hide; R is read-only, so it cannot be created.
			case st.IsDir():
				add = append(add,
					policy.MountOp{Kind: policy.OpTmpfs, Dest: u, Perms: policy.Uint32(0)},
					policy.MountOp{Kind: policy.OpRemountRO, Dest: u})
			default:
				add = append(add, policy.MountOp{Kind: policy.OpROBindData, Dest: u, Perms: policy.Uint32(0)})
			}
		}
		inserts[idx] = append(inserts[idx], add...)
	}
	if len(inserts) == 0 {
		return ops
	}
	var out []policy.MountOp
	for i, op := range ops {
		out = append(out, op)
		out = append(out, inserts[i]...)
	}
	return out
}

// under reports whether p is root or lies below it (clean absolute paths).
func under(p, root string) bool {
	if root == "/" {
		return true
	}
	return p == root || strings.HasPrefix(p, root+"/")
}

// buildEnv computes the command's environment: the default keys (or
// everything with a bare --allow-env), plus --allow-env keys, minus
// --deny-env, plus --env, plus the proxy variables in proxy mode.
func buildEnv(host []string, s settings, proxy bool) []string {
	match := func(patterns []string, k string) bool {
		for _, p := range patterns {
			if ok, _ := path.Match(p, k); ok {
				return true
			}
		}
		return false
	}
	vals := map[string]string{}
	for _, kv := range host {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			continue
		}
		if !s.EnvAll && !match(defaultEnvKeys, k) && !match(s.EnvKeys, k) {
			continue
		}
		if match(s.DenyEnv, k) {
			continue
		}
		vals[k] = v
	}
	for _, kv := range s.SetEnv {
		k, v, _ := strings.Cut(kv, "=")
		vals[k] = v
	}
	if proxy {
		// Placeholders: the sandbox's init rewrites them to the port of
		// its loopback listener (it requires each variable to exist).
		// The inherited NO_PROXY goes: hosts in it would be dialled
		// directly and fail; the init then exempts loopback only.
		delete(vals, "NO_PROXY")
		delete(vals, "no_proxy")
		for _, k := range proxyEnvKeys {
			vals[k] = "http://127.0.0.1:0"
		}
		// Node's fetch ignores proxy variables unless told (Node 24+).
		if _, ok := vals["NODE_USE_ENV_PROXY"]; !ok {
			vals["NODE_USE_ENV_PROXY"] = "1"
		}
	}
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	env := make([]string, 0, len(keys))
	for _, k := range keys {
		env = append(env, k+"="+vals[k])
	}
	return env
}

// maxPolicyFile bounds --policy.
const maxPolicyFile = 4 << 20

// loadPolicyFile reads a helper-format policy: a file-system policy
// ({"kind":...}), a legacy sandbox policy ({"type":...}), or all three
// of the helper's flags as one object. It returns the filesystem policy
// and, when the file says, the network policy.
func loadPolicyFile(p, cwd string) (*policy.FileSystemPolicy, policy.NetworkPolicy, error) {
	if p == "" {
		return nil, "", nil
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, "", usagef("--policy %s: %v", p, errText(err))
	}
	if len(data) > maxPolicyFile {
		return nil, "", usagef("--policy %s: larger than %d bytes", p, maxPolicyFile)
	}
	var obj map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, "", usagef("--policy %s: not a JSON object: %v", p, err)
	}
	fsys := policy.HostFS
	switch {
	case obj["kind"] != nil:
		fp, err := policy.ParseFileSystemPolicy(string(data))
		if err != nil {
			return nil, "", usagef("--policy %s: %v", p, err)
		}
		return &fp, "", nil
	case obj["type"] != nil:
		leg, err := policy.ParseSandboxPolicy(string(data))
		if err != nil {
			return nil, "", usagef("--policy %s: %v", p, err)
		}
		fp := policy.FileSystemPolicyFromLegacyWithCwd(fsys, leg, cwd)
		return &fp, policy.NetworkPolicyFromLegacy(leg), nil
	}
	fields := map[string]string{}
	for k, v := range obj {
		nk := strings.ReplaceAll(k, "-", "_")
		switch nk {
		case "sandbox_policy", "file_system_sandbox_policy", "network_sandbox_policy":
			fields[nk] = string(v)
		default:
			return nil, "", usagef("--policy %s: unknown field %q (expected a file-system policy with \"kind\", a sandbox policy with \"type\", or sandbox_policy / file_system_sandbox_policy / network_sandbox_policy)", p, k)
		}
	}
	rp, err := policy.ResolveHelperPolicies(fsys, fields["sandbox_policy"], fields["file_system_sandbox_policy"], fields["network_sandbox_policy"], cwd)
	if err != nil {
		return nil, "", usagef("--policy %s: %v", p, err)
	}
	return &rp.FS, rp.Net, nil
}

package policy

// The Codex helper front-end: resolved helper policies -> Plan.
//
// This is create_bwrap_command_args / create_filesystem_args /
// create_bwrap_flags of the Codex Linux sandbox helper (spec
// codex-helper.md §2.2, §3.1-§3.6, §5.1, §5.3), producing zbox's
// engine-neutral Plan instead of a bwrap argv. The mount ops come out in
// exactly the helper's order, so that BwrapArgs(HelperPlan(...)) is the
// helper's own bwrap argv; policy/testdata/golden pins that against the
// real codex-linux-sandbox 0.125.0.
//
// Reference behaviour is the real 0.125 helper, not the v0.117 prose where
// the two differ (see policy/testdata/golden/README.md):
//   - a deny-read or protected read-only path that crosses a symlink
//     inside a writable root fails closed (v0.122+) with
//     "cannot enforce sandbox ... path P because it crosses writable
//     symlink S"; HelperInput.LegacySymlinkMask restores v0.117's
//     "/dev/null over the symlink";
//   - each file mask is its own ro-bind-data op: the engine must give each
//     one a fresh /dev/null fd (the v0.117-0.125 fd-reuse bug is NOT
//     reproduced; BwrapArgs asks for one fd per op).
//
// Zerobox deviations (spec §3.9) that change the argv are adopted only
// under HelperInput.Hardened: "--remount-ro /" after /proc for a tmpfs
// root, and pruning readable roots nested in another readable root.
// Hardened also skips deny masks inside an already masked directory,
// which the helper emits and bwrap then cannot apply.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// HelperInput is what the Codex helper front-end knows after parsing its
// command line.
type HelperInput struct {
	Policies ResolvedPolicies
	// PolicyCwd is --sandbox-policy-cwd; CommandCwd is --command-cwd
	// ("" means the policy cwd).
	PolicyCwd, CommandCwd string
	// NoProc is --no-proc: no fresh /proc is mounted.
	NoProc bool
	// ProxyMode is --allow-network-for-proxy: network mode ProxyOnly,
	// whatever the network policy says (spec §5.1).
	ProxyMode bool
	Command   []string
	// Hardened is zbox's native engine: additionally unshare IPC and UTS,
	// deny process_vm_readv/writev, Landlock scoping, and the zerobox
	// tmpfs-root hardenings. Never set for helper compatibility (goldens).
	Hardened bool
	// LegacySymlinkMask selects v0.117 behaviour for a deny-read or
	// protected path that crosses a symlink inside a writable root: bind
	// /dev/null over the symlink instead of failing (v0.122+, the
	// default).
	LegacySymlinkMask bool
}

// WritableSymlinkError is the fail-closed error of helper v0.122+ for a
// deny-read or read-only path that crosses a symlink which the sandboxed
// process could re-point (it lies inside a writable root). The helper
// panics with "error building bubblewrap command: Fatal(\"<Error()>\")".
type WritableSymlinkError struct {
	// Kind is "deny-read" or "read-only", or (Hardened) "writable" or
	// "readable" for a root.
	Kind    string
	Path    string
	Symlink string
}

func (e *WritableSymlinkError) Error() string {
	msg := fmt.Sprintf("cannot enforce sandbox %s path %s because it crosses writable symlink %s", e.Kind, e.Path, e.Symlink)
	if e.Kind == "writable" || e.Kind == "readable" {
		// zbox's own check (Hardened): say what to do.
		msg += " (a sandboxed program could re-point it for the next run; name the directory it leads to instead)"
	}
	return msg
}

// HelperPlan builds the sandbox plan of the Codex helper for in.
//
// A Plan with no namespaces and no mounts is the helper's full-disk-write
// shortcut (spec §2.2 step 6: danger-full-access and external-sandbox
// outside proxy mode): the engine must exec the command directly, with
// only the seccomp filter (Restricted when the network is restricted,
// none at all otherwise), no new session and no parent-death signal.
func HelperPlan(fsys FS, in HelperInput) (*Plan, error) {
	if len(in.Command) == 0 {
		// The helper's own wording (spec §2.2 step 1).
		return nil, errors.New("No command specified to execute.")
	}
	if in.PolicyCwd == "" {
		return nil, errors.New("helper plan: empty sandbox policy cwd; pass --sandbox-policy-cwd")
	}
	// One snapshot of the filesystem for the whole build (cachedFS).
	fsys = newCachedFS(fsys)
	fsPol := in.Policies.FS
	netEnabled := in.Policies.Net.IsEnabled()

	p := &Plan{Command: slices.Clone(in.Command)}

	// Full-disk-write shortcut: no bwrap, no namespaces (spec §2.2 step 6).
	// The helper then installs seccomp only for a restricted network.
	// Capabilities are still dropped (Caps{}): zbox never hands a sandbox
	// target capabilities; non-root callers have none anyway.
	if fsPol.HasFullDiskWriteAccess() && !in.ProxyMode {
		p.Network = NetworkSpec{Mode: NetFull}
		if !netEnabled {
			p.Filter = FilterSpec{Enabled: true, Network: SeccompRestricted}
		}
		return p, nil
	}

	mode := NetIsolated
	switch {
	case in.ProxyMode:
		mode = NetProxyOnly // takes precedence over "enabled" (spec §5.1)
	case netEnabled:
		mode = NetFull
	}
	p.Network = NetworkSpec{Mode: mode}
	// --unshare-user always: root in a container without CAP_SYS_ADMIN can
	// only create the other namespaces from inside a fresh user namespace
	// (#13624). --unshare-pid always; --unshare-net unless FullAccess.
	p.Namespaces = Namespaces{
		User: true, Mount: true, PID: true,
		Net: mode != NetFull,
		IPC: in.Hardened, UTS: in.Hardened,
	}
	// setsid defeats TIOCSTI injection into the caller's terminal;
	// PDEATHSIG=SIGKILL stops an orphaned sandbox outliving its caller.
	p.NewSession = true
	p.DieWithParent = true

	p.Filter = FilterSpec{Enabled: true, DenyProcessVM: in.Hardened}
	switch mode {
	case NetProxyOnly:
		p.Filter.Network = SeccompProxyRouted
	case NetIsolated:
		p.Filter.Network = SeccompRestricted
	default:
		p.Filter.Network = SeccompNone
	}
	if in.Hardened {
		p.Landlock = &LandlockSpec{Scope: true}
	}

	proc := MountOp{Kind: OpProc, Dest: "/proc", Fallback: ProcSkip}
	if fsPol.HasFullDiskWriteAccess() {
		// Spec §3.1 case 1 (proxy mode only): a writable host root, and
		// never a --chdir.
		p.Mounts = []MountOp{{Kind: OpBind, Source: "/", Dest: "/"}}
		if !in.NoProc {
			p.Mounts = append(p.Mounts, proc)
		}
		return p, nil
	}

	b := &fsBuilder{fsys: fsys, legacySymlinks: in.LegacySymlinkMask, hardened: in.Hardened}
	if err := b.build(layoutOf(fsys, fsPol, in.PolicyCwd)); err != nil {
		return nil, err
	}
	p.Mounts = b.ops
	if !in.NoProc {
		p.Mounts = append(p.Mounts, proc)
	}
	if in.Hardened && b.usedTmpfsRoot {
		// Zerobox's deny-default-write: make the throwaway tmpfs root
		// read-only, after every mount point in it has been created, so
		// the target cannot silently create files at /foo.
		p.Mounts = append(p.Mounts, MountOp{Kind: OpRemountRO, Dest: "/"})
	}

	chdir, err := helperChdir(fsys, in)
	if err != nil {
		return nil, err
	}
	p.Chdir = chdir
	return p, nil
}

// helperChdir is the helper's --chdir rule (spec §3.1): the canonical
// command cwd, only when it differs from the command cwd as given (a
// symlinked cwd alias is not mounted inside, only its canonical root is).
// The comparison is Rust's Path equality: component-wise, so a trailing
// slash, "//" or an inner "." do not count, while ".." does. A cwd that
// cannot be canonicalised gives no --chdir.
func helperChdir(fsys FS, in HelperInput) (string, error) {
	cwd := in.CommandCwd
	if cwd == "" {
		cwd = in.PolicyCwd
	}
	abs := cwd
	if !filepath.IsAbs(abs) {
		// canonicalize() resolves a relative path against the process cwd.
		a, err := filepath.Abs(abs)
		if err != nil {
			return "", nil
		}
		abs = a
	}
	canon, err := fsys.EvalSymlinks(abs)
	if err != nil || !filepath.IsAbs(canon) {
		return "", nil
	}
	if rustPathEqual(canon, cwd) {
		return "", nil
	}
	return canon, nil
}

// rustPathEqual compares paths the way Rust's Path == does.
func rustPathEqual(a, b string) bool { return slices.Equal(rustComponents(a), rustComponents(b)) }

func rustComponents(p string) []string {
	var out []string
	abs := strings.HasPrefix(p, "/")
	if abs {
		out = append(out, "/")
	}
	for i, c := range strings.Split(p, "/") {
		// "." is dropped except as the very first component of a
		// relative path (Component::CurDir).
		if c == "" || (c == "." && (abs || i != 0)) {
			continue
		}
		out = append(out, c)
	}
	return out
}

// fsLayout is everything create_filesystem_args reads from the
// filesystem policy, resolved against the policy cwd.
type fsLayout struct {
	FullRead         bool
	Readable         []string // ReadableRootsWithCwd (empty with FullRead)
	PlatformDefaults bool
	Writable         []WritableRoot
	Unreadable       []string
	// RawWritable and RawReadable are the write and read entries'
	// paths as the policy spells them, before symlinks are resolved
	// (RawReadable empty with FullRead).
	RawWritable, RawReadable []string
}

func layoutOf(fsys FS, pol FileSystemPolicy, cwd string) fsLayout {
	l := fsLayout{
		FullRead:   pol.HasFullDiskReadAccess(),
		Writable:   pol.WritableRootsWithCwd(fsys, cwd),
		Unreadable: pol.UnreadableRootsWithCwd(fsys, cwd),
	}
	for _, e := range pol.resolvedEntries(fsys, cwd) {
		if e.access.CanWrite() {
			l.RawWritable = append(l.RawWritable, e.path)
		}
		if !l.FullRead && e.access.CanRead() {
			l.RawReadable = append(l.RawReadable, e.path)
		}
	}
	if !l.FullRead {
		l.Readable = pol.ReadableRootsWithCwd(fsys, cwd)
		l.PlatformDefaults = pol.IncludePlatformDefaults()
	}
	return l
}

// fsBuilder is create_filesystem_args (spec §3.3).
type fsBuilder struct {
	fsys           FS
	legacySymlinks bool
	hardened       bool

	writable      []WritableRoot // existing writable roots, policy order
	writablePaths []string
	ops           []MountOp
	usedTmpfsRoot bool
	maskedDirs    []string // directories masked so far with an empty tmpfs
	// pinned: directories made mount points by pinParents since the last
	// writable-root bind that covers them.
	pinned map[string]bool
}

func (b *fsBuilder) add(op MountOp) { b.ops = append(b.ops, op) }

// coveredByWritableBind reports whether the latest mount of the plan so
// far that covers q (at q or an ancestor) is a writable bind.
func (b *fsBuilder) coveredByWritableBind(q string) bool {
	for i := len(b.ops) - 1; i >= 0; i-- {
		op := b.ops[i]
		switch op.Kind {
		case OpDir, OpFile, OpSymlink, OpChmod:
			continue // not mounts
		}
		if op.Dest != q && !pathUnder(q, op.Dest) {
			continue
		}
		return op.Kind == OpBind
	}
	return false
}

// pinParents (Hardened) makes every directory between a writable root and
// p a mount point, by binding it onto itself, before p is masked or made
// read-only. A mount point cannot be renamed or removed (EBUSY), while
// any other directory whose parent is writable can: the sandboxed program
// could rename an ancestor of p (mv ~/.config ~/.c2), which moves p along
// with its mask in this sandbox, and the next sandbox, whose policy names
// p by its path, would find nothing there to mask and leave the renamed
// file open (~/.c2/gh/hosts.yml), or writable for a read-only path.
// Writable roots are mount points already, and so is p once masked.
func (b *fsBuilder) pinParents(p string) {
	if !b.hardened {
		return
	}
	prefixes := pathPrefixes(p)
	for _, q := range prefixes[:max(len(prefixes)-1, 0)] {
		if q == "/" || b.pinned[q] || slices.Contains(b.writablePaths, q) || !b.underWritable(filepath.Dir(q)) {
			continue
		}
		// Only where q's parent is, at this point of the plan, a writable
		// bind of the host: there q could be renamed, and binding q from
		// the host onto itself shows exactly what is there already.
		// Under a read-only bind or a mask (a carve-out, a protected
		// .git, a denied directory) q cannot be renamed anyway, and a
		// writable bind of it would undo that protection.
		if !b.coveredByWritableBind(q) {
			continue
		}
		if !b.isDir(q) {
			return
		}
		b.add(MountOp{Kind: OpBind, Source: q, Dest: q})
		if b.pinned == nil {
			b.pinned = map[string]bool{}
		}
		b.pinned[q] = true
	}
}

// devNullOver makes p an empty, read-only file: for a symlink, it stops
// the target from re-pointing it (the mount point cannot be unlinked or
// renamed: EBUSY); for a missing component, it stops the target from
// creating it.
func (b *fsBuilder) devNullOver(p string) {
	b.add(MountOp{Kind: OpROBind, Source: "/dev/null", Dest: p})
}

func (b *fsBuilder) exists(p string) bool {
	_, err := b.fsys.Stat(p)
	return err == nil
}

func (b *fsBuilder) isDir(p string) bool {
	st, err := b.fsys.Stat(p)
	return err == nil && st.IsDir()
}

func (b *fsBuilder) build(l fsLayout) error {
	// 1. Writable roots; missing ones are dropped silently (#14890): bwrap
	// would fail on them and older helpers refused to start.
	for _, w := range l.Writable {
		if b.exists(w.Root) {
			b.writable = append(b.writable, w)
			b.writablePaths = append(b.writablePaths, w.Root)
		}
	}
	// 2. Unreadable roots, and what they resolve to.
	unreadable := l.Unreadable
	unreadableTargets := make([]string, len(unreadable))
	for i, u := range unreadable {
		unreadableTargets[i] = EffectivePath(b.fsys, u)
	}

	// 3. Base layer.
	b.base(l)

	// 5. Deny masks on ancestors of writable roots come first, so that the
	// writable roots below them are mounted on top of the mask.
	var above, rest []string
	for _, u := range unreadable {
		if b.underWritable(u) {
			continue
		}
		if slices.ContainsFunc(b.writablePaths, func(r string) bool { return pathUnder(r, u) }) {
			above = append(above, u)
		} else {
			rest = append(rest, u)
		}
	}
	for _, u := range sortedByDepth(above) {
		if err := b.denyMask(u); err != nil {
			return err
		}
	}

	// 6. Writable roots, shallow first, so a deeper root re-opens a
	// read-only or denied parent and a deeper mask wins over its root.
	roots := slices.Clone(b.writable)
	slices.SortStableFunc(roots, func(x, y WritableRoot) int { return componentCount(x.Root) - componentCount(y.Root) })
	for _, w := range roots {
		// The deepest denied ancestor was replaced by an empty tmpfs:
		// recreate the directories down to the mount point.
		deepest := ""
		for _, u := range unreadable {
			if pathUnder(w.Root, u) && (deepest == "" || componentCount(u) > componentCount(deepest)) {
				deepest = u
			}
		}
		if deepest != "" {
			b.dirChain(deepest, w.Root)
		}
		b.add(MountOp{Kind: OpBind, Source: w.Root, Dest: w.Root})
		for q := range b.pinned {
			if pathUnder(q, w.Root) {
				delete(b.pinned, q) // under the new bind: pin again if needed
			}
		}

		// A carve-out that is also denied is left to the deny mask, which
		// is stronger. Deny paths keep their spelling (a symlink on the way
		// stays visible, see UnreadableRootsWithCwd) while a carve-out may
		// be in effective form, so they are matched by their targets too.
		var subs []string
		for _, s := range w.ReadOnlySubpaths {
			if !slices.Contains(unreadable, s) && !slices.Contains(unreadableTargets, EffectivePath(b.fsys, s)) {
				subs = append(subs, s)
			}
		}
		for _, s := range sortedByDepth(subs) {
			if err := b.readOnlySubpath(s); err != nil {
				return err
			}
		}
		var denies []string
		for _, u := range unreadable {
			if pathUnder(u, w.Root) {
				denies = append(denies, u)
			}
		}
		for _, u := range sortedByDepth(denies) {
			if err := b.denyMask(u); err != nil {
				return err
			}
		}
	}

	// 7. Deny masks unrelated to any writable root.
	for _, u := range sortedByDepth(rest) {
		if err := b.denyMask(u); err != nil {
			return err
		}
	}

	// 8. Hardened: a writable or readable root reached through a symlink
	// that sits inside a writable root is refused. (Last, so that where
	// the helper itself refuses the plan, its own error comes first.) The sandboxed program
	// can replace or re-point that symlink (ln -s /elsewhere w/cache), and
	// the next sandbox, resolving it, would bind wherever it leads,
	// writable or readable. Fail closed, as for masks (writableSymlink).
	if b.hardened {
		for _, k := range []struct {
			kind  string
			paths []string
		}{{"writable", l.RawWritable}, {"readable", l.RawReadable}} {
			for _, p := range k.paths {
				if link := b.writableSymlink(p); link != "" {
					return &WritableSymlinkError{Kind: k.kind, Path: p, Symlink: link}
				}
			}
		}
	}
	return nil
}

// base emits the bottom layer: the host root read-only, or (restricted
// reads) an empty tmpfs root with only the readable roots bound into it.
func (b *fsBuilder) base(l fsLayout) {
	if l.FullRead {
		b.add(MountOp{Kind: OpROBind, Source: "/", Dest: "/"})
		b.add(MountOp{Kind: OpDev, Dest: "/dev"})
		return
	}
	set := slices.Clone(l.Readable)
	if l.PlatformDefaults {
		for _, r := range PlatformDefaultReadRoots {
			if b.exists(r) {
				set = append(set, r)
			}
		}
	}
	// The helper keeps them in a BTreeSet<PathBuf>: sorted component by
	// component (so "/a/b" < "/a-c"), duplicates dropped.
	slices.SortFunc(set, comparePaths)
	set = slices.Compact(set)
	if slices.Contains(set, "/") {
		// E.g. ":root = read" plus any deny entry: full reads after all.
		b.add(MountOp{Kind: OpROBind, Source: "/", Dest: "/"})
		b.add(MountOp{Kind: OpDev, Dest: "/dev"})
		return
	}
	b.usedTmpfsRoot = true
	b.add(MountOp{Kind: OpTmpfs, Dest: "/"})
	b.add(MountOp{Kind: OpDev, Dest: "/dev"})
	var kept []string
	for _, r := range set {
		if !b.exists(r) {
			continue
		}
		if b.hardened && slices.ContainsFunc(kept, func(k string) bool { return pathUnder(r, k) }) {
			// Zerobox's nested-root pruning: --ro-bind is recursive, and a
			// nested symlinked root (/etc/os-release -> ../usr/lib/...)
			// could otherwise point into a root not bound yet (ENOENT).
			// In sorted order an ancestor always precedes its descendants.
			continue
		}
		kept = append(kept, r)
		b.add(MountOp{Kind: OpROBind, Source: r, Dest: r})
	}
}

// dirChain emits --dir for every directory strictly below top down to
// root (root's parent when root is not a directory: bwrap creates the
// file mount point itself), shallow first.
func (b *fsBuilder) dirChain(top, root string) {
	target := root
	if !b.isDir(root) {
		target = filepath.Dir(root)
	}
	rel, ok := stripPathPrefix(target, top)
	if !ok || rel == "" {
		return
	}
	cur := top
	for _, c := range strings.Split(rel, "/") {
		cur = joinPath(cur, c)
		b.add(MountOp{Kind: OpDir, Dest: cur})
	}
}

func (b *fsBuilder) underWritable(p string) bool {
	return slices.ContainsFunc(b.writablePaths, func(r string) bool { return pathUnder(p, r) })
}

// writableSymlink walks p component by component (lstat, never following
// the last one) and returns the first symlink that lies inside a writable
// root: the target could replace it between planning and mounting, or
// re-point it afterwards, so a mask placed through it proves nothing.
func (b *fsBuilder) writableSymlink(p string) string {
	for _, q := range pathPrefixes(p) {
		fi, err := b.fsys.Lstat(q)
		if err != nil {
			// Missing or unreadable: no symlink here, and nothing below
			// can be reached through this component either.
			return ""
		}
		if fi.Mode()&os.ModeSymlink != 0 && b.underWritable(q) {
			return q
		}
	}
	return ""
}

// firstMissing returns the shallowest prefix of p that does not exist
// (stat, following symlinks), or "" when p exists.
func (b *fsBuilder) firstMissing(p string) string {
	for _, q := range pathPrefixes(p) {
		if !b.exists(q) {
			return q
		}
	}
	return ""
}

// symlinkCrossing handles a path that crosses a writable symlink: an
// error (v0.122+) or, with LegacySymlinkMask, /dev/null over the symlink.
func (b *fsBuilder) symlinkCrossing(kind, p, link string) error {
	if !b.legacySymlinks {
		return &WritableSymlinkError{Kind: kind, Path: p, Symlink: link}
	}
	b.devNullOver(link)
	return nil
}

// denyMask is append_unreadable_root_args (spec §3.5).
func (b *fsBuilder) denyMask(p string) error {
	if b.hardened && b.hiddenByDenyDir(p) {
		return nil
	}
	if link := b.writableSymlink(p); link != "" {
		return b.symlinkCrossing("deny-read", p, link)
	}
	if m := b.firstMissing(p); m != "" {
		// Nothing to hide; but inside a writable root the target could
		// create it, so occupy the first missing component.
		if b.underWritable(m) {
			b.pinParents(m)
			b.devNullOver(m)
		}
		return nil
	}
	b.pinParents(p)
	if !b.isDir(p) {
		// A file: an empty, mode-000 read-only copy over it. Each op gets
		// its own data fd from the engine (bwrap consumes the fd).
		b.add(MountOp{Kind: OpROBindData, Dest: p, Perms: Uint32(0o000)})
		return nil
	}
	// A directory: an empty tmpfs over it. Mode 000 hides it entirely;
	// 111 (search only) when writable roots below must stay reachable.
	var inside []string
	for _, r := range b.writablePaths {
		if pathUnder(r, p) && r != p {
			inside = append(inside, r)
		}
	}
	mode := uint32(0o000)
	if len(inside) > 0 {
		mode = 0o111
	}
	b.add(MountOp{Kind: OpTmpfs, Dest: p, Perms: Uint32(mode)})
	b.maskedDirs = append(b.maskedDirs, p)
	for _, r := range sortedByDepth(inside) {
		b.dirChain(p, r)
	}
	// Read-only after the mount points exist: the target cannot plant
	// files in the mask.
	b.add(MountOp{Kind: OpRemountRO, Dest: p})
	return nil
}

// hiddenByDenyDir reports whether p lies inside a directory that is
// already masked with an empty read-only tmpfs, with no writable root in
// between to re-expose it. The helper still emits a mask for p, and bwrap
// then fails: it cannot create p's mount point in the read-only tmpfs
// ("Can't create file at ...: Read-only file system"). Under Hardened the
// redundant mask is skipped: the target cannot reach p either way.
func (b *fsBuilder) hiddenByDenyDir(p string) bool {
	for _, d := range b.maskedDirs {
		if d == p || !pathUnder(p, d) {
			continue
		}
		reopened := slices.ContainsFunc(b.writablePaths, func(r string) bool {
			return r != d && pathUnder(r, d) && pathUnder(p, r)
		})
		if !reopened {
			return true
		}
	}
	return false
}

// readOnlySubpath is append_read_only_subpath_args (spec §3.6).
func (b *fsBuilder) readOnlySubpath(s string) error {
	if link := b.writableSymlink(s); link != "" {
		return b.symlinkCrossing("read-only", s, link)
	}
	if m := b.firstMissing(s); m != "" {
		if b.underWritable(m) {
			b.pinParents(m)
			b.devNullOver(m)
		}
		return nil
	}
	if b.underWritable(s) {
		b.pinParents(s)
		b.add(MountOp{Kind: OpROBind, Source: s, Dest: s})
	}
	return nil
}

// --- path helpers (clean absolute paths, whole components) ---

func joinPath(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

// pathPrefixes lists "/a", "/a/b", "/a/b/c" for "/a/b/c".
func pathPrefixes(p string) []string {
	var out []string
	cur := "/"
	for _, c := range strings.Split(p, "/") {
		if c == "" {
			continue
		}
		cur = joinPath(cur, c)
		out = append(out, cur)
	}
	return out
}

// sortedByDepth is a stable sort by depth, shallow first (the helper's
// sort_by_key on the component count).
func sortedByDepth(ps []string) []string {
	out := slices.Clone(ps)
	slices.SortStableFunc(out, func(a, b string) int { return componentCount(a) - componentCount(b) })
	return out
}

// comparePaths orders paths like Rust's PathBuf Ord: component by
// component, each compared as bytes.
func comparePaths(a, b string) int {
	ca, cb := rustComponents(a), rustComponents(b)
	for i := 0; i < len(ca) && i < len(cb); i++ {
		if c := strings.Compare(ca[i], cb[i]); c != 0 {
			return c
		}
	}
	return len(ca) - len(cb)
}

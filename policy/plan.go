package policy

// The plan: the ordered, engine-neutral description of one sandbox.
//
// Every front-end (zbox's own CLI, the Codex/Zerobox helper command line,
// the bwrap command line) produces a Plan; every engine (native, system
// bwrap) consumes one. Nothing downstream of the Plan re-derives policy:
// if an engine needs to know something, it belongs in here.
//
// The mount vocabulary deliberately mirrors bubblewrap's setup operations
// (--bind, --ro-bind, --tmpfs, --dev, --proc, --dir, --ro-bind-data, ...):
// that is the language the Codex helper speaks, it is what the bwrap
// front-end parses, and it makes rendering a Plan back into bwrap argv a
// one-to-one mapping. Ops run in slice order; later mounts stack on
// earlier ones, exactly as in bwrap.
//
// The Plan is JSON-serialisable because it travels from the outer zbox
// process to the sandbox's init (pid 1) over an inherited pipe.

// NetworkMode is how the sandbox reaches the network.
type NetworkMode string

const (
	// NetIsolated: a fresh network namespace with only lo up, plus the
	// seccomp rule that denies non-AF_UNIX sockets.
	NetIsolated NetworkMode = "isolated"
	// NetFull: the host's network namespace, no filter.
	NetFull NetworkMode = "full"
	// NetProxyOnly: a fresh network namespace whose only way out is the
	// bridge(s) to loopback proxies on the host (the helper's
	// --allow-network-for-proxy), plus the proxy-routed seccomp rules.
	NetProxyOnly NetworkMode = "proxy-only"
)

// Namespaces lists the namespaces created at clone time.
type Namespaces struct {
	User   bool `json:"user,omitempty"`
	Mount  bool `json:"mount,omitempty"`
	PID    bool `json:"pid,omitempty"`
	Net    bool `json:"net,omitempty"`
	IPC    bool `json:"ipc,omitempty"`
	UTS    bool `json:"uts,omitempty"`
	Cgroup bool `json:"cgroup,omitempty"`
}

// OpKind names one setup operation. The names are bwrap's option names
// without the leading dashes.
type OpKind string

const (
	OpBind       OpKind = "bind"         // recursive bind, nosuid+nodev added
	OpROBind     OpKind = "ro-bind"      // recursive bind, ro+nosuid+nodev on every submount
	OpDevBind    OpKind = "dev-bind"     // recursive bind, nosuid only (devices work)
	OpTmpfs      OpKind = "tmpfs"        // fresh tmpfs (mode from Perms, default 0755; Size)
	OpDev        OpKind = "dev"          // minimal /dev: null zero full random urandom tty, devpts, shm, std* links
	OpProc       OpKind = "proc"         // fresh procfs for the new pid namespace (see ProcFallback)
	OpMqueue     OpKind = "mqueue"       // fresh mqueue fs
	OpDir        OpKind = "dir"          // mkdir -p (mode from Perms, default 0755)
	OpFile       OpKind = "file"         // create a file with Data (mode from Perms, default 0666)
	OpBindData   OpKind = "bind-data"    // bind a file holding Data, writable
	OpROBindData OpKind = "ro-bind-data" // bind a file holding Data, read-only
	OpSymlink    OpKind = "symlink"      // symlink Dest -> Source
	OpRemountRO  OpKind = "remount-ro"   // make Dest read-only (non-recursive, like bwrap)
	OpChmod      OpKind = "chmod"        // chmod Dest to Perms
)

// ProcFallback says what to do when the kernel refuses a fresh procfs
// (masked /proc in a container: EPERM/EINVAL/EACCES).
type ProcFallback string

const (
	// ProcFatal: fail setup (bwrap's semantics).
	ProcFatal ProcFallback = ""
	// ProcSkip: carry on without mounting a fresh /proc (the Codex
	// helper's preflight fallback, spec §4). Whatever the earlier ops put
	// at /proc stays visible.
	ProcSkip ProcFallback = "skip"
	// ProcBindHost: recursively bind the outer /proc instead (keeps the
	// container's masks; shows the outer pid namespace).
	ProcBindHost ProcFallback = "bind-host"
)

// MountOp is one setup operation, in bwrap's vocabulary.
type MountOp struct {
	Kind OpKind `json:"op"`
	// Source is the host path of a bind, or the link target of a symlink.
	Source string `json:"src,omitempty"`
	// Dest is the path inside the sandbox.
	Dest string `json:"dst"`
	// Perms is the mode for tmpfs, dir, file, bind-data and chmod
	// (bwrap's --perms / --chmod); nil means the op's default.
	Perms *uint32 `json:"perms,omitempty"`
	// Size is the tmpfs size limit in bytes (0: kernel default).
	Size uint64 `json:"size,omitempty"`
	// Try skips the op silently when Source does not exist (--bind-try).
	Try bool `json:"try,omitempty"`
	// Data is the content of file, bind-data and ro-bind-data ops.
	Data []byte `json:"data,omitempty"`
	// Fallback applies to OpProc only.
	Fallback ProcFallback `json:"fallback,omitempty"`
	// FD, on a bind or ro-bind op, is the zbox fd whose target is bound
	// (bwrap --bind-fd/--ro-bind-fd); Source is then "/proc/self/fd/N".
	// After mounting, the engine must check that the mount has the fd's
	// st_dev/st_ino (bwrap: "Race condition binding dirfd") and close the
	// fd so the target does not inherit it.
	FD *int `json:"fd,omitempty"`
}

// SeccompMode selects the network part of the seccomp filter.
type SeccompMode string

const (
	// SeccompNone: no network rules (the always-denied set still applies
	// when Filter.Enabled).
	SeccompNone SeccompMode = "none"
	// SeccompRestricted: no network (helper's Restricted mode).
	SeccompRestricted SeccompMode = "restricted"
	// SeccompProxyRouted: only AF_INET/AF_INET6 sockets, for the
	// in-namespace bridge (helper's ProxyRouted mode).
	SeccompProxyRouted SeccompMode = "proxy-routed"
)

// FilterSpec is the seccomp part of the plan.
type FilterSpec struct {
	// Enabled installs a filter at all (with no_new_privs). bwrap's
	// semantics have no implicit filter; zbox and the helper always
	// install one.
	Enabled bool        `json:"enabled,omitempty"`
	Network SeccompMode `json:"network,omitempty"`
	// DenyProcessVM also denies process_vm_readv/writev (helper v0.128+).
	DenyProcessVM bool `json:"deny_process_vm,omitempty"`
	// DenyTerminalInjection denies the ioctls that push input into a
	// terminal (TIOCSTI) or paste into a virtual console (TIOCLINUX):
	// with them, a command that shares the caller's terminal could type
	// commands into the caller's shell.
	DenyTerminalInjection bool `json:"deny_terminal_injection,omitempty"`
	// DenyInterfaceIoctls denies the socket ioctls that query or
	// configure network interfaces. The engine sets it when the sandbox
	// will hold sockets of the host's network namespace (the opt-in proxy
	// redirect), through which those ioctls would describe the host's
	// interfaces. (Not a policy decision: nothing else sets it.)
	DenyInterfaceIoctls bool `json:"deny_interface_ioctls,omitempty"`
	// Programs are extra raw BPF programs (bwrap --seccomp/--add-seccomp-fd),
	// installed after zbox's own filter.
	Programs [][]byte `json:"programs,omitempty"`
}

// LandlockSpec is the Landlock part of the plan.
type LandlockSpec struct {
	// Filesystem rules. When FS is false no filesystem access is handled
	// (the namespace engine relies on mounts for that).
	FS         bool     `json:"fs,omitempty"`
	ReadPaths  []string `json:"read,omitempty"`
	WritePaths []string `json:"write,omitempty"`
	// Scope: where the ABI offers it (v6+), forbid signalling processes
	// and connecting to abstract unix sockets outside the sandbox.
	Scope bool `json:"scope,omitempty"`
	// Required: fail if the kernel cannot enforce the filesystem rules,
	// rather than run with less protection.
	Required bool `json:"required,omitempty"`
}

// ProxyRoute is one proxy environment variable routed through a bridge
// (helper spec §6). On the host a unix socket forwards to Endpoint;
// inside, a listener on 127.0.0.1 forwards to that socket and EnvKey is
// rewritten to point at it.
type ProxyRoute struct {
	EnvKey   string `json:"env_key"`
	Endpoint string `json:"endpoint"` // host:port of the loopback proxy on the host
	UDSPath  string `json:"uds_path,omitempty"`
}

// NetworkSpec is the network part of the plan.
type NetworkSpec struct {
	Mode   NetworkMode  `json:"mode"`
	Routes []ProxyRoute `json:"routes,omitempty"`
	// AllowDomains/DenyDomains configure zbox's built-in allow-list proxy
	// (used with Mode == NetProxyOnly; the routes then point at it).
	AllowDomains []string `json:"allow_domains,omitempty"`
	DenyDomains  []string `json:"deny_domains,omitempty"`
}

// Caps says which capabilities the target keeps.
type Caps struct {
	// Keep lists capability numbers the target keeps (bwrap --cap-add,
	// or all of them for a uid-0 caller under bwrap semantics). Empty:
	// the target runs with no capabilities at all (bounding, ambient,
	// effective, permitted, inheritable).
	Keep []int `json:"keep,omitempty"`
	// Ambient also raises the kept capabilities as ambient, so that they
	// survive execve for a non-zero uid (bwrap does this when
	// --cap-add/--cap-drop was used).
	Ambient bool `json:"ambient,omitempty"`
	// KeepBounding leaves the bounding set alone (bwrap without a new
	// user namespace does not touch it).
	KeepBounding bool `json:"keep_bounding,omitempty"`
}

// Plan is everything an engine needs to build and run one sandbox.
type Plan struct {
	Namespaces Namespaces `json:"namespaces"`
	// UID/GID are the ids the target sees; nil means the caller's own.
	UID *int `json:"uid,omitempty"`
	GID *int `json:"gid,omitempty"`
	// Hostname is set in the new UTS namespace when non-empty.
	Hostname string `json:"hostname,omitempty"`

	Mounts []MountOp `json:"mounts,omitempty"`
	// Chdir is the target's working directory inside the sandbox; empty
	// means bwrap's rule: the caller's cwd if it exists inside, else
	// $HOME, else /.
	Chdir string `json:"chdir,omitempty"`

	Network  NetworkSpec   `json:"network"`
	Filter   FilterSpec    `json:"filter"`
	Landlock *LandlockSpec `json:"landlock,omitempty"`
	Caps     Caps          `json:"caps"`

	NewSession    bool `json:"new_session,omitempty"`
	DieWithParent bool `json:"die_with_parent,omitempty"`
	// AsPID1 runs the target as pid 1 of the new pid namespace, with no
	// separate reaper (bwrap --as-pid-1).
	AsPID1 bool `json:"as_pid1,omitempty"`

	// Command is the target's argv; Command[0] is looked up on PATH
	// inside the sandbox. Argv0, when set, replaces argv[0] only.
	Command []string `json:"command"`
	Argv0   string   `json:"argv0,omitempty"`
	// Env is the target's environment; nil means inherit zbox's. No
	// omitempty: an empty, non-nil Env (bwrap --clearenv) must survive the
	// JSON trip to the init as [] rather than turn into "inherit all".
	Env []string `json:"env"`

	// DisableUserns stops the target from creating user namespaces
	// (bwrap --disable-userns); AssertUsernsDisabled only checks that it
	// cannot (bwrap --assert-userns-disabled).
	DisableUserns        bool `json:"disable_userns,omitempty"`
	AssertUsernsDisabled bool `json:"assert_userns_disabled,omitempty"`

	// Limits are resource limits for the target (zbox --limit).
	Limits *Limits `json:"limits,omitempty"`

	// Status holds the caller-supplied synchronisation and status fds
	// (bwrap front-end). The numbers are fds of the zbox process.
	Status StatusSpec `json:"status"`
}

// StatusSpec carries bwrap's status and synchronisation fds. A nil field
// means the option was not given.
type StatusSpec struct {
	InfoFD        *int     `json:"info_fd,omitempty"`         // --info-fd: JSON {child-pid, *-namespace} then close
	JSONStatusFD  *int     `json:"json_status_fd,omitempty"`  // --json-status-fd: JSON lines, incl. exit-code
	BlockFD       *int     `json:"block_fd,omitempty"`        // --block-fd: wait for a byte before exec
	SyncFD        *int     `json:"sync_fd,omitempty"`         // --sync-fd: kept open in the sandbox
	UsernsBlockFD *int     `json:"userns_block_fd,omitempty"` // --userns-block-fd
	LockFiles     []string `json:"lock_files,omitempty"`      // --lock-file: taken by the sandbox's pid 1
	// KeepFDs are further fds the target inherits at the same numbers.
	KeepFDs []int `json:"keep_fds,omitempty"`
}

// Mode is the op's mode: Perms if given, else the op's default def.
func (op *MountOp) Mode(def uint32) uint32 {
	if op.Perms != nil {
		return *op.Perms
	}
	return def
}

// Uint32 returns a pointer to v; convenience for MountOp.Perms.
func Uint32(v uint32) *uint32 { return &v }

// Limits are resource limits applied to the target and everything it
// starts. Zero means unlimited (inherited).
type Limits struct {
	// MemoryBytes caps the address space of each process (RLIMIT_AS).
	MemoryBytes uint64 `json:"memory_bytes,omitempty"`
	// Processes caps the number of processes of the sandbox's uid
	// (RLIMIT_NPROC, counted per user namespace).
	Processes uint64 `json:"processes,omitempty"`
	// OpenFiles caps the number of open fds per process (RLIMIT_NOFILE).
	OpenFiles uint64 `json:"open_files,omitempty"`
	// CPUSeconds caps CPU time per process (RLIMIT_CPU).
	CPUSeconds uint64 `json:"cpu_seconds,omitempty"`
}

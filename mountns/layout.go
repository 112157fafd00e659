package mountns

// The fixed parts of the sandbox's /dev and /proc, shared by Build and by
// the direct engine's compiler (package direct), which must produce the
// same tree.

// DevNodes are bound from the host's /dev into the sandbox's /dev. mknod
// is impossible inside a user namespace, so each node is an empty file
// with the host's device bound over it (bwrap §2.5).
var DevNodes = []string{"null", "zero", "full", "random", "urandom", "tty"}

// DevLinks are the symlinks of the sandbox's /dev: {target, name}.
var DevLinks = [][2]string{
	{"/proc/self/fd/0", "stdin"},
	{"/proc/self/fd/1", "stdout"},
	{"/proc/self/fd/2", "stderr"},
	{"/proc/self/fd", "fd"},
	{"/proc/kcore", "core"},
	{"pts/ptmx", "ptmx"},
}

// DevptsData are the options of the sandbox's private devpts instance.
// No gid= option: the tty group is not mapped in our user namespace and
// the mount would fail. max=: the ptys of all instances come from one
// system-wide pool (kernel.pty.max, 4096 by default), and without a cap
// one sandbox could take all of it from every other user of ptys.
const DevptsData = "newinstance,ptmxmode=0666,mode=620,max=1024"

// ProcGlobals are the parts of /proc that act on the whole machine rather
// than on the sandbox's processes. bwrap binds the same ones read-only
// ("sys", "sysrq-trigger", "irq", "bus"); runc adds "fs".
var ProcGlobals = []string{"sys", "sysrq-trigger", "irq", "bus", "fs"}

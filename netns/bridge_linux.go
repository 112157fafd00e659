//go:build linux

package netns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/zbox-sandbox/zbox/policy"
)

// bridgeDirPrefix names this run's private socket directory,
// <parent>/zbox-proxy-<pid>-<n> (the helper uses
// codex-linux-sandbox-proxy-<pid>-<n>).
const bridgeDirPrefix = "zbox-proxy-"

// bridgeDialTimeout bounds each connection attempt to a loopback proxy
// or to a bridge socket; both are local, so a slow connect means a hung
// peer.
const bridgeDialTimeout = 10 * time.Second

// HostBridges is the host side of the helper's proxy protocol: one unix
// socket per distinct proxy endpoint, each forwarding to that loopback
// endpoint, in a private 0700 directory.
//
// The bridges are goroutines of the calling process, not forked helpers
// as in the Codex helper, so the process must stay alive (run bwrap as a
// child, do not exec it) until Close.
type HostBridges struct {
	// Dir is the private socket directory. In tmpfs-root sandboxes it
	// must be made visible (bind-mounted) inside.
	Dir string
	// Routes are the input routes sorted by EnvKey, with UDSPath set.
	Routes []policy.ProxyRoute

	fwds      []*Forwarder
	closeOnce sync.Once
	closeErr  error
}

// Spec is the route spec for the inner stage (--proxy-route-spec).
func (h *HostBridges) Spec() (string, error) { return MarshalRouteSpec(h.Routes) }

// Close stops every bridge (cancelling live connections) and removes
// the socket directory.
func (h *HostBridges) Close() error {
	h.closeOnce.Do(func() {
		for _, f := range h.fwds {
			f.Close()
		}
		if err := os.RemoveAll(h.Dir); err != nil {
			h.closeErr = fmt.Errorf("removing proxy socket directory %s: %w", h.Dir, err)
		}
	})
	return h.closeErr
}

// PrepareHostUDSBridges starts the host side of the helper protocol
// (spec codex-helper.md §6.1 steps 5-11) for routes as returned by
// [CollectProxyRoutes]. parent is the directory to create the private
// socket directory in; "" picks the helper's default: $CODEX_HOME/tmp
// (created 0700) if usable, else $TMPDIR, else /tmp, taking the first
// whose socket paths fit a unix socket address. Stale zbox-proxy-<pid>-*
// directories of dead processes are removed first.
//
// Every Endpoint must be a loopback ip:port: the bridges never connect
// anywhere else.
func PrepareHostUDSBridges(parent string, routes []policy.ProxyRoute) (*HostBridges, error) {
	if len(routes) == 0 {
		return nil, errors.New("proxy bridges: no proxy routes to bridge")
	}
	routes = slices.Clone(routes)
	slices.SortStableFunc(routes, func(a, b policy.ProxyRoute) int { return strings.Compare(a.EnvKey, b.EnvKey) })
	for _, r := range routes {
		ap, err := netip.ParseAddrPort(r.Endpoint)
		if err != nil || !ap.Addr().Unmap().IsLoopback() || ap.Port() == 0 || ap.Addr().Zone() != "" {
			return nil, fmt.Errorf("proxy bridges: %s endpoint %q is not a loopback ip:port; zbox only bridges to proxies on 127.0.0.1 or [::1]", r.EnvKey, r.Endpoint)
		}
	}
	endpoints := DistinctEndpoints(routes)

	pid := os.Getpid()
	if parent == "" {
		parent = defaultBridgeParent(pid, len(endpoints))
	} else {
		abs, err := filepath.Abs(parent)
		if err != nil {
			return nil, fmt.Errorf("proxy bridges: socket parent directory %q: %w", parent, err)
		}
		parent = abs
	}
	if worst := worstSocketPath(parent, pid, len(endpoints)); len(worst) > maxSunPath {
		return nil, fmt.Errorf("proxy bridges: socket path %s would be %d bytes, longer than the %d-byte limit of a unix socket address (sun_path); use a shorter parent directory (e.g. TMPDIR=/tmp)", worst, len(worst), maxSunPath)
	}

	cleanupStaleBridgeDirs(parent)
	dir, err := createBridgeDir(parent, pid)
	if err != nil {
		return nil, err
	}
	h := &HostBridges{Dir: dir}
	sockByEndpoint := make(map[string]string, len(endpoints))
	for i, ep := range endpoints {
		path := filepath.Join(dir, fmt.Sprintf("proxy-route-%d.sock", i))
		l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
		if err != nil {
			h.Close()
			return nil, fmt.Errorf("proxy bridges: cannot listen on %s: %w", path, err)
		}
		h.fwds = append(h.fwds, NewForwarder(l, dialer("tcp", ep), nil))
		sockByEndpoint[ep] = path
	}
	for i := range routes {
		routes[i].UDSPath = sockByEndpoint[routes[i].Endpoint]
	}
	h.Routes = routes
	return h, nil
}

func dialer(network, addr string) func(ctx context.Context) (net.Conn, error) {
	return func(ctx context.Context) (net.Conn, error) {
		d := net.Dialer{Timeout: bridgeDialTimeout}
		return d.DialContext(ctx, network, addr)
	}
}

func worstSocketPath(parent string, pid, n int) string {
	return filepath.Join(parent, fmt.Sprintf("%s%d-%d", bridgeDirPrefix, pid, 127), fmt.Sprintf("proxy-route-%d.sock", max(n-1, 0)))
}

func defaultBridgeParent(pid, n int) string {
	var cands []string
	if ch := os.Getenv("CODEX_HOME"); ch != "" {
		d := filepath.Join(ch, "tmp")
		if os.MkdirAll(d, 0o700) == nil && os.Chmod(d, 0o700) == nil {
			cands = append(cands, d)
		}
	}
	cands = append(cands, os.TempDir(), "/tmp")
	for _, c := range cands {
		if len(worstSocketPath(c, pid, n)) <= maxSunPath {
			return c
		}
	}
	return "/tmp"
}

// createBridgeDir makes <parent>/zbox-proxy-<pid>-<n> for the first free
// n in 0..127, mode 0700 so no other user can reach the sockets.
func createBridgeDir(parent string, pid int) (string, error) {
	for n := 0; n < 128; n++ {
		dir := filepath.Join(parent, fmt.Sprintf("%s%d-%d", bridgeDirPrefix, pid, n))
		err := os.Mkdir(dir, 0o700)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("proxy bridges: cannot create socket directory %s: %w", dir, err)
		}
		// The umask can only narrow 0700, but a narrowed mode (0500)
		// would stop us creating the sockets: set it exactly.
		if err := os.Chmod(dir, 0o700); err != nil {
			os.Remove(dir)
			return "", fmt.Errorf("proxy bridges: cannot make %s private (0700): %w", dir, err)
		}
		return dir, nil
	}
	return "", fmt.Errorf("proxy bridges: failed to allocate a socket directory under %s (%s%d-0..127 all exist); remove stale ones", parent, bridgeDirPrefix, pid)
}

// cleanupStaleBridgeDirs removes socket directories left by dead zbox
// processes. A directory counts as stale only if its pid is dead (kill 0
// gives ESRCH), it is a real directory owned by us, and none of its
// sockets accepts a connection: the last check protects a live zbox in
// another pid namespace sharing this directory, whose pid we cannot see.
// Errors are ignored: this is housekeeping.
func cleanupStaleBridgeDirs(parent string) {
	ents, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	euid := os.Geteuid()
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), bridgeDirPrefix)
		if !ok {
			continue
		}
		pidStr, nStr, ok := strings.Cut(rest, "-")
		pid, perr := strconv.Atoi(pidStr)
		if _, nerr := strconv.Atoi(nStr); !ok || perr != nil || nerr != nil || pid <= 0 {
			continue
		}
		if err := unix.Kill(pid, 0); err == nil || !errors.Is(err, unix.ESRCH) {
			continue
		}
		path := filepath.Join(parent, e.Name())
		fi, err := os.Lstat(path)
		if err != nil || !fi.IsDir() {
			continue
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != euid {
			continue
		}
		if dirHasLiveSocket(path) {
			continue
		}
		os.RemoveAll(path)
	}
}

func dirHasLiveSocket(dir string) bool {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		if e.Type()&os.ModeSocket == 0 {
			continue
		}
		// A live bridge will accept and dial its proxy, then see EOF:
		// one harmless empty connection.
		c, err := net.DialTimeout("unix", filepath.Join(dir, e.Name()), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return true
		}
	}
	return false
}

// StartInnerUDSBridges is the helper protocol's inner side (spec §6.2
// step 2), run inside the sandbox's network namespace: for each distinct
// UDSPath it listens on 127.0.0.1:0 (bringing lo up if needed, see
// [ListenLoopback]) and forwards every connection to that unix socket.
// It returns the local port per UDSPath, for [RewriteEnv], and a closer
// that stops every bridge. The bridges are goroutines: the process must
// outlive the workload (run it as a child, do not exec it).
func StartInnerUDSBridges(routes []policy.ProxyRoute) (map[string]int, func(), error) {
	if len(routes) == 0 {
		return nil, nil, errors.New("proxy routing spec contained no routes")
	}
	ports := make(map[string]int)
	var fwds []*Forwarder
	var once sync.Once
	closer := func() {
		once.Do(func() {
			for _, f := range fwds {
				f.Close()
			}
		})
	}
	for _, r := range routes {
		path := r.UDSPath
		if _, done := ports[path]; done {
			continue
		}
		if path == "" {
			closer()
			return nil, nil, fmt.Errorf("proxy route %s has no uds_path", r.EnvKey)
		}
		// Check now rather than on the first connection: a socket that
		// is not visible here is a sandbox-construction error worth
		// reporting before the workload starts.
		fi, err := os.Stat(path)
		if err != nil {
			closer()
			return nil, nil, fmt.Errorf("proxy bridge socket for %s is not reachable inside the sandbox: %w; its directory must be visible inside (e.g. within a readable root)", r.EnvKey, err)
		}
		if fi.Mode()&os.ModeSocket == 0 {
			closer()
			return nil, nil, fmt.Errorf("proxy bridge path %s for %s is not a unix socket", path, r.EnvKey)
		}
		l, err := ListenLoopback()
		if err != nil {
			closer()
			return nil, nil, fmt.Errorf("proxy route %s: %w", r.EnvKey, err)
		}
		fwds = append(fwds, NewForwarder(l, dialer("unix", path), nil))
		ports[path] = l.Addr().(*net.TCPAddr).Port
	}
	return ports, closer, nil
}

package netns

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// closeWriter is implemented by *net.TCPConn and *net.UnixConn.
type closeWriter interface {
	CloseWrite() error
}

var copyBufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// Splice copies a→b and b→a until both directions are done, then closes
// both connections; it takes ownership of a and b.
//
// When one side reaches EOF, the other side's write half is shut down
// (CloseWrite), so a client that half-closes still receives the rest of
// the server's response. A connection type without CloseWrite is closed
// outright instead, which also ends the other direction. A read or write
// error in either direction, or ctx being cancelled, closes both
// connections at once, which unblocks the other direction.
func Splice(ctx context.Context, a, b net.Conn) {
	closeBoth := func() {
		a.Close()
		b.Close()
	}
	stop := context.AfterFunc(ctx, closeBoth)
	defer func() {
		stop()
		closeBoth()
	}()

	done := make(chan struct{})
	go func() {
		defer close(done)
		pipeOneWay(b, a, closeBoth)
	}()
	pipeOneWay(a, b, closeBoth)
	<-done
}

// pipeOneWay copies src to dst and propagates EOF as a half-close.
func pipeOneWay(dst, src net.Conn, abort func()) {
	bp := copyBufPool.Get().(*[]byte)
	_, err := io.CopyBuffer(dst, src, *bp)
	copyBufPool.Put(bp)
	if err != nil {
		// A real error (reset, closed by the other direction or by
		// cancellation): nothing more can flow either way.
		abort()
		return
	}
	if cw, ok := dst.(closeWriter); ok {
		if cw.CloseWrite() == nil {
			return
		}
	}
	abort()
}

// Forwarder accepts connections on a listener and hands each to a
// handler on its own goroutine. [NewForwarder] builds the common handler:
// dial an upstream, then [Splice]. Close stops accepting, cancels every
// live connection and waits for all goroutines, so a Forwarder never
// outlives its Close and never leaks.
type Forwarder struct {
	l      net.Listener
	handle func(ctx context.Context, c net.Conn)
	logf   func(string, ...any)

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	active   atomic.Int64
	accepted atomic.Uint64
	failed   atomic.Uint64
	refused  atomic.Uint64

	closeOnce sync.Once
	closeErr  error
}

// MaxForwarded bounds the connections one Forwarder serves at once.
var MaxForwarded int64 = 1024

// ForwarderStats is a snapshot of a Forwarder's counters.
type ForwarderStats struct {
	Active   int64  // connections being handled right now
	Accepted uint64 // connections accepted since start
	Failed   uint64 // connections whose upstream dial failed (NewForwarder only)
}

// NewForwarder starts accepting on l. For every connection it calls dial
// (with a context that Close cancels; dial must honour it) and splices the
// two connections. When dial fails the client connection is closed at
// once. The Forwarder owns l. logf may be nil.
func NewForwarder(l net.Listener, dial func(ctx context.Context) (net.Conn, error), logf func(string, ...any)) *Forwarder {
	f := &Forwarder{l: l, logf: logf}
	f.handle = func(ctx context.Context, c net.Conn) {
		up, err := dial(ctx)
		if err != nil {
			f.failed.Add(1)
			if ctx.Err() == nil {
				f.log("zbox: bridge %s: cannot reach upstream: %v", l.Addr(), err)
			}
			c.Close()
			return
		}
		Splice(ctx, c, up)
	}
	f.start()
	return f
}

// NewHandlerForwarder is like [NewForwarder] but gives each accepted
// connection to handle, which owns it (must close it) and must return
// once ctx is cancelled. Use it to serve sandbox listeners with an
// in-process [Proxy]: NewHandlerForwarder(l, p.ServeConn, logf).
func NewHandlerForwarder(l net.Listener, handle func(ctx context.Context, c net.Conn), logf func(string, ...any)) *Forwarder {
	f := &Forwarder{l: l, handle: handle, logf: logf}
	f.start()
	return f
}

func (f *Forwarder) start() {
	f.ctx, f.cancel = context.WithCancel(context.Background())
	f.wg.Add(1)
	go f.acceptLoop()
}

func (f *Forwarder) log(format string, args ...any) {
	if f.logf != nil {
		f.logf(format, args...)
	}
}

func (f *Forwarder) acceptLoop() {
	defer f.wg.Done()
	var backoff time.Duration
	for {
		c, err := f.l.Accept()
		if err != nil {
			if f.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			if isTemporaryAcceptError(err) {
				// Out of fds or memory: back off as net/http does rather
				// than spin, and keep serving once resources free up.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				f.log("zbox: bridge %s: accept: %v; retrying in %v", f.l.Addr(), err, backoff)
				select {
				case <-time.After(backoff):
					continue
				case <-f.ctx.Done():
					return
				}
			}
			f.log("zbox: bridge %s: accept failed, no longer forwarding: %v", f.l.Addr(), err)
			return
		}
		backoff = 0
		if f.active.Load() >= MaxForwarded {
			// Each connection holds fds, a goroutine and an upstream
			// connection in zbox, outside the sandbox's own limits:
			// a sandbox opening thousands would exhaust zbox, not
			// itself. Past the cap, new ones are closed at once.
			if f.refused.Add(1) == 1 {
				f.log("zbox: bridge %s: %d connections open; closing new ones until some end", f.l.Addr(), MaxForwarded)
			}
			c.Close()
			continue
		}
		f.accepted.Add(1)
		f.active.Add(1)
		// wg.Add while the accept loop itself is counted: the counter is
		// non-zero, so this cannot race with Close's Wait.
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			defer f.active.Add(-1)
			if f.ctx.Err() != nil {
				c.Close()
				return
			}
			f.handle(f.ctx, c)
		}()
	}
}

func isTemporaryAcceptError(err error) bool {
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED, syscall.EINTR} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// Addr is the listener's address.
func (f *Forwarder) Addr() net.Addr { return f.l.Addr() }

// Stats returns the current counters.
func (f *Forwarder) Stats() ForwarderStats {
	return ForwarderStats{Active: f.active.Load(), Accepted: f.accepted.Load(), Failed: f.failed.Load()}
}

// Close stops accepting, cancels every connection (closing both ends) and
// waits until every goroutine the Forwarder started has returned. It is
// safe to call more than once; the listener's close error is returned.
func (f *Forwarder) Close() error {
	f.closeOnce.Do(func() {
		f.cancel()
		f.closeErr = f.l.Close()
		f.wg.Wait()
		if errors.Is(f.closeErr, net.ErrClosed) {
			f.closeErr = nil
		}
	})
	return f.closeErr
}

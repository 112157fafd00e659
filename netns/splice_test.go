package netns

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

func TestForwarderHalfClose(t *testing.T) {
	base := runtime_NumGoroutine()
	// The server reads the whole request, and only after the client's
	// EOF sends its answer: this only works if the half-close is
	// propagated and the other direction stays open.
	srv := startServer(t, func(c net.Conn) {
		req, err := io.ReadAll(c)
		if err != nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
		c.Write(append([]byte("response:"), req...))
	})
	l, _ := net.Listen("tcp4", "127.0.0.1:0")
	f := NewForwarder(l, tcpDialer(srv.Addr()), t.Logf)

	c, err := net.Dial("tcp", f.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write([]byte("hello"))
	c.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "response:hello" {
		t.Fatalf("got %q, %v", got, err)
	}
	c.Close()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	waitGoroutines(t, base)
}

func TestForwarder200Concurrent(t *testing.T) {
	base := runtime_NumGoroutine()
	srv := startServer(t, echoHandler)
	l, _ := net.Listen("tcp4", "127.0.0.1:0")
	f := NewForwarder(l, tcpDialer(srv.Addr()), t.Logf)

	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			payload := make([]byte, 64<<10)
			rand.Read(payload)
			c, err := net.Dial("tcp", f.Addr().String())
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(30 * time.Second))
			werr := make(chan error, 1)
			go func() {
				_, err := c.Write(payload)
				c.(*net.TCPConn).CloseWrite()
				werr <- err
			}()
			got, err := io.ReadAll(c)
			if err == nil {
				err = <-werr
			}
			if err != nil {
				errs <- err
				return
			}
			if !bytes.Equal(got, payload) {
				errs <- errors.New("echoed data differs")
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st := f.Stats()
	if st.Accepted != n || st.Failed != 0 {
		t.Errorf("stats = %+v, want %d accepted", st, n)
	}
	deadline := time.Now().Add(5 * time.Second)
	for f.Stats().Active != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if a := f.Stats().Active; a != 0 {
		t.Errorf("%d connections still active", a)
	}
	f.Close()
	srv.Close()
	waitGoroutines(t, base)
}

func TestForwarderDeadUpstream(t *testing.T) {
	base := runtime_NumGoroutine()
	dead, _ := net.Listen("tcp4", "127.0.0.1:0")
	deadAddr := dead.Addr().String()
	dead.Close() // nothing listens there now: connect gets ECONNREFUSED

	var logged []string
	var mu sync.Mutex
	l, _ := net.Listen("tcp4", "127.0.0.1:0")
	f := NewForwarder(l, tcpDialer(deadAddr), func(format string, args ...any) {
		mu.Lock()
		logged = append(logged, format)
		mu.Unlock()
	})
	c, err := net.Dial("tcp", f.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(make([]byte, 1))
	if n != 0 || (err != io.EOF && !errors.Is(err, syscallECONNRESET)) {
		t.Fatalf("read = %d, %v; want EOF", n, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("client waited %v for a dead upstream", d)
	}
	c.Close()
	if st := f.Stats(); st.Failed != 1 {
		t.Errorf("stats %+v, want 1 failed", st)
	}
	f.Close()
	mu.Lock()
	if len(logged) == 0 {
		t.Error("dial failure was not logged")
	}
	mu.Unlock()
	waitGoroutines(t, base)
}

func TestForwarderCloseWithSlowDial(t *testing.T) {
	base := runtime_NumGoroutine()
	entered := make(chan struct{}, 10)
	l, _ := net.Listen("tcp4", "127.0.0.1:0")
	f := NewForwarder(l, func(ctx context.Context) (net.Conn, error) {
		entered <- struct{}{}
		<-ctx.Done() // an upstream that never answers the connect
		return nil, ctx.Err()
	}, nil)
	c, err := net.Dial("tcp", f.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	<-entered
	start := time.Now()
	f.Close()
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %v", d)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("client connection still open after Close")
	}
	c.Close()
	waitGoroutines(t, base)
}

func TestForwarderCloseWithSlowUpstream(t *testing.T) {
	base := runtime_NumGoroutine()
	// An upstream that accepts and then never reads or writes.
	hold := make(chan struct{})
	srv := startServer(t, func(c net.Conn) { <-hold })
	l, _ := net.Listen("tcp4", "127.0.0.1:0")
	f := NewForwarder(l, tcpDialer(srv.Addr()), nil)
	var clients []net.Conn
	for i := 0; i < 5; i++ {
		c, err := net.Dial("tcp", f.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("are you there?"))
		clients = append(clients, c)
	}
	deadline := time.Now().Add(5 * time.Second)
	for f.Stats().Active != 5 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	f.Close()
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %v", d)
	}
	for _, c := range clients {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Error("client connection still open after Close")
		}
		c.Close()
	}
	close(hold)
	srv.Close()
	waitGoroutines(t, base)
}

func TestForwarderCloseIdempotentAndLateConn(t *testing.T) {
	l, _ := net.Listen("tcp4", "127.0.0.1:0")
	f := NewForwarder(l, tcpDialer("127.0.0.1:1"), nil)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", f.Addr().String(), time.Second); err == nil {
		c.Close()
		t.Error("listener still accepting after Close")
	}
}

func TestSpliceWithoutCloseWrite(t *testing.T) {
	base := runtime_NumGoroutine()
	// net.Pipe has no half-close: EOF on one side must close the other
	// outright instead of leaving it hanging.
	a1, a2 := net.Pipe()
	b1, b2 := net.Pipe()
	done := make(chan struct{})
	go func() { Splice(context.Background(), a2, b1); close(done) }()
	go func() { a1.Write([]byte("x")); a1.Close() }()
	buf := make([]byte, 1)
	if _, err := io.ReadFull(b2, buf); err != nil || buf[0] != 'x' {
		t.Fatalf("read %q, %v", buf, err)
	}
	b2.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := b2.Read(buf); err != io.EOF {
		t.Fatalf("want EOF, got %v", err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Splice did not return")
	}
	b2.Close()
	waitGoroutines(t, base)
}

func TestSpliceContextCancel(t *testing.T) {
	base := runtime_NumGoroutine()
	a1, a2 := net.Pipe()
	b1, b2 := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { Splice(ctx, a2, b1); close(done) }()
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Splice ignored cancellation")
	}
	if _, err := a1.Write([]byte("x")); err == nil {
		t.Error("write to a cancelled splice succeeded")
	}
	a1.Close()
	b2.Close()
	waitGoroutines(t, base)
}

func TestHandlerForwarder(t *testing.T) {
	base := runtime_NumGoroutine()
	l, _ := net.Listen("tcp4", "127.0.0.1:0")
	f := NewHandlerForwarder(l, func(ctx context.Context, c net.Conn) {
		defer c.Close()
		c.Write([]byte("hi"))
		<-ctx.Done()
	}, nil)
	c, err := net.Dial("tcp", f.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "hi" {
		t.Fatalf("%q %v", buf, err)
	}
	f.Close()
	c.Close()
	waitGoroutines(t, base)
}

// TestForwarderBounded: past MaxForwarded open connections, new ones are
// closed at once (the sandbox cannot make zbox hold unbounded fds and
// goroutines); once some end, new ones are served again.
func TestForwarderBounded(t *testing.T) {
	saved := MaxForwarded
	MaxForwarded = 4
	defer func() { MaxForwarded = saved }()
	srv := startServer(t, func(c net.Conn) { io.Copy(c, c) })
	l, _ := net.Listen("tcp4", "127.0.0.1:0")
	f := NewForwarder(l, tcpDialer(srv.Addr()), t.Logf)
	defer f.Close()
	echo := func(c net.Conn) error {
		c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write([]byte("x")); err != nil {
			return err
		}
		_, err := io.ReadFull(c, make([]byte, 1))
		return err
	}
	var open []net.Conn
	for i := 0; i < 4; i++ {
		c, err := net.Dial("tcp", f.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if err := echo(c); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		open = append(open, c)
	}
	c, err := net.Dial("tcp", f.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if err := echo(c); err == nil {
		t.Error("a fifth connection was served past the cap of 4")
	}
	c.Close()
	open[0].Close()
	deadline := time.Now().Add(2 * time.Second)
	for f.Stats().Active >= 4 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	c, err = net.Dial("tcp", f.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if err := echo(c); err != nil {
		t.Errorf("after one closed, a new connection: %v", err)
	}
	c.Close()
	for _, o := range open[1:] {
		o.Close()
	}
}

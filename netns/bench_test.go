package netns

import (
	"io"
	"net"
	"testing"
)

const benchChunk = 64 << 10

// sinkHandler discards everything, then half-closes.
func sinkHandler(c net.Conn) {
	io.Copy(io.Discard, c)
	if tc, ok := c.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
}

func benchThroughput(b *testing.B, addr string) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, benchChunk)
	b.SetBytes(benchChunk)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	// Wait until the sink has seen everything.
	c.(*net.TCPConn).CloseWrite()
	io.Copy(io.Discard, c)
	b.StopTimer()
	c.Close()
}

// BenchmarkForwarderThroughput: one stream through a Forwarder into a
// sink, both on loopback. Compare with BenchmarkDirectLoopback.
func BenchmarkForwarderThroughput(b *testing.B) {
	sink := startServer(b, sinkHandler)
	l, _ := net.Listen("tcp4", "127.0.0.1:0")
	f := NewForwarder(l, tcpDialer(sink.Addr()), nil)
	defer f.Close()
	benchThroughput(b, f.Addr().String())
}

func BenchmarkDirectLoopback(b *testing.B) {
	sink := startServer(b, sinkHandler)
	benchThroughput(b, sink.Addr())
}

func benchConnect(b *testing.B, addr string) {
	buf := make([]byte, 1)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		c.Write([]byte{'x'})
		if _, err := io.ReadFull(c, buf); err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}

// BenchmarkForwarderConnect: per-connection latency (connect, one-byte
// echo, close) through a Forwarder; compare with BenchmarkDirectConnect.
func BenchmarkForwarderConnect(b *testing.B) {
	echo := startServer(b, echoHandler)
	l, _ := net.Listen("tcp4", "127.0.0.1:0")
	f := NewForwarder(l, tcpDialer(echo.Addr()), nil)
	defer f.Close()
	benchConnect(b, f.Addr().String())
}

func BenchmarkDirectConnect(b *testing.B) {
	echo := startServer(b, echoHandler)
	benchConnect(b, echo.Addr())
}

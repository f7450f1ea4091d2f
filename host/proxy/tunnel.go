package proxy

import (
	"bufio"
	"net"
	"sync"
)

type tunnelKey struct{}

// tunnelConn is a client connection after CONNECT (TLS already terminated
// when the client spoke TLS). It carries the pinned target and the
// principal authenticated on the CONNECT request.
type tunnelConn struct {
	net.Conn
	principal  Principal
	host, port string
	scheme     string // "https" when intercepted, "http" for plain HTTP in the tunnel
}

// readerConn reads through the bufio.Reader that already holds the bytes
// peeked after CONNECT.
type readerConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *readerConn) Read(b []byte) (int, error) { return c.r.Read(b) }

// chanListener hands tunnel connections to the inner http.Server.
type chanListener struct {
	ch        chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
}

func newChanListener() *chanListener {
	return &chanListener{ch: make(chan net.Conn), done: make(chan struct{})}
}

func (l *chanListener) push(c net.Conn) {
	select {
	case l.ch <- c:
	case <-l.done:
		c.Close()
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return tunnelAddr{} }

type tunnelAddr struct{}

func (tunnelAddr) Network() string { return "tunnel" }
func (tunnelAddr) String() string  { return "tunnel" }

// Interface guards
var (
	_ net.Listener = (*chanListener)(nil)
	_ net.Conn     = (*tunnelConn)(nil)
	_ net.Conn     = (*readerConn)(nil)
)

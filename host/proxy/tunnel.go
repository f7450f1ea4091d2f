package proxy

import (
	"bufio"
	"net"
)

// tunnelConn is a client connection after CONNECT (TLS already terminated
// when the client spoke TLS). It carries the pinned target and the
// principal authenticated on the CONNECT request, kept current by
// reauthorize.
type tunnelConn struct {
	net.Conn
	principal  Principal
	auth       tunnelAuth // the CONNECT's credentials, to authorise each request again
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

// Interface guards
var (
	_ net.Conn = (*tunnelConn)(nil)
	_ net.Conn = (*readerConn)(nil)
)

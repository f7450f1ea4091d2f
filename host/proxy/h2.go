package proxy

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
)

// HTTP/2 towards clients: inside an intercepted CONNECT tunnel the proxy
// offers h2 and http/1.1 by ALPN. A client that picks h2 is served by
// golang.org/x/net/http2's server, whose handler runs the same per-request
// pipeline as the HTTP/1.1 loop (serveTunnel, forward) once per stream.
// The HTTP/2 server refuses what HTTP/2 forbids before the handler runs:
// connection-specific headers (Connection, Keep-Alive, Proxy-Connection,
// Transfer-Encoding, Upgrade, a TE other than "trailers"), malformed or
// repeated pseudo-headers, upper-case names, and a body longer or shorter
// than its content-length. The upstream side is chosen independently
// (upstream.go).

// h2Conn is an HTTP/2 client connection being served; base is its own
// http.Server, used only to send it a graceful GOAWAY.
type h2Conn struct {
	base *http.Server
}

// serveH2 serves an intercepted tunnel whose client chose h2, until the
// connection ends. At the tunnel's lifetime the client is sent GOAWAY: no
// new streams, which would need the tunnel's credentials again, while the
// streams in flight (each authorised when it opened) go on; a connection
// still open after a second lifetime is closed.
func (p *Proxy) serveH2(tlsConn *tls.Conn, tc *tunnelConn, opened time.Time) {
	hc := &h2Conn{base: &http.Server{ErrorLog: slog.NewLogLogger(p.cfg.Logger.Handler(), slog.LevelDebug)}}
	srv := &http2.Server{
		IdleTimeout: p.cfg.IdleTimeout,
		CountError: func(errType string) {
			p.cfg.Logger.Debug("HTTP/2 client error", "type", errType, "host", tc.host)
		},
	}
	if err := http2.ConfigureServer(hc.base, srv); err != nil {
		tlsConn.Close()
		return
	}
	if !p.srv.trackH2(hc) {
		tlsConn.Close()
		return
	}
	defer p.srv.untrackH2(hc)
	if lt := p.cfg.TunnelMaxLifetime; lt > 0 {
		goaway := time.AfterFunc(lt-time.Since(opened), func() { hc.shutdown() })
		defer goaway.Stop()
		end := time.AfterFunc(2*lt-time.Since(opened), func() { tlsConn.Close() })
		defer end.Stop()
	}
	var mu sync.Mutex // guards tc.principal, which reauthorize renews
	srv.ServeConn(tlsConn, &http2.ServeConnOpts{
		BaseConfig: hc.base,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p.serveTunnelStream(w, r, tc, &mu)
		}),
	})
}

// shutdown sends the connection a graceful GOAWAY.
func (hc *h2Conn) shutdown() {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()              // Shutdown only starts the GOAWAY; the connection's own end is awaited elsewhere
	hc.base.Shutdown(ctx) //nolint:errcheck // always the cancelled context's error
}

// serveTunnelStream is serveTunnel for one HTTP/2 stream: streams run
// concurrently, so the tunnel's principal is read and renewed under mu
// and each stream forwards with its own copy.
func (p *Proxy) serveTunnelStream(w http.ResponseWriter, r *http.Request, tc *tunnelConn, mu *sync.Mutex) {
	if r.Method == http.MethodConnect {
		writeError(w, http.StatusBadRequest, errorBody{Error: CodeBadProxyRequest, Message: "CONNECT inside a tunnel is not supported"})
		return
	}
	if err := checkH2Request(r); err != "" {
		writeError(w, http.StatusBadRequest, errorBody{Error: CodeBadProxyRequest, Message: "malformed HTTP/2 request: " + err})
		return
	}
	switch {
	case r.ContentLength == 0:
		// The HTTP/2 server gives every request a body, even one whose
		// stream ended with its headers; as none, it is relayed like an
		// HTTP/1.1 request without one (relay.go's inline path).
		r.Body = http.NoBody
	case r.Body != nil && r.Body != http.NoBody:
		r.Body = &h2RequestBody{ReadCloser: r.Body}
	}
	mu.Lock()
	ok := p.reauthorize(w, r, tc)
	pr := tc.principal
	mu.Unlock()
	if !ok {
		return
	}
	// The target is the CONNECT line's, whatever :authority says.
	r.URL.Scheme, r.URL.Host = "", ""
	p.forward(w, r, &pr, tc.scheme, tc.host, tc.port)
}

// checkH2Request refuses what the HTTP/2 server lets through but a
// translation to HTTP/1.1 must not carry: content-length given more than
// once with different values (the server frames the body by the first).
func checkH2Request(r *http.Request) string {
	if cl := r.Header["Content-Length"]; len(cl) > 1 {
		for _, v := range cl[1:] {
			if v != cl[0] {
				return "conflicting content-length values"
			}
		}
	}
	return ""
}

// h2RequestBody remembers that the client's body failed (a stream reset,
// a body shorter or longer than its content-length), so that the answer
// blames the request (400), not the upstream.
type h2RequestBody struct {
	io.ReadCloser
	bad atomic.Bool
}

func (b *h2RequestBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		b.bad.Store(true)
	}
	return n, err
}

func (b *h2RequestBody) failed() bool { return b.bad.Load() }

// failedBody is a client's request body that knows whether it failed.
type failedBody interface{ failed() bool }

// trackH2 registers an HTTP/2 connection for shutdown; false when the
// server is shutting down.
func (s *connServer) trackH2(hc *h2Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inShutdown.Load() {
		return false
	}
	if s.h2conns == nil {
		s.h2conns = map[*h2Conn]struct{}{}
	}
	s.h2conns[hc] = struct{}{}
	return true
}

func (s *connServer) untrackH2(hc *h2Conn) {
	s.mu.Lock()
	delete(s.h2conns, hc)
	s.mu.Unlock()
}

// Interface guards
var (
	_ failedBody    = (*h2RequestBody)(nil)
	_ failedBody    = (*requestBody)(nil)
	_ io.ReadCloser = (*h2RequestBody)(nil)
)

package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// maxInlineBody is the largest request body the upstream client sends
// itself. Such a body fits in the socket buffers, so writing it whole
// before reading the answer cannot deadlock against an upstream that
// answers early; bigger or unknown-length bodies go through http.Transport,
// which writes and reads concurrently.
const maxInlineBody = 64 << 10

// idleCheckAfter is how long a pooled connection may sit idle before it is
// checked for a close from the upstream (one non-blocking peek) before use.
const idleCheckAfter = 100 * time.Millisecond

// upstream is the proxy's client for ordinary HTTP/1.1 requests: pooled
// keep-alive connections, used by the goroutine that serves the request.
// http.Transport runs a read and a write goroutine per connection and hands
// every request and response between them and the caller; on a small
// machine those wakeups cost more than the proxy's own work. Here the
// caller writes the request, reads the response headers and returns; the
// body is read by the relay straight from the connection, which
// goes back to the pool at the body's end.
//
// Requests that need the concurrency (websocket upgrades, Expect:
// 100-continue, bodies above maxInlineBody or of unknown length) are
// passed to fallback, an http.Transport with the same dialer, TLS settings
// and timeouts.
type upstream struct {
	dial          func(ctx context.Context, network, addr string) (net.Conn, error)
	tls           *tls.Config
	handshake     time.Duration
	headerTimeout time.Duration
	idleTimeout   time.Duration
	maxIdle       int
	maxIdlePer    int
	fallback      *http.Transport
	h2            *h2Pool // upstreams that speak HTTP/2 (upstream_h2.go); nil: HTTP/1.1 only

	reused atomic.Uint64 // requests sent on a pooled connection (Stats)

	mu    sync.Mutex
	idle  map[connKey][]*upConn // most recently used last
	nidle int
	sweep *time.Timer
}

type connKey struct{ scheme, addr string }

// upConn is one upstream connection.
type upConn struct {
	key    connKey
	conn   net.Conn // *tls.Conn for https
	raw    net.Conn // the TCP connection, for the liveness peek
	br     *bufio.Reader
	bw     *bufio.Writer
	idleAt time.Time
	served bool // a request was sent on it (Stats counts later ones as reused)
}

// RoundTrip implements http.RoundTripper.
func (u *upstream) RoundTrip(req *http.Request) (*http.Response, error) {
	if u.h2 != nil && req.URL.Scheme == "https" && len(req.Header["Upgrade"]) == 0 {
		if resp, err, handled := u.roundTripH2(req); handled {
			return resp, err
		}
	}
	if !inline(req) {
		resp, err := u.fallback.RoundTrip(req)
		// The ReverseProxy flushes a body of unknown length or an event
		// stream itself, from a timer goroutine as well as after each
		// write; a second flusher would race it. A body of known length
		// it leaves to us.
		if err == nil && resp.Body != nil && resp.Body != http.NoBody && resp.StatusCode != http.StatusSwitchingProtocols &&
			resp.ContentLength >= 0 && !eventStream(resp.Header) {
			if f := flusher(req.Context()); f != nil {
				resp.Body = &flushingBody{ReadCloser: resp.Body, flush: f}
			}
		}
		return resp, err
	}
	key := connKey{req.URL.Scheme, req.URL.Host}
	for retried := false; ; retried = true {
		pc, reused, err := u.get(req.Context(), key, req.URL.Hostname())
		if err != nil {
			return nil, err
		}
		if reused && pc.served {
			u.reused.Add(1) // a connection the HTTP/2 probe dialled and pooled is new to its first request
		}
		pc.served = true
		resp, err := u.exchange(pc, req)
		if err == nil {
			return resp, nil
		}
		pc.conn.Close()
		// An upstream may close an idle connection just as it is reused.
		// Like http.Transport, retry once on a new connection when nothing
		// came back and the request can be sent again.
		var ne *nothingRead
		var te interface{ Timeout() bool }
		timeout := errors.As(err, &te) && te.Timeout()
		if reused && !retried && errors.As(err, &ne) && !timeout && replayable(req) && req.Context().Err() == nil {
			continue
		}
		if ne != nil {
			err = ne.err
		}
		return nil, err
	}
}

// inline reports whether req is sent by the upstream client itself.
func inline(req *http.Request) bool {
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return false
	}
	if req.Body != nil && req.Body != http.NoBody && (req.ContentLength <= 0 || req.ContentLength > maxInlineBody) {
		return false
	}
	h := req.Header
	return len(h["Upgrade"]) == 0 && len(h["Expect"]) == 0 && len(req.TransferEncoding) == 0
}

// replayable: no body and a method that may be repeated.
func replayable(req *http.Request) bool {
	if req.Body != nil && req.Body != http.NoBody {
		return false
	}
	switch req.Method {
	case "GET", "HEAD", "OPTIONS", "TRACE":
		return true
	}
	return len(req.Header["Idempotency-Key"]) > 0 || len(req.Header["X-Idempotency-Key"]) > 0
}

// nothingRead marks a failure before any byte of a response arrived.
type nothingRead struct{ err error }

func (e *nothingRead) Error() string { return e.err.Error() }
func (e *nothingRead) Unwrap() error { return e.err }

// exchange writes req on pc and reads the response headers. On error the
// caller closes pc.
func (u *upstream) exchange(pc *upConn, req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	// A cancelled request (the client went away) breaks off any read or
	// write on the connection, which is then closed, never pooled.
	// The TCP connection, not the TLS one: closing TLS would first send
	// close_notify, and an upstream could answer in between.
	stop := context.AfterFunc(ctx, func() { pc.raw.Close() })
	fail := func(err error) (*http.Response, error) {
		stop()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	if err := req.Write(pc.bw); err != nil {
		return fail(&nothingRead{err})
	}
	if err := pc.bw.Flush(); err != nil {
		return fail(&nothingRead{err})
	}
	if u.headerTimeout > 0 {
		pc.conn.SetReadDeadline(time.Now().Add(u.headerTimeout)) //nolint:errcheck // a failure shows up on the read
	}
	var resp *http.Response
	for n1xx := 0; ; n1xx++ {
		if n1xx == 0 {
			if _, err := pc.br.Peek(1); err != nil {
				return fail(&nothingRead{err})
			}
		}
		r, err := http.ReadResponse(pc.br, req)
		if err != nil || ctx.Err() != nil {
			// An answer that arrives after the client left is nobody's.
			return fail(err)
		}
		if r.StatusCode >= 200 {
			resp = r
			break
		}
		if r.StatusCode == http.StatusSwitchingProtocols {
			// Upgrades go through the fallback; a 101 here is a protocol error.
			return fail(fmt.Errorf("upstream switched protocols without an upgrade request"))
		}
		if n1xx >= 5 {
			return fail(errors.New("too many 1xx informational responses"))
		}
		if r.StatusCode != http.StatusContinue {
			if err := informational(req, r.StatusCode, r.Header); err != nil {
				return fail(err)
			}
		}
	}
	if u.headerTimeout > 0 {
		pc.conn.SetReadDeadline(time.Time{}) //nolint:errcheck
	}
	reuse := !resp.Close && !req.Close
	if resp.Body == http.NoBody || resp.Body == nil {
		if stop() && reuse {
			u.put(pc)
		} else {
			pc.conn.Close()
		}
		return resp, nil
	}
	resp.Body = &upBody{u: u, pc: pc, src: resp.Body, stop: stop, reuse: reuse, flush: flusher(ctx),
		pending: true, left: resp.ContentLength}
	return resp, nil
}

// flusher returns what flushes the client's response of the proxied
// request that ctx belongs to, nil outside the proxy's handler.
func flusher(ctx context.Context) func() {
	if st, _ := ctx.Value(stateKey{}).(*reqState); st != nil && st.rec.ResponseWriter != nil {
		return st.rec.Flush
	}
	return nil
}

// flushingBody flushes the client's response before every read of a body
// from the fallback transport, whose reads may wait for the upstream.
type flushingBody struct {
	io.ReadCloser
	flush func()
}

func (b *flushingBody) Read(p []byte) (int, error) {
	b.flush()
	return b.ReadCloser.Read(p)
}

// upBody is a response body read straight from the upstream connection.
// Read to its end, it returns the connection to the pool; closed before
// that, it closes the connection (draining an unknown rest could block).
type upBody struct {
	u     *upstream
	pc    *upConn
	src   io.ReadCloser
	stop  func() bool
	reuse bool
	flush func() // nil: nothing to flush

	mu      sync.Mutex
	done    bool
	pending bool  // the client's response may hold unsent bytes (at first: the headers)
	left    int64 // body bytes still to come; -1: unknown
}

func (b *upBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return 0, http.ErrBodyReadAfterClose
	}
	if b.pending && b.flush != nil && b.left != 0 && b.pc.br.Buffered() == 0 {
		// This read waits for the upstream: let the client have what
		// it was sent so far first.
		b.flush()
		b.pending = false
	}
	n, err := b.src.Read(p)
	if n > 0 {
		b.pending = true
		if b.left > 0 {
			b.left -= int64(n)
		}
	}
	if err == io.EOF {
		b.finish(true)
	} else if err != nil {
		b.finish(false)
	}
	return n, err
}

func (b *upBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.done {
		b.finish(false)
	}
	return nil
}

func (b *upBody) finish(eof bool) {
	b.done = true
	if b.stop() && eof && b.reuse {
		b.u.put(b.pc)
		return
	}
	b.pc.conn.Close()
}

// get takes an idle connection for key or dials a new one.
func (u *upstream) get(ctx context.Context, key connKey, host string) (pc *upConn, reused bool, err error) {
	for {
		pc = u.takeIdle(key)
		if pc == nil {
			break
		}
		if time.Since(pc.idleAt) < idleCheckAfter || alive(pc.raw) {
			return pc, true, nil
		}
		pc.conn.Close()
	}
	raw, err := u.dial(ctx, "tcp", key.addr) // bounded by the dialer
	if err != nil {
		return nil, false, err
	}
	conn := raw
	if key.scheme == "https" {
		cfg := u.tls.Clone()
		cfg.ServerName = host
		tc := tls.Client(raw, cfg)
		hctx, hcancel := context.WithTimeout(ctx, u.handshake)
		err := tc.HandshakeContext(hctx)
		hcancel()
		if err != nil {
			raw.Close()
			return nil, false, err
		}
		conn = tc
	}
	return &upConn{key: key, conn: conn, raw: raw, br: bufio.NewReader(conn), bw: bufio.NewWriter(conn)}, false, nil
}

func (u *upstream) takeIdle(key connKey) *upConn {
	u.mu.Lock()
	defer u.mu.Unlock()
	list := u.idle[key]
	if len(list) == 0 {
		return nil
	}
	pc := list[len(list)-1]
	list[len(list)-1] = nil
	u.idle[key] = list[:len(list)-1]
	u.nidle--
	return pc
}

// put returns a connection whose last response was read to its end.
func (u *upstream) put(pc *upConn) {
	if pc.br.Buffered() > 0 { // bytes beyond the response: not a clean connection
		pc.conn.Close()
		return
	}
	pc.idleAt = time.Now()
	u.mu.Lock()
	if u.idle == nil || u.nidle >= u.maxIdle || len(u.idle[pc.key]) >= u.maxIdlePer {
		u.mu.Unlock()
		pc.conn.Close()
		return
	}
	u.idle[pc.key] = append(u.idle[pc.key], pc)
	u.nidle++
	if u.sweep == nil {
		u.sweep = time.AfterFunc(u.idleTimeout, u.sweepIdle)
	}
	u.mu.Unlock()
}

// sweepIdle closes connections idle longer than idleTimeout; it runs while
// the pool holds connections.
func (u *upstream) sweepIdle() {
	var stale []*upConn
	u.mu.Lock()
	cutoff := time.Now().Add(-u.idleTimeout)
	for k, list := range u.idle {
		keep := list[:0]
		for _, pc := range list {
			if pc.idleAt.Before(cutoff) {
				stale = append(stale, pc)
			} else {
				keep = append(keep, pc)
			}
		}
		clear(list[len(keep):])
		if len(keep) == 0 {
			delete(u.idle, k)
		} else {
			u.idle[k] = keep
		}
	}
	u.nidle -= len(stale)
	u.sweep = nil
	if u.nidle > 0 && u.idle != nil {
		u.sweep = time.AfterFunc(u.idleTimeout/2, u.sweepIdle)
	}
	u.mu.Unlock()
	for _, pc := range stale {
		pc.conn.Close()
	}
}

// CloseIdleConnections closes every pooled connection, the fallback's too.
func (u *upstream) CloseIdleConnections() {
	u.mu.Lock()
	idle := u.idle
	u.idle, u.nidle = map[connKey][]*upConn{}, 0
	if u.sweep != nil {
		u.sweep.Stop()
		u.sweep = nil
	}
	u.mu.Unlock()
	for _, list := range idle {
		for _, pc := range list {
			pc.conn.Close()
		}
	}
	u.fallback.CloseIdleConnections()
	if u.h2 != nil {
		u.closeIdleH2()
	}
}

// Interface guards
var (
	_ http.RoundTripper = (*upstream)(nil)
	_ io.ReadCloser     = (*upBody)(nil)
)

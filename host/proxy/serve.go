package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/http/httpguts"
)

// The proxy serves its client connections with its own HTTP/1.1 loop
// instead of net/http's server (see RATIONALE.md): http.ReadRequest parses
// each request, handlers see an ordinary http.ResponseWriter, and one
// goroutine per connection does all the reading and writing. What net/http
// does per request with a second goroutine (watching for the client to
// hang up) is done here only for requests still waiting after
// slowRequestAfter, by the watchdog below.

const (
	// maxHeaderBytes bounds a request's line and headers (431 beyond).
	maxHeaderBytes = 1 << 20
	// maxDrainBytes is the most of an unread request body read and
	// discarded after a response so the connection can carry another
	// request; a longer remainder closes the connection instead.
	maxDrainBytes = 256 << 10
	// slowRequestAfter is how long a request may wait for its response
	// before the watchdog starts watching its client for a hang-up.
	slowRequestAfter = 250 * time.Millisecond
)

// connServer runs the HTTP/1.1 loop on client connections: those accepted
// on the proxy's port and those inside CONNECT tunnels.
type connServer struct {
	readHeaderTimeout time.Duration
	idleTimeout       time.Duration
	logger            *slog.Logger

	inShutdown atomic.Bool

	mu         sync.Mutex
	listeners  map[net.Listener]struct{}
	conns      map[*serverConn]struct{}
	h2conns    map[*h2Conn]struct{} // HTTP/2 tunnels (h2.go)
	watchdogOn bool
}

func newConnServer(readHeaderTimeout, idleTimeout time.Duration, logger *slog.Logger) *connServer {
	return &connServer{
		readHeaderTimeout: readHeaderTimeout, idleTimeout: idleTimeout, logger: logger,
		listeners: map[net.Listener]struct{}{}, conns: map[*serverConn]struct{}{},
	}
}

// serve accepts connections on l until shutdown and serves each with
// handler on its own goroutine.
func (s *connServer) serve(l net.Listener, handler http.HandlerFunc) error {
	s.mu.Lock()
	if s.inShutdown.Load() {
		s.mu.Unlock()
		return http.ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
	}()
	var backoff time.Duration
	for {
		rwc, err := l.Accept()
		if err != nil {
			if s.inShutdown.Load() {
				return http.ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				// Out of file descriptors or a transient failure: wait
				// instead of spinning, as net/http does.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.logger.Warn("proxy accept failed; retrying", "err", err, "in", backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		go s.serveConn(rwc, handler)
	}
}

// shutdown stops the listeners, closes idle connections and waits until
// every request in flight has finished, or ctx ends.
func (s *connServer) shutdown(ctx context.Context) error {
	s.inShutdown.Store(true)
	s.mu.Lock()
	for l := range s.listeners {
		l.Close()
	}
	for hc := range s.h2conns {
		hc.shutdown() // GOAWAY: streams in flight finish, then the connection closes
	}
	s.mu.Unlock()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if s.closeIdle() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// closeIdle closes the connections waiting for a request and reports
// whether none is left.
func (s *connServer) closeIdle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.idle.Load() {
			c.rwc.Close()
		}
	}
	return len(s.conns) == 0 && len(s.h2conns) == 0
}

// track registers a connection; false when the server is shutting down.
func (s *connServer) track(c *serverConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inShutdown.Load() {
		return false
	}
	s.conns[c] = struct{}{}
	if !s.watchdogOn {
		s.watchdogOn = true
		go s.watchdog()
	}
	return true
}

func (s *connServer) untrack(c *serverConn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// watchdog runs while there are connections. Every tick it starts a
// hang-up watcher for each request that has been waiting for its response
// longer than slowRequestAfter, so that an agent that gives up on a slow
// upstream cancels the upstream request. Fast requests never pay for a
// watcher.
func (s *connServer) watchdog() {
	tick := time.NewTicker(slowRequestAfter / 2)
	defer tick.Stop()
	for range tick.C {
		now := time.Now()
		s.mu.Lock()
		if len(s.conns) == 0 {
			s.watchdogOn = false
			s.mu.Unlock()
			return
		}
		for c := range s.conns {
			c.maybeWatch(now)
		}
		s.mu.Unlock()
	}
}

// serverConn is one client connection.
type serverConn struct {
	srv  *connServer
	rwc  net.Conn
	br   *bufio.Reader
	bw   *bufio.Writer
	in   connReader
	idle atomic.Bool // waiting for the next request; shutdown may close it
	// ctx is every request's context. It is cancelled only when the
	// client hangs up, which ends the connection, so one per connection
	// serves all its requests.
	ctx    context.Context
	cancel context.CancelFunc

	// Guarded by mu: the hang-up watch over the request in flight.
	mu       sync.Mutex
	waiting  time.Time     // when the request started waiting for its response; zero when not
	watching chan struct{} // closed when the running watcher ends; nil when none
	hungUp   bool          // the watcher saw the client close
}

// serveConn runs the request loop on one connection until the client
// closes it, an error ends it, a handler takes it over, or shutdown.
func (s *connServer) serveConn(rwc net.Conn, handler http.HandlerFunc) {
	c := &serverConn{srv: s, rwc: rwc}
	c.in.c, c.in.limit = c, -1
	c.br = bufioReaders.Get().(*bufio.Reader)
	c.br.Reset(&c.in)
	c.bw = bufioWriters.Get().(*bufio.Writer)
	c.bw.Reset(rwc)
	c.idle.Store(true)
	hijacked := false
	defer func() {
		s.untrack(c)
		if hijacked {
			return // the buffers went with the connection
		}
		rwc.Close()
		c.br.Reset(nil)
		c.bw.Reset(nil)
		bufioReaders.Put(c.br)
		bufioWriters.Put(c.bw)
	}()
	if !s.track(c) {
		return
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	defer c.cancel()
	for first := true; ; first = false {
		req, err := c.readRequest(first)
		if err != nil {
			c.answerBadRequest(err)
			return
		}
		c.idle.Store(false)
		w, keep := c.serveRequest(req, handler)
		if w.hijacked {
			hijacked = true
			return
		}
		if !keep || s.inShutdown.Load() {
			return
		}
		c.idle.Store(true)
	}
}

// readRequest waits for the next request (bounded by the idle timeout, or
// the header timeout for a connection's first request) and reads its line
// and headers (bounded by the header timeout and maxHeaderBytes).
func (c *serverConn) readRequest(first bool) (*http.Request, error) {
	s := c.srv
	if c.br.Buffered() == 0 {
		wait := s.idleTimeout
		if first {
			wait = s.readHeaderTimeout
		}
		c.rwc.SetReadDeadline(time.Now().Add(wait)) //nolint:errcheck // a failing conn fails the read
		if _, err := c.br.Peek(1); err != nil {
			return nil, errQuiet{err}
		}
	}
	c.rwc.SetReadDeadline(time.Now().Add(s.readHeaderTimeout)) //nolint:errcheck
	c.in.limit = maxHeaderBytes + 4096                         // + room for bufio's read-ahead
	// Keep the raw header block: http.ReadRequest drops the Host lines,
	// whose count must be checked. The request starts with what is
	// buffered already; the rest is what ReadRequest reads now.
	buffered, _ := c.br.Peek(c.br.Buffered())
	c.in.rec, c.in.recording = append(c.in.rec[:0], buffered...), true
	req, err := http.ReadRequest(c.br)
	c.in.limit, c.in.recording = -1, false
	if err != nil {
		if c.in.hitLimit {
			return nil, errHeadersTooLarge
		}
		var ne net.Error
		if errors.Is(err, io.EOF) || errors.As(err, &ne) {
			return nil, errQuiet{err} // the client left or stalled: nobody to answer
		}
		return nil, err
	}
	c.rwc.SetReadDeadline(time.Time{}) //nolint:errcheck
	hosts := hostLines(c.in.rec)
	if cap(c.in.rec) > 64<<10 {
		c.in.rec = nil // a rare huge header block is not kept for the connection's life
	}
	if err := checkRequest(req, hosts); err != nil {
		return nil, err
	}
	req.RemoteAddr = c.rwc.RemoteAddr().String()
	return req, nil
}

// checkRequest refuses what http.ReadRequest lets through but a server
// must not accept: another HTTP major version, an HTTP/1.1 request without
// exactly one Host line (RFC 9112 §3.2; CONNECT may omit it), header names
// or values with forbidden bytes (RFC 9110 §5.5), and expectations other
// than 100-continue. The Host's value is not checked: the proxy takes its
// target from the request line or the CONNECT line, never from Host, and
// sets Host itself on the way out.
func checkRequest(req *http.Request, hostLines int) error {
	if req.ProtoMajor != 1 {
		return errVersion
	}
	switch {
	case hostLines > 1:
		return badRequest("too many Host headers")
	case hostLines == 0 && req.ProtoAtLeast(1, 1) && req.Method != http.MethodConnect:
		return badRequest("missing required Host header")
	}
	// net/textproto checks header bytes too, but lets a name with a space
	// before its colon through ("Content-Length : 5"), which another hop
	// may read as Content-Length: a smuggling vector.
	for name, values := range req.Header {
		if !httpguts.ValidHeaderFieldName(name) {
			return badRequest("invalid header name")
		}
		for _, v := range values {
			if !httpguts.ValidHeaderFieldValue(v) {
				return badRequest("invalid header value")
			}
		}
	}
	if e := req.Header.Get("Expect"); e != "" && !strings.EqualFold(e, "100-continue") {
		return errExpectation
	}
	return nil
}

// closeAfter reports whether the connection must close after req's
// response. Besides a client that asks for it, two cases end the
// connection because framing that another hop may read differently is how
// requests get smuggled (RFC 9112 §6.1, §6.3): an HTTP/1.0 request, whose
// Transfer-Encoding http.ReadRequest ignores without a trace, and a chunked
// request, which may also have carried a Content-Length that
// http.ReadRequest drops. Neither is common from agents; both cost only a
// new connection.
func closeAfter(req *http.Request) bool {
	return req.Close || !req.ProtoAtLeast(1, 1) || len(req.TransferEncoding) > 0
}

// serveRequest runs handler on req and finishes the response; keep reports
// whether the connection can carry another request.
func (c *serverConn) serveRequest(req *http.Request, handler http.HandlerFunc) (w *response, keep bool) {
	w = &response{c: c, req: req, contentLength: -1,
		head: req.Method == http.MethodHead, closeAfter: closeAfter(req)}
	var body *requestBody
	if req.Body == http.NoBody {
		c.startWaiting()
	} else {
		body = &requestBody{c: c, w: w, r: req.Body,
			expectContinue: req.ProtoAtLeast(1, 1) && strings.EqualFold(req.Header.Get("Expect"), "100-continue")}
		req.Body = body
	}
	// The handler finds its reqState in the context (see forward).
	req = req.WithContext(context.WithValue(c.ctx, stateKey{}, &w.state))
	if !c.runHandler(handler, w, req) {
		// A panic ends the response where it stood: finishing it would
		// pass a truncated body off as complete.
		c.stopWaiting()
		return w, false
	}
	if w.hijacked {
		return w, false
	}
	// The body is closed to late readers before the wait ends, so that a
	// transport still reading it cannot start a wait after this request.
	bodyOK := body == nil || body.finish()
	c.stopWaiting()
	if !bodyOK {
		w.closeAfter = true
	}
	w.finish()
	c.mu.Lock()
	hungUp := c.hungUp
	c.mu.Unlock()
	return w, !w.closeAfter && w.err == nil && !hungUp
}

// runHandler calls handler, turning a panic into a closed connection: a
// deliberate http.ErrAbortHandler silently, anything else with a stack in
// the log (the stack holds no request data).
func (c *serverConn) runHandler(handler http.HandlerFunc, w *response, req *http.Request) (ok bool) {
	defer func() {
		if v := recover(); v != nil {
			ok = false
			if v != http.ErrAbortHandler { //nolint:errorlint // the sentinel is panicked as is
				c.srv.logger.Error("panic serving a proxy request", "stack", string(debug.Stack()))
			}
		}
	}()
	handler(w, req)
	return true
}

// startWaiting records that the request in flight has been read in full
// and now waits for its response: from here the watchdog may watch the
// client for a hang-up. Not when the client has already sent more (a
// pipelined request): it is still there.
func (c *serverConn) startWaiting() {
	if c.br.Buffered() > 0 {
		return
	}
	c.mu.Lock()
	c.waiting = time.Now()
	c.mu.Unlock()
}

// maybeWatch starts a hang-up watcher for a request that has waited long.
// Called by the watchdog with the server's lock held.
func (c *serverConn) maybeWatch(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.waiting.IsZero() || c.watching != nil || now.Sub(c.waiting) < slowRequestAfter {
		return
	}
	done := make(chan struct{})
	c.watching = done
	go c.watchHangUp(done)
}

// watchHangUp reads one byte from the idle client. End of stream or a
// reset means the client has gone: the request is cancelled. A byte is the
// start of the client's next request, kept for the next read. stopWaiting
// ends a watch that sees nothing by moving the read deadline to the past.
func (c *serverConn) watchHangUp(done chan struct{}) {
	defer close(done)
	var b [1]byte
	n, err := c.rwc.Read(b[:])
	c.mu.Lock()
	defer c.mu.Unlock()
	if n == 1 {
		c.in.peeked, c.in.hasPeeked = b[0], true
		return
	}
	var ne net.Error
	if err != nil && !(errors.As(err, &ne) && ne.Timeout()) {
		c.hungUp = true
		c.cancel()
	}
}

// stopWaiting ends the wait that startWaiting began and any watcher.
func (c *serverConn) stopWaiting() {
	c.mu.Lock()
	done := c.watching
	c.waiting, c.watching = time.Time{}, nil
	c.mu.Unlock()
	if done != nil {
		c.rwc.SetReadDeadline(aLongTimeAgo) //nolint:errcheck
		<-done
		c.rwc.SetReadDeadline(time.Time{}) //nolint:errcheck
	}
}

var aLongTimeAgo = time.Unix(1, 0)

// answerBadRequest answers a request that could not be read, when there
// is a client left to answer.
func (c *serverConn) answerBadRequest(err error) {
	var q errQuiet
	if errors.As(err, &q) {
		return
	}
	status, body := http.StatusBadRequest, errorBody{Error: CodeBadProxyRequest, Message: "malformed HTTP request"}
	var br badRequestError
	switch {
	case errors.Is(err, errHeadersTooLarge):
		status, body = http.StatusRequestHeaderFieldsTooLarge, errorBody{Error: CodeHeadersTooLarge, Message: "the request's headers are too large"}
	case errors.Is(err, errVersion):
		status, body = http.StatusHTTPVersionNotSupported, errorBody{Error: CodeBadProxyRequest, Message: "the proxy speaks HTTP/1.x"}
	case errors.Is(err, errExpectation):
		status, body = http.StatusExpectationFailed, errorBody{Error: CodeBadProxyRequest, Message: "only Expect: 100-continue is supported"}
	case errors.As(err, &br):
		body.Message = "malformed HTTP request: " + string(br)
	}
	w := &response{c: c, req: &http.Request{Method: http.MethodGet, ProtoMajor: 1, ProtoMinor: 1},
		header: http.Header{}, contentLength: -1, closeAfter: true}
	c.rwc.SetWriteDeadline(time.Now().Add(time.Second)) //nolint:errcheck // the client may not read
	writeError(w, status, body)
	w.finish()
}

type badRequestError string

func (e badRequestError) Error() string { return "bad request: " + string(e) }

func badRequest(why string) error { return badRequestError(why) }

var (
	errHeadersTooLarge = errors.New("request headers too large")
	errVersion         = errors.New("unsupported HTTP version")
	errExpectation     = errors.New("unsupported expectation")
)

// errQuiet is a read failure nobody can be told about: the client closed,
// reset or stalled.
type errQuiet struct{ error }

func (e errQuiet) Unwrap() error { return e.error }

// hostLines counts the Host field lines of the header block that b starts
// with: a request line, then field lines up to an empty one. Lines end in
// LF, with or without CR, as http.ReadRequest accepts; a line starting
// with a space or tab continues the one before (obs-fold).
func hostLines(b []byte) int {
	n := 0
	for first := true; ; first = false {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return n
		}
		line := bytes.TrimSuffix(b[:i], []byte("\r"))
		b = b[i+1:]
		switch {
		case first:
		case len(line) == 0:
			return n
		case len(line) >= 5 && strings.EqualFold(string(line[:5]), "host:"):
			n++
		}
	}
}

// connReader is what the connection's bufio.Reader reads from: the byte a
// hang-up watcher caught first, then the connection, within limit while
// headers are read, and recorded into rec while recording.
type connReader struct {
	c         *serverConn
	limit     int64 // bytes left before the headers are too large; < 0: none
	hitLimit  bool
	recording bool
	rec       []byte
	peeked    byte // guarded by c.mu while a watcher may run
	hasPeeked bool
}

func (r *connReader) Read(b []byte) (int, error) {
	if r.limit == 0 {
		r.hitLimit = true
		return 0, io.EOF
	}
	if r.limit > 0 && int64(len(b)) > r.limit {
		b = b[:r.limit]
	}
	if len(b) == 0 {
		return 0, nil
	}
	// No watcher runs while the loop reads, so hasPeeked is stable here.
	n, err := 1, error(nil)
	if r.hasPeeked {
		r.hasPeeked = false
		b[0] = r.peeked
	} else {
		n, err = r.c.rwc.Read(b)
	}
	if r.limit > 0 {
		r.limit -= int64(n)
	}
	if r.recording {
		r.rec = append(r.rec, b[:n]...)
	}
	return n, err
}

var (
	bufioReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4<<10) }}
	bufioWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4<<10) }}
)

package infisicaltest

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"
)

// maxRequestBody bounds what the emulator reads of a request body.
const maxRequestBody = 8 << 20

// Emulator is an Infisical server for tests. Create it with New (started,
// closed at test cleanup) or NewUnstarted followed by Start. All methods are
// safe for concurrent use, also while requests are being served.
type Emulator struct {
	clock     *Clock
	logf      func(format string, args ...any)
	onRequest func(Request)
	addr      string // listen address; kept across Stop/Start

	mu                 sync.Mutex
	identities         map[string]*identity
	projects           map[string]*project // by ID
	access             map[[2]string]Access
	tokens             map[string]*issuedToken // by token string
	leases             map[string]*lease
	leaseOrder         []string
	legacyMissingPath  bool
	expiredTokenStatus int
	etagMode           ETagMode
	etagChurn          int
	maxLeases          int
	seq                int // ID generator
	reqSeq             int
	leaseSeq           int
	tokenSeq           int
	faults             []*Fault
	hits               map[Route]int
	counts             Counts
	requests           []*Request

	wantTLS bool
	tlsCert *tls.Certificate // set once by the first Start when wantTLS

	srvMu  sync.Mutex
	srv    *http.Server
	ln     net.Listener
	url    string
	closed bool

	relMu    sync.Mutex
	released chan struct{} // closed to release held (hanging, delayed) requests

	// In-flight handlers, so that Stop returns only when none is left
	// (they may log through a test's Logf, which must not outlive the test).
	flightMu sync.Mutex
	flight   int
	idle     *sync.Cond
}

// Option configures an Emulator.
type Option func(*Emulator)

// WithFrozenClock starts the emulator's clock frozen at t, so that every
// timestamp it emits is reproducible. Clock().Advance moves it.
func WithFrozenClock(t time.Time) Option { return func(e *Emulator) { e.clock.Freeze(t) } }

// WithAddr sets the listen address (default "127.0.0.1:0").
func WithAddr(addr string) Option { return func(e *Emulator) { e.addr = addr } }

// WithLogf makes the emulator log one line per request (method, path,
// status; never headers or bodies, which carry credentials).
func WithLogf(logf func(format string, args ...any)) Option {
	return func(e *Emulator) { e.logf = logf }
}

// WithOnRequest calls fn with each request as it arrives, before any fault
// applies (a Hang included), so tests can synchronise with a client
// without sleeping. fn runs on the serving goroutine and must not block.
func WithOnRequest(fn func(Request)) Option { return func(e *Emulator) { e.onRequest = fn } }

// WithLegacyMissingPath starts the emulator with the older servers'
// behaviour for a missing environment or folder (see SetLegacyMissingPath).
func WithLegacyMissingPath() Option { return func(e *Emulator) { e.legacyMissingPath = true } }

// NewUnstarted returns an emulator that is not listening yet.
func NewUnstarted(opts ...Option) *Emulator {
	e := &Emulator{
		clock:              newClock(),
		addr:               "127.0.0.1:0",
		identities:         map[string]*identity{},
		projects:           map[string]*project{},
		access:             map[[2]string]Access{},
		tokens:             map[string]*issuedToken{},
		leases:             map[string]*lease{},
		expiredTokenStatus: http.StatusForbidden,
		maxLeases:          10000,
		hits:               map[Route]int{},
		counts:             Counts{Logins: map[AuthMethod]int{}},
		released:           make(chan struct{}),
	}
	e.idle = sync.NewCond(&e.flightMu)
	for _, o := range opts {
		o(e)
	}
	return e
}

// New starts an emulator on loopback and closes it when the test ends.
// When the test runs with -v, each request is logged through tb.Logf.
func New(tb testing.TB, opts ...Option) *Emulator {
	tb.Helper()
	e := NewUnstarted(append([]Option{WithLogf(tb.Logf)}, opts...)...)
	if _, err := e.Start(); err != nil {
		tb.Fatalf("infisicaltest: %v", err)
	}
	tb.Cleanup(e.Close)
	return e
}

// Start listens and serves. After Stop it listens again on the same
// address, so clients configured with URL() reach it again. It returns URL().
func (e *Emulator) Start() (string, error) {
	e.srvMu.Lock()
	defer e.srvMu.Unlock()
	if e.closed {
		return "", errors.New("emulator is closed")
	}
	if e.srv != nil {
		return e.url, nil
	}
	ln, err := net.Listen("tcp", e.addr)
	if err != nil {
		return "", fmt.Errorf("listening on %s: %w", e.addr, err)
	}
	e.addr = ln.Addr().String() // pin the port for a later restart
	e.url = "http://" + e.addr
	if e.wantTLS {
		if e.tlsCert == nil {
			// Real time, not the emulator clock: clients check validity against their own.
			if e.tlsCert, err = newSelfSigned(time.Now()); err != nil {
				ln.Close()
				return "", err
			}
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{*e.tlsCert}, MinVersion: tls.VersionTLS12})
		e.url = "https://" + e.addr
	}
	e.ln = ln
	// Handshake failures of untrusting clients are expected in tests; keep them quiet.
	e.srv = &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	go func(srv *http.Server) { _ = srv.Serve(ln) }(e.srv)
	return e.url, nil
}

// Stop closes the listener and every connection; clients then get
// "connection refused" until Start is called again. State is kept.
func (e *Emulator) Stop() {
	e.srvMu.Lock()
	defer e.srvMu.Unlock()
	e.stopLocked()
}

func (e *Emulator) stopLocked() {
	if e.srv == nil {
		return
	}
	_ = e.srv.Close()
	e.srv, e.ln = nil, nil
	// Release held handlers, then wait for every handler to return.
	e.ReleaseHangs()
	e.flightMu.Lock()
	for e.flight > 0 {
		e.idle.Wait()
	}
	e.flightMu.Unlock()
}

// Close stops the emulator for good.
func (e *Emulator) Close() {
	e.srvMu.Lock()
	defer e.srvMu.Unlock()
	e.stopLocked()
	e.closed = true
}

// URL is the site URL to configure clients with (no /api suffix; the SDK
// appends it).
func (e *Emulator) URL() string {
	e.srvMu.Lock()
	defer e.srvMu.Unlock()
	return e.url
}

// Addr is the host:port the emulator listens on.
func (e *Emulator) Addr() string {
	e.srvMu.Lock()
	defer e.srvMu.Unlock()
	return e.addr
}

// ReleaseHangs lets every request held by a Hang fault return (with a
// 504) and cuts short pending delays (those calls then answer as they
// would have after the delay).
func (e *Emulator) ReleaseHangs() {
	e.relMu.Lock()
	defer e.relMu.Unlock()
	close(e.released)
	e.released = make(chan struct{})
}

func (e *Emulator) releaseChan() <-chan struct{} {
	e.relMu.Lock()
	defer e.relMu.Unlock()
	return e.released
}

// Clock returns the clock shared by tokens and leases.
func (e *Emulator) Clock() *Clock { return e.clock }

// Request is one request the emulator received, recorded before any fault
// was applied. Header and Body are copies; they contain credentials, so
// tests must not print them.
type Request struct {
	Route  Route // "" when no route matched
	Method string
	Path   string
	Query  url.Values
	Header http.Header
	Body   []byte
	Token  string // the bearer token presented, if any
	Status int    // the status answered; 0 when the connection was dropped
}

// Requests returns the request log, oldest first.
func (e *Emulator) Requests() []Request {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Request, len(e.requests))
	for i, r := range e.requests {
		out[i] = *r
	}
	return out
}

// RequestsTo returns the logged requests of one route.
func (e *Emulator) RequestsTo(route Route) []Request {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Request
	for _, r := range e.requests {
		if r.Route == route {
			out = append(out, *r)
		}
	}
	return out
}

// Counts are the operations the emulator completed successfully. Hits
// counts every request on a route, faulted or not.
type Counts struct {
	Logins             map[AuthMethod]int `json:"logins"`
	LoginFailures      int                `json:"login_failures"`
	TokenRenews        int                `json:"token_renews"`
	TokenRevokes       int                `json:"token_revokes"`
	SecretLists        int                `json:"secret_lists"` // list answers (200 or 304)
	SecretRetrieves    int                `json:"secret_retrieves"`
	WorkspaceLookups   int                `json:"workspace_lookups"`
	DynamicLists       int                `json:"dynamic_lists"`
	DynamicGets        int                `json:"dynamic_gets"`
	LeasesMinted       int                `json:"leases_minted"`
	LeasesRenewed      int                `json:"leases_renewed"`
	LeasesRevoked      int                `json:"leases_revoked"`       // leases deleted by a revoke
	LeaseRevokesFailed int                `json:"lease_revokes_failed"` // revokes answered 200 with status "Failed to delete"
	LeasesExpired      int                `json:"leases_expired"`       // leases deleted because their expireAt passed
	LeaseGets          int                `json:"lease_gets"`
	LeaseLists         int                `json:"lease_lists"`
}

// TotalLogins sums Logins over all methods.
func (c Counts) TotalLogins() int {
	n := 0
	for _, v := range c.Logins {
		n += v
	}
	return n
}

// Counts returns a snapshot of the counters.
func (e *Emulator) Counts() Counts {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sweepLeasesLocked()
	c := e.counts
	c.Logins = make(map[AuthMethod]int, len(e.counts.Logins))
	for k, v := range e.counts.Logins {
		c.Logins[k] = v
	}
	return c
}

// Hits returns how many requests reached a route, including faulted ones.
func (e *Emulator) Hits(route Route) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.hits[route]
}

// ResetCounts zeroes the counters, the hits and the request log.
func (e *Emulator) ResetCounts() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.counts = Counts{Logins: map[AuthMethod]int{}}
	e.hits = map[Route]int{}
	e.requests = nil
}

// nextID returns a UUID-shaped identifier. IDs are sequential so that
// golden files are reproducible.
func (e *Emulator) nextID() string {
	e.seq++
	return fmt.Sprintf("00000000-0000-4000-8000-%012x", e.seq)
}

// call is one request being handled.
type call struct {
	r      *http.Request
	route  Route
	params map[string]string
	body   []byte
	token  string
	tok    *issuedToken // set by authenticate
	reqID  string
	fault  *Fault // the fault applied to this call, if any
	// bodyKeys are the top-level keys of a decoded JSON body (nil before).
	bodyKeys map[string]bool
}

// response is what a handler decided to answer.
type response struct {
	status int
	body   any    // encoded as JSON unless raw is set
	raw    []byte // sent as is
	header http.Header
}

func ok(body any) *response { return &response{status: http.StatusOK, body: body} }

type handlerFunc func(e *Emulator, c *call) (*response, *apiError)

// ServeHTTP implements http.Handler.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.flightMu.Lock()
	e.flight++
	e.flightMu.Unlock()
	defer func() {
		e.flightMu.Lock()
		if e.flight--; e.flight == 0 {
			e.idle.Broadcast()
		}
		e.flightMu.Unlock()
	}()
	body, _ := io.ReadAll(io.LimitReader(r.Body, maxRequestBody))
	route, params, h := match(r.Method, r.URL.Path)
	c := &call{r: r, route: route, params: params, body: body}
	if auth := r.Header.Get("Authorization"); len(auth) > 7 {
		// The real server takes everything after the first 7 characters.
		c.token = auth[7:]
	}

	e.mu.Lock()
	e.reqSeq++
	c.reqID = fmt.Sprintf("req-emu%08d", e.reqSeq)
	entry := &Request{
		Route: route, Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(),
		Header: r.Header.Clone(), Body: bytes.Clone(body), Token: c.token,
	}
	e.requests = append(e.requests, entry)
	if route != "" {
		e.hits[route]++
	}
	f := e.takeFaultLocked(route, r.URL.Query())
	logged := *entry
	e.mu.Unlock()
	if e.onRequest != nil {
		e.onRequest(logged)
	}

	rec := &statusRecorder{ResponseWriter: w}
	e.serve(rec, c, h, f)

	e.mu.Lock()
	entry.Status = rec.status // still right if ResetCounts ran meanwhile
	e.mu.Unlock()
	if e.logf != nil {
		e.logf("infisicaltest: %s %s -> %d", r.Method, r.URL.Path, rec.status)
	}
}

func (e *Emulator) serve(w *statusRecorder, c *call, h handlerFunc, f *Fault) {
	if f != nil {
		if done := e.applyPreFault(w, c, f); done {
			return
		}
	}
	c.fault = f
	var resp *response
	var apiErr *apiError
	if h == nil {
		// Fastify's not-found answer, through the same global error shape.
		apiErr = newAPIError(404, "Not Found", fmt.Sprintf("Route %s:%s not found", c.r.Method, c.r.URL.Path))
	} else {
		e.mu.Lock()
		e.sweepLeasesLocked()
		resp, apiErr = h(e, c)
		e.mu.Unlock()
	}
	if apiErr != nil {
		resp = &response{status: apiErr.status, body: errorBody{
			ReqID: c.reqID, StatusCode: apiErr.status, Message: apiErr.message, Error: apiErr.name, Details: apiErr.details,
		}}
	}
	e.write(w, c, resp, f)
}

// write sends resp, transformed by a post-processing fault if any.
func (e *Emulator) write(w *statusRecorder, c *call, resp *response, f *Fault) {
	body := resp.raw
	contentType := ""
	if resp.raw == nil && resp.body != nil {
		body = marshal(resp.body)
		contentType = jsonContentType
	}
	for k, vs := range resp.header {
		w.Header()[k] = vs
	}
	if f != nil {
		switch f.kind {
		case faultNonJSON:
			contentType = "text/plain; charset=utf-8"
		case faultMalformedJSON:
			body = body[:len(body)/2]
		}
	}
	if contentType != "" {
		w.Header().Set("Content-Type", contentType)
	}
	if f != nil && f.kind == faultSlowBody {
		e.trickle(w, c, resp.status, body, f.delay)
		return
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(resp.status)
	_, _ = w.Write(body)
}

// trickle sends headers now and the body in small pieces, pausing between
// them, until done or the client goes away.
func (e *Emulator) trickle(w *statusRecorder, c *call, status int, body []byte, pause time.Duration) {
	w.WriteHeader(status)
	flusher, _ := w.ResponseWriter.(http.Flusher)
	if flusher != nil {
		flusher.Flush()
	}
	for len(body) > 0 {
		n := min(16, len(body))
		if _, err := w.Write(body[:n]); err != nil {
			return
		}
		body = body[n:]
		if flusher != nil {
			flusher.Flush()
		}
		if !e.wait(c.r.Context(), pause) {
			return
		}
	}
}

// wait pauses for d, or less when ReleaseHangs cuts it short; it returns
// false when the client left. (A stopping emulator releases waits too; its
// closed connections then swallow the answer.)
func (e *Emulator) wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-e.releaseChan():
		return true
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (for hijacking).
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Interface guards
var (
	_ http.Handler        = (*Emulator)(nil)
	_ http.ResponseWriter = (*statusRecorder)(nil)
)

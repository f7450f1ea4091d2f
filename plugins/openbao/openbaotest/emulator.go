package openbaotest

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Route names one kind of request, for faults and hit counts.
type Route string

const (
	RouteHealth      Route = "sys/health"
	RouteMounts      Route = "sys/internal/ui/mounts"
	RouteLogin       Route = "auth/login"
	RouteLookupSelf  Route = "auth/token/lookup-self"
	RouteRenewSelf   Route = "auth/token/renew-self"
	RouteKVRead      Route = "kv/read"
	RouteKVList      Route = "kv/list"
	RouteKVMetadata  Route = "kv/metadata"
	RouteCreds       Route = "creds"
	RouteLeaseRenew  Route = "sys/leases/renew"
	RouteLeaseRevoke Route = "sys/leases/revoke"
	RouteLeaseLookup Route = "sys/leases/lookup"
	RouteUnknown     Route = "unknown"
)

// Emulator is an OpenBao server on loopback. Its methods are safe for
// concurrent use.
type Emulator struct {
	clock *Clock

	srvMu   sync.Mutex
	srv     *http.Server
	addr    string
	url     string
	closed  bool
	wantTLS bool
	tlsCert *tls.Certificate
	caPEM   []byte
	hangs   chan struct{} // closed by Stop to release held requests

	mu          sync.Mutex
	seq         int
	namespaces  map[string]string // path → ID ("" is root)
	kvMounts    map[string]int    // ns + "\x00" + mount → KV version
	secrets     map[string]*secret
	tokens      map[string]*token
	appRoles    map[string]AppRole // role_id → role
	k8sRoles    map[string]LoginRole
	jwtRoles    map[string]LoginRole
	jwtDefault  string
	dbRoles     map[string]DBRole // ns + "\x00" + mount + "\x00" + role
	leases      map[string]*lease
	faults      map[Route][]*Fault
	failRevokes bool
	hits        map[Route]int
	counts      Counts
}

// Counts are operations the emulator completed.
type Counts struct {
	Logins        map[string]int // by method: approle, kubernetes, jwt
	TokenLookups  int
	TokenRenewals int
	KVReads       int
	KVLists       int
	LeasesMinted  int
	LeasesRenewed int
	LeasesRevoked int
	LeasesExpired int
}

// Option configures an emulator.
type Option func(*Emulator)

// WithTLS serves HTTPS with a fresh self-signed certificate for 127.0.0.1
// (CACertPEM is its PEM).
func WithTLS() Option { return func(e *Emulator) { e.wantTLS = true } }

// WithAddr listens on addr (default 127.0.0.1:0).
func WithAddr(addr string) Option { return func(e *Emulator) { e.addr = addr } }

// WithFrozenClock starts the clock frozen at t.
func WithFrozenClock(t time.Time) Option { return func(e *Emulator) { e.clock.Freeze(t) } }

// NewUnstarted returns an emulator that is not listening yet.
func NewUnstarted(opts ...Option) *Emulator {
	e := &Emulator{
		clock:      newClock(),
		addr:       "127.0.0.1:0",
		hangs:      make(chan struct{}),
		namespaces: map[string]string{"": "root"},
		kvMounts:   map[string]int{},
		secrets:    map[string]*secret{},
		tokens:     map[string]*token{},
		appRoles:   map[string]AppRole{},
		k8sRoles:   map[string]LoginRole{},
		jwtRoles:   map[string]LoginRole{},
		dbRoles:    map[string]DBRole{},
		leases:     map[string]*lease{},
		faults:     map[Route][]*Fault{},
		hits:       map[Route]int{},
		counts:     Counts{Logins: map[string]int{}},
	}
	for _, o := range opts {
		o(e)
	}
	return e
}

// New starts an emulator on loopback and closes it when the test ends.
func New(tb testing.TB, opts ...Option) *Emulator {
	tb.Helper()
	e := NewUnstarted(opts...)
	if _, err := e.Start(); err != nil {
		tb.Fatalf("openbaotest: %v", err)
	}
	tb.Cleanup(e.Close)
	return e
}

// Start listens and serves. After Stop it listens again on the same
// address, so clients configured with URL() reach it again.
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
	e.addr = ln.Addr().String()
	e.url = "http://" + e.addr
	if e.wantTLS {
		if e.tlsCert == nil {
			// httptest's server certificate is valid for 127.0.0.1;
			// its PEM is the CA a client must trust.
			ts := httptest.NewUnstartedServer(nil)
			ts.StartTLS()
			cert := ts.TLS.Certificates[0]
			ts.Close()
			e.tlsCert = &cert
			e.caPEM = pemOf(cert.Certificate[0])
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{*e.tlsCert}, MinVersion: tls.VersionTLS12})
		e.url = "https://" + e.addr
	}
	e.hangs = make(chan struct{})
	e.srv = &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	go func(srv *http.Server) { _ = srv.Serve(ln) }(e.srv)
	return e.url, nil
}

// Stop closes the listener and every connection; clients then get
// "connection refused" until Start is called again. State is kept.
func (e *Emulator) Stop() {
	e.srvMu.Lock()
	defer e.srvMu.Unlock()
	if e.srv == nil {
		return
	}
	close(e.hangs)
	_ = e.srv.Close()
	e.srv = nil
}

// Close stops the emulator for good.
func (e *Emulator) Close() {
	e.Stop()
	e.srvMu.Lock()
	e.closed = true
	e.srvMu.Unlock()
}

// URL is the address to configure clients with (OPENBAO_ADDR).
func (e *Emulator) URL() string {
	e.srvMu.Lock()
	defer e.srvMu.Unlock()
	return e.url
}

// Clock is the emulator's clock.
func (e *Emulator) Clock() *Clock { return e.clock }

// Counts returns a copy of the operation counters.
func (e *Emulator) Counts() Counts {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.counts
	c.Logins = map[string]int{}
	for k, v := range e.counts.Logins {
		c.Logins[k] = v
	}
	return c
}

// Hits is how many requests reached route, faulted or not.
func (e *Emulator) Hits(route Route) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.hits[route]
}

// ResetCounts zeroes the counters and hits.
func (e *Emulator) ResetCounts() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.counts = Counts{Logins: map[string]int{}}
	e.hits = map[Route]int{}
}

func (e *Emulator) nextID() string {
	e.seq++
	return fmt.Sprintf("%08d-0000-4000-8000-%012d", e.seq, e.seq)
}

// envelope is the success answer of every logical endpoint (wire doc §1.2).
type envelope struct {
	RequestID     string   `json:"request_id"`
	LeaseID       string   `json:"lease_id"`
	Renewable     bool     `json:"renewable"`
	LeaseDuration int64    `json:"lease_duration"`
	Data          any      `json:"data"`
	WrapInfo      any      `json:"wrap_info"`
	Warnings      []string `json:"warnings"`
	Auth          any      `json:"auth"`
}

// response is what a handler answers.
type response struct {
	status int
	body   any // nil: no body (204)
}

func errorResponse(status int, msgs ...string) *response {
	if msgs == nil {
		msgs = []string{}
	}
	return &response{status: status, body: map[string][]string{"errors": msgs}}
}

func denied() *response { return errorResponse(http.StatusForbidden, "permission denied") }

// ServeHTTP routes one request.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 32<<20))
	req := &request{r: r, body: body}
	route, resp := e.handle(req)
	e.mu.Lock()
	e.hits[route]++
	e.mu.Unlock()
	if f := e.fault(route, r.URL.Path); f != nil {
		if f.delay > 0 {
			select {
			case <-time.After(f.delay):
			case <-r.Context().Done():
				return
			}
		}
		switch f.kind {
		case faultHang:
			e.srvMu.Lock()
			hangs := e.hangs
			e.srvMu.Unlock()
			select {
			case <-r.Context().Done():
			case <-hangs:
			}
			return
		case faultStatus:
			resp = errorResponse(f.status, f.messages...)
		case faultMalformed:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, `{"request_id":"x","data":{"data":{"A":`)
			return
		}
	}
	if resp.body == nil {
		w.WriteHeader(resp.status)
		return
	}
	b, _ := json.Marshal(resp.body)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(resp.status)
	w.Write(append(b, '\n'))
}

// request is one parsed request.
type request struct {
	r    *http.Request
	body []byte
}

func (q *request) token() string {
	if t := q.r.Header.Get("X-Vault-Token"); t != "" {
		return t
	}
	if a, ok := strings.CutPrefix(q.r.Header.Get("Authorization"), "Bearer "); ok {
		return a
	}
	return ""
}

// isList reports a LIST request, in either spelling (wire doc §1.1).
func (q *request) isList() bool {
	return q.r.Method == "LIST" || (q.r.Method == http.MethodGet && (q.r.URL.Query().Get("list") == "true" || q.r.URL.Query().Get("list") == "1"))
}

// decode reads the JSON body into v; an empty body is {}.
func (q *request) decode(v any) bool {
	if len(strings.TrimSpace(string(q.body))) == 0 {
		return true
	}
	return json.Unmarshal(q.body, v) == nil
}

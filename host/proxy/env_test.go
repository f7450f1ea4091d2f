package proxy

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/host/broker"
	"github.com/agent-vault/agent-vault/host/domain"
)

// testCA is a throwaway certificate authority: one signs the proxy's MITM
// leaves, another the loopback TLS upstreams, so each side proves it trusts
// only what it should.
type testCA struct {
	cert  *x509.Certificate
	key   *ecdsa.PrivateKey
	pool  *x509.CertPool
	mu    sync.Mutex
	cache map[string]*tls.Certificate
}

func newTestCA(t testing.TB, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool, cache: map[string]*tls.Certificate{}}
}

// leaf returns a cached certificate for the given names (IP literals become
// IP SANs).
func (ca *testCA) leaf(names ...string) (*tls.Certificate, error) {
	id := strings.Join(names, ",")
	ca.mu.Lock()
	defer ca.mu.Unlock()
	if c, ok := ca.cache[id]; ok {
		return c, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: names[0]},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, err
	}
	c := &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	ca.cache[id] = c
	return c, nil
}

type fakeAuth map[string]Principal // token -> principal

func (a fakeAuth) AuthenticateProxy(_ context.Context, token, vault string) (Principal, error) {
	p, ok := a[token]
	if !ok {
		return Principal{}, domain.Errorf(domain.CodeUnauthorized, "unknown token")
	}
	if vault != "" && vault != p.VaultName {
		return Principal{}, domain.Errorf(domain.CodeForbidden, "this session is limited to vault %q", p.VaultName)
	}
	return p, nil
}

type fakeVaults struct {
	mu sync.Mutex
	m  map[string]VaultConfig
}

func (v *fakeVaults) ProxyConfig(_ context.Context, id string) (VaultConfig, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	c, ok := v.m[id]
	if !ok {
		return VaultConfig{}, domain.Errorf(domain.CodeVaultNotFound, "no vault")
	}
	return c, nil
}

type fakeCreds map[string]string // "vaultID/KEY" -> value

func (c fakeCreds) Resolve(_ context.Context, vaultID, key string) (string, bool, error) {
	if key == "BROKEN" {
		return "", false, domain.Errorf(domain.CodeExternalStore, "the external store is unreachable")
	}
	v, ok := c[vaultID+"/"+key]
	return v, ok, nil
}

type eventLog struct {
	mu      sync.Mutex
	events  []Event
	changed chan struct{} // closed and replaced on every Emit
}

func (l *eventLog) Emit(e Event) {
	l.mu.Lock()
	l.events = append(l.events, e)
	if l.changed != nil {
		close(l.changed)
		l.changed = nil
	}
	l.mu.Unlock()
}

func (l *eventLog) all() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Event(nil), l.events...)
}

// next waits for the n-th event (0-based). Events are emitted after the
// response is written, so a test that has read a response waits here
// rather than racing the emit. The timeout only guards against a hang.
func (l *eventLog) next(t testing.TB, n int) Event {
	t.Helper()
	for {
		l.mu.Lock()
		if len(l.events) > n {
			e := l.events[n]
			l.mu.Unlock()
			return e
		}
		if l.changed == nil {
			l.changed = make(chan struct{})
		}
		ch := l.changed
		l.mu.Unlock()
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("event %d never arrived", n)
		}
	}
}

// Secret values used across the tests; no response header, error body or
// log event may contain them unless the upstream echoes them.
var secrets = map[string]string{
	"v1/TOKEN":   "sk_live_TOKENVALUE",
	"v1/USER":    "alice-USERVALUE",
	"v1/PASS":    "PASSVALUE",
	"v1/KEY":     "APIKEYVALUE",
	"v1/ACCOUNT": "acct_ACCOUNTVALUE",
	"v1/CRLF":    "CRLFFIRST\r\nX-Injected: CRLFVALUE",
}

// dialer records every address the proxy dials and maps test names to the
// loopback upstreams.
type dialer struct {
	mu     sync.Mutex
	routes map[string]string // "api.test:443" -> "127.0.0.1:port"
	dialed []string
	block  map[string]bool
}

func (d *dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.dialed = append(d.dialed, addr)
	to, ok := d.routes[addr]
	blocked := d.block[addr]
	d.mu.Unlock()
	if blocked {
		return nil, domain.Errorf("destination_blocked", "%s is in a private range", addr)
	}
	if !ok {
		to = addr
	}
	var nd net.Dialer
	return nd.DialContext(ctx, network, to)
}

func (d *dialer) dialedAddrs() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.dialed...)
}

// echo is what the echo upstream saw, sent back as JSON.
type echo struct {
	Method string      `json:"method"`
	Host   string      `json:"host"`
	Path   string      `json:"path"`
	Raw    string      `json:"raw"` // RequestURI as received
	Header http.Header `json:"header"`
	Body   string      `json:"body"`
	TLS    bool        `json:"tls"`
	Proto  string      `json:"proto"`
	Name   string      `json:"name"` // which upstream answered
}

// echoHandler answers with what it saw, as JSON wrapped in base32: an
// encoding the proxy's response scrubbing does not know, so tests can see
// exactly what reached the upstream. The scrubbing tests (scrub_test.go)
// use plain echoes.
func echoHandler(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Set-Cookie", "session=upstream")
		w.Header().Set("Connection", "X-Hop-Response")
		w.Header().Set("X-Hop-Response", "must-not-reach-client")
		js, _ := json.Marshal(echo{Method: r.Method, Host: r.Host, Path: r.URL.Path, Raw: r.RequestURI,
			Header: r.Header, Body: string(b), TLS: r.TLS != nil, Proto: r.Proto, Name: name})
		io.WriteString(w, base32.StdEncoding.EncodeToString(js)+"\n")
	}
}

// unwrapEcho undoes echoHandler's base32.
func unwrapEcho(b []byte) ([]byte, error) {
	return base32.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
}

type env struct {
	t        testing.TB
	proxy    *Proxy
	addr     string // proxy listener
	mitmCA   *testCA
	upCA     *testCA
	dial     *dialer
	vaults   *fakeVaults
	log      *eventLog
	plain    *httptest.Server // http upstream: api.test:80 and other.test:80
	tls      *httptest.Server // https upstream: api.test:443, *.api.test:443
	mux      *http.ServeMux   // extra routes on both upstreams
	otherHit chan *http.Request
}

type envOption func(*Config)

func newEnv(t testing.TB, services []domain.Service, opts ...envOption) *env {
	t.Helper()
	e := &env{t: t, mitmCA: newTestCA(t, "mitm"), upCA: newTestCA(t, "upstream"), log: &eventLog{}, mux: http.NewServeMux()}
	e.mux.Handle("/", echoHandler("api"))
	e.plain = httptest.NewServer(e.mux)
	t.Cleanup(e.plain.Close)
	e.tls = httptest.NewUnstartedServer(e.mux)
	leaf, err := e.upCA.leaf("api.test", "*.api.test", "other.test", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	e.tls.TLS = &tls.Config{Certificates: []tls.Certificate{*leaf}}
	e.tls.Config.ErrorLog = log.New(io.Discard, "", 0) // handshake failures are expected in TestUpstreamTLSVerified
	e.tls.StartTLS()
	t.Cleanup(e.tls.Close)
	other := httptest.NewServer(echoHandler("other"))
	t.Cleanup(other.Close)

	plainAddr := e.plain.Listener.Addr().String()
	tlsAddr := e.tls.Listener.Addr().String()
	e.dial = &dialer{block: map[string]bool{"blocked.test:80": true}, routes: map[string]string{
		"api.test:80": plainAddr, "api.test:443": tlsAddr, "www.api.test:443": tlsAddr,
		"v2.api.test:443": tlsAddr, "other.test:80": other.Listener.Addr().String(),
		"other.test:443": tlsAddr, "deny.test:80": plainAddr,
	}}
	// The test hosts (api.test, …) stand for public hosts reached over
	// plain http as well as https, so their services opt in to plain http;
	// TestPlaintextInjectionRefused covers the default.
	plainOK := make([]domain.Service, len(services))
	for i, s := range services {
		s.AllowPlainHTTP = true
		plainOK[i] = s
	}
	e.vaults = &fakeVaults{m: map[string]VaultConfig{
		"v1": {Services: plainOK, UnmatchedHostPolicy: domain.PolicyPassthrough, Matcher: broker.NewMatcher(plainOK)},
		"v2": {UnmatchedHostPolicy: domain.PolicyDeny},
	}}
	cfg := Config{
		DialContext:   e.dial.DialContext,
		Certificates:  func(host string) (*tls.Certificate, error) { return e.mitmCA.leaf(host) },
		UpstreamRoots: e.upCA.pool,
		Auth: fakeAuth{
			"tok1": {ActorID: "agent-1", ActorKind: ActorAgent, VaultID: "v1", VaultName: "main", VaultRole: domain.VaultProxy},
			"tok2": {ActorID: "session-2", ActorKind: ActorSession, VaultID: "v2", VaultName: "locked", VaultRole: domain.VaultProxy},
		},
		Vaults:      e.vaults,
		Credentials: fakeCreds(secrets),
		Log:         e.log,
	}
	// Every test checks on cleanup that neither the operational log nor any
	// request event holds a credential value.
	logs := &lockedBuffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(func() {
		assertNoSecrets(t, "operational log", logs.String())
		for _, ev := range e.log.all() {
			assertNoSecrets(t, "request event", fmt.Sprintf("%+v", ev))
		}
	})
	for _, o := range opts {
		o(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go p.Serve(l) //nolint:errcheck
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		p.Shutdown(ctx) //nolint:errcheck
	})
	e.proxy, e.addr = p, l.Addr().String()
	return e
}

// client returns an HTTP client that uses the proxy with token:vault and
// trusts the MITM CA. It never follows redirects.
func (e *env) client(userinfo string) *http.Client {
	pu := &url.URL{Scheme: "http", Host: e.addr}
	if userinfo != "" {
		user, pass, _ := strings.Cut(userinfo, ":")
		pu.User = url.UserPassword(user, pass)
	}
	tr := &http.Transport{
		Proxy:           http.ProxyURL(pu),
		TLSClientConfig: &tls.Config{RootCAs: e.mitmCA.pool},
	}
	e.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// rawConnect opens a CONNECT tunnel by hand and returns the connection
// after the 200.
func (e *env) rawConnect(target, userinfo string) net.Conn {
	e.t.Helper()
	c, err := net.Dial("tcp", e.addr)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\nProxy-Authorization: Basic %s\r\n\r\n",
		target, target, base64.StdEncoding.EncodeToString([]byte(userinfo)))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		e.t.Fatalf("CONNECT status %d", resp.StatusCode)
	}
	if br.Buffered() > 0 {
		e.t.Fatal("bytes after CONNECT response")
	}
	return c
}

func decodeEcho(t testing.TB, resp *http.Response) echo {
	t.Helper()
	defer resp.Body.Close()
	var got echo
	b, _ := io.ReadAll(resp.Body)
	js, err := unwrapEcho(b)
	if err == nil {
		err = json.Unmarshal(js, &got)
	}
	if err != nil {
		t.Fatalf("status %d, body %q is not an echo: %v", resp.StatusCode, b, err)
	}
	return got
}

// errorOf decodes a proxy error answer and checks its marker header.
func errorOf(t testing.TB, resp *http.Response) errorBody {
	t.Helper()
	defer resp.Body.Close()
	if resp.Header.Get(HeaderProxyError) != "true" {
		t.Fatalf("status %d without %s header", resp.StatusCode, HeaderProxyError)
	}
	var b errorBody
	if err := json.NewDecoder(resp.Body).Decode(&b); err != nil {
		t.Fatal(err)
	}
	return b
}

// assertNoSecrets fails when any credential value appears in s.
func assertNoSecrets(t testing.TB, what, s string) {
	t.Helper()
	for _, v := range secrets {
		for _, part := range []string{v, strings.Split(v, "\r\n")[0]} {
			if strings.Contains(s, part) {
				t.Fatalf("%s contains a credential value: %q", what, s)
			}
		}
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

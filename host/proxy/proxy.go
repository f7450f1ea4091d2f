// Package proxy is the listener on port 14322: an absolute-form HTTP forward
// proxy and a CONNECT endpoint that intercepts TLS with a leaf certificate
// for the requested host. Client connections, on the port and inside
// tunnels, are served by the package's own HTTP/1.1 loop (serve.go), or by
// HTTP/2 inside a tunnel whose client chose h2 (h2.go). Every
// request is authenticated, matched to one of the vault's services by
// host/broker, given its credentials and forwarded (relay.go) over pooled
// keep-alive connections (upstream.go; http.Transport and the
// ReverseProxy for upgrades and large uploads) that dial through an
// injected (private-range guarded) dialer.
//
// The hot path does no database writes and never calls into WebAssembly: it
// reads the vault's services and credentials through the interfaces below,
// which the server answers from memory.
package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"sync"
	"time"

	"github.com/agent-vault/agent-vault/host/broker"
	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/scrub"
)

// DefaultPort is the proxy's listening port.
const DefaultPort = 14322

// ActorKind says who holds the token that authenticated a proxy request.
type ActorKind string

const (
	ActorUser    ActorKind = "user"
	ActorAgent   ActorKind = "agent"
	ActorSession ActorKind = "session" // a scoped session minted by `agent-vault run`
)

// Principal is the authenticated caller of a proxy request and the vault
// whose credentials it uses.
type Principal struct {
	ActorID   string
	ActorKind ActorKind
	VaultID   string
	VaultName string
	VaultRole domain.VaultRole
	// Gen and ValidUntil are set by an Authenticator that implements
	// Revalidator; the proxy only hands them back to Current.
	Gen        uint64
	ValidUntil time.Time
}

// Authenticator checks proxy credentials.
type Authenticator interface {
	// AuthenticateProxy resolves a token and an optional vault name (empty
	// when the client named none) to a principal. Errors carrying
	// domain.CodeUnauthorized or domain.CodeInvalidCredentials answer 407;
	// any other *domain.Error answers 403 with its code and message (a
	// session asking for another vault, an agent with several grants naming
	// none); other errors answer 500. Called once per absolute-form request
	// and once per CONNECT, and again inside a tunnel whenever the tunnel's
	// principal is no longer current (see Revalidator); must be fast
	// (memory only).
	AuthenticateProxy(ctx context.Context, token, vault string) (Principal, error)
}

// VaultConfig is what the proxy needs to know about a vault.
type VaultConfig struct {
	Services            []domain.Service // in declaration order
	UnmatchedHostPolicy string           // domain.PolicyPassthrough (also when empty) or domain.PolicyDeny
	// Matcher is broker.NewMatcher(Services), built once when the
	// services change; nil makes the proxy build one per request.
	Matcher *broker.Matcher

	// Egress holds every known secret value of every vault and every
	// canary: a request that carries one which the matched service does
	// not inject is refused before it leaves. nil: no check.
	Egress *scrub.Set
	// Scrub is parallel to Services: each service's response set (the
	// values it injects and the vault's canaries), built when the vault
	// changes. An entry that is nil, or whose Values differ from those a
	// request resolved (a dynamic secret, a rotation in between), is
	// built for that request instead.
	Scrub []*ServiceScrub
	// Canaries is the vault's canaries, looked for in every response;
	// CanarySet is the set of them alone (nil when none).
	Canaries  []scrub.Value
	CanarySet *scrub.Set
	// RevokeOnEgressBlock revokes the scoped session whose request was
	// refused as secret_egress_blocked (a canary always revokes).
	RevokeOnEgressBlock bool
}

// ServiceScrub is a service's precomputed response set and the key values
// it was built from.
type ServiceScrub struct {
	Set    *scrub.Set
	Values map[string]string
}

// SessionRevoker ends a scoped session at once, for a request that
// carried a canary or, where the vault asks for it, a secret bound
// elsewhere.
type SessionRevoker interface {
	RevokeSession(ctx context.Context, vaultID, sessionID string) error
}

// Vaults serves the current service list of a vault. Called once per
// request, so it must answer from memory; the proxy never modifies the result.
type Vaults interface {
	ProxyConfig(ctx context.Context, vaultID string) (VaultConfig, error)
}

// Credentials resolves credential values. The server composes static
// credentials and dynamic secrets behind it.
type Credentials interface {
	// Resolve returns the value of key in the vault, found=false when the
	// vault has no such credential, or an error (a *domain.Error's code is
	// passed to the client; other errors become internal_error).
	Resolve(ctx context.Context, vaultID, key string) (value string, found bool, err error)
}

// Config holds the proxy's dependencies and limits. DialContext,
// Certificates, Auth, Vaults and Credentials are required.
type Config struct {
	// DialContext dials upstreams; production passes the netguard dialer.
	// Its *domain.Error answers 403 with the error's code (a blocked
	// destination).
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// Certificates returns the leaf certificate to present for a CONNECT
	// host (a host name or IP literal without port); it should cache.
	Certificates func(host string) (*tls.Certificate, error)
	// UpstreamRoots verifies upstream TLS; nil means the system roots.
	UpstreamRoots *x509.CertPool

	Auth        Authenticator
	Vaults      Vaults
	Credentials Credentials
	// Sessions revokes sessions that tripped a canary; nil: none are.
	Sessions SessionRevoker
	// Log receives one event per proxied request; nil discards them. Emit
	// must not block (see AsyncSink).
	Log Sink
	// Logger receives operational messages (never credential values); nil
	// discards them.
	Logger *slog.Logger

	// MaxRequestBody caps request bodies (413); 0 means 1 GiB, negative
	// means no cap.
	MaxRequestBody int64
	// MaxResponseBody cuts responses off after this many bytes; 0 means no cap.
	MaxResponseBody int64
	// MaxSubstitutionBody caps a body buffered for a body substitution; 0
	// means broker.DefaultMaxSubstitutionBody.
	MaxSubstitutionBody int64

	// ReadHeaderTimeout bounds reading a request's headers (default 30s);
	// IdleTimeout closes idle client connections and tunnels (default 5m);
	// ResponseHeaderTimeout bounds the wait for upstream headers (default
	// 10m: model APIs may think for a long time before answering).
	ReadHeaderTimeout     time.Duration
	IdleTimeout           time.Duration
	ResponseHeaderTimeout time.Duration
	// TunnelMaxLifetime closes a CONNECT tunnel, and an upgraded
	// (websocket) connection on the proxy's port, this long after it was
	// opened, whatever it is doing (default DefaultTunnelMaxLifetime;
	// negative means no limit). Requests inside a tunnel are authorised
	// one by one; the limit also ends what is not a request (an upgraded
	// websocket) and makes long-lived clients authenticate afresh.
	TunnelMaxLifetime time.Duration

	// RateLimits bound requests per caller and per vault (429 with
	// Retry-After beyond them); the zero value limits nothing.
	RateLimits RateLimits

	// Metrics receives per-request measurements; nil measures nothing.
	Metrics Metrics
}

// Proxy is the proxy listener's handler. Create it with New, then call Serve.
type Proxy struct {
	cfg       Config
	transport *http.Transport // requests the upstream client passes on
	up        *upstream
	rp        *httputil.ReverseProxy
	srv       *connServer // client connections: on the port and inside tunnels
	limits    rateLimiter
	counts    connCounters
}

// New checks cfg and builds a Proxy.
func New(cfg Config) (*Proxy, error) {
	if cfg.DialContext == nil || cfg.Certificates == nil || cfg.Auth == nil || cfg.Vaults == nil || cfg.Credentials == nil {
		return nil, errors.New("proxy: DialContext, Certificates, Auth, Vaults and Credentials are required")
	}
	if cfg.MaxRequestBody == 0 {
		cfg.MaxRequestBody = 1 << 30
	}
	if cfg.ReadHeaderTimeout == 0 {
		cfg.ReadHeaderTimeout = 30 * time.Second
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 5 * time.Minute
	}
	if cfg.ResponseHeaderTimeout == 0 {
		cfg.ResponseHeaderTimeout = 10 * time.Minute
	}
	if cfg.TunnelMaxLifetime == 0 {
		cfg.TunnelMaxLifetime = DefaultTunnelMaxLifetime
	}
	if cfg.Log == nil {
		cfg.Log = discardSink{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	p := &Proxy{cfg: cfg, limits: newRateLimiter(cfg.RateLimits)}
	dial := cfg.DialContext
	p.transport = &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			p.counts.dials.Add(1)
			return dial(ctx, network, addr)
		},
		TLSClientConfig:       &tls.Config{RootCAs: cfg.UpstreamRoots, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: cfg.ResponseHeaderTimeout,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConns:          512,
		MaxIdleConnsPerHost:   128,
		// Bodies pass through as the client sent them: the proxy neither
		// asks for gzip nor decompresses.
		DisableCompression: true,
		// Upstreams are never reached through another proxy from the
		// environment: the dialer must see the real destination.
		Proxy: nil,
	}
	// Ordinary requests use the upstream client (no goroutines per
	// connection); upgrades, Expect: 100-continue and large or streamed
	// request bodies use p.transport. Both pool keep-alive connections.
	p.up = &upstream{
		dial: p.transport.DialContext, tls: p.transport.TLSClientConfig, handshake: p.transport.TLSHandshakeTimeout,
		headerTimeout: cfg.ResponseHeaderTimeout, idleTimeout: p.transport.IdleConnTimeout,
		maxIdle: p.transport.MaxIdleConns, maxIdlePer: p.transport.MaxIdleConnsPerHost,
		fallback: p.transport, idle: map[connKey][]*upConn{},
		h2: newH2Pool(p.transport.IdleConnTimeout),
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite:   func(*httputil.ProxyRequest) {}, // the request is prepared in forward
		Transport: p.up,
		// ReverseProxy flushes every write of an SSE or unknown-length
		// (chunked) response by itself, so streamed completions arrive as
		// sent. A fixed-length response is not flushed by a timer (that
		// costs a timer and a wakeup per request): the response body
		// flushes what the client has been sent so far before any read
		// that waits for the upstream (see upBody and flushingBody). A
		// tiny answer thus leaves in one write, and a fixed-length body
		// that trickles reaches the client part by part.
		FlushInterval:  0,
		BufferPool:     bufferPool{},
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.upstreamError,
		ErrorLog:       slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
	}
	p.srv = newConnServer(cfg.ReadHeaderTimeout, cfg.IdleTimeout, cfg.Logger)
	return p, nil
}

// Serve accepts proxy clients on l until Shutdown. It returns
// http.ErrServerClosed after Shutdown.
func (p *Proxy) Serve(l net.Listener) error {
	return p.srv.serve(l, p.serveOuter)
}

// Shutdown stops accepting, closes idle client connections and tunnels,
// waits for in-flight requests (bounded by ctx) and closes idle upstream
// connections. Upgraded (websocket) connections are not waited for.
func (p *Proxy) Shutdown(ctx context.Context) error {
	err := p.srv.shutdown(ctx)
	p.up.CloseIdleConnections()
	return err
}

// bufferPool recycles the 32 KiB copy buffers of streamed bodies.
type bufferPool struct{}

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *(copyBuffers.Get().(*[]byte)) }
func (bufferPool) Put(b []byte) { copyBuffers.Put(&b) }

// Interface guards
var _ httputil.BufferPool = bufferPool{}

package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"github.com/agent-vault/agent-vault/host/audit"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/agent-vault/agent-vault/host/certs"
	"github.com/agent-vault/agent-vault/host/discovered"
	"github.com/agent-vault/agent-vault/host/netguard"
	"github.com/agent-vault/agent-vault/host/proxy"
	"github.com/agent-vault/agent-vault/host/requestlog"
	"github.com/agent-vault/agent-vault/host/seal"
	"github.com/agent-vault/agent-vault/host/store"
	"github.com/agent-vault/agent-vault/host/vaultcache"
)

// proxyListener is the running proxy and what it was built from.
type proxyListener struct {
	proxy *proxy.Proxy
	ln    net.Listener
	ca    *certs.Authority
	sink  *requestlog.Writer
	hosts *discovered.Recorder
}

func (p *proxyListener) port() int { return p.ln.Addr().(*net.TCPAddr).Port }

// serve runs the proxy until shutdown; only an unexpected stop is reported.
func (p *proxyListener) serve(errc chan<- error) {
	if err := p.proxy.Serve(p.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		errc <- fmt.Errorf("proxy: %w", err)
	}
}

func (p *proxyListener) close() { p.sink.Close(); p.hosts.Close() }

// startProxy builds the proxy's dependencies (guarded dialer, CA, the
// vault cache as authenticator and credential source) and listens.
func startProxy(ctx context.Context, cfg Config, st *store.Store, keyring *seal.Keyring, cache *vaultcache.Cache, rec *audit.Recorder) (*proxyListener, error) {
	log := cfg.Logger
	getenv := cfg.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	opts, err := netguard.FromEnv(getenv)
	if err != nil {
		return nil, err
	}
	opts.AllowPrivate = opts.AllowPrivate || cfg.AllowPrivateRanges
	opts.Dialer = &net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}
	guard, err := netguard.New(opts)
	if err != nil {
		return nil, err
	}
	ca, err := loadOrCreateCA(ctx, st, keyring)
	if err != nil {
		return nil, err
	}
	roots, err := upstreamRoots(cfg.UpstreamCAFile)
	if err != nil {
		return nil, err
	}
	// Request events become request_logs rows through the batching writer;
	// Emit never blocks the proxy.
	sink := requestlog.New(st, requestlog.Options{Logger: log})
	// Hosts reached without a matching service are counted per vault for
	// the Services page, batched the same way.
	hosts := discovered.New(st, discovered.Options{Logger: log})
	p, err := proxy.New(proxy.Config{
		DialContext:   guard.DialContext,
		Certificates:  ca.Leaf,
		UpstreamRoots: roots,
		Auth:          cache,
		Vaults:        cache,
		Credentials:   cache,
		Sessions:      auditedRevoker{cache, st, rec},
		Log:           proxy.Tee{sink, hosts},
		Logger:        log,
		// Zero means no limit here; the proxy reads zero as its default.
		TunnelMaxLifetime: cmp.Or(cfg.TunnelMaxLifetime, -1),
		RateLimits:        proxyRateLimits(cfg.ProxyRateLimits),
		Metrics:           proxyMetrics(cfg.metrics),
	})
	if err != nil {
		sink.Close()
		hosts.Close()
		return nil, err
	}
	port := cfg.MITMPort
	if port == AnyPort {
		port = 0
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(port)))
	if err != nil {
		sink.Close()
		hosts.Close()
		return nil, fmt.Errorf("listening for the proxy: %w", err)
	}
	ln = limitListener(ln, cfg.ProxyMaxConns)
	return &proxyListener{proxy: p, ln: ln, ca: ca, sink: sink, hosts: hosts}, nil
}

// proxyRateLimits fills unset rates with proxy.DefaultRateLimits; a
// negative rate turns that limit off.
func proxyRateLimits(l proxy.RateLimits) proxy.RateLimits {
	if l.PerActor == 0 {
		l.PerActor = proxy.DefaultRateLimits.PerActor
	}
	if l.PerVault == 0 {
		l.PerVault = proxy.DefaultRateLimits.PerVault
	}
	l.PerActor, l.PerVault = max(l.PerActor, 0), max(l.PerVault, 0)
	return l
}

// Package server wires the host together and runs it: it opens the data
// directory, unlocks the key envelope, and serves the API (and, when
// enabled, the proxy) until the context ends. This is the one place where
// the host's packages are connected to each other.
package server

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/agent-vault/agent-vault/host/api"
	"github.com/agent-vault/agent-vault/host/cluster"
	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/loginguard"
	"github.com/agent-vault/agent-vault/host/mail"
	"github.com/agent-vault/agent-vault/host/metrics"
	"github.com/agent-vault/agent-vault/host/notify"
	"github.com/agent-vault/agent-vault/host/proxy"
	"github.com/agent-vault/agent-vault/host/seal"
	"github.com/agent-vault/agent-vault/host/store"
	"github.com/agent-vault/agent-vault/host/vaultcache"
	"github.com/agent-vault/agent-vault/web"
)

// Config is everything `agent-vault server` is told.
type Config struct {
	Host     string
	Port     int
	MITMPort int
	DataDir  string
	// DatabaseURL, when set (postgres://…), puts the database in
	// PostgreSQL, shared by every replica; empty keeps it in DataDir.
	DatabaseURL string
	// MasterPassword unlocks the key envelope; empty runs passwordless.
	MasterPassword string
	// AllowPrivateRanges lets services and upstreams use private addresses.
	AllowPrivateRanges bool
	// UpstreamCAFile names a PEM file of extra roots trusted for upstream
	// TLS, besides the system roots.
	UpstreamCAFile string
	// Getenv reads the network guard's and the store plugins' settings;
	// nil means os.Getenv.
	Getenv func(string) string
	// PluginDir holds third-party store plugins (*.wasm).
	PluginDir string
	// PluginGrantsFile is the operator's plugin grants file (JSON, see
	// plugin.GrantsFile); third-party plugins load only when it names them.
	PluginGrantsFile string
	// PluginIdleRelease frees a store plugin's compiled code after it has
	// been idle this long (plugin.Config.IdleRelease); zero keeps it.
	PluginIdleRelease time.Duration
	// LeaseOwnerTTL is how long a replica owns a dynamic-secret lease
	// after its last heartbeat (zero: 15 s).
	LeaseOwnerTTL time.Duration
	// MinPollInterval is the shortest sync cadence a vault may ask for
	// (zero: 10 s).
	MinPollInterval time.Duration
	// TunnelMaxLifetime closes a proxy CONNECT tunnel this long after it
	// opened; zero means no limit.
	TunnelMaxLifetime time.Duration
	Logger            *slog.Logger
	// APIMaxConns and ProxyMaxConns cap each listener's open client
	// connections; zero picks defaults that fit the file-descriptor limit.
	APIMaxConns, ProxyMaxConns int
	// APIMaxConnsPerAddress caps the API connections of one client
	// address (zero: 64; negative: no cap, e.g. behind a reverse proxy).
	APIMaxConnsPerAddress int
	// AllowedHosts are the names, besides IP literals and localhost, that
	// the API answers to in the Host header ("*.example.com" for
	// subdomains). Others are refused (DNS-rebinding defence).
	AllowedHosts []string
	// PublicURL is the base URL people reach the API and UI at, used in
	// the links the server hands out; empty means the listening address.
	// Its host joins AllowedHosts.
	PublicURL string
	// ProxyRateLimits bound proxy requests per caller and per vault; the
	// zero value means proxy.DefaultRateLimits, negative rates no limit.
	ProxyRateLimits proxy.RateLimits
	// AuditFile, when set, receives every audit entry as a JSON line
	// too ("-": standard output), for a SIEM.
	AuditFile string
	// AuditMaxAge prunes audit entries older than this (zero keeps them).
	AuditMaxAge time.Duration
	// AuditArchive, when set, receives the entries retention prunes, as
	// JSON lines appended before they are deleted.
	AuditArchive string
	// Ready, when set, receives the API's and the proxy's listening
	// addresses once serving (the proxy's is empty when disabled).
	Ready func(apiAddr, proxyAddr string)
	// MetricsOff turns Prometheus metrics off (GET /metrics answers 404).
	MetricsOff bool
	// MetricsAddr, when set, also serves GET /metrics there, without
	// authentication (a scraper on a private network).
	MetricsAddr string

	metrics *metrics.Metrics // built by Run
}

// AnyPort asks for the proxy on a free port (tests); 0 disables the proxy.
const AnyPort = -1

// envelopeKey is where the key envelope lives in the meta table.
const envelopeKey = "key_envelope"

// Run serves until ctx is done, then shuts down gracefully.
func Run(ctx context.Context, cfg Config) error {
	log := cfg.Logger
	syscall.Umask(0o077) // every file we create is the owner's alone
	release, err := LockDataDir(cfg.DataDir)
	if err != nil {
		return err
	}
	defer release()
	st, keyring, err := Open(ctx, cfg.DataDir, cfg.DatabaseURL, cfg.MasterPassword, log)
	if err != nil {
		return err
	}
	defer st.Close()
	cfg.metrics = newMetrics(cfg, st)

	auditRec, stopAudit, err := startAudit(ctx, cfg, st)
	if err != nil {
		return err
	}
	defer stopAudit()

	cache := vaultcache.New(st, keyring, log)
	stores, closePlugins, err := startStores(ctx, cfg, st, keyring, cache, auditRec)
	if err != nil {
		return err
	}
	defer closePlugins()
	var cachesCurrent func() bool
	if st.Dialect() == store.Postgres {
		// Other replicas change the same database: their commits reach
		// this replica's caches through the database's notifications, and
		// replicas hand each other leased values on its lease channel.
		w := &cluster.Watcher{URL: cfg.DatabaseURL, Log: log, Message: stores.HandleLeaseMessage,
			Invalidate: func(vaultID string) { cache.Invalidate(vaultID); stores.LeasesChanged(vaultID) }}
		watchCtx, stopWatch := context.WithCancel(context.WithoutCancel(ctx))
		watchDone := make(chan struct{})
		go func() { w.Run(watchCtx); close(watchDone) }()
		defer func() { stopWatch(); <-watchDone }()
		cachesCurrent = w.Current
	}
	storesCtx, stopStores := context.WithCancel(context.WithoutCancel(ctx))
	storesDone := make(chan struct{})
	go func() { stores.Run(storesCtx); close(storesDone) }()
	defer func() { stopStores(); <-storesDone }() // revokes this instance's leases, bounded
	stopJobs, err := startJobs(ctx, cfg, st)
	if err != nil {
		return err
	}
	defer stopJobs()

	publicURL, err := checkPublicURL(cfg.PublicURL)
	if err != nil {
		return err
	}
	if publicURL != nil {
		cfg.AllowedHosts = append(cfg.AllowedHosts, publicURL.Hostname())
	}

	notifier, mailer, err := startNotifier(cfg)
	if err != nil {
		return err
	}
	defer notifier.Close()

	cfg.APIMaxConns, cfg.ProxyMaxConns = connCaps(cfg.APIMaxConns, cfg.ProxyMaxConns, log)
	// The proxy comes first so the API can publish its CA and port.
	var mitm *proxyListener
	if cfg.MITMPort > 0 || cfg.MITMPort == AnyPort {
		if mitm, err = startProxy(ctx, cfg, st, keyring, cache, auditRec); err != nil {
			return err
		}
		defer mitm.close()
	}

	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening for the API on %s: %w", addr, err)
	}
	ln = limitListener(ln, cfg.APIMaxConns)
	if cfg.APIMaxConnsPerAddress >= 0 {
		ln = limitPerAddress(ln, cmp.Or(cfg.APIMaxConnsPerAddress, defaultAPIMaxConnsPerAddress))
	}
	logins := loginguard.NewThrottle(loginguard.ThrottleConfig{})
	deps := api.Deps{
		Logins:             logins,
		Store:              st,
		Keyring:            keyring,
		Logger:             log,
		PublicURL:          "http://" + ln.Addr().String(),
		AllowPrivateRanges: cfg.AllowPrivateRanges,
		Stores:             stores,
		Changed:            cache.Invalidate,
		StoreInfo:          storeInfo{stores},
		CachesCurrent:      cachesCurrent,
		Audit:              auditRec,
		Notifier:           notifier,
	}
	if publicURL != nil {
		deps.PublicURL = strings.TrimRight(publicURL.String(), "/")
	}
	if mailer != nil {
		deps.SendMail = func(ctx context.Context, to, subject, body string) error {
			return mailer.Send(ctx, mail.Message{To: []string{to}, Subject: subject, Text: body})
		}
	}
	if mitm != nil {
		deps.CACertPEM, deps.MITMPort = mitm.ca.CertPEM(), mitm.port()
		deps.RequestLogDropped = func() uint64 { return mitm.sink.Stats().Dropped }
		deps.RequestLogFollow = mitm.sink.Follow
	}
	if cfg.metrics != nil {
		addRuntimeSources(cfg.metrics, stores, logins, mitm)
		deps.Metrics = cfg.metrics
	}
	handler, _ := api.New(deps)
	srv := &http.Server{
		Handler:           hostCheck(cfg.AllowedHosts, withUI(handler)),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// Shutting down ends long polls (the request log's wait) at once rather
	// than waiting them out.
	baseCtx, endRequests := context.WithCancel(context.Background())
	srv.BaseContext = func(net.Listener) context.Context { return baseCtx }
	srv.RegisterOnShutdown(endRequests)
	errc := make(chan error, 2)
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("API: %w", err)
		}
	}()
	if cfg.metrics != nil && cfg.MetricsAddr != "" {
		msrv, err := serveMetrics(cfg.MetricsAddr, cfg.metrics, log, errc)
		if err != nil {
			return err
		}
		defer msrv.Close()
	}
	proxyAddr := ""
	if mitm != nil {
		proxyAddr = mitm.ln.Addr().String()
		go mitm.serve(errc)
	}
	// Compiling and instantiating the store plugins leaves tens of MiB of
	// garbage the runtime would otherwise hand back to the OS only slowly;
	// return it now so a freshly started server is as small as it will stay.
	debug.FreeOSMemory()
	log.Info("agent vault is serving", "api", "http://"+ln.Addr().String(), "proxy", proxyAddr, "data_dir", cfg.DataDir)
	if cfg.Ready != nil {
		cfg.Ready(ln.Addr().String(), proxyAddr)
	}

	select {
	case err := <-errc:
		return fmt.Errorf("server stopped: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if mitm != nil {
		mitm.proxy.Shutdown(shutdownCtx)
	}
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// startNotifier configures proposal notifications from AGENT_VAULT_SMTP_*
// and AGENT_VAULT_NOTIFY_WEBHOOK_* (a bad setting stops the start).
// The mail sender it returns (nil without SMTP) also sends the API's
// invite and password-reset links.
func startNotifier(cfg Config) (*notify.Notifier, *mail.Sender, error) {
	getenv := cfg.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	nc, err := notify.FromEnv(getenv)
	if err != nil {
		return nil, nil, err
	}
	nc.Logger = cfg.Logger
	n, err := notify.New(nc)
	if err != nil {
		return nil, nil, err
	}
	if n.Enabled() {
		cfg.Logger.Info("proposal notifications", "email", nc.Mail != nil, "webhook", nc.WebhookURL != "", "format", nc.WebhookFormat)
	}
	return n, nc.Mail, nil
}

// checkPublicURL parses the configured public URL: absolute http(s), no
// query or fragment. Empty gives nil.
func checkPublicURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, domain.Errorf(domain.CodeInvalidInput, "the public URL %q must be an absolute http:// or https:// URL without query, fragment or user info", raw)
	}
	return u, nil
}

// Open opens the database (databaseURL's, or else the data directory's)
// and unlocks its key envelope, creating both on first start. A wrong
// master password fails before anything is written.
func Open(ctx context.Context, dataDir, databaseURL, password string, log *slog.Logger) (*store.Store, *seal.Keyring, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("creating data directory %s: %w", dataDir, err)
	}
	st, err := OpenDatabase(ctx, dataDir, databaseURL)
	if err != nil {
		return nil, nil, err
	}
	keyring, err := unlock(ctx, st, password, log)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	if err := st.EnsureDefaultVault(ctx); err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, keyring, nil
}

// OpenStore opens the data directory's database without unlocking it.
func OpenStore(ctx context.Context, dataDir string) (*store.Store, error) {
	return OpenDatabase(ctx, dataDir, "")
}

// OpenDatabase opens the PostgreSQL database at databaseURL or, when it is
// empty, the data directory's SQLite file, without unlocking it.
func OpenDatabase(ctx context.Context, dataDir, databaseURL string) (*store.Store, error) {
	var st *store.Store
	var err error
	switch {
	case databaseURL == "":
		st, err = store.Open(ctx, filepath.Join(dataDir, store.FileName))
	case store.IsPostgresURL(databaseURL):
		st, err = store.OpenPostgres(ctx, databaseURL)
	default:
		return nil, domain.Errorf(domain.CodeInvalidInput, "the database URL must start with postgres:// or postgresql://")
	}
	if err != nil {
		return nil, fmt.Errorf("opening database: %w", err)
	}
	return st, nil
}

func unlock(ctx context.Context, st *store.Store, password string, log *slog.Logger) (*seal.Keyring, error) {
	raw, ok, err := st.Meta(ctx, envelopeKey)
	if err != nil {
		return nil, err
	}
	if !ok {
		env, keyring, err := seal.Create(password)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(env)
		if err != nil {
			return nil, err
		}
		wrote, err := st.InsertMetaIfAbsent(ctx, envelopeKey, b)
		if err != nil {
			return nil, err
		}
		if wrote {
			warnPasswordless(log, env)
			return keyring, nil
		}
		// Another process created the envelope first: unlock theirs.
		if raw, _, err = st.Meta(ctx, envelopeKey); err != nil {
			return nil, err
		}
	}
	env, err := seal.DecodeEnvelope(raw)
	if err != nil {
		return nil, err
	}
	keyring, err := seal.Unlock(env, password)
	if err != nil {
		return nil, err
	}
	warnPasswordless(log, env)
	return keyring, nil
}

func warnPasswordless(log *slog.Logger, env *seal.Envelope) {
	if env.Mode == seal.ModeNone {
		log.Warn("RUNNING WITHOUT A MASTER PASSWORD: the data encryption key is stored unprotected next to the data. " +
			"Anyone who can read the data directory can read every credential. " +
			"Set one with `agent-vault master-password set` (server stopped), then start with AGENT_VAULT_MASTER_PASSWORD.")
	}
}

// Envelope reads the stored key envelope.
func Envelope(ctx context.Context, st *store.Store) (*seal.Envelope, error) {
	raw, ok, err := st.Meta(ctx, envelopeKey)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, domain.Errorf(domain.CodeNotFound, "this data directory has no key envelope yet; start the server once")
	}
	return seal.DecodeEnvelope(raw)
}

// PutEnvelope replaces the stored key envelope (master-password changes).
func PutEnvelope(ctx context.Context, st *store.Store, env *seal.Envelope) error {
	b, err := json.Marshal(env)
	if err != nil {
		return err
	}
	return st.PutMeta(ctx, envelopeKey, b)
}

// withUI serves the API's paths with the API handler and everything else
// with the embedded browser UI, on the same listener.
func withUI(apiHandler http.Handler) http.Handler {
	mux := http.NewServeMux()
	for _, p := range []string{"/v1/", "/health", "/ready", "/metrics", "/discover", "/openapi.json", "/openapi.yaml", "/openapi-3.0.json", "/openapi-3.0.yaml"} {
		mux.Handle(p, apiHandler)
	}
	mux.Handle("/", web.Handler())
	return mux
}

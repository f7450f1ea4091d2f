package cli

import (
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/agent-vault/agent-vault/host/proxy"
	"github.com/agent-vault/agent-vault/host/requestlog"
	"github.com/agent-vault/agent-vault/host/server"
)

// masterPasswordEnv is read once; the server then re-executes itself
// without it (server_password.go), so the process's environment block,
// children and crash dumps never hold it.
const masterPasswordEnv = "AGENT_VAULT_MASTER_PASSWORD"

type serverCmd struct {
	Host               string        `default:"127.0.0.1" env:"AGENT_VAULT_HOST" help:"Address to listen on."`
	Port               int           `default:"14321" env:"PORT" help:"Port of the HTTP API and UI."`
	MITMPort           int           `name:"mitm-port" default:"14322" env:"AGENT_VAULT_MITM_PORT" help:"Port of the proxy (0 disables it; -1 picks a free port)."`
	DataDir            string        `default:"~/.agent-vault" env:"AGENT_VAULT_DATA_DIR" type:"path" help:"Directory holding the database and caches."`
	DatabaseURL        string        `name:"database-url" env:"AGENT_VAULT_DATABASE_URL" help:"PostgreSQL database (postgres://…) shared by several replicas; unset keeps the database in --data-dir."`
	LogLevel           string        `default:"info" enum:"debug,info,warn,error" env:"AGENT_VAULT_LOG_LEVEL" help:"Least severe log level written (debug, info, warn, error)."`
	PasswordStdin      bool          `help:"Read the master password from the first line of standard input instead of AGENT_VAULT_MASTER_PASSWORD."`
	PasswordFile       string        `name:"password-file" env:"AGENT_VAULT_MASTER_PASSWORD_FILE" type:"path" help:"Read the master password from this file (its first line)."`
	PasswordFD         int           `name:"password-fd" default:"-1" hidden:"" help:"Read the master password from this inherited file descriptor (used when the server re-executes itself)."`
	AllowPrivateRanges bool          `env:"AGENT_VAULT_ALLOW_PRIVATE_RANGES" help:"Let services and upstreams use private, loopback and link-local addresses."`
	PluginDir          string        `name:"plugin-dir" env:"AGENT_VAULT_PLUGIN_DIR" type:"path" help:"Directory of third-party credential-store plugins (*.wasm)."`
	PluginGrants       string        `name:"plugin-grants" env:"AGENT_VAULT_PLUGIN_GRANTS" type:"path" help:"JSON file granting store plugins their environment variables, files and HTTP origins; a plugin in --plugin-dir loads only when it is named here with its sha256."`
	PluginIdleRelease  time.Duration `name:"plugin-idle-release" default:"2m" env:"AGENT_VAULT_PLUGIN_IDLE_RELEASE" help:"Free a store plugin's compiled code after it has been idle this long; the next use reloads it from the cache (0 keeps plugins loaded)."`
	UpstreamCAFile     string        `name:"upstream-ca-file" env:"AGENT_VAULT_UPSTREAM_CA_FILE" type:"path" help:"PEM file of extra root certificates trusted for upstream TLS, by the proxy and by store plugins (e.g. the CA of an OpenBao server)."`
	MinPollInterval    time.Duration `name:"min-poll-interval" default:"10s" env:"AGENT_VAULT_MIN_POLL_INTERVAL" help:"Shortest sync cadence a vault connected to an external store may ask for (whole seconds)."`
	LeaseOwnerTTL      time.Duration `name:"lease-owner-ttl" default:"15s" env:"AGENT_VAULT_LEASE_OWNER_TTL" help:"Replicas on PostgreSQL: how long a replica may go without a heartbeat before another takes over the dynamic-secret leases it owns."`
	TunnelMaxLifetime  time.Duration `name:"tunnel-max-lifetime" default:"1h" env:"AGENT_VAULT_TUNNEL_MAX_LIFETIME" help:"Close a proxy CONNECT tunnel or upgraded (websocket) connection this long after it opened; the client reconnects and authenticates afresh (0: no limit)."`
	PublicURL          string        `name:"public-url" env:"AGENT_VAULT_PUBLIC_URL" placeholder:"URL" help:"The address people and agents reach the API and UI at (e.g. https://vault.example.com), used in links the server hands out: invites, proposal reviews, notifications (default: the listening address). Its host is answered to like --allowed-hosts."`
	AllowedHosts       []string      `name:"allowed-hosts" env:"AGENT_VAULT_ALLOWED_HOSTS" help:"Host names the API answers to besides IP addresses and localhost (comma-separated; *.example.com for subdomains), e.g. the public name of a reverse proxy."`
	APIMaxConns        int           `name:"api-max-conns" env:"AGENT_VAULT_API_MAX_CONNS" help:"Most client connections the API holds open (0: 1024, less when the file-descriptor limit is low)."`
	APIMaxConnsPerAddr int           `name:"api-max-conns-per-address" default:"64" env:"AGENT_VAULT_API_MAX_CONNS_PER_ADDRESS" help:"Most API connections one client address holds open; more are closed at once (0 turns the cap off, e.g. behind a reverse proxy whose address all clients share)."`
	ProxyMaxConns      int           `name:"proxy-max-conns" env:"AGENT_VAULT_PROXY_MAX_CONNS" help:"Most client connections the proxy holds open (0: 4096, less when the file-descriptor limit is low)."`
	ProxyRatePerAgent  float64       `name:"proxy-rate-per-agent" default:"1000" env:"AGENT_VAULT_PROXY_RATE_PER_AGENT" help:"Proxy requests per second per token (agent, user or scoped session), with bursts of twice as many; 0 turns the limit off."`
	ProxyRatePerVault  float64       `name:"proxy-rate-per-vault" default:"5000" env:"AGENT_VAULT_PROXY_RATE_PER_VAULT" help:"Proxy requests per second per vault, with bursts of twice as many; 0 turns the limit off."`
	AuditFile          string        `name:"audit-file" env:"AGENT_VAULT_AUDIT_FILE" placeholder:"PATH|-" help:"Also append every audit entry to this file as a JSON line (- for standard output), for a SIEM."`
	AuditMaxAge        string        `name:"audit-max-age" default:"0" env:"AGENT_VAULT_AUDIT_MAX_AGE" help:"Prune audit entries older than this (400d, 9000h); 0 keeps them all. Export them first ('agent-vault audit export'), or set --audit-archive."`
	AuditArchive       string        `name:"audit-archive" env:"AGENT_VAULT_AUDIT_ARCHIVE" placeholder:"PATH" help:"Append the audit entries --audit-max-age prunes to this file first, as JSON lines ('audit verify --file' checks it); nothing is pruned when it cannot be written."`
	MemoryLimit        string        `name:"memory-limit" default:"40MiB" env:"AGENT_VAULT_MEMORY_LIMIT" help:"Soft limit on the memory the Go runtime holds (e.g. 40MiB, 1GiB): past it, garbage is collected sooner rather than kept. It is not a cap: a larger live heap still grows. 0 turns it off; GOMEMLIMIT, when set, wins."`
	Metrics            bool          `default:"true" negatable:"" env:"AGENT_VAULT_METRICS" help:"Collect Prometheus metrics, served at GET /metrics on the API port to instance owners (--no-metrics turns them off)."`
	MetricsAddr        string        `name:"metrics-addr" env:"AGENT_VAULT_METRICS_ADDR" help:"Also serve GET /metrics on this address (host:port) without authentication, for a scraper on a private network."`
}

func (c *serverCmd) Help() string {
	return `Runs the host: the HTTP API (and UI) on --port and the proxy on --mitm-port.
The database is a SQLite file in --data-dir, or the PostgreSQL database of
--database-url, which several replicas may share. Without a master password the
data encryption key is stored unprotected and the server says so loudly.`
}

func (c *serverCmd) Run(e *env) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(e.Stderr, &slog.HandlerOptions{Level: level}))
	if err := applyMemoryLimit(c.MemoryLimit, log); err != nil {
		return err
	}
	var auditMaxAge time.Duration
	if c.AuditMaxAge != "0" && c.AuditMaxAge != "" {
		d, err := requestlog.ParseAge(c.AuditMaxAge)
		if err != nil {
			return usageErrorf("--audit-max-age: %v", err)
		}
		auditMaxAge = d
	}
	password, err := c.masterPassword(e, log)
	if err != nil {
		return err
	}
	return server.Run(e.Ctx, server.Config{
		Host:                  c.Host,
		Port:                  c.Port,
		MITMPort:              c.MITMPort,
		DataDir:               expandHome(c.DataDir),
		DatabaseURL:           c.DatabaseURL,
		MasterPassword:        password,
		AllowPrivateRanges:    c.AllowPrivateRanges,
		UpstreamCAFile:        c.UpstreamCAFile,
		PluginDir:             c.PluginDir,
		PluginGrantsFile:      c.PluginGrants,
		PluginIdleRelease:     c.PluginIdleRelease,
		TunnelMaxLifetime:     c.TunnelMaxLifetime,
		MinPollInterval:       c.MinPollInterval,
		LeaseOwnerTTL:         c.LeaseOwnerTTL,
		AllowedHosts:          c.AllowedHosts,
		PublicURL:             c.PublicURL,
		APIMaxConns:           c.APIMaxConns,
		ProxyMaxConns:         c.ProxyMaxConns,
		APIMaxConnsPerAddress: capOrOff(c.APIMaxConnsPerAddr),
		ProxyRateLimits:       proxy.RateLimits{PerActor: rateOrOff(c.ProxyRatePerAgent), PerVault: rateOrOff(c.ProxyRatePerVault)},
		AuditFile:             c.AuditFile,
		AuditMaxAge:           auditMaxAge,
		AuditArchive:          c.AuditArchive,
		MetricsOff:            !c.Metrics,
		MetricsAddr:           c.MetricsAddr,
		Logger:                log,
	})
}

// applyMemoryLimit sets the Go runtime's soft memory limit. The broker's
// live heap is small (tens of MiB), but a plugin compile or a large store
// sync leaves as much garbage again, and without a limit the heap's next
// GC goal is twice its peak: the process would carry that garbage until
// the heap grew again. The runtime's own guard (GC uses at most half the
// CPU when the live heap outgrows the limit) keeps a low limit from
// starving a large deployment; such a deployment should raise it.
func applyMemoryLimit(value string, log *slog.Logger) error {
	if os.Getenv("GOMEMLIMIT") != "" {
		return nil // the runtime read it at start
	}
	n, err := humanize.ParseBytes(value)
	if err != nil || n > math.MaxInt64 {
		return fmt.Errorf("--memory-limit %q is not a size such as 40MiB or 1GiB (0 turns it off)", value)
	}
	if n == 0 {
		return nil
	}
	debug.SetMemoryLimit(int64(n))
	log.Debug("soft memory limit set", "bytes", n)
	return nil
}

// rateOrOff maps the flag's "0 turns it off" to the server's negative rate
// (the server reads zero as "default").
func rateOrOff(perSecond float64) float64 {
	if perSecond <= 0 {
		return -1
	}
	return perSecond
}

// capOrOff maps the flag's "0 turns it off" to the server's negative cap.
func capOrOff(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}

// expandHome turns a leading ~ into the home directory (kong's path type
// does this for flags, not for defaults read from the environment).
func expandHome(p string) string {
	if rest, ok := strings.CutPrefix(p, "~"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	return p
}

// Package metrics owns the server's Prometheus registry: every metric's
// name, help and labels are defined here, and the rest of the host feeds it
// through small hooks (proxy.Metrics, credstore.Observer, the plugin
// runtime's Observe) or through counters it reads when scraped (Sources).
//
// Label values are bounded: a vault label carries only a vault's name, a
// service label only a configured service's name, a plugin label only a
// loaded store kind; methods, statuses and outcomes are folded into small
// closed sets. No path, host, token or value ever becomes a label.
package metrics

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/agent-vault/agent-vault/host/version"
)

// Namespace prefixes every metric the host defines.
const Namespace = "agent_vault"

// Metrics is the registry and the host's metric definitions. Create it with
// New; its methods are safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry
	log *slog.Logger

	srcMu sync.RWMutex
	src   Sources

	requests *prometheus.CounterVec   // vault, service, method, status_class, outcome
	duration *prometheus.HistogramVec // vault
	added    *prometheus.HistogramVec // vault

	syncs       *prometheus.CounterVec   // vault, kind, outcome
	syncSeconds *prometheus.HistogramVec // kind
	leases      *prometheus.CounterVec   // vault, kind, event
	pluginCalls *prometheus.CounterVec   // plugin, export, result
	pluginTime  *prometheus.HistogramVec // plugin, export

	// vaults holds the proxy's resolved series per vault name, replaced
	// whole (copy on write) when a vault is first seen, so the request
	// path reads it without locks or allocations.
	vaults atomic.Pointer[map[string]*vaultSeries]
	mu     sync.Mutex // serializes writers of vaults

	scrapeErrors atomic.Uint64

	namesMu sync.Mutex
	names   map[string]string // vault id → name, read at the last Gather
}

// Buckets of the proxy's histograms, in seconds. The proxy's own work is
// tens of microseconds to milliseconds (a lease mint: a round trip to the
// store); a whole request may wait minutes for a model to answer.
var (
	addedBuckets    = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}
	durationBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300}
	syncBuckets     = []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}
	pluginBuckets   = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
)

// New builds the registry with the Go runtime and process collectors and
// the host's metrics; SetSources adds the scrape-time readings. log
// receives scrape failures; nil discards them.
func New(log *slog.Logger) *Metrics {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{reg: prometheus.NewRegistry(), log: log}
	empty := map[string]*vaultSeries{}
	m.vaults.Store(&empty)

	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "proxy", Name: "requests_total",
		Help: "Proxied requests by vault, matched service, method class (read, write, other), status class sent to the client and outcome.",
	}, []string{"vault", "service", "method", "status_class", "outcome"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: "proxy", Name: "request_duration_seconds",
		Help: "Time from a proxied request's arrival to the end of its response, upstream included.", Buckets: durationBuckets,
	}, []string{"vault"})
	m.added = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: "proxy", Name: "added_duration_seconds",
		Help: "Time the proxy worked on a forwarded request before the upstream saw it (authentication, matching, credentials, injection).", Buckets: addedBuckets,
	}, []string{"vault"})
	m.syncs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "store", Name: "syncs_total",
		Help: "Syncs of external credential stores by vault, store kind and outcome (ok, error, discarded).",
	}, []string{"vault", "kind", "outcome"})
	m.syncSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: "store", Name: "sync_duration_seconds",
		Help: "How long a sync took, fetch to apply, by store kind.", Buckets: syncBuckets,
	}, []string{"kind"})
	m.leases = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "store", Name: "lease_events_total",
		Help: "Dynamic-secret lease events by vault, store kind and event (minted, renewed, reminted, revoked, mint_failed, renew_failed, revoke_failed).",
	}, []string{"vault", "kind", "event"})
	m.pluginCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "plugin", Name: "calls_total",
		Help: "Calls into store plugins by plugin kind, export and result (ok, error, trap, timeout, limit).",
	}, []string{"plugin", "export", "result"})
	m.pluginTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: "plugin", Name: "call_duration_seconds",
		Help: "How long calls into store plugins took, by plugin kind and export.", Buckets: pluginBuckets,
	}, []string{"plugin", "export"})
	buildInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "build_info", Help: "The server build's version; always 1.",
	}, []string{"version"})
	buildInfo.WithLabelValues(version.Version).Set(1)

	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.duration, m.added, m.syncs, m.syncSeconds, m.leases, m.pluginCalls, m.pluginTime, buildInfo,
		&scraped{m: m},
	)
	return m
}

// SetSources replaces what scrapes read (see Sources). The server sets the
// database's sources first and adds the proxy's once it runs.
func (m *Metrics) SetSources(src Sources) {
	m.srcMu.Lock()
	m.src = src
	m.srcMu.Unlock()
}

// Sources returns what scrapes read now.
func (m *Metrics) Sources() Sources {
	m.srcMu.RLock()
	defer m.srcMu.RUnlock()
	return m.src
}

// Registry is the registry, for tests and for callers that add collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the exposition format (the --metrics-addr listener).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(m.log.Handler(), slog.LevelWarn)})
}

// WriteText gathers every metric and writes it in the text exposition
// format, version 0.0.4 (GET /metrics on the API port).
func (m *Metrics) WriteText(w io.Writer) error {
	mfs, err := m.Gather()
	if err != nil {
		m.log.Warn("gathering metrics", "error", err)
		if len(mfs) == 0 {
			return err
		}
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return err
		}
	}
	_, err = w.Write(buf.Bytes())
	return err
}

// Gather reads the vaults first, forgetting the series of those gone,
// then gathers every collector (prometheus.Gatherer).
func (m *Metrics) Gather() ([]*dto.MetricFamily, error) {
	m.refreshVaults()
	return m.reg.Gather()
}

// refreshVaults lists the vaults for the scrape-time series and drops the
// series of vaults that no longer exist.
func (m *Metrics) refreshVaults() {
	list := m.Sources().Vaults
	if list == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	names, err := list(ctx)
	if err != nil {
		m.log.Warn("metrics: listing vaults", "error", err)
		m.scrapeErrors.Add(1)
		names = nil
	}
	m.namesMu.Lock()
	m.names = names
	m.namesMu.Unlock()
	if err != nil {
		return
	}
	live := make(map[string]bool, len(names))
	for _, n := range names {
		live[n] = true
	}
	m.forget(live)
}

func (m *Metrics) vaultNames() map[string]string {
	m.namesMu.Lock()
	defer m.namesMu.Unlock()
	return m.names
}

// scrapeTimeout bounds the database reads of one scrape.
const scrapeTimeout = 5 * time.Second

// forget drops the series of vaults that no longer exist (deleted or
// renamed), so their names stop being labels. It runs at scrape time.
func (m *Metrics) forget(live map[string]bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := *m.vaults.Load()
	var gone []string
	for name := range cur {
		if name != "" && !live[name] {
			gone = append(gone, name)
		}
	}
	if len(gone) == 0 {
		return
	}
	next := maps.Clone(cur)
	for _, name := range gone {
		delete(next, name)
		l := prometheus.Labels{"vault": name}
		m.requests.DeletePartialMatch(l)
		m.duration.DeletePartialMatch(l)
		m.added.DeletePartialMatch(l)
		m.syncs.DeletePartialMatch(l)
		m.leases.DeletePartialMatch(l)
	}
	m.vaults.Store(&next)
}

// vaultName resolves a vault id for a store event's label; "" when the
// vault is gone or the lookup failed.
func (m *Metrics) vaultName(id string) string {
	lookup := m.Sources().VaultName
	if lookup == nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	name, err := lookup(ctx, id)
	if err != nil {
		return ""
	}
	return name
}

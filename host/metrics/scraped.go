package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/agent-vault/agent-vault/host/loginguard"
	"github.com/agent-vault/agent-vault/host/proxy"
	"github.com/agent-vault/agent-vault/host/requestlog"
	"github.com/agent-vault/agent-vault/host/store"
)

// Sources are what a scrape reads from the rest of the host: counters the
// owners keep anyway, so nothing on their paths calls into metrics. A nil
// field leaves its metrics out (the proxy is off, say).
type Sources struct {
	Proxy      func() proxy.Stats
	TLSLeaves  func() (minted, cacheHits int64)
	RequestLog func() requestlog.Stats
	Logins     func() loginguard.ThrottleStats
	// ActiveLeases counts live leases by vault id.
	ActiveLeases func() map[string]int
	// Stores lists the external stores (their last good sync).
	Stores func(ctx context.Context) ([]store.CredentialStore, error)
	// Vaults maps every vault's id to its name; vaults missing from it have
	// their series forgotten.
	Vaults func(ctx context.Context) (map[string]string, error)
	// VaultName resolves one vault id, for the labels of store events.
	VaultName func(ctx context.Context, id string) (string, error)
	// Now is the clock of the sync ages; nil means time.Now.
	Now func() time.Time
}

func desc(subsystem, name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(Namespace, subsystem, name), help, labels, nil)
}

var (
	descDials      = desc("proxy", "upstream_dials_total", "Upstream connections the proxy dialled.")
	descReused     = desc("proxy", "upstream_reused_total", "Proxied requests sent on a pooled (kept-alive) upstream connection.")
	descTunnels    = desc("proxy", "tunnels_active", "CONNECT tunnels open now.")
	descWebSockets = desc("proxy", "websockets_active", "Upgraded (websocket) connections open now.")
	descLeafMints  = desc("tls", "leaf_mints_total", "Leaf certificates minted for intercepted hosts.")
	descLeafHits   = desc("tls", "leaf_cache_hits_total", "Intercepted TLS handshakes served a cached leaf certificate.")
	descLogQueue   = desc("request_log", "queue_depth", "Request-log events waiting to be written.")
	descLogDropped = desc("request_log", "dropped_total", "Request-log events dropped because the queue was full.")
	descLogWritten = desc("request_log", "written_total", "Request-log rows written.")
	descLogFailed  = desc("request_log", "failed_total", "Request-log rows lost to a failed write.")
	descLoginFail  = desc("login", "failures_total", "Failed sign-ins (wrong password or unknown email).")
	descLoginThrot = desc("login", "throttled_total", "Sign-ins refused while their account or address was backing off.")
	descLeasesLive = desc("store", "leases_active", "Dynamic-secret leases this instance holds now, by vault.", "vault")
	descSyncAge    = desc("store", "last_good_sync_age_seconds", "Seconds since an external store last synced successfully, by vault and kind.", "vault", "kind")
	descScrapeErr  = desc("scrape", "errors_total", "Database reads of a scrape that failed (sync ages and vault names are then missing).")
)

// scraped is the collector of the scrape-time readings.
type scraped struct{ m *Metrics }

func (s *scraped) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descDials, descReused, descTunnels, descWebSockets, descLeafMints, descLeafHits,
		descLogQueue, descLogDropped, descLogWritten, descLogFailed, descLoginFail, descLoginThrot, descLeasesLive, descSyncAge, descScrapeErr} {
		ch <- d
	}
}

func (s *scraped) Collect(ch chan<- prometheus.Metric) {
	src := s.m.Sources()
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	if src.Proxy != nil {
		st := src.Proxy()
		counter(descDials, float64(st.UpstreamDials))
		counter(descReused, float64(st.UpstreamReused))
		gauge(descTunnels, float64(st.ActiveTunnels))
		gauge(descWebSockets, float64(st.ActiveWebSockets))
	}
	if src.TLSLeaves != nil {
		minted, hits := src.TLSLeaves()
		counter(descLeafMints, float64(minted))
		counter(descLeafHits, float64(hits))
	}
	if src.RequestLog != nil {
		st := src.RequestLog()
		gauge(descLogQueue, float64(st.Queued))
		counter(descLogDropped, float64(st.Dropped))
		counter(descLogWritten, float64(st.Written))
		counter(descLogFailed, float64(st.Failed))
	}
	if src.Logins != nil {
		st := src.Logins()
		counter(descLoginFail, float64(st.Failures))
		counter(descLoginThrot, float64(st.Refused))
	}
	names := s.m.vaultNames()
	defer func() { counter(descScrapeErr, float64(s.m.scrapeErrors.Load())) }()
	if names == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	if src.ActiveLeases != nil {
		for id, n := range src.ActiveLeases() {
			if name, ok := names[id]; ok {
				gauge(descLeasesLive, float64(n), name)
			}
		}
	}
	if src.Stores != nil {
		stores, err := src.Stores(ctx)
		if err != nil {
			s.m.log.Warn("metrics: listing external stores", "error", err)
			s.m.scrapeErrors.Add(1)
		}
		now := time.Now
		if src.Now != nil {
			now = src.Now
		}
		for _, cs := range stores {
			name, ok := names[cs.VaultID]
			if !ok || cs.LastOKAt == nil {
				continue
			}
			gauge(descSyncAge, max(now().Sub(*cs.LastOKAt).Seconds(), 0), name, cs.Kind)
		}
	}
}

package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/agent-vault/agent-vault/host/credstore"
	"github.com/agent-vault/agent-vault/host/loginguard"
	"github.com/agent-vault/agent-vault/host/metrics"
	"github.com/agent-vault/agent-vault/host/proxy"
	"github.com/agent-vault/agent-vault/host/store"
)

// newMetrics builds the registry when metrics are on (nil when off) with
// the database's sources; Run adds the others once they exist.
func newMetrics(cfg Config, st *store.Store) *metrics.Metrics {
	if cfg.MetricsOff {
		return nil
	}
	m := metrics.New(cfg.Logger)
	m.SetSources(dbSources(st))
	return m
}

func dbSources(st *store.Store) metrics.Sources {
	return metrics.Sources{
		Stores: st.ExternalStores,
		Vaults: func(ctx context.Context) (map[string]string, error) {
			vs, err := st.ListVaults(ctx, "", "", true)
			if err != nil {
				return nil, err
			}
			out := make(map[string]string, len(vs))
			for _, v := range vs {
				out[v.ID] = v.Name
			}
			return out, nil
		},
		VaultName: func(ctx context.Context, id string) (string, error) {
			v, err := st.VaultByID(ctx, id)
			return v.Name, err
		},
	}
}

// addRuntimeSources adds the counters of the running parts to m's sources.
func addRuntimeSources(m *metrics.Metrics, stores *credstore.Manager, logins *loginguard.Throttle, mitm *proxyListener) {
	src := m.Sources()
	src.ActiveLeases = stores.ActiveLeases
	src.Logins = logins.Stats
	if mitm != nil {
		src.Proxy, src.TLSLeaves, src.RequestLog = mitm.proxy.Stats, mitm.ca.Stats, mitm.sink.Stats
	}
	m.SetSources(src)
}

// The hooks of each part, nil (no measuring) when metrics are off; a nil
// *Metrics must not become a non-nil interface.
func proxyMetrics(m *metrics.Metrics) proxy.Metrics {
	if m == nil {
		return nil
	}
	return m
}

func storeObserver(m *metrics.Metrics) credstore.Observer {
	if m == nil {
		return nil
	}
	return m
}

func pluginObserver(m *metrics.Metrics) func(string, string, time.Duration, error) {
	if m == nil {
		return nil
	}
	return m.PluginCall
}

// serveMetrics serves GET /metrics without authentication on addr, for a
// scraper on a private network; the API port serves it to owners.
func serveMetrics(addr string, m *metrics.Metrics, log *slog.Logger, errc chan<- error) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening for metrics on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("metrics: %w", err)
		}
	}()
	log.Info("serving metrics without authentication", "address", "http://"+ln.Addr().String()+"/metrics")
	return srv, nil
}

package metrics

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/agent-vault/agent-vault/host/loginguard"
	"github.com/agent-vault/agent-vault/host/plugin"
	"github.com/agent-vault/agent-vault/host/proxy"
	"github.com/agent-vault/agent-vault/host/requestlog"
	"github.com/agent-vault/agent-vault/host/store"
	"github.com/agent-vault/agent-vault/sdk/abi"
)

// series is one gathered sample: its labels and value (a counter's or a
// gauge's value, a histogram's count).
type series struct {
	labels map[string]string
	value  float64
}

func gather(t *testing.T, reg prometheus.Gatherer, name string) []series {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []series
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			s := series{labels: map[string]string{}}
			for _, l := range m.GetLabel() {
				s.labels[l.GetName()] = l.GetValue()
			}
			s.value = sampleValue(m)
			out = append(out, s)
		}
	}
	return out
}

func sampleValue(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return 0
}

// value is the sample of name whose labels include want; -1 when absent.
func value(t *testing.T, reg prometheus.Gatherer, name string, want map[string]string) float64 {
	t.Helper()
	for _, s := range gather(t, reg, name) {
		ok := true
		for k, v := range want {
			ok = ok && s.labels[k] == v
		}
		if ok {
			return s.value
		}
	}
	return -1
}

func TestRequestLabels(t *testing.T) {
	tests := []struct {
		name string
		ev   proxy.Event
		want map[string]string
	}{
		{"injected", proxy.Event{VaultName: "v", Service: "stripe", Method: "GET", Status: 200, Keys: []string{"K"}},
			map[string]string{"vault": "v", "service": "stripe", "method": "read", "status_class": "2xx", "outcome": "injected"}},
		{"passthrough-write", proxy.Event{VaultName: "v", Method: "POST", Status: 201},
			map[string]string{"vault": "v", "service": "", "method": "write", "status_class": "2xx", "outcome": "passthrough"}},
		{"invented-method", proxy.Event{VaultName: "v", Method: "BREW", Status: 502, Error: "upstream_unreachable"},
			map[string]string{"method": "other", "status_class": "5xx", "outcome": "upstream_error"}},
		{"proxy-auth", proxy.Event{Method: "CONNECT", Status: 407, Error: "proxy_auth_required"},
			map[string]string{"vault": "", "method": "other", "status_class": "4xx", "outcome": "auth_required"}},
		{"netguard", proxy.Event{VaultName: "v", Method: "GET", Status: 403, Error: "destination_blocked"},
			map[string]string{"outcome": "netguard_blocked", "status_class": "4xx"}},
		{"client-gone", proxy.Event{VaultName: "v", Method: "GET", Status: 499, Error: "client_closed"},
			map[string]string{"outcome": "bad_request"}},
		{"nothing-sent", proxy.Event{VaultName: "v", Method: "GET", Status: 0, Error: "internal_error"},
			map[string]string{"status_class": "none", "outcome": "error"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := New(nil)
			m.Request(&tc.ev, 0)
			m.Request(&tc.ev, time.Millisecond)
			if got := value(t, m, "agent_vault_proxy_requests_total", tc.want); got != 2 {
				t.Fatalf("requests_total%v = %v, want 2; all: %+v", tc.want, got, gather(t, m, "agent_vault_proxy_requests_total"))
			}
			if got := value(t, m, "agent_vault_proxy_added_duration_seconds", map[string]string{"vault": tc.ev.VaultName}); got != 1 {
				t.Fatalf("added_duration count %v, want 1 (only requests that reached an upstream)", got)
			}
		})
	}
}

// The proxy calls Request on every request: after a vault's and a
// service's first request it must not allocate.
func TestRequestAllocatesNothing(t *testing.T) {
	m := New(nil)
	ev := proxy.Event{VaultName: "v", Service: "s", Method: "GET", Status: 200, Keys: []string{"K"}, Latency: time.Millisecond}
	m.Request(&ev, time.Microsecond)
	if n := testing.AllocsPerRun(1000, func() { m.Request(&ev, time.Microsecond) }); n != 0 {
		t.Fatalf("Request allocates %.1f times per call", n)
	}
}

func BenchmarkRequest(b *testing.B) {
	m := New(nil)
	ev := proxy.Event{VaultName: "v", Service: "s", Method: "GET", Status: 200, Keys: []string{"K"}, Latency: time.Millisecond}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Request(&ev, time.Microsecond)
		}
	})
}

func TestForgetDropsGoneVaults(t *testing.T) {
	m := New(nil)
	names := map[string]string{"id-a": "a", "id-b": "b"}
	m.SetSources(Sources{Vaults: func(context.Context) (map[string]string, error) { return names, nil }})
	for _, v := range []string{"a", "b"} {
		m.Request(&proxy.Event{VaultName: v, Method: "GET", Status: 200}, 0)
	}
	m.Request(&proxy.Event{Method: "GET", Status: 407}, 0) // the unauthenticated series stays
	delete(names, "id-b")                                  // b deleted (or renamed)
	got := map[string]bool{}
	for _, s := range gather(t, m, "agent_vault_proxy_requests_total") {
		got[s.labels["vault"]] = true
	}
	if !got["a"] || got["b"] || !got[""] {
		t.Fatalf("vault labels after b went away: %v", got)
	}
	// b comes back: counted afresh, not lost to a stale cached series.
	m.Request(&proxy.Event{VaultName: "b", Method: "GET", Status: 200}, 0)
	names["id-b"] = "b"
	if v := value(t, m, "agent_vault_proxy_requests_total", map[string]string{"vault": "b"}); v != 1 {
		t.Fatalf("b after coming back: %v, want 1", v)
	}
}

func TestPluginResult(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"ok", nil, "ok"},
		{"guest", &plugin.Error{Class: plugin.ClassGuest, Code: "external_unreachable"}, "error"},
		{"trap", &plugin.Error{Class: plugin.ClassTrap, Code: abi.CodePluginTrap}, "trap"},
		{"timeout", &plugin.Error{Class: plugin.ClassLimit, Code: abi.CodePluginTimeout}, "timeout"},
		{"memory", &plugin.Error{Class: plugin.ClassLimit, Code: abi.CodePluginMemoryLimit}, "limit"},
		{"other", errors.New("boom"), "error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := pluginResult(tc.err); got != tc.want {
				t.Fatalf("pluginResult = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestStoreEvents(t *testing.T) {
	m := New(nil)
	m.SetSources(Sources{VaultName: func(_ context.Context, id string) (string, error) {
		if id == "id-1" {
			return "billing", nil
		}
		return "", errors.New("no such vault")
	}})
	m.Synced("id-1", "infisical", "ok", 20*time.Millisecond)
	m.Synced("id-1", "infisical", "error", time.Second)
	m.Lease("id-1", "infisical", "minted")
	m.Lease("gone", "infisical", "revoked")
	m.PluginCall("infisical", "sync", time.Millisecond, nil)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"agent_vault_store_syncs_total", map[string]string{"vault": "billing", "kind": "infisical", "outcome": "ok"}, 1},
		{"agent_vault_store_syncs_total", map[string]string{"vault": "billing", "outcome": "error"}, 1},
		{"agent_vault_store_sync_duration_seconds", map[string]string{"kind": "infisical"}, 2},
		{"agent_vault_store_lease_events_total", map[string]string{"vault": "billing", "event": "minted"}, 1},
		{"agent_vault_store_lease_events_total", map[string]string{"vault": "", "event": "revoked"}, 1},
		{"agent_vault_plugin_calls_total", map[string]string{"plugin": "infisical", "export": "sync", "result": "ok"}, 1},
	} {
		if got := value(t, m, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}

func TestScrapedSources(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	good := now.Add(-90 * time.Second)
	m := New(nil)
	m.SetSources(Sources{
		Proxy: func() proxy.Stats {
			return proxy.Stats{UpstreamDials: 3, UpstreamReused: 7, ActiveTunnels: 2, ActiveWebSockets: 1}
		},
		TLSLeaves:  func() (int64, int64) { return 4, 40 },
		RequestLog: func() requestlog.Stats { return requestlog.Stats{Written: 10, Dropped: 2, Queued: 5} },
		Logins:     func() loginguard.ThrottleStats { return loginguard.ThrottleStats{Failures: 6, Refused: 1} },
		ActiveLeases: func() map[string]int {
			return map[string]int{"id-1": 2, "id-gone": 9}
		},
		Stores: func(context.Context) ([]store.CredentialStore, error) {
			return []store.CredentialStore{{VaultID: "id-1", Kind: "infisical", LastOKAt: &good}, {VaultID: "id-2", Kind: "openbao"}}, nil
		},
		Vaults: func(context.Context) (map[string]string, error) {
			return map[string]string{"id-1": "billing", "id-2": "pay"}, nil
		},
		Now: func() time.Time { return now },
	})
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"agent_vault_proxy_upstream_dials_total", nil, 3},
		{"agent_vault_proxy_upstream_reused_total", nil, 7},
		{"agent_vault_proxy_tunnels_active", nil, 2},
		{"agent_vault_proxy_websockets_active", nil, 1},
		{"agent_vault_tls_leaf_mints_total", nil, 4},
		{"agent_vault_tls_leaf_cache_hits_total", nil, 40},
		{"agent_vault_request_log_queue_depth", nil, 5},
		{"agent_vault_request_log_dropped_total", nil, 2},
		{"agent_vault_login_failures_total", nil, 6},
		{"agent_vault_login_throttled_total", nil, 1},
		{"agent_vault_store_leases_active", map[string]string{"vault": "billing"}, 2},
		{"agent_vault_store_last_good_sync_age_seconds", map[string]string{"vault": "billing", "kind": "infisical"}, 90},
		{"agent_vault_store_last_good_sync_age_seconds", map[string]string{"vault": "pay"}, -1}, // never synced well: no sample
		{"agent_vault_scrape_errors_total", nil, 0},
	} {
		if got := value(t, m, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if n := len(gather(t, m, "agent_vault_store_leases_active")); n != 1 {
		t.Errorf("%d leases_active series; a vault that is gone must not be labelled", n)
	}
}

func TestWriteTextExposition(t *testing.T) {
	m := New(nil)
	m.Request(&proxy.Event{VaultName: "v", Method: "GET", Status: 200}, time.Millisecond)
	var buf bytes.Buffer
	if err := m.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"# TYPE agent_vault_proxy_requests_total counter\n",
		`agent_vault_proxy_requests_total{method="read",outcome="passthrough",service="",status_class="2xx",vault="v"} 1` + "\n",
		"# TYPE go_goroutines gauge\n",
		"# TYPE process_resident_memory_bytes gauge\n",
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("exposition lacks %q", want)
		}
	}
}

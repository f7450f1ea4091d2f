package metrics

import (
	"maps"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/proxy"
)

// The label sets of agent_vault_proxy_requests_total are closed; their
// positions index a service's resolved counters.
var (
	methodClasses = []string{"read", "write", "other"}
	statusLabels  = []string{"none", "1xx", "2xx", "3xx", "4xx", "5xx"}
)

const (
	nMethods  = 3
	nStatuses = 6
	nOutcomes = 9
)

// vaultSeries is a vault's resolved proxy series.
type vaultSeries struct {
	name     string
	duration prometheus.Observer
	added    prometheus.Observer
	// services maps a service name ("" for no match) to its counters,
	// copied on write like Metrics.vaults.
	services atomic.Pointer[map[string]*serviceSeries]
}

// serviceSeries holds a (vault, service) pair's counters, resolved on
// first use: a label combination that never happens is never exported.
type serviceSeries struct {
	counters [nMethods][nStatuses][nOutcomes]atomic.Pointer[counterBox]
}

type counterBox struct{ c prometheus.Counter }

// Request records one finished proxied request. After a vault's and a
// service's first request it takes no lock and allocates nothing.
func (m *Metrics) Request(ev *proxy.Event, added time.Duration) {
	v := m.vault(ev.VaultName)
	s := v.service(m, ev.Service)
	mi := methodIndex(ev.Method)
	si := statusIndex(ev.Status)
	oi := outcomeIndex(domain.ProxyOutcome(ev.Status, ev.Error, len(ev.Keys) > 0))
	slot := &s.counters[mi][si][oi]
	b := slot.Load()
	if b == nil {
		b = &counterBox{c: m.requests.WithLabelValues(v.name, ev.Service, methodClasses[mi], statusLabels[si], domain.Outcomes[oi])}
		if !slot.CompareAndSwap(nil, b) {
			b = slot.Load()
		}
	}
	b.c.Inc()
	v.duration.Observe(ev.Latency.Seconds())
	if added > 0 {
		v.added.Observe(added.Seconds())
	}
}

func (m *Metrics) vault(name string) *vaultSeries {
	if v := (*m.vaults.Load())[name]; v != nil {
		return v
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := *m.vaults.Load()
	if v := cur[name]; v != nil {
		return v
	}
	v := &vaultSeries{name: name, duration: m.duration.WithLabelValues(name), added: m.added.WithLabelValues(name)}
	empty := map[string]*serviceSeries{}
	v.services.Store(&empty)
	next := maps.Clone(cur)
	next[name] = v
	m.vaults.Store(&next)
	return v
}

func (v *vaultSeries) service(m *Metrics, name string) *serviceSeries {
	if s := (*v.services.Load())[name]; s != nil {
		return s
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := *v.services.Load()
	if s := cur[name]; s != nil {
		return s
	}
	s := new(serviceSeries)
	next := maps.Clone(cur)
	next[name] = s
	v.services.Store(&next)
	return s
}

func methodIndex(method string) int {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return 0
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return 1
	}
	return 2
}

func statusIndex(status int) int {
	if status < 100 || status > 599 {
		return 0
	}
	return status / 100
}

func outcomeIndex(outcome string) int {
	for i, o := range domain.Outcomes {
		if o == outcome {
			return i
		}
	}
	return nOutcomes - 1
}

// Interface guards
var _ proxy.Metrics = (*Metrics)(nil)

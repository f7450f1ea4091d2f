package proxy

import (
	"sync/atomic"
	"time"
)

// Metrics receives the proxy's per-request measurements. Request is called
// on the request path once per finished request (and once per refused
// CONNECT), so an implementation must neither block nor allocate.
type Metrics interface {
	// Request reports a finished request: its log event (never holding a
	// value) and the time the proxy worked before handing the request to
	// the upstream (authentication, matching, credentials, injection);
	// added is zero when the request never reached an upstream.
	Request(ev *Event, added time.Duration)
}

// Stats counts the proxy's connections since it started.
type Stats struct {
	UpstreamDials    uint64 // upstream connections dialled
	UpstreamReused   uint64 // requests sent on a pooled upstream connection
	ActiveTunnels    int64  // CONNECT tunnels open now
	ActiveWebSockets int64  // upgraded (websocket) connections open now
}

// connCounters back Stats; atomics, cheap enough to count always.
type connCounters struct {
	dials, reused       atomic.Uint64
	tunnels, websockets atomic.Int64
}

// Stats reports the connection counters; safe to call at any time.
func (p *Proxy) Stats() Stats {
	return Stats{
		UpstreamDials: p.counts.dials.Load(), UpstreamReused: p.up.reused.Load(),
		ActiveTunnels: p.counts.tunnels.Load(), ActiveWebSockets: p.counts.websockets.Load(),
	}
}

// Package discovered records the hosts agents reach through the proxy
// without a matching service: per vault and host, how often and when
// last, never a path, a query or a value. Admins see them on the Services
// page and turn them into services.
//
// The Recorder is a proxy.Sink. Emit only counts into an in-memory map
// under a mutex (no allocation for a host already pending); one goroutine
// writes the map every Interval in one transaction. The map is bounded:
// when MaxPending distinct hosts wait, new ones are dropped and counted,
// so a flood of random host names costs neither memory nor the proxy's
// time.
package discovered

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/proxy"
	"github.com/agent-vault/agent-vault/host/store"
)

// Writer stores batches (*store.Store implements it).
type Writer interface {
	RecordDiscoveredHosts(ctx context.Context, hosts []store.DiscoveredHost) error
}

// Options tune a Recorder; zero values take the defaults.
type Options struct {
	// Interval between writes (default 2s).
	Interval time.Duration
	// MaxPending bounds the distinct (vault, host) pairs waiting for the
	// next write (default 4096).
	MaxPending int
	Logger     *slog.Logger
}

type key struct{ vaultID, host string }

type tally struct {
	count       int64
	first, last time.Time
}

// Recorder aggregates unmatched hosts and writes them in batches.
type Recorder struct {
	w    Writer
	opts Options

	mu      sync.Mutex
	pending map[key]*tally
	closed  bool

	dropped  atomic.Uint64
	flushNow chan chan struct{}
	stop     chan struct{}
	done     chan struct{}
	once     sync.Once
}

// New starts a Recorder writing to w.
func New(w Writer, opts Options) *Recorder {
	if opts.Interval <= 0 {
		opts.Interval = 2 * time.Second
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = 4096
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Recorder{w: w, opts: opts, pending: map[key]*tally{}, flushNow: make(chan chan struct{}),
		stop: make(chan struct{}), done: make(chan struct{})}
	go r.run()
	return r
}

// Emit counts e when it is a request of a vault that matched no service
// and was forwarded, or refused only because the vault denies unmatched
// hosts. It never blocks on the database.
func (r *Recorder) Emit(e proxy.Event) {
	if e.VaultID == "" || e.Service != "" || (e.Error != "" && e.Error != domain.CodeHostNotAllowed) || e.Host == "" {
		return
	}
	k := key{e.VaultID, strings.ToLower(e.Host)}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		r.dropped.Add(1)
		return
	}
	t := r.pending[k]
	if t == nil {
		if len(r.pending) >= r.opts.MaxPending {
			r.dropped.Add(1)
			return
		}
		t = &tally{first: e.Time}
		r.pending[k] = t
	}
	t.count++
	if e.Time.Before(t.first) {
		t.first = e.Time
	}
	if e.Time.After(t.last) {
		t.last = e.Time
	}
}

// Dropped counts the events lost to a full map or after Close.
func (r *Recorder) Dropped() uint64 { return r.dropped.Load() }

// Flush writes what is pending now and waits for it (tests, shutdown).
func (r *Recorder) Flush() {
	ack := make(chan struct{})
	select {
	case r.flushNow <- ack:
		<-ack
	case <-r.done:
	}
}

// Close writes what is pending and stops.
func (r *Recorder) Close() {
	r.once.Do(func() { close(r.stop) })
	<-r.done
}

func (r *Recorder) run() {
	defer close(r.done)
	tick := time.NewTicker(r.opts.Interval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			r.write()
		case ack := <-r.flushNow:
			r.write()
			close(ack)
		case <-r.stop:
			r.mu.Lock()
			r.closed = true
			r.mu.Unlock()
			r.write()
			return
		}
	}
}

func (r *Recorder) write() {
	r.mu.Lock()
	batch := r.pending
	if len(batch) > 0 {
		r.pending = make(map[key]*tally, len(batch))
	}
	r.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	rows := make([]store.DiscoveredHost, 0, len(batch))
	for k, t := range batch {
		rows = append(rows, store.DiscoveredHost{VaultID: k.vaultID, Host: k.host, Count: t.count, FirstSeen: t.first, LastSeen: t.last})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.w.RecordDiscoveredHosts(ctx, rows); err != nil {
		r.opts.Logger.Warn("recording discovered hosts", "hosts", len(rows), "err", err)
	}
}

// Interface guards
var _ proxy.Sink = (*Recorder)(nil)

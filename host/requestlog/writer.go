// Package requestlog turns the proxy's request events into rows of the
// request_logs table. The Writer is the proxy's Sink: Emit only queues (or
// drops and counts when the queue is full), and one goroutine writes
// whatever is queued in batches, one transaction per batch. Under load the
// batches grow, which is what lets the writer keep up; when it still cannot,
// the proxy is never slowed: events are dropped, counted, and reported in a
// warning log line.
package requestlog

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agent-vault/agent-vault/host/proxy"
	"github.com/agent-vault/agent-vault/host/store"
)

// Inserter appends rows in one transaction (*store.Store implements it).
type Inserter interface {
	InsertRequestLogs(ctx context.Context, rows []store.RequestLog) error
}

// Options tune a Writer; zero values take the defaults.
type Options struct {
	// Queue is how many events may wait for the writer (default 16384).
	Queue int
	// Batch is the most rows written in one transaction (default 512).
	Batch int
	// Linger spaces transactions under a steady stream of events: an
	// event arriving less than Linger after the last write waits until
	// Linger has passed (or the batch is full) so that the events behind
	// it join its transaction. The first event after a quiet spell is
	// written at once. Default 25ms; negative writes every event at once.
	// Without it a steady trickle costs one SQLite transaction per
	// request, CPU the proxy's own requests need on a small machine.
	Linger time.Duration
	// WarnEvery spaces the warnings about dropped events (default 10s).
	WarnEvery time.Duration
	Logger    *slog.Logger
	// Now is the clock used to space warnings; nil means time.Now.
	Now func() time.Time
}

// Stats counts what happened to events since the Writer started.
type Stats struct {
	Written uint64 // rows committed
	Dropped uint64 // events refused because the queue was full or the writer closed
	Failed  uint64 // rows lost because their batch failed to write
}

// Writer is a batching request-log writer. Create it with New.
type Writer struct {
	ins  Inserter
	opts Options
	ch   chan proxy.Event
	stop chan struct{}
	done chan struct{}
	once sync.Once

	written, dropped, failed atomic.Uint64

	// Owned by the writing goroutine.
	reported  uint64
	warnedAt  time.Time
	flushedAt time.Time // end of the last write (monotonic)
}

// New starts a Writer over ins.
func New(ins Inserter, opts Options) *Writer {
	if opts.Queue <= 0 {
		opts.Queue = 16384
	}
	if opts.Batch <= 0 {
		opts.Batch = 512
	}
	if opts.Linger == 0 {
		opts.Linger = 25 * time.Millisecond
	}
	if opts.WarnEvery <= 0 {
		opts.WarnEvery = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	w := &Writer{ins: ins, opts: opts, ch: make(chan proxy.Event, opts.Queue), stop: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	return w
}

// Emit queues e, or drops and counts it when the queue is full or the
// writer is closed. It never blocks.
func (w *Writer) Emit(e proxy.Event) {
	if e.VaultID == "" {
		return // refused before a vault was known (407): no vault log to show it in
	}
	select {
	case <-w.stop:
		w.dropped.Add(1)
		return
	default:
	}
	select {
	case w.ch <- e:
	default:
		w.dropped.Add(1)
	}
}

// Stats reports the counters; safe to call at any time.
func (w *Writer) Stats() Stats {
	return Stats{Written: w.written.Load(), Dropped: w.dropped.Load(), Failed: w.failed.Load()}
}

// Close stops accepting events, writes the queued ones and waits.
func (w *Writer) Close() {
	w.once.Do(func() { close(w.stop) })
	<-w.done
}

func (w *Writer) run() {
	defer close(w.done)
	batch := make([]store.RequestLog, 0, w.opts.Batch)
	for {
		select {
		case e := <-w.ch:
			batch = w.linger(w.fill(append(batch[:0], row(e))))
			w.flush(batch)
		case <-w.stop:
			for len(w.ch) > 0 {
				batch = w.fill(batch[:0])
				w.flush(batch)
			}
			w.warnDrops(true)
			return
		}
	}
}

// fill adds queued events to batch without waiting, up to the batch size.
func (w *Writer) fill(batch []store.RequestLog) []store.RequestLog {
	for len(batch) < w.opts.Batch {
		select {
		case e := <-w.ch:
			batch = append(batch, row(e))
		default:
			return batch
		}
	}
	return batch
}

// linger adds the events arriving until Linger after the last write to a
// batch that is not full; it returns at once after a quiet spell, and
// early when the batch fills or the writer is closed.
func (w *Writer) linger(batch []store.RequestLog) []store.RequestLog {
	wait := w.opts.Linger - time.Since(w.flushedAt)
	if w.opts.Linger < 0 || wait <= 0 || len(batch) >= w.opts.Batch {
		return batch
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	for len(batch) < w.opts.Batch {
		select {
		case e := <-w.ch:
			batch = append(batch, row(e))
		case <-t.C:
			return batch
		case <-w.stop:
			return batch
		}
	}
	return batch
}

func (w *Writer) flush(batch []store.RequestLog) {
	if len(batch) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	err := w.ins.InsertRequestLogs(ctx, batch)
	cancel()
	w.flushedAt = time.Now()
	if err != nil {
		w.failed.Add(uint64(len(batch)))
		// Rows hold key names and paths only, but the error is all we log.
		w.opts.Logger.Error("request log: writing a batch failed", "rows", len(batch), "error", err)
	} else {
		w.written.Add(uint64(len(batch)))
	}
	// At debug level, one line per request as well, written here, off the
	// proxy's path. Key names only.
	if w.opts.Logger.Enabled(context.Background(), slog.LevelDebug) {
		for _, r := range batch {
			w.opts.Logger.Debug("proxied request", "vault_id", r.VaultID, "actor", r.ActorKind+":"+r.ActorID,
				"method", r.Method, "host", r.Host, "path", r.Path, "service", r.Service, "keys", r.Keys,
				"status", r.Status, "latency_ms", r.LatencyMS, "error", r.Error)
		}
	}
	w.warnDrops(false)
}

// warnDrops logs newly dropped events, at most once per WarnEvery unless final.
func (w *Writer) warnDrops(final bool) {
	d := w.dropped.Load()
	if d == w.reported {
		return
	}
	now := w.opts.Now()
	if !final && !w.warnedAt.IsZero() && now.Sub(w.warnedAt) < w.opts.WarnEvery {
		return
	}
	w.opts.Logger.Warn("request log: events dropped because the writer fell behind; the proxy was not slowed",
		"dropped", d-w.reported, "dropped_total", d)
	w.reported, w.warnedAt = d, now
}

// row converts an event; key names only, never values.
func row(e proxy.Event) store.RequestLog {
	return store.RequestLog{VaultID: e.VaultID, At: e.Time, ActorKind: string(e.ActorKind), ActorID: e.ActorID,
		Method: e.Method, Host: e.Host, Path: e.Path, Service: e.Service, Keys: e.Keys, Status: e.Status,
		LatencyMS: e.Latency.Milliseconds(), Error: e.Error}
}

// Interface guards
var (
	_ proxy.Sink = (*Writer)(nil)
	_ Inserter   = (*store.Store)(nil)
)

// Package requestlog turns the proxy's request events into rows of the
// request_logs table. The Writer is the proxy's Sink: Emit only queues (or
// drops and counts when the queue is full), and one goroutine writes
// whatever is queued in batches, one transaction per batch. Under load the
// batches grow, which is what lets the writer keep up; when it still cannot,
// the proxy is never slowed: events are dropped, counted, and reported in a
// warning log line.
//
// Rows reach the database up to Linger (default 500ms) after their request
// ended, longer only while the writer is behind: a log reader may miss the
// last half second of traffic. That delay is what keeps the log cheap: a
// steady stream costs two transactions a second instead of one per request,
// and an Emit wakes the writing goroutine only when the queue was empty or
// a batch is full. While someone follows the log (Follow), the writer
// lingers FollowLinger instead, so a follower sees a row well within 200ms
// of its request; only a watched log pays for the extra transactions.
package requestlog

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
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
	// The queue's memory grows with what actually waits, never allocated
	// up front.
	Queue int
	// Batch is the most rows written in one transaction (default 1024).
	Batch int
	// Linger spaces transactions under a steady stream of events: an
	// event arriving less than Linger after the last write waits until
	// Linger has passed (or the batch is full) so that the events behind
	// it join its transaction. The first event after a quiet spell is
	// written at once. Default 500ms; negative writes every event at once.
	// Without it a steady trickle costs one SQLite transaction per
	// request, CPU the proxy's own requests need on a small machine.
	Linger time.Duration
	// FollowLinger replaces Linger while a Follow is open (default 50ms).
	FollowLinger time.Duration
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
	Queued  int    // events waiting to be written now
}

// Writer is a batching request-log writer. Create it with New.
type Writer struct {
	ins  Inserter
	opts Options
	// wake holds at most one pending signal for the writing goroutine.
	wake chan struct{}
	stop chan struct{}
	done chan struct{}
	once sync.Once

	mu     sync.Mutex
	queue  []proxy.Event // queue[head:] wait, oldest first; at most opts.Queue
	head   int
	closed bool

	written, dropped, failed atomic.Uint64

	// followers counts open Follows; flushed (under mu) is closed after
	// the next write, for them to wait on.
	followers atomic.Int32
	flushed   chan struct{}

	// Owned by the writing goroutine.
	batch     []store.RequestLog
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
		opts.Batch = 1024
	}
	if opts.Linger == 0 {
		opts.Linger = 500 * time.Millisecond
	}
	if opts.FollowLinger <= 0 {
		opts.FollowLinger = 50 * time.Millisecond
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
	w := &Writer{ins: ins, opts: opts, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	return w
}

// Emit queues e, or drops and counts it when the queue is full or the
// writer is closed. It never blocks on the writer: it holds a mutex for an
// append, and signals the writer only when the queue was empty or a batch
// has filled, so a lingering writer is not woken per request.
func (w *Writer) Emit(e proxy.Event) {
	if e.VaultID == "" {
		return // refused before a vault was known (407): no vault log to show it in
	}
	w.mu.Lock()
	if w.closed || len(w.queue)-w.head >= w.opts.Queue {
		w.mu.Unlock()
		w.dropped.Add(1)
		return
	}
	w.queue = append(w.queue, e)
	n := len(w.queue) - w.head
	w.mu.Unlock()
	if n == 1 || n >= w.opts.Batch {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// Stats reports the counters; safe to call at any time.
func (w *Writer) Stats() Stats {
	return Stats{Written: w.written.Load(), Dropped: w.dropped.Load(), Failed: w.failed.Load(), Queued: w.queued()}
}

// Close stops accepting events, writes the queued ones and waits.
func (w *Writer) Close() {
	w.once.Do(func() {
		w.mu.Lock()
		w.closed = true
		w.mu.Unlock()
		close(w.stop)
	})
	<-w.done
}

func (w *Writer) run() {
	defer close(w.done)
	for {
		select {
		case <-w.wake:
			w.linger()
			for w.flush(w.take()) {
				// A full batch was taken: write what is behind it as
				// well, each after its own linger.
				w.linger()
			}
		case <-w.stop:
			for w.flush(w.take()) {
			}
			w.warnDrops(true)
			return
		}
	}
}

// queued reports how many events wait.
func (w *Writer) queued() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.queue) - w.head
}

// linger waits until Linger (FollowLinger while the log is followed) has
// passed since the last write, returning early when a batch's worth of
// events waits or the writer is closed. It returns at once after a quiet
// spell.
func (w *Writer) linger() {
	for {
		linger := w.opts.Linger
		if w.followers.Load() > 0 {
			linger = min(linger, w.opts.FollowLinger)
		}
		wait := linger - time.Since(w.flushedAt)
		if w.opts.Linger < 0 || wait <= 0 || w.queued() >= w.opts.Batch {
			return
		}
		t := time.NewTimer(wait)
		select {
		case <-w.wake: // more events, or a follower arrived: look again
			t.Stop()
		case <-t.C:
			return
		case <-w.stop:
			t.Stop()
			return
		}
	}
}

// Follow is for a reader tailing the log: until release is called, queued
// events are written after FollowLinger rather than Linger. written is
// closed after the writer's next write; a reader registers with Follow
// before it queries, then waits on written, so no row slips between.
func (w *Writer) Follow() (written <-chan struct{}, release func()) {
	w.followers.Add(1)
	w.mu.Lock()
	if w.flushed == nil {
		w.flushed = make(chan struct{})
	}
	ch := w.flushed
	w.mu.Unlock()
	select { // a lingering writer re-reads its linger
	case w.wake <- struct{}{}:
	default:
	}
	var once sync.Once
	return ch, func() { once.Do(func() { w.followers.Add(-1) }) }
}

// take moves up to Batch of the oldest queued events into w.batch as rows.
func (w *Writer) take() []store.RequestLog {
	w.batch = w.batch[:0]
	w.mu.Lock()
	n := min(len(w.queue)-w.head, w.opts.Batch)
	taken := w.queue[w.head : w.head+n]
	for _, e := range taken {
		w.batch = append(w.batch, row(e))
	}
	clear(taken) // drop references for the collector
	w.head += n
	switch {
	case w.head == len(w.queue):
		w.queue, w.head = w.queue[:0], 0
		if cap(w.queue) > 4*w.opts.Batch {
			w.queue = nil // a burst is over: give its memory back
		}
	case w.head >= len(w.queue)/2:
		// Move the rest to the front; each event moves at most once
		// more than it is appended, so a backlog costs linear time.
		rest := copy(w.queue, w.queue[w.head:])
		clear(w.queue[rest:])
		w.queue, w.head = w.queue[:rest], 0
	}
	w.mu.Unlock()
	return w.batch
}

// flush writes batch and reports whether it was a full one (more may wait).
func (w *Writer) flush(batch []store.RequestLog) bool {
	if len(batch) == 0 {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	err := w.ins.InsertRequestLogs(ctx, batch)
	cancel()
	w.flushedAt = time.Now()
	w.mu.Lock()
	if w.flushed != nil {
		close(w.flushed)
		w.flushed = nil
	}
	w.mu.Unlock()
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
	full := len(batch) >= w.opts.Batch
	clear(batch) // drop references for the collector
	return full
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
		LatencyMS: e.Latency.Milliseconds(), Error: e.Error, Scrubbed: formatScrubbed(e.Scrubbed), Blocked: e.Blocked}
}

// formatScrubbed writes a response's scrub counts as "KEY:count" pairs,
// comma-joined in key order; empty when nothing was scrubbed.
func formatScrubbed(m map[string]int) string {
	if len(m) == 0 {
		return ""
	}
	var b strings.Builder
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(m[k]))
	}
	return b.String()
}

// Interface guards
var (
	_ proxy.Sink = (*Writer)(nil)
	_ Inserter   = (*store.Store)(nil)
)

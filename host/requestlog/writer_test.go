package requestlog

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/host/proxy"
	"github.com/agent-vault/agent-vault/host/store"
)

func openStore(t testing.TB) (*store.Store, store.Vault) {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	v, err := st.CreateVault(context.Background(), "shop", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return st, v
}

func event(vaultID string, i int) proxy.Event {
	return proxy.Event{Time: time.Now(), VaultID: vaultID, ActorID: "a1", ActorKind: "agent", Method: "GET",
		Host: "api.x.com", Path: fmt.Sprintf("/%d", i), Service: "x", Keys: []string{"API_KEY"}, Status: 200,
		Latency: 3 * time.Millisecond}
}

// TestWriterLosesNothingUnderLoad emits 10 000 events from 8 goroutines into
// a real SQLite store: every one becomes a row, none is dropped.
func TestWriterLosesNothingUnderLoad(t *testing.T) {
	st, v := openStore(t)
	w := New(st, Options{})
	const goroutines, each = 8, 1250
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			<-start
			for i := 0; i < each; i++ {
				w.Emit(event(v.ID, g*each+i))
			}
		}(g)
	}
	close(start)
	wg.Wait()
	w.Close()
	if got := w.Stats(); got != (Stats{Written: goroutines * each}) {
		t.Fatalf("stats %+v, want %d written and nothing lost", got, goroutines*each)
	}
	n, err := st.CountRequestLogs(context.Background(), v.ID)
	if err != nil || n != goroutines*each {
		t.Fatalf("%d rows (%v), want %d", n, err, goroutines*each)
	}
	page, _, _ := st.RequestLogs(context.Background(), store.RequestLogQuery{VaultID: v.ID, Limit: 1})
	if r := page[0]; r.ActorID != "a1" || r.Keys[0] != "API_KEY" || r.LatencyMS != 3 || r.Status != 200 {
		t.Fatalf("row %+v", r)
	}
}

// countingInserter records the size of every batch and signals each call.
type countingInserter struct {
	mu      sync.Mutex
	batches []int
	calls   chan int
}

func (c *countingInserter) InsertRequestLogs(ctx context.Context, rows []store.RequestLog) error {
	c.mu.Lock()
	c.batches = append(c.batches, len(rows))
	c.mu.Unlock()
	if c.calls != nil {
		c.calls <- len(rows)
	}
	return nil
}

// TestWriterGroupsTrickleIntoBatches: the first event after a quiet spell
// is written alone and at once; events arriving one at a time after it
// join lingering batches, so the next 99 cost 7 transactions (6 full
// batches and the rest at Close), not 99.
func TestWriterGroupsTrickleIntoBatches(t *testing.T) {
	ins := &countingInserter{calls: make(chan int, 100)}
	w := New(ins, Options{Batch: 16, Linger: time.Hour})
	w.Emit(event("v1", 0))
	if n := <-ins.calls; n != 1 {
		t.Fatalf("first batch of %d, want 1", n)
	}
	for i := range 99 {
		w.Emit(event("v1", i+1))
	}
	// Six full batches are written as they fill; the last 3 events linger
	// until Close. Waiting for the six keeps Close from cutting a batch short.
	for i := range 6 {
		if n := <-ins.calls; n != 16 {
			t.Fatalf("batch %d has %d events, want 16", i+2, n)
		}
	}
	w.Close()
	want := []int{1, 16, 16, 16, 16, 16, 16, 3}
	if fmt.Sprint(ins.batches) != fmt.Sprint(want) {
		t.Fatalf("batches %v, want %v", ins.batches, want)
	}
	if got := w.Stats(); got != (Stats{Written: 100}) {
		t.Fatalf("stats %+v", got)
	}
}

// TestWriterLingerEnds: an event right behind a write is written once
// Linger has passed, without Close or more events; with a negative Linger
// at once.
func TestWriterLingerEnds(t *testing.T) {
	for _, linger := range []time.Duration{time.Millisecond, -1} {
		t.Run(fmt.Sprint(linger), func(t *testing.T) {
			ins := &countingInserter{calls: make(chan int, 2)}
			w := New(ins, Options{Linger: linger})
			defer w.Close()
			for i := range 2 {
				w.Emit(event("v1", i))
				if n := <-ins.calls; n != 1 {
					t.Fatalf("batch %d of %d events, want 1", i, n)
				}
			}
		})
	}
}

// TestWriterFollowShortensLinger: with Linger an hour, an event right
// behind a write lingers; once a reader follows the log it is written after
// FollowLinger, and the follower's channel closes with that write. (No
// timing is asserted: an hour-long linger either ended early or the test
// times out.)
func TestWriterFollowShortensLinger(t *testing.T) {
	ins := &countingInserter{calls: make(chan int, 4)}
	w := New(ins, Options{Linger: time.Hour, FollowLinger: time.Millisecond})
	defer w.Close()
	w.Emit(event("v1", 0))
	<-ins.calls // the first after a quiet spell goes at once
	w.Emit(event("v1", 1))
	select {
	case <-ins.calls:
		t.Fatal("the second event was written before anyone followed: Linger was not applied")
	default:
	}
	written, release := w.Follow()
	defer release()
	if n := <-ins.calls; n != 1 {
		t.Fatalf("batch of %d, want 1", n)
	}
	<-written
	release()
	release() // idempotent
	if got := w.followers.Load(); got != 0 {
		t.Fatalf("%d followers after release", got)
	}
}

// gatedInserter blocks its first call until released, to hold the writer.
type gatedInserter struct {
	entered chan struct{}
	release chan struct{}
	once    sync.Once
	mu      sync.Mutex
	rows    int
	fail    bool
}

func (g *gatedInserter) InsertRequestLogs(ctx context.Context, rows []store.RequestLog) error {
	g.once.Do(func() {
		close(g.entered)
		<-g.release
	})
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.fail {
		return fmt.Errorf("disk full")
	}
	g.rows += len(rows)
	return nil
}

// TestWriterDropsUnderOverload holds the writer inside a write, fills the
// queue, and checks that further events are dropped at once (Emit returns:
// the test would hang otherwise), counted exactly, and reported in a log line.
func TestWriterDropsUnderOverload(t *testing.T) {
	ins := &gatedInserter{entered: make(chan struct{}), release: make(chan struct{})}
	var logs bytes.Buffer
	const queue, extra = 64, 1000
	w := New(ins, Options{Queue: queue, Batch: 16, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	w.Emit(event("v1", 0))
	<-ins.entered // the writer now holds one event inside a blocked write
	for i := 0; i < queue+extra; i++ {
		w.Emit(event("v1", i+1))
	}
	if got := w.Stats(); got.Dropped != extra || got.Written != 0 {
		t.Fatalf("while blocked: %+v, want %d dropped", got, extra)
	}
	close(ins.release)
	w.Close()
	w.Emit(event("v1", -1)) // after Close: dropped, never blocks or panics
	if got := w.Stats(); got != (Stats{Written: 1 + queue, Dropped: extra + 1}) {
		t.Fatalf("after close: %+v", got)
	}
	if ins.rows != 1+queue {
		t.Fatalf("inserter got %d rows", ins.rows)
	}
	if !strings.Contains(logs.String(), "dropped_total=1000") {
		t.Fatalf("no drop warning in %q", logs.String())
	}
}

func TestWriterCountsFailedBatches(t *testing.T) {
	ins := &gatedInserter{entered: make(chan struct{}), release: make(chan struct{}), fail: true}
	close(ins.release)
	var logs bytes.Buffer
	w := New(ins, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	w.Emit(event("v1", 0))
	w.Emit(proxy.Event{Status: 407}) // no vault: not logged, not counted
	w.Close()
	if got := w.Stats(); got != (Stats{Failed: 1}) {
		t.Fatalf("stats %+v", got)
	}
	if !strings.Contains(logs.String(), "writing a batch failed") || !strings.Contains(logs.String(), "disk full") {
		t.Fatalf("log %q", logs.String())
	}
}

// TestDropWarningsAreSpaced: drops reported at most once per WarnEvery.
func TestDropWarningsAreSpaced(t *testing.T) {
	var logs bytes.Buffer
	now := time.Unix(0, 0)
	w := &Writer{opts: Options{WarnEvery: 10 * time.Second, Logger: slog.New(slog.NewTextHandler(&logs, nil)), Now: func() time.Time { return now }}}
	steps := []struct {
		advance time.Duration
		drops   uint64
		final   bool
		want    int // warnings so far
	}{
		{0, 1, false, 1},
		{time.Second, 5, false, 1},
		{10 * time.Second, 0, false, 2},
		{time.Second, 0, false, 2},
		{0, 2, true, 3},
		{0, 0, true, 3},
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		w.dropped.Add(s.drops)
		w.warnDrops(s.final)
		if got := strings.Count(logs.String(), "events dropped"); got != s.want {
			t.Fatalf("step %d: %d warnings, want %d", i, got, s.want)
		}
	}
}

// BenchmarkWriter measures rows per second into a real SQLite file.
func BenchmarkWriter(b *testing.B) {
	st, v := openStore(b)
	w := New(st, Options{Queue: b.N + 1})
	e := event(v.ID, 0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w.Emit(e)
	}
	w.Close()
	b.StopTimer()
	if s := w.Stats(); s.Written != uint64(b.N) {
		b.Fatalf("%+v", s)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkEmit is the cost the proxy pays per request.
func BenchmarkEmit(b *testing.B) {
	w := New(&gatedInserter{entered: make(chan struct{}), release: make(chan struct{})}, Options{Queue: 1})
	e := event("v1", 0)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		w.Emit(e)
	}
}

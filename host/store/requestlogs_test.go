package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestInsertRequestLogsChunks writes a batch that spans several multi-row
// INSERTs (one row past a chunk boundary) and reads every row back: all
// fields survive, ids follow the batch's order, nothing is written twice.
func TestInsertRequestLogsChunks(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d Dialect) {
		ctx := context.Background()
		s := openTest(t, d)
		v, _ := s.CreateVault(ctx, "shop", nil, nil)
		at := time.UnixMilli(1_700_000_000_000).UTC()
		n := 2*requestLogChunk + 1
		rows := make([]RequestLog, n)
		for i := range rows {
			rows[i] = RequestLog{VaultID: v.ID, At: at.Add(time.Duration(i) * time.Millisecond), ActorKind: "agent",
				ActorID: fmt.Sprintf("a%d", i), Method: "POST", Host: "api.x.com", Path: fmt.Sprintf("/p/%d", i),
				Service: "x", Keys: []string{"K1", "K2"}, Status: 200 + i%300, LatencyMS: int64(i), Error: fmt.Sprintf("e%d", i)}
		}
		if err := s.InsertRequestLogs(ctx, rows); err != nil {
			t.Fatal(err)
		}
		if err := s.InsertRequestLogs(ctx, nil); err != nil {
			t.Fatal(err)
		}
		page, _, err := s.RequestLogs(ctx, RequestLogQuery{VaultID: v.ID, Limit: n + 10})
		if err != nil || len(page) != n {
			t.Fatalf("%d rows (%v), want %d", len(page), err, n)
		}
		for j, got := range page { // newest first
			i := n - 1 - j
			want := rows[i]
			if got.Path != want.Path || got.ActorID != want.ActorID || !got.At.Equal(want.At) || got.Status != want.Status ||
				got.LatencyMS != want.LatencyMS || got.Error != want.Error || got.Method != "POST" || got.Service != "x" ||
				fmt.Sprint(got.Keys) != "[K1 K2]" || got.ActorKind != "agent" || got.Host != "api.x.com" {
				t.Fatalf("row %d: %+v, want %+v", i, got, want)
			}
			if j > 0 && got.ID >= page[j-1].ID {
				t.Fatalf("ids out of order at row %d", i)
			}
		}
	})
}

// TestInsertRequestLogsLengths writes batches of lengths that use every
// prepared INSERT size, from several goroutines at once (the writer's
// connection is shared), and reads each vault back whole and in order.
func TestInsertRequestLogsLengths(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d Dialect) {
		ctx := context.Background()
		s := openTest(t, d)
		lengths := []int{1, 2, 3, 7, 255, 256, 257, 511, 600}
		var wg sync.WaitGroup
		errs := make(chan error, 3)
		vaults := make([]string, 3)
		for g := range vaults {
			v, err := s.CreateVault(ctx, fmt.Sprintf("v%d", g), nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			vaults[g] = v.ID
			wg.Go(func() {
				seq := 0
				for _, n := range lengths {
					rows := make([]RequestLog, n)
					for i := range rows {
						rows[i] = RequestLog{VaultID: v.ID, At: time.UnixMilli(int64(seq)), Path: fmt.Sprintf("/%d", seq),
							Status: 200 + seq%400, Keys: []string{"K", fmt.Sprint(seq % 3)}}
						seq++
					}
					if err := s.InsertRequestLogs(ctx, rows); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		total := 0
		for _, n := range lengths {
			total += n
		}
		for _, id := range vaults {
			page, more, err := s.RequestLogs(ctx, RequestLogQuery{VaultID: id, Limit: total})
			if err != nil || more || len(page) != total {
				t.Fatalf("%d rows (more %v, %v), want %d", len(page), more, err, total)
			}
			for j, r := range page { // newest first
				seq := total - 1 - j
				if r.Path != fmt.Sprintf("/%d", seq) || r.At.UnixMilli() != int64(seq) || r.Status != 200+seq%400 ||
					strings.Join(r.Keys, ",") != fmt.Sprintf("K,%d", seq%3) || r.Method != "" || r.Error != "" {
					t.Fatalf("row %d of vault %s: %+v", seq, id, r)
				}
			}
		}
	})
}

// TestRequestLogsAtIndexMigration upgrades a database that has rows and
// the index on at (as migrations 0001-0003 left it): the rows stay, the
// index goes, cursors taken before the upgrade page on, and new ids
// continue after the old ones.
func TestRequestLogsAtIndexMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), FileName)
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := s.CreateVault(ctx, "shop", nil, nil)
	seedLogs(t, s, v.ID, 300, time.Now())
	for _, q := range []string{`CREATE INDEX request_logs_at ON request_logs(at)`, `DELETE FROM schema_migrations WHERE version = 4`} {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	before, _, err := s.RequestLogs(ctx, RequestLogQuery{VaultID: v.ID, Limit: 100})
	if err != nil || len(before) != 100 {
		t.Fatalf("%d rows, %v", len(before), err)
	}
	newest := before[0].ID
	s.Close()

	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE name = 'request_logs_at'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("index still there (%d, %v)", n, err)
	}
	if got, _ := s.CountRequestLogs(ctx, v.ID); got != 300 {
		t.Fatalf("%d rows after the upgrade, want 300", got)
	}
	page, more, err := s.RequestLogs(ctx, RequestLogQuery{VaultID: v.ID, Before: before[len(before)-1].ID, Limit: 100})
	if err != nil || !more || len(page) != 100 || page[0].ID != before[len(before)-1].ID-1 {
		t.Fatalf("next page: %d rows, more %v, %v", len(page), more, err)
	}
	seedLogs(t, s, v.ID, 5, time.Now())
	tail, more, err := s.RequestLogs(ctx, RequestLogQuery{VaultID: v.ID, After: newest, Limit: 10})
	if err != nil || more || len(tail) != 5 || tail[len(tail)-1].ID != newest+1 {
		t.Fatalf("tail after the upgrade: %d rows, more %v, %v", len(tail), more, err)
	}
}

// BenchmarkInsertRequestLogs is the request-log writer's cost per row for
// a batch of 512 (SQLite).
func BenchmarkInsertRequestLogs(b *testing.B) { benchmarkInsertRequestLogs(b, SQLite) }

// BenchmarkInsertRequestLogsPostgres is the same on the PostgreSQL test
// server (on loopback; fsync off, as the test server runs).
func BenchmarkInsertRequestLogsPostgres(b *testing.B) { benchmarkInsertRequestLogs(b, Postgres) }

func benchmarkInsertRequestLogs(b *testing.B, d Dialect) {
	ctx := context.Background()
	s, err := openDialect(b, d)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	v, _ := s.CreateVault(ctx, "shop", nil, nil)
	rows := make([]RequestLog, 512)
	for i := range rows {
		rows[i] = RequestLog{VaultID: v.ID, At: time.Now(), ActorKind: "agent", ActorID: "a1", Method: "GET",
			Host: "api.x.com", Path: "/v1/charges", Service: "x", Keys: []string{"K1"}, Status: 200, LatencyMS: 1}
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.InsertRequestLogs(ctx, rows); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(rows))/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkInsertRequestLogsMixed is BenchmarkInsertRequestLogs with rows
// that vary the way a busy proxy's do: a few vaults, actors and hosts,
// distinct paths, spread statuses and latencies, start times out of order,
// fresh key slices, an occasional error; and the writer's timeout context.
func BenchmarkInsertRequestLogsMixed(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	s, err := Open(ctx, b.TempDir()+"/"+FileName)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	rows := mixedLogs(s, 512)
	b.ReportAllocs()
	for b.Loop() {
		if err := s.InsertRequestLogs(ctx, rows); err != nil {
			b.Fatal(err)
		}
		for i := range rows { // the next batch is later, as the next batch of real traffic is
			rows[i].At = rows[i].At.Add(time.Second)
		}
	}
	b.ReportMetric(float64(b.N*len(rows))/b.Elapsed().Seconds(), "rows/s")
}

// mixedLogs returns n rows over two new vaults, the same rows every call.
func mixedLogs(s *Store, n int) []RequestLog {
	ctx := context.Background()
	v1, _ := s.CreateVault(ctx, "shop", nil, nil)
	v2, _ := s.CreateVault(ctx, "ops", nil, nil)
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	services := []struct{ host, service, keys string }{
		{"api.stripe.com", "stripe", "STRIPE_KEY"}, {"api.github.com", "github", "GITHUB_TOKEN"},
		{"api.openai.com", "openai", "OPENAI_API_KEY,OPENAI_ORG"}, {"hooks.slack.com", "slack", "SLACK_WEBHOOK"},
		{"example.org", "", ""},
	}
	statuses := []int{200, 200, 200, 200, 200, 201, 204, 301, 400, 404, 429, 500, 502}
	start := time.UnixMilli(1_700_000_000_000)
	rows := make([]RequestLog, n)
	for i := range rows {
		sv := services[rng.IntN(len(services))]
		lat := time.Duration(rng.ExpFloat64() * float64(80*time.Millisecond))
		r := RequestLog{VaultID: v1.ID, At: start.Add(time.Duration(i)*300*time.Microsecond - lat), ActorKind: "agent",
			ActorID: pick("7c0e9a52-1d2b-4c1e-9f4a-0a1b2c3d4e5f", "0f9e8d7c-6b5a-4f3e-8d2c-1b0a9f8e7d6c", "codex"),
			Method:  pick("GET", "GET", "GET", "POST", "PUT", "DELETE"), Host: sv.host, Service: sv.service,
			Path:   fmt.Sprintf("/v1/%s/%d", pick("charges", "customers", "repos", "chat/completions"), rng.Uint32()),
			Status: statuses[rng.IntN(len(statuses))], LatencyMS: lat.Milliseconds()}
		if rng.IntN(4) == 0 {
			r.VaultID = v2.ID
		}
		if rng.IntN(10) == 0 {
			r.ActorKind, r.ActorID = "user", "alice@example.com"
		}
		if sv.keys != "" {
			r.Keys = strings.Split(sv.keys, ",")
		}
		if rng.IntN(50) == 0 {
			r.Status, r.Error = 502, "upstream_unreachable"
		}
		rows[i] = r
	}
	return rows
}

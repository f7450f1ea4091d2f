package store

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestInsertRequestLogsChunks writes a batch that spans several multi-row
// INSERTs (one row past a chunk boundary) and reads every row back: all
// fields survive, ids follow the batch's order, nothing is written twice.
func TestInsertRequestLogsChunks(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
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
}

// BenchmarkInsertRequestLogs is the request-log writer's cost per row for
// a batch of 512.
func BenchmarkInsertRequestLogs(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, b.TempDir()+"/"+FileName)
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

package cli

import (
	"bytes"
	"testing"
	"time"

	client "github.com/agent-vault/agent-vault/openapi/client/go"
	"github.com/agent-vault/agent-vault/sdk/golden"
)

func TestSparkline(t *testing.T) {
	b := func(ns ...int64) []client.ActivityBucket {
		var out []client.ActivityBucket
		for _, n := range ns {
			o := map[string]int64{}
			if n > 0 {
				o["injected"], o["denied"] = n-n/2, n/2
			}
			out = append(out, client.ActivityBucket{Outcomes: o})
		}
		return out
	}
	tests := []struct {
		name     string
		buckets  []client.ActivityBucket
		want     string
		wantPeak int64
	}{
		{"empty", b(0, 0, 0), "···", 0},
		{"one", b(0, 1, 0), "·█·", 1},
		{"scaled", b(1, 2, 4, 8, 16), "▁▁▂▄█", 16},
		{"every-height", b(1, 2, 3, 4, 5, 6, 7, 8), "▁▂▃▄▅▆▇█", 8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, peak := sparkline(tc.buckets)
			if got != tc.want || peak != tc.wantPeak {
				t.Errorf("sparkline = %q peak %d, want %q peak %d", got, peak, tc.want, tc.wantPeak)
			}
		})
	}
}

// The text of 'overview' and 'vault activity' is a golden: a window with
// traffic, services and stores, and an empty one.
func TestPrintActivity(t *testing.T) {
	since := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	ok := since.Add(50 * time.Minute)
	buckets := make([]client.ActivityBucket, 10)
	for i := range buckets {
		buckets[i] = client.ActivityBucket{Start: since.Add(time.Duration(i) * time.Minute), Outcomes: map[string]int64{}}
	}
	buckets[3].Outcomes["injected"], buckets[9].Outcomes["injected"], buckets[9].Outcomes["upstream_error"] = 4, 7, 1
	full := &client.Activity{Window: "hour", Since: since, BucketSeconds: 60, Buckets: &buckets, Requests: 12, Errors: 1, ErrorRatio: 1.0 / 12,
		Outcomes:    map[string]int64{"injected": 11, "upstream_error": 1},
		TopServices: &[]client.ServiceActivity{{Vault: "prod", Service: "github", Requests: 9, Errors: 1}, {Vault: "prod", Requests: 3}},
		Stores: &[]client.StoreHealth{{Vault: "prod", Kind: "infisical", LastSyncStatus: "ok", LastOkAt: &ok, LastSyncedAt: &ok, PollIntervalSeconds: 60, ActiveLeases: 2},
			{Vault: "billing", Kind: "openbao", LastSyncStatus: "error", Stale: true, LastSyncedAt: &ok, PollIntervalSeconds: 300}},
		ActiveLeases: 2}
	empty := &client.Activity{Window: "day", Since: since, BucketSeconds: 900, Outcomes: map[string]int64{}}
	var out bytes.Buffer
	p := &printer{out: &out, err: &out}
	printActivity(p, "All vaults", full)
	out.WriteString("----\n")
	printActivity(p, "Vault quiet", empty)
	golden.Check(t, "activity/text", out.Bytes())
}

package main

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/agent-vault/agent-vault/host/store/pgtest"
)

func TestParseVariants(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    []variant
		wantErr string
	}{
		{"none-is-one-default", nil, []variant{{name: "default"}}, ""},
		{"name-only", []string{"-variant", "metrics-on"}, []variant{{name: "metrics-on"}}, ""},
		{"name-colon-nothing", []string{"-variant", "on:"}, []variant{{name: "on"}}, ""},
		{"env-pairs", []string{"-variant", "metrics-on", "-variant", "metrics-off:AGENT_VAULT_METRICS=false",
			"-variant", "sink:AGENT_VAULT_AUDIT_FILE=/dev/null,GOMAXPROCS=2"},
			[]variant{{name: "metrics-on"}, {name: "metrics-off", env: []string{"AGENT_VAULT_METRICS=false"}},
				{name: "sink", env: []string{"AGENT_VAULT_AUDIT_FILE=/dev/null", "GOMAXPROCS=2"}}}, ""},
		{"empty-value-allowed", []string{"-variant", "x:A="}, []variant{{name: "x", env: []string{"A="}}}, ""},
		{"bad-name", []string{"-variant", "Metrics On:A=1"}, nil, "the name must be"},
		{"empty-name", []string{"-variant", ":A=1"}, nil, "the name must be"},
		{"not-a-pair", []string{"-variant", "x:A"}, nil, `"A" is not ENV=VALUE`},
		{"empty-env-name", []string{"-variant", "x:=1"}, nil, `"=1" is not ENV=VALUE`},
		{"duplicate", []string{"-variant", "x", "-variant", "x:A=1"}, nil, "the name x is taken"},
		{"no-shared-database", []string{"-variant", "a", "-variant", "b", "-database-url", "postgres://x"}, nil, "cannot share -database-url"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			o, err := parseFlags(tc.args, &stderr)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error()+stderr.String(), tc.wantErr) {
					t.Fatalf("err %v (%s), want %q", err, stderr.String(), tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(o.variants, tc.want) {
				t.Errorf("variants %+v, want %+v", o.variants, tc.want)
			}
		})
	}
}

func TestCompareVariants(t *testing.T) {
	rep := &report{
		Variants: []variantInfo{{Name: "on"}, {Name: "off", Env: []string{"AGENT_VAULT_METRICS=false"}}},
		Cells: []cellResult{
			{Variant: "on", Mode: modeDirect, Concurrency: 16, RPS: 1000},
			{Variant: "off", Mode: modeDirect, Concurrency: 16, RPS: 1100},
			{Variant: "on", Mode: modeProxyHTTP, Concurrency: 16, RPS: 400, P99Micros: 900},
			{Variant: "off", Mode: modeProxyHTTP, Concurrency: 16, RPS: 410, P99Micros: 880},
			{Variant: "off", Mode: modeProxyMITM, Concurrency: 16, RPS: 300}, // no "on" cell to compare to
		},
		// Three rounds of proxy-http: the load drifts, the pairs stay close.
		Rounds: []cellResult{
			{Variant: "on", Mode: modeProxyHTTP, Concurrency: 16, Round: 1, RPS: 400},
			{Variant: "off", Mode: modeProxyHTTP, Concurrency: 16, Round: 1, RPS: 420},
			{Variant: "on", Mode: modeProxyHTTP, Concurrency: 16, Round: 2, RPS: 200},
			{Variant: "off", Mode: modeProxyHTTP, Concurrency: 16, Round: 2, RPS: 198},
			{Variant: "on", Mode: modeProxyHTTP, Concurrency: 16, Round: 3, RPS: 800},
			{Variant: "off", Mode: modeProxyHTTP, Concurrency: 16, Round: 3, RPS: 808},
			{Variant: "on", Mode: modeDirect, Concurrency: 16, Round: 1, RPS: 1000},
			{Variant: "off", Mode: modeDirect, Concurrency: 16, Round: 1, RPS: 1100},
		},
	}
	want := []variantRow{
		{Variant: "on", Mode: modeDirect, Concurrency: 16, RPS: 1000, Ratio: 1, PairedMedian: 1, PairedMin: 1, PairedMax: 1},
		{Variant: "off", Mode: modeDirect, Concurrency: 16, RPS: 1100, Ratio: 1.1, PairedMedian: 1.1, PairedMin: 1.1, PairedMax: 1.1},
		{Variant: "on", Mode: modeProxyHTTP, Concurrency: 16, RPS: 400, P99Micros: 900, Ratio: 1, PairedMedian: 1, PairedMin: 1, PairedMax: 1},
		{Variant: "off", Mode: modeProxyHTTP, Concurrency: 16, RPS: 410, P99Micros: 880, Ratio: 1.025, PairedMedian: 1.01, PairedMin: 0.99, PairedMax: 1.05},
		{Variant: "off", Mode: modeProxyMITM, Concurrency: 16, RPS: 300},
	}
	got := rep.compareVariants()
	if len(got) != len(want) {
		t.Fatalf("got %d rows, want %d", len(got), len(want))
	}
	near := func(a, b float64) bool { return abs(a-b) < 1e-9 }
	for i := range want {
		g, w := got[i], want[i]
		if g.Variant != w.Variant || g.Mode != w.Mode || g.RPS != w.RPS || g.P99Micros != w.P99Micros || !near(g.Ratio, w.Ratio) ||
			!near(g.PairedMedian, w.PairedMedian) || !near(g.PairedMin, w.PairedMin) || !near(g.PairedMax, w.PairedMax) {
			t.Errorf("row %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
	// The targets and the main table are the first variant's.
	rep.evaluate()
	if c := rep.cell(modeProxyHTTP, 16); c == nil || c.Variant != "on" {
		t.Errorf("cell() = %+v, want the first variant's", c)
	}
	if rep.Targets[0].Measured != 0.4 {
		t.Errorf("http ratio target %v, want 0.4 (first variant)", rep.Targets[0].Measured)
	}
	var out bytes.Buffer
	rep.print(&out)
	for _, w := range []string{"ratio to on", "off              proxy-http   16       410      880     1.025     1.010     0.990-1.050", "mitm", "targets (variant on):"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("printed report lacks %q:\n%s", w, out.String())
		}
	}
	// One variant prints as before, without the comparison.
	single := &report{Cells: []cellResult{{Mode: modeDirect, Concurrency: 16, RPS: 1}}}
	if single.compareVariants() != nil {
		t.Error("a single variant has no comparison")
	}
}

func abs(f float64) float64 { return max(f, -f) }

// TestSmokeVariants runs two variants through the real server command in
// one run: each gets its own servers, every round measures both, and the
// report compares them.
func TestSmokeVariants(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the server; skipped under -short")
	}
	rep, out, stderr := runHarness(t, "-duration", "200ms", "-warmup", "50ms", "-concurrency", "2", "-modes", "proxy-http", "-rounds", "2",
		"-variant", "on", "-variant", "off:AGENT_VAULT_METRICS=false")
	var order []string
	for _, r := range rep.Rounds {
		order = append(order, fmt.Sprintf("%s/%d", r.Variant, r.Round))
		if r.Requests == 0 || r.Errors != 0 {
			t.Errorf("%s: %+v", r.Variant, r)
		}
	}
	if got := strings.Join(order, ","); got != "on/1,off/1,off/2,on/2" {
		t.Errorf("rounds ran %s, want on/1,off/1,off/2,on/2 (interleaved, each round starting with the next variant)", got)
	}
	rows := rep.compareVariants()
	if len(rows) != 2 || rows[0].Ratio != 1 || rows[1].Ratio <= 0 || rows[1].PairedMin <= 0 || rows[1].PairedMax < rows[1].PairedMin {
		t.Errorf("comparison %+v", rows)
	}
	if !strings.Contains(out, "AGENT_VAULT_METRICS=false") || !strings.Contains(stderr, "variant off: AGENT_VAULT_METRICS=false") {
		t.Errorf("the report does not say what each variant set:\n%s\n%s", out, stderr)
	}
}

// TestSmokeReplicas runs two replicas on PostgreSQL behind the round-robin
// briefly: the set of servers a variant starts still serves -replicas.
func TestSmokeReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers and PostgreSQL; skipped under -short")
	}
	rep, _, stderr := runHarness(t, "-duration", "200ms", "-warmup", "50ms", "-concurrency", "4", "-modes", "proxy-http",
		"-replicas", "2", "-database-url", pgtest.URL(t))
	if rep.Replicas != 2 || rep.Database != "postgres" || len(rep.Cells) != 1 || rep.Cells[0].Requests == 0 || rep.Cells[0].Errors != 0 {
		t.Errorf("report %+v", rep)
	}
	if !strings.Contains(stderr, "2 replicas behind a TCP round-robin") {
		t.Errorf("no round-robin:\n%s", stderr)
	}
}

package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseProcStatus(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    procMemory
		wantErr string
	}{
		{name: "linux", in: "Name:\tagent-vault\nVmPeak:\t 1000 kB\nVmHWM:\t   52344 kB\nVmRSS:\t   41000 kB\nThreads:\t9\n",
			want: procMemory{RSSKiB: 41000, HWMKiB: 52344}},
		{name: "no-memory-lines", in: "Name:\tkthreadd\nState:\tS (sleeping)\n",
			wantErr: "no VmRSS/VmHWM lines (a kernel thread, or not Linux)"},
		{name: "rss-only", in: "VmRSS:\t 1 kB\n", wantErr: "no VmRSS/VmHWM lines (a kernel thread, or not Linux)"},
		{name: "other-unit", in: "VmRSS:\t 1 MB\nVmHWM:\t 1 kB\n", wantErr: `VmRSS: unexpected value "1 MB"`},
		{name: "not-a-number", in: "VmHWM:\t x1 kB\nVmRSS:\t 1 kB\n", wantErr: `VmHWM: "x1" is not a size in kB`},
		{name: "negative", in: "VmRSS:\t -1 kB\nVmHWM:\t 1 kB\n", wantErr: `VmRSS: "-1" is not a size in kB`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseProcStatus(strings.NewReader(tc.in))
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func FuzzParseProcStatus(f *testing.F) {
	f.Add("VmHWM:\t   52344 kB\nVmRSS:\t   41000 kB\n")
	f.Add("VmRSS: 1 kB\nVmRSS: 2 kB\nVmHWM: 0 kB")
	f.Add("VmRSS:\n")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := parseProcStatus(strings.NewReader(s))
		if err == nil && (m.RSSKiB < 0 || m.HWMKiB < 0) {
			t.Fatalf("negative sizes accepted: %+v", m)
		}
	})
}

func TestParseServingLine(t *testing.T) {
	tests := []struct {
		name           string
		line           string
		wantAPI, wantP string
		wantOK         bool
	}{
		{"with-proxy", `time=2026-11-28T16:45:24.289Z level=INFO msg="agent vault is serving" api=http://127.0.0.1:34041 proxy=127.0.0.1:37253 data_dir=/tmp/avd`,
			"http://127.0.0.1:34041", "127.0.0.1:37253", true},
		{"without-proxy", `level=INFO msg="agent vault is serving" api=http://127.0.0.1:1 proxy="" data_dir=/d`, "http://127.0.0.1:1", "", true},
		{"other-line", `level=INFO msg="store plugin loaded" plugin=builtin`, "", "", false},
		{"api-not-http", `msg="agent vault is serving" api=ftp://x proxy=y`, "", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api, p, ok := parseServingLine(tc.line)
			if api != tc.wantAPI || p != tc.wantP || ok != tc.wantOK {
				t.Fatalf("got %q %q %v, want %q %q %v", api, p, ok, tc.wantAPI, tc.wantP, tc.wantOK)
			}
		})
	}
}

func FuzzParseServingLine(f *testing.F) {
	f.Add(`msg="agent vault is serving" api=http://127.0.0.1:34041 proxy=127.0.0.1:37253 data_dir=/tmp/avd`)
	f.Add(`msg="agent vault is serving" api=http:// proxy=""`)
	f.Fuzz(func(t *testing.T, line string) {
		api, p, ok := parseServingLine(line)
		if ok && (!strings.HasPrefix(api, "http://") || strings.ContainsAny(api+p, " \t")) {
			t.Fatalf("accepted %q %q from %q", api, p, line)
		}
		if !ok && (api != "" || p != "") {
			t.Fatalf("returned values without ok from %q", line)
		}
	})
}

func TestPercentile(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		var out []time.Duration
		for _, n := range ns {
			out = append(out, time.Duration(n)*time.Microsecond)
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      int
		want   float64
	}{
		{"empty", nil, 50, 0},
		{"one", ms(7), 99, 7},
		{"p50-of-100", ms(hundred...), 50, 50},
		{"p99-of-100", ms(hundred...), 99, 99},
		{"p99-of-3", ms(1, 2, 3), 99, 3},
		{"p50-of-4", ms(1, 2, 3, 4), 50, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := percentile(tc.sorted, tc.p); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMedianAndTargets(t *testing.T) {
	rounds := []cellResult{
		{Mode: modeProxyHTTP, Concurrency: 16, RPS: 300, P50Micros: 10, P99Micros: 90, Requests: 10, UpstreamConns: 16, ServerRSSKiB: 100},
		{Mode: modeProxyHTTP, Concurrency: 16, RPS: 100, P50Micros: 30, P99Micros: 70, Requests: 20, UpstreamConns: 0, ServerRSSKiB: 300},
		{Mode: modeProxyHTTP, Concurrency: 16, RPS: 200, P50Micros: 20, P99Micros: 80, Requests: 30, UpstreamConns: 1, ServerRSSKiB: 200},
	}
	got := median(rounds)
	want := cellResult{Mode: modeProxyHTTP, Concurrency: 16, RPS: 200, P50Micros: 20, P99Micros: 80, Requests: 60, UpstreamConns: 17, ServerRSSKiB: 300}
	if got != want {
		t.Fatalf("median:\n got %+v\nwant %+v", got, want)
	}

	rep := &report{
		ColdStart: startInfo{RSSKiB: 200 << 10},
		WarmStart: &startInfo{RSSKiB: 79 << 10},
		Cells: []cellResult{
			{Mode: modeDirect, Concurrency: 1, RPS: 1000, P99Micros: 300},
			{Mode: modeProxyHTTP, Concurrency: 1, RPS: 500, P99Micros: 800, ServerRSSKiB: 50 << 10},
			{Mode: modeDirect, Concurrency: 16, RPS: 1000},
			{Mode: modeProxyHTTP, Concurrency: 16, RPS: 350, ServerRSSKiB: 55 << 10},
			{Mode: modeProxyMITM, Concurrency: 16, RPS: 249, ServerRSSKiB: 55 << 10},
			{Mode: modeProxyMITM, Concurrency: 64, RPS: 249, ServerRSSKiB: 60 << 10},
		},
	}
	rep.evaluate()
	wantTargets := []targetRow{
		{Name: "proxy-http req/s at c=16 vs direct", Measured: 0.35, Limit: 0.35, Unit: "x direct", Met: true},
		{Name: "proxy-mitm req/s at c=16 vs direct", Measured: 0.249, Limit: 0.25, Unit: "x direct", Met: false},
		{Name: "proxy-http added p99 at c=1", Measured: 500, Limit: 500, Unit: "µs", Met: false},
		{Name: "server RSS at c=64 (highest sample)", Measured: 60, Limit: 60, Unit: "MiB", Met: false},
		{Name: "server RSS right after a restart", Measured: 79, Limit: 80, Unit: "MiB", Met: true},
	}
	if len(rep.Targets) != len(wantTargets) {
		t.Fatalf("got %d targets, want %d", len(rep.Targets), len(wantTargets))
	}
	for i, w := range wantTargets {
		if rep.Targets[i] != w {
			t.Errorf("target %d:\n got %+v\nwant %+v", i, rep.Targets[i], w)
		}
	}
	if rep.allMet() {
		t.Error("allMet with missed targets")
	}
}

package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// Targets on a 2-core machine shared by the load generator, the upstream
// and the server (issue 4).
const (
	targetHTTPRatio     = 0.35 // proxy-http / direct req/s at c=16
	targetMITMRatio     = 0.25 // proxy-mitm / direct req/s at c=16
	targetAddedP99      = 500  // µs: proxy-http p99 minus direct p99 at c=1
	targetRSSLoadedKiB  = 60 << 10
	targetRSSStartedKiB = 80 << 10
)

type startInfo struct {
	Millis int64 `json:"millis"`  // exec to the serving line
	RSSKiB int64 `json:"rss_kib"` // VmRSS at the serving line
}

// report is what a run prints (and writes as JSON).
type report struct {
	Started          string       `json:"started"`
	LoadAverageStart string       `json:"load_average_start"`
	LoadAverageEnd   string       `json:"load_average_end"`
	ServerEnv        []string     `json:"server_env,omitempty"` // set with -server-env
	Database         string       `json:"database"`             // sqlite or postgres
	Replicas         int          `json:"replicas"`             // servers behind the round-robin
	ColdStart        startInfo    `json:"cold_start"`           // fresh data dir: plugins compiled
	WarmStart        *startInfo   `json:"warm_start,omitempty"` // restart on the provisioned data dir
	Cells            []cellResult `json:"cells"`                // median of the rounds per cell
	Rounds           []cellResult `json:"rounds"`               // every measurement
	EndRSSKiB        int64        `json:"end_rss_kib"`
	PeakRSSKiB       int64        `json:"peak_rss_kib"` // VmHWM at the end
	Targets          []targetRow  `json:"targets"`
	// Variants are the server configurations of -variant, the first being
	// the one the targets and the main table are about.
	Variants []variantInfo `json:"variants,omitempty"`
}

type variantInfo struct {
	Name      string     `json:"name"`
	Env       []string   `json:"env,omitempty"`
	ColdStart startInfo  `json:"cold_start"`
	WarmStart *startInfo `json:"warm_start,omitempty"`
}

// variantRow is one cell of a variant beside the same cell of the first.
type variantRow struct {
	Variant     string
	Mode        string
	Concurrency int
	RPS         float64
	P99Micros   float64
	Ratio       float64 // RPS over the first variant's; 0 when that is missing
	// Paired ratios: each round's req/s over the first variant's in the
	// same round (measured moments apart), their median and range. Under
	// a load that drifts between rounds they say more than Ratio.
	PairedMedian, PairedMin, PairedMax float64
}

// compareVariants lists every cell of every variant with its req/s ratio
// to the same mode and concurrency of the first variant.
func (r *report) compareVariants() []variantRow {
	if len(r.Variants) < 2 {
		return nil
	}
	first := r.Variants[0].Name
	var rows []variantRow
	for _, c := range r.Cells {
		row := variantRow{Variant: c.Variant, Mode: c.Mode, Concurrency: c.Concurrency, RPS: c.RPS, P99Micros: c.P99Micros}
		if base := r.variantCell(first, c.Mode, c.Concurrency); base != nil && base.RPS > 0 {
			row.Ratio = c.RPS / base.RPS
		}
		var paired []float64
		for _, x := range r.Rounds {
			if x.Variant != c.Variant || x.Mode != c.Mode || x.Concurrency != c.Concurrency {
				continue
			}
			for _, b := range r.Rounds {
				if b.Variant == first && b.Mode == c.Mode && b.Concurrency == c.Concurrency && b.Round == x.Round && b.RPS > 0 {
					paired = append(paired, x.RPS/b.RPS)
				}
			}
		}
		if len(paired) > 0 {
			slices.Sort(paired)
			row.PairedMin, row.PairedMax = paired[0], paired[len(paired)-1]
			row.PairedMedian = paired[len(paired)/2]
			if len(paired)%2 == 0 {
				row.PairedMedian = (paired[len(paired)/2-1] + paired[len(paired)/2]) / 2
			}
		}
		rows = append(rows, row)
	}
	return rows
}

func (r *report) variantCell(variant, mode string, conc int) *cellResult {
	for i := range r.Cells {
		if c := &r.Cells[i]; c.Variant == variant && c.Mode == mode && c.Concurrency == conc {
			return c
		}
	}
	return nil
}

type targetRow struct {
	Name     string  `json:"name"`
	Measured float64 `json:"measured"`
	Limit    float64 `json:"limit"`
	Unit     string  `json:"unit"`
	Met      bool    `json:"met"`
	Missing  bool    `json:"missing,omitempty"` // a cell it needs was not run
}

func cellKey(mode string, conc int) string { return fmt.Sprintf("%s@%d", mode, conc) }

// first names the first variant: "" without -variant, whose cells carry
// no variant name.
func (r *report) first() string {
	if len(r.Variants) > 0 {
		return r.Variants[0].Name
	}
	return ""
}

// cell finds a cell of the first variant.
func (r *report) cell(mode string, conc int) *cellResult {
	first := r.first()
	for i := range r.Cells {
		if r.Cells[i].Variant == first && r.Cells[i].Mode == mode && r.Cells[i].Concurrency == conc {
			return &r.Cells[i]
		}
	}
	return nil
}

// median combines the rounds of one cell: each figure is the median of
// that figure over the rounds (counts are summed).
func median(rs []cellResult) cellResult {
	out := rs[0]
	pick := func(get func(cellResult) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = get(r)
		}
		slices.Sort(v)
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	out.Round = 0
	out.RPS = pick(func(c cellResult) float64 { return c.RPS })
	out.P50Micros = pick(func(c cellResult) float64 { return c.P50Micros })
	out.P99Micros = pick(func(c cellResult) float64 { return c.P99Micros })
	out.Requests, out.Errors, out.Seconds, out.ClientConns, out.UpstreamConns, out.ServerRSSKiB = 0, 0, 0, 0, 0, 0
	for _, r := range rs {
		out.Requests += r.Requests
		out.Errors += r.Errors
		out.Seconds += r.Seconds
		out.ClientConns += r.ClientConns
		out.UpstreamConns += r.UpstreamConns
		out.ServerRSSKiB = max(out.ServerRSSKiB, r.ServerRSSKiB)
	}
	return out
}

// evaluate fills Targets from the cells.
func (r *report) evaluate() {
	r.Targets = nil
	ratio := func(name, mode string, limit float64) {
		row := targetRow{Name: name, Limit: limit, Unit: "x direct"}
		d, p := r.cell(modeDirect, 16), r.cell(mode, 16)
		if d == nil || p == nil || d.RPS == 0 {
			row.Missing = true
		} else {
			row.Measured = p.RPS / d.RPS
			row.Met = row.Measured >= limit
		}
		r.Targets = append(r.Targets, row)
	}
	ratio("proxy-http req/s at c=16 vs direct", modeProxyHTTP, targetHTTPRatio)
	ratio("proxy-mitm req/s at c=16 vs direct", modeProxyMITM, targetMITMRatio)

	row := targetRow{Name: "proxy-http added p99 at c=1", Limit: targetAddedP99, Unit: "µs"}
	if d, p := r.cell(modeDirect, 1), r.cell(modeProxyHTTP, 1); d == nil || p == nil {
		row.Missing = true
	} else {
		row.Measured = p.P99Micros - d.P99Micros
		row.Met = row.Measured < targetAddedP99
	}
	r.Targets = append(r.Targets, row)

	row = targetRow{Name: "server RSS at c=64 (highest sample)", Limit: targetRSSLoadedKiB >> 10, Unit: "MiB"}
	var loaded int64
	for _, c := range r.Cells {
		if c.Concurrency == 64 && c.Variant == r.first() {
			loaded = max(loaded, c.ServerRSSKiB)
		}
	}
	if loaded == 0 {
		row.Missing = true
	} else {
		row.Measured = float64(loaded) / 1024
		row.Met = loaded < targetRSSLoadedKiB
	}
	r.Targets = append(r.Targets, row)

	started := r.ColdStart.RSSKiB
	name := "server RSS right after a cold start"
	if r.WarmStart != nil {
		started, name = r.WarmStart.RSSKiB, "server RSS right after a restart"
	}
	r.Targets = append(r.Targets, targetRow{Name: name, Measured: float64(started) / 1024,
		Limit: targetRSSStartedKiB >> 10, Unit: "MiB", Met: started < targetRSSStartedKiB})
}

func (r *report) allMet() bool {
	for _, t := range r.Targets {
		if !t.Met {
			return false
		}
	}
	return true
}

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "load average (1/5/15 min): %s at start, %s at end\n", r.LoadAverageStart, r.LoadAverageEnd)
	if len(r.ServerEnv) > 0 {
		fmt.Fprintf(w, "server environment: %s\n", strings.Join(r.ServerEnv, " "))
	}
	fmt.Fprintf(w, "database: %s, %d replica(s)\n", r.Database, r.Replicas)
	fmt.Fprintf(w, "server start: cold %d ms, VmRSS %.1f MiB", r.ColdStart.Millis, float64(r.ColdStart.RSSKiB)/1024)
	if r.WarmStart != nil {
		fmt.Fprintf(w, "; restart %d ms, VmRSS %.1f MiB", r.WarmStart.Millis, float64(r.WarmStart.RSSKiB)/1024)
	}
	fmt.Fprintf(w, "\nserver at the end: VmRSS %.1f MiB, VmHWM %.1f MiB\n\n", float64(r.EndRSSKiB)/1024, float64(r.PeakRSSKiB)/1024)
	fmt.Fprintf(w, "%-10s %4s %9s %7s %8s %8s %10s %9s %9s %8s\n",
		"mode", "c", "req/s", "ratio", "p50 µs", "p99 µs", "requests", "cli-conn", "up-conn", "RSS MiB")
	for _, c := range r.Cells {
		if c.Variant != r.first() {
			continue // other variants: in their own table below
		}
		ratio := "-"
		// Ratios are to plain direct; proxy-mitm against direct-tls follows the table.
		if d := r.cell(modeDirect, c.Concurrency); d != nil && d.RPS > 0 && c.Mode != modeDirect {
			ratio = fmt.Sprintf("%.2f", c.RPS/d.RPS)
		}
		rss := "-"
		if c.ServerRSSKiB > 0 {
			rss = fmt.Sprintf("%.1f", float64(c.ServerRSSKiB)/1024)
		}
		fmt.Fprintf(w, "%-10s %4d %9.0f %7s %8.0f %8.0f %10d %9d %9d %8s\n",
			c.Mode, c.Concurrency, c.RPS, ratio, c.P50Micros, c.P99Micros, c.Requests, c.ClientConns, c.UpstreamConns, rss)
	}
	if n := len(r.Rounds) / max(len(r.Cells), 1); n > 1 {
		fmt.Fprintf(w, "(req/s and latencies: median of %d rounds; requests and connections: totals)\n", n)
	}
	var extra []string
	for _, c := range r.Cells {
		if c.Mode != modeProxyMITM || c.Variant != r.first() {
			continue
		}
		if d := r.cell(modeDirectTLS, c.Concurrency); d != nil && d.RPS > 0 {
			extra = append(extra, fmt.Sprintf("c=%d %.2f", c.Concurrency, c.RPS/d.RPS))
		}
	}
	if len(extra) > 0 {
		fmt.Fprintf(w, "proxy-mitm vs direct-tls: %s\n", strings.Join(extra, ", "))
	}
	if rows := r.compareVariants(); rows != nil {
		r.printVariants(w, rows)
	}
	if first := r.first(); first != "" {
		fmt.Fprintf(w, "\ntargets (variant %s):\n", first)
	} else {
		fmt.Fprintln(w, "\ntargets:")
	}
	for _, t := range r.Targets {
		status := "MISS"
		switch {
		case t.Missing:
			status = "n/a "
		case t.Met:
			status = "ok  "
		}
		if t.Missing {
			fmt.Fprintf(w, "  %s %-40s (cell not run)\n", status, t.Name)
			continue
		}
		op := "<"
		if t.Unit == "x direct" {
			op = ">="
		}
		fmt.Fprintf(w, "  %s %-40s %8.2f %s (target %s %g)\n", status, t.Name, t.Measured, t.Unit, op, t.Limit)
	}
}

// printVariants shows each variant's req/s and p99 per cell beside the
// first variant's, with the ratio of req/s.
func (r *report) printVariants(w io.Writer, rows []variantRow) {
	first := r.first()
	fmt.Fprintf(w, "\nvariants (median req/s of the same rounds, interleaved cell by cell; ratio to %s):\n", first)
	for _, v := range r.Variants {
		env := strings.Join(v.Env, " ")
		if env == "" {
			env = "(no extra environment)"
		}
		fmt.Fprintf(w, "  %-16s %s\n", v.Name, env)
	}
	fmt.Fprintf(w, "%-16s %-10s %4s %9s %8s %9s %9s %15s\n", "variant", "mode", "c", "req/s", "p99 µs", "ratio", "paired", "paired range")
	for _, row := range rows {
		ratio, paired, spread := "-", "-", "-"
		if row.Ratio > 0 {
			ratio = fmt.Sprintf("%.3f", row.Ratio)
		}
		if row.PairedMedian > 0 {
			paired, spread = fmt.Sprintf("%.3f", row.PairedMedian), fmt.Sprintf("%.3f-%.3f", row.PairedMin, row.PairedMax)
		}
		fmt.Fprintf(w, "%-16s %-10s %4d %9.0f %8.0f %9s %9s %15s\n", row.Variant, row.Mode, row.Concurrency, row.RPS, row.P99Micros, ratio, paired, spread)
	}
	fmt.Fprintln(w, "(ratio: of the medians; paired: median of each round's ratio to the first variant in the same round, and their range;")
	fmt.Fprintln(w, " direct cells reach no server, so their spread across variants is the machine's noise)")
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/cli"
	"github.com/agent-vault/agent-vault/host/store/pgtest"
)

// serveEnv makes the test binary act as `agent-vault`, so the smoke test
// runs the real server command without a separate build.
const serveEnv = "AGENT_VAULT_LOADTEST_ACT_AS_SERVER"

func TestMain(m *testing.M) {
	if os.Getenv(serveEnv) == "1" {
		os.Exit(cli.Main(os.Args[1:]))
	}
	os.Exit(pgtest.Main(m))
}

// TestSmoke runs the whole harness briefly against the real server command:
// every cell completes requests without errors (the upstream answers 200
// only when the proxy injected the credential), connections are pooled, the
// server's memory is read, and the report prints and encodes.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the server; skipped under -short")
	}
	jsonFile := filepath.Join(t.TempDir(), "report.json")
	rep, out, _ := runHarness(t, "-duration", "300ms", "-warmup", "100ms", "-concurrency", "1,4", "-json", jsonFile)
	if len(rep.Cells) != 8 {
		t.Fatalf("got %d cells, want 8 (4 modes x 2 concurrencies)", len(rep.Cells))
	}
	for i, c := range rep.Cells {
		wantMode, wantConc := allModes[i%4], []int{1, 4}[i/4]
		if c.Mode != wantMode || c.Concurrency != wantConc {
			t.Errorf("cell %d is %s@%d, want %s@%d", i, c.Mode, c.Concurrency, wantMode, wantConc)
		}
		if c.Requests == 0 || c.Errors != 0 || c.RPS <= 0 || c.P50Micros <= 0 || c.P99Micros < c.P50Micros {
			t.Errorf("%s@%d: %+v", c.Mode, c.Concurrency, c)
		}
		// Keep-alive: about one connection per worker, kept for the cell
		// (at c=16 the transport was seen to open one more now and then).
		if c.ClientConns < 1 || c.ClientConns > int64(c.Concurrency)+1 || c.Concurrency == 1 && c.ClientConns != 1 {
			t.Errorf("%s@%d: %d client connections for %d requests", c.Mode, c.Concurrency, c.ClientConns, c.Requests)
		}
		proxied := c.Mode == modeProxyHTTP || c.Mode == modeProxyMITM
		if proxied && c.ServerRSSKiB <= 0 {
			t.Errorf("%s@%d: no server RSS sample", c.Mode, c.Concurrency)
		}
		if !proxied && c.ServerRSSKiB != 0 {
			t.Errorf("%s@%d: server RSS %d on a direct cell", c.Mode, c.Concurrency, c.ServerRSSKiB)
		}
		if c.UpstreamConns > 2*int64(c.Concurrency) {
			t.Errorf("%s@%d: the upstream accepted %d connections: not pooled", c.Mode, c.Concurrency, c.UpstreamConns)
		}
	}
	// The proxy's first upstream connection to each upstream is its only
	// one at c=1.
	for _, m := range []string{modeProxyHTTP, modeProxyMITM} {
		if got := rep.cell(m, 1).UpstreamConns; got != 1 {
			t.Errorf("%s@1: the upstream accepted %d connections, want 1", m, got)
		}
	}
	if rep.ColdStart.RSSKiB <= 0 || rep.PeakRSSKiB < rep.ColdStart.RSSKiB || rep.LoadAverageStart == "" {
		t.Errorf("memory or load figures missing: %+v", rep)
	}
	if len(rep.Targets) != 5 {
		t.Fatalf("got %d targets, want 5: %+v", len(rep.Targets), rep.Targets)
	}
	for _, tg := range rep.Targets {
		// c=16 and c=64 were not run: their targets must say so.
		wantMissing := strings.Contains(tg.Name, "c=16") || strings.Contains(tg.Name, "c=64")
		if tg.Missing != wantMissing {
			t.Errorf("target %q: missing=%v, want %v", tg.Name, tg.Missing, wantMissing)
		}
	}

	for _, want := range []string{"mode          c     req/s", "proxy-mitm    4", "targets:", "n/a  proxy-http req/s at c=16 vs direct"} {
		if !strings.Contains(out, want) {
			t.Errorf("printed report lacks %q:\n%s", want, out)
		}
	}
	b, err := os.ReadFile(jsonFile)
	if err != nil {
		t.Fatal(err)
	}
	var decoded report
	if err := json.Unmarshal(b, &decoded); err != nil {
		t.Fatal(err)
	}
	if len(decoded.Cells) != 8 || len(decoded.Rounds) != 8 {
		t.Errorf("JSON report has %d cells and %d rounds, want 8 and 8", len(decoded.Cells), len(decoded.Rounds))
	}
}

// runHarness runs the harness with args, this test binary acting as the
// server (TestMain), and fails the test unless it ends with a report. It
// returns the report and what the harness printed to stdout and stderr.
func runHarness(t *testing.T, args ...string) (rep *report, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	o, err := parseFlags(append(args, "-restart=false", "-wasm-cache", testWasmCache(t)), &errOut)
	if err != nil {
		t.Fatal(err)
	}
	o.bin, o.serverEnv = os.Args[0], append(o.serverEnv, serveEnv+"=1")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	code, rep := runAndReport(ctx, o, &out, &errOut)
	if code != 0 || rep == nil {
		t.Fatalf("exit code %d\n%s", code, errOut.String())
	}
	return rep, out.String(), errOut.String()
}

// testWasmCache keeps the server's plugin compilation cache between test
// runs (as the other end-to-end tests do), so the smoke test does not pay
// a cold compile each time.
func testWasmCache(t *testing.T) string {
	base, err := os.UserCacheDir()
	if err != nil {
		return filepath.Join(t.TempDir(), "wasm-cache")
	}
	return filepath.Join(base, "agent-vault", "loadtest-wasm-cache")
}

// TestMeasureReplicas runs the harness on plain HTTP at c=16 and c=64 for
// one server on SQLite, one on PostgreSQL, and two on PostgreSQL behind
// the TCP round-robin, and prints the three tables. It is a measurement:
// it runs only with AGENT_VAULT_MEASURE=1 (and PostgreSQL installed).
func TestMeasureReplicas(t *testing.T) {
	if os.Getenv("AGENT_VAULT_MEASURE") != "1" {
		t.Skip("a measurement: set AGENT_VAULT_MEASURE=1")
	}
	for _, cfg := range []struct {
		name     string
		replicas int
		postgres bool
	}{{"sqlite-1", 1, false}, {"postgres-1", 1, true}, {"postgres-2", 2, true}} {
		args := []string{"-modes", "direct,proxy-http", "-concurrency", "16,64", "-duration", "3s", "-rounds", "3",
			"-replicas", fmt.Sprint(cfg.replicas)}
		if cfg.postgres {
			args = append(args, "-database-url", pgtest.URL(t))
		}
		_, out, _ := runHarness(t, args...)
		t.Logf("%s:\n%s", cfg.name, out)
	}
}

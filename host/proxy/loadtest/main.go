// Command loadtest measures the Agent Vault proxy on the real server binary
// (make bench-proxy): on loopback, with a tiny upstream answering "ok", it
// reports requests/s and p50/p99 latency at several concurrencies for
//
//	direct       client -> http upstream
//	proxy-http   client -> proxy (absolute-form) -> http upstream, bearer injected
//	direct-tls   client -> https upstream
//	proxy-mitm   client -> CONNECT + TLS to the proxy -> https upstream, bearer injected
//
// plus the server's resident memory right after start and under load, and
// how many connections the upstream accepted (the proxy pools them). It
// starts `agent-vault server` with a temp data dir, provisions it through
// the API (owner, vault, credential, two services, a scoped session) and
// drives keep-alive clients for a fixed window per cell. Everything stays on
// 127.0.0.1; every cell is bounded in time and in requests.
//
// The load generator, the upstream and the server share the machine, so
// the proxied figures are judged as ratios to the direct ones of the same
// run, never as absolute numbers.
package main

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(Main(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// options are the command-line flags.
type options struct {
	bin         string
	serverEnv   []string // extra environment for the server (tests)
	conc        []int
	modes       []string
	warm, dur   time.Duration
	rounds      int
	maxRequests int64
	restart     bool
	wasmCache   string
	serverLog   string
	jsonOut     string
	check       bool
	credentials int    // filler credentials in the vault besides the injected one
	databaseURL string // PostgreSQL shared by the replicas; "" keeps SQLite
	replicas    int    // servers behind a TCP round-robin on the proxy port
}

// Main runs the harness and returns the exit code: 0, 1 on a failure, 2 on
// bad flags, 3 when -check is set and a target was missed.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return 2
	}
	code, _ := runAndReport(ctx, o, stdout, stderr)
	return code
}

// runAndReport runs the harness, prints the report and writes its JSON;
// it returns Main's exit code and the report (nil on failure).
func runAndReport(ctx context.Context, o options, stdout, stderr io.Writer) (int, *report) {
	rep, err := run(ctx, o, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "loadtest:", err)
		return 1, nil
	}
	rep.print(stdout)
	if o.jsonOut != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(o.jsonOut, append(b, '\n'), 0o644); err != nil {
			fmt.Fprintln(stderr, "loadtest:", err)
			return 1, rep
		}
	}
	if o.check && !rep.allMet() {
		return 3, rep
	}
	return 0, rep
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := options{}
	concs := fs.String("concurrency", "1,16,64", "comma-separated client concurrencies")
	modes := fs.String("modes", strings.Join(allModes, ","), "comma-separated modes to run")
	fs.StringVar(&o.bin, "bin", "", "agent-vault binary to test (default: go build the module into a temp dir)")
	fs.DurationVar(&o.warm, "warmup", 500*time.Millisecond, "warm-up before each cell's window (connections, leaf certificates)")
	fs.DurationVar(&o.dur, "duration", 3*time.Second, "measured window per cell")
	fs.IntVar(&o.rounds, "rounds", 1, "times the whole matrix runs; the table shows each cell's median")
	fs.Int64Var(&o.maxRequests, "max-requests", 2_000_000, "most measured requests per cell")
	fs.BoolVar(&o.restart, "restart", true, "restart the server once after provisioning (warm compilation cache) before measuring")
	fs.StringVar(&o.wasmCache, "wasm-cache", "", "keep the plugin compilation cache here between runs (default: a cold compile in the temp data dir)")
	fs.Func("server-env", "set NAME=VALUE in the server's environment (repeatable; e.g. GOMAXPROCS=1)", func(v string) error {
		if name, _, ok := strings.Cut(v, "="); !ok || name == "" {
			return fmt.Errorf("%q is not NAME=VALUE", v)
		}
		o.serverEnv = append(o.serverEnv, v)
		return nil
	})
	fs.StringVar(&o.serverLog, "server-log", "", "append the server's output to this file (GODEBUG=gctrace=1 in the environment shows its GC)")
	fs.StringVar(&o.jsonOut, "json", "", "also write the report as JSON to this file")
	fs.BoolVar(&o.check, "check", false, "exit 3 when a target is missed")
	fs.IntVar(&o.credentials, "credentials", 0, "store this many more credentials in the vault (the egress set grows with them)")
	fs.StringVar(&o.databaseURL, "database-url", "", "run the server(s) on this PostgreSQL database (postgres://…, an empty schema) instead of SQLite")
	fs.IntVar(&o.replicas, "replicas", 1, "servers sharing -database-url, behind a TCP round-robin on the proxy port")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	fail := func(format string, a ...any) (options, error) {
		err := fmt.Errorf(format, a...)
		fmt.Fprintln(stderr, "loadtest:", err)
		return o, err
	}
	for s := range strings.SplitSeq(*concs, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 1024 {
			return fail("-concurrency: %q is not a number from 1 to 1024", s)
		}
		o.conc = append(o.conc, n)
	}
	for s := range strings.SplitSeq(*modes, ",") {
		s = strings.TrimSpace(s)
		ok := false
		for _, m := range append(allModes, extraModes...) {
			ok = ok || m == s
		}
		if !ok {
			return fail("-modes: unknown mode %q (known: %s)", s, strings.Join(append(allModes, extraModes...), ", "))
		}
		o.modes = append(o.modes, s)
	}
	if o.dur <= 0 || o.dur > 5*time.Minute || o.warm < 0 || o.warm > time.Minute {
		return fail("-duration must be in (0, 5m] and -warmup in [0, 1m]")
	}
	if o.rounds < 1 || o.rounds > 20 || o.maxRequests < 1 {
		return fail("-rounds must be 1 to 20 and -max-requests positive")
	}
	if o.credentials < 0 || o.credentials > 10000 {
		return fail("-credentials must be 0 to 10000")
	}
	if o.replicas < 1 || o.replicas > 8 || o.replicas > 1 && o.databaseURL == "" {
		return fail("-replicas must be 1 to 8, and more than 1 needs -database-url")
	}
	if o.databaseURL != "" {
		o.serverEnv = append(o.serverEnv, "AGENT_VAULT_DATABASE_URL="+o.databaseURL)
	}
	return o, nil
}

func run(ctx context.Context, o options, log io.Writer) (*report, error) {
	rep := &report{LoadAverageStart: loadAverage(), Started: time.Now().UTC().Format(time.RFC3339), ServerEnv: o.serverEnv,
		Replicas: o.replicas, Database: "sqlite"}
	if o.databaseURL != "" {
		rep.Database = "postgres"
	}
	tmp, err := os.MkdirTemp("", "agent-vault-loadtest-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if o.bin == "" {
		if o.bin, err = buildBinary(ctx, tmp, log); err != nil {
			return nil, err
		}
	}
	credential := randomHex(24)
	up, err := startUpstream(credential)
	if err != nil {
		return nil, err
	}
	defer up.close()
	caFile := filepath.Join(tmp, "upstream-ca.pem")
	if err := os.WriteFile(caFile, up.caPEM, 0o600); err != nil {
		return nil, err
	}
	dataDir := filepath.Join(tmp, "data")
	if o.wasmCache != "" {
		// The server keeps its compilation cache in <data-dir>/wasm-cache;
		// wazero keys it by module content, so a kept cache is never stale.
		if err := os.MkdirAll(o.wasmCache, 0o700); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, err
		}
		if err := os.Symlink(o.wasmCache, filepath.Join(dataDir, "wasm-cache")); err != nil {
			return nil, err
		}
	}

	var serverLog io.Writer
	if o.serverLog != "" {
		f, err := os.OpenFile(o.serverLog, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		serverLog = f
	}
	start := func() (*serverProc, procMemory, error) {
		sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		s, err := startServer(sctx, o.bin, o.serverEnv, dataDir, caFile, credential, serverLog)
		if err != nil {
			return nil, procMemory{}, err
		}
		m, err := readProcMemory(s.pid())
		if err != nil {
			s.stop()
			return nil, procMemory{}, fmt.Errorf("reading the server's memory: %w", err)
		}
		return s, m, nil
	}
	srv, mem, err := start()
	if err != nil {
		return nil, err
	}
	rep.ColdStart = startInfo{Millis: srv.startDur.Milliseconds(), RSSKiB: mem.RSSKiB}
	fmt.Fprintf(log, "server up (cold) in %v, VmRSS %d KiB\n", srv.startDur.Round(time.Millisecond), mem.RSSKiB)
	var leaked int64
	stopSrv := func() {
		srv.stop()
		leaked += srv.leaks.Load()
	}
	pctx, cancel := context.WithTimeout(ctx, time.Minute)
	su, err := provision(pctx, srv.api, up, credential, o.credentials)
	cancel()
	if err != nil {
		stopSrv()
		return nil, err
	}
	if o.restart {
		stopSrv()
		if srv, mem, err = start(); err != nil {
			return nil, err
		}
		rep.WarmStart = &startInfo{Millis: srv.startDur.Milliseconds(), RSSKiB: mem.RSSKiB}
		fmt.Fprintf(log, "server up (restart) in %v, VmRSS %d KiB\n", srv.startDur.Round(time.Millisecond), mem.RSSKiB)
	}
	defer func() {
		if srv != nil {
			srv.stop()
		}
	}()

	// More replicas on the same database, each with its own data
	// directory, and a TCP round-robin in front of their proxy ports.
	proxyAddr := srv.proxy
	var extra []*serverProc
	defer func() {
		for _, r := range extra {
			r.stop() // on an early return; stopping twice is harmless
		}
	}()
	if o.replicas > 1 {
		backends := []string{srv.proxy}
		for i := 1; i < o.replicas; i++ {
			dir := filepath.Join(tmp, fmt.Sprintf("data-%d", i))
			if o.wasmCache != "" {
				if err := os.MkdirAll(dir, 0o700); err != nil {
					return nil, err
				}
				if err := os.Symlink(o.wasmCache, filepath.Join(dir, "wasm-cache")); err != nil {
					return nil, err
				}
			}
			sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			r, err := startServer(sctx, o.bin, o.serverEnv, dir, caFile, credential, serverLog)
			cancel()
			if err != nil {
				return nil, err
			}
			extra = append(extra, r)
			backends = append(backends, r.proxy)
		}
		rr, err := startRoundRobin(backends)
		if err != nil {
			return nil, err
		}
		defer rr.close()
		proxyAddr = rr.addr()
		fmt.Fprintf(log, "%d replicas behind a TCP round-robin at %s\n", o.replicas, proxyAddr)
	}

	mitmCA, upCA := x509.NewCertPool(), x509.NewCertPool()
	mitmCA.AppendCertsFromPEM(su.mitmCAPEM)
	upCA.AppendCertsFromPEM(up.caPEM)
	t := &target{up: up, proxy: proxyAddr, session: su.sessionToken, mitmCA: mitmCA, upCA: upCA,
		authHdr: "Bearer " + credential, serverPID: srv.pid()}

	runs := map[string][]cellResult{}
	var order []string
	for round := range o.rounds {
		for _, c := range o.conc {
			for _, m := range o.modes {
				r, err := t.runCell(ctx, m, c, o.warm, o.dur, o.maxRequests)
				if err != nil {
					return nil, fmt.Errorf("%s at c=%d: %w", m, c, err)
				}
				if r.Errors > 0 {
					return nil, fmt.Errorf("%s at c=%d: %d failed requests, first: %s", m, c, r.Errors, r.FirstError)
				}
				fmt.Fprintf(log, "round %d %-10s c=%-3d %8.0f req/s  p50 %6.0fµs  p99 %6.0fµs  load %s\n",
					round+1, m, c, r.RPS, r.P50Micros, r.P99Micros, loadAverage())
				key := cellKey(m, c)
				if round == 0 {
					order = append(order, key)
				}
				runs[key] = append(runs[key], r)
				rep.Rounds = append(rep.Rounds, r)
			}
		}
	}
	for _, k := range order {
		rep.Cells = append(rep.Cells, median(runs[k]))
	}
	if m, err := readProcMemory(srv.pid()); err == nil {
		rep.EndRSSKiB, rep.PeakRSSKiB = m.RSSKiB, m.HWMKiB
	}
	srv.stop()
	leaked += srv.leaks.Load()
	srv = nil
	for _, r := range extra {
		r.stop()
		leaked += r.leaks.Load()
	}
	if leaked > 0 {
		return nil, fmt.Errorf("the credential value appeared %d times in the server's output", leaked)
	}
	rep.LoadAverageEnd = loadAverage()
	rep.evaluate()
	return rep, nil
}

// buildBinary builds the module's agent-vault command into dir.
func buildBinary(ctx context.Context, dir string, log io.Writer) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside the agent-vault module; pass -bin")
	}
	bin := filepath.Join(dir, "agent-vault")
	fmt.Fprintln(log, "building", bin)
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, ".")
	cmd.Dir = filepath.Dir(mod)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build: %w", err)
	}
	return bin, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) //nolint:errcheck // never fails
	return hex.EncodeToString(b)
}

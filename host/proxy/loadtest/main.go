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
//
// -variant compares server configurations in the same run (make
// bench-metrics: metrics on, metrics off, the audit file sink): each
// variant gets its own provisioned servers, all started before measuring,
// and every cell of every round runs once per variant back to back (each
// round starting with the next variant), so a change in the machine's load
// hits all variants alike. The report adds each variant's req/s as a ratio
// to the first variant's.
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
	"regexp"
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
	variants    []variant
}

// variant is one server configuration measured in the same run as the
// others: its own servers, with env on top of -server-env.
type variant struct {
	name string
	env  []string
}

var variantName = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,31}$`)

// parseVariant reads -variant NAME or NAME:ENV=V,ENV2=V2 (values cannot
// hold commas).
func parseVariant(s string) (variant, error) {
	name, envs, _ := strings.Cut(s, ":")
	if !variantName.MatchString(name) {
		return variant{}, fmt.Errorf("-variant %q: the name must be 1-32 of a-z 0-9 _ . - (then :ENV=VALUE,…)", s)
	}
	v := variant{name: name}
	if envs == "" {
		return v, nil
	}
	for kv := range strings.SplitSeq(envs, ",") {
		if env, _, ok := strings.Cut(kv, "="); !ok || env == "" || strings.ContainsAny(env, " \t") {
			return variant{}, fmt.Errorf("-variant %q: %q is not ENV=VALUE", s, kv)
		}
		v.env = append(v.env, kv)
	}
	return v, nil
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
	fs.Func("variant", "measure this server configuration too, NAME or NAME:ENV=VALUE,ENV2=VALUE2 (repeatable): each variant runs its own servers, "+
		"the rounds interleave them cell by cell, and the report compares each to the first", func(s string) error {
		v, err := parseVariant(s)
		if err != nil {
			return err
		}
		for _, have := range o.variants {
			if have.name == v.name {
				return fmt.Errorf("-variant %q: the name %s is taken", s, v.name)
			}
		}
		o.variants = append(o.variants, v)
		return nil
	})
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
	if len(o.variants) > 1 && o.databaseURL != "" {
		return fail("-variant: several variants cannot share -database-url (each runs its own servers)")
	}
	if len(o.variants) > 8 {
		return fail("-variant: at most 8")
	}
	if len(o.variants) == 0 {
		o.variants = []variant{{name: "default"}}
	}
	return o, nil
}

func run(ctx context.Context, o options, log io.Writer) (*report, error) {
	rep := &report{LoadAverageStart: loadAverage(), Started: time.Now().UTC().Format(time.RFC3339), ServerEnv: o.serverEnv,
		Replicas: o.replicas, Database: "sqlite"}
	if o.databaseURL != "" {
		rep.Database = "postgres"
	}
	if len(o.variants) > 1 && o.databaseURL != "" {
		return nil, errors.New("-variant runs one server set per variant; they cannot share -database-url")
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
	var serverLog io.Writer
	if o.serverLog != "" {
		f, err := os.OpenFile(o.serverLog, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		serverLog = f
	}

	// One set of servers per variant, all up before measuring, so each
	// round measures every variant under the same machine load.
	var sets []*serverSet
	defer func() {
		for _, s := range sets {
			s.stop() // on an early return; stopping twice is harmless
		}
	}()
	for i, v := range o.variants {
		dir := tmp
		if len(o.variants) > 1 {
			dir = filepath.Join(tmp, "variant-"+v.name)
			fmt.Fprintf(log, "variant %s: %s\n", v.name, strings.Join(v.env, " "))
		}
		set, err := startSet(ctx, o, v, dir, up, caFile, credential, serverLog, log)
		if set != nil {
			sets = append(sets, set)
		}
		if err != nil {
			return nil, err
		}
		if i == 0 {
			rep.ColdStart, rep.WarmStart = set.cold, set.warm
		}
		if len(o.variants) > 1 {
			rep.Variants = append(rep.Variants, variantInfo{Name: v.name, Env: v.env, ColdStart: set.cold, WarmStart: set.warm})
		}
	}

	runs := map[string][]cellResult{}
	var order []string
	for round := range o.rounds {
		for _, c := range o.conc {
			for _, m := range o.modes {
				// Each round starts with the next variant, so no variant
				// always runs first after a change of cell (measured: the
				// first position was up to 30 % off on a loaded machine).
				for k := range sets {
					i := (k + round) % len(sets)
					r, err := sets[i].target.runCell(ctx, m, c, o.warm, o.dur, o.maxRequests)
					if err != nil {
						return nil, fmt.Errorf("%s at c=%d: %w", m, c, err)
					}
					if r.Errors > 0 {
						return nil, fmt.Errorf("%s at c=%d: %d failed requests, first: %s", m, c, r.Errors, r.FirstError)
					}
					name := ""
					r.Round = round + 1
					if len(sets) > 1 {
						r.Variant, name = o.variants[i].name, " "+o.variants[i].name
					}
					fmt.Fprintf(log, "round %d %-10s c=%-3d%s %8.0f req/s  p50 %6.0fµs  p99 %6.0fµs  load %s\n",
						round+1, m, c, name, r.RPS, r.P50Micros, r.P99Micros, loadAverage())
					key := cellKey(m, c) + "/" + r.Variant
					if round == 0 {
						order = append(order, key)
					}
					runs[key] = append(runs[key], r)
					rep.Rounds = append(rep.Rounds, r)
				}
			}
		}
	}
	for _, k := range order {
		rep.Cells = append(rep.Cells, median(runs[k]))
	}
	if m, err := readProcMemory(sets[0].srv.pid()); err == nil {
		rep.EndRSSKiB, rep.PeakRSSKiB = m.RSSKiB, m.HWMKiB
	}
	var leaked int64
	for _, s := range sets {
		s.stop()
		leaked += s.leaked
	}
	if leaked > 0 {
		return nil, fmt.Errorf("the credential value appeared %d times in the server's output", leaked)
	}
	rep.LoadAverageEnd = loadAverage()
	rep.evaluate()
	return rep, nil
}

// serverSet is one variant's servers: the first (provisioned, then
// restarted) and its replicas behind a round-robin, with the target the
// load generator drives.
type serverSet struct {
	srv     *serverProc
	extra   []*serverProc
	rr      *roundRobin
	target  *target
	cold    startInfo
	warm    *startInfo
	leaked  int64
	stopped bool
}

func (s *serverSet) stop() {
	if s.stopped {
		return
	}
	s.stopped = true
	for _, p := range append([]*serverProc{s.srv}, s.extra...) {
		if p != nil {
			p.stop()
			s.leaked += p.leaks.Load()
		}
	}
	if s.rr != nil {
		s.rr.close()
	}
}

// startSet starts and provisions one variant's servers in dir. On an
// error it returns what it started too, for the caller to stop.
func startSet(ctx context.Context, o options, v variant, dir string, up *upstream, caFile, credential string, serverLog, log io.Writer) (*serverSet, error) {
	env := append(append([]string(nil), o.serverEnv...), v.env...)
	dataDir := filepath.Join(dir, "data")
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
	start := func(dataDir string) (*serverProc, procMemory, error) {
		sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		s, err := startServer(sctx, o.bin, env, dataDir, caFile, credential, serverLog)
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
	srv, mem, err := start(dataDir)
	if err != nil {
		return nil, err
	}
	set := &serverSet{srv: srv, cold: startInfo{Millis: srv.startDur.Milliseconds(), RSSKiB: mem.RSSKiB}}
	fmt.Fprintf(log, "server up (cold) in %v, VmRSS %d KiB\n", srv.startDur.Round(time.Millisecond), mem.RSSKiB)
	pctx, cancel := context.WithTimeout(ctx, time.Minute)
	su, err := provision(pctx, srv.api, up, credential, o.credentials)
	cancel()
	if err != nil {
		return set, err
	}
	if o.restart {
		set.stop()
		set.stopped = false
		if set.srv, mem, err = start(dataDir); err != nil {
			return set, err
		}
		set.warm = &startInfo{Millis: set.srv.startDur.Milliseconds(), RSSKiB: mem.RSSKiB}
		fmt.Fprintf(log, "server up (restart) in %v, VmRSS %d KiB\n", set.srv.startDur.Round(time.Millisecond), mem.RSSKiB)
	}

	// More replicas on the same database, each with its own data
	// directory, and a TCP round-robin in front of their proxy ports.
	proxyAddr := set.srv.proxy
	if o.replicas > 1 {
		backends := []string{set.srv.proxy}
		for i := 1; i < o.replicas; i++ {
			rdir := filepath.Join(dir, fmt.Sprintf("data-%d", i))
			if o.wasmCache != "" {
				if err := os.MkdirAll(rdir, 0o700); err != nil {
					return set, err
				}
				if err := os.Symlink(o.wasmCache, filepath.Join(rdir, "wasm-cache")); err != nil {
					return set, err
				}
			}
			r, _, err := start(rdir)
			if err != nil {
				return set, err
			}
			set.extra = append(set.extra, r)
			backends = append(backends, r.proxy)
		}
		if set.rr, err = startRoundRobin(backends); err != nil {
			return set, err
		}
		proxyAddr = set.rr.addr()
		fmt.Fprintf(log, "%d replicas behind a TCP round-robin at %s\n", o.replicas, proxyAddr)
	}

	mitmCA, upCA := x509.NewCertPool(), x509.NewCertPool()
	mitmCA.AppendCertsFromPEM(su.mitmCAPEM)
	upCA.AppendCertsFromPEM(up.caPEM)
	set.target = &target{up: up, proxy: proxyAddr, session: su.sessionToken, mitmCA: mitmCA, upCA: upCA,
		authHdr: "Bearer " + credential, serverPID: set.srv.pid()}
	return set, nil
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

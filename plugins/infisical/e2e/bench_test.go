package e2e

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/plugins/infisical/infisicaltest"
	"github.com/agent-vault/agent-vault/plugins/internal/storee2e"
)

// BenchmarkSync10k syncs a folder of 10 000 secrets end to end through the
// server: emulator → wasm plugin → seal → one transaction. Every sync
// changes every value, so each one writes the whole snapshot. It reports
// the server's peak resident memory (VmHWM) as peak-rss-MB.
//
//	go test ./plugins/infisical/e2e -run XXX -bench Sync10k -benchtime 3x
func BenchmarkSync10k(b *testing.B) {
	const n = 10000
	emu := infisicaltest.New(b)
	emu.AddIdentity(infisicaltest.Identity{ID: "id-1", Universal: &infisicaltest.UniversalAuth{ClientID: "cid", ClientSecret: "csecret"}})
	emu.SetSecrets("p-1", "dev", "/", snapshotOf("KEY", "v0", n))
	srv := startServer(b, newDataDir(b), infisicalEnv(emu))
	c := register(b, srv)
	t0 := time.Now()
	c.Must("POST", "/v1/vaults", map[string]any{"name": "bench", "credential_store": storeSpec("p-1", "dev", "/", 3600)}, 201, nil)
	b.Logf("create with probe and initial sync of %d secrets: %v", n, time.Since(t0))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		emu.SetSecrets("p-1", "dev", "/", snapshotOf("KEY", fmt.Sprintf("v%d", i+1), n))
		b.StartTimer()
		c.Must("POST", "/v1/vaults/bench/sync", nil, 200, nil)
	}
	b.StopTimer()
	if s := c.StoreOf("bench"); s.CredentialCount != n+1 {
		b.Fatalf("credential count %d", s.CredentialCount)
	}
	b.ReportMetric(float64(peakRSS(b, srv.Cmd.Process.Pid))/(1<<20), "peak-rss-MB")
	srv.Stop()
}

// peakRSS reads a process's peak resident set size (Linux).
func peakRSS(b *testing.B, pid int) int64 {
	n := storee2e.PeakRSS(pid)
	if n == 0 {
		b.Skip("no /proc")
	}
	return n
}

// BenchmarkProxy compares a proxied request whose credential is a static
// row with one whose credential comes from a cached dynamic-secret lease.
func BenchmarkProxy(b *testing.B) {
	emu := infisicaltest.New(b)
	emu.AddIdentity(infisicaltest.Identity{ID: "id-1", Universal: &infisicaltest.UniversalAuth{ClientID: "cid", ClientSecret: "csecret"}})
	emu.SetSecrets("p-1", "dev", "/", map[string]string{"API_KEY": "static-token"})
	emu.AddDynamicSecret("p-1", "dev", "/", infisicaltest.DynamicSecret{Name: "api", DefaultTTL: 24 * time.Hour, Template: map[string]any{"token": "dynamic-{seq}"}})
	srv := startServer(b, newDataDir(b), infisicalEnv(emu))
	c := register(b, srv)
	u := newUpstream(b)
	c.Must("POST", "/v1/vaults", map[string]any{"name": "bench", "credential_store": storeSpec("p-1", "dev", "/", 3600)}, 201, nil)
	for _, tc := range []struct{ name, key, want string }{
		{"static", "API_KEY", "Bearer static-token"},
		{"dynamic-cached", "API_TOKEN", "Bearer dynamic-1"},
	} {
		c.Must("PUT", "/v1/vaults/bench/services", bearerService(u, tc.key), 200, nil)
		a := newAgent(b, c, srv, "bench", u)
		if got := a.MustGet(); got != tc.want { // warms the lease cache
			b.Fatalf("%s injected %q", tc.name, got)
		}
		b.Run(tc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, got, err := a.Get(); err != nil || got != tc.want {
					b.Fatalf("got %q %v", got, err)
				}
			}
		})
	}
	if n := emu.Counts().LeasesMinted; n != 1 {
		b.Fatalf("%d leases minted", n)
	}
	srv.Stop()
}

// BenchmarkMemoryUnderLoad measures the server's memory with an Infisical
// store configured: RSS once the vault is synced and serving (ready-rss-MB),
// the highest RSS sampled while 64 agents send requests through the proxy
// (load-rss-MB), and the process's peak (peak-rss-MB, VmHWM, which includes
// the plugin's compilation).
//
//	go test ./plugins/infisical/e2e -run XXX -bench MemoryUnderLoad -benchtime 20000x
func BenchmarkMemoryUnderLoad(b *testing.B) {
	const agents = 64
	emu := infisicaltest.New(b)
	emu.AddIdentity(infisicaltest.Identity{ID: "id-1", Universal: &infisicaltest.UniversalAuth{ClientID: "cid", ClientSecret: "csecret"}})
	emu.SetSecrets("p-1", "dev", "/", map[string]string{"API_KEY": "static-token"})
	// Rate limits far above what 64 agents send: the check runs, never refuses.
	env := append(infisicalEnv(emu), "AGENT_VAULT_PROXY_RATE_PER_AGENT=1000000000", "AGENT_VAULT_PROXY_RATE_PER_VAULT=1000000000")
	srv := startServer(b, newDataDir(b), env)
	pid := srv.Cmd.Process.Pid
	c := register(b, srv)
	u := newUpstream(b)
	c.Must("POST", "/v1/vaults", map[string]any{"name": "bench", "credential_store": storeSpec("p-1", "dev", "/", 3600)}, 201, nil)
	c.Must("PUT", "/v1/vaults/bench/services", bearerService(u, "API_KEY"), 200, nil)
	a := newAgent(b, c, srv, "bench", u)
	if got := a.MustGet(); got != "Bearer static-token" {
		b.Fatalf("injected %q", got)
	}
	ready := storee2e.RSS(pid)

	var maxRSS atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			if r := storee2e.RSS(pid); r > maxRSS.Load() {
				maxRSS.Store(r)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, agents)
	b.ResetTimer()
	for range agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				if _, got, err := a.Get(); err != nil || got != "Bearer static-token" {
					errs <- fmt.Errorf("got %q %v", got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	close(stop)
	<-sampled
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(ready)/(1<<20), "ready-rss-MB")
	b.ReportMetric(float64(maxRSS.Load())/(1<<20), "load-rss-MB")
	b.ReportMetric(float64(peakRSS(b, pid))/(1<<20), "peak-rss-MB")
	srv.Stop()
}

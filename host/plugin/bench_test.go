package plugin

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/plugins"
	"github.com/agent-vault/agent-vault/sdk/abi"
)

// BenchmarkCall measures each ABI export through the whole host path (pool,
// alloc, write, call, free, envelope decode) on the WAT store guest, so it
// is the host's own per-call overhead.
func BenchmarkCall(b *testing.B) {
	rt := newTestRuntime(b, nil)
	p := rt.load(b, "ok/store")
	ctx := context.Background()
	cfg := json.RawMessage(`{"project":"p"}`)
	calls := []struct {
		export string
		fn     func() error
	}{
		{abi.ExportValidateConfig, func() error { return p.ValidateConfig(ctx, cfg) }},
		{abi.ExportProbe, func() error { return p.Probe(ctx, cfg) }},
		{abi.ExportSync, func() error { _, err := p.Sync(ctx, cfg); return err }},
		{abi.ExportValidateWrite, func() error { return p.ValidateWrite(ctx, cfg, map[string]string{"API_KEY": "v"}) }},
		{abi.ExportDynamicList, func() error { _, err := p.ListDynamic(ctx, cfg); return err }},
		{abi.ExportLeaseCreate, func() error { _, err := p.LeaseCreate(ctx, cfg, "db"); return err }},
		{abi.ExportLeaseRenew, func() error { _, err := p.LeaseRenew(ctx, cfg, "l1"); return err }},
		{abi.ExportLeaseRevoke, func() error { return p.LeaseRevoke(ctx, cfg, "l1") }},
	}
	for _, c := range calls {
		b.Run(c.export, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if err := c.fn(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// shipped returns the shipped plugins and the SDK examples built by
// `make plugins` (examples as "example-<name>": the httpjson example links
// net/http the way an external store does).
func shipped(b *testing.B) map[string][]byte {
	all, err := plugins.All()
	if err != nil {
		b.Skip(err)
	}
	examples, _ := filepath.Glob("../../plugins/dist/_examples/*.wasm")
	for _, path := range examples {
		if wasm, err := os.ReadFile(path); err == nil {
			all["example-"+strings.TrimSuffix(filepath.Base(path), ".wasm")] = wasm
		}
	}
	return all
}

// BenchmarkShippedLoadCold is Load (compile, validate, instantiate, read
// the manifest) with an empty compilation cache. It reports the module size.
func BenchmarkShippedLoadCold(b *testing.B) {
	for kind, wasm := range shipped(b) {
		b.Run(kind, func(b *testing.B) {
			b.ReportMetric(float64(len(wasm)), "module-bytes")
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				dir, _ := os.MkdirTemp("", "cold")
				rt := newTestRuntime(b, func(c *Config) { c.CacheDir = dir; c.MemoryLimitPages = 1024 })
				b.StartTimer()
				if _, err := rt.Load(context.Background(), kind, wasm); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				rt.Close(context.Background())
				os.RemoveAll(dir)
				b.StartTimer()
			}
		})
	}
}

// BenchmarkShippedLoadWarm is Load in a new runtime over a populated cache:
// what a server restart pays per plugin. It also reports the fastest load
// (min-ns/op): on a shared machine the mean follows the load average, the
// fastest of ten loads stays close to the cost itself.
func BenchmarkShippedLoadWarm(b *testing.B) {
	for kind, wasm := range shipped(b) {
		b.Run(kind, func(b *testing.B) {
			dir := b.TempDir()
			warm := newTestRuntime(b, func(c *Config) { c.CacheDir = dir; c.MemoryLimitPages = 1024 })
			if _, err := warm.Load(context.Background(), kind, wasm); err != nil {
				b.Fatal(err)
			}
			fastest := time.Duration(math.MaxInt64)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				rt := newTestRuntime(b, func(c *Config) { c.CacheDir = dir; c.MemoryLimitPages = 1024 })
				// A restarted server has no garbage from an earlier load to
				// collect; neither does this one.
				runtime.GC()
				b.StartTimer()
				start := time.Now()
				if _, err := rt.Load(context.Background(), kind, wasm); err != nil {
					b.Fatal(err)
				}
				fastest = min(fastest, time.Since(start))
				b.StopTimer()
				rt.Close(context.Background())
				b.StartTimer()
			}
			b.ReportMetric(float64(fastest.Nanoseconds()), "min-ns/op")
			b.ReportMetric(float64(len(wasm)), "module-bytes")
		})
	}
}

// BenchmarkShippedSmallCall is one small call into a real Go guest: the
// built-in store validating a one-key write.
func BenchmarkShippedSmallCall(b *testing.B) {
	wasm, ok := shipped(b)["builtin"]
	if !ok {
		b.Skip("builtin not built")
	}
	rt := newTestRuntime(b, func(c *Config) { c.MemoryLimitPages = 1024 })
	p, err := rt.Load(context.Background(), "builtin", wasm)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	w := map[string]string{"API_KEY": "value"}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := p.ValidateWrite(ctx, nil, w); err != nil {
			b.Fatal(err)
		}
	}
}

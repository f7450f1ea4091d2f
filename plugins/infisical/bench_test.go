//go:build !wasip1

package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/agent-vault/agent-vault/host/plugin"
	"github.com/agent-vault/agent-vault/plugins/infisical/infisicaltest"
)

// BenchmarkSyncWasm10k is the plugin's share of a 10 000-secret sync: the
// host runtime calls sync on the wasm build, which fetches the folder from
// the emulator and returns the snapshot, decoded and checked by the host.
// The e2e BenchmarkSync10k adds sealing and the database.
//
//	go test ./plugins/infisical -run XXX -bench SyncWasm10k -benchtime 5x
func BenchmarkSyncWasm10k(b *testing.B) {
	const n = 10000
	emu := infisicaltest.New(b)
	emu.AddIdentity(infisicaltest.Identity{ID: "id-1", Universal: &infisicaltest.UniversalAuth{ClientID: "cid", ClientSecret: "csecret"}})
	secrets := make(map[string]string, n)
	for i := 0; i < n; i++ {
		secrets[fmt.Sprintf("KEY_%05d", i)] = fmt.Sprintf("value-%d", i)
	}
	emu.SetSecrets("p-1", "dev", "/", secrets)
	env := map[string]string{envURL: emu.URL(), envUniversalID: "cid", envUniversalSecret: "csecret"}
	rt, err := plugin.NewRuntime(context.Background(), plugin.Config{
		CacheDir: b.TempDir(),
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		Env:      func(k string) string { return env[k] },
	})
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close(context.Background())
	p, err := rt.Load(context.Background(), "infisical", wasm(b))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cfg := context.Background(), cfgOf("p-1", "dev", "/")
	if _, err := p.Sync(ctx, cfg); err != nil { // logs in, warms the instance
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		got, err := p.Sync(ctx, cfg)
		if err != nil || len(got) != n {
			b.Fatalf("%d secrets, %v", len(got), err)
		}
	}
}

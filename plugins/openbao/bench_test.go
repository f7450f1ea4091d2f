//go:build !wasip1

package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/host/plugin"
	"github.com/agent-vault/agent-vault/plugins/openbao/openbaotest"
)

// BenchmarkSyncWasm10k is the plugin's share of a 10 000-secret sync: the
// host runtime calls sync on the wasm build, which reads the KV v2 secret
// from the emulator and returns the snapshot, decoded and checked by the
// host. The e2e BenchmarkSync10k adds sealing and the database.
//
//	go test ./plugins/openbao -run XXX -bench SyncWasm10k -benchtime 5x
func BenchmarkSyncWasm10k(b *testing.B) {
	const n = 10000
	emu := openbaotest.New(b)
	emu.AddAppRole(openbaotest.AppRole{RoleID: "rid", SecretID: "sid", Policies: []string{"*"}, TTL: time.Hour})
	secrets := make(map[string]any, n)
	for i := 0; i < n; i++ {
		secrets[fmt.Sprintf("KEY_%05d", i)] = fmt.Sprintf("value-%d", i)
	}
	emu.PutSecret("", "secret", "big", secrets)
	env := map[string]string{envAddr: emu.URL(), envRoleID: "rid", envSecretID: "sid"}
	rt, err := plugin.NewRuntime(context.Background(), plugin.Config{
		CacheDir: b.TempDir(),
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		Env:      func(k string) string { return env[k] },
	})
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close(context.Background())
	p, err := rt.Load(context.Background(), "openbao", wasm(b))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cfg := context.Background(), cfgOf(`"mount":"secret","path":"big"`)
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

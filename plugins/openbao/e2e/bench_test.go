package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/plugins/internal/storee2e"
	"github.com/agent-vault/agent-vault/plugins/openbao/openbaotest"
)

// BenchmarkSync10k syncs a KV v2 secret of 10 000 keys end to end through
// the server: emulator → wasm plugin → seal → one transaction. Every sync
// reads a new version with every value changed, so each one writes the
// whole snapshot. It reports the server's peak resident memory.
//
//	go test ./plugins/openbao/e2e -run XXX -bench Sync10k -benchtime 3x
func BenchmarkSync10k(b *testing.B) {
	const n = 10000
	snapshot := func(v string) map[string]any {
		m := make(map[string]any, n)
		for i := 0; i < n; i++ {
			m[fmt.Sprintf("KEY_%05d", i)] = fmt.Sprintf("%s-%d", v, i)
		}
		return m
	}
	emu := openbaotest.New(b)
	emu.AddAppRole(openbaotest.AppRole{RoleID: "rid", SecretID: "sid", Policies: []string{"*"}, TTL: time.Hour})
	emu.PutSecret("", "secret", "big", snapshot("v0"))
	f := &fixture{emu: emu}
	srv := storee2e.StartServer(b, storee2e.NewDataDir(b), f.Env())
	c := storee2e.Register(b, srv)
	t0 := time.Now()
	c.Must("POST", "/v1/vaults", map[string]any{"name": "bench", "credential_store": map[string]any{"kind": "openbao", "config": map[string]any{"mount": "secret", "path": "big"}}}, 201, nil)
	b.Logf("create with probe and initial sync of %d secrets: %v", n, time.Since(t0))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		emu.PutSecret("", "secret", "big", snapshot(fmt.Sprintf("v%d", i+1)))
		b.StartTimer()
		c.Must("POST", "/v1/vaults/bench/sync", nil, 200, nil)
	}
	b.StopTimer()
	if s := c.StoreOf("bench"); s.CredentialCount != n {
		b.Fatalf("credential count %d", s.CredentialCount)
	}
	b.ReportMetric(float64(storee2e.PeakRSS(srv.Cmd.Process.Pid))/(1<<20), "peak-rss-MB")
	srv.Stop()
}

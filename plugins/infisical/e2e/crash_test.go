package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/plugins/infisical/infisicaltest"
	"github.com/agent-vault/agent-vault/plugins/internal/storee2e"
)

// snapshotOf is n keys <PREFIX>_<i> plus COMMON, all valued by tag.
func snapshotOf(prefix, tag string, n int) map[string]string {
	m := make(map[string]string, n+1)
	for i := 0; i < n; i++ {
		m[fmt.Sprintf("%s_%05d", prefix, i)] = fmt.Sprintf("%s-%d", tag, i)
	}
	m["COMMON"] = tag
	return m
}

// TestKillMidApply (item 7): the server is SIGKILLed while it applies a
// sync of a large snapshot; after a restart the vault holds exactly the old
// or the new snapshot. The kill lands at several points: when Infisical's
// answer has been sent (the plugin is decoding), and once the database's
// write-ahead log grows (the transaction is writing).
func TestKillMidApply(t *testing.T) {
	const n = 2000
	oldSnap, newSnap := snapshotOf("OLD", "old", n), snapshotOf("NEW", "new", n)
	answered := make(chan struct{}, 1)
	emu := infisicaltest.New(t, infisicaltest.WithOnRequest(func(r infisicaltest.Request) {
		if r.Route == infisicaltest.RouteListSecrets {
			select {
			case answered <- struct{}{}:
			default:
			}
		}
	}))
	emu.AddIdentity(infisicaltest.Identity{ID: "id-1", Universal: &infisicaltest.UniversalAuth{ClientID: "cid", ClientSecret: "csecret"}})
	emu.SetSecrets("p-1", "dev", "/", oldSnap)
	u := newUpstream(t)
	dir := newDataDir(t)
	srv := startServer(t, dir, infisicalEnv(emu))
	c := register(t, srv)
	c.Must("POST", "/v1/vaults", map[string]any{"name": "crash", "credential_store": storeSpec("p-1", "dev", "/", 3600)}, 201, nil)
	c.Must("PUT", "/v1/vaults/crash/services", bearerService(u, "COMMON"), 200, nil)
	wal := filepath.Join(dir, "agent-vault.db-wal")

	// waitFor returns a function that blocks until the kill point.
	points := []struct {
		name string
		wait func()
	}{
		{"answer-sent", func() { <-answered }},
		{"answer-sent-then-400ms", func() { <-answered; spin(400 * time.Millisecond) }},
		{"wal-growing", func() {
			<-answered
			base := fileSize(wal)
			deadline := time.Now().Add(10 * time.Second)
			for fileSize(wal) < base+32<<10 && time.Now().Before(deadline) {
			}
		}},
	}
	if storee2e.OnPostgres() {
		points = points[:2] // no write-ahead log file to watch
	}
	outcomes := map[string]int{}
	for _, p := range points {
		// Back to the old snapshot.
		emu.SetSecrets("p-1", "dev", "/", oldSnap)
		c.Must("POST", "/v1/vaults/crash/sync", nil, 200, nil)
		for len(answered) > 0 {
			<-answered
		}
		emu.SetSecrets("p-1", "dev", "/", newSnap)
		go func() {
			req, _ := http.NewRequest("POST", srv.API+"/v1/vaults/crash/sync", nil)
			req.Header.Set("Authorization", "Bearer "+c.Token)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
		p.wait()
		srv.Kill()

		srv = startServer(t, dir, infisicalEnv(emu))
		c = login(t, srv)
		keys := c.Keys("crash", "static")
		got := classify(keys, n)
		if got == "mixed" {
			t.Fatalf("%s: after the crash the vault holds a mix of snapshots (%d keys, first %v)", p.name, len(keys), keys[:3])
		}
		a := newAgent(t, c, srv, "crash", u)
		if v := a.MustGet(); v != "Bearer "+got {
			t.Fatalf("%s: the keys are the %s snapshot but COMMON injects %q", p.name, got, v)
		}
		outcomes[p.name+"="+got]++
	}
	t.Logf("outcomes by kill point: %v", outcomes)
	srv.Stop()
}

// classify says whether keys are exactly the old or the new snapshot.
func classify(keys []string, n int) string {
	if len(keys) != n+1 {
		return "mixed"
	}
	prefix := ""
	for _, k := range keys {
		if k == "COMMON" {
			continue
		}
		p, _, _ := strings.Cut(k, "_")
		if prefix == "" {
			prefix = p
		}
		if p != prefix {
			return "mixed"
		}
	}
	return strings.ToLower(prefix)
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// spin busy-waits d: a kill point, not synchronisation (the assertion
// holds wherever the kill lands).
func spin(d time.Duration) {
	for end := time.Now().Add(d); time.Now().Before(end); {
	}
}

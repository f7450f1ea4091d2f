package e2e

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/plugins/infisical/infisicaltest"
)

// TestBadKey (item 3): one bad key upstream fails the sync with
// external_store_invalid_key naming it; requests keep the old snapshot;
// after the rename the status is ok again.
func TestBadKey(t *testing.T) {
	e := shared(t)
	c := e.ownerFor(t)
	u := newUpstream(t)
	e.emu.SetSecrets("p-1", "dev", "/badkey", map[string]string{"API_KEY": "v1"})
	c.Must("POST", "/v1/vaults", map[string]any{"name": "badkey", "credential_store": storeSpec("p-1", "dev", "/badkey", 3600)}, 201, nil)
	c.Must("PUT", "/v1/vaults/badkey/services", bearerService(u, "API_KEY"), 200, nil)
	a := newAgent(t, c, e.srv, "badkey", u)

	e.emu.SetSecrets("p-1", "dev", "/badkey", map[string]string{"API_KEY": "v2", "database-url": "x"})
	p := c.Problem("POST", "/v1/vaults/badkey/sync", nil)
	if p.Code != "external_store_invalid_key" || !strings.Contains(p.Detail, `"database-url"`) {
		t.Fatalf("sync: %+v", p)
	}
	s := c.StoreOf("badkey")
	if s.LastSyncStatus != "error" || !strings.Contains(s.LastSyncError, "database-url") {
		t.Fatalf("summary %+v", s)
	}
	if got := a.MustGet(); got != "Bearer v1" {
		t.Fatalf("after a failed sync injected %q, want the old value", got)
	}
	e.emu.SetSecrets("p-1", "dev", "/badkey", map[string]string{"API_KEY": "v2", "DATABASE_URL": "x"})
	s = summary{}
	c.Must("POST", "/v1/vaults/badkey/sync", nil, 200, &s)
	if s.LastSyncStatus != "ok" || s.LastSyncError != "" || s.CredentialCount != 2 {
		t.Fatalf("after rename %+v", s)
	}
	if got := a.MustGet(); got != "Bearer v2" {
		t.Fatalf("after rename injected %q", got)
	}
}

// TestOutage (item 4): with Infisical down or answering 500 for several
// sync cycles, every proxied request still succeeds with cached values.
func TestOutage(t *testing.T) {
	e := shared(t)
	c := e.ownerFor(t)
	u := newUpstream(t)
	e.emu.SetSecrets("p-1", "dev", "/outage", map[string]string{"API_KEY": "cached"})
	c.Must("POST", "/v1/vaults", map[string]any{"name": "outage", "credential_store": storeSpec("p-1", "dev", "/outage", 3600)}, 201, nil)
	c.Must("PUT", "/v1/vaults/outage/services", bearerService(u, "API_KEY"), 200, nil)
	a := newAgent(t, c, e.srv, "outage", u)
	e.emu.SetSecret("p-1", "dev", "/outage", "API_KEY", "never-seen")

	faults := []struct {
		name  string
		fault infisicaltest.Fault
		calls int // list calls per failed sync
	}{
		{"500", infisicaltest.Status(500), 1},
		{"502-html", infisicaltest.HTMLError(502), 1},
		{"malformed", infisicaltest.MalformedJSON(), 1},
		{"token-expired", infisicaltest.TokenExpired(), 2}, // the plugin logs in again once
	}
	for _, f := range faults {
		e.emu.Inject(infisicaltest.RouteListSecrets, f.fault.OnQuery("secretPath", "/outage").Times(3*f.calls))
		for cycle := 0; cycle < 3; cycle++ {
			p := c.Problem("POST", "/v1/vaults/outage/sync", nil)
			if p.Status < 400 || !strings.HasPrefix(p.Code, "external_store_") {
				t.Fatalf("%s cycle %d: sync answered %+v", f.name, cycle, p)
			}
			if s := c.StoreOf("outage"); s.LastSyncStatus != "error" || s.LastSyncError == "" {
				t.Fatalf("%s: summary %+v", f.name, s)
			}
			for i := 0; i < 5; i++ {
				if got := a.MustGet(); got != "Bearer cached" {
					t.Fatalf("%s cycle %d: injected %q", f.name, cycle, got)
				}
			}
		}
		e.emu.ClearFaults()
	}
	// Infisical entirely down: connections refused.
	t.Run("down", func(t *testing.T) {
		down := startDownEmulatorServer(t, u)
		for cycle := 0; cycle < 3; cycle++ {
			if p := down.owner.Problem("POST", "/v1/vaults/down/sync", nil); p.Code != "external_store_unreachable" {
				t.Fatalf("cycle %d: %+v", cycle, p)
			}
			for i := 0; i < 5; i++ {
				if got := down.agent.MustGet(); got != "Bearer cached" {
					t.Fatalf("injected %q", got)
				}
			}
		}
	})
}

// downEnv is a server whose emulator has been stopped after the vault was
// created.
type downEnv struct {
	owner *client
	agent *agent
}

// startDownEmulatorServer runs a server against its own emulator, creates
// vault "down" reading API_KEY=cached, then stops the emulator.
func startDownEmulatorServer(t *testing.T, u *upstream) downEnv {
	emu := infisicaltest.New(t)
	emu.AddIdentity(infisicaltest.Identity{ID: "id-1", Universal: &infisicaltest.UniversalAuth{ClientID: "cid", ClientSecret: "csecret"}})
	emu.SetSecrets("p-1", "dev", "/", map[string]string{"API_KEY": "cached"})
	s := startServer(t, newDataDir(t), infisicalEnv(emu))
	c := register(t, s)
	c.Must("POST", "/v1/vaults", map[string]any{"name": "down", "credential_store": storeSpec("p-1", "dev", "/", 3600)}, 201, nil)
	c.Must("PUT", "/v1/vaults/down/services", bearerService(u, "API_KEY"), 200, nil)
	a := newAgent(t, c, s, "down", u)
	emu.Stop()
	return downEnv{owner: c, agent: a}
}

// TestConcurrentSync (item 5): of two concurrent manual syncs of one vault,
// exactly one answers 409 sync_in_flight.
func TestConcurrentSync(t *testing.T) {
	e := shared(t)
	c := e.ownerFor(t)
	e.emu.SetSecrets("p-1", "dev", "/concurrent", map[string]string{"API_KEY": "v"})
	c.Must("POST", "/v1/vaults", map[string]any{"name": "concurrent", "credential_store": storeSpec("p-1", "dev", "/concurrent", 3600)}, 201, nil)

	// The first sync's list call is held until the second has answered.
	arrived := make(chan struct{}, 1)
	held := infisicaltest.Delay(time.Minute).OnQuery("secretPath", "/concurrent").Times(1)
	e.emu.Inject(infisicaltest.RouteListSecrets, held)
	watch := e.watch(infisicaltest.RouteListSecrets, "/concurrent", arrived)
	defer watch()

	statuses := make(chan problem, 2)
	go func() { statuses <- c.Problem("POST", "/v1/vaults/concurrent/sync", nil) }()
	<-arrived
	second := c.Problem("POST", "/v1/vaults/concurrent/sync", nil)
	e.emu.ReleaseHangs()
	first := <-statuses
	if second.Status != 409 || second.Code != "sync_in_flight" {
		t.Fatalf("second sync: %+v", second)
	}
	if first.Status != 200 {
		t.Fatalf("first sync: %+v", first)
	}
}

// TestSwapUnderLoad (item 6): 200 proxied requests run while a sync swaps
// the snapshot; none fails and each carries the old or the new value.
func TestSwapUnderLoad(t *testing.T) {
	e := shared(t)
	c := e.ownerFor(t)
	u := newUpstream(t)
	e.emu.SetSecrets("p-1", "dev", "/swap", map[string]string{"API_KEY": "old"})
	c.Must("POST", "/v1/vaults", map[string]any{"name": "swap", "credential_store": storeSpec("p-1", "dev", "/swap", 3600)}, 201, nil)
	c.Must("PUT", "/v1/vaults/swap/services", bearerService(u, "API_KEY"), 200, nil)
	a := newAgent(t, c, e.srv, "swap", u)
	e.emu.SetSecret("p-1", "dev", "/swap", "API_KEY", "new")

	const workers, per = 8, 25
	var wg sync.WaitGroup
	results := make(chan string, workers*per)
	start := make(chan struct{})
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := 0; i < per; i++ {
				status, body, err := a.Get()
				results <- fmt.Sprintf("%d %s %v", status, body, err)
			}
		}()
	}
	close(start)
	c.Must("POST", "/v1/vaults/swap/sync", nil, 200, nil)
	wg.Wait()
	close(results)
	counts := map[string]int{}
	for r := range results {
		counts[r]++
	}
	for r, n := range counts {
		if r != "200 Bearer old <nil>" && r != "200 Bearer new <nil>" {
			t.Fatalf("%d requests answered %q (all: %v)", n, r, counts)
		}
	}
	if got := a.MustGet(); got != "Bearer new" {
		t.Fatalf("after the sync injected %q", got)
	}
	t.Logf("200 requests during the swap: %v", counts)
}

package e2e

import (
	"encoding/base64"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/plugins/infisical/infisicaltest"
)

// eventually polls cond until it holds (background revokes finish on their
// own schedule, later on a loaded machine); it fails after a generous deadline.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func basicOf(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// basicService injects basic auth from two credential keys.
func basicService(u *upstream, userKey, passKey string) map[string]any {
	return map[string]any{"services": []map[string]any{{"name": "db", "host": u.Host(), "auth": map[string]string{"type": "basic", "username": userKey, "password": passKey}}}}
}

// TestDynamicLifecycle covers items 8, 9 and 10 on one emulator, through
// the server's restarts: lazy minting shared by concurrent requests,
// renewal near expiry, re-mint when renewal fails, listing (admins mint,
// proxy-role callers do not), disconnect and connect, vault delete,
// shutdown revoke, the start-up sweep, and a restart without INFISICAL_URL.
func TestDynamicLifecycle(t *testing.T) {
	emu := infisicaltest.New(t)
	emu.AddIdentity(infisicaltest.Identity{ID: "id-1", Universal: &infisicaltest.UniversalAuth{ClientID: "cid", ClientSecret: "csecret"}})
	emu.SetSecrets("p-1", "dev", "/dyn", map[string]string{"API_KEY": "static-1"})
	emu.AddDynamicSecret("p-1", "dev", "/dyn", infisicaltest.DynamicSecret{Name: "db-postgres", DefaultTTL: time.Hour,
		Template: map[string]any{"username": "user-{seq}", "password": "pass-{seq}", "port": 5432}})
	// Short leases, to see renewal near expiry (a 6 s lease is stale to the
	// host after ~4 s).
	for _, name := range []string{"short-a", "short-b"} {
		emu.AddDynamicSecret("p-1", "dev", "/dyn", infisicaltest.DynamicSecret{Name: name, DefaultTTL: 6 * time.Second,
			Template: map[string]any{"username": name + "-{seq}", "password": "pw-{seq}"}})
	}
	u := newUpstream(t)
	dir := newDataDir(t)
	srv := startServer(t, dir, infisicalEnv(emu))
	c := register(t, srv)
	c.Must("POST", "/v1/vaults", map[string]any{"name": "dyn", "credential_store": storeSpec("p-1", "dev", "/dyn", 3600)}, 201, nil)
	c.Must("PUT", "/v1/vaults/dyn/services", basicService(u, "DB_POSTGRES_USERNAME", "DB_POSTGRES_PASSWORD"), 200, nil)
	counts := emu.Counts

	t.Run("concurrent-requests-share-one-mint", func(t *testing.T) {
		a := newAgent(t, c, srv, "dyn", u)
		var wg sync.WaitGroup
		got := make([]string, 16)
		for i := range got {
			wg.Add(1)
			go func() { defer wg.Done(); _, got[i], _ = a.Get() }()
		}
		wg.Wait()
		for i, g := range got {
			if g != basicOf("user-1", "pass-1") {
				t.Fatalf("request %d injected %q", i, g)
			}
		}
		if n := counts().LeasesMinted; n != 1 {
			t.Fatalf("%d leases minted for 16 requests", n)
		}
	})

	t.Run("proxy-role-listing-mints-nothing", func(t *testing.T) {
		var sess struct {
			Token string `json:"token"`
		}
		c.Must("POST", "/v1/sessions", map[string]string{"vault": "dyn"}, 201, &sess)
		proxy := &client{T: t, API: srv.API, Token: sess.Token}
		before := counts().LeasesMinted
		proxy.Do("GET", "/v1/credentials?vault=dyn", nil)
		if n := counts().LeasesMinted; n != before {
			t.Fatalf("a proxy-role listing minted %d leases", n-before)
		}
	})

	t.Run("admin-listing-shows-dynamic-rows", func(t *testing.T) {
		before := counts().LeasesMinted
		rows := c.Credentials("dyn")
		var dyn []string
		for _, r := range rows {
			if r.Type == "dynamic" {
				dyn = append(dyn, r.Key)
			}
		}
		want := []string{"DB_POSTGRES_PASSWORD", "DB_POSTGRES_PORT", "DB_POSTGRES_USERNAME",
			"SHORT_A_PASSWORD", "SHORT_A_USERNAME", "SHORT_B_PASSWORD", "SHORT_B_USERNAME"}
		if !reflect.DeepEqual(dyn, want) {
			t.Fatalf("dynamic rows %v, want %v (all rows %+v)", dyn, want, rows)
		}
		// db-postgres reuses the proxy's lease; the two short secrets mint.
		if n := counts().LeasesMinted - before; n != 2 {
			t.Fatalf("listing minted %d leases, want 2", n)
		}
		p := c.Problem("DELETE", "/v1/credentials", map[string]any{"vault": "dyn", "keys": []string{"DB_POSTGRES_USERNAME"}})
		if p.Status != 409 {
			t.Fatalf("deleting a dynamic row: %+v", p)
		}
	})

	t.Run("renew-near-expiry-and-remint-on-failed-renew", func(t *testing.T) {
		c.Must("PUT", "/v1/vaults/dyn/services", map[string]any{"services": []map[string]any{
			{"name": "a", "host": u.Host() + "/a*", "auth": map[string]string{"type": "basic", "username": "SHORT_A_USERNAME", "password": "SHORT_A_PASSWORD"}},
			{"name": "b", "host": u.Host() + "/b*", "auth": map[string]string{"type": "basic", "username": "SHORT_B_USERNAME", "password": "SHORT_B_PASSWORD"}},
		}}, 200, nil)
		a := newAgent(t, c, srv, "dyn", u)
		get := func(path string) string {
			a.Target = u.Srv.URL + path
			return a.MustGet()
		}
		leaseA, leaseB := get("/a"), get("/b") // the leases minted by the listing
		// Let both leases come near their expiry (host margin: a third of
		// 6 s), well before Infisical deletes them at 6 s.
		time.Sleep(4500 * time.Millisecond)
		before := counts()
		emu.Inject(infisicaltest.RouteRenewLease, infisicaltest.Status(500).Times(1))
		if got := get("/b"); got == leaseB || got == "" {
			t.Fatalf("after a failed renew b still injects the old lease %q", got)
		}
		if got := get("/a"); got != leaseA {
			t.Fatalf("a renewed lease changed values: %q, was %q", got, leaseA)
		}
		after := counts()
		if after.LeasesRenewed-before.LeasesRenewed != 1 || after.LeasesMinted-before.LeasesMinted != 1 {
			t.Fatalf("renewed %d, minted %d; want 1 and 1", after.LeasesRenewed-before.LeasesRenewed, after.LeasesMinted-before.LeasesMinted)
		}
		eventually(t, "the replaced lease to be revoked", func() bool { return counts().LeasesRevoked-before.LeasesRevoked >= 1 })
		c.Must("PUT", "/v1/vaults/dyn/services", basicService(u, "DB_POSTGRES_USERNAME", "DB_POSTGRES_PASSWORD"), 200, nil)
	})

	t.Run("disconnect-keeps-credentials-and-revokes-leases", func(t *testing.T) {
		live := len(emu.Leases())
		if live == 0 {
			t.Fatal("no live leases before disconnect")
		}
		before := counts().LeasesRevoked
		c.Must("PATCH", "/v1/vaults/dyn/credential-store", map[string]string{"kind": "builtin"}, 200, nil)
		eventually(t, "every lease to be revoked", func() bool { return len(emu.Leases()) == 0 })
		if n := counts().LeasesRevoked - before; n != live {
			t.Fatalf("revoked %d of %d leases", n, live)
		}
		if got := c.Keys("dyn", "static"); !reflect.DeepEqual(got, []string{"API_KEY"}) {
			t.Fatalf("static keys after disconnect %v", got)
		}
		if got := c.Keys("dyn", "dynamic"); len(got) != 0 {
			t.Fatalf("dynamic rows after disconnect %v", got)
		}
		c.Must("POST", "/v1/credentials", map[string]any{"vault": "dyn", "credentials": map[string]string{"API_KEY": "edited", "LOCAL_ONLY": "x"}}, 200, nil)
	})

	t.Run("connect-replaces-builtin-credentials", func(t *testing.T) {
		c.Must("PATCH", "/v1/vaults/dyn/credential-store", storeSpec("p-1", "dev", "/dyn", 3600), 200, nil)
		if got := c.Keys("dyn", "static"); !reflect.DeepEqual(got, []string{"API_KEY"}) {
			t.Fatalf("static keys after connect %v", got)
		}
		c.Must("PUT", "/v1/vaults/dyn/services", bearerService(u, "API_KEY"), 200, nil)
		if got := newAgent(t, c, srv, "dyn", u).MustGet(); got != "Bearer static-1" {
			t.Fatalf("after connect injected %q", got)
		}
		c.Must("PUT", "/v1/vaults/dyn/services", basicService(u, "DB_POSTGRES_USERNAME", "DB_POSTGRES_PASSWORD"), 200, nil)
	})

	t.Run("vault-delete-revokes", func(t *testing.T) {
		c.Must("POST", "/v1/vaults", map[string]any{"name": "dyn-delete", "credential_store": storeSpec("p-1", "dev", "/dyn", 3600)}, 201, nil)
		c.Must("PUT", "/v1/vaults/dyn-delete/services", basicService(u, "DB_POSTGRES_USERNAME", "DB_POSTGRES_PASSWORD"), 200, nil)
		newAgent(t, c, srv, "dyn-delete", u).MustGet()
		before := counts().LeasesRevoked
		c.Must("DELETE", "/v1/vaults/dyn-delete", nil, 200, nil)
		eventually(t, "the deleted vault's lease to be revoked", func() bool { return counts().LeasesRevoked-before == 1 })
	})

	t.Run("shutdown-revokes", func(t *testing.T) {
		newAgent(t, c, srv, "dyn", u).MustGet()
		if len(emu.Leases()) == 0 {
			t.Fatal("no live lease before shutdown")
		}
		srv.Stop()
		if n := len(emu.Leases()); n != 0 {
			t.Fatalf("%d leases left after shutdown", n)
		}
	})

	t.Run("restart-sweeps-leftover-leases", func(t *testing.T) {
		srv = startServer(t, dir, infisicalEnv(emu))
		c = login(t, srv)
		newAgent(t, c, srv, "dyn", u).MustGet()
		leftover := emu.Leases()
		if len(leftover) != 1 {
			t.Fatalf("live leases %d, want 1", len(leftover))
		}
		srv.Kill()
		if len(emu.Leases()) != 1 {
			t.Fatal("SIGKILL revoked a lease")
		}
		srv = startServer(t, dir, infisicalEnv(emu))
		c = login(t, srv)
		eventually(t, "the start-up sweep", func() bool { return len(emu.Leases()) == 0 })
	})

	t.Run("without-infisical-url", func(t *testing.T) {
		srv.Stop()
		srv = startServer(t, dir, nil)
		c = login(t, srv)
		c.Must("PUT", "/v1/vaults/dyn/services", bearerService(u, "API_KEY"), 200, nil)
		if got := newAgent(t, c, srv, "dyn", u).MustGet(); got != "Bearer static-1" {
			t.Fatalf("cached snapshot injects %q", got)
		}
		if p := c.Problem("POST", "/v1/credentials", map[string]any{"vault": "dyn", "credentials": map[string]string{"X": "y"}}); p.Status != 409 || p.Code != "external_credential_store" {
			t.Fatalf("write: %+v", p)
		}
		if p := c.Problem("POST", "/v1/vaults/dyn/sync", nil); p.Status != 503 || p.Code != "infisical_not_configured" {
			t.Fatalf("manual sync: %+v", p)
		}
		if s := c.StoreOf("dyn"); s.Kind != "infisical" || s.NextSyncAt != nil {
			t.Fatalf("summary %+v", s)
		}
		var kinds struct {
			Kinds []struct {
				Kind string `json:"kind"`
			} `json:"kinds"`
		}
		c.Must("GET", "/v1/instance/credential-stores", nil, 200, &kinds)
		for _, k := range kinds.Kinds {
			if k.Kind == "infisical" {
				t.Fatal("infisical offered without INFISICAL_URL")
			}
		}
		c.Must("PATCH", "/v1/vaults/dyn/credential-store", map[string]string{"kind": "builtin"}, 200, nil)
		srv.Stop()
	})
}

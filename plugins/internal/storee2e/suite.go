package storee2e

import (
	"encoding/base64"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Fixture is one external store kind and its emulator, as the Suite needs
// them. Folders are short names ("rotate"); the fixture maps each to a
// place upstream (an Infisical folder, an OpenBao secret path).
type Fixture interface {
	// Kind is the store kind, e.g. "openbao".
	Kind() string
	// Env is the instance environment that configures the kind.
	Env() []string
	// Config is the per-vault config that reads folder; with dynamic, it
	// also offers the fixture's dynamic secret.
	Config(folder string, dynamic bool) map[string]any
	// SetSecrets replaces folder's secrets upstream.
	SetSecrets(folder string, kv map[string]string)
	// Fail makes every read of folder fail with a server error until
	// ClearFaults.
	Fail(folder string)
	ClearFaults()
	// Down refuses connections until Up.
	Down()
	Up()
	// ProbeFailures are configs the create-time probe refuses.
	ProbeFailures() []ProbeFailure
	// DynamicKeys are the user and password keys a lease of the dynamic
	// secret gives (e.g. PGROLE_USERNAME, PGROLE_PASSWORD).
	DynamicKeys() (user, pass string)
	// LiveLeases is how many leases the upstream holds; Minted how many
	// it has minted in all.
	LiveLeases() int
	Minted() int
}

// ProbeFailure is a create that must fail with WantCode and leave nothing.
type ProbeFailure struct {
	Name     string
	Config   map[string]any
	WantCode string
}

// Eventually polls cond until it holds; it fails after a generous deadline.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func spec(f Fixture, folder string, dynamic bool, poll int) map[string]any {
	return map[string]any{"kind": f.Kind(), "config": f.Config(folder, dynamic), "poll_interval_seconds": poll}
}

func basicOf(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// Suite proves the credential-store behaviours for f's kind on one real
// server: create with probe, read-only local writes, manual sync, the key
// rule without partial sync, outage serving the last snapshot, polling,
// switching both ways, dynamic leases (lazy mint, listing, revoke on
// disconnect, delete and shutdown, the start-up sweep), and a restart
// without the kind's settings.
func Suite(t *testing.T, f Fixture) {
	dir := NewDataDir(t)
	srv := StartServer(t, dir, f.Env())
	c := Register(t, srv)
	kind := f.Kind()
	create := func(t *testing.T, name, folder string, dynamic bool, poll int) {
		t.Helper()
		c := *c
		c.T = t
		c.Must("POST", "/v1/vaults", map[string]any{"name": name, "credential_store": spec(f, folder, dynamic, poll)}, 201, nil)
	}
	client := func(t *testing.T) *Client { cc := *c; cc.T = t; return &cc }

	t.Run("kind-offered", func(t *testing.T) {
		var kinds struct {
			Kinds []struct {
				Kind string `json:"kind"`
			} `json:"kinds"`
		}
		client(t).Must("GET", "/v1/instance/credential-stores", nil, 200, &kinds)
		var names []string
		for _, k := range kinds.Kinds {
			names = append(names, k.Kind)
		}
		if !strings.Contains(","+strings.Join(names, ",")+",", ","+kind+",") {
			t.Fatalf("kinds %v lack %s", names, kind)
		}
	})

	t.Run("create-probe-failures-leave-nothing", func(t *testing.T) {
		for _, pf := range f.ProbeFailures() {
			t.Run(pf.Name, func(t *testing.T) {
				c := client(t)
				name := "bad-" + pf.Name
				p := c.Problem("POST", "/v1/vaults", map[string]any{"name": name, "credential_store": map[string]any{"kind": kind, "config": pf.Config, "poll_interval_seconds": 60}})
				if p.Code != pf.WantCode || p.Status < 400 {
					t.Fatalf("got %d %s %q, want %s", p.Status, p.Code, p.Detail, pf.WantCode)
				}
				if st, _ := c.Do("GET", "/v1/vaults/"+name+"/context", nil); st != 404 {
					t.Fatalf("vault %s exists after a failed create: %d", name, st)
				}
			})
		}
	})

	t.Run("create-read-only-rotate-manual-sync", func(t *testing.T) {
		c := client(t)
		u := NewUpstream(t)
		f.SetSecrets("rotate", map[string]string{"API_KEY": "old-value", "DB_URL": "postgres://x"})
		create(t, "rotate", "rotate", false, 3600)
		if got, want := c.Keys("rotate", "static"), []string{"API_KEY", "DB_URL"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("keys %v, want %v", got, want)
		}
		s := c.StoreOf("rotate")
		if s.Kind != kind || !s.ReadOnly || s.LastSyncStatus != "ok" || s.CredentialCount != 2 || s.PollIntervalSeconds != 3600 || s.NextSyncAt == nil {
			t.Fatalf("summary %+v", s)
		}
		if p := c.Problem("POST", "/v1/credentials", map[string]any{"vault": "rotate", "credentials": map[string]string{"X": "y"}}); p.Status != 409 || p.Code != "external_credential_store" {
			t.Fatalf("local write: %+v", p)
		}
		c.Must("PUT", "/v1/vaults/rotate/services", BearerService(u, "API_KEY"), 200, nil)
		a := NewAgent(t, c, srv, "rotate", u)
		if got := a.MustGet(); got != "Bearer old-value" {
			t.Fatalf("injected %q", got)
		}
		f.SetSecrets("rotate", map[string]string{"API_KEY": "new-value", "DB_URL": "postgres://x"})
		var after Summary
		c.Must("POST", "/v1/vaults/rotate/sync", nil, 200, &after)
		if after.LastSyncStatus != "ok" || after.CredentialCount != 2 {
			t.Fatalf("sync summary %+v", after)
		}
		if got := a.MustGet(); got != "Bearer new-value" {
			t.Fatalf("after sync injected %q", got)
		}
	})

	t.Run("bad-key-fails-the-whole-sync", func(t *testing.T) {
		c := client(t)
		u := NewUpstream(t)
		f.SetSecrets("badkey", map[string]string{"API_KEY": "v1"})
		create(t, "badkey", "badkey", false, 3600)
		c.Must("PUT", "/v1/vaults/badkey/services", BearerService(u, "API_KEY"), 200, nil)
		a := NewAgent(t, c, srv, "badkey", u)
		f.SetSecrets("badkey", map[string]string{"API_KEY": "v2", "database-url": "x"})
		p := c.Problem("POST", "/v1/vaults/badkey/sync", nil)
		if p.Code != "external_store_invalid_key" || !strings.Contains(p.Detail, "database-url") {
			t.Fatalf("sync: %+v", p)
		}
		if s := c.StoreOf("badkey"); s.LastSyncStatus != "error" || !strings.Contains(s.LastSyncError, "database-url") || s.CredentialCount != 1 {
			t.Fatalf("summary %+v", s)
		}
		if got := a.MustGet(); got != "Bearer v1" {
			t.Fatalf("after a failed sync injected %q, want the old value", got)
		}
		f.SetSecrets("badkey", map[string]string{"API_KEY": "v2", "DATABASE_URL": "x"})
		var s Summary
		c.Must("POST", "/v1/vaults/badkey/sync", nil, 200, &s)
		if s.LastSyncStatus != "ok" || s.LastSyncError != "" || s.CredentialCount != 2 {
			t.Fatalf("after rename %+v", s)
		}
		if got := a.MustGet(); got != "Bearer v2" {
			t.Fatalf("after rename injected %q", got)
		}
	})

	t.Run("outage-serves-the-last-snapshot", func(t *testing.T) {
		c := client(t)
		u := NewUpstream(t)
		f.SetSecrets("outage", map[string]string{"API_KEY": "cached"})
		create(t, "outage", "outage", false, 3600)
		c.Must("PUT", "/v1/vaults/outage/services", BearerService(u, "API_KEY"), 200, nil)
		a := NewAgent(t, c, srv, "outage", u)
		f.SetSecrets("outage", map[string]string{"API_KEY": "never-seen"})
		check := func(wantCode string) {
			t.Helper()
			for cycle := 0; cycle < 2; cycle++ {
				p := c.Problem("POST", "/v1/vaults/outage/sync", nil)
				if p.Status < 400 || (wantCode != "" && p.Code != wantCode) || !strings.HasPrefix(p.Code, "external_store_") {
					t.Fatalf("cycle %d: sync answered %+v", cycle, p)
				}
				if s := c.StoreOf("outage"); s.LastSyncStatus != "error" || s.LastSyncError == "" {
					t.Fatalf("summary %+v", s)
				}
				for i := 0; i < 3; i++ {
					if got := a.MustGet(); got != "Bearer cached" {
						t.Fatalf("cycle %d: injected %q", cycle, got)
					}
				}
			}
		}
		f.Fail("outage")
		check("external_store_unreachable")
		f.ClearFaults()
		f.Down()
		check("external_store_unreachable")
		f.Up()
		c.Must("POST", "/v1/vaults/outage/sync", nil, 200, nil)
		if got := a.MustGet(); got != "Bearer never-seen" {
			t.Fatalf("after the outage injected %q", got)
		}
	})

	t.Run("polls-on-its-own", func(t *testing.T) {
		c := client(t)
		f.SetSecrets("poll", map[string]string{"API_KEY": "p1"})
		create(t, "poll", "poll", false, 10)
		first := c.StoreOf("poll").LastSyncedAt
		f.SetSecrets("poll", map[string]string{"API_KEY": "p2", "NEW_KEY": "n"})
		Eventually(t, "the next scheduled sync", func() bool {
			s := c.StoreOf("poll")
			return s.LastSyncedAt != nil && first != nil && s.LastSyncedAt.After(*first) && s.CredentialCount == 2
		})
	})

	t.Run("switch-both-ways", func(t *testing.T) {
		c := client(t)
		f.SetSecrets("switch", map[string]string{"API_KEY": "upstream"})
		c.Must("POST", "/v1/vaults", map[string]any{"name": "switch"}, 201, nil)
		c.Must("POST", "/v1/credentials", map[string]any{"vault": "switch", "credentials": map[string]string{"LOCAL_ONLY": "x", "API_KEY": "local"}}, 200, nil)
		c.Must("PATCH", "/v1/vaults/switch/credential-store", spec(f, "switch", false, 3600), 200, nil)
		if got := c.Keys("switch", "static"); !reflect.DeepEqual(got, []string{"API_KEY"}) {
			t.Fatalf("keys after connect %v (connect replaces local credentials)", got)
		}
		if s := c.StoreOf("switch"); s.Kind != kind || !s.ReadOnly {
			t.Fatalf("after connect %+v", s)
		}
		c.Must("PATCH", "/v1/vaults/switch/credential-store", map[string]string{"kind": "builtin"}, 200, nil)
		if got := c.Keys("switch", "static"); !reflect.DeepEqual(got, []string{"API_KEY"}) {
			t.Fatalf("keys after disconnect %v (disconnect keeps the snapshot)", got)
		}
		c.Must("POST", "/v1/credentials", map[string]any{"vault": "switch", "credentials": map[string]string{"API_KEY": "edited"}}, 200, nil)
	})

	userKey, passKey := f.DynamicKeys()
	basic := func(u *Upstream) map[string]any {
		return map[string]any{"services": []map[string]any{{"name": "db", "host": u.Host(), "auth": map[string]string{"type": "basic", "username": userKey, "password": passKey}}}}
	}
	u := NewUpstream(t)

	t.Run("dynamic-lazy-mint-listing-disconnect-delete", func(t *testing.T) {
		c := client(t)
		f.SetSecrets("dyn", map[string]string{"API_KEY": "static-1"})
		create(t, "dyn", "dyn", true, 3600)
		if n := f.LiveLeases(); n != 0 {
			t.Fatalf("create minted %d leases", n)
		}
		c.Must("PUT", "/v1/vaults/dyn/services", basic(u), 200, nil)
		a := NewAgent(t, c, srv, "dyn", u)
		first := a.MustGet()
		if !strings.HasPrefix(first, "Basic ") || a.MustGet() != first {
			t.Fatalf("injected %q, then something else", first)
		}
		if n := f.LiveLeases(); n != 1 {
			t.Fatalf("%d live leases after two requests, want 1", n)
		}
		if got := c.Keys("dyn", "dynamic"); !reflect.DeepEqual(got, []string{passKey, userKey}) {
			t.Fatalf("dynamic rows %v", got)
		}
		if p := c.Problem("DELETE", "/v1/credentials", map[string]any{"vault": "dyn", "keys": []string{userKey}}); p.Status != 409 {
			t.Fatalf("deleting a dynamic row: %+v", p)
		}
		c.Must("PATCH", "/v1/vaults/dyn/credential-store", map[string]string{"kind": "builtin"}, 200, nil)
		Eventually(t, "the lease to be revoked on disconnect", func() bool { return f.LiveLeases() == 0 })
		if got := c.Keys("dyn", "static"); !reflect.DeepEqual(got, []string{"API_KEY"}) {
			t.Fatalf("static keys after disconnect %v", got)
		}
		c.Must("PATCH", "/v1/vaults/dyn/credential-store", spec(f, "dyn", true, 3600), 200, nil)
		NewAgent(t, c, srv, "dyn", u).MustGet()
		c.Must("DELETE", "/v1/vaults/dyn", nil, 200, nil)
		Eventually(t, "the lease to be revoked on delete", func() bool { return f.LiveLeases() == 0 })
	})

	t.Run("shutdown-revokes-and-start-up-sweeps", func(t *testing.T) {
		c := client(t)
		f.SetSecrets("dyn2", map[string]string{"API_KEY": "static-2"})
		create(t, "dyn2", "dyn2", true, 3600)
		c.Must("PUT", "/v1/vaults/dyn2/services", basic(u), 200, nil)
		NewAgent(t, c, srv, "dyn2", u).MustGet()
		if f.LiveLeases() != 1 {
			t.Fatalf("live leases %d", f.LiveLeases())
		}
		srv.Stop()
		if n := f.LiveLeases(); n != 0 {
			t.Fatalf("%d leases left after shutdown", n)
		}
		srv = StartServer(t, dir, f.Env())
		c = Login(t, srv)
		NewAgent(t, c, srv, "dyn2", u).MustGet()
		srv.Kill()
		if f.LiveLeases() != 1 {
			t.Fatal("SIGKILL revoked a lease")
		}
		srv = StartServer(t, dir, f.Env())
		c = Login(t, srv)
		Eventually(t, "the start-up sweep", func() bool { return f.LiveLeases() == 0 })
	})

	t.Run("restart-without-settings-keeps-serving", func(t *testing.T) {
		srv.Stop()
		srv = StartServer(t, dir, nil)
		c := Login(t, srv)
		c.Must("PUT", "/v1/vaults/rotate/services", BearerService(u, "API_KEY"), 200, nil)
		if got := NewAgent(t, c, srv, "rotate", u).MustGet(); got != "Bearer new-value" {
			t.Fatalf("cached snapshot injects %q", got)
		}
		if p := c.Problem("POST", "/v1/credentials", map[string]any{"vault": "rotate", "credentials": map[string]string{"X": "y"}}); p.Status != 409 || p.Code != "external_credential_store" {
			t.Fatalf("write: %+v", p)
		}
		if p := c.Problem("POST", "/v1/vaults/rotate/sync", nil); p.Status != 503 || p.Code != kind+"_not_configured" {
			t.Fatalf("manual sync: %+v", p)
		}
		srv.Stop()
	})
}

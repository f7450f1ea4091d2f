package vaultcache

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/proxy"
	"github.com/agent-vault/agent-vault/host/scrub"
	"github.com/agent-vault/agent-vault/host/seal"
	"github.com/agent-vault/agent-vault/host/store"
)

// TestEgressSetFollowsCredentials: the egress set knows every vault's
// values, and a value stored after an Invalidate is known to the very
// next request.
func TestEgressSetFollowsCredentials(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	owners := func() map[string]bool {
		cfg, err := f.c.ProxyConfig(ctx, f.shop.ID)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, v := range []string{"value-of-shop", "value-of-other", "rotated-value-1"} {
			cfg.Egress.Apply([]byte(v), func(o int) scrub.Action {
				ow := cfg.Egress.Owner(o)
				got[ow.Vault+"/"+ow.Key+"="+v] = true
				return scrub.Keep
			})
		}
		return got
	}
	got := owners()
	if !got[f.shop.ID+"/API_KEY=value-of-shop"] || !got[f.other.ID+"/API_KEY=value-of-other"] || len(got) != 2 {
		t.Fatalf("egress owners %v", got)
	}
	sealed, _ := f.kr.Seal([]byte("rotated-value-1"), seal.CredentialAAD(f.other.ID, "API_KEY"))
	if err := f.st.PutCredentials(ctx, f.other.ID, map[string][]byte{"API_KEY": sealed}); err != nil {
		t.Fatal(err)
	}
	f.c.Invalidate(f.other.ID)
	got = owners()
	if !got[f.other.ID+"/API_KEY=rotated-value-1"] || got[f.other.ID+"/API_KEY=value-of-other"] {
		t.Fatalf("after rotation %v", got)
	}
}

// TestServiceScrubPrecomputed: a service's response set is built with the
// vault and scrubs its value.
func TestServiceScrubPrecomputed(t *testing.T) {
	f := newFixture(t)
	cfg, err := f.c.ProxyConfig(context.Background(), f.shop.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Scrub) != 1 || cfg.Scrub[0] == nil || cfg.Scrub[0].Values["API_KEY"] != "value-of-shop" {
		t.Fatalf("scrub %+v", cfg.Scrub)
	}
	out, _ := cfg.Scrub[0].Set.Apply([]byte("echo value-of-shop"), scrub.ReplaceAll)
	if string(out) != "echo [agent-vault:redacted:API_KEY]" {
		t.Fatalf("scrubbed %q", out)
	}
}

func TestRevokeSession(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tok := f.session(t, f.shop.ID)
	p, err := f.c.AuthenticateProxy(ctx, tok, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.c.RevokeSession(ctx, f.other.ID, p.ActorID); err == nil {
		t.Fatal("revoked a session through another vault")
	}
	if err := f.c.RevokeSession(ctx, f.shop.ID, p.ActorID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.AuthenticateProxy(ctx, tok, ""); err == nil {
		t.Fatal("a revoked session still authenticates")
	}
}

// fakeLeases is a dynamic resolver whose live lease values a test sets.
type fakeLeases struct {
	gen    atomic.Uint64
	mu     sync.Mutex
	values map[string]string // "vaultID/KEY" → value
}

func (l *fakeLeases) ResolveDynamic(context.Context, string, string) (string, bool, error) {
	return "", false, nil
}
func (l *fakeLeases) LeaseGeneration() uint64 { return l.gen.Load() }
func (l *fakeLeases) LeasedValues(fn func(vaultID, key, value string)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, v := range l.values {
		vault, key, _ := strings.Cut(k, "/")
		fn(vault, key, v)
	}
}

func (l *fakeLeases) set(values map[string]string) {
	l.mu.Lock()
	l.values = values
	l.mu.Unlock()
	l.gen.Add(1)
}

// TestEgressSetFollowsLeases: a leased value is in the egress set from
// the next request after its lease is minted until it ends, without an
// Invalidate, and the stored values are not opened again for it.
func TestEgressSetFollowsLeases(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	leases := &fakeLeases{}
	f.c.SetDynamic(leases)
	owner := func(v string) string {
		cfg, err := f.c.ProxyConfig(ctx, f.shop.ID)
		if err != nil {
			t.Fatal(err)
		}
		found := ""
		cfg.Egress.Apply([]byte(v), func(o int) scrub.Action {
			ow := cfg.Egress.Owner(o)
			found = ow.Vault + "/" + ow.Key
			return scrub.Keep
		})
		return found
	}
	if got := owner("leased-value-1"); got != "" {
		t.Fatalf("a value before its lease: %q", got)
	}
	leases.set(map[string]string{f.shop.ID + "/DB_PASSWORD": "leased-value-1"})
	if got := owner("leased-value-1"); got != f.shop.ID+"/DB_PASSWORD" {
		t.Fatalf("a live lease's value: %q", got)
	}
	if got := owner("value-of-other"); got != f.other.ID+"/API_KEY" {
		t.Fatalf("the stored values after a lease change: %q", got)
	}
	leases.set(nil)
	if got := owner("leased-value-1"); got != "" {
		t.Fatalf("an ended lease's value: %q", got)
	}
}

// TestServiceScrubWithLeases: a service that injects a leased value gets
// its response set precomputed once the lease is live, and again when the
// lease changes; before, the proxy builds it per request (nil here).
func TestServiceScrubWithLeases(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	svc, _ := json.Marshal(domain.Service{Name: "db", Host: "db.example.com", Auth: domain.Auth{Type: domain.AuthBasic, Username: "API_KEY", Password: "DB_PASSWORD"}})
	if err := f.st.UpsertServices(ctx, f.shop.ID, []store.ServiceRow{{Name: "db", Spec: svc}}); err != nil {
		t.Fatal(err)
	}
	f.c.Invalidate(f.shop.ID)
	leases := &fakeLeases{}
	f.c.SetDynamic(leases)
	set := func() *proxy.ServiceScrub {
		cfg, err := f.c.ProxyConfig(ctx, f.shop.ID)
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range cfg.Services {
			if s.Name == "db" {
				return cfg.Scrub[i]
			}
		}
		t.Fatal("no db service")
		return nil
	}
	if pre := set(); pre != nil {
		t.Fatalf("a set before the lease: %+v", pre.Values)
	}
	for _, v := range []string{"leased-pw-0001", "leased-pw-0002"} {
		leases.set(map[string]string{f.shop.ID + "/DB_PASSWORD": v, f.other.ID + "/DB_PASSWORD": "not-this-vault"})
		pre := set()
		if pre == nil || pre.Values["DB_PASSWORD"] != v || pre.Values["API_KEY"] != "value-of-shop" {
			t.Fatalf("lease %s: %+v", v, pre)
		}
		out, _ := pre.Set.Apply([]byte("echo "+v), scrub.ReplaceAll)
		if string(out) != "echo [agent-vault:redacted:DB_PASSWORD]" {
			t.Fatalf("scrubbed %q", out)
		}
	}
}

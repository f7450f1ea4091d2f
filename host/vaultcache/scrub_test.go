package vaultcache

import (
	"context"
	"testing"

	"github.com/agent-vault/agent-vault/host/scrub"
	"github.com/agent-vault/agent-vault/host/seal"
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

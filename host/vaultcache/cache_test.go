package vaultcache

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/host/authn"
	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/seal"
	"github.com/agent-vault/agent-vault/host/store"
)

type fixture struct {
	st    *store.Store
	kr    *seal.Keyring
	c     *Cache
	shop  store.Vault
	other store.Vault
}

func newFixture(t testing.TB) *fixture {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	_, kr, _ := seal.Create("")
	f := &fixture{st: st, kr: kr, c: New(st, kr, nil)}
	for _, name := range []string{"shop", "other"} {
		v, err := st.CreateVault(ctx, name, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		sealed, _ := kr.Seal([]byte("value-of-"+name), seal.CredentialAAD(v.ID, "API_KEY"))
		st.PutCredentials(ctx, v.ID, map[string][]byte{"API_KEY": sealed})
		svc, _ := json.Marshal(domain.Service{Name: "api", Host: "api.example.com", Auth: domain.Auth{Type: domain.AuthBearer, Token: "API_KEY"}})
		st.UpsertServices(ctx, v.ID, []store.ServiceRow{{Name: "api", Spec: svc}})
		if name == "shop" {
			f.shop = v
		} else {
			f.other = v
		}
	}
	return f
}

// agent creates an agent with the given grants and returns its token.
func (f *fixture) agent(t testing.TB, name string, role domain.InstanceRole, grants map[string]domain.VaultRole) string {
	tok, hash := seal.NewToken(seal.PrefixAgent)
	var gs []store.AgentGrant
	for id, r := range grants {
		gs = append(gs, store.AgentGrant{VaultID: id, Role: r})
	}
	if _, err := f.st.CreateAgent(context.Background(), store.Agent{Name: name, Role: role}, hash, gs); err != nil {
		t.Fatal(err)
	}
	return tok
}

// session mints a scoped session for vaultID on behalf of a new agent
// holding the proxy role there.
func (f *fixture) session(t testing.TB, vaultID string) string {
	ctx := context.Background()
	name := "minter-" + store.NewID()
	agentTok := f.agent(t, name, domain.InstanceMember, map[string]domain.VaultRole{vaultID: domain.VaultProxy})
	a, err := f.st.AgentByName(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return f.mint(t, vaultID, store.PrincipalAgent, a.ID, seal.HashToken(agentTok), time.Now().Add(time.Hour))
}

func (f *fixture) mint(t testing.TB, vaultID string, kind store.PrincipalKind, creatorID string, creatorToken []byte, expires time.Time) string {
	tok, hash := seal.NewToken(authn.PrefixScopedSession)
	if _, err := f.st.CreateScopedSession(context.Background(), store.ScopedSession{VaultID: vaultID, CreatorKind: kind, CreatorID: creatorID,
		CreatorTokenHash: creatorToken, ExpiresAt: expires}, hash); err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestAuthenticateProxy(t *testing.T) {
	f := newFixture(t)
	one := f.agent(t, "one", domain.InstanceMember, map[string]domain.VaultRole{f.shop.ID: domain.VaultProxy})
	two := f.agent(t, "two", domain.InstanceMember, map[string]domain.VaultRole{f.shop.ID: domain.VaultProxy, f.other.ID: domain.VaultMember})
	disabled := f.agent(t, "off", domain.InstanceNoAccess, map[string]domain.VaultRole{f.shop.ID: domain.VaultAdmin})
	sess := f.session(t, f.shop.ID)
	tests := []struct {
		name, token, vault string
		wantVault          string
		wantCode           string
	}{
		{"single-grant-needs-no-vault", one, "", "shop", ""},
		{"single-grant-named", one, "shop", "shop", ""},
		{"no-role-in-vault", one, "other", "", domain.CodeForbidden},
		{"unknown-vault", one, "nope", "", domain.CodeForbidden},
		{"several-grants-must-name", two, "", "", "vault_required"},
		{"several-grants-named", two, "other", "other", ""},
		{"disabled-account", disabled, "shop", "", domain.CodeForbidden},
		{"session-own-vault", sess, "", "shop", ""},
		{"session-own-vault-named", sess, "shop", "shop", ""},
		{"session-other-vault", sess, "other", "", domain.CodeForbidden},
		{"garbage-token", "av_agt_nope", "", "", domain.CodeUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := f.c.AuthenticateProxy(context.Background(), tc.token, tc.vault)
			if tc.wantCode != "" {
				if domain.CodeOf(err) != tc.wantCode {
					t.Fatalf("got %+v, %v; want code %s", p, err, tc.wantCode)
				}
				return
			}
			if err != nil || p.VaultName != tc.wantVault {
				t.Fatalf("got %+v, %v; want vault %s", p, err, tc.wantVault)
			}
		})
	}
}

// Changes become visible after Invalidate, and only then.
func TestInvalidate(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	got := func() string {
		v, found, err := f.c.Resolve(ctx, f.shop.ID, "API_KEY")
		if err != nil || !found {
			t.Fatalf("resolve: %v %v", found, err)
		}
		return v
	}
	if got() != "value-of-shop" {
		t.Fatal("first load")
	}
	sealed, _ := f.kr.Seal([]byte("rotated"), seal.CredentialAAD(f.shop.ID, "API_KEY"))
	f.st.PutCredentials(ctx, f.shop.ID, map[string][]byte{"API_KEY": sealed})
	if got() != "value-of-shop" {
		t.Fatal("served from memory until invalidated")
	}
	f.c.Invalidate(f.shop.ID)
	if got() != "rotated" {
		t.Fatal("not reloaded after Invalidate")
	}
	// Revoking an agent takes effect once identities are invalidated.
	tok := f.agent(t, "a", domain.InstanceMember, map[string]domain.VaultRole{f.shop.ID: domain.VaultProxy})
	if _, err := f.c.AuthenticateProxy(ctx, tok, ""); err != nil {
		t.Fatal(err)
	}
	a, _ := f.st.AgentByName(ctx, "a")
	f.st.RevokeAgent(ctx, a.ID)
	f.c.Invalidate("")
	if _, err := f.c.AuthenticateProxy(ctx, tok, ""); domain.CodeOf(err) != domain.CodeUnauthorized {
		t.Fatalf("revoked agent: %v", err)
	}
}

type fakeDynamic struct{ value string }

func (d fakeDynamic) ResolveDynamic(_ context.Context, _, key string) (string, bool, error) {
	if key == "DB_PASSWORD" {
		return d.value, true, nil
	}
	return "", false, nil
}

func TestResolveFallsThroughToDynamic(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.c.SetDynamic(fakeDynamic{"leased"})
	for _, tc := range []struct {
		key, want string
		found     bool
	}{
		{"API_KEY", "value-of-shop", true},
		{"DB_PASSWORD", "leased", true},
		{"MISSING", "", false},
	} {
		v, found, err := f.c.Resolve(ctx, f.shop.ID, tc.key)
		if err != nil || v != tc.want || found != tc.found {
			t.Errorf("%s: %q %v %v", tc.key, v, found, err)
		}
	}
}

// BenchmarkResolve compares the hot-path cost of a static credential (open
// with the DEK) and a dynamic one served from a cached lease (here: the
// resolver's in-memory answer; credstore's fast path is a map lookup under
// a mutex).
func BenchmarkResolve(b *testing.B) {
	ctx := context.Background()
	f := newFixture(b)
	f.c.SetDynamic(fakeDynamic{"leased"})
	f.c.Resolve(ctx, f.shop.ID, "API_KEY")
	for _, key := range []string{"API_KEY", "DB_PASSWORD"} {
		b.Run(key, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, found, err := f.c.Resolve(ctx, f.shop.ID, key); err != nil || !found {
					b.Fatal(err)
				}
			}
		})
	}
}

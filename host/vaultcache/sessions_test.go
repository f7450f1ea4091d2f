package vaultcache

import (
	"context"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/seal"
	"github.com/agent-vault/agent-vault/host/store"
)

// user creates a user straight in the store; the fixture's first user is
// an owner that stays, so the others can be deleted.
func (f *fixture) user(t *testing.T, email string, role domain.InstanceRole) string {
	ctx := context.Background()
	_, sh := seal.NewToken(seal.PrefixSession)
	sess := store.Session{TokenHash: sh, ExpiresAt: time.Now().Add(time.Hour)}
	if n, _ := f.st.CountUsers(ctx); n == 0 {
		if _, err := f.st.RegisterOwner(ctx, store.User{Email: "keeper@example.com", PasswordHash: "h"}, sess); err != nil {
			t.Fatal(err)
		}
		_, sh = seal.NewToken(seal.PrefixSession)
		sess.TokenHash = sh
	}
	_, ih := seal.NewToken(seal.PrefixInvite)
	if _, err := f.st.CreateInvite(ctx, store.Invite{TokenHash: ih, Role: role, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	u, err := f.st.AcceptInvite(ctx, ih, store.User{Email: email, PasswordHash: "h"}, sess)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// A scoped session is only as strong as its creator right now: every
// change that takes the creator's access to the vault away ends the
// session at the next lookup, through the cache and for a principal the
// proxy already holds (a tunnel's).
func TestSessionFollowsItsCreator(t *testing.T) {
	ctx := context.Background()
	type creator struct {
		kind  store.PrincipalKind
		id    string
		token []byte // the agent token that minted the session
	}
	tests := []struct {
		name   string
		kind   store.PrincipalKind
		role   domain.VaultRole // the creator's grant in the vault
		change func(t *testing.T, f *fixture, c creator)
		// wantRole is the session's role after the change; "" means the
		// session is refused (unauthorized).
		wantRole domain.VaultRole
	}{
		{"agent-unchanged", store.PrincipalAgent, domain.VaultProxy, func(*testing.T, *fixture, creator) {}, domain.VaultProxy},
		{"agent-revoked", store.PrincipalAgent, domain.VaultProxy, func(t *testing.T, f *fixture, c creator) {
			must(t, f.st.RevokeAgent(ctx, c.id))
		}, ""},
		{"agent-deleted", store.PrincipalAgent, domain.VaultMember, func(t *testing.T, f *fixture, c creator) {
			must(t, f.st.DeleteAgent(ctx, c.id))
		}, ""},
		{"agent-token-rotated", store.PrincipalAgent, domain.VaultProxy, func(t *testing.T, f *fixture, c creator) {
			_, h := seal.NewToken(seal.PrefixAgent)
			must(t, f.st.RotateAgentToken(ctx, c.id, h, nil, 0, 0))
		}, ""},
		{"agent-grant-removed", store.PrincipalAgent, domain.VaultAdmin, func(t *testing.T, f *fixture, c creator) {
			must(t, f.st.RemoveGrant(ctx, f.shop.ID, store.PrincipalAgent, c.id))
		}, ""},
		{"agent-granted-elsewhere-only", store.PrincipalAgent, domain.VaultProxy, func(t *testing.T, f *fixture, c creator) {
			must(t, f.st.SetGrant(ctx, f.other.ID, store.Grant{Kind: store.PrincipalAgent, PrincipalID: c.id, Role: domain.VaultAdmin}))
			must(t, f.st.RemoveGrant(ctx, f.shop.ID, store.PrincipalAgent, c.id))
		}, ""},
		{"agent-downgraded-keeps-proxy", store.PrincipalAgent, domain.VaultAdmin, func(t *testing.T, f *fixture, c creator) {
			must(t, f.st.SetGrant(ctx, f.shop.ID, store.Grant{Kind: store.PrincipalAgent, PrincipalID: c.id, Role: domain.VaultProxy}))
		}, domain.VaultProxy},
		{"user-unchanged", store.PrincipalUser, domain.VaultMember, func(*testing.T, *fixture, creator) {}, domain.VaultProxy},
		{"user-deleted", store.PrincipalUser, domain.VaultMember, func(t *testing.T, f *fixture, c creator) {
			must(t, f.st.DeleteUser(ctx, c.id))
		}, ""},
		{"user-disabled", store.PrincipalUser, domain.VaultMember, func(t *testing.T, f *fixture, c creator) {
			must(t, f.st.SetUserRole(ctx, c.id, domain.InstanceNoAccess))
		}, ""},
		{"user-removed-from-vault", store.PrincipalUser, domain.VaultProxy, func(t *testing.T, f *fixture, c creator) {
			must(t, f.st.RemoveGrant(ctx, f.shop.ID, store.PrincipalUser, c.id))
		}, ""},
		{"user-downgraded-keeps-proxy", store.PrincipalUser, domain.VaultMember, func(t *testing.T, f *fixture, c creator) {
			must(t, f.st.SetGrant(ctx, f.shop.ID, store.Grant{Kind: store.PrincipalUser, PrincipalID: c.id, Role: domain.VaultProxy}))
		}, domain.VaultProxy},
		{"user-promoted-to-owner", store.PrincipalUser, domain.VaultProxy, func(t *testing.T, f *fixture, c creator) {
			must(t, f.st.SetUserRole(ctx, c.id, domain.InstanceOwner))
		}, domain.VaultProxy},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			var c creator
			if tc.kind == store.PrincipalAgent {
				tok := f.agent(t, "creator", domain.InstanceMember, map[string]domain.VaultRole{f.shop.ID: tc.role})
				a, err := f.st.AgentByName(ctx, "creator")
				must(t, err)
				c = creator{store.PrincipalAgent, a.ID, seal.HashToken(tok)}
			} else {
				id := f.user(t, "creator@example.com", domain.InstanceMember)
				must(t, f.st.SetGrant(ctx, f.shop.ID, store.Grant{Kind: store.PrincipalUser, PrincipalID: id, Role: tc.role}))
				c = creator{store.PrincipalUser, id, nil}
			}
			sess := f.mint(t, f.shop.ID, c.kind, c.id, c.token, time.Now().Add(time.Hour))
			held, err := f.c.AuthenticateProxy(ctx, sess, "")
			if err != nil || held.VaultRole != domain.VaultProxy {
				t.Fatalf("before the change: %+v, %v", held, err)
			}
			tc.change(t, f, c)
			f.c.Invalidate("") // what the API does after every identity change
			if tc.wantRole == "" && f.c.Current(&held) {
				t.Error("a principal authenticated before the change is still current")
			}
			p, err := f.c.AuthenticateProxy(ctx, sess, "")
			if tc.wantRole == "" {
				if domain.CodeOf(err) != domain.CodeUnauthorized {
					t.Fatalf("after the change: %+v, %v; want unauthorized", p, err)
				}
				return
			}
			if err != nil || p.VaultRole != tc.wantRole {
				t.Fatalf("after the change: %+v, %v; want role %s", p, err, tc.wantRole)
			}
		})
	}
}

// A token stops at its own expiry even while its cache entry is fresh,
// and a principal held by a tunnel stops being current then too.
func TestSessionExpiryBeatsTheCache(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	now := time.Now()
	clock := func() time.Time { return now }
	f.c.now = clock
	f.st.SetClock(clock)
	tok := f.agent(t, "creator", domain.InstanceMember, map[string]domain.VaultRole{f.shop.ID: domain.VaultProxy})
	a, _ := f.st.AgentByName(ctx, "creator")
	expires := now.Add(2 * time.Second).Truncate(time.Millisecond) // the store keeps milliseconds
	sess := f.mint(t, f.shop.ID, store.PrincipalAgent, a.ID, seal.HashToken(tok), expires)
	held, err := f.c.AuthenticateProxy(ctx, sess, "")
	if err != nil {
		t.Fatal(err)
	}
	if !held.ValidUntil.Equal(expires) || !f.c.Current(&held) {
		t.Fatalf("valid until %v, want the session's expiry %v", held.ValidUntil, expires)
	}
	now = expires
	if f.c.Current(&held) {
		t.Fatal("principal still current at the session's expiry")
	}
	// No Invalidate happened: the cache entry itself must not outlive
	// the token.
	if _, err := f.c.AuthenticateProxy(ctx, sess, ""); domain.CodeOf(err) != domain.CodeUnauthorized {
		t.Fatalf("expired session: %v", err)
	}
}

// Any Invalidate makes held principals stale; nothing else does until
// their trust period ends.
func TestCurrentFollowsTheGeneration(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	now := time.Now()
	f.c.now = func() time.Time { return now }
	tok := f.agent(t, "a", domain.InstanceMember, map[string]domain.VaultRole{f.shop.ID: domain.VaultProxy})
	p, err := f.c.AuthenticateProxy(ctx, tok, "")
	if err != nil || !f.c.Current(&p) {
		t.Fatalf("fresh principal: %v current=%v", err, f.c.Current(&p))
	}
	f.c.Invalidate(f.other.ID)
	if f.c.Current(&p) {
		t.Fatal("current after an Invalidate")
	}
	p, _ = f.c.AuthenticateProxy(ctx, tok, "")
	now = now.Add(tokenTTL)
	if f.c.Current(&p) {
		t.Fatal("current after its trust period")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// BenchmarkCurrent is what every request inside a tunnel pays to learn
// that its principal still stands; BenchmarkAuthenticateProxy is what an
// absolute-form request pays (and a tunnel request after any change).
func BenchmarkCurrent(b *testing.B) {
	f := newFixture(b)
	tok := f.agent(b, "a", domain.InstanceMember, map[string]domain.VaultRole{f.shop.ID: domain.VaultProxy})
	p, err := f.c.AuthenticateProxy(context.Background(), tok, "")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !f.c.Current(&p) {
			b.Fatal("not current")
		}
	}
}

func BenchmarkAuthenticateProxy(b *testing.B) {
	f := newFixture(b)
	tok := f.agent(b, "a", domain.InstanceMember, map[string]domain.VaultRole{f.shop.ID: domain.VaultProxy})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.c.AuthenticateProxy(context.Background(), tok, "shop"); err != nil {
			b.Fatal(err)
		}
	}
}

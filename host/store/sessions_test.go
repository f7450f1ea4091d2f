package store

import (
	"context"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/host/domain"
)

// A scoped session's lookup reports its creator's current state: what the
// creator was given and everything that later takes it away.
func TestScopedSessionCreatorState(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d Dialect) {
		ctx := context.Background()
		s := openTest(t, d)
		owner, err := s.RegisterOwner(ctx, User{Email: "o@example.com", PasswordHash: "h"}, Session{TokenHash: []byte("s"), ExpiresAt: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		v, err := s.CreateVault(ctx, "app", &Grant{Kind: PrincipalUser, PrincipalID: owner.ID, Role: domain.VaultAdmin}, nil)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		mint := func(kind PrincipalKind, id string, creatorToken []byte) []byte {
			n++
			tok := []byte{'s', byte(n)}
			if _, err := s.CreateScopedSession(ctx, ScopedSession{VaultID: v.ID, CreatorKind: kind, CreatorID: id, CreatorTokenHash: creatorToken,
				ExpiresAt: time.Now().Add(time.Hour)}, tok); err != nil {
				t.Fatal(err)
			}
			return tok
		}
		agent := func(name string) (Agent, []byte) {
			tok := []byte("agent-token-" + name)
			a, err := s.CreateAgent(ctx, Agent{Name: name, Role: domain.InstanceMember}, tok, []AgentGrant{{VaultID: v.ID, Role: domain.VaultMember}})
			if err != nil {
				t.Fatal(err)
			}
			return a, tok
		}
		check := func(name string, tok []byte, want SessionCreator) {
			t.Helper()
			ss, err := s.ScopedSessionByToken(ctx, tok)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if ss.Creator != want || ss.VaultName != "app" {
				t.Errorf("%s: creator %+v in %q, want %+v", name, ss.Creator, ss.VaultName, want)
			}
		}
		live := SessionCreator{Exists: true, Role: domain.InstanceMember, VaultRole: domain.VaultMember}

		a, at := agent("revoked")
		tok := mint(PrincipalAgent, a.ID, at)
		check("agent", tok, live)
		must(t, s.RevokeAgent(ctx, a.ID))
		check("agent revoked", tok, SessionCreator{Exists: true, Revoked: true, Role: domain.InstanceMember, VaultRole: domain.VaultMember})

		a, at = agent("rotated")
		tok = mint(PrincipalAgent, a.ID, at)
		must(t, s.RotateAgentToken(ctx, a.ID, []byte("new-token"), nil, 0, 0))
		check("agent rotated", tok, SessionCreator{Exists: true, Revoked: true, Role: domain.InstanceMember, VaultRole: domain.VaultMember})

		a, at = agent("ungranted")
		tok = mint(PrincipalAgent, a.ID, at)
		must(t, s.RemoveGrant(ctx, v.ID, PrincipalAgent, a.ID))
		check("agent without grant", tok, SessionCreator{Exists: true, Role: domain.InstanceMember})

		a, at = agent("deleted")
		tok = mint(PrincipalAgent, a.ID, at)
		must(t, s.DeleteAgent(ctx, a.ID))
		if _, err := s.ScopedSessionByToken(ctx, tok); domain.CodeOf(err) != domain.CodeUnauthorized {
			t.Errorf("a deleted agent's session: %v, want it gone", err)
		}

		tok = mint(PrincipalUser, owner.ID, nil)
		check("user", tok, SessionCreator{Exists: true, Role: domain.InstanceOwner, VaultRole: domain.VaultAdmin})
		tok = mint(PrincipalUser, "no-such-user", nil)
		check("unknown creator", tok, SessionCreator{})

		mine, err := s.ListScopedSessionsByCreator(ctx, PrincipalUser, owner.ID)
		if err != nil || len(mine) != 1 || mine[0].VaultName != "app" {
			t.Fatalf("the owner's sessions: %+v, %v", mine, err)
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

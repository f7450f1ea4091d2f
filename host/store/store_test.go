package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/host/domain"
)

func openTest(t *testing.T, d Dialect) *Store {
	t.Helper()
	s, err := openDialect(t, d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.EnsureDefaultVault(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestOpenIsIdempotentAndPrivate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	for i := 0; i < 2; i++ {
		s, err := Open(context.Background(), path)
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		s.Close()
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
	}
}

// Deleting a vault cascades to everything it owns, and only that.
func TestDeleteVaultCascades(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d Dialect) {
		ctx := context.Background()
		s := openTest(t, d)
		u, err := s.RegisterOwner(ctx, User{Email: "o@example.com", PasswordHash: "h"}, Session{TokenHash: []byte("s"), ExpiresAt: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		var vaults []Vault
		for _, name := range []string{"gone", "kept"} {
			v, err := s.CreateVault(ctx, name, &Grant{Kind: PrincipalUser, PrincipalID: u.ID, Role: domain.VaultAdmin}, nil)
			if err != nil {
				t.Fatal(err)
			}
			a, err := s.CreateAgent(ctx, Agent{Name: "agent-" + name, Role: domain.InstanceMember}, []byte("t-"+name), []AgentGrant{{VaultID: v.ID, Role: domain.VaultProxy}})
			if err != nil {
				t.Fatal(err)
			}
			_ = a
			if err := s.PutCredentials(ctx, v.ID, map[string][]byte{"K": []byte("sealed")}); err != nil {
				t.Fatal(err)
			}
			if err := s.UpsertServices(ctx, v.ID, []ServiceRow{{Name: "svc", Spec: []byte(`{}`)}}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.CreateScopedSession(ctx, ScopedSession{VaultID: v.ID, CreatorKind: PrincipalUser, CreatorID: u.ID, ExpiresAt: time.Now().Add(time.Hour)}, []byte("ss-"+name)); err != nil {
				t.Fatal(err)
			}
			vaults = append(vaults, v)
		}
		if err := s.DeleteVault(ctx, vaults[0].ID); err != nil {
			t.Fatal(err)
		}
		counts := func(vaultID string) (n int) {
			for _, table := range []string{"vault_users", "vault_agents", "credentials", "services", "scoped_sessions"} {
				var c int
				if err := s.db.QueryRow(`SELECT COUNT(*) FROM `+table+` WHERE vault_id = ?`, vaultID).Scan(&c); err != nil {
					t.Fatal(err)
				}
				n += c
			}
			return n
		}
		if n := counts(vaults[0].ID); n != 0 {
			t.Errorf("%d rows survive the deleted vault", n)
		}
		if n := counts(vaults[1].ID); n != 5 {
			t.Errorf("the other vault has %d rows, want 5", n)
		}
	})
}

func TestGuards(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d Dialect) {
		ctx := context.Background()
		s := openTest(t, d)
		owner, err := s.RegisterOwner(ctx, User{Email: "o@example.com", PasswordHash: "h"}, Session{TokenHash: []byte("s"), ExpiresAt: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		def, err := s.VaultByName(ctx, domain.DefaultVault)
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name     string
			run      func() error
			wantCode string
		}{
			{"second-register", func() error {
				_, err := s.RegisterOwner(ctx, User{Email: "x@example.com", PasswordHash: "h"}, Session{TokenHash: []byte("s2"), ExpiresAt: time.Now()})
				return err
			}, domain.CodeAlreadyInitialized},
			{"demote-last-owner", func() error { return s.SetUserRole(ctx, owner.ID, domain.InstanceMember) }, domain.CodeLastOwner},
			{"delete-last-owner", func() error { return s.DeleteUser(ctx, owner.ID) }, domain.CodeLastOwner},
			{"demote-last-admin", func() error {
				return s.SetGrant(ctx, def.ID, Grant{Kind: PrincipalUser, PrincipalID: owner.ID, Role: domain.VaultMember})
			}, domain.CodeLastAdmin},
			{"remove-last-admin", func() error { return s.RemoveGrant(ctx, def.ID, PrincipalUser, owner.ID) }, domain.CodeLastAdmin},
			{"duplicate-vault", func() error { _, err := s.CreateVault(ctx, domain.DefaultVault, nil, nil); return err }, domain.CodeAlreadyExists},
			{"delete-missing-key-deletes-nothing", func() error {
				if err := s.PutCredentials(ctx, def.ID, map[string][]byte{"A": {1}}); err != nil {
					return err
				}
				return s.DeleteCredentials(ctx, def.ID, []string{"A", "MISSING"})
			}, domain.CodeCredentialNotFound},
			{"failed-create-leaves-no-vault", func() error {
				_, err := s.CreateVault(ctx, "half", nil, func(tx *Tx, v Vault) error {
					if err := tx.ReplaceCredentials(v.ID, map[string][]byte{"K": {1}}); err != nil {
						return err
					}
					return domain.Errorf(domain.CodeExternalInvalidKey, "probe failed")
				})
				return err
			}, domain.CodeExternalInvalidKey},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				if got := domain.CodeOf(tc.run()); got != tc.wantCode {
					t.Fatalf("code %q, want %q", got, tc.wantCode)
				}
			})
		}
		if creds, _ := s.ListCredentials(ctx, def.ID); len(creds) != 1 || creds[0].Key != "A" {
			t.Errorf("the all-or-nothing delete removed something: %v", creds)
		}
		if _, err := s.VaultByName(ctx, "half"); domain.CodeOf(err) != domain.CodeVaultNotFound {
			t.Errorf("a failed create left a vault behind: %v", err)
		}
		// A second owner lifts the guard.
		inv := Invite{TokenHash: []byte("inv"), Role: domain.InstanceOwner, ExpiresAt: time.Now().Add(time.Hour)}
		if err := s.CreateInvite(ctx, inv); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AcceptInvite(ctx, inv.TokenHash, User{Email: "two@example.com", PasswordHash: "h"}, Session{TokenHash: []byte("s3"), ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if err := s.SetUserRole(ctx, owner.ID, domain.InstanceMember); err != nil {
			t.Fatalf("demoting one of two owners: %v", err)
		}
		if _, err := s.AcceptInvite(ctx, inv.TokenHash, User{Email: "three@example.com", PasswordHash: "h"}, Session{TokenHash: []byte("s4"), ExpiresAt: time.Now().Add(time.Hour)}); domain.CodeOf(err) != domain.CodeInviteInvalid {
			t.Fatalf("an invite was accepted twice: %v", err)
		}
	})
}

func TestExpiredSessionsDoNotResolve(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d Dialect) {
		ctx := context.Background()
		s := openTest(t, d)
		now := time.Now()
		s.SetClock(func() time.Time { return now })
		if _, err := s.RegisterOwner(ctx, User{Email: "o@example.com", PasswordHash: "h"}, Session{TokenHash: []byte("s"), ExpiresAt: now.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.UserBySession(ctx, []byte("s")); err != nil {
			t.Fatalf("live session: %v", err)
		}
		now = now.Add(2 * time.Minute)
		if _, _, err := s.UserBySession(ctx, []byte("s")); domain.CodeOf(err) != domain.CodeUnauthorized {
			t.Fatalf("expired session resolved: %v", err)
		}
	})
}

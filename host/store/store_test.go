package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/host/audit"
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
		if _, err := s.CreateInvite(ctx, inv); err != nil {
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

// Deleting a vault leaves no row anywhere that names it: every table and
// every column is scanned for the ids the vault owned, in both dialects.
func TestDeleteVaultLeavesNoResidue(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d Dialect) {
		ctx := context.Background()
		s := openTest(t, d)
		v, p := populate(t, s)
		owned := []string{v.ID, p.ID}
		if n := countMentions(t, s, owned); n == 0 {
			t.Fatal("the scan finds nothing before the delete: it cannot see rows")
		}
		if err := s.DeleteVault(ctx, v.ID); err != nil {
			t.Fatal(err)
		}
		if n := countMentions(t, s, owned); n != 0 {
			t.Fatalf("%d rows still name the deleted vault or what it owned", n)
		}
	})
}

// countMentions counts, over every table and column, the rows whose value
// is one of ids, reporting each hit.
func countMentions(t *testing.T, s *Store, ids []string) int {
	t.Helper()
	ctx := context.Background()
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`
	if s.dialect == Postgres {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`
	}
	rows, err := s.db.QueryContext(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		rows.Scan(&name)
		tables = append(tables, name)
	}
	rows.Close()
	if len(tables) < 10 {
		t.Fatalf("found only tables %v", tables)
	}
	total := 0
	for _, table := range tables {
		r, err := s.db.QueryContext(ctx, `SELECT * FROM `+table+` LIMIT 0`)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := r.Columns()
		r.Close()
		for _, col := range cols {
			for _, id := range ids {
				var n int
				if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+table+` WHERE CAST(`+col+` AS TEXT) = ?`, id).Scan(&n); err != nil {
					t.Fatalf("%s.%s: %v", table, col, err)
				}
				if n > 0 {
					t.Logf("%s.%s: %d rows name %s", table, col, n, id)
				}
				total += n
			}
		}
	}
	return total
}

// A log row queued for a vault deleted meanwhile is dropped; the rest of
// its batch is written.
func TestRequestLogOfDeletedVaultIsDropped(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d Dialect) {
		ctx := context.Background()
		s := openTest(t, d)
		kept, _ := s.CreateVault(ctx, "kept", nil, nil)
		gone, _ := s.CreateVault(ctx, "gone", nil, nil)
		if err := s.DeleteVault(ctx, gone.ID); err != nil {
			t.Fatal(err)
		}
		batch := []RequestLog{{VaultID: kept.ID, At: time.Now(), Path: "/1"}, {VaultID: gone.ID, At: time.Now(), Path: "/x"}, {VaultID: kept.ID, At: time.Now(), Path: "/2"}}
		if err := s.InsertRequestLogs(ctx, batch); err != nil {
			t.Fatalf("a batch with a gone vault's row: %v", err)
		}
		if n, _ := s.CountRequestLogs(ctx, kept.ID); n != 2 {
			t.Fatalf("kept vault has %d rows, want 2", n)
		}
		if n, _ := s.CountRequestLogs(ctx, gone.ID); n != 0 {
			t.Fatalf("gone vault has %d rows, want 0", n)
		}
	})
}

// populate gives every table rows: an owner with a login session and an
// invite, a vault "doomed" with a grant, an agent, a credential, a service,
// a scoped session, a proposal with a value, an external store, a lease
// and a request-log row.
func populate(t *testing.T, s *Store) (Vault, Proposal) {
	t.Helper()
	ctx := context.Background()
	u, err := s.RegisterOwner(ctx, User{Email: "o@example.com", PasswordHash: "h"}, Session{TokenHash: []byte("s"), ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.CreateVault(ctx, "doomed", &Grant{Kind: PrincipalUser, PrincipalID: u.ID, Role: domain.VaultAdmin}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateAgent(ctx, Agent{Name: "bot", Role: domain.InstanceMember}, []byte("t"), []AgentGrant{{VaultID: v.ID, Role: domain.VaultProxy}}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutCredentials(ctx, v.ID, map[string][]byte{"K": []byte("sealed")}); err != nil {
		t.Fatal(err)
	}
	if err := s.UpsertServices(ctx, v.ID, []ServiceRow{{Name: "svc", Spec: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateScopedSession(ctx, ScopedSession{VaultID: v.ID, CreatorKind: PrincipalUser, CreatorID: u.ID, ExpiresAt: time.Now().Add(time.Hour)}, []byte("ss")); err != nil {
		t.Fatal(err)
	}
	p, err := s.CreateProposal(ctx, proposal(v.ID, time.Now().Add(time.Hour)), map[string][]byte{"K": []byte("sealed")}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ConnectStore(ctx, CredentialStore{VaultID: v.ID, Kind: "infisical", Config: []byte(`{}`), PollIntervalSeconds: 60}, map[string][]byte{"K": []byte("sealed")}); err != nil {
		t.Fatal(err)
	}
	if err := s.InsertLease(ctx, LeaseRow{ID: NewID(), VaultID: v.ID, Kind: "infisical", Config: []byte(`{}`), SecretName: "db", LeaseID: "l1", ExpiresAt: time.Now().Add(time.Hour), InstanceID: "i"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateCanary(ctx, Canary{VaultID: v.ID, Name: "BAIT", Sealed: []byte("sealed")}); err != nil {
		t.Fatal(err)
	}
	if err := s.InsertRequestLogs(ctx, []RequestLog{{VaultID: v.ID, At: time.Now(), Path: "/", Scrubbed: "K:1", Blocked: "canary:BAIT"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordDiscoveredHosts(ctx, []DiscoveredHost{{VaultID: v.ID, Host: "api.unknown.example", Count: 1, FirstSeen: time.Now(), LastSeen: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateInvite(ctx, Invite{TokenHash: []byte("inv"), Email: "m@example.com", Role: domain.InstanceMember, CreatedBy: u.ID, ExpiresAt: time.Now().Add(time.Hour),
		Vaults: []InviteVault{{VaultID: v.ID, Role: domain.VaultProxy}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreatePasswordReset(ctx, PasswordReset{TokenHash: []byte("rst"), UserID: u.ID, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetInstanceSettings(ctx, InstanceSettings{InvitePolicy: "members", AllowedEmailDomains: []string{"example.com"}, SessionTTL: time.Hour, IdleTimeout: 10 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendAudit(ctx, audit.Entry{Time: time.Now(), ActorKind: "user", ActorID: u.ID, Operation: "create-vault", Vault: "doomed", Outcome: "ok"}); err != nil {
		t.Fatal(err)
	}
	return v, p
}

// CopyInto copies a populated SQLite instance into an empty PostgreSQL
// database with every table non-empty, verifies it, and refuses to copy
// into a database that holds anything.
func TestCopyIntoPostgres(t *testing.T) {
	ctx := context.Background()
	src := openTest(t, SQLite)
	v, _ := populate(t, src)
	if err := src.PutMeta(ctx, "key_envelope", []byte{0, 1, 2, 0xff}); err != nil {
		t.Fatal(err)
	}
	dst := openTest(t, Postgres) // holds the default vault: not empty
	if _, err := CopyInto(ctx, src, dst); domain.CodeOf(err) != domain.CodeConflict {
		t.Fatalf("copy into a non-empty database: %v, want conflict", err)
	}
	empty, err := openDialect(t, Postgres)
	if err != nil {
		t.Fatal(err)
	}
	defer empty.Close()
	report, err := CopyInto(ctx, src, empty)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range report {
		if tc.Rows == 0 {
			t.Errorf("table %s is empty in the source: the test does not cover it", tc.Table)
		}
	}
	if len(report) < 14 {
		t.Fatalf("copied only %d tables", len(report))
	}
	// The copy serves the same answers.
	creds, err := empty.SealedCredentials(ctx, v.ID)
	if err != nil || len(creds) != 1 || string(creds[0].Sealed) != "sealed" {
		t.Fatalf("credentials after the copy: %v %v", creds, err)
	}
	env, _, err := empty.Meta(ctx, "key_envelope")
	if err != nil || string(env) != string([]byte{0, 1, 2, 0xff}) {
		t.Fatalf("meta after the copy: %v %v", env, err)
	}
	if err := empty.InsertRequestLogs(ctx, []RequestLog{{VaultID: v.ID, At: time.Now()}}); err != nil {
		t.Fatalf("a new log row after the copy (ids continue): %v", err)
	}
	if n, b, err := empty.VerifyAudit(ctx); n != 1 || b != nil || err != nil {
		t.Fatalf("audit chain after the copy: %d verified, break %v, %v", n, b, err)
	}
	if _, err := CopyInto(ctx, src, empty); domain.CodeOf(err) != domain.CodeConflict {
		t.Fatalf("second copy: %v, want conflict", err)
	}
}

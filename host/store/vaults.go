package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/agent-vault/agent-vault/host/domain"
)

// Vault is a named set of credentials and services.
type Vault struct {
	ID                  string
	Name                string
	UnmatchedHostPolicy string
	CreatedAt           time.Time
	// RevokeOnEgressBlock revokes the scoped session whose request the
	// proxy refused as secret_egress_blocked.
	RevokeOnEgressBlock bool
}

// PrincipalKind says which table a grant belongs to.
type PrincipalKind string

const (
	PrincipalUser  PrincipalKind = "user"
	PrincipalAgent PrincipalKind = "agent"
)

// grantTable maps a principal kind to its grant table and id column. The two
// tables have the same shape so every grant query serves both.
func grantTable(k PrincipalKind) (table, col string) {
	if k == PrincipalAgent {
		return "vault_agents", "agent_id"
	}
	return "vault_users", "user_id"
}

// Grant is a principal's role in a vault.
type Grant struct {
	Kind        PrincipalKind
	PrincipalID string
	Role        domain.VaultRole
}

const vaultCols = `id, name, unmatched_host_policy, created_at, revoke_on_egress_block`

func scanVault(row interface{ Scan(...any) error }) (Vault, error) {
	var v Vault
	var created, revoke int64
	err := row.Scan(&v.ID, &v.Name, &v.UnmatchedHostPolicy, &created, &revoke)
	v.CreatedAt = msToTime(created)
	v.RevokeOnEgressBlock = revoke != 0
	return v, err
}

// EnsureDefaultVault creates the default vault when it does not exist.
func (s *Store) EnsureDefaultVault(ctx context.Context) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO vaults (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT(name) DO NOTHING`,
		NewID(), domain.DefaultVault, s.millis())
	return err
}

// CreateVault inserts a vault and, when creator is set, the creator's grant.
// extra runs inside the same transaction (an external store's config and
// first snapshot are written there), so either everything is created or
// nothing is.
func (s *Store) CreateVault(ctx context.Context, name string, creator *Grant, extra func(tx *Tx, v Vault) error) (Vault, error) {
	now := s.millis()
	v := Vault{ID: NewID(), Name: name, UnmatchedHostPolicy: "passthrough", CreatedAt: msToTime(now)}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO vaults (id, name, unmatched_host_policy, created_at) VALUES (?, ?, ?, ?)`, v.ID, v.Name, v.UnmatchedHostPolicy, now)
		if isUnique(err) {
			return domain.Errorf(domain.CodeAlreadyExists, "a vault named %q already exists", name)
		}
		if err != nil {
			return err
		}
		if creator != nil {
			table, col := grantTable(creator.Kind)
			if _, err := tx.ExecContext(ctx, `INSERT INTO `+table+` (vault_id, `+col+`, role) VALUES (?, ?, ?)`,
				v.ID, creator.PrincipalID, string(creator.Role)); err != nil {
				return err
			}
		}
		if extra != nil {
			return extra(&Tx{tx: tx, s: s, ctx: ctx}, v)
		}
		return nil
	})
	return v, err
}

// VaultByName finds a vault.
func (s *Store) VaultByName(ctx context.Context, name string) (Vault, error) {
	v, err := scanVault(s.db.QueryRowContext(ctx, `SELECT `+vaultCols+` FROM vaults WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return v, notFound(domain.CodeVaultNotFound, "no vault named %q", name)
	}
	return v, err
}

// VaultByID finds a vault by id.
func (s *Store) VaultByID(ctx context.Context, id string) (Vault, error) {
	v, err := scanVault(s.db.QueryRowContext(ctx, `SELECT `+vaultCols+` FROM vaults WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return v, notFound(domain.CodeVaultNotFound, "no vault with id %q", id)
	}
	return v, err
}

// VaultWithRole is a vault and the asking principal's role in it ("" when
// the principal has no grant).
type VaultWithRole struct {
	Vault
	Role domain.VaultRole
}

// ListVaults lists vaults by name with the principal's role. With all set
// (instance owners) every vault is listed; otherwise only granted ones.
func (s *Store) ListVaults(ctx context.Context, kind PrincipalKind, principalID string, all bool) ([]VaultWithRole, error) {
	table, col := grantTable(kind)
	q := `SELECT v.id, v.name, v.unmatched_host_policy, v.created_at, COALESCE(g.role, '')
		FROM vaults v LEFT JOIN ` + table + ` g ON g.vault_id = v.id AND g.` + col + ` = ?`
	if !all {
		q += ` WHERE g.role IS NOT NULL`
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY v.name`, principalID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []VaultWithRole
	for rows.Next() {
		var v VaultWithRole
		var created int64
		var role string
		if err := rows.Scan(&v.ID, &v.Name, &v.UnmatchedHostPolicy, &created, &role); err != nil {
			return nil, err
		}
		v.CreatedAt, v.Role = msToTime(created), domain.VaultRole(role)
		out = append(out, v)
	}
	return out, rows.Err()
}

// DeleteVault deletes a vault; foreign keys cascade to everything it owns.
func (s *Store) DeleteVault(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM vaults WHERE id = ?`, id)
	return mustAffect(res, err, domain.CodeVaultNotFound, "no vault with id %q", id)
}

// RenameVault changes a vault's name.
func (s *Store) RenameVault(ctx context.Context, id, newName string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE vaults SET name = ? WHERE id = ?`, newName, id)
	if isUnique(err) {
		return domain.Errorf(domain.CodeAlreadyExists, "a vault named %q already exists", newName)
	}
	return mustAffect(res, err, domain.CodeVaultNotFound, "no vault with id %q", id)
}

// SetUnmatchedHostPolicy changes what the proxy does with requests that match
// no service.
func (s *Store) SetUnmatchedHostPolicy(ctx context.Context, id, policy string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE vaults SET unmatched_host_policy = ? WHERE id = ?`, policy, id)
	return mustAffect(res, err, domain.CodeVaultNotFound, "no vault with id %q", id)
}

// SetRevokeOnEgressBlock sets whether the proxy revokes a scoped session
// whose request carried a secret bound to another host.
func (s *Store) SetRevokeOnEgressBlock(ctx context.Context, id string, on bool) error {
	v := 0
	if on {
		v = 1
	}
	res, err := s.db.ExecContext(ctx, `UPDATE vaults SET revoke_on_egress_block = ? WHERE id = ?`, v, id)
	return mustAffect(res, err, domain.CodeVaultNotFound, "no vault with id %q", id)
}

// VaultRole returns the principal's role in the vault, or "" without a grant.
func (s *Store) VaultRole(ctx context.Context, vaultID string, kind PrincipalKind, principalID string) (domain.VaultRole, error) {
	table, col := grantTable(kind)
	var role string
	err := s.db.QueryRowContext(ctx, `SELECT role FROM `+table+` WHERE vault_id = ? AND `+col+` = ?`, vaultID, principalID).Scan(&role)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return domain.VaultRole(role), err
}

// Member is one grant in a vault with the principal's display name (email
// for users, name for agents).
type Member struct {
	ID   string
	Name string
	Role domain.VaultRole
}

// ListMembers lists a vault's grants of one kind.
func (s *Store) ListMembers(ctx context.Context, vaultID string, kind PrincipalKind) ([]Member, error) {
	q := `SELECT u.id, u.email, g.role FROM vault_users g JOIN users u ON u.id = g.user_id WHERE g.vault_id = ? ORDER BY u.email`
	if kind == PrincipalAgent {
		q = `SELECT a.id, a.name, g.role FROM vault_agents g JOIN agents a ON a.id = g.agent_id WHERE g.vault_id = ? ORDER BY a.name`
	}
	rows, err := s.db.QueryContext(ctx, q, vaultID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Member
	for rows.Next() {
		var m Member
		var role string
		if err := rows.Scan(&m.ID, &m.Name, &role); err != nil {
			return nil, err
		}
		m.Role = domain.VaultRole(role)
		out = append(out, m)
	}
	return out, rows.Err()
}

// SetGrant adds a grant or changes its role. Demoting the vault's last user
// admin is refused (last_admin).
func (s *Store) SetGrant(ctx context.Context, vaultID string, g Grant) error {
	table, col := grantTable(g.Kind)
	return s.tx(ctx, func(tx *sql.Tx) error {
		if g.Kind == PrincipalUser && g.Role != domain.VaultAdmin {
			if err := guardLastAdmin(ctx, tx, vaultID, g.PrincipalID); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO `+table+` (vault_id, `+col+`, role) VALUES (?, ?, ?)
			ON CONFLICT(vault_id, `+col+`) DO UPDATE SET role = excluded.role`, vaultID, g.PrincipalID, string(g.Role))
		return err
	})
}

// RemoveGrant removes a principal from a vault. Removing the vault's last
// user admin is refused (last_admin).
func (s *Store) RemoveGrant(ctx context.Context, vaultID string, kind PrincipalKind, principalID string) error {
	table, col := grantTable(kind)
	return s.tx(ctx, func(tx *sql.Tx) error {
		if kind == PrincipalUser {
			if err := guardLastAdmin(ctx, tx, vaultID, principalID); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE vault_id = ? AND `+col+` = ?`, vaultID, principalID)
		return mustAffect(res, err, domain.CodeNotFound, "that %s has no role in this vault", kind)
	})
}

func guardLastAdmin(ctx context.Context, tx *sql.Tx, vaultID, userID string) error {
	var isAdmin, admins int
	err := tx.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM vault_users WHERE vault_id = ? AND user_id = ? AND role = 'admin'),
		(SELECT COUNT(*) FROM vault_users WHERE vault_id = ? AND role = 'admin')`,
		vaultID, userID, vaultID).Scan(&isAdmin, &admins)
	if err != nil {
		return err
	}
	if isAdmin == 1 && admins == 1 {
		return domain.Errorf(domain.CodeLastAdmin, "the vault must keep at least one admin")
	}
	return nil
}

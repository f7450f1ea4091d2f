package store

import (
	"context"
	"database/sql"
	"errors"
	"maps"
	"slices"

	"time"

	"github.com/agent-vault/agent-vault/host/domain"
)

// Tx is a transaction in progress, handed to callbacks that must add their
// writes to an operation's single transaction.
type Tx struct {
	tx  *sql.Tx
	s   *Store
	ctx context.Context
}

// SealedCredential is one credential as stored: the value sealed with the DEK.
type SealedCredential struct {
	Key       string
	Sealed    []byte
	UpdatedAt time.Time
}

// CredentialInfo is what listing shows: never a value.
type CredentialInfo struct {
	Key       string
	UpdatedAt time.Time
}

// PutCredentials inserts or replaces sealed credentials in one transaction.
func (s *Store) PutCredentials(ctx context.Context, vaultID string, creds map[string][]byte) error {
	return s.tx(ctx, func(tx *sql.Tx) error { return putCredentials(ctx, tx, vaultID, creds, s.millis()) })
}

// ReplaceCredentials makes creds the vault's whole credential set.
func (t *Tx) ReplaceCredentials(vaultID string, creds map[string][]byte) error {
	if _, err := t.tx.ExecContext(t.ctx, `DELETE FROM credentials WHERE vault_id = ?`, vaultID); err != nil {
		return err
	}
	return putCredentials(t.ctx, t.tx, vaultID, creds, t.s.millis())
}

func putCredentials(ctx context.Context, tx *sql.Tx, vaultID string, creds map[string][]byte, now int64) error {
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO credentials (vault_id, key, sealed, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT(vault_id, key) DO UPDATE SET sealed = excluded.sealed, updated_at = excluded.updated_at`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, k := range slices.Sorted(maps.Keys(creds)) {
		if _, err := stmt.ExecContext(ctx, vaultID, k, creds[k], now); err != nil {
			return err
		}
	}
	return nil
}

// DeleteCredentials removes keys from a vault, all or none: an unknown key
// fails the whole call with credential_not_found and nothing is deleted.
func (s *Store) DeleteCredentials(ctx context.Context, vaultID string, keys []string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		for _, k := range keys {
			res, err := tx.ExecContext(ctx, `DELETE FROM credentials WHERE vault_id = ? AND key = ?`, vaultID, k)
			if err := mustAffect(res, err, domain.CodeCredentialNotFound, "no credential %q in this vault", k); err != nil {
				return err
			}
		}
		return nil
	})
}

// ListCredentials lists a vault's credential keys, sorted.
func (s *Store) ListCredentials(ctx context.Context, vaultID string) ([]CredentialInfo, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT key, updated_at FROM credentials WHERE vault_id = ? ORDER BY key`, vaultID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []CredentialInfo
	for rows.Next() {
		var c CredentialInfo
		var ms int64
		if err := rows.Scan(&c.Key, &ms); err != nil {
			return nil, err
		}
		c.UpdatedAt = msToTime(ms)
		out = append(out, c)
	}
	return out, rows.Err()
}

// SealedCredentials returns every sealed credential of a vault; the proxy's
// in-memory snapshot is built from it.
func (s *Store) SealedCredentials(ctx context.Context, vaultID string) ([]SealedCredential, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT key, sealed, updated_at FROM credentials WHERE vault_id = ? ORDER BY key`, vaultID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []SealedCredential
	for rows.Next() {
		var c SealedCredential
		var ms int64
		if err := rows.Scan(&c.Key, &c.Sealed, &ms); err != nil {
			return nil, err
		}
		c.UpdatedAt = msToTime(ms)
		out = append(out, c)
	}
	return out, rows.Err()
}

// VaultSealedCredential is a sealed credential with its vault.
type VaultSealedCredential struct {
	VaultID string
	Key     string
	Sealed  []byte
}

// AllSealedCredentials returns every sealed credential of every vault:
// the proxy's egress check looks for all of them in every request.
func (s *Store) AllSealedCredentials(ctx context.Context) ([]VaultSealedCredential, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT vault_id, key, sealed FROM credentials ORDER BY vault_id, key`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []VaultSealedCredential
	for rows.Next() {
		var c VaultSealedCredential
		if err := rows.Scan(&c.VaultID, &c.Key, &c.Sealed); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// SealedCredential returns one sealed credential.
func (s *Store) SealedCredential(ctx context.Context, vaultID, key string) ([]byte, error) {
	var b []byte
	err := s.db.QueryRowContext(ctx, `SELECT sealed FROM credentials WHERE vault_id = ? AND key = ?`, vaultID, key).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(domain.CodeCredentialNotFound, "no credential %q in this vault", key)
	}
	return b, err
}

// ServiceRow is one service as stored: its name and its JSON spec.
type ServiceRow struct {
	Name string
	Spec []byte
}

// ListServices returns a vault's services in declaration order.
func (s *Store) ListServices(ctx context.Context, vaultID string) ([]ServiceRow, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, spec FROM services WHERE vault_id = ? ORDER BY position`, vaultID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ServiceRow
	for rows.Next() {
		var r ServiceRow
		var spec string
		if err := rows.Scan(&r.Name, &spec); err != nil {
			return nil, err
		}
		r.Spec = []byte(spec)
		out = append(out, r)
	}
	return out, rows.Err()
}

// UpsertServices replaces services with the same name in place (keeping their
// position) and appends new ones, in one transaction.
func (s *Store) UpsertServices(ctx context.Context, vaultID string, list []ServiceRow) error {
	return s.tx(ctx, func(tx *sql.Tx) error { return upsertServices(ctx, tx, vaultID, list) })
}

// ReplaceServices makes list the vault's whole service list.
func (s *Store) ReplaceServices(ctx context.Context, vaultID string, list []ServiceRow) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM services WHERE vault_id = ?`, vaultID); err != nil {
			return err
		}
		return upsertServices(ctx, tx, vaultID, list)
	})
}

func upsertServices(ctx context.Context, tx *sql.Tx, vaultID string, list []ServiceRow) error {
	for _, r := range list {
		_, err := tx.ExecContext(ctx, `INSERT INTO services (vault_id, name, position, spec)
			VALUES (?, ?, (SELECT COALESCE(MAX(position), 0) + 1 FROM services WHERE vault_id = ?), ?)
			ON CONFLICT(vault_id, name) DO UPDATE SET spec = excluded.spec`, vaultID, r.Name, vaultID, string(r.Spec))
		if err != nil {
			return err
		}
	}
	return nil
}

// DeleteServices removes the named services (all or none), or every service
// when names is empty.
func (s *Store) DeleteServices(ctx context.Context, vaultID string, names []string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if len(names) == 0 {
			_, err := tx.ExecContext(ctx, `DELETE FROM services WHERE vault_id = ?`, vaultID)
			return err
		}
		for _, n := range names {
			res, err := tx.ExecContext(ctx, `DELETE FROM services WHERE vault_id = ? AND name = ?`, vaultID, n)
			if err := mustAffect(res, err, domain.CodeNotFound, "no service %q in this vault", n); err != nil {
				return err
			}
		}
		return nil
	})
}

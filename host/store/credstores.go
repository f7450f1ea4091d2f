package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/agent-vault/agent-vault/host/domain"
)

// CredentialStore is a vault's external store: its kind, config and sync
// state. Generation increases on every connect, so a sync that started
// under an older config can tell it must not apply.
type CredentialStore struct {
	VaultID             string
	Kind                string
	Config              []byte
	PollIntervalSeconds int
	Generation          int64
	LastSyncStatus      string // "ok" or "error"
	LastSyncedAt        *time.Time
	LastSyncError       string
	LastOKAt            *time.Time // the last successful sync (or connect)
}

const credStoreCols = `vault_id, kind, config, poll_interval_seconds, generation, last_sync_status, last_synced_at, last_sync_error, last_ok_at`

func scanCredStore(row interface{ Scan(...any) error }) (CredentialStore, error) {
	var cs CredentialStore
	var cfg string
	var synced, ok sql.NullInt64
	err := row.Scan(&cs.VaultID, &cs.Kind, &cfg, &cs.PollIntervalSeconds, &cs.Generation, &cs.LastSyncStatus, &synced, &cs.LastSyncError, &ok)
	cs.Config, cs.LastSyncedAt, cs.LastOKAt = []byte(cfg), nullMsToTime(synced), nullMsToTime(ok)
	return cs, err
}

// CredentialStoreOf returns the vault's external store; found=false means
// the vault uses the built-in store.
func (s *Store) CredentialStoreOf(ctx context.Context, vaultID string) (CredentialStore, bool, error) {
	cs, err := scanCredStore(s.db.QueryRowContext(ctx, `SELECT `+credStoreCols+` FROM credential_stores WHERE vault_id = ?`, vaultID))
	if errors.Is(err, sql.ErrNoRows) {
		return cs, false, nil
	}
	return cs, err == nil, err
}

// ExternalStores lists every vault with an external store.
func (s *Store) ExternalStores(ctx context.Context) ([]CredentialStore, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+credStoreCols+` FROM credential_stores ORDER BY vault_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []CredentialStore
	for rows.Next() {
		cs, err := scanCredStore(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, cs)
	}
	return out, rows.Err()
}

// ConnectStore makes cs the vault's store and its snapshot the vault's
// whole credential set, in the caller's transaction. The generation moves
// on, so syncs started before are discarded, and the leases minted from
// the previous store (or config) are retired, to be revoked.
func (t *Tx) ConnectStore(cs CredentialStore, snapshot map[string][]byte) error {
	now := t.s.millis()
	_, err := t.tx.ExecContext(t.ctx, `INSERT INTO credential_stores (vault_id, kind, config, poll_interval_seconds, generation, last_sync_status, last_synced_at, last_sync_error, last_ok_at)
		VALUES (?, ?, ?, ?, 1, 'ok', ?, '', ?)
		ON CONFLICT(vault_id) DO UPDATE SET kind = excluded.kind, config = excluded.config,
			poll_interval_seconds = excluded.poll_interval_seconds, generation = credential_stores.generation + 1,
			last_sync_status = 'ok', last_synced_at = excluded.last_synced_at, last_sync_error = '', last_ok_at = excluded.last_ok_at`,
		cs.VaultID, cs.Kind, string(cs.Config), cs.PollIntervalSeconds, now, now)
	if err != nil {
		return err
	}
	if _, err := t.tx.ExecContext(t.ctx, retireVaultLeases, cs.VaultID); err != nil {
		return err
	}
	return t.ReplaceCredentials(cs.VaultID, snapshot)
}

// ConnectStore runs Tx.ConnectStore in its own transaction.
func (s *Store) ConnectStore(ctx context.Context, cs CredentialStore, snapshot map[string][]byte) error {
	return s.tx(ctx, func(tx *sql.Tx) error { return (&Tx{tx: tx, s: s, ctx: ctx}).ConnectStore(cs, snapshot) })
}

// DisconnectStore returns the vault to the built-in store. Its credentials
// stay, now ordinary built-in credentials; its dynamic-secret leases are
// retired, to be revoked.
func (s *Store) DisconnectStore(ctx context.Context, vaultID string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM credential_stores WHERE vault_id = ?`, vaultID)
		if err := mustAffect(res, err, domain.CodeNotFound, "vault %q has no external credential store", vaultID); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, retireVaultLeases, vaultID)
		return err
	})
}

// ApplySync replaces the vault's credentials with a fetched snapshot and
// records success, in one transaction, but only while the store is still at
// generation gen; applied=false means the config changed meanwhile and
// nothing was written.
func (s *Store) ApplySync(ctx context.Context, vaultID string, gen int64, snapshot map[string][]byte) (applied bool, err error) {
	err = s.tx(ctx, func(tx *sql.Tx) error {
		now := s.millis()
		res, err := tx.ExecContext(ctx, `UPDATE credential_stores SET last_sync_status = 'ok', last_synced_at = ?, last_sync_error = '', last_ok_at = ?
			WHERE vault_id = ? AND generation = ?`, now, now, vaultID, gen)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		applied = true
		return (&Tx{tx: tx, s: s, ctx: ctx}).ReplaceCredentials(vaultID, snapshot)
	})
	return applied, err
}

// RecordSyncFailure marks a failed sync (at generation gen) without touching
// the credentials: the previous snapshot keeps serving. The failure counts
// as the last sync, so the next attempt waits a full interval.
func (s *Store) RecordSyncFailure(ctx context.Context, vaultID string, gen int64, message string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE credential_stores SET last_sync_status = 'error', last_synced_at = ?, last_sync_error = ?
		WHERE vault_id = ? AND generation = ?`, s.millis(), message, vaultID, gen)
	return err
}

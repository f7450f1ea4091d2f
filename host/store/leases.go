package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// LeaseRow is the persisted part of a dynamic-secret lease: enough to
// revoke it and to know who owns it, never its values.
//
// A secret's current lease is its one row with Retired false; it is owned
// by InstanceID while OwnerUntil lies ahead (the owner's heartbeats push
// it on). A row with an empty LeaseID is being minted by its owner. A
// retired row is a replaced lease waiting to be revoked.
type LeaseRow struct {
	ID         string
	VaultID    string
	Kind       string
	Config     []byte
	SecretName string
	LeaseID    string
	ExpiresAt  time.Time
	InstanceID string
	OwnerUntil time.Time
	Retired    bool
	// Shared: the owner has handed the values to another replica.
	Shared bool
}

const leaseColumns = `id, vault_id, kind, config, secret_name, lease_id, expires_at, instance_id, owner_until, retired, shared`

// InsertLease records a lease: a minted one as its secret's current one
// (it fails with a unique violation when the secret has one already), or,
// with Retired set, one still to be revoked.
func (s *Store) InsertLease(ctx context.Context, l LeaseRow) error {
	_, err := s.db.ExecContext(ctx, insertLease, leaseArgs(l, s.millis())...)
	return err
}

const insertLease = `INSERT INTO leases (id, vault_id, kind, config, secret_name, lease_id, expires_at, instance_id, owner_until, retired, shared, created_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

func leaseArgs(l LeaseRow, now int64) []any {
	return []any{l.ID, l.VaultID, l.Kind, string(l.Config), l.SecretName, l.LeaseID, l.ExpiresAt.UnixMilli(), l.InstanceID, l.OwnerUntil.UnixMilli(),
		boolInt(l.Retired), boolInt(l.Shared), now}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// ClaimLease makes l (usually with an empty LeaseID: a mint about to
// happen) its secret's current lease, unless the secret has one already:
// then it reports false and writes nothing. The row is the cluster-wide
// right to mint the secret: of replicas claiming at once, one wins.
func (s *Store) ClaimLease(ctx context.Context, l LeaseRow) (bool, error) {
	res, err := s.db.ExecContext(ctx, insertLease+` ON CONFLICT DO NOTHING`, leaseArgs(l, s.millis())...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// SetLeaseMinted records the upstream lease behind a claimed row. It
// reports false when the row is gone or retired (the vault was switched to
// another store, disconnected or deleted meanwhile): the caller then
// revokes what it minted. So a retired row never gains a lease id, and the
// lease a retired row names is the one to revoke.
func (s *Store) SetLeaseMinted(ctx context.Context, id, leaseID string, expires time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE leases SET lease_id = ?, expires_at = ? WHERE id = ? AND retired = 0`, leaseID, expires.UnixMilli(), id)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// UpdateLeaseExpiry records a renewal.
func (s *Store) UpdateLeaseExpiry(ctx context.Context, id string, expires time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE leases SET expires_at = ? WHERE id = ?`, expires.UnixMilli(), id)
	return err
}

// ReplaceLease retires the current lease oldID and makes next its
// secret's current lease, in one transaction. It reports false (and
// changes nothing) when oldID is no longer current.
func (s *Store) ReplaceLease(ctx context.Context, oldID string, next LeaseRow) (bool, error) {
	replaced := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE leases SET retired = 1, owner_until = 0 WHERE id = ? AND retired = 0`, oldID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, insertLease, leaseArgs(next, s.millis())...); err != nil {
			return err
		}
		replaced = true
		return nil
	})
	return replaced, err
}

// TakeOverLease makes instanceID the owner of the current lease id, until
// until, if its owner's heartbeat lapsed before now. It reports whether
// this caller got it: of replicas taking over at once, one does.
func (s *Store) TakeOverLease(ctx context.Context, id, instanceID string, until, now time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE leases SET instance_id = ?, owner_until = ? WHERE id = ? AND retired = 0 AND owner_until < ?`,
		instanceID, until.UnixMilli(), id, now.UnixMilli())
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// HeartbeatLeases extends instanceID's ownership of its current leases to
// until.
func (s *Store) HeartbeatLeases(ctx context.Context, instanceID string, until time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE leases SET owner_until = ? WHERE instance_id = ? AND retired = 0`, until.UnixMilli(), instanceID)
	return err
}

// ReleaseLeases gives up instanceID's ownership of its current leases, so
// other replicas may take them over at once.
func (s *Store) ReleaseLeases(ctx context.Context, instanceID string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE leases SET owner_until = 0 WHERE instance_id = ? AND retired = 0`, instanceID)
	return err
}

// MarkLeaseShared records that the lease's values were handed to another
// replica.
func (s *Store) MarkLeaseShared(ctx context.Context, id string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE leases SET shared = 1 WHERE id = ? AND shared = 0`, id)
	return err
}

// TakeLeaseRow deletes a lease row and returns it as it was at that
// moment; took reports whether this caller deleted it. Whoever deletes the
// row revokes the lease it names then (not as a caller read it earlier: a
// mint may have recorded its lease id since), so each lease is revoked once.
func (s *Store) TakeLeaseRow(ctx context.Context, id string) (row LeaseRow, took bool, err error) {
	rows, err := s.scanLeases(s.db.QueryContext(ctx, `DELETE FROM leases WHERE id = ? RETURNING `+leaseColumns, id))
	if err != nil || len(rows) == 0 {
		return LeaseRow{}, false, err
	}
	return rows[0], true, nil
}

// DeleteLease forgets a lease row.
func (s *Store) DeleteLease(ctx context.Context, id string) error {
	_, _, err := s.TakeLeaseRow(ctx, id)
	return err
}

// RetireVaultLeases retires a vault's current leases: they were minted
// from a store the vault no longer uses (or the vault is going), so they
// are only to be revoked now, and a mint in flight can no longer record its
// lease (SetLeaseMinted).
func (s *Store) RetireVaultLeases(ctx context.Context, vaultID string) error {
	_, err := s.db.ExecContext(ctx, retireVaultLeases, vaultID)
	return err
}

const retireVaultLeases = `UPDATE leases SET retired = 1, owner_until = 0 WHERE vault_id = ? AND retired = 0`

// CurrentLease returns a secret's current lease row.
func (s *Store) CurrentLease(ctx context.Context, vaultID, secret string) (LeaseRow, bool, error) {
	rows, err := s.queryLeases(ctx, `WHERE vault_id = ? AND secret_name = ? AND retired = 0`, vaultID, secret)
	if err != nil || len(rows) == 0 {
		return LeaseRow{}, false, err
	}
	return rows[0], true, nil
}

// Leases lists lease rows, of one vault when vaultID is set, else of one
// server instance.
func (s *Store) Leases(ctx context.Context, vaultID, instanceID string) ([]LeaseRow, error) {
	if vaultID != "" {
		return s.queryLeases(ctx, `WHERE vault_id = ?`, vaultID)
	}
	return s.queryLeases(ctx, `WHERE instance_id = ?`, instanceID)
}

// UnownedLeases lists the rows nobody owns at now: retired ones and those
// whose owner's heartbeat has lapsed.
func (s *Store) UnownedLeases(ctx context.Context, now time.Time) ([]LeaseRow, error) {
	return s.queryLeases(ctx, `WHERE retired = 1 OR owner_until < ?`, now.UnixMilli())
}

func (s *Store) queryLeases(ctx context.Context, where string, args ...any) ([]LeaseRow, error) {
	return s.scanLeases(s.db.QueryContext(ctx, `SELECT `+leaseColumns+` FROM leases `+where+` ORDER BY created_at, id`, args...))
}

func (s *Store) scanLeases(rows *sql.Rows, err error) ([]LeaseRow, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []LeaseRow
	for rows.Next() {
		var l LeaseRow
		var cfg string
		var exp, until int64
		var retired, shared int
		if err := rows.Scan(&l.ID, &l.VaultID, &l.Kind, &cfg, &l.SecretName, &l.LeaseID, &exp, &l.InstanceID, &until, &retired, &shared); err != nil {
			return nil, err
		}
		l.Config, l.ExpiresAt, l.OwnerUntil, l.Retired, l.Shared = []byte(cfg), msToTime(exp), msToTime(until), retired != 0, shared != 0
		out = append(out, l)
	}
	return out, rows.Err()
}

// PublishLeaseMessage sends payload to every replica listening on the
// schema's lease channel (cluster.LeaseChannel). Only PostgreSQL has one.
func (s *Store) PublishLeaseMessage(ctx context.Context, payload string) error {
	if s.dialect != Postgres {
		return errors.New("lease messages need PostgreSQL")
	}
	_, err := s.db.ExecContext(ctx, `SELECT pg_notify('av_leases_' || current_schema(), ?)`, payload)
	return err
}

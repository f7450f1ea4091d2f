package store

import (
	"context"
	"database/sql/driver"
)

// TrySyncLock takes the cluster-wide right to sync a vault's external
// store, without waiting: ok=false means another replica holds it now.
// release gives it back; it must be called when ok.
//
// Under PostgreSQL the right is a session-level advisory lock on a
// connection held out of the pool for the sync's duration. An advisory
// lock rather than a lease row with an expiry: the database releases it
// the moment its holder's session ends (the process died, was killed, or
// lost its connection), so another replica takes over at its next poll
// without waiting for an expiry to pass, and no clock of any replica is
// trusted. What a lock cannot protect (a holder cut off from the database
// while still fetching) the store's generation check and the one-
// transaction ApplySync do: a vault ends with one whole snapshot or the
// other, never a mix. Keys are 64-bit hashes of the vault id; two vaults
// colliding would at worst wait for each other's sync.
//
// A SQLite database has one process: the right is always granted there
// (the credential-store manager still runs one sync per vault at a time).
func (s *Store) TrySyncLock(ctx context.Context, vaultID string) (release func(), ok bool, err error) {
	if s.dialect != Postgres {
		return func() {}, true, nil
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, false, err
	}
	const key = `hashtextextended('agent-vault sync ' || ?, 0)`
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock(`+key+`)`, vaultID).Scan(&ok); err != nil || !ok {
		conn.Close()
		return nil, false, err
	}
	return func() {
		if _, err := conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(`+key+`)`, vaultID); err != nil {
			// The lock outlives a failed unlock only as long as the
			// session: drop the connection rather than pool it.
			conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		conn.Close()
	}, true, nil
}

package store

import (
	"context"
	"time"
)

// Canary is a bait value a vault holds: never injected, and any request or
// response that carries it is refused and its session revoked.
type Canary struct {
	ID        string
	VaultID   string
	Name      string // the environment variable it is handed out as
	Sealed    []byte
	CreatedAt time.Time
}

// CreateCanary stores a sealed canary; c.ID is made when empty (the
// caller makes it first when the seal binds to it).
func (s *Store) CreateCanary(ctx context.Context, c Canary) (Canary, error) {
	if c.ID == "" {
		c.ID = NewID()
	}
	now := s.millis()
	c.CreatedAt = msToTime(now)
	_, err := s.db.ExecContext(ctx, `INSERT INTO canaries (id, vault_id, name, sealed, created_at) VALUES (?, ?, ?, ?, ?)`,
		c.ID, c.VaultID, c.Name, c.Sealed, now)
	return c, err
}

// Canaries returns the canaries of a vault, or of every vault when
// vaultID is empty, oldest first.
func (s *Store) Canaries(ctx context.Context, vaultID string) ([]Canary, error) {
	q := `SELECT id, vault_id, name, sealed, created_at FROM canaries`
	var args []any
	if vaultID != "" {
		q += ` WHERE vault_id = ?`
		args = append(args, vaultID)
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY created_at, id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Canary
	for rows.Next() {
		var c Canary
		var ms int64
		if err := rows.Scan(&c.ID, &c.VaultID, &c.Name, &c.Sealed, &ms); err != nil {
			return nil, err
		}
		c.CreatedAt = msToTime(ms)
		out = append(out, c)
	}
	return out, rows.Err()
}

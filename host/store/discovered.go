package store

import (
	"context"
	"database/sql"
	"time"
)

// DiscoveredHost is a host the proxy forwarded for a vault without a
// matching service: how often and when, never a path or a value.
type DiscoveredHost struct {
	VaultID   string
	Host      string
	Count     int64
	FirstSeen time.Time
	LastSeen  time.Time
}

// DiscoveredHostsPerVault bounds the hosts kept per vault: beyond it the
// least recently seen are forgotten, so an agent that wanders over many
// hosts cannot grow the table without end.
const DiscoveredHostsPerVault = 200

// RecordDiscoveredHosts adds counts to the vaults' hosts in one
// transaction (Count is added; FirstSeen and LastSeen widen the stored
// span), then trims each touched vault to DiscoveredHostsPerVault hosts.
// Rows of vaults deleted meanwhile are skipped.
func (s *Store) RecordDiscoveredHosts(ctx context.Context, hosts []DiscoveredHost) error {
	if len(hosts) == 0 {
		return nil
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		touched := map[string]bool{}
		for _, h := range hosts {
			res, err := tx.ExecContext(ctx, `INSERT INTO discovered_hosts (vault_id, host, count, first_seen, last_seen)
				SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM vaults WHERE id = ?)
				ON CONFLICT (vault_id, host) DO UPDATE SET
					count = discovered_hosts.count + excluded.count,
					first_seen = CASE WHEN excluded.first_seen < discovered_hosts.first_seen THEN excluded.first_seen ELSE discovered_hosts.first_seen END,
					last_seen = CASE WHEN excluded.last_seen > discovered_hosts.last_seen THEN excluded.last_seen ELSE discovered_hosts.last_seen END`,
				h.VaultID, h.Host, h.Count, h.FirstSeen.UnixMilli(), h.LastSeen.UnixMilli(), h.VaultID)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n > 0 {
				touched[h.VaultID] = true
			}
		}
		for vaultID := range touched {
			if _, err := tx.ExecContext(ctx, `DELETE FROM discovered_hosts WHERE vault_id = ? AND host NOT IN (
				SELECT host FROM discovered_hosts WHERE vault_id = ? ORDER BY last_seen DESC, host LIMIT ?)`,
				vaultID, vaultID, DiscoveredHostsPerVault); err != nil {
				return err
			}
		}
		return nil
	})
}

// DiscoveredHosts lists a vault's discovered hosts, most recently seen first.
func (s *Store) DiscoveredHosts(ctx context.Context, vaultID string) ([]DiscoveredHost, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT host, count, first_seen, last_seen FROM discovered_hosts
		WHERE vault_id = ? ORDER BY last_seen DESC, host`, vaultID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []DiscoveredHost
	for rows.Next() {
		h := DiscoveredHost{VaultID: vaultID}
		var first, last int64
		if err := rows.Scan(&h.Host, &h.Count, &first, &last); err != nil {
			return nil, err
		}
		h.FirstSeen, h.LastSeen = msToTime(first), msToTime(last)
		out = append(out, h)
	}
	return out, rows.Err()
}

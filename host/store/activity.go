package store

import (
	"context"
	"time"
)

// ActivityRow counts the request-log rows of one time bucket that share a
// vault, a service, a status, an error code and whether keys were injected.
type ActivityRow struct {
	Bucket   int // 0 is the bucket starting at Since
	VaultID  string
	Service  string
	Status   int
	Error    string
	Injected bool
	Count    int
}

// ActivityQuery selects the request log to aggregate: rows at or after
// Since, in buckets of Bucket, of one vault or (VaultID empty) every vault.
type ActivityQuery struct {
	VaultID string
	Since   time.Time
	Bucket  time.Duration
}

// Activity aggregates the request log for the overview's charts. The
// database groups, so the answer is as small as the variety of traffic,
// not its volume: a vault's rows are read through its index; the whole
// instance's by one scan of the table, which retention keeps bounded
// (AGENT_VAULT_REQUEST_LOG_MAX_ROWS per vault).
func (s *Store) Activity(ctx context.Context, q ActivityQuery) ([]ActivityRow, error) {
	since, width := q.Since.UnixMilli(), q.Bucket.Milliseconds()
	if width <= 0 {
		width = 60_000
	}
	where, args := "at >= ?", []any{since, width, since}
	if q.VaultID != "" {
		where, args = "vault_id = ? AND at >= ?", []any{since, width, q.VaultID, since}
	}
	rows, err := s.db.QueryContext(ctx, `SELECT (at - ?) / ? AS bucket, vault_id, service, status, error,
			CASE WHEN keys = '' THEN 0 ELSE 1 END AS injected, COUNT(*)
		FROM request_logs WHERE `+where+`
		GROUP BY bucket, vault_id, service, status, error, injected`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ActivityRow
	for rows.Next() {
		var r ActivityRow
		var injected int
		if err := rows.Scan(&r.Bucket, &r.VaultID, &r.Service, &r.Status, &r.Error, &injected, &r.Count); err != nil {
			return nil, err
		}
		r.Injected = injected == 1
		out = append(out, r)
	}
	return out, rows.Err()
}

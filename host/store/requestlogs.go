package store

import (
	"context"
	"database/sql"
	"strings"
	"time"
)

// RequestLog is one proxied request as the log keeps it: key names, never
// values; the path without its query.
type RequestLog struct {
	ID        int64
	VaultID   string
	At        time.Time
	ActorKind string
	ActorID   string
	Method    string
	Host      string
	Path      string
	Service   string
	Keys      []string
	Status    int
	LatencyMS int64
	Error     string
}

// requestLogColumns are the columns InsertRequestLogs fills, one bound
// variable each per row.
const requestLogColumns = 12

// requestLogChunk is the most rows one INSERT carries: 12 variables a row
// keeps a statement at 3 072 variables, well under SQLite's limit (32 766
// since 3.32), while a statement's parse cost is spread over many rows.
const requestLogChunk = 256

// InsertRequestLogs appends rows in one transaction with multi-row INSERTs
// of up to requestLogChunk rows each: the batching writer's only call. One
// statement per chunk rather than one per row is what makes a batch cheap
// for the embedded SQLite, which parses, plans and steps every statement in
// the server's own CPU budget.
func (s *Store) InsertRequestLogs(ctx context.Context, rows []RequestLog) error {
	if len(rows) == 0 {
		return nil
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		n := min(len(rows), requestLogChunk)
		args := make([]any, 0, n*requestLogColumns)
		var q strings.Builder
		for len(rows) > 0 {
			chunk := rows[:min(len(rows), requestLogChunk)]
			rows = rows[len(chunk):]
			q.Reset()
			q.WriteString(`INSERT INTO request_logs
			(vault_id, at, actor_kind, actor_id, method, host, path, service, keys, status, latency_ms, error) VALUES `)
			args = args[:0]
			for i, r := range chunk {
				if i > 0 {
					q.WriteByte(',')
				}
				q.WriteString("(?,?,?,?,?,?,?,?,?,?,?,?)")
				args = append(args, r.VaultID, r.At.UnixMilli(), r.ActorKind, r.ActorID, r.Method, r.Host, r.Path,
					r.Service, strings.Join(r.Keys, ","), r.Status, r.LatencyMS, r.Error)
			}
			if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
				return err
			}
		}
		return nil
	})
}

// RequestLogQuery selects a page of one vault's log.
type RequestLogQuery struct {
	VaultID string
	// Before returns rows older than this id; After returns rows newer than
	// it (the tail mode: the page is the Limit rows right after the cursor).
	// Zero means unset; both may be set.
	Before, After int64
	Limit         int
	// StatusMin..StatusMax bounds the status (both zero: any).
	StatusMin, StatusMax int
	Service              string
	// Actor matches the actor id.
	Actor string
}

// RequestLogs returns one page, newest first, and whether more rows lie
// beyond it in the direction of the cursor (older without After, newer
// with it).
func (s *Store) RequestLogs(ctx context.Context, q RequestLogQuery) ([]RequestLog, bool, error) {
	where := []string{"vault_id = ?"}
	args := []any{q.VaultID}
	if q.Before > 0 {
		where, args = append(where, "id < ?"), append(args, q.Before)
	}
	if q.After > 0 {
		where, args = append(where, "id > ?"), append(args, q.After)
	}
	if q.StatusMax > 0 {
		where, args = append(where, "status BETWEEN ? AND ?"), append(args, q.StatusMin, q.StatusMax)
	}
	if q.Service != "" {
		where, args = append(where, "service = ?"), append(args, q.Service)
	}
	if q.Actor != "" {
		where, args = append(where, "actor_id = ?"), append(args, q.Actor)
	}
	order := "DESC"
	if q.After > 0 {
		order = "ASC" // the rows right after the cursor, so polling never skips any
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, vault_id, at, actor_kind, actor_id, method, host, path, service, keys, status, latency_ms, error
		FROM request_logs WHERE `+strings.Join(where, " AND ")+` ORDER BY id `+order+` LIMIT ?`, append(args, q.Limit+1)...)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	out := []RequestLog{}
	for rows.Next() {
		var r RequestLog
		var at int64
		var keys string
		if err := rows.Scan(&r.ID, &r.VaultID, &at, &r.ActorKind, &r.ActorID, &r.Method, &r.Host, &r.Path, &r.Service, &keys,
			&r.Status, &r.LatencyMS, &r.Error); err != nil {
			return nil, false, err
		}
		r.At = msToTime(at)
		if keys != "" {
			r.Keys = strings.Split(keys, ",")
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	more := len(out) > q.Limit
	if more {
		out = out[:q.Limit]
	}
	if order == "ASC" {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out, more, nil
}

// PruneRequestLogs enforces retention: it deletes rows older than
// olderThan, rows beyond the newest maxRows of each vault, and rows of
// vaults that no longer exist. It reports how many rows went.
func (s *Store) PruneRequestLogs(ctx context.Context, olderThan time.Time, maxRows int) (int64, error) {
	var total int64
	exec := func(q string, args ...any) error {
		res, err := s.db.ExecContext(ctx, q, args...)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		total += n
		return nil
	}
	if err := exec(`DELETE FROM request_logs WHERE at < ?`, olderThan.UnixMilli()); err != nil {
		return total, err
	}
	if err := exec(`DELETE FROM request_logs WHERE vault_id NOT IN (SELECT id FROM vaults)`); err != nil {
		return total, err
	}
	vaults, err := s.db.QueryContext(ctx, `SELECT DISTINCT vault_id FROM request_logs`)
	if err != nil {
		return total, err
	}
	var ids []string
	for vaults.Next() {
		var id string
		if err := vaults.Scan(&id); err != nil {
			vaults.Close()
			return total, err
		}
		ids = append(ids, id)
	}
	vaults.Close()
	if err := vaults.Err(); err != nil {
		return total, err
	}
	for _, id := range ids {
		// The id of the oldest row to keep bounds the delete; a vault with
		// fewer rows has none at that offset and loses nothing.
		if err := exec(`DELETE FROM request_logs WHERE vault_id = ? AND id < (
			SELECT id FROM request_logs WHERE vault_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)`, id, id, maxRows-1); err != nil {
			return total, err
		}
	}
	return total, nil
}

// CountRequestLogs counts a vault's log rows (tests and tools).
func (s *Store) CountRequestLogs(ctx context.Context, vaultID string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM request_logs WHERE vault_id = ?`, vaultID).Scan(&n)
	return n, err
}

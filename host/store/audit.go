package store

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"strings"
	"time"

	"github.com/agent-vault/agent-vault/host/audit"
)

// AuditHead is the chain's recorded end and its anchor (the last entry
// retention pruned; 0 and "" when none was).
type AuditHead struct {
	Seq        int64
	Hash       string
	AnchorSeq  int64
	AnchorHash string
}

// AppendAudit stores e as the chain's next entry and returns it with Seq,
// PrevHash and Hash set. Appends are serialised on the head row: SQLite
// transactions here take the write lock at BEGIN, and PostgreSQL's take
// the row FOR UPDATE, so replicas sharing the database append one at a
// time and the chain has no forks.
func (s *Store) AppendAudit(ctx context.Context, e audit.Entry) (audit.Entry, error) {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		h, err := s.lockAuditHead(ctx, tx)
		if err != nil {
			return err
		}
		e.Seal(h.Seq, h.Hash)
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_log (seq, at, actor_kind, actor_id, actor_name, client_addr,
			operation, vault, target, outcome, status, summary, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			e.Seq, e.Time.UnixMilli(), e.ActorKind, e.ActorID, e.ActorName, e.ClientAddr, e.Operation, e.Vault, e.Target,
			e.Outcome, e.Status, string(e.Summary), e.PrevHash, e.Hash); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1`, e.Seq, e.Hash)
		return err
	})
	return e, err
}

// lockAuditHead reads the head row, creating it for the first entry, and
// under PostgreSQL locks it until the transaction ends.
func (s *Store) lockAuditHead(ctx context.Context, tx *sql.Tx) (AuditHead, error) {
	if _, err := tx.ExecContext(ctx, `INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '') ON CONFLICT (id) DO NOTHING`); err != nil {
		return AuditHead{}, err
	}
	q := `SELECT seq, hash, anchor_seq, anchor_hash FROM audit_head WHERE id = 1`
	if s.dialect == Postgres {
		q += ` FOR UPDATE`
	}
	var h AuditHead
	err := tx.QueryRowContext(ctx, q).Scan(&h.Seq, &h.Hash, &h.AnchorSeq, &h.AnchorHash)
	return h, err
}

// AuditHead reads the chain's head; an empty chain has the zero head.
func (s *Store) AuditHead(ctx context.Context) (AuditHead, error) {
	var h AuditHead
	err := s.db.QueryRowContext(ctx, `SELECT seq, hash, anchor_seq, anchor_hash FROM audit_head WHERE id = 1`).
		Scan(&h.Seq, &h.Hash, &h.AnchorSeq, &h.AnchorHash)
	if errors.Is(err, sql.ErrNoRows) {
		return AuditHead{}, nil
	}
	return h, err
}

// AuditQuery selects entries. Every set field narrows the result.
type AuditQuery struct {
	// Actor matches an actor's id or name (an email, an agent's name).
	Actor     string
	Vault     string
	Operation string
	Since     time.Time // at or after
	Until     time.Time // before
	// Before pages backwards (entries with a smaller seq, newest first);
	// After reads forwards (larger seq, oldest first). Without either the
	// newest entries come first.
	Before, After int64
	// Oldest lists oldest first (implied by After).
	Oldest bool
	Limit  int
}

const auditColumns = `seq, at, actor_kind, actor_id, actor_name, client_addr, operation, vault, target, outcome, status, summary, prev_hash, hash`

// ListAudit returns up to q.Limit entries and whether more match.
func (s *Store) ListAudit(ctx context.Context, q AuditQuery) ([]audit.Entry, bool, error) {
	var where []string
	var args []any
	add := func(cond string, a ...any) { where = append(where, cond); args = append(args, a...) }
	if q.Actor != "" {
		add(`(actor_id = ? OR actor_name = ?)`, q.Actor, q.Actor)
	}
	if q.Vault != "" {
		add(`vault = ?`, q.Vault)
	}
	if q.Operation != "" {
		add(`operation = ?`, q.Operation)
	}
	if !q.Since.IsZero() {
		add(`at >= ?`, q.Since.UnixMilli())
	}
	if !q.Until.IsZero() {
		add(`at < ?`, q.Until.UnixMilli())
	}
	order := `DESC`
	switch {
	case q.After > 0 || q.Oldest:
		add(`seq > ?`, q.After)
		order = `ASC`
	case q.Before > 0:
		add(`seq < ?`, q.Before)
	}
	if q.Limit <= 0 {
		q.Limit = 50
	}
	query := `SELECT ` + auditColumns + ` FROM audit_log`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	query += ` ORDER BY seq ` + order + ` LIMIT ?`
	args = append(args, q.Limit+1)
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	var out []audit.Entry
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return nil, false, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	more := len(out) > q.Limit
	if more {
		out = out[:q.Limit]
	}
	return out, more, nil
}

func scanAudit(rows *sql.Rows) (audit.Entry, error) {
	var e audit.Entry
	var at int64
	var summary string
	if err := rows.Scan(&e.Seq, &at, &e.ActorKind, &e.ActorID, &e.ActorName, &e.ClientAddr, &e.Operation, &e.Vault,
		&e.Target, &e.Outcome, &e.Status, &summary, &e.PrevHash, &e.Hash); err != nil {
		return e, err
	}
	e.Time = msToTime(at)
	if summary != "" {
		e.Summary = []byte(summary)
	}
	return e, nil
}

// VerifyAudit walks the whole chain from its anchor to its head, a page at
// a time, and returns how many entries verified and the first break (nil
// when the chain is whole).
func (s *Store) VerifyAudit(ctx context.Context) (int64, *audit.Break, error) {
	h, err := s.AuditHead(ctx)
	if err != nil {
		return 0, nil, err
	}
	v := audit.NewVerifier(h.AnchorSeq, h.AnchorHash)
	after := h.AnchorSeq
	for {
		page, _, err := s.ListAudit(ctx, AuditQuery{After: after, Oldest: true, Limit: 500})
		if err != nil {
			return v.Checked(), nil, err
		}
		for _, e := range page {
			if b := v.Add(e); b != nil {
				return v.Checked(), b, nil
			}
		}
		if len(page) == 0 {
			break
		}
		after = page[len(page)-1].Seq
	}
	return v.Checked(), v.End(h.Seq, h.Hash), nil
}

// AuditSeqBefore is the newest seq of an entry older than cutoff (0: none):
// how far PruneAudit(cutoff) would prune.
func (s *Store) AuditSeqBefore(ctx context.Context, cutoff time.Time) (int64, error) {
	var last sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT MAX(seq) FROM audit_log WHERE at < ?`, cutoff.UnixMilli()).Scan(&last)
	return last.Int64, err
}

// PruneAudit deletes the entries older than cutoff, oldest first, and
// records the last one deleted as the chain's anchor, in the same
// transaction under the chain's lock: the remaining chain verifies from
// there. It returns how many entries it deleted.
func (s *Store) PruneAudit(ctx context.Context, cutoff time.Time) (int64, error) {
	return s.PruneAuditThrough(ctx, cutoff, math.MaxInt64)
}

// PruneAuditThrough prunes as PruneAudit does, but no entry after maxSeq:
// what was archived before pruning is exactly what goes.
func (s *Store) PruneAuditThrough(ctx context.Context, cutoff time.Time, maxSeq int64) (int64, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		h, err := s.lockAuditHead(ctx, tx)
		if err != nil {
			return err
		}
		var last sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT MAX(seq) FROM audit_log WHERE at < ? AND seq <= ?`, cutoff.UnixMilli(), maxSeq).Scan(&last); err != nil || !last.Valid {
			return err
		}
		var hash string
		if err := tx.QueryRowContext(ctx, `SELECT hash FROM audit_log WHERE seq = ?`, last.Int64).Scan(&hash); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM audit_log WHERE seq <= ? AND seq > ?`, last.Int64, h.AnchorSeq)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		_, err = tx.ExecContext(ctx, `UPDATE audit_head SET anchor_seq = ?, anchor_hash = ? WHERE id = 1`, last.Int64, hash)
		return err
	})
	return n, err
}

// Fingerprint is a checksum of every table's contents (the migrations'
// bookkeeping aside). Tests compare it before and after an operation
// declared read-only, to prove it changed nothing.
func (s *Store) Fingerprint(ctx context.Context) (string, error) {
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'schema_migrations' ORDER BY name`
	if s.dialect == Postgres {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()
			AND table_type = 'BASE TABLE' AND table_name <> 'schema_migrations' ORDER BY table_name`
	}
	rows, err := s.db.QueryContext(ctx, q)
	if err != nil {
		return "", err
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return "", err
		}
		tables = append(tables, t)
	}
	rows.Close()
	var b strings.Builder
	for _, t := range tables {
		c, err := s.checksum(ctx, t)
		if err != nil {
			return "", err
		}
		b.WriteString(t + ":" + c.Checksum + " ")
	}
	return b.String(), nil
}

package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/agent-vault/agent-vault/host/domain"
)

// TableCopy is what CopyInto verified of one table: the rows on each side
// and a checksum of their contents, equal on both.
type TableCopy struct {
	Table    string
	Rows     int
	Checksum string
}

// CopyInto copies every row of src into dst (a whole instance: the key
// envelope, the CA, vaults, credentials still sealed, request logs, …) in
// one transaction of dst, then verifies each table's row count and a
// checksum of its contents on both sides. Both stores must be migrated to
// the same version (opening them does that), and dst must hold no row at
// all: CopyInto never overwrites.
func CopyInto(ctx context.Context, src, dst *Store) ([]TableCopy, error) {
	tables, err := src.tablesInOrder(ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range tables {
		var n int
		if err := dst.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+t).Scan(&n); err != nil {
			return nil, fmt.Errorf("target table %s: %w", t, err)
		}
		if n > 0 {
			return nil, domain.Errorf(domain.CodeConflict, "the target database is not empty (table %s has %d rows); refusing to overwrite it", t, n)
		}
	}
	err = dst.tx(ctx, func(tx *sql.Tx) error {
		for _, t := range tables {
			if err := copyTable(ctx, src.db, tx, t); err != nil {
				return fmt.Errorf("copying %s: %w", t, err)
			}
		}
		if dst.dialect == Postgres {
			// Rows kept their ids: the identity continues after them.
			_, err := tx.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence('request_logs', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM request_logs`)
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []TableCopy
	for _, t := range tables {
		a, err := src.checksum(ctx, t)
		if err != nil {
			return nil, err
		}
		b, err := dst.checksum(ctx, t)
		if err != nil {
			return nil, err
		}
		if a != b {
			return nil, fmt.Errorf("table %s differs after the copy: %d rows (%s) in the source, %d rows (%s) in the target", t, a.Rows, a.Checksum, b.Rows, b.Checksum)
		}
		out = append(out, a)
	}
	return out, nil
}

// tablesInOrder lists the data tables so that every table comes after the
// tables its foreign keys reference (SQLite's catalog).
func (s *Store) tablesInOrder(ctx context.Context) ([]string, error) {
	if s.dialect != SQLite {
		return nil, fmt.Errorf("copying reads from a SQLite database")
	}
	rows, err := s.db.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table'
		AND name NOT LIKE 'sqlite_%' AND name <> 'schema_migrations' ORDER BY name`)
	if err != nil {
		return nil, err
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, err
		}
		names = append(names, n)
	}
	rows.Close()
	deps := map[string][]string{}
	for _, n := range names {
		r, err := s.db.QueryContext(ctx, `SELECT "table" FROM pragma_foreign_key_list(?)`, n)
		if err != nil {
			return nil, err
		}
		for r.Next() {
			var ref string
			r.Scan(&ref)
			if ref != n {
				deps[n] = append(deps[n], ref)
			}
		}
		r.Close()
	}
	var order []string
	done := map[string]bool{}
	var visit func(string)
	visit = func(n string) {
		if done[n] {
			return
		}
		done[n] = true
		for _, d := range deps[n] {
			visit(d)
		}
		order = append(order, n)
	}
	for _, n := range names {
		visit(n)
	}
	return order, nil
}

func copyTable(ctx context.Context, src *sql.DB, dst *sql.Tx, table string) error {
	rows, err := src.QueryContext(ctx, `SELECT * FROM `+table)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	insert, err := dst.PrepareContext(ctx, `INSERT INTO `+table+` (`+strings.Join(cols, ", ")+`) VALUES (`+
		strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ")+`)`)
	if err != nil {
		return err
	}
	defer insert.Close()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		if _, err := insert.ExecContext(ctx, vals...); err != nil {
			return err
		}
	}
	return rows.Err()
}

// checksum hashes a table's rows, each encoded column by column in a form
// both dialects produce alike (numbers in decimal, text and bytes as
// bytes), sorted so row order does not matter.
func (s *Store) checksum(ctx context.Context, table string) (TableCopy, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT * FROM `+table)
	if err != nil {
		return TableCopy{}, err
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	// Columns by name: a table rebuilt by one dialect's migration and
	// altered by the other's may order them differently.
	byName := make([]int, len(cols))
	for i := range byName {
		byName[i] = i
	}
	slices.SortFunc(byName, func(a, b int) int { return strings.Compare(cols[a], cols[b]) })
	var lines []string
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return TableCopy{}, err
		}
		var b strings.Builder
		for _, i := range byName {
			v := vals[i]
			b.WriteString(cols[i])
			b.WriteByte('=')
			switch v := v.(type) {
			case nil:
				b.WriteString("NULL")
			case int64:
				b.WriteString(strconv.FormatInt(v, 10))
			case int32:
				b.WriteString(strconv.FormatInt(int64(v), 10))
			case []byte:
				b.WriteString(hex.EncodeToString(v))
			case string:
				b.WriteString(hex.EncodeToString([]byte(v)))
			default:
				fmt.Fprintf(&b, "%v", v)
			}
			b.WriteByte(';')
		}
		lines = append(lines, b.String())
	}
	if err := rows.Err(); err != nil {
		return TableCopy{}, err
	}
	slices.Sort(lines)
	h := sha256.New()
	for _, l := range lines {
		h.Write([]byte(l))
		h.Write([]byte{'\n'})
	}
	return TableCopy{Table: table, Rows: len(lines), Checksum: hex.EncodeToString(h.Sum(nil))[:16]}, nil
}

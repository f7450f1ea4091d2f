// Package store is the only place that speaks SQL. It owns the schema (as
// embedded, numbered migrations), opens the database, and offers one method
// per domain operation; each method that changes more than one row runs in a
// single transaction, so a failed operation changes nothing.
//
// # Two dialects, one method set
//
// The embedded default is a SQLite file through modernc.org/sqlite (no
// cgo); several replicas share one PostgreSQL database through pgx
// (OpenPostgres). Every method serves both, with one SQL text wherever the
// two agree, which is almost everywhere:
//
//   - Placeholders are written ?. Statements bound for PostgreSQL are
//     rewritten to $1, $2, … inside its driver connection (rebindConn), so
//     no query is spelled twice for them.
//   - Upserts are INSERT … ON CONFLICT (…) DO UPDATE/NOTHING and RETURNING
//     clauses are plain: both dialects take the same text.
//   - Types: times are Unix milliseconds (INTEGER in SQLite, BIGINT in
//     PostgreSQL), bytes are BLOB/BYTEA, text is TEXT; case-insensitive
//     columns are COLLATE NOCASE in SQLite and the ICU collation nocase in
//     PostgreSQL. Go code scans int64, string and []byte alike from both.
//   - Errors: isUnique (and friends) recognise both drivers' codes.
//   - Where the two really differ, the method branches on s.dialect, in
//     one place, with a comment.
//
// Migrations are numbered files, one per dialect with the same number and
// name: migrations/NNNN_name.sql is the SQLite form, and
// migrations/postgres/NNNN_name.sql the PostgreSQL form. A migration is
// added in both, TestMigrationsPairUp checks that, and the suite runs every
// test against a SQLite file and a real PostgreSQL server (pgtest). Under
// PostgreSQL, migrations run under an advisory lock, so replicas starting
// together apply each one once. Migrations must be safe while older
// replicas still serve: add tables, columns with defaults and indexes;
// never drop or rename what a released version reads in the same release.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/google/uuid"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations/*.sql migrations/postgres/*.sql
var migrations embed.FS

// Store is an open Agent Vault database.
type Store struct {
	db      *sql.DB
	now     func() time.Time
	dialect Dialect
	url     string // the PostgreSQL URL; empty for SQLite

	logInserter logInserter
}

// FileName is the database file inside the data directory.
const FileName = "agent-vault.db"

// Open opens (creating if needed) the SQLite database at path with mode
// 0600, WAL journaling, foreign keys and a busy timeout, then applies any
// pending migrations.
func Open(ctx context.Context, path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating data directory: %w", err)
	}
	// Create the file ourselves so it never exists with a wider mode.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening database file: %w", err)
	}
	f.Close()
	if err := os.Chmod(path, 0o600); err != nil {
		return nil, err
	}
	dsn := "file:" + path +
		"?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)" +
		"&_pragma=synchronous(NORMAL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, now: timeNow, dialect: SQLite}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Close closes the database.
func (s *Store) Close() error {
	s.logInserter.close()
	return s.db.Close()
}

var timeNow = time.Now

// Dialect reports which database the store speaks to.
func (s *Store) Dialect() Dialect { return s.dialect }

// SetClock replaces the store's clock (tests only).
func (s *Store) SetClock(now func() time.Time) { s.now = now }

func (s *Store) millis() int64 { return s.now().UnixMilli() }

func (s *Store) migrate(ctx context.Context) error {
	dir := "migrations"
	if s.dialect == Postgres {
		dir = "migrations/postgres"
	}
	names, err := fs.Glob(migrations, dir+"/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	// One connection for the whole run: under PostgreSQL it holds the
	// advisory lock that makes replicas starting together take turns.
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	defer conn.Close()
	if s.dialect == Postgres {
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(?)`, migrationLockKey); err != nil {
			return fmt.Errorf("migrations: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(?)`, migrationLockKey)
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	for _, name := range names {
		base := filepath.Base(name)
		version, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: name must start with a number", base)
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		err = func() error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return fmt.Errorf("migration %s (%s): %w", base, s.dialect, err)
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, version, s.millis())
			return err
		}()
		if err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// tx runs fn in one transaction, committing only if fn returns nil.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// NewID returns a new random identifier for a row.
func NewID() string { return uuid.NewString() }

// isUnique reports whether err is a UNIQUE or PRIMARY KEY violation.
func isUnique(err error) bool {
	if isPgUnique(err) {
		return true
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		code := se.Code()
		return code == sqlite3.SQLITE_CONSTRAINT_UNIQUE || code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// isForeignKey reports whether err is a FOREIGN KEY violation.
func isForeignKey(err error) bool {
	if isPgForeignKey(err) {
		return true
	}
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

func msToTime(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func nullMsToTime(ms sql.NullInt64) *time.Time {
	if !ms.Valid {
		return nil
	}
	t := msToTime(ms.Int64)
	return &t
}

// Meta reads an instance-level value (the sealed key envelope, the CA, …).
func (s *Store) Meta(ctx context.Context, key string) ([]byte, bool, error) {
	var v []byte
	err := s.db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	return v, err == nil, err
}

// PutMeta writes an instance-level value.
func (s *Store) PutMeta(ctx context.Context, key string, value []byte) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`, key, value)
	return err
}

// InsertMetaIfAbsent writes value under key unless one is already there and
// reports whether it wrote. It lets concurrent first starts agree on one value.
func (s *Store) InsertMetaIfAbsent(ctx context.Context, key string, value []byte) (bool, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO NOTHING`, key, value)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// InsertMetasIfAbsent writes every entry of values in one transaction
// unless any of the keys already exists, and reports whether it wrote.
// Replicas starting together with a new database thus agree on one set of
// related values (a certificate and its key).
func (s *Store) InsertMetasIfAbsent(ctx context.Context, values map[string][]byte) (bool, error) {
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys) // one lock order for every writer
	errExists := errors.New("exists")
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for _, k := range keys {
			res, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO NOTHING`, k, values[k])
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return errExists
			}
		}
		return nil
	})
	if errors.Is(err, errExists) {
		return false, nil
	}
	return err == nil, err
}

func notFound(code, format string, args ...any) error {
	return domain.Errorf(code, format, args...)
}

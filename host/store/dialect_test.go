package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/agent-vault/agent-vault/host/store/pgtest"
)

// The whole suite runs against both dialects: a SQLite file, and a real
// PostgreSQL server started for this test binary (see pgtest).
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// forEachDialect runs fn as one subtest per dialect.
func forEachDialect(t *testing.T, fn func(t *testing.T, d Dialect)) {
	for _, d := range []Dialect{SQLite, Postgres} {
		t.Run(string(d), func(t *testing.T) { fn(t, d) })
	}
}

// openDialect opens an empty store of dialect d: a file in a temporary
// directory, or a new database on the shared PostgreSQL server.
func openDialect(t testing.TB, d Dialect) (*Store, error) {
	if d == Postgres {
		return OpenPostgres(context.Background(), pgtest.URL(t))
	}
	return Open(context.Background(), filepath.Join(t.TempDir(), FileName))
}

// Every migration exists in both dialects, with the same number and name.
func TestMigrationsPairUp(t *testing.T) {
	names := func(dir string) map[string]bool {
		entries, err := migrations.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, e := range entries {
			if !e.IsDir() {
				out[e.Name()] = true
			}
		}
		return out
	}
	sqlite, postgres := names("migrations"), names("migrations/postgres")
	for n := range sqlite {
		if !postgres[n] {
			t.Errorf("migrations/%s has no PostgreSQL form migrations/postgres/%s", n, n)
		}
	}
	for n := range postgres {
		if !sqlite[n] {
			t.Errorf("migrations/postgres/%s has no SQLite form migrations/%s", n, n)
		}
	}
	if len(sqlite) == 0 {
		t.Fatal("no migrations found")
	}
}

func TestRebind(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`SELECT 1`, `SELECT 1`},
		{`SELECT ? , ?`, `SELECT $1 , $2`},
		{`SELECT '?', "a?b", ? -- why?` + "\n" + `, ? /* ? */ , ?`, `SELECT '?', "a?b", $1 -- why?` + "\n" + `, $2 /* ? */ , $3`},
		{`SELECT 'it''s ?', ?`, `SELECT 'it''s ?', $1`},
		{`SELECT 'open ?`, `SELECT 'open ?`},
	} {
		if got := rebind(c.in); got != c.want {
			t.Errorf("rebind(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

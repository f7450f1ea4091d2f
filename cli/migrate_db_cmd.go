package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/agent-vault/agent-vault/host/server"
	"github.com/agent-vault/agent-vault/host/store"
)

type migrateDBCmd struct {
	From string `required:"" type:"path" placeholder:"DIR" help:"Data directory of the SQLite instance to copy (its server stopped)."`
	To   string `required:"" placeholder:"URL" help:"PostgreSQL database to copy into (postgres://…); it must be empty."`
}

func (c *migrateDBCmd) Help() string {
	return `Copies a whole instance, from the SQLite database of a data directory into
an empty PostgreSQL database: the sealed key envelope and interception CA,
vaults, credentials (still sealed: the same master password unlocks them),
services, people, agents, sessions, proposals, external stores, leases and
request logs. Every table's row count and checksum are verified on both
sides. A target that holds any row is refused, never overwritten. Stop the
server first; afterwards start it (and more replicas) with --database-url.`
}

func (c *migrateDBCmd) Run(e *env) error {
	dir := expandHome(c.From)
	if _, err := os.Stat(filepath.Join(dir, store.FileName)); err != nil {
		return fmt.Errorf("no Agent Vault database in %s: %w", dir, err)
	}
	if !store.IsPostgresURL(c.To) {
		return fmt.Errorf("--to must be a PostgreSQL URL (postgres://…)")
	}
	release, err := server.LockDataDir(dir)
	if err != nil {
		return err
	}
	defer release()
	src, err := server.OpenDatabase(e.Ctx, dir, "")
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := server.OpenDatabase(e.Ctx, dir, c.To)
	if err != nil {
		return err
	}
	defer dst.Close()
	report, err := store.CopyInto(e.Ctx, src, dst)
	if err != nil {
		return err
	}
	for _, t := range report {
		fmt.Fprintf(e.Stdout, "%-20s %8d rows  checksum %s\n", t.Table, t.Rows, t.Checksum)
	}
	fmt.Fprintf(e.Stdout, "Copied and verified %d tables. Start the server with --database-url to use them.\n", len(report))
	return nil
}

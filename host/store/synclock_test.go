package store

import (
	"context"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/host/store/pgtest"
)

// One replica at a time holds a vault's sync; a holder that dies (its
// session ends) hands it over at once.
func TestSyncLockIsClusterWide(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	open := func() *Store {
		s, err := OpenPostgres(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := open(), open()
	relA, ok, err := a.TrySyncLock(ctx, "v1")
	if err != nil || !ok {
		t.Fatalf("first lock: ok=%v err=%v", ok, err)
	}
	if _, ok, err := b.TrySyncLock(ctx, "v1"); err != nil || ok {
		t.Fatalf("second replica got a held vault's sync: ok=%v err=%v", ok, err)
	}
	relOther, ok, err := b.TrySyncLock(ctx, "v2")
	if err != nil || !ok {
		t.Fatalf("another vault: ok=%v err=%v", ok, err)
	}
	relOther()
	relA()
	relB, ok, err := b.TrySyncLock(ctx, "v1")
	if err != nil || !ok {
		t.Fatalf("after release: ok=%v err=%v", ok, err)
	}
	relB()

	// The holder dies (its session is killed, as a SIGKILLed replica's
	// would end): the lock goes with it.
	c := open()
	if _, ok, _ := c.TrySyncLock(ctx, "v1"); !ok {
		t.Fatal("lock not granted")
	}
	var killed bool
	if err := b.db.QueryRowContext(ctx, `SELECT bool_or(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory' AND granted`).Scan(&killed); err != nil || !killed {
		t.Fatalf("killing the holder: %v %v", killed, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		rel, ok, err := b.TrySyncLock(ctx, "v1")
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			rel()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a dead holder's lock was not handed over")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// SQLite has one process: the lock is always granted.
func TestSyncLockSQLite(t *testing.T) {
	s := openTest(t, SQLite)
	for range 2 {
		rel, ok, err := s.TrySyncLock(context.Background(), "v1")
		if err != nil || !ok {
			t.Fatalf("ok=%v err=%v", ok, err)
		}
		defer rel()
	}
}

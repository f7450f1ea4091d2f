package credstore_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/host/credstore"
	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/store"
	"github.com/agent-vault/agent-vault/host/store/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// Two replicas on one PostgreSQL database: while replica A syncs a vault,
// a manual sync on replica B answers sync_in_flight; once A is done, B
// syncs.
func TestSyncOneReplicaAtATime(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	open := func() *store.Store {
		st, err := store.OpenPostgres(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	f := newFixtureOn(t, open())
	stB := open()
	t.Cleanup(func() { stB.Close() })
	env := map[string]string{"HTTPJSON_ORIGINS": apiServer().URL}
	b := credstore.New(credstore.Config{Store: stB, Keyring: f.kr, Plugins: sharedRuntime(nil), InstanceID: "instance-b",
		Env: func(k string) string { return env[k] }, Now: func() time.Time { return time.UnixMilli(f.now.Load()) }})

	v, err := f.m.CreateVault(ctx, "shop", nil, f.spec)
	if err != nil {
		t.Fatal(err)
	}
	hold := make(chan struct{})
	f.up.set(func(u *upstream) { u.hold = hold })
	first := make(chan error, 1)
	go func() { first <- f.m.Sync(ctx, v.ID) }()
	<-f.up.entered // replica A is inside the upstream call
	second := b.Sync(ctx, v.ID)
	close(hold)
	if codeOf(second) != domain.CodeSyncInFlight {
		t.Fatalf("sync on replica B while A syncs: %v, want sync_in_flight", second)
	}
	if err := <-first; err != nil {
		t.Fatalf("sync on replica A: %v", err)
	}
	f.up.set(func(u *upstream) { u.hold = nil })
	if err := b.Sync(ctx, v.ID); err != nil {
		t.Fatalf("sync on replica B once A is done: %v", err)
	}
}

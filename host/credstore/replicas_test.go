package credstore_test

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/host/cluster"
	"github.com/agent-vault/agent-vault/host/credstore"
	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/seal"
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

// Replicas on one database share one lease: B gets A's lease values from
// A (through the database's notifications, never stored), and a process
// with database access but another instance key gets nothing: its
// request does not open, so the owner ignores it.
func TestLeaseHandedOverBetweenReplicas(t *testing.T) {
	defer credstore.SetTransferTimeout(time.Second)()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url := pgtest.URL(t)
	open := func() *store.Store {
		st, err := store.OpenPostgres(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	f := newFixtureOn(t, open())
	_, otherKey, err := seal.Create("")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"HTTPJSON_ORIGINS": apiServer().URL}
	replica := func(id string, kr *seal.Keyring) *credstore.Manager {
		return credstore.New(credstore.Config{Store: open(), Keyring: kr, Plugins: sharedRuntime(nil), InstanceID: id,
			Env: func(k string) string { return env[k] }, Now: func() time.Time { return time.UnixMilli(f.now.Load()) }})
	}
	b, intruder := replica("instance-b", f.kr), replica("instance-c", otherKey)
	for _, m := range []*credstore.Manager{f.m, b, intruder} {
		w := &cluster.Watcher{URL: url, Invalidate: m.LeasesChanged, Message: m.HandleLeaseMessage, Log: slog.New(slog.DiscardHandler)}
		go w.Run(ctx)
		for deadline := time.Now().Add(30 * time.Second); !w.Current(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("watcher not listening")
			}
		}
	}
	v, err := f.m.CreateVault(ctx, "shop", nil, f.spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []*credstore.Manager{f.m, b} {
		val, found, err := m.ResolveDynamic(ctx, v.ID, "DB_POSTGRES_PASSWORD")
		if err != nil || !found || val != "pw-1" {
			t.Fatalf("resolve: %q %v %v", val, found, err)
		}
	}
	if n := f.up.minted.Load(); n != 1 {
		t.Fatalf("%d leases minted for two replicas, want 1", n)
	}
	val, _, err := intruder.ResolveDynamic(ctx, v.ID, "DB_POSTGRES_PASSWORD")
	if codeOf(err) != credstore.CodeLeaseUnavailable || val != "" {
		t.Fatalf("a process without the instance key asked for the lease: %q, %v; want lease_unavailable", val, err)
	}
	if n := f.up.minted.Load(); n != 1 {
		t.Fatalf("%d leases minted, want still 1", n)
	}
}

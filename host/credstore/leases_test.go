package credstore_test

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestLeaseHammer: many concurrent first uses of a dynamic key share one
// mint, and every caller gets the same lease's value.
func TestLeaseHammer(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	v, err := f.m.CreateVault(ctx, "shop", nil, f.spec)
	if err != nil {
		t.Fatal(err)
	}
	const P, N = 8, 20
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, P*N)
	for g := 0; g < P; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := 0; i < N; i++ {
				val, found, err := f.m.ResolveDynamic(ctx, v.ID, "DB_POSTGRES_PASSWORD")
				if err != nil || !found || val != "pw-1" {
					errs <- err
					if err == nil {
						t.Errorf("got %q, %v", val, found)
					}
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := f.up.minted.Load(); n != 1 {
		t.Fatalf("%d leases minted for %d uses, want 1", n, P*N)
	}
}

func TestLeaseLifecycle(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.up.leaseTTL = 300
	v, err := f.m.CreateVault(ctx, "shop", nil, f.spec)
	if err != nil {
		t.Fatal(err)
	}
	resolve := func(key string) string {
		t.Helper()
		val, found, err := f.m.ResolveDynamic(ctx, v.ID, key)
		if err != nil || !found {
			t.Fatalf("%s: %q %v %v", key, val, found, err)
		}
		return val
	}
	// The longest name prefix wins: DB_POSTGRES_* is db-postgres, DB_* is db.
	if got := resolve("DB_POSTGRES_USERNAME"); got != "user-1" {
		t.Fatalf("db-postgres: %q", got)
	}
	if got := resolve("DB_USERNAME"); got != "user-2" {
		t.Fatalf("db: %q", got)
	}
	if _, found, err := f.m.ResolveDynamic(ctx, v.ID, "NOPE_KEY"); found || err != nil {
		t.Fatalf("unknown key: %v %v", found, err)
	}
	rows, _ := f.st.Leases(ctx, v.ID, "")
	if len(rows) != 2 || rows[0].InstanceID != "instance-a" {
		t.Fatalf("lease rows %+v", rows)
	}

	// Near expiry, the lease is renewed and keeps its values.
	f.now.Add((280 * time.Second).Milliseconds())
	if got := resolve("DB_POSTGRES_USERNAME"); got != "user-1" || f.up.renewed.Load() != 1 {
		t.Fatalf("after renewal: %q, renewed %d", got, f.up.renewed.Load())
	}
	// A failing renewal mints a new lease and revokes the old one.
	f.up.set(func(u *upstream) { u.failRenew = true })
	f.now.Add((280 * time.Second).Milliseconds())
	if got := resolve("DB_POSTGRES_USERNAME"); got != "user-3" {
		t.Fatalf("after a failed renewal: %q", got)
	}
	// The old lease is revoked and its row forgotten in the background.
	waitFor(t, func() bool { rows, _ := f.st.Leases(ctx, v.ID, ""); return f.up.revoked.Load() == 1 && len(rows) == 2 })

	// Listing: without minting only known keys; with minting, every secret's keys.
	known := f.m.DynamicKeys(ctx, v.ID, false)
	minted := f.up.minted.Load()
	all := f.m.DynamicKeys(ctx, v.ID, true)
	if len(known) != 4 || len(all) != 4 || f.up.minted.Load() != minted {
		t.Fatalf("known %v, all %v (minted %d → %d)", known, all, minted, f.up.minted.Load())
	}

	// Disconnect revokes every lease of the vault and forgets them.
	if err := f.m.Disconnect(ctx, v); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { rows, _ := f.st.Leases(ctx, v.ID, ""); return len(rows) == 0 })
	if f.up.revoked.Load() != 3 {
		t.Fatalf("revoked %d leases, want 3", f.up.revoked.Load())
	}
	if _, found, _ := f.m.ResolveDynamic(ctx, v.ID, "DB_POSTGRES_USERNAME"); found {
		t.Fatal("a disconnected vault still resolves dynamic keys")
	}
}

// A restarted instance sweeps the leases its previous run left; another
// instance's leases are left alone.
func TestLeaseSweepOnStart(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	v, err := f.m.CreateVault(ctx, "shop", nil, f.spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.m.ResolveDynamic(ctx, v.ID, "DB_USERNAME"); err != nil {
		t.Fatal(err)
	}
	other := f.manager("instance-b")
	if _, _, err := other.ResolveDynamic(ctx, v.ID, "DB_POSTGRES_USERNAME"); err != nil {
		t.Fatal(err)
	}
	restarted := f.manager("instance-a")
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { restarted.Run(runCtx); close(done) }()
	waitFor(t, func() bool { rows, _ := f.st.Leases(ctx, "", "instance-a"); return len(rows) == 0 })
	if rows, _ := f.st.Leases(ctx, "", "instance-b"); len(rows) != 1 {
		t.Fatalf("another instance's lease was touched: %+v", rows)
	}
	stop()
	<-done
	if f.up.revoked.Load() != 1 {
		t.Fatalf("revoked %d, want 1", f.up.revoked.Load())
	}
}

// waitFor polls a condition that background work makes true.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// BenchmarkResolveDynamicCached is the proxy's cost for a dynamic key whose
// lease is cached: memory only, no plugin call, no database.
func BenchmarkResolveDynamicCached(b *testing.B) {
	ctx := context.Background()
	f := newFixture(b)
	v, err := f.m.CreateVault(ctx, "shop", nil, f.spec)
	if err != nil {
		b.Fatal(err)
	}
	if _, _, err := f.m.ResolveDynamic(ctx, v.ID, "DB_POSTGRES_PASSWORD"); err != nil {
		b.Fatal(err)
	}
	minted := f.up.minted.Load()
	b.ReportAllocs()
	for b.Loop() {
		if _, found, err := f.m.ResolveDynamic(ctx, v.ID, "DB_POSTGRES_PASSWORD"); err != nil || !found {
			b.Fatal(err)
		}
	}
	if f.up.minted.Load() != minted {
		b.Fatal("the benchmark minted leases")
	}
}

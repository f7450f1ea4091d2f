package credstore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/store"
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

// A store switch or disconnect ends the vault's leases at once: none is
// served once the call returns, each is revoked exactly once, and a mint in
// flight during the switch gives its lease back instead of keeping it.
func TestLeasesEndWithTheirStore(t *testing.T) {
	switches := []struct {
		name     string
		switchTo func(f *fixture, v store.Vault) error
		after    bool // dynamic keys still resolve after the switch
	}{
		{"reconnect", func(f *fixture, v store.Vault) error { return f.m.Connect(context.Background(), v, f.spec) }, true},
		{"disconnect", func(f *fixture, v store.Vault) error { return f.m.Disconnect(context.Background(), v) }, false},
	}
	for _, sw := range switches {
		t.Run(sw.name+"/served-lease", func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t)
			v, err := f.m.CreateVault(ctx, "shop", nil, f.spec)
			if err != nil {
				t.Fatal(err)
			}
			if val, _, err := f.m.ResolveDynamic(ctx, v.ID, "DB_POSTGRES_PASSWORD"); val != "pw-1" || err != nil {
				t.Fatalf("before the switch: %q %v", val, err)
			}
			if err := sw.switchTo(f, v); err != nil {
				t.Fatal(err)
			}
			val, found, err := f.m.ResolveDynamic(ctx, v.ID, "DB_POSTGRES_PASSWORD")
			if val == "pw-1" {
				t.Fatal("the previous store's lease is still served after the switch returned")
			}
			if found != sw.after || err != nil {
				t.Fatalf("after the switch: %q %v %v", val, found, err)
			}
			waitFor(t, func() bool { return f.up.revoked.Load() == 1 })
			f.assertLeaseRows(t, v.ID, f.up.minted.Load()-1)
		})
		t.Run(sw.name+"/mint-in-flight", func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t)
			v, err := f.m.CreateVault(ctx, "shop", nil, f.spec)
			if err != nil {
				t.Fatal(err)
			}
			release := make(chan struct{})
			f.up.set(func(u *upstream) { u.holdMint = release })
			type result struct {
				val string
				err error
			}
			done := make(chan result, 1)
			go func() {
				val, _, err := f.m.ResolveDynamic(ctx, v.ID, "DB_POSTGRES_PASSWORD")
				done <- result{val, err}
			}()
			<-f.up.mintEntered
			if err := sw.switchTo(f, v); err != nil {
				t.Fatal(err)
			}
			f.up.set(func(u *upstream) { u.holdMint = nil })
			close(release)
			got := <-done
			if got.err == nil || domain.CodeOf(got.err) != domain.CodeConflict {
				t.Fatalf("a mint overtaken by a switch answered %q, %v; want a conflict", got.val, got.err)
			}
			waitFor(t, func() bool { return f.up.revoked.Load() == 1 })
			f.assertLeaseRows(t, v.ID, 0)
			val, found, err := f.m.ResolveDynamic(ctx, v.ID, "DB_POSTGRES_PASSWORD")
			if found != sw.after || err != nil || (found && val != "pw-2") {
				t.Fatalf("the next use: %q %v %v", val, found, err)
			}
		})
	}
}

// Requests racing repeated store switches, then a shutdown: every lease
// minted is revoked, and no row is left.
func TestLeasesSurviveSwitchHammer(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	v, err := f.m.CreateVault(ctx, "shop", nil, f.spec)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan struct{})
	go func() { f.m.Run(runCtx); close(ran) }()
	var wg sync.WaitGroup
	quit := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-quit:
					return
				default:
				}
				f.m.ResolveDynamic(ctx, v.ID, "DB_POSTGRES_PASSWORD")
				f.m.DynamicKeys(ctx, v.ID, true)
			}
		}()
	}
	for range 30 {
		if err := f.m.Connect(ctx, v, f.spec); err != nil {
			t.Fatal(err)
		}
	}
	close(quit)
	wg.Wait()
	stop()
	<-ran
	if f.up.minted.Load() < 2 {
		t.Fatalf("only %d leases minted: the hammer did not race", f.up.minted.Load())
	}
	waitFor(t, func() bool { return f.up.revoked.Load() == f.up.minted.Load() })
	f.assertLeaseRows(t, v.ID, 0)
}

// assertLeaseRows checks a vault's lease rows: want current ones and no
// retired one left behind.
func (f *fixture) assertLeaseRows(t *testing.T, vaultID string, want int32) {
	t.Helper()
	var rows []store.LeaseRow
	waitFor(t, func() bool {
		rows, _ = f.st.Leases(context.Background(), vaultID, "")
		return len(rows) == int(want)
	})
	for _, r := range rows {
		if r.Retired {
			t.Fatalf("a retired lease row was left: %+v", r)
		}
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

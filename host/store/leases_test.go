package store

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The lease rows decide who mints, owns and revokes a secret's lease
// across replicas: of callers racing, exactly one wins each step.
func TestLeaseRowsAreClusterWide(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d Dialect) {
		ctx := context.Background()
		s := openTest(t, d)
		v, err := s.CreateVault(ctx, "leased", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		now := time.UnixMilli(time.Now().UnixMilli())
		row := func(owner string) LeaseRow {
			return LeaseRow{ID: NewID(), VaultID: v.ID, Kind: "infisical", Config: []byte(`{}`), SecretName: "db",
				InstanceID: owner, OwnerUntil: now.Add(time.Second)}
		}

		// Eight replicas claim the secret at once: one wins.
		var wins atomic.Int32
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				won, err := s.ClaimLease(ctx, row(string(rune('a'+i))))
				if err != nil {
					t.Error(err)
				}
				if won {
					wins.Add(1)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d claims won, want 1", wins.Load())
		}
		cur, found, err := s.CurrentLease(ctx, v.ID, "db")
		if err != nil || !found || cur.LeaseID != "" {
			t.Fatalf("current lease after the claim: %+v %v %v", cur, found, err)
		}
		if ok, err := s.SetLeaseMinted(ctx, cur.ID, "lease-1", now.Add(time.Hour)); !ok || err != nil {
			t.Fatalf("recording the mint: %v %v", ok, err)
		}

		// While its owner's heartbeat holds, nobody takes it over.
		if ok, _ := s.TakeOverLease(ctx, cur.ID, "z", now.Add(time.Minute), now); ok {
			t.Fatal("took over a lease whose owner is alive")
		}
		if rows, _ := s.UnownedLeases(ctx, now); len(rows) != 0 {
			t.Fatalf("unowned while owned: %+v", rows)
		}
		// Once it lapses, one of several replicas does.
		later := now.Add(2 * time.Second)
		wins.Store(0)
		for _, who := range []string{"x", "y", "z"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if ok, err := s.TakeOverLease(ctx, cur.ID, who, later.Add(time.Second), later); err != nil {
					t.Error(err)
				} else if ok {
					wins.Add(1)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d takeovers won, want 1", wins.Load())
		}
		cur, _, _ = s.CurrentLease(ctx, v.ID, "db")
		if err := s.HeartbeatLeases(ctx, cur.InstanceID, later.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if rows, _ := s.UnownedLeases(ctx, later.Add(30*time.Second)); len(rows) != 0 {
			t.Fatalf("unowned after a heartbeat: %+v", rows)
		}

		// Replacing retires the old row; a second replace of it does nothing.
		next := row(cur.InstanceID)
		next.LeaseID, next.OwnerUntil = "lease-2", later.Add(time.Minute)
		if ok, err := s.ReplaceLease(ctx, cur.ID, next); !ok || err != nil {
			t.Fatalf("replace: %v %v", ok, err)
		}
		if ok, _ := s.ReplaceLease(ctx, cur.ID, row(cur.InstanceID)); ok {
			t.Fatal("replaced a lease that is no longer current")
		}
		unowned, _ := s.UnownedLeases(ctx, later)
		if len(unowned) != 1 || unowned[0].ID != cur.ID || !unowned[0].Retired || unowned[0].LeaseID != "lease-1" {
			t.Fatalf("the retired row: %+v", unowned)
		}
		// Whoever deletes a row revokes it: once.
		if taken, took, _ := s.TakeLeaseRow(ctx, cur.ID); !took || taken.LeaseID != "lease-1" {
			t.Fatalf("first take of the retired row: %v %+v", took, taken)
		}
		if _, took, _ := s.TakeLeaseRow(ctx, cur.ID); took {
			t.Fatal("a row was taken twice")
		}
		if err := s.ReleaseLeases(ctx, next.InstanceID); err != nil {
			t.Fatal(err)
		}
		if rows, _ := s.UnownedLeases(ctx, now); len(rows) != 1 || rows[0].LeaseID != "lease-2" {
			t.Fatalf("released lease not unowned: %+v", rows)
		}
		// A mint whose row was deleted meanwhile (vault disconnected) learns so.
		if ok, _ := s.SetLeaseMinted(ctx, cur.ID, "lease-3", now); ok {
			t.Fatal("recorded a mint on a deleted row")
		}
	})
}

// A store switch retires the vault's leases: a mint in flight can no
// longer record its lease, and whoever deletes a row learns the lease it
// names at that moment, not when the row was listed.
func TestLeaseRowsRetiredBySwitch(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d Dialect) {
		ctx := context.Background()
		s := openTest(t, d)
		v, err := s.CreateVault(ctx, "switched", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		now := time.UnixMilli(time.Now().UnixMilli())
		claim := func(secret string) LeaseRow {
			r := LeaseRow{ID: NewID(), VaultID: v.ID, Kind: "infisical", Config: []byte(`{}`), SecretName: secret,
				InstanceID: "a", OwnerUntil: now.Add(time.Minute), ExpiresAt: now}
			if won, err := s.ClaimLease(ctx, r); !won || err != nil {
				t.Fatalf("claim %s: %v %v", secret, won, err)
			}
			return r
		}
		minted, inFlight, listedEarly := claim("minted"), claim("in-flight"), claim("listed-early")
		if ok, _ := s.SetLeaseMinted(ctx, minted.ID, "lease-m", now.Add(time.Hour)); !ok {
			t.Fatal("recording a mint")
		}
		listed, err := s.Leases(ctx, v.ID, "")
		if err != nil || len(listed) != 3 {
			t.Fatalf("listing: %d rows, %v", len(listed), err)
		}
		// listed-early was read with no lease id; its mint lands after.
		if ok, _ := s.SetLeaseMinted(ctx, listedEarly.ID, "lease-l", now.Add(time.Hour)); !ok {
			t.Fatal("recording a mint")
		}

		if err := s.ConnectStore(ctx, CredentialStore{VaultID: v.ID, Kind: "infisical", Config: []byte(`{"new":1}`)}, nil); err != nil {
			t.Fatal(err)
		}
		if _, found, _ := s.CurrentLease(ctx, v.ID, "minted"); found {
			t.Fatal("a lease of the previous store is still current")
		}
		if ok, _ := s.SetLeaseMinted(ctx, inFlight.ID, "lease-i", now.Add(time.Hour)); ok {
			t.Fatal("a mint in flight recorded its lease on a retired row")
		}
		// The new store's first lease is current beside the retired ones.
		fresh := claim("minted")
		if cur, found, _ := s.CurrentLease(ctx, v.ID, "minted"); !found || cur.ID != fresh.ID {
			t.Fatalf("the new store's lease: %+v %v", cur, found)
		}

		got := map[string]string{}
		for _, r := range listed {
			taken, took, err := s.TakeLeaseRow(ctx, r.ID)
			if err != nil || !took || !taken.Retired {
				t.Fatalf("take %s: %+v %v %v", r.SecretName, taken, took, err)
			}
			got[taken.SecretName] = taken.LeaseID
		}
		want := map[string]string{"minted": "lease-m", "in-flight": "", "listed-early": "lease-l"}
		for k, w := range want {
			if got[k] != w {
				t.Errorf("%s: took lease %q, want %q", k, got[k], w)
			}
		}

		if err := s.DisconnectStore(ctx, v.ID); err != nil {
			t.Fatal(err)
		}
		if _, found, _ := s.CurrentLease(ctx, v.ID, "minted"); found {
			t.Fatal("a lease is still current after a disconnect")
		}
	})
}

package credstore_test

import (
	"context"
	"testing"
)

// TestLeasedValuesFollowLeases: a minted lease's values are listed (for
// the proxy's egress set) and the generation moves; once the vault's
// leases end they are gone, and the generation moves again.
func TestLeasedValuesFollowLeases(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	v, err := f.m.CreateVault(ctx, "shop", nil, f.spec)
	if err != nil {
		t.Fatal(err)
	}
	listed := func() map[string]string {
		got := map[string]string{}
		f.m.LeasedValues(func(vaultID, key, value string) { got[vaultID+"/"+key] = value })
		return got
	}
	gen0 := f.m.LeaseGeneration()
	if len(listed()) != 0 {
		t.Fatal("values before any lease")
	}
	val, found, err := f.m.ResolveDynamic(ctx, v.ID, "DB_POSTGRES_PASSWORD")
	if err != nil || !found {
		t.Fatal(err)
	}
	gen1 := f.m.LeaseGeneration()
	if got := listed()[v.ID+"/DB_POSTGRES_PASSWORD"]; got != val || gen1 == gen0 {
		t.Fatalf("after the mint: %q (want %q), generation %d → %d", got, val, gen0, gen1)
	}
	// A cached lease answers without changing anything.
	f.m.ResolveDynamic(ctx, v.ID, "DB_POSTGRES_PASSWORD")
	if f.m.LeaseGeneration() != gen1 {
		t.Fatal("a cache hit moved the generation")
	}
	f.m.BeforeDeleteVault(ctx, v.ID)
	if got := listed(); len(got) != 0 || f.m.LeaseGeneration() == gen1 {
		t.Fatalf("after the leases ended: %v", got)
	}
}

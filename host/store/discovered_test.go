package store

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func TestDiscoveredHosts(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d Dialect) {
		ctx := context.Background()
		s := openTest(t, d)
		v, err := s.CreateVault(ctx, "seen", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.UnixMilli(1_700_000_000_000)
		at := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }
		if err := s.RecordDiscoveredHosts(ctx, []DiscoveredHost{
			{VaultID: v.ID, Host: "api.a.example", Count: 2, FirstSeen: at(10), LastSeen: at(20)},
			{VaultID: v.ID, Host: "api.b.example", Count: 1, FirstSeen: at(5), LastSeen: at(5)},
			{VaultID: "no-such-vault", Host: "x.example", Count: 1, FirstSeen: at(1), LastSeen: at(1)},
		}); err != nil {
			t.Fatal(err)
		}
		// A later batch adds its count and widens the span both ways.
		if err := s.RecordDiscoveredHosts(ctx, []DiscoveredHost{
			{VaultID: v.ID, Host: "api.a.example", Count: 3, FirstSeen: at(1), LastSeen: at(30)},
		}); err != nil {
			t.Fatal(err)
		}
		got, err := s.DiscoveredHosts(ctx, v.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := []DiscoveredHost{
			{VaultID: v.ID, Host: "api.a.example", Count: 5, FirstSeen: at(1), LastSeen: at(30)},
			{VaultID: v.ID, Host: "api.b.example", Count: 1, FirstSeen: at(5), LastSeen: at(5)},
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("got  %v\nwant %v", got, want)
		}
		if other, _ := s.DiscoveredHosts(ctx, "no-such-vault"); len(other) != 0 {
			t.Fatalf("a row of a missing vault was kept: %v", other)
		}

		// The table keeps the most recently seen hosts per vault.
		var many []DiscoveredHost
		for i := range DiscoveredHostsPerVault + 5 {
			many = append(many, DiscoveredHost{VaultID: v.ID, Host: fmt.Sprintf("h%03d.example", i), Count: 1, FirstSeen: at(100 + i), LastSeen: at(100 + i)})
		}
		if err := s.RecordDiscoveredHosts(ctx, many); err != nil {
			t.Fatal(err)
		}
		got, _ = s.DiscoveredHosts(ctx, v.ID)
		if len(got) != DiscoveredHostsPerVault {
			t.Fatalf("kept %d hosts, want %d", len(got), DiscoveredHostsPerVault)
		}
		if newest := fmt.Sprintf("h%03d.example", DiscoveredHostsPerVault+4); got[0].Host != newest {
			t.Errorf("first host %q, want the newest %q", got[0].Host, newest)
		}
		for _, h := range got {
			if h.Host == "api.a.example" || h.Host == "api.b.example" {
				t.Errorf("the oldest host %q was kept", h.Host)
			}
		}
	})
}

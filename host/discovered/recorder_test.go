package discovered

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/proxy"
	"github.com/agent-vault/agent-vault/host/store"
)

func openStore(t testing.TB) (*store.Store, string) {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	v, err := st.CreateVault(context.Background(), "seen", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return st, v.ID
}

func TestRecorderCountsUnmatchedHosts(t *testing.T) {
	st, vaultID := openStore(t)
	r := New(st, Options{Interval: time.Hour}) // only Flush writes
	defer r.Close()
	t0 := time.UnixMilli(1_700_000_000_000)
	events := []proxy.Event{
		{Time: t0, VaultID: vaultID, Host: "API.Unknown.example", Path: "/v1/secret-path"},
		{Time: t0.Add(2 * time.Second), VaultID: vaultID, Host: "api.unknown.example", Path: "/other"},
		{Time: t0.Add(time.Second), VaultID: vaultID, Host: "denied.example", Error: domain.CodeHostNotAllowed},
		{Time: t0, VaultID: vaultID, Host: "api.github.com", Service: "github"},      // matched a service
		{Time: t0, VaultID: vaultID, Host: "limited.example", Error: "rate_limited"}, // not a host question
		{Time: t0, Host: "anonymous.example"},                                        // refused before a vault was known
	}
	for _, e := range events {
		r.Emit(e)
	}
	r.Flush()
	got, err := st.DiscoveredHosts(context.Background(), vaultID)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprint([]store.DiscoveredHost{
		{VaultID: vaultID, Host: "api.unknown.example", Count: 2, FirstSeen: t0, LastSeen: t0.Add(2 * time.Second)},
		{VaultID: vaultID, Host: "denied.example", Count: 1, FirstSeen: t0.Add(time.Second), LastSeen: t0.Add(time.Second)},
	})
	if fmt.Sprint(got) != want {
		t.Fatalf("got  %v\nwant %s", got, want)
	}
	// A second batch adds to the first.
	r.Emit(events[0])
	r.Flush()
	got, _ = st.DiscoveredHosts(context.Background(), vaultID)
	if got[0].Host != "api.unknown.example" || got[0].Count != 3 {
		t.Errorf("after a second batch: %v", got)
	}
}

func TestRecorderIsBounded(t *testing.T) {
	st, vaultID := openStore(t)
	r := New(st, Options{Interval: time.Hour, MaxPending: 3})
	for i := range 10 {
		r.Emit(proxy.Event{Time: time.Now(), VaultID: vaultID, Host: fmt.Sprintf("h%d.example", i)})
	}
	// A host already pending is still counted when the map is full.
	r.Emit(proxy.Event{Time: time.Now(), VaultID: vaultID, Host: "h0.example"})
	if d := r.Dropped(); d != 7 {
		t.Errorf("dropped %d, want 7", d)
	}
	r.Close() // writes what is pending
	got, _ := st.DiscoveredHosts(context.Background(), vaultID)
	if len(got) != 3 {
		t.Fatalf("kept %d hosts, want 3: %v", len(got), got)
	}
	r.Emit(proxy.Event{Time: time.Now(), VaultID: vaultID, Host: "late.example"})
	if d := r.Dropped(); d != 8 {
		t.Errorf("an event after Close was not dropped: %d", d)
	}
}

// BenchmarkRecorderEmit is the proxy's cost per unmatched request: a map
// lookup and increment under a mutex.
func BenchmarkRecorderEmit(b *testing.B) {
	st, vaultID := openStore(b)
	r := New(st, Options{})
	defer r.Close()
	e := proxy.Event{Time: time.Now(), VaultID: vaultID, Host: "api.unknown.example"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r.Emit(e)
		}
	})
}

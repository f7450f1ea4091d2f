package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/host/store/pgtest"
	"github.com/agent-vault/agent-vault/plugins/infisical/infisicaltest"
	"github.com/agent-vault/agent-vault/plugins/internal/storee2e"
	"github.com/jackc/pgx/v5"
)

// Several replicas of the real binary on one PostgreSQL database, one
// Infisical emulator: a vault's sync happens once per poll interval for
// the whole cluster, and the death of the replica syncing it hands the
// duty over.

// cluster is n replicas sharing a fresh PostgreSQL schema. Each replica's
// database connections carry the application name <names>-<i>, so a test
// can ask the database which replica holds a lock.
type cluster struct {
	db       string
	names    string
	replicas []*server
}

func startCluster(t *testing.T, n int, emu *infisicaltest.Emulator, extraEnv ...string) *cluster {
	t.Helper()
	if storee2e.OnPostgres() {
		t.Skip("replica tests always run on PostgreSQL; the SQLite run of this package has run them")
	}
	db := pgtest.URL(t)
	b := make([]byte, 4)
	rand.Read(b)
	c := &cluster{db: db, names: "av" + hex.EncodeToString(b)}
	for i := range n {
		env := append(infisicalEnv(emu), "AGENT_VAULT_DATABASE_URL="+db+"&application_name="+c.name(i), "AGENT_VAULT_MIN_POLL_INTERVAL=1s")
		c.replicas = append(c.replicas, startServer(t, newDataDir(t), append(env, extraEnv...)))
	}
	return c
}

func (c *cluster) name(i int) string { return c.names + "-" + string(rune('a'+i)) }

// syncHolder asks the database which replica holds a sync lock now: its
// index, or -1.
func (c *cluster) syncHolder(t *testing.T) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var names []string
	rows, err := conn.Query(ctx, `SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory' AND l.granted AND a.application_name LIKE $1`, c.names+"-%")
	if err != nil {
		t.Fatal(err)
	}
	names, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 {
		return -1
	}
	for i := range c.replicas {
		if names[0] == c.name(i) {
			return i
		}
	}
	return -1
}

// syncLog records when each folder's secrets were fetched.
type syncLog struct {
	mu  sync.Mutex
	at  map[string][]time.Time
	new chan string
}

func newSyncLog() *syncLog {
	return &syncLog{at: map[string][]time.Time{}, new: make(chan string, 1024)}
}

func (l *syncLog) record(r infisicaltest.Request) {
	if r.Route != infisicaltest.RouteListSecrets {
		return
	}
	path := r.Query.Get("secretPath")
	l.mu.Lock()
	l.at[path] = append(l.at[path], time.Now())
	l.mu.Unlock()
	select {
	case l.new <- path:
	default:
	}
}

func (l *syncLog) times(path string) []time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.at[path])
}

// Proof 4: three replicas, two vaults polled every 2 s, each fetch slow
// (0.7 s). Each vault is
// fetched once per interval for the whole cluster: between any two
// consecutive fetches of a vault at least a full interval passes (three
// uncoordinated replicas would fetch about three times per interval).
func TestReplicasSyncOncePerInterval(t *testing.T) {
	const interval = 2 * time.Second
	log := newSyncLog()
	emu := infisicaltest.New(t, infisicaltest.WithOnRequest(log.record))
	emu.AddIdentity(infisicaltest.Identity{ID: "id-1", Universal: &infisicaltest.UniversalAuth{ClientID: "cid", ClientSecret: "csecret"}})
	folders := []string{"/a", "/b"}
	for _, f := range folders {
		emu.SetSecrets("p-1", "dev", f, map[string]string{"KEY": "v" + f})
	}
	cl := startCluster(t, 3, emu)
	c := register(t, cl.replicas[0])
	// Slow fetches, so that every replica's scheduler meets syncs in
	// flight.
	emu.Inject(infisicaltest.RouteListSecrets, infisicaltest.Delay(700*time.Millisecond))
	for _, f := range folders {
		c.Must("POST", "/v1/vaults", map[string]any{"name": "vault-" + f[1:], "credential_store": storeSpec("p-1", "dev", f, int(interval/time.Second))}, 201, nil)
	}
	// Watch five intervals of scheduled syncs: six fetches per vault after
	// the one of its creation.
	const want = 1 + 6
	deadline := time.After(90 * time.Second)
	for done := false; !done; {
		select {
		case <-log.new:
		case <-deadline:
			t.Fatalf("not %d fetches per vault within 90 s: /a %d, /b %d", want, len(log.times("/a")), len(log.times("/b")))
		}
		done = true
		for _, f := range folders {
			done = done && len(log.times(f)) >= want
		}
	}
	for _, f := range folders {
		at := log.times(f)[1:want] // the scheduled ones
		var gaps []time.Duration
		for i := 1; i < len(at); i++ {
			gaps = append(gaps, at[i].Sub(at[i-1]).Round(time.Millisecond))
		}
		t.Logf("vault %s: gaps between its fetches %v (interval %v, 3 replicas)", f, gaps, interval)
		for _, g := range gaps {
			if g < interval {
				t.Errorf("vault %s fetched twice within one interval (%v < %v): gaps %v", f, g, interval, gaps)
			}
		}
	}
}

// Proofs 4 and 5 on the real binary: while one replica syncs a vault, a
// manual sync on another answers 409 sync_in_flight; SIGKILL the replica
// holding the vault's sync duty in the middle of the fetch, and another
// replica fetches within one poll interval; the vault then holds the new
// snapshot whole, and every listing in between shows one snapshot or the
// other, never a mix.
func TestReplicasSyncTakeoverOnKill(t *testing.T) {
	const interval = 3 * time.Second
	log := newSyncLog()
	emu := infisicaltest.New(t, infisicaltest.WithOnRequest(log.record))
	emu.AddIdentity(infisicaltest.Identity{ID: "id-1", Universal: &infisicaltest.UniversalAuth{ClientID: "cid", ClientSecret: "csecret"}})
	old, next := map[string]string{}, map[string]string{}
	for i := range 5 {
		old["OLD_"+string(rune('A'+i))] = "o"
		next["NEW_"+string(rune('A'+i))] = "n"
	}
	emu.SetSecrets("p-1", "dev", "/k", old)
	cl := startCluster(t, 2, emu)
	owner := register(t, cl.replicas[0])
	owner.Must("POST", "/v1/vaults", map[string]any{"name": "kvault", "credential_store": storeSpec("p-1", "dev", "/k", int(interval/time.Second))}, 201, nil)
	oldKeys, newKeys := sortedKeys(old), sortedKeys(next)

	// The next scheduled fetch hangs, with the new snapshot upstream.
	before := len(log.times("/k"))
	emu.SetSecrets("p-1", "dev", "/k", next)
	emu.Inject(infisicaltest.RouteListSecrets, infisicaltest.Hang().OnQuery("secretPath", "/k").Times(1))
	eventually(t, "a scheduled fetch of the vault", func() bool { return len(log.times("/k")) > before })
	var holder int
	eventually(t, "the database to show which replica syncs", func() bool { holder = cl.syncHolder(t); return holder >= 0 })
	other := cl.replicas[1-holder]
	oc := *owner
	oc.API = other.API
	if p := oc.Problem("POST", "/v1/vaults/kvault/sync", nil); p.Status != 409 || p.Code != "sync_in_flight" {
		t.Fatalf("manual sync on the other replica during the sync: %+v", p)
	}

	fetched := len(log.times("/k"))
	cl.replicas[holder].Kill()
	killed := time.Now()
	var mixed []string
	eventually(t, "the new snapshot on the surviving replica", func() bool {
		keys := oc.Keys("kvault", "static")
		if !reflect.DeepEqual(keys, oldKeys) && !reflect.DeepEqual(keys, newKeys) {
			mixed = keys
		}
		return reflect.DeepEqual(keys, newKeys)
	})
	if mixed != nil {
		t.Fatalf("a listing showed a mix of snapshots: %v", mixed)
	}
	at := log.times("/k")
	if len(at) <= fetched {
		t.Fatal("the surviving replica never fetched")
	}
	took := at[fetched].Sub(killed)
	t.Logf("replica %d killed mid-sync; replica %d fetched %v later (interval %v)", holder, 1-holder, took.Round(time.Millisecond), interval)
	if took > interval {
		t.Fatalf("the surviving replica took over after %v, more than one poll interval (%v)", took, interval)
	}
}

func sortedKeys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// leaseRow is the secret's current lease row, as the database holds it.
func (c *cluster) leaseOwner(t *testing.T, vault string) (owner string, found bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	err = conn.QueryRow(ctx, `SELECT l.instance_id FROM leases l JOIN vaults v ON v.id = l.vault_id WHERE v.name = $1 AND l.retired = 0 AND l.lease_id <> ''`, vault).Scan(&owner)
	if err == pgx.ErrNoRows {
		return "", false
	}
	if err != nil {
		t.Fatal(err)
	}
	return owner, true
}

// index is the replica whose instance id is id, or -1.
func (c *cluster) index(t *testing.T, id string) int {
	for i, r := range c.replicas {
		b, err := os.ReadFile(filepath.Join(r.DataDir, "instance-id"))
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(string(b)) == id {
			return i
		}
	}
	return -1
}

// Proof 6: one dynamic-secret lease for the whole cluster. 200 proxied
// requests spread over three replicas mint one lease; killing its owner
// hands the lease (and its renewal) to a survivor; a disconnect and a
// vault delete, each asked of a replica that does not own the lease,
// revoke it exactly once.
func TestReplicasShareOneLease(t *testing.T) {
	emu := infisicaltest.New(t)
	emu.AddIdentity(infisicaltest.Identity{ID: "id-1", Universal: &infisicaltest.UniversalAuth{ClientID: "cid", ClientSecret: "csecret"}})
	emu.SetSecrets("p-1", "dev", "/dyn", map[string]string{"API_KEY": "static-1"})
	// A 9 s lease is stale to its owner 3 s before it ends: renewal comes
	// within seconds.
	emu.AddDynamicSecret("p-1", "dev", "/dyn", infisicaltest.DynamicSecret{Name: "db-pg", DefaultTTL: 9 * time.Second,
		Template: map[string]any{"username": "user-{seq}", "password": "pass-{seq}"}})
	cl := startCluster(t, 3, emu, "AGENT_VAULT_LEASE_OWNER_TTL=1s")
	u := newUpstream(t)
	c := register(t, cl.replicas[0])
	c.Must("POST", "/v1/vaults", map[string]any{"name": "dyn-vault", "credential_store": storeSpec("p-1", "dev", "/dyn", 3600)}, 201, nil)
	c.Must("PUT", "/v1/vaults/dyn-vault/services", basicService(u, "DB_PG_USERNAME", "DB_PG_PASSWORD"), 200, nil)
	agents := make([]*agent, len(cl.replicas))
	for i, r := range cl.replicas {
		agents[i] = newAgent(t, c, r, "dyn-vault", u)
	}
	first := basicOf("user-1", "pass-1")

	// 200 requests, 8 at a time, round robin over the replicas.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var wrong []string
	next := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				status, got, err := agents[i%len(agents)].Get()
				if status != 200 || got != first {
					mu.Lock()
					wrong = append(wrong, sprintf("request %d via replica %d: %d %q %v", i, i%len(agents), status, got, err))
					mu.Unlock()
				}
			}
		}()
	}
	for i := range 200 {
		next <- i
	}
	close(next)
	wg.Wait()
	if len(wrong) > 0 {
		t.Fatalf("%d of 200 requests did not inject the cluster's lease, first: %s", len(wrong), wrong[0])
	}
	if n := emu.Counts().LeasesMinted; n != 1 {
		t.Fatalf("200 requests over 3 replicas minted %d leases, want 1", n)
	}

	ownerID, ok := cl.leaseOwner(t, "dyn-vault")
	if !ok {
		t.Fatal("no current lease row")
	}
	owner := cl.index(t, ownerID)
	cl.replicas[owner].Kill()
	killed := time.Now()
	var heir int
	eventually(t, "a surviving replica to take the lease over", func() bool {
		id, ok := cl.leaseOwner(t, "dyn-vault")
		heir = cl.index(t, id)
		return ok && heir != owner
	})
	t.Logf("lease owner (replica %d) killed; replica %d took the lease over %v later (owner TTL 1 s)", owner, heir, time.Since(killed).Round(time.Millisecond))
	renewed := emu.Counts().LeasesRenewed
	eventually(t, "the heir to renew the lease", func() bool {
		for i, a := range agents {
			if i == owner {
				continue
			}
			if got := a.MustGet(); got != first {
				t.Fatalf("after the handover replica %d injected %q, want the same lease", i, got)
			}
		}
		return emu.Counts().LeasesRenewed > renewed
	})
	if n := emu.Counts().LeasesMinted; n != 1 {
		t.Fatalf("%d leases minted by the handover, want still 1", n)
	}

	// A replica that does not own the lease disconnects the vault.
	bystander := 3 - owner - heir
	bc := *c
	bc.API = cl.replicas[bystander].API
	bc.Must("PATCH", "/v1/vaults/dyn-vault/credential-store", map[string]string{"kind": "builtin"}, 200, nil)
	eventually(t, "the lease to be revoked on disconnect", func() bool { return len(emu.Leases()) == 0 })
	if n := emu.Hits(infisicaltest.RouteRevokeLease); n != 1 {
		t.Fatalf("disconnect: %d revoke calls, want exactly 1", n)
	}

	// Connect again: the survivors share one new lease; a delete revokes it once.
	bc.Must("PATCH", "/v1/vaults/dyn-vault/credential-store", storeSpec("p-1", "dev", "/dyn", 3600), 200, nil)
	bc.Must("PUT", "/v1/vaults/dyn-vault/services", basicService(u, "DB_PG_USERNAME", "DB_PG_PASSWORD"), 200, nil)
	second := basicOf("user-2", "pass-2")
	for range 5 {
		for i, a := range agents {
			if i == owner {
				continue
			}
			if got := a.MustGet(); got != second {
				t.Fatalf("after reconnecting replica %d injected %q, want %q", i, got, second)
			}
		}
	}
	if n := emu.Counts().LeasesMinted; n != 2 {
		t.Fatalf("%d leases minted in all, want 2", n)
	}
	ownerID, _ = cl.leaseOwner(t, "dyn-vault")
	deleter := heir
	if cl.index(t, ownerID) == heir {
		deleter = bystander
	}
	dc := *c
	dc.API = cl.replicas[deleter].API
	dc.Must("DELETE", "/v1/vaults/dyn-vault", nil, 200, nil)
	eventually(t, "the lease to be revoked on delete", func() bool { return len(emu.Leases()) == 0 })
	if n := emu.Hits(infisicaltest.RouteRevokeLease); n != 2 {
		t.Fatalf("delete: %d revoke calls in all, want exactly 2", n)
	}
}

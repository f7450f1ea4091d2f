package cluster

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/store"
	"github.com/agent-vault/agent-vault/host/store/pgtest"
	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// recorder collects what a Watcher invalidates.
type recorder chan string

func (r recorder) invalidate(id string) { r <- id }

// next waits for the invalidation want, skipping others, for at most d.
func (r recorder) next(t *testing.T, want string, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case got := <-r:
			if got == want {
				return
			}
		case <-deadline:
			t.Fatalf("no invalidation of %q within %v", want, d)
		}
	}
}

func (r recorder) drain() {
	for {
		select {
		case <-r:
		default:
			return
		}
	}
}

func start(t *testing.T, url string) (*Watcher, recorder) {
	rec := make(recorder, 1024)
	w := &Watcher{URL: url, Invalidate: rec.invalidate, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), PingInterval: 200 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	rec.next(t, "", 10*time.Second) // connected: everything forgotten once
	return w, rec
}

// openStore opens a store on a fresh PostgreSQL schema, with its default
// vault, for a test to write through.
func openStore(t *testing.T) (url string, st *store.Store, v store.Vault) {
	t.Helper()
	ctx := context.Background()
	url = pgtest.URL(t)
	st, err := store.OpenPostgres(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.EnsureDefaultVault(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err = st.VaultByName(ctx, domain.DefaultVault); err != nil {
		t.Fatal(err)
	}
	return url, st, v
}

// A change committed through one store reaches the watcher of another
// connection: the vault's id for its data, "" for principals.
func TestWatcherRelaysCommittedChanges(t *testing.T) {
	ctx := context.Background()
	url, st, v := openStore(t)
	a, err := st.CreateAgent(ctx, store.Agent{Name: "bot", Role: domain.InstanceMember}, []byte("h"), []store.AgentGrant{{VaultID: v.ID, Role: domain.VaultProxy}})
	if err != nil {
		t.Fatal(err)
	}
	w, rec := start(t, url)
	if !w.Current() {
		t.Fatal("a listening watcher is not current")
	}
	steps := []struct {
		name string
		do   func() error
		want string
	}{
		{"credential", func() error { return st.PutCredentials(ctx, v.ID, map[string][]byte{"K": []byte("sealed")}) }, v.ID},
		{"service", func() error {
			return st.UpsertServices(ctx, v.ID, []store.ServiceRow{{Name: "s", Spec: []byte(`{}`)}})
		}, v.ID},
		{"agent revoked", func() error { return st.RevokeAgent(ctx, a.ID) }, ""},
		{"credential deleted", func() error { return st.DeleteCredentials(ctx, v.ID, []string{"K"}) }, v.ID},
	}
	for _, s := range steps {
		rec.drain()
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		rec.next(t, s.want, time.Second)
	}
	if w.Received() == 0 {
		t.Fatal("no notification counted")
	}
}

// A rolled-back change announces nothing.
func TestWatcherIgnoresRolledBackChanges(t *testing.T) {
	ctx := context.Background()
	url, _, _ := openStore(t)
	w, _ := start(t, url)
	before := w.Received()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `UPDATE vaults SET name = 'other'`); err != nil {
		t.Fatal(err)
	}
	tx.Rollback(ctx)
	// A committed change afterwards arrives alone.
	if _, err := conn.Exec(ctx, `UPDATE agents SET revoked_at = 1`); err != nil { // no rows: no notification
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `UPDATE vaults SET unmatched_host_policy = 'deny'`); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for w.Received() == before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := w.Received() - before; got != 1 {
		t.Fatalf("received %d notifications, want 1 (the committed change only)", got)
	}
}

// A listening connection killed by the server: the watcher reports it is
// not current, flushes everything, reconnects and relays again.
func TestWatcherReconnectsAndFlushes(t *testing.T) {
	ctx := context.Background()
	url, st, v := openStore(t)
	w, rec := start(t, url)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var killed bool
	if err := conn.QueryRow(ctx, `SELECT bool_or(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`,
		ApplicationName).Scan(&killed); err != nil || !killed {
		t.Fatalf("terminating the listener: killed=%v err=%v", killed, err)
	}
	rec.drain()
	rec.next(t, "", 5*time.Second) // the flush of the loss, then of the reconnection
	deadline := time.Now().Add(10 * time.Second)
	for !w.Current() {
		if time.Now().After(deadline) {
			t.Fatal("the watcher did not reconnect")
		}
		time.Sleep(10 * time.Millisecond)
	}
	rec.drain()
	if err := st.PutCredentials(ctx, v.ID, map[string][]byte{"K": []byte("x")}); err != nil {
		t.Fatal(err)
	}
	rec.next(t, v.ID, time.Second)
}

// Recording a token's last use is no change of who the token is: it
// announces nothing, so busy agents do not flush every replica's caches.
// Renaming an agent and changing the instance settings (the idle timeout
// decides whether a session stands) announce a principal change.
func TestWatcherIgnoresLastUse(t *testing.T) {
	ctx := context.Background()
	url, st, v := openStore(t)
	a, err := st.CreateAgent(ctx, store.Agent{Name: "bot", Role: domain.InstanceMember}, []byte("h"), nil)
	if err != nil {
		t.Fatal(err)
	}
	sess := store.Session{TokenHash: []byte("s"), ExpiresAt: time.Now().Add(time.Hour)}
	if _, err := st.RegisterOwner(ctx, store.User{Email: "o@example.com", PasswordHash: "x"}, sess); err != nil {
		t.Fatal(err)
	}
	_, rec := start(t, url)
	rec.drain()
	if err := st.TouchAgent(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := st.TouchSession(ctx, sess.TokenHash, time.Time{}); err != nil {
		t.Fatal(err)
	}
	// A vault change after the touches: its notification must come first.
	if err := st.PutCredentials(ctx, v.ID, map[string][]byte{"K": []byte("sealed")}); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-rec:
		if got != v.ID {
			t.Fatalf("recording last use announced %q", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no notification of the credential change")
	}
	for name, do := range map[string]func() error{
		"rename":   func() error { return st.RenameAgent(ctx, a.ID, "robot") },
		"settings": func() error { return st.SetInstanceSettings(ctx, store.DefaultInstanceSettings) },
	} {
		rec.drain()
		if err := do(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		rec.next(t, "", 5*time.Second)
	}
}

package credstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/host/credstore"
	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/plugin"
	"github.com/agent-vault/agent-vault/host/seal"
	"github.com/agent-vault/agent-vault/host/store"
	"github.com/agent-vault/agent-vault/plugins"
)

// upstream is one tenant of a small JSON secrets API, the one the SDK's
// example plugin (httpjson) speaks, with knobs for faults. Every tenant
// lives under its own path prefix on one shared server, because a plugin's
// granted origins are fixed when it loads.
type upstream struct {
	mu                       sync.Mutex
	secrets                  map[string]string
	status                   int           // non-zero: every /secrets answers this
	hold                     chan struct{} // non-nil: /secrets waits for it
	entered                  chan struct{} // told when a held /secrets request arrives
	leaseTTL                 int
	failRenew                bool
	holdMint                 chan struct{} // non-nil: POST /leases waits for it, after telling mintEntered
	mintEntered              chan struct{}
	minted, renewed, revoked atomic.Int32
	base                     string // base_url of this tenant
}

var (
	tenantsMu sync.Mutex
	tenants   = map[string]*upstream{}
	apiServer = sync.OnceValue(func() *httptest.Server {
		mux := http.NewServeMux()
		tenant := func(r *http.Request) *upstream {
			tenantsMu.Lock()
			defer tenantsMu.Unlock()
			return tenants[r.PathValue("tenant")]
		}
		mux.HandleFunc("GET /{tenant}/secrets", func(w http.ResponseWriter, r *http.Request) {
			u := tenant(r)
			u.mu.Lock()
			hold, status := u.hold, u.status
			snap := map[string]string{}
			for k, v := range u.secrets {
				snap[k] = v
			}
			u.mu.Unlock()
			if hold != nil {
				u.entered <- struct{}{}
				<-hold
			}
			if status != 0 {
				w.WriteHeader(status)
				return
			}
			json.NewEncoder(w).Encode(snap)
		})
		mux.HandleFunc("GET /{tenant}/dynamic", func(w http.ResponseWriter, r *http.Request) {
			u := tenant(r)
			json.NewEncoder(w).Encode([]map[string]any{{"name": "db-postgres", "ttl_seconds": u.leaseTTL, "renewable": true}, {"name": "db", "ttl_seconds": u.leaseTTL}})
		})
		mux.HandleFunc("POST /{tenant}/leases", func(w http.ResponseWriter, r *http.Request) {
			u := tenant(r)
			var in struct{ Name string }
			json.NewDecoder(r.Body).Decode(&in)
			u.mu.Lock()
			hold := u.holdMint
			u.mu.Unlock()
			if hold != nil {
				u.mintEntered <- struct{}{}
				<-hold
			}
			n := u.minted.Add(1)
			prefix := strings.ToUpper(strings.ReplaceAll(in.Name, "-", "_"))
			json.NewEncoder(w).Encode(map[string]any{"lease_id": fmt.Sprintf("lease-%d", n), "ttl_seconds": u.leaseTTL, "renewable": true,
				"values": map[string]string{prefix + "_USERNAME": fmt.Sprintf("user-%d", n), prefix + "_PASSWORD": fmt.Sprintf("pw-%d", n)}})
		})
		mux.HandleFunc("POST /{tenant}/leases/{id}/renew", func(w http.ResponseWriter, r *http.Request) {
			u := tenant(r)
			u.mu.Lock()
			fail := u.failRenew
			u.mu.Unlock()
			if fail {
				w.WriteHeader(500)
				return
			}
			u.renewed.Add(1)
			json.NewEncoder(w).Encode(map[string]any{"lease_id": r.PathValue("id"), "ttl_seconds": u.leaseTTL, "renewable": true})
		})
		mux.HandleFunc("DELETE /{tenant}/leases/{id}", func(w http.ResponseWriter, r *http.Request) {
			tenant(r).revoked.Add(1)
			w.WriteHeader(204)
		})
		return httptest.NewServer(mux)
	})
)

func newUpstream(t testing.TB) *upstream {
	srv := apiServer()
	tenantsMu.Lock()
	defer tenantsMu.Unlock()
	name := fmt.Sprintf("t%d", len(tenants))
	u := &upstream{secrets: map[string]string{"API_KEY": "v1"}, leaseTTL: 3600, base: srv.URL + "/" + name,
		entered: make(chan struct{}, 16), mintEntered: make(chan struct{}, 16)}
	tenants[name] = u
	return u
}

func (u *upstream) set(f func(u *upstream)) {
	u.mu.Lock()
	defer u.mu.Unlock()
	f(u)
}

func (u *upstream) spec() credstore.Spec {
	return credstore.Spec{Kind: "httpjson", Config: json.RawMessage(`{"base_url":"` + u.base + `"}`)}
}

// sharedRuntime loads the shipped plugins and the SDK example once per
// test binary (compiling is the slow part).
var sharedRuntime = func() func(t *testing.T) *plugin.Runtime {
	var once sync.Once
	var rt *plugin.Runtime
	var err error
	return func(t *testing.T) *plugin.Runtime {
		once.Do(func() {
			env := map[string]string{"HTTPJSON_ORIGINS": apiServer().URL}
			ctx := context.Background()
			dir, _ := os.UserCacheDir()
			rt, err = plugin.NewRuntime(ctx, plugin.Config{
				CacheDir: filepath.Join(dir, "agent-vault-test-wasm"), Logger: slog.New(slog.DiscardHandler),
				Env: func(k string) string { return env[k] },
			})
			if err != nil {
				return
			}
			var wasm []byte
			if wasm, err = os.ReadFile("../../plugins/dist/_examples/httpjson.wasm"); err != nil {
				return
			}
			if _, err = rt.Load(ctx, "httpjson", wasm); err != nil {
				return
			}
			var all map[string][]byte
			if all, err = plugins.All(); err != nil {
				return
			}
			_, err = rt.Load(ctx, "builtin", all["builtin"])
		})
		if err != nil {
			panic("loading plugins (run `make plugins`): " + err.Error())
		}
		return rt
	}
}()

type fixture struct {
	st   *store.Store
	kr   *seal.Keyring
	m    *credstore.Manager
	up   *upstream
	now  *atomic.Int64 // unix millis
	spec credstore.Spec
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	return newFixtureOn(t, st)
}

// newFixtureOn is newFixture over an open store.
func newFixtureOn(t testing.TB, st *store.Store) *fixture {
	t.Helper()
	t.Cleanup(func() { st.Close() })
	_, kr, err := seal.Create("")
	if err != nil {
		t.Fatal(err)
	}
	up := newUpstream(t)
	f := &fixture{st: st, kr: kr, up: up, now: &atomic.Int64{}, spec: up.spec()}
	f.now.Store(time.Now().UnixMilli())
	f.m = f.manager("instance-a")
	return f
}

// manager is a credential-store manager over the fixture's database, as a
// server instance would have (a restart is a new manager).
func (f *fixture) manager(instance string) *credstore.Manager {
	env := map[string]string{"HTTPJSON_ORIGINS": apiServer().URL}
	return credstore.New(credstore.Config{Store: f.st, Keyring: f.kr, Plugins: sharedRuntime(nil), InstanceID: instance,
		Env: func(k string) string { return env[k] }, Now: func() time.Time { return time.UnixMilli(f.now.Load()) }})
}

// values opens every credential of a vault.
func (f *fixture) values(t *testing.T, vaultID string) map[string]string {
	t.Helper()
	rows, err := f.st.SealedCredentials(context.Background(), vaultID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range rows {
		v, err := f.kr.Open(r.Sealed, seal.CredentialAAD(vaultID, r.Key))
		if err != nil {
			t.Fatal(err)
		}
		out[r.Key] = string(v)
	}
	return out
}

func TestCreateVaultProbesFirst(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		secrets  map[string]string
		config   string
		wantCode string
	}{
		{"ok", 0, map[string]string{"API_KEY": "v1"}, "", ""},
		{"not-found", 404, nil, "", domain.CodeExternalNotFound},
		{"forbidden", 403, nil, "", domain.CodeExternalForbidden},
		{"auth-failed", 401, nil, "", domain.CodeExternalAuthFailed},
		{"bad-key", 0, map[string]string{"database-url": "x"}, "", domain.CodeExternalInvalidKey},
		{"bad-config", 0, nil, `{"base_url":"ftp://x"}`, domain.CodeInvalidStoreConfig},
		{"unknown-field", 0, nil, `{"base_url":"http://x","extra":1}`, domain.CodeInvalidStoreConfig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.up.set(func(u *upstream) { u.status, u.secrets = tc.status, tc.secrets })
			spec := f.spec
			if tc.config != "" {
				spec.Config = json.RawMessage(tc.config)
			}
			v, err := f.m.CreateVault(context.Background(), "shop", nil, spec)
			if got := codeOf(err); got != tc.wantCode {
				t.Fatalf("code %q (%v), want %q", got, err, tc.wantCode)
			}
			if tc.wantCode != "" {
				if _, err := f.st.VaultByName(context.Background(), "shop"); domain.CodeOf(err) != domain.CodeVaultNotFound {
					t.Fatalf("a failed create left a vault: %v", err)
				}
				return
			}
			if got := f.values(t, v.ID); got["API_KEY"] != "v1" || len(got) != 1 {
				t.Fatalf("snapshot %v", got)
			}
			sum, _ := f.m.Summarize(context.Background(), v.ID, true)
			if sum.Kind != "httpjson" || sum.LastSyncStatus != "ok" || sum.PollIntervalSeconds != 60 || sum.NextSyncAt == nil || sum.CredentialCount != 1 {
				t.Fatalf("summary %+v", sum)
			}
		})
	}
}

func codeOf(err error) string {
	if err == nil {
		return ""
	}
	return domain.CodeOf(err)
}

func TestSyncKeepsTheLastGoodSnapshot(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	v, err := f.m.CreateVault(ctx, "shop", nil, f.spec)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name       string
		change     func(u *upstream)
		wantCode   string
		wantStatus string
		wantValues string
	}{
		{"rotated", func(u *upstream) { u.secrets = map[string]string{"API_KEY": "v2", "OTHER": "o"} }, "", "ok", "map[API_KEY:v2 OTHER:o]"},
		{"bad-key-fails-whole-sync", func(u *upstream) { u.secrets = map[string]string{"API_KEY": "v3", "stripeKey": "x"} }, domain.CodeExternalInvalidKey, "error", "map[API_KEY:v2 OTHER:o]"},
		{"outage", func(u *upstream) { u.status = 503 }, domain.CodeExternalUnreachable, "error", "map[API_KEY:v2 OTHER:o]"},
		{"recovered", func(u *upstream) { u.status = 0; u.secrets = map[string]string{"API_KEY": "v4"} }, "", "ok", "map[API_KEY:v4]"},
	}
	for _, st := range steps {
		f.up.set(st.change)
		err := f.m.Sync(ctx, v.ID)
		if got := codeOf(err); got != st.wantCode {
			t.Fatalf("%s: code %q (%v), want %q", st.name, got, err, st.wantCode)
		}
		sum, _ := f.m.Summarize(ctx, v.ID, true)
		if sum.LastSyncStatus != st.wantStatus {
			t.Fatalf("%s: status %q", st.name, sum.LastSyncStatus)
		}
		if st.wantCode == domain.CodeExternalInvalidKey && !strings.Contains(sum.LastSyncError, "stripeKey") {
			t.Fatalf("%s: the error should name the key: %q", st.name, sum.LastSyncError)
		}
		if got := fmt.Sprint(f.values(t, v.ID)); got != st.wantValues {
			t.Fatalf("%s: values %s, want %s", st.name, got, st.wantValues)
		}
	}
	if _, err := f.m.Summarize(ctx, v.ID, false); err != nil {
		t.Fatal(err)
	}
	if sum, _ := f.m.Summarize(ctx, v.ID, false); sum.Config != nil || sum.LastSyncError != "" {
		t.Fatalf("unprivileged summary shows config or error: %+v", sum)
	}
}

func TestConcurrentSyncsOneInFlight(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	v, err := f.m.CreateVault(ctx, "shop", nil, f.spec)
	if err != nil {
		t.Fatal(err)
	}
	hold := make(chan struct{})
	f.up.set(func(u *upstream) { u.hold = hold })
	first := make(chan error, 1)
	go func() { first <- f.m.Sync(ctx, v.ID) }()
	<-f.up.entered // the first sync is inside the upstream call
	second := f.m.Sync(ctx, v.ID)
	close(hold)
	if codeOf(second) != domain.CodeSyncInFlight {
		t.Fatalf("second sync: %v, want sync_in_flight", second)
	}
	if err := <-first; err != nil {
		t.Fatalf("first sync: %v", err)
	}
}

// A sync that was in flight when the vault was reconnected is discarded.
func TestSyncDiscardedAfterReconfigure(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	v, err := f.m.CreateVault(ctx, "shop", nil, f.spec)
	if err != nil {
		t.Fatal(err)
	}
	hold := make(chan struct{})
	f.up.set(func(u *upstream) { u.hold = hold; u.secrets = map[string]string{"STALE": "x"} })
	done := make(chan error, 1)
	go func() { done <- f.m.Sync(ctx, v.ID) }()
	<-f.up.entered
	// Reconnect through a second upstream while the first sync waits.
	other := newUpstream(t)
	other.secrets = map[string]string{"FRESH": "y"}
	spec := other.spec()
	spec.PollIntervalSeconds = 30
	if err := f.m.Connect(ctx, mustVault(t, f.st, "shop"), spec); err != nil {
		t.Fatal(err)
	}
	close(hold)
	err = <-done
	if got := fmt.Sprint(f.values(t, v.ID)); got != "map[FRESH:y]" {
		t.Fatalf("values %s after a stale sync (%v)", got, err)
	}
}

func mustVault(t *testing.T, st *store.Store, name string) store.Vault {
	v, err := st.VaultByName(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestDisconnectKeepsCredentialsAndConnectReplaces(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	v, err := f.m.CreateVault(ctx, "shop", nil, f.spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.m.ValidateWrite(ctx, v.ID, map[string]string{"LOCAL": "x"}); codeOf(err) != domain.CodeExternalStore {
		t.Fatalf("write to external vault: %v", err)
	}
	if err := f.m.Disconnect(ctx, v); err != nil {
		t.Fatal(err)
	}
	if err := f.m.ValidateWrite(ctx, v.ID, map[string]string{"LOCAL": "x"}); err != nil {
		t.Fatalf("write after disconnect: %v", err)
	}
	if got := fmt.Sprint(f.values(t, v.ID)); got != "map[API_KEY:v1]" {
		t.Fatalf("disconnect changed credentials: %s", got)
	}
	f.st.PutCredentials(ctx, v.ID, map[string][]byte{})
	f.up.set(func(u *upstream) { u.secrets = map[string]string{"FROM_UPSTREAM": "u"} })
	if err := f.m.Connect(ctx, v, f.spec); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(f.values(t, v.ID)); got != "map[FROM_UPSTREAM:u]" {
		t.Fatalf("connect should replace the built-in credentials: %s", got)
	}
}

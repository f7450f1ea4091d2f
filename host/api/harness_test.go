package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/host/api"
	"github.com/agent-vault/agent-vault/host/credstore"
	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/plugin"
	"github.com/agent-vault/agent-vault/host/seal"
	"github.com/agent-vault/agent-vault/host/store"
	"github.com/agent-vault/agent-vault/host/store/pgtest"
	"github.com/agent-vault/agent-vault/plugins"
)

// testEnv is a real API over a real SQLite file on a loopback listener.
type testEnv struct {
	t      *testing.T
	st     *store.Store
	kr     *seal.Keyring
	url    string
	dbPath string
	logs   *syncBuffer
	// seen collects every response body, for the no-value scan.
	seen *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// openStore opens the store the tests run on: a SQLite file (dbPath names
// it), or, with AGENT_VAULT_TEST_DATABASE=postgres, a fresh schema on a
// real PostgreSQL server (dbPath is empty: there is no file to scan).
func openStore(t *testing.T) (st *store.Store, dbPath string) {
	t.Helper()
	var err error
	if os.Getenv("AGENT_VAULT_TEST_DATABASE") == "postgres" {
		st, err = store.OpenPostgres(context.Background(), pgtest.URL(t))
	} else {
		dbPath = filepath.Join(t.TempDir(), store.FileName)
		st, err = store.Open(context.Background(), dbPath)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, dbPath
}

// newEnv builds the environment; opts adjust the API's dependencies.
func newEnv(t *testing.T, opts ...func(*api.Deps)) *testEnv {
	t.Helper()
	st, dbPath := openStore(t)
	if err := st.EnsureDefaultVault(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, kr, err := seal.Create("")
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	deps := api.Deps{
		Store:     st,
		Keyring:   kr,
		Stores:    credstore.New(credstore.Config{Store: st, Keyring: kr, Plugins: sharedPlugins(t), Logger: logger}),
		Logger:    logger,
		PublicURL: "http://agent-vault.test",
	}
	for _, o := range opts {
		o(&deps)
	}
	handler, _ := api.New(deps)
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	return &testEnv{t: t, st: st, kr: kr, url: srv.URL, dbPath: dbPath, logs: logs, seen: &syncBuffer{}}
}

// do sends a request; body may be nil, a string (sent raw) or any value
// (sent as JSON).
func (e *testEnv) do(method, path, token string, body any) (int, []byte) {
	e.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = bytes.NewBufferString(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.url+path, r)
	if err != nil {
		e.t.Fatal(err)
	}
	if r != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	e.seen.Write(out)
	e.seen.Write([]byte(res.Header.Get("Location") + "\n"))
	return res.StatusCode, out
}

// code extracts the problem code from an error body.
func code(body []byte) string {
	var p struct {
		Code string `json:"code"`
	}
	json.Unmarshal(body, &p)
	return p.Code
}

// sharedPlugins is one plugin runtime for the package's tests, with the
// shipped plugins loaded (compiling them once is the slow part).
var sharedPlugins = func() func(t *testing.T) *plugin.Runtime {
	var once sync.Once
	var rt *plugin.Runtime
	var err error
	return func(t *testing.T) *plugin.Runtime {
		once.Do(func() {
			ctx := context.Background()
			dir, _ := os.UserCacheDir()
			rt, err = plugin.NewRuntime(ctx, plugin.Config{CacheDir: filepath.Join(dir, "agent-vault-test-wasm"), Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				return
			}
			var all map[string][]byte
			if all, err = plugins.All(); err != nil {
				return
			}
			for kind, wasm := range all {
				if _, err = rt.Load(ctx, kind, wasm); err != nil {
					return
				}
			}
		})
		if err != nil {
			t.Fatalf("loading the shipped plugins (run `make plugins`): %v", err)
		}
		return rt
	}
}()

var passwordHash = sync.OnceValue(func() string {
	h, err := seal.HashPassword("password1")
	if err != nil {
		panic(err)
	}
	return h
})

// user creates a user straight in the store and returns its id and a
// session token.
func (e *testEnv) user(email string, role domain.InstanceRole) (id, token string) {
	e.t.Helper()
	ctx := context.Background()
	tok, hash := seal.NewToken(seal.PrefixSession)
	sess := store.Session{TokenHash: hash, ExpiresAt: time.Now().Add(time.Hour)}
	n, err := e.st.CountUsers(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	var u store.User
	if n == 0 && role == domain.InstanceOwner {
		u, err = e.st.RegisterOwner(ctx, store.User{Email: email, PasswordHash: passwordHash()}, sess)
	} else {
		inv, ih := seal.NewToken(seal.PrefixInvite)
		_ = inv
		if _, err = e.st.CreateInvite(ctx, store.Invite{TokenHash: ih, Role: role, ExpiresAt: time.Now().Add(time.Hour)}); err == nil {
			u, err = e.st.AcceptInvite(ctx, ih, store.User{Email: email, PasswordHash: passwordHash()}, sess)
		}
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return u.ID, tok
}

func (e *testEnv) grant(vaultID string, kind store.PrincipalKind, id string, role domain.VaultRole) {
	e.t.Helper()
	if err := e.st.SetGrant(context.Background(), vaultID, store.Grant{Kind: kind, PrincipalID: id, Role: role}); err != nil {
		e.t.Fatal(err)
	}
}

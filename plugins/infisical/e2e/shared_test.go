package e2e

import (
	"sync"
	"testing"

	"github.com/agent-vault/agent-vault/plugins/infisical/infisicaltest"
	"github.com/agent-vault/agent-vault/plugins/internal/storee2e"
)

// shared is one emulator and one server used by every test that needs no
// restart. Tests keep apart by using their own vault and folder.
type sharedEnv struct {
	emu   *infisicaltest.Emulator
	srv   *server
	owner *client
}

var (
	sharedOnce sync.Once
	sharedVal  *sharedEnv
	sharedErr  string
	sharedTB   = &cleanupTB{}
)

// cleanupTB collects cleanups of the shared server, run by TestMain.
type cleanupTB struct {
	testing.TB
	mu  sync.Mutex
	fns []func()
}

func (c *cleanupTB) Helper()          {}
func (c *cleanupTB) Cleanup(f func()) { c.mu.Lock(); c.fns = append(c.fns, f); c.mu.Unlock() }
func (c *cleanupTB) Fatalf(format string, args ...any) {
	panic(sharedFailure{format: format, args: args})
}
func (c *cleanupTB) Errorf(format string, args ...any) {}
func (c *cleanupTB) Fatal(args ...any)                 { panic(sharedFailure{format: "%v", args: args}) }

type sharedFailure struct {
	format string
	args   []any
}

func closeShared() {
	sharedTB.mu.Lock()
	fns := sharedTB.fns
	sharedTB.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
}

// shared returns the shared environment, starting it on first use.
func shared(t *testing.T) *sharedEnv {
	t.Helper()
	if storee2e.Binary() == "" {
		t.Skip("end-to-end tests are skipped with -short")
	}
	sharedOnce.Do(func() {
		defer func() {
			if r := recover(); r != nil {
				if f, ok := r.(sharedFailure); ok {
					sharedErr = "starting the shared server: " + sprintf(f.format, f.args...)
					return
				}
				panic(r)
			}
		}()
		emu := infisicaltest.NewUnstarted(infisicaltest.WithOnRequest(onRequest))
		if _, err := emu.Start(); err != nil {
			panic(sharedFailure{format: "emulator: %v", args: []any{err}})
		}
		sharedTB.Cleanup(emu.Close)
		emu.AddIdentity(infisicaltest.Identity{ID: "id-1", Universal: &infisicaltest.UniversalAuth{ClientID: "cid", ClientSecret: "csecret"}})
		emu.AddProject(infisicaltest.Project{ID: "p-1", Slug: "proj-one", Environments: []string{"dev", "prod"}})
		srv := startServer(sharedTB, newDataDir(sharedTB), infisicalEnv(emu))
		sharedVal = &sharedEnv{emu: emu, srv: srv, owner: register(sharedTB, srv)}
		sharedVal.owner.T = nil
	})
	if sharedErr != "" {
		t.Fatal(sharedErr)
	}
	return sharedVal
}

// ownerFor is the shared owner client reporting to t.
func (e *sharedEnv) ownerFor(t *testing.T) *client {
	c := *e.owner
	c.T = t
	return &c
}

// watch signals arrived (without blocking) when a request to route for
// folder path reaches the emulator. It returns a function that stops it.
func (e *sharedEnv) watch(route infisicaltest.Route, path string, arrived chan<- struct{}) func() {
	watchMu.Lock()
	defer watchMu.Unlock()
	id := len(watchers) + 1
	watchers[id] = func(r infisicaltest.Request) {
		if r.Route == route && r.Query.Get("secretPath") == path {
			select {
			case arrived <- struct{}{}:
			default:
			}
		}
	}
	return func() {
		watchMu.Lock()
		defer watchMu.Unlock()
		delete(watchers, id)
	}
}

var (
	watchMu  sync.Mutex
	watchers = map[int]func(infisicaltest.Request){}
)

// onRequest fans emulator requests out to the watchers.
func onRequest(r infisicaltest.Request) {
	watchMu.Lock()
	defer watchMu.Unlock()
	for _, w := range watchers {
		w(r)
	}
}

//go:build !wasip1

package main

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/plugins/infisical/infisicaltest"
	"github.com/agent-vault/agent-vault/sdk"
)

// fixture is an emulator with one universal-auth identity and one project
// (p-1, slug proj-one, environment dev, folder /app).
type fixture struct {
	emu *infisicaltest.Emulator
	env map[string]string
	cfg json.RawMessage
}

func newFixture(t *testing.T, opts ...infisicaltest.Option) *fixture {
	t.Helper()
	resetCaches()
	t.Cleanup(resetCaches)
	emu := infisicaltest.New(t, opts...)
	clock = emu.Clock().Now
	emu.AddIdentity(infisicaltest.Identity{ID: "id-1", Universal: &infisicaltest.UniversalAuth{ClientID: "cid", ClientSecret: "csecret"}})
	emu.AddProject(infisicaltest.Project{ID: "p-1", Slug: "proj-one", Environments: []string{"dev", "prod"}})
	emu.SetSecrets("p-1", "dev", "/app", map[string]string{"API_KEY": "v1", "DB_URL": "postgres://x"})
	return &fixture{
		emu: emu,
		env: map[string]string{envURL: emu.URL(), envUniversalID: "cid", envUniversalSecret: "csecret"},
		cfg: json.RawMessage(`{"project_id":"p-1","environment":"dev","secret_path":"/app"}`),
	}
}

func (f *fixture) req() sdk.Request { return sdk.Request{Config: f.cfg, Env: f.env} }

func cfgOf(project, env, path string) json.RawMessage {
	b, _ := json.Marshal(map[string]string{"project_id": project, "environment": env, "secret_path": path})
	return b
}

// resetCaches forgets the instance's token and project caches.
func resetCaches() {
	sessMu.Lock()
	sess, announced = nil, ""
	sessMu.Unlock()
	projMu.Lock()
	projects = map[string]projectInfo{}
	projMu.Unlock()
	clock = sdk.Now
}

// codeOf renders an error as "code: message" ("" for nil).
func codeOf(err error) string {
	if err == nil {
		return ""
	}
	var e *sdk.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return "untyped: " + err.Error()
}

func ctx(t *testing.T) context.Context {
	if t == nil {
		return context.Background()
	}
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

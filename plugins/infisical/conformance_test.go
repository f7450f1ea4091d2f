//go:build !wasip1

package main

import (
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/plugins/infisical/infisicaltest"
	"github.com/agent-vault/agent-vault/sdk/conformance"
)

// TestConformance runs the SDK's conformance kit on the wasm build of this
// plugin, in the real host runtime, against the emulator.
func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the plugin")
	}
	emu := infisicaltest.New(t)
	emu.AddIdentity(infisicaltest.Identity{ID: "id-1", Universal: &infisicaltest.UniversalAuth{ClientID: "cid", ClientSecret: "csecret"}})
	emu.AddProject(infisicaltest.Project{ID: "p-1", Slug: "proj-one", Environments: []string{"dev"}})
	emu.SetSecrets("p-1", "dev", "/app", map[string]string{"API_KEY": "v1", "DB_URL": "postgres://x"})
	emu.SetSecrets("p-1", "dev", "/bad", map[string]string{"GOOD": "x", "database-url": "y"})
	emu.AddFolder("p-1", "dev", "/slow")
	emu.AddDynamicSecret("p-1", "dev", "/app", infisicaltest.DynamicSecret{Name: "db-postgres", DefaultTTL: time.Hour,
		Template: map[string]any{"username": "user-{seq}", "password": "pass-{seq}"}})
	emu.AddIdentity(infisicaltest.Identity{ID: "id-2", Universal: &infisicaltest.UniversalAuth{ClientID: "cid-2", ClientSecret: "cs-2"}})
	emu.SetAccess("id-2", "p-1", infisicaltest.Access{NotMember: true})
	// Only requests for /slow hang.
	emu.Inject(infisicaltest.RouteListSecrets, infisicaltest.Hang().OnQuery("secretPath", "/slow"))

	conformance.Run(t, wasm(t), conformance.Options{
		Env:    map[string]string{envURL: emu.URL(), envUniversalID: "cid", envUniversalSecret: "csecret"},
		Config: cfgOf("p-1", "dev", "/app"),
		InvalidConfigs: map[string]json.RawMessage{
			"missing_project_id": json.RawMessage(`{"environment":"dev","secret_path":"/"}`),
			"relative_path":      json.RawMessage(`{"project_id":"p","environment":"dev","secret_path":"app"}`),
			"blank_environment":  json.RawMessage(`{"project_id":"p","environment":" ","secret_path":"/"}`),
		},
		ProbeErrors: []conformance.ProbeCase{
			{Name: "not_found_project", Config: cfgOf("nope", "dev", "/app"), WantCode: "external_store_not_found"},
			{Name: "not_found_environment", Config: cfgOf("p-1", "qa", "/app"), WantCode: "external_store_not_found"},
			{Name: "not_found_path", Config: cfgOf("p-1", "dev", "/nope"), WantCode: "external_store_not_found"},
			{Name: "forbidden", Env: map[string]string{envUniversalID: "cid-2", envUniversalSecret: "cs-2"}, WantCode: "external_store_forbidden"},
			{Name: "auth_failed", Env: map[string]string{envUniversalSecret: "wrong"}, WantCode: "external_store_auth_failed"},
			{Name: "unreachable", Env: map[string]string{envURL: "http://127.0.0.1:1"}, WantCode: "external_store_unreachable"},
		},
		WantSecrets:   map[string]string{"API_KEY": "v1", "DB_URL": "postgres://x"},
		BadKeyConfig:  cfgOf("p-1", "dev", "/bad"),
		DynamicSecret: "db-postgres",
		SlowConfig:    cfgOf("p-1", "dev", "/slow"),
	})
}

// wasm is the plugin built for wasip1: plugins/dist/infisical.wasm when
// INFISICAL_WASM names it (make), else a fresh build.
func wasm(t testing.TB) []byte {
	if p := os.Getenv("INFISICAL_WASM"); p != "" {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return conformance.Build(t, ".")
}

package e2e

import (
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/plugins/infisical/infisicaltest"
	"github.com/agent-vault/agent-vault/plugins/internal/storee2e"
)

// fixture maps the store suite's folders to folders of project p-1, dev.
type fixture struct{ emu *infisicaltest.Emulator }

func (f *fixture) Kind() string  { return "infisical" }
func (f *fixture) Env() []string { return infisicalEnv(f.emu) }

func (f *fixture) Config(folder string, dynamic bool) map[string]any {
	if dynamic {
		f.emu.AddDynamicSecret("p-1", "dev", "/"+folder, infisicaltest.DynamicSecret{Name: "pgrole", DefaultTTL: time.Hour,
			Template: map[string]any{"username": "user-{seq}", "password": "pass-{seq}"}})
	}
	return map[string]any{"project_id": "p-1", "environment": "dev", "secret_path": "/" + folder}
}

func (f *fixture) SetSecrets(folder string, kv map[string]string) {
	f.emu.SetSecrets("p-1", "dev", "/"+folder, kv)
}

func (f *fixture) Fail(folder string) {
	f.emu.Inject(infisicaltest.RouteListSecrets, infisicaltest.Status(500).OnQuery("secretPath", "/"+folder))
}

func (f *fixture) ClearFaults() { f.emu.ClearFaults() }
func (f *fixture) Down()        { f.emu.Stop() }
func (f *fixture) Up() {
	if _, err := f.emu.Start(); err != nil {
		panic(err)
	}
}

func (f *fixture) ProbeFailures() []storee2e.ProbeFailure {
	return []storee2e.ProbeFailure{
		{Name: "missing-project", Config: map[string]any{"project_id": "nope", "environment": "dev", "secret_path": "/"}, WantCode: "external_store_not_found"},
		{Name: "missing-path", Config: map[string]any{"project_id": "p-1", "environment": "dev", "secret_path": "/nope"}, WantCode: "external_store_not_found"},
		{Name: "forbidden", Config: map[string]any{"project_id": "p-forbidden", "environment": "dev", "secret_path": "/"}, WantCode: "external_store_forbidden"},
		{Name: "relative-path", Config: map[string]any{"project_id": "p-1", "environment": "dev", "secret_path": "x"}, WantCode: "invalid_store_config"},
	}
}

func (f *fixture) DynamicKeys() (string, string) { return "PGROLE_USERNAME", "PGROLE_PASSWORD" }
func (f *fixture) LiveLeases() int               { return len(f.emu.Leases()) }
func (f *fixture) Minted() int                   { return f.emu.Counts().LeasesMinted }

// TestStoreSuite runs the suite every store kind runs.
func TestStoreSuite(t *testing.T) {
	emu := infisicaltest.New(t)
	emu.AddIdentity(infisicaltest.Identity{ID: "id-1", Universal: &infisicaltest.UniversalAuth{ClientID: "cid", ClientSecret: "csecret"}})
	emu.AddProject(infisicaltest.Project{ID: "p-1", Slug: "proj-one", Environments: []string{"dev"}})
	emu.AddProject(infisicaltest.Project{ID: "p-forbidden", Environments: []string{"dev"}})
	emu.SetSecrets("p-forbidden", "dev", "/", map[string]string{"X": "y"})
	emu.SetAccess("id-1", "p-forbidden", infisicaltest.Access{NotMember: true})
	storee2e.Suite(t, &fixture{emu: emu})
}

// Interface guards
var _ storee2e.Fixture = (*fixture)(nil)

// Package e2e proves the OpenBao credential store end to end: the real
// agent-vault binary (with the real wasm plugin embedded), the OpenBao
// emulator and an upstream HTTP server, all on loopback, through the
// store suite every kind runs (plugins/internal/storee2e).
package e2e

import (
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/plugins/internal/storee2e"
	"github.com/agent-vault/agent-vault/plugins/openbao/openbaotest"
)

func TestMain(m *testing.M) { storee2e.Main(m, nil, "openbao") }

// fixture maps the suite's folders to secrets under secret/e2e/.
type fixture struct{ emu *openbaotest.Emulator }

// policies lets the AppRole read e2e/ and lease database credentials,
// and nothing else: secret/private/ is forbidden.
var policies = []string{"secret/data/e2e/", "secret/metadata/e2e/", "database/creds/", "sys/leases/"}

func newFixture(t *testing.T) *fixture {
	emu := openbaotest.New(t)
	emu.AddAppRole(openbaotest.AppRole{RoleID: "rid", SecretID: "sid", Policies: policies, TTL: time.Hour})
	emu.AddDatabaseRole("", "database", openbaotest.DBRole{Name: "readonly", TTL: time.Hour})
	emu.PutSecret("", "secret", "private/x", map[string]any{"X": "y"})
	return &fixture{emu: emu}
}

func (f *fixture) Kind() string { return "openbao" }

func (f *fixture) Env() []string {
	return []string{"OPENBAO_ADDR=" + f.emu.URL(), "OPENBAO_ROLE_ID=rid", "OPENBAO_SECRET_ID=sid"}
}

func (f *fixture) Config(folder string, dynamic bool) map[string]any {
	c := map[string]any{"mount": "secret", "path": "e2e/" + folder}
	if dynamic {
		c["dynamic_roles"] = []string{"pgrole=database/creds/readonly"}
	}
	return c
}

func (f *fixture) SetSecrets(folder string, kv map[string]string) {
	m := map[string]any{}
	for k, v := range kv {
		m[k] = v
	}
	f.emu.PutSecret("", "secret", "e2e/"+folder, m)
}

func (f *fixture) Fail(folder string) {
	f.emu.Inject(openbaotest.RouteKVRead, openbaotest.Status(500).OnPath("/e2e/"+folder))
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
		{Name: "missing-path", Config: map[string]any{"mount": "secret", "path": "e2e/nope"}, WantCode: "external_store_not_found"},
		{Name: "missing-namespace", Config: map[string]any{"mount": "secret", "path": "e2e/x", "namespace": "nope"}, WantCode: "external_store_not_found"},
		{Name: "forbidden", Config: map[string]any{"mount": "secret", "path": "private/x"}, WantCode: "external_store_forbidden"},
		{Name: "dotdot", Config: map[string]any{"mount": "secret", "path": "e2e/../private"}, WantCode: "invalid_store_config"},
	}
}

func (f *fixture) DynamicKeys() (string, string) { return "PGROLE_USERNAME", "PGROLE_PASSWORD" }
func (f *fixture) LiveLeases() int               { return len(f.emu.Leases()) }
func (f *fixture) Minted() int                   { return f.emu.Counts().LeasesMinted }

func TestStoreSuite(t *testing.T) { storee2e.Suite(t, newFixture(t)) }

// Interface guards
var _ storee2e.Fixture = (*fixture)(nil)

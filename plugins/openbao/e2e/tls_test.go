package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/plugins/internal/storee2e"
	"github.com/agent-vault/agent-vault/plugins/openbao/openbaotest"
)

// TestPrivateCA: an OpenBao served with a private CA is refused (the
// plugin's HTTP capability trusts the system roots) until the operator
// names the CA with --upstream-ca-file, which the proxy and the plugins
// share.
func TestPrivateCA(t *testing.T) {
	emu := openbaotest.New(t, openbaotest.WithTLS())
	emu.AddAppRole(openbaotest.AppRole{RoleID: "rid", SecretID: "sid", Policies: []string{"*"}, TTL: time.Hour})
	emu.PutSecret("", "secret", "tls/app", map[string]any{"API_KEY": "over-tls"})
	caFile := filepath.Join(t.TempDir(), "openbao-ca.pem")
	if err := os.WriteFile(caFile, emu.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"OPENBAO_ADDR=" + emu.URL(), "OPENBAO_ROLE_ID=rid", "OPENBAO_SECRET_ID=sid"}
	create := map[string]any{"name": "tls", "credential_store": map[string]any{"kind": "openbao", "config": map[string]any{"mount": "secret", "path": "tls/app"}}}

	t.Run("without-the-ca", func(t *testing.T) {
		srv := storee2e.StartServer(t, storee2e.NewDataDir(t), env)
		c := storee2e.Register(t, srv)
		p := c.Problem("POST", "/v1/vaults", create)
		if p.Code != "external_store_unreachable" || !strings.Contains(p.Detail, "certificate") {
			t.Fatalf("create: %+v", p)
		}
	})
	t.Run("with-upstream-ca-file", func(t *testing.T) {
		srv := storee2e.StartServer(t, storee2e.NewDataDir(t), append(env, "AGENT_VAULT_UPSTREAM_CA_FILE="+caFile))
		c := storee2e.Register(t, srv)
		c.Must("POST", "/v1/vaults", create, 201, nil)
		if got := c.Keys("tls", "static"); len(got) != 1 || got[0] != "API_KEY" {
			t.Fatalf("keys %v", got)
		}
	})
}

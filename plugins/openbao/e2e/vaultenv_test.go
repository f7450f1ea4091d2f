package e2e

import (
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/plugins/internal/storee2e"
	"github.com/agent-vault/agent-vault/plugins/openbao/openbaotest"
)

// TestVaultEnvNames: a server configured only with HashiCorp Vault's
// usual VAULT_ADDR, VAULT_TOKEN and VAULT_NAMESPACE (no OPENBAO_*) has the
// kind configured, may reach VAULT_ADDR's origin, logs in with the token
// and reads from the namespace: the manifest's fallback names at work.
func TestVaultEnvNames(t *testing.T) {
	emu := openbaotest.New(t)
	emu.CreateNamespace("team-a")
	emu.AddToken(openbaotest.Token{ID: "vault-env-token", Namespace: "team-a", Policies: []string{"*"}, TTL: time.Hour, Renewable: true})
	emu.PutSecret("team-a", "secret", "app/stripe", map[string]any{"API_KEY": "sk_vault_env"})
	env := []string{"VAULT_ADDR=" + emu.URL(), "VAULT_TOKEN=vault-env-token", "VAULT_NAMESPACE=team-a"}

	srv := storee2e.StartServer(t, storee2e.NewDataDir(t), env)
	c := storee2e.Register(t, srv)
	create := map[string]any{"name": "vaultenv", "credential_store": map[string]any{"kind": "openbao", "config": map[string]any{"mount": "secret", "path": "app/stripe"}}}
	c.Must("POST", "/v1/vaults", create, 201, nil)
	if got := c.Keys("vaultenv", "static"); len(got) != 1 || got[0] != "API_KEY" {
		t.Fatalf("keys %v", got)
	}
}

// Command openbao is the OpenBao / HashiCorp Vault credential-store plugin:
// a vault's static secrets are polled from one KV secret (v2, or v1) and,
// optionally, the secrets one level below it, flattened; its dynamic
// secrets are leases of any secrets engine that returns one (database
// credentials, for instance), minted on demand. It is read-only: OpenBao
// is the source of truth. OpenBao forked Vault and kept its HTTP API, so
// the same plugin serves both.
//
// It is written only against sdk/, the way a third party writes a store:
// it imports nothing from the host (a test checks) and talks to OpenBao
// only through the host's HTTP capability, granted for OPENBAO_ADDR's
// origin. It logs in with the first complete auth method (token, AppRole,
// Kubernetes, JWT; auth.go), keeps the token in the instance, renews it
// before it expires and logs in again once after a 403.
//
// Wire format: OpenBao's HTTP API (/v1/, X-Vault-* headers, the response
// envelope); the emulator in openbaotest speaks it, and the vendor's own
// Go client checks the emulator.
package main

import (
	"context"
	"encoding/json"

	"github.com/agent-vault/agent-vault/sdk"
)

func main() {}

func init() { sdk.Register(store{}) }

// store holds no state: the token cache lives in package variables, one
// per wasm instance (auth.go).
type store struct{}

// configSchema is the per-vault config; the UI renders its form from it.
const configSchema = `{"type":"object","additionalProperties":false,
"required":["mount","path"],
"properties":{
"mount":{"type":"string","minLength":1,"default":"secret","description":"KV secrets engine mount, e.g. secret."},
"path":{"type":"string","minLength":1,"description":"Secret path inside the mount, e.g. app/stripe: every key of that secret becomes a credential."},
"kv_version":{"type":"string","title":"KV version","enum":["2","1"],"default":"2","description":"KV engine version of the mount."},
"recursive":{"type":"boolean","default":false,"description":"Also read the secrets one level below the path, flattened into one set of keys."},
"namespace":{"type":"string","description":"Namespace (X-Vault-Namespace), e.g. team-a/; empty for the token's own."},
"dynamic_roles":{"type":"array","items":{"type":"string","minLength":1},"description":"Leased secrets, each NAME=path (e.g. pgrole=database/creds/readonly) or a path whose last segment is the name; fields become NAME_FIELD."}}}`

func (store) Manifest() sdk.Manifest {
	return sdk.Manifest{
		Kind:           "openbao",
		Version:        "1.0.0",
		Description:    "Secrets from an OpenBao or HashiCorp Vault KV secret, polled; database credentials and other leases minted on demand.",
		ConfigSchema:   json.RawMessage(configSchema),
		Env:            envVars,
		HTTPOriginsEnv: envAddr,
	}
}

func (store) ValidateConfig(_ context.Context, raw json.RawMessage) error {
	_, err := parseConfig(raw)
	return err
}

// Interface guards
var (
	_ sdk.Store          = store{}
	_ sdk.Syncer         = store{}
	_ sdk.DynamicSecrets = store{}
	_ sdk.Checker        = store{}
)

// clock is the host's clock; tests replace it with the emulator's.
var clock = sdk.Now

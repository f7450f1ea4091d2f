// Command infisical is the Infisical credential-store plugin: a vault's
// static secrets are polled from one Infisical folder (project, environment,
// secret path) and its dynamic secrets are leased on demand. It is
// read-only: Infisical is the source of truth.
//
// The plugin talks to Infisical only through the host's HTTP capability,
// granted for INFISICAL_URL's origin. It logs in with the first complete
// machine-identity group of environment variables (auth.go), keeps the
// access token in the instance, renews it before it expires and logs in
// again near its max TTL or once after a token error.
//
// Wire format: Infisical's HTTP API as its Go SDK v0.8.0 speaks it; the emulator in
// infisicaltest speaks it and is what the tests run against.
package main

import (
	"context"
	"encoding/json"

	"github.com/agent-vault/agent-vault/sdk"
)

func main() {}

func init() { sdk.Register(store{}) }

// store holds no state: the token and slug caches live in package
// variables, one set per wasm instance (tokens.go, dynamic.go).
type store struct{}

// Default GCP metadata server, reached for the GCP ID-token login.
const defaultGCPMetadataURL = "http://metadata.google.internal"

func (store) Manifest() sdk.Manifest {
	return sdk.Manifest{
		Kind:        "infisical",
		Version:     "1.0.0",
		Description: "Secrets from an Infisical project folder, polled; dynamic secrets leased on demand.",
		ConfigSchema: json.RawMessage(`{"type":"object","additionalProperties":false,
"required":["project_id","environment","secret_path"],
"properties":{
"project_id":{"type":"string","minLength":1,"description":"Infisical project ID."},
"environment":{"type":"string","minLength":1,"description":"Environment slug, e.g. dev."},
"secret_path":{"type":"string","pattern":"^\\s*/","description":"Folder path, starting with /."}}}`),
		Env:            envVars,
		HTTPOriginsEnv: envURL,
		// The GCP metadata server, for the GCP ID-token login. It resolves
		// to a link-local address, which the host's private-range guard
		// refuses for manifest origins; see README.md.
		HTTPOrigins: []string{defaultGCPMetadataURL},
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
)

// clock is the host's clock; tests replace it with the emulator's.
var clock = sdk.Now

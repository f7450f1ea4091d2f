// Command builtin is the built-in credential store as a plugin: writable,
// not polling, no dynamic secrets. The host holds, seals and stores the
// values; this plugin only decides whether a write is acceptable, so the
// rules for keys and values live in one place for every writable kind
// (sdk/abi, which the host checks too). It never sees the DEK or the
// database.
package main

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/agent-vault/agent-vault/sdk"
	"github.com/agent-vault/agent-vault/sdk/sdkjson"
)

func main() {}

func init() { sdk.Register(builtin{}) }

// maxWriteKeys bounds one write request, so a single call stays small.
const maxWriteKeys = 1000

type builtin struct{}

func (builtin) Manifest() sdk.Manifest {
	return sdk.Manifest{
		Kind:         "builtin",
		Version:      "1.0.0",
		Description:  "Credentials stored in Agent Vault itself, sealed with the instance key.",
		ConfigSchema: json.RawMessage(`{"type":"object","properties":{},"additionalProperties":false}`),
	}
}

// ValidateConfig accepts only an empty config. DecodeStringConfig, not
// DecodeConfig: it keeps encoding/json out of the plugin.
func (builtin) ValidateConfig(_ context.Context, raw json.RawMessage) error {
	return sdk.DecodeStringConfig(raw, nil)
}

// Probe has nothing to reach: the store is the host's own database.
func (b builtin) Probe(ctx context.Context, req sdk.Request) error {
	return b.ValidateConfig(ctx, req.Config)
}

// ValidateWrite enforces the key rule and the value size limit. Keys are
// checked in sorted order so the first error is deterministic.
func (builtin) ValidateWrite(_ context.Context, _ sdk.Request, secrets map[string]string) error {
	if len(secrets) == 0 {
		return &sdk.Error{Code: sdk.CodeInvalidCredKey, Message: "a write needs at least one credential"}
	}
	if len(secrets) > maxWriteKeys {
		return &sdk.Error{Code: sdk.CodeInvalidCredKey, Message: "a write may set at most " + strconv.Itoa(maxWriteKeys) + " credentials, got " + strconv.Itoa(len(secrets))}
	}
	for _, k := range sdkjson.SortedKeys(secrets) {
		if err := sdk.CheckKey(k); err != nil {
			return err
		}
		if err := sdk.CheckValue(k, secrets[k]); err != nil {
			return err
		}
	}
	return nil
}

// Interface guards
var (
	_ sdk.Store  = builtin{}
	_ sdk.Writer = builtin{}
)

// Command builtin is the built-in credential store as a plugin: writable,
// not polling, no dynamic secrets. The host holds, seals and stores the
// values; this plugin only decides whether a write is acceptable, so the
// rules for keys and values live in one place for every writable kind.
// It never sees the DEK or the database.
package main

import (
	"context"
	"encoding/json"
	"sort"

	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/sdk"
)

func main() {}

func init() { sdk.Register(builtin{}) }

// maxWriteKeys bounds one write request, so a single call stays small.
const maxWriteKeys = 1000

type builtin struct{}

// config is empty: the built-in store needs no per-vault settings.
type config struct{}

func (builtin) Manifest() sdk.Manifest {
	return sdk.Manifest{
		Kind:         "builtin",
		Version:      "1.0.0",
		Description:  "Credentials stored in Agent Vault itself, sealed with the instance key.",
		ConfigSchema: json.RawMessage(`{"type":"object","properties":{},"additionalProperties":false}`),
	}
}

func (builtin) ValidateConfig(_ context.Context, raw json.RawMessage) error {
	return sdk.DecodeConfig(raw, &config{})
}

// Probe has nothing to reach: the store is the host's own database.
func (b builtin) Probe(ctx context.Context, req sdk.Request) error {
	return b.ValidateConfig(ctx, req.Config)
}

// ValidateWrite enforces the key rule and the value size limit. Keys are
// checked in sorted order so the first error is deterministic.
func (builtin) ValidateWrite(_ context.Context, _ sdk.Request, secrets map[string]string) error {
	if len(secrets) == 0 {
		return sdk.Errorf(sdk.CodeInvalidCredKey, "a write needs at least one credential")
	}
	if len(secrets) > maxWriteKeys {
		return sdk.Errorf(sdk.CodeInvalidCredKey, "a write may set at most %d credentials, got %d", maxWriteKeys, len(secrets))
	}
	keys := make([]string, 0, len(secrets))
	for k := range secrets {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := domain.CheckKey(k); err != nil {
			return asSDK(err)
		}
		if err := domain.CheckValue(k, secrets[k]); err != nil {
			return asSDK(err)
		}
	}
	return nil
}

// asSDK carries a domain error's code and message across the boundary.
func asSDK(err error) error {
	if e, ok := err.(*domain.Error); ok {
		return &sdk.Error{Code: e.Code, Message: e.Message}
	}
	return err
}

// Interface guards
var (
	_ sdk.Store  = builtin{}
	_ sdk.Writer = builtin{}
)

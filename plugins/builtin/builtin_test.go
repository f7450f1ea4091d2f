package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/agent-vault/agent-vault/sdk"
	"github.com/agent-vault/agent-vault/sdk/conformance"
)

func TestValidateWrite(t *testing.T) {
	tests := []struct {
		name    string
		secrets map[string]string
		wantErr string
	}{
		{name: "ok", secrets: map[string]string{"API_KEY": "v", "DB_URL": ""}},
		{name: "empty", secrets: map[string]string{}, wantErr: "invalid_credential_key: a write needs at least one credential"},
		{name: "lower-case", secrets: map[string]string{"GOOD": "x", "bad": "y"}, wantErr: `invalid_credential_key: credential key "bad" must match ^[A-Z][A-Z0-9_]*$ (at most 128 characters)`},
		{name: "first-bad-key-sorted", secrets: map[string]string{"b": "", "a": ""}, wantErr: `invalid_credential_key: credential key "a" must match ^[A-Z][A-Z0-9_]*$ (at most 128 characters)`},
		{name: "too-long-key", secrets: map[string]string{"K" + strings.Repeat("A", 128): ""}, wantErr: `invalid_credential_key: credential key "K` + strings.Repeat("A", 128) + `" must match ^[A-Z][A-Z0-9_]*$ (at most 128 characters)`},
		{name: "value-too-large", secrets: map[string]string{"BIG": strings.Repeat("x", 64<<10+1)}, wantErr: `credential_value_too_large: credential "BIG" is 65537 bytes; the limit is 65536`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := builtin{}.ValidateWrite(context.Background(), sdk.Request{}, tc.secrets)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.wantErr {
				t.Fatalf("got %q, want %q", got, tc.wantErr)
			}
		})
	}
}

// TestConformance builds the plugin for wasip1 and runs the SDK's kit on it
// in the real host runtime.
func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the plugin")
	}
	conformance.Run(t, conformance.Build(t, "."), conformance.Options{
		Config:         json.RawMessage(`{}`),
		InvalidConfigs: map[string]json.RawMessage{"trailing": json.RawMessage(`{} {}`)},
		ValidWrite:     map[string]string{"API_KEY": "value", "DB_URL": "postgres://x"},
		InvalidWrites: []conformance.WriteCase{
			{Name: "bad_key", Secrets: map[string]string{"bad-key": "v"}, WantCode: "invalid_credential_key"},
			{Name: "too_large", Secrets: map[string]string{"BIG": strings.Repeat("x", 64<<10+1)}, WantCode: "credential_value_too_large"},
			{Name: "empty", Secrets: map[string]string{}, WantCode: "invalid_credential_key"},
		},
	})
}

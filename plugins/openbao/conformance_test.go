//go:build !wasip1

package main

import (
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/host/plugin"
	"github.com/agent-vault/agent-vault/plugins/openbao/openbaotest"
	"github.com/agent-vault/agent-vault/sdk/conformance"
)

// TestConformance runs the SDK's conformance kit on the wasm build of this
// plugin, in the real host runtime, against the emulator served over HTTPS
// with its own CA (as an OpenBao with a private CA, trusted through the
// server's --upstream-ca-file).
func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the plugin")
	}
	emu := seed(t, openbaotest.WithTLS())
	emu.Inject(openbaotest.RouteKVRead, openbaotest.Hang().OnPath("/slow"))

	conformance.Run(t, wasm(t), conformance.Options{
		CACertPEM: emu.CACertPEM(),
		Env:       map[string]string{envAddr: emu.URL(), envRoleID: "rid", envSecretID: "sid"},
		Config:    cfgOf(`"mount":"secret","path":"app/stripe","dynamic_roles":["pgrole=database/creds/readonly"]`),
		InvalidConfigs: map[string]json.RawMessage{
			"missing_path":     json.RawMessage(`{"mount":"secret"}`),
			"bad_kv_version":   json.RawMessage(`{"mount":"secret","path":"a","kv_version":"3"}`),
			"dotdot_path":      json.RawMessage(`{"mount":"secret","path":"a/../b"}`),
			"recursive_string": json.RawMessage(`{"mount":"secret","path":"a","recursive":"yes"}`),
			"bad_role":         json.RawMessage(`{"mount":"secret","path":"a","dynamic_roles":["readonly"]}`),
		},
		ProbeErrors: []conformance.ProbeCase{
			{Name: "not_found_path", Config: cfgOf(`"mount":"secret","path":"nope"`), WantCode: "external_store_not_found"},
			{Name: "not_found_namespace", Config: cfgOf(`"mount":"secret","path":"app/stripe","namespace":"nope"`), WantCode: "external_store_not_found"},
			{Name: "forbidden", Env: map[string]string{envRoleID: "rid-narrow", envSecretID: "sid-narrow"}, WantCode: "external_store_forbidden"},
			{Name: "auth_failed", Env: map[string]string{envSecretID: "wrong"}, WantCode: "external_store_auth_failed"},
			{Name: "auth_failed_token", Env: map[string]string{envToken: "dead"}, WantCode: "external_store_auth_failed"},
			{Name: "unreachable", Env: map[string]string{envAddr: "http://127.0.0.1:1"}, WantCode: "external_store_unreachable"},
		},
		WantSecrets:   map[string]string{"API_KEY": "sk_1", "PORT": "5432"},
		BadKeyConfig:  cfgOf(`"mount":"secret","path":"bad"`),
		DynamicSecret: "pgrole",
		SlowConfig:    cfgOf(`"mount":"secret","path":"slow"`),
		// What an operator writes in the grants file for an AppRole (or
		// token) set-up, e.g. when loading the plugin from --plugin-dir.
		Grants: map[string]plugin.Grant{"openbao": {
			Env:         []string{envAddr, envRoleID, envSecretID, envToken},
			HTTPOrigins: []string{emu.URL()},
		}},
	})
}

func cfgOf(members string) json.RawMessage { return json.RawMessage("{" + members + "}") }

// seed is an emulator with the fixtures the plugin's tests share.
func seed(t testing.TB, opts ...openbaotest.Option) *openbaotest.Emulator {
	emu := openbaotest.New(t, opts...)
	emu.AddAppRole(openbaotest.AppRole{RoleID: "rid", SecretID: "sid", Policies: []string{"*"}, TTL: time.Hour})
	emu.AddAppRole(openbaotest.AppRole{RoleID: "rid-narrow", SecretID: "sid-narrow", Policies: []string{"secret/data/other/"}, TTL: time.Hour})
	emu.PutSecret("", "secret", "app/stripe", map[string]any{"API_KEY": "sk_1", "PORT": 5432})
	emu.PutSecret("", "secret", "bad", map[string]any{"GOOD": "x", "database-url": "y"})
	emu.PutSecret("", "secret", "slow", map[string]any{"A": "b"})
	emu.AddDatabaseRole("", "database", openbaotest.DBRole{Name: "readonly", TTL: time.Hour})
	return emu
}

// wasm is the plugin built for wasip1: plugins/dist/openbao.wasm when
// OPENBAO_WASM names it (make), else a fresh build.
func wasm(t testing.TB) []byte {
	if p := os.Getenv("OPENBAO_WASM"); p != "" {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return conformance.Build(t, ".")
}

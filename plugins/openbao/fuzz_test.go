//go:build !wasip1

package main

import (
	"encoding/json"
	"testing"

	"github.com/agent-vault/agent-vault/sdk"
	"github.com/agent-vault/agent-vault/sdk/sdkjson"
)

// FuzzParseConfig: any per-vault config either parses into a config whose
// paths are clean, or fails with invalid_store_config; it never panics.
func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		`{"mount":"secret","path":"app/stripe"}`,
		`{"mount":"kv","path":"a","kv_version":1,"recursive":true,"namespace":"ns/"}`,
		`{"mount":"secret","path":"a","dynamic_roles":["pg=database/creds/ro","database/creds/rw"]}`,
		`{"mount":"secret","path":"a/../b"}`, `[]`, `null`, `{"mount":"\u0000"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		c, err := parseConfig(json.RawMessage(raw))
		if err != nil {
			if e, ok := err.(*sdk.Error); !ok || e.Code != sdk.CodeInvalidStoreConfig {
				t.Fatalf("error %v is not invalid_store_config", err)
			}
			return
		}
		if !cleanPath(c.Mount) || !cleanPath(c.Path) || (c.Namespace != "" && !cleanPath(c.Namespace)) || (c.KVVersion != 1 && c.KVVersion != 2) {
			t.Fatalf("accepted %q as %+v", raw, c)
		}
		for _, r := range c.Roles {
			if !cleanPath(r.Path) {
				t.Fatalf("accepted role path %q", r.Path)
			}
		}
	})
}

// FuzzAnswers: whatever OpenBao (or something in front of it) answers,
// the readers of error bodies, auth blocks, leases and KV envelopes return
// or fail; they never panic.
func FuzzAnswers(f *testing.F) {
	for _, s := range []string{
		`{"errors":["permission denied"]}`, `{"errors":[]}`, `{"data":{"data":null,"metadata":{}}}`,
		`{"auth":{"client_token":"t","lease_duration":3600,"renewable":true}}`,
		`{"lease_id":"database/creds/ro/x","lease_duration":60,"renewable":true,"data":{"username":"u","password":"p","n":1}}`,
		`{"data":{"keys":["a","b/"]}}`, `<html>`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		errorBody(body)
		decodeAuth(body)
		decodeLease(body, true)
		decodeEnvelope(body, func(r *sdkjson.Reader, key string) error {
			if key == "data" {
				return readValues(r, func(string, string) {})
			}
			return r.Skip()
		})
	})
}

package api_test

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/agent-vault/agent-vault/host/domain"
)

// TestNoCredentialValueLeaves writes credentials through the API, drives
// every read path and several failing writes, then looks for the values in
// every response body, the server log, and the raw bytes of the SQLite file
// and its WAL.
func TestNoCredentialValueLeaves(t *testing.T) {
	e := newEnv(t)
	_, tok := e.user("owner@example.com", domain.InstanceOwner)
	secrets := map[string]string{
		"STRIPE_KEY": "sk_live_MARKER_4242_stripe",
		"DB_PASS":    "MARKER_db_password_9f8e7d",
		"PEM":        "-----BEGIN MARKER KEY-----\nMARKERabcdef\n-----END MARKER KEY-----",
	}
	steps := []struct {
		method, path string
		body         any
	}{
		{"POST", "/v1/vaults", map[string]any{"name": "shop"}},
		{"POST", "/v1/credentials", map[string]any{"vault": "shop", "credentials": secrets}},
		// Refused writes that carry values: they must not be echoed.
		{"POST", "/v1/credentials", map[string]any{"vault": "shop", "credentials": map[string]string{"bad-key": "MARKER_refused_value"}}},
		{"POST", "/v1/credentials", map[string]any{"vault": "shop", "credentials": map[string]string{"OK": "MARKER_wrong_type"}, "extra": "MARKER_extra"}},
		{"POST", "/v1/credentials", `{"vault":"shop","credentials":{"K":"MARKER_malformed"`},
		{"POST", "/v1/credentials", map[string]any{"vault": "nope", "credentials": map[string]string{"K": "MARKER_unknown_vault"}}},
		{"POST", "/v1/vaults/shop/services", map[string]any{"services": []any{map[string]any{"name": "stripe", "host": "api.stripe.com", "auth": map[string]any{"type": "bearer", "token": "STRIPE_KEY"}}}}},
		{"GET", "/v1/credentials?vault=shop", nil},
		{"GET", "/v1/vaults/shop/context", nil},
		{"GET", "/v1/vaults/shop/services", nil},
		{"GET", "/v1/vaults", nil},
		{"DELETE", "/v1/credentials", map[string]any{"vault": "shop", "keys": []string{"DB_PASS"}}},
		{"GET", "/v1/credentials?vault=shop", nil},
	}
	for _, s := range steps {
		e.do(s.method, s.path, tok, s.body)
	}
	status, body := e.do("GET", "/v1/credentials?vault=shop", tok, nil)
	if status != 200 || !strings.Contains(string(body), "STRIPE_KEY") || !strings.Contains(string(body), "PEM") {
		t.Fatalf("credentials were not stored: %d %s", status, body)
	}

	places := map[string][]byte{
		"API responses": []byte(e.seen.String()),
		"server log":    []byte(e.logs.String()),
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if b, err := os.ReadFile(e.dbPath + suffix); err == nil {
			places["database file"+suffix] = b
		}
	}
	if e.dbPath != "" && len(places["database file-wal"]) == 0 && len(places["database file"]) == 0 {
		t.Fatal("no database bytes to scan")
	}
	for where, content := range places {
		if bytes.Contains(content, []byte("MARKER")) {
			i := bytes.Index(content, []byte("MARKER"))
			t.Errorf("a credential value appears in the %s near %q", where, content[max(0, i-40):min(len(content), i+40)])
		}
	}
}

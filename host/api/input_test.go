package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/store"
)

// TestBadInput sends malformed and invalid requests and checks that each
// gets a 4xx problem with a stable code and that nothing was written.
func TestBadInput(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	adminID, tok := e.user("owner@example.com", domain.InstanceOwner)
	v, err := e.st.CreateVault(ctx, "shop", &store.Grant{Kind: store.PrincipalUser, PrincipalID: adminID, Role: domain.VaultAdmin}, nil)
	if err != nil {
		t.Fatal(err)
	}
	okService := map[string]any{"name": "stripe", "host": "api.stripe.com", "auth": map[string]any{"type": "bearer", "token": "STRIPE_KEY"}}
	withAuth := func(auth map[string]any) map[string]any {
		return map[string]any{"services": []any{map[string]any{"name": "svc", "host": "api.x.com", "auth": auth}}}
	}
	tests := []struct {
		name       string
		method     string
		path       string
		body       any
		wantStatus int
		wantCode   string
	}{
		{"malformed-json", "POST", "/v1/vaults", `{"name": "abc"`, 400, "invalid_input"},
		{"unknown-field", "POST", "/v1/vaults", map[string]any{"name": "abc", "colour": "red"}, 422, "invalid_input"},
		{"wrong-type", "POST", "/v1/vaults", map[string]any{"name": 42}, 422, "invalid_input"},
		{"vault-too-short", "POST", "/v1/vaults", map[string]any{"name": "ab"}, 400, domain.CodeInvalidVaultName},
		{"vault-upper-case", "POST", "/v1/vaults", map[string]any{"name": "MyApp"}, 400, domain.CodeInvalidVaultName},
		{"vault-double-hyphen", "POST", "/v1/vaults", map[string]any{"name": "my--app"}, 400, domain.CodeInvalidVaultName},
		{"vault-trailing-hyphen", "POST", "/v1/vaults", map[string]any{"name": "my-app-"}, 400, domain.CodeInvalidVaultName},
		{"vault-exists", "POST", "/v1/vaults", map[string]any{"name": "shop"}, 409, domain.CodeAlreadyExists},
		{"unknown-vault", "GET", "/v1/credentials?vault=nope", nil, 404, domain.CodeVaultNotFound},
		{"missing-vault-query", "GET", "/v1/credentials", nil, 422, "invalid_input"},
		{"bad-key", "POST", "/v1/credentials", map[string]any{"vault": "shop", "credentials": map[string]string{"database-url": "x"}}, 400, domain.CodeInvalidKey},
		{"lower-camel-key", "POST", "/v1/credentials", map[string]any{"vault": "shop", "credentials": map[string]string{"GOOD": "x", "stripeKey": "y"}}, 400, domain.CodeInvalidKey},
		{"value-too-large", "POST", "/v1/credentials", map[string]any{"vault": "shop", "credentials": map[string]string{"BIG": strings.Repeat("x", domain.MaxValueBytes+1)}}, 400, domain.CodeValueTooLarge},
		{"empty-value", "POST", "/v1/credentials", map[string]any{"vault": "shop", "credentials": map[string]string{"GOOD": "x", "STRIPE_KEY": ""}}, 400, domain.CodeEmptyValue},
		{"empty-credentials", "POST", "/v1/credentials", map[string]any{"vault": "shop", "credentials": map[string]string{}}, 422, "invalid_input"},
		{"oversized-body", "POST", "/v1/credentials", `{"vault":"shop","credentials":{"A":"` + strings.Repeat("x", 5<<20) + `"}}`, 413, "body_too_large"},
		{"delete-unknown-key", "DELETE", "/v1/credentials", map[string]any{"vault": "shop", "keys": []string{"NOPE"}}, 404, domain.CodeCredentialNotFound},
		{"service-bad-host", "POST", "/v1/vaults/shop/services", map[string]any{"services": []any{map[string]any{"name": "x", "host": "bad host", "auth": map[string]any{"type": "passthrough"}}}}, 400, domain.CodeInvalidService},
		{"service-foreign-field", "POST", "/v1/vaults/shop/services", withAuth(map[string]any{"type": "bearer", "token": "K", "username": "U"}), 400, domain.CodeInvalidService},
		{"service-missing-token", "POST", "/v1/vaults/shop/services", withAuth(map[string]any{"type": "bearer"}), 400, domain.CodeInvalidService},
		{"service-bad-key-ref", "POST", "/v1/vaults/shop/services", withAuth(map[string]any{"type": "basic", "username": "user-name"}), 400, domain.CodeInvalidService},
		{"service-unknown-auth", "POST", "/v1/vaults/shop/services", withAuth(map[string]any{"type": "oauth"}), 422, "invalid_input"},
		{"service-loopback-host", "POST", "/v1/vaults/shop/services", map[string]any{"services": []any{map[string]any{"name": "x", "host": "127.0.0.1:8080", "auth": map[string]any{"type": "passthrough"}}}}, 400, domain.CodeInvalidService},
		{"service-duplicate-name", "PUT", "/v1/vaults/shop/services", map[string]any{"services": []any{okService, okService}}, 400, domain.CodeInvalidService},
		{"default-vault-delete", "DELETE", "/v1/vaults/default", nil, 409, domain.CodeDefaultVault},
		{"last-owner-demote", "PATCH", "/v1/users/" + adminID, map[string]any{"role": "member"}, 409, domain.CodeLastOwner},
		{"last-admin-remove", "DELETE", "/v1/vaults/shop/users/owner@example.com", nil, 409, domain.CodeLastAdmin},
		{"session-ttl-too-short", "POST", "/v1/sessions", map[string]any{"vault": "shop", "ttl_seconds": 10}, 422, "invalid_input"},
		{"register-twice", "POST", "/v1/auth/register", map[string]any{"email": "x@example.com", "password": "password1"}, 409, domain.CodeAlreadyInitialized},
		{"short-password", "POST", "/v1/auth/login", map[string]any{"email": "x@example.com", "password": "short"}, 422, "invalid_input"},
		{"wrong-password", "POST", "/v1/auth/login", map[string]any{"email": "owner@example.com", "password": "password2"}, 401, domain.CodeInvalidCredentials},
		{"bad-invite", "POST", "/v1/users/invites/av_inv_nope/accept", map[string]any{"email": "x@example.com", "password": "password1"}, 400, domain.CodeInviteInvalid},
		{"unknown-route", "GET", "/v1/nope", nil, 404, domain.CodeNotFound},
	}
	before := snapshot(t, e, v.ID)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := e.do(tc.method, tc.path, tok, tc.body)
			if status != tc.wantStatus || code(body) != tc.wantCode {
				t.Fatalf("got %d %s, want %d %s", status, body, tc.wantStatus, tc.wantCode)
			}
		})
	}
	if after := snapshot(t, e, v.ID); after != before {
		t.Fatalf("a refused request changed state:\nbefore %s\nafter  %s", before, after)
	}
}

// snapshot summarises what bad input must not change.
func snapshot(t *testing.T, e *testEnv, vaultID string) string {
	ctx := context.Background()
	vaults, err := e.st.ListVaults(ctx, store.PrincipalUser, "", true)
	if err != nil {
		t.Fatal(err)
	}
	creds, _ := e.st.ListCredentials(ctx, vaultID)
	svcs, _ := e.st.ListServices(ctx, vaultID)
	users, _ := e.st.ListUsers(ctx)
	members, _ := e.st.ListMembers(ctx, vaultID, store.PrincipalUser)
	var b strings.Builder
	for _, v := range vaults {
		b.WriteString("vault:" + v.Name + " ")
	}
	for _, c := range creds {
		b.WriteString("cred:" + c.Key + " ")
	}
	for _, s := range svcs {
		b.WriteString("svc:" + s.Name + " ")
	}
	for _, u := range users {
		b.WriteString("user:" + u.Email + ":" + string(u.Role) + " ")
	}
	for _, m := range members {
		b.WriteString("member:" + m.Name + ":" + string(m.Role) + " ")
	}
	return b.String()
}

// Every response carries the security headers, errors included.
func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/health", "/v1/nope", "/v1/vaults"} {
		req, _ := http.NewRequest("GET", e.url+path, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		for _, h := range []string{"X-Content-Type-Options", "X-Frame-Options", "Content-Security-Policy", "Cache-Control"} {
			if res.Header.Get(h) == "" {
				t.Errorf("%s: missing %s", path, h)
			}
		}
	}
}

// A store plugin's refusal reaches the caller in the plugin's own words,
// without the runtime's plugin/export context.
func TestPluginRefusalReadsWell(t *testing.T) {
	e := newEnv(t)
	_, tok := e.user("owner@example.com", domain.InstanceOwner)
	status, body := e.do("POST", "/v1/credentials", tok, map[string]any{"vault": "default", "credentials": map[string]string{"bad-key": "x"}})
	var p struct{ Detail, Code string }
	json.Unmarshal(body, &p)
	if status != 400 || p.Code != domain.CodeInvalidKey || strings.Contains(p.Detail, "export") || !strings.Contains(p.Detail, `"bad-key"`) {
		t.Fatalf("got %d %s", status, body)
	}
}

package api_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/agent-vault/agent-vault/host/audit"
	"github.com/agent-vault/agent-vault/host/domain"
)

// TestAuditSummaries makes each kind of change through the API and reads
// the entry it wrote back through GET /v1/audit: the summary says exactly
// what changed, by name, before and after. Then no entry anywhere in the
// trail holds a credential value, a token the API issued, a password or a
// password hash.
func TestAuditSummaries(t *testing.T) {
	e := newEnv(t)
	_, owner := e.user("owner@example.com", domain.InstanceOwner)
	bobID, bob := e.user("bob@example.com", domain.InstanceMember)
	// Every secret the calls below send or receive: none may reach the trail.
	secrets := []string{"MARKER", passwordHash()}
	// The id and token of the last thing created, for a later call's path
	// ({id}, {token}); carol signs up with an invite.
	var lastID, lastToken, carol, anonymous string
	issued := func(body []byte) {
		var out struct {
			ID    string `json:"id"`
			Token string `json:"token"`
		}
		if json.Unmarshal(body, &out) == nil {
			if out.Token != "" {
				secrets = append(secrets, out.Token)
				lastToken = out.Token
			}
			if out.ID != "" {
				lastID = out.ID
			}
		}
	}
	stripe := map[string]any{"action": "set", "name": "stripe", "host": "api.stripe.com", "auth": map[string]any{"type": "bearer", "token": "STRIPE_KEY"}}
	secrets = append(secrets, owner, bob)

	github := map[string]any{"name": "github", "host": "api.github.com", "auth": map[string]any{"type": "bearer", "token": "GITHUB_TOKEN"}}
	githubBasic := map[string]any{"name": "github", "host": "*.github.com", "auth": map[string]any{"type": "basic", "username": "GH_USER", "password": "GH_PASS"}}
	custom := map[string]any{"name": "internal", "host": "internal.example.com",
		"auth": map[string]any{"type": "custom", "headers": map[string]string{"X-Auth": "MARKER-literal {{ INTERNAL_KEY }}"}}}

	tests := []struct {
		name         string
		token        *string
		method, path string
		body         any
		wantOp       string
		wantTarget   string
		want         string // the summary's exact JSON
	}{
		{"vault-created", &owner, "POST", "/v1/vaults", map[string]any{"name": "prod"}, "create-vault", "vaults/prod",
			`{"changes":[{"field":"name","after":"prod"}]}`},
		{"vault-renamed", &owner, "POST", "/v1/vaults", map[string]any{"name": "tmp"}, "create-vault", "vaults/tmp",
			`{"changes":[{"field":"name","after":"tmp"}]}`},
		{"vault-renamed", &owner, "PATCH", "/v1/vaults/tmp", map[string]any{"name": "tmp2"}, "rename-vault", "vaults/tmp",
			`{"changes":[{"field":"name","before":"tmp","after":"tmp2"}]}`},
		{"vault-deleted", &owner, "DELETE", "/v1/vaults/tmp2", nil, "delete-vault", "vaults/tmp2",
			`{"changes":[{"field":"name","before":"tmp2"}]}`},
		{"vault-settings", &owner, "PATCH", "/v1/vaults/prod/settings", map[string]any{"unmatched_host_policy": "deny", "revoke_on_egress_block": true},
			"update-vault-settings", "vaults/prod/settings",
			`{"changes":[{"field":"unmatched_host_policy","before":"passthrough","after":"deny"},{"field":"revoke_on_egress_block","before":false,"after":true}]}`},
		{"grant-added", &owner, "POST", "/v1/vaults/prod/users", map[string]any{"email": "bob@example.com", "role": "member"},
			"set-vault-user", "vaults/prod/users/bob@example.com", `{"changes":[{"field":"role","after":"member"}]}`},
		{"grant-changed", &owner, "POST", "/v1/vaults/prod/users", map[string]any{"email": "bob@example.com", "role": "admin"},
			"set-vault-user", "vaults/prod/users/bob@example.com", `{"changes":[{"field":"role","before":"member","after":"admin"}]}`},
		{"grant-removed", &owner, "DELETE", "/v1/vaults/prod/users/bob@example.com", nil,
			"remove-vault-user", "vaults/prod/users/bob@example.com", `{"changes":[{"field":"role","before":"admin"}]}`},
		{"member-vault", &bob, "POST", "/v1/vaults", map[string]any{"name": "bobs"}, "create-vault", "vaults/bobs",
			`{"changes":[{"field":"name","after":"bobs"}]}`},
		{"owner-joins", &owner, "POST", "/v1/vaults/bobs/join", nil, "join-vault", "vaults/bobs/users/owner@example.com",
			`{"changes":[{"field":"role","after":"admin"}]}`},
		{"instance-role", &owner, "PATCH", "/v1/users/" + bobID, map[string]any{"role": "owner"}, "update-user", "users/bob@example.com",
			`{"changes":[{"field":"role","before":"member","after":"owner"}]}`},
		{"instance-role-back", &owner, "PATCH", "/v1/users/" + bobID, map[string]any{"role": "member"}, "update-user", "users/bob@example.com",
			`{"changes":[{"field":"role","before":"owner","after":"member"}]}`},
		{"invite-with-vaults", &owner, "POST", "/v1/users/invites", map[string]any{"email": "carol@example.com", "role": "member",
			"vaults": []any{map[string]any{"vault": "prod", "role": "admin"}}}, "create-invite", "users/invites",
			`{"changes":[{"field":"email","after":"carol@example.com"},{"field":"role","after":"member"},{"field":"vaults.prod","after":"admin"}]}`},
		{"invite-renewed", &owner, "POST", "/v1/invites/{id}/resend", nil, "resend-invite", "", `{"changes":[{"field":"token","withheld":true}]}`}, // expires_at: the same second, so unchanged
		{"invite-revoked", &owner, "DELETE", "/v1/invites/{id}", nil, "revoke-invite", "", `{"changes":[{"field":"status","before":"pending","after":"revoked"}]}`},
		{"settings", &owner, "PATCH", "/v1/instance/settings", map[string]any{"invite_policy": "members", "allowed_email_domains": []string{"example.com"}},
			"update-instance-settings", "instance/settings",
			`{"changes":[{"field":"invite_policy","before":"owners","after":"members"},{"field":"allowed_email_domains","before":[],"after":["example.com"]}]}`},
		{"agent-created", &owner, "POST", "/v1/agents", map[string]any{"name": "bot", "vaults": []any{map[string]any{"vault": "prod", "role": "member"}}},
			"create-agent", "agents",
			`{"changes":[{"field":"name","after":"bot"},{"field":"role","after":"member"},{"field":"revoked","after":false},{"field":"vaults","after":{"prod":"member"}}]}`},
		{"agent-renamed", &owner, "PATCH", "/v1/agents/bot", map[string]any{"name": "bot2", "role": "no-access"}, "update-agent", "agents/bot",
			`{"changes":[{"field":"name","before":"bot","after":"bot2"},{"field":"role","before":"member","after":"no-access"}]}`},
		{"agent-rotated", &owner, "POST", "/v1/agents/bot2/rotate", nil, "rotate-agent", "agents/bot2/rotate",
			`{"changes":[{"field":"token","withheld":true}]}`},
		{"agent-revoked", &owner, "POST", "/v1/agents/bot2/revoke", nil, "revoke-agent", "agents/bot2/revoke",
			`{"changes":[{"field":"revoked","before":false,"after":true}]}`},
		{"agent-grant", &owner, "POST", "/v1/vaults/prod/agents", map[string]any{"agent": "bot2", "role": "proxy"},
			"set-vault-agent", "vaults/prod/agents/bot2", `{"changes":[{"field":"role","before":"member","after":"proxy"}]}`},
		{"agent-deleted", &owner, "DELETE", "/v1/agents/bot2", nil, "delete-agent", "agents/bot2",
			`{"changes":[{"field":"name","before":"bot2"},{"field":"role","before":"no-access"},{"field":"revoked","before":true},{"field":"vaults","before":{"prod":"proxy"}}]}`},
		{"service-added", &owner, "POST", "/v1/vaults/prod/services", map[string]any{"services": []any{github}}, "upsert-services", "vaults/prod/services",
			`{"changes":[{"field":"services.github.host","after":"api.github.com"},{"field":"services.github.enabled","after":true},` +
				`{"field":"services.github.auth","after":"bearer"},{"field":"services.github.credential_keys","after":["GITHUB_TOKEN"]},` +
				`{"field":"services.github.allow_set_cookie","after":false},{"field":"services.github.allow_plain_http","after":false},` +
				`{"field":"services.github.scrub_responses","after":true},{"field":"services.github.unknown_encoding","after":"block"}]}`},
		{"service-changed", &owner, "POST", "/v1/vaults/prod/services", map[string]any{"services": []any{githubBasic}}, "upsert-services", "vaults/prod/services",
			`{"changes":[{"field":"services.github.host","before":"api.github.com","after":"*.github.com"},` +
				`{"field":"services.github.auth","before":"bearer","after":"basic"},` +
				`{"field":"services.github.credential_keys","before":["GITHUB_TOKEN"],"after":["GH_USER","GH_PASS"]}]}`},
		{"service-disabled", &owner, "PATCH", "/v1/vaults/prod/services/github", map[string]any{"enabled": false}, "update-service", "vaults/prod/services/github",
			`{"changes":[{"field":"services.github.enabled","before":true,"after":false}]}`},
		{"services-replaced", &owner, "PUT", "/v1/vaults/prod/services", map[string]any{"services": []any{custom}}, "replace-services", "vaults/prod/services",
			`{"changes":[{"field":"services.github.host","before":"*.github.com"},{"field":"services.github.enabled","before":false},` +
				`{"field":"services.github.auth","before":"basic"},{"field":"services.github.credential_keys","before":["GH_USER","GH_PASS"]},` +
				`{"field":"services.github.allow_set_cookie","before":false},{"field":"services.github.allow_plain_http","before":false},` +
				`{"field":"services.github.scrub_responses","before":true},{"field":"services.github.unknown_encoding","before":"block"},` +
				`{"field":"services.internal.host","after":"internal.example.com"},{"field":"services.internal.enabled","after":true},` +
				`{"field":"services.internal.auth","after":"custom"},{"field":"services.internal.credential_keys","after":["INTERNAL_KEY"]},` +
				`{"field":"services.internal.headers","after":["X-Auth"]},` +
				`{"field":"services.internal.allow_set_cookie","after":false},{"field":"services.internal.allow_plain_http","after":false},` +
				`{"field":"services.internal.scrub_responses","after":true},{"field":"services.internal.unknown_encoding","after":"block"}]}`},
		{"service-deleted", &owner, "DELETE", "/v1/vaults/prod/services/internal", nil, "delete-service", "vaults/prod/services/internal",
			`{"changes":[{"field":"services.internal.host","before":"internal.example.com"},{"field":"services.internal.enabled","before":true},` +
				`{"field":"services.internal.auth","before":"custom"},{"field":"services.internal.credential_keys","before":["INTERNAL_KEY"]},` +
				`{"field":"services.internal.headers","before":["X-Auth"]},` +
				`{"field":"services.internal.allow_set_cookie","before":false},{"field":"services.internal.allow_plain_http","before":false},` +
				`{"field":"services.internal.scrub_responses","before":true},{"field":"services.internal.unknown_encoding","before":"block"}]}`},
		{"credentials-set", &owner, "POST", "/v1/credentials", map[string]any{"vault": "prod", "credentials": map[string]string{"GH_USER": "MARKER-user", "GH_PASS": "MARKER-pass"}},
			"set-credentials", "credentials GH_PASS,GH_USER", `{"keys":["GH_PASS","GH_USER"],"value_macs":{"GH_PASS":"…","GH_USER":"…"}}`},
		{"credentials-deleted", &owner, "DELETE", "/v1/credentials", map[string]any{"vault": "prod", "keys": []string{"GH_USER"}},
			"delete-credentials", "credentials GH_USER", `{"keys":["GH_USER"]}`},
		{"proposal", &owner, "POST", "/v1/proposals", map[string]any{"vault": "prod", "message": "need stripe",
			"services": []any{stripe}, "credentials": []any{map[string]any{"action": "set", "key": "STRIPE_KEY", "value": "MARKER-agent-value"}}},
			"create-proposal", "", `{"changes":[{"field":"status","after":"pending"},{"field":"services","after":["set stripe"]}],"keys":["STRIPE_KEY"]}`},
		{"proposal-approved", &owner, "POST", "/v1/admin/proposals/{id}/approve", map[string]any{"vault": "prod", "credentials": map[string]string{"STRIPE_KEY": "MARKER-human-value"}},
			"approve-proposal", "", `{"changes":[{"field":"status","before":"pending","after":"approved"},` +
				`{"field":"services.stripe.host","after":"api.stripe.com"},{"field":"services.stripe.enabled","after":true},` +
				`{"field":"services.stripe.auth","after":"bearer"},{"field":"services.stripe.credential_keys","after":["STRIPE_KEY"]},` +
				`{"field":"services.stripe.allow_set_cookie","after":false},{"field":"services.stripe.allow_plain_http","after":false},` +
				`{"field":"services.stripe.scrub_responses","after":true},{"field":"services.stripe.unknown_encoding","after":"block"}],` +
				`"keys":["STRIPE_KEY"],"value_macs":{"STRIPE_KEY":"…"}}`},
		{"proposal-2", &owner, "POST", "/v1/proposals", map[string]any{"vault": "prod", "message": "drop stripe",
			"services": []any{map[string]any{"action": "delete", "name": "stripe"}}},
			"create-proposal", "", `{"changes":[{"field":"status","after":"pending"},{"field":"services","after":["delete stripe"]}]}`},
		{"proposal-rejected", &owner, "POST", "/v1/admin/proposals/{id}/reject", map[string]any{"vault": "prod", "reason": "keep it"},
			"reject-proposal", "", `{"changes":[{"field":"status","before":"pending","after":"rejected"}]}`},
		{"store-unchanged", &owner, "PATCH", "/v1/vaults/prod/credential-store", map[string]any{"kind": "builtin"},
			"set-credential-store", "vaults/prod/credential-store", `{"note":"no change"}`},
		{"canary", &owner, "POST", "/v1/vaults/prod/canaries", map[string]any{"name": "CANARY_KEY"}, "create-canary", "vaults/prod/canaries",
			`{"changes":[{"field":"canary","after":"CANARY_KEY"}]}`},
		{"member-leaves", &bob, "POST", "/v1/vaults/bobs/leave", nil, "leave-vault", "vaults/bobs/users/bob@example.com",
			`{"changes":[{"field":"role","before":"admin"}]}`},
		{"password-changed", &bob, "POST", "/v1/auth/password", map[string]any{"current_password": "password1", "new_password": "MARKER-new-password"},
			"change-password", "auth/password", `{"changes":[{"field":"password","withheld":true}]}`},
		{"reset-issued", &owner, "POST", "/v1/users/" + bobID + "/password-reset", nil, "create-password-reset", "users/bob@example.com",
			`{"changes":[{"field":"reset_link_expires_at","after":"T"}]}`},
		{"reset-used", &anonymous, "POST", "/v1/password-resets/{token}", map[string]any{"password": "MARKER-reset-password"},
			"complete-password-reset", "password-resets/…", `{"changes":[{"field":"password","withheld":true}]}`},
		{"invite-again", &owner, "POST", "/v1/users/invites", map[string]any{"email": "carol@example.com",
			"vaults": []any{map[string]any{"vault": "prod", "role": "admin"}}}, "create-invite", "users/invites",
			`{"changes":[{"field":"email","after":"carol@example.com"},{"field":"role","after":"member"},{"field":"vaults.prod","after":"admin"}]}`},
		{"invite-accepted", &anonymous, "POST", "/v1/users/invites/{token}/accept", map[string]any{"email": "carol@example.com", "password": "MARKER-carol-password"},
			"accept-invite", "users/invites/…/accept", `{"changes":[{"field":"role","after":"member"},{"field":"vaults.prod","after":"admin"}]}`},
		{"account-deleted", &carol, "DELETE", "/v1/auth/me", map[string]any{"password": "MARKER-carol-password"}, "delete-my-account", "auth/me",
			`{"changes":[{"field":"role","before":"member"}]}`},
	}
	macs := regexp.MustCompile(`"([A-Z_]+)":"[0-9a-f]{32}"`)
	times := regexp.MustCompile(`"\d{4}-\d\d-\d\dT[0-9:.]+Z"`)
	for _, tc := range tests {
		tc.path = strings.NewReplacer("{id}", lastID, "{token}", lastToken).Replace(tc.path)
		if tc.wantTarget == "" {
			tc.wantTarget = strings.TrimPrefix(tc.path, "/v1/")
			if tc.wantOp == "create-proposal" {
				tc.wantTarget = "proposals/" + lastIDAfter(t, e, tc.method, tc.path, *tc.token, tc.body, issued)
				tc.method = "" // made above
			}
		}
		status, body := 200, []byte(nil)
		if tc.method != "" {
			status, body = e.do(tc.method, tc.path, *tc.token, tc.body)
		}
		issued(body)
		if status >= 400 {
			t.Fatalf("%s: %s %s answered %d %s", tc.name, tc.method, tc.path, status, body)
		}
		switch tc.wantOp {
		case "change-password":
			bob = lastToken
		case "accept-invite":
			carol = lastToken
		}
		_, list := e.do("GET", "/v1/audit?limit=1", owner, nil)
		var l auditList
		if err := json.Unmarshal(list, &l); err != nil || len(l.Entries) != 1 {
			t.Fatalf("%s: audit list %s: %v", tc.name, list, err)
		}
		got := l.Entries[0]
		summary := times.ReplaceAllString(macs.ReplaceAllString(string(got.Summary), `"$1":"…"`), `"T"`)
		if got.Operation != tc.wantOp || got.Target != tc.wantTarget || summary != tc.want {
			t.Errorf("%s: entry %s on %q\n summary %s\n want    %s on %q\n summary %s", tc.name, got.Operation, got.Target, summary, tc.wantOp, tc.wantTarget, tc.want)
		}
		if _, ok := audit.DecodeSummary(got.Summary); !ok {
			t.Errorf("%s: summary %s is not an audit.Summary", tc.name, got.Summary)
		}
	}
	secrets = append(secrets, bob)

	// The whole trail, every field of every entry, holds none of them.
	_, all := e.do("GET", "/v1/audit?limit=500", owner, nil)
	var l auditList
	if err := json.Unmarshal(all, &l); err != nil || len(l.Entries) < len(tests) {
		t.Fatalf("audit list: %d entries, %v", len(l.Entries), err)
	}
	for _, s := range secrets {
		if s == "" {
			continue
		}
		if i := strings.Index(string(all), s); i >= 0 {
			t.Errorf("the audit trail holds a secret (%.12s…) near %q", s, all[max(0, i-60):min(len(all), i+60)])
		}
	}
	if n := len(secrets); n < 6 {
		t.Fatalf("only %d secrets collected; the leak check would prove little", n)
	}
}

// lastIDAfter makes a call that creates something and returns its id (the
// audit target of a new proposal names it).
func lastIDAfter(t *testing.T, e *testEnv, method, path, token string, body any, issued func([]byte)) string {
	t.Helper()
	status, out := e.do(method, path, token, body)
	if status >= 400 {
		t.Fatalf("%s %s answered %d %s", method, path, status, out)
	}
	issued(out)
	var v struct {
		ID string `json:"id"`
	}
	json.Unmarshal(out, &v)
	return v.ID
}

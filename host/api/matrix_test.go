package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/host/api"
	"github.com/agent-vault/agent-vault/host/authn"
	"github.com/agent-vault/agent-vault/host/authz"
	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/seal"
	"github.com/agent-vault/agent-vault/host/store"
	"github.com/danielgtaylor/huma/v2"
)

// matrixFixture is one instance with a caller of every kind and the objects
// the operations act on. Every operation gets a fresh one, so an allowed
// destructive call cannot disturb the next operation.
type matrixFixture struct {
	*testEnv
	tokens        map[string]string // caller name → token ("" for anonymous)
	victimUserID  string
	victimSession string
	victimInvite  string
}

func newMatrixFixture(t *testing.T) *matrixFixture {
	e := newEnv(t)
	ctx := context.Background()
	f := &matrixFixture{testEnv: e, tokens: map[string]string{"anonymous": ""}}
	_, f.tokens["owner"] = e.user("owner@example.com", domain.InstanceOwner)
	_, f.tokens["member"] = e.user("member@example.com", domain.InstanceMember)
	_, f.tokens["no-access"] = e.user("disabled@example.com", domain.InstanceNoAccess)
	adminID, adminTok := e.user("admin@example.com", domain.InstanceMember)
	f.tokens["vault admin"] = adminTok
	v, err := e.st.CreateVault(ctx, "target", &store.Grant{Kind: store.PrincipalUser, PrincipalID: adminID, Role: domain.VaultAdmin}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, role := range map[string]domain.VaultRole{"vault member": domain.VaultMember, "vault proxy": domain.VaultProxy} {
		id, tok := e.user(strings.ReplaceAll(name, " ", "-")+"@example.com", domain.InstanceMember)
		e.grant(v.ID, store.PrincipalUser, id, role)
		f.tokens[name] = tok
	}
	f.victimUserID, _ = e.user("victim@example.com", domain.InstanceMember)
	e.grant(v.ID, store.PrincipalUser, f.victimUserID, domain.VaultMember)

	agentTok, agentHash := seal.NewToken(seal.PrefixAgent)
	if _, err := e.st.CreateAgent(ctx, store.Agent{Name: "robot", Role: domain.InstanceMember}, agentHash,
		[]store.AgentGrant{{VaultID: v.ID, Role: domain.VaultMember}}); err != nil {
		t.Fatal(err)
	}
	f.tokens["agent"] = agentTok
	_, victimAgentHash := seal.NewToken(seal.PrefixAgent)
	if _, err := e.st.CreateAgent(ctx, store.Agent{Name: "victim-agent", Role: domain.InstanceMember}, victimAgentHash,
		[]store.AgentGrant{{VaultID: v.ID, Role: domain.VaultProxy}}); err != nil {
		t.Fatal(err)
	}

	for _, name := range []string{"scoped session", "victim session"} {
		tok, hash := seal.NewToken(authn.PrefixScopedSession)
		ss, err := e.st.CreateScopedSession(ctx, store.ScopedSession{VaultID: v.ID, CreatorKind: store.PrincipalUser, CreatorID: adminID, ExpiresAt: time.Now().Add(time.Hour)}, hash)
		if err != nil {
			t.Fatal(err)
		}
		f.tokens[name] = tok
		f.victimSession = ss.ID
	}
	delete(f.tokens, "victim session")

	// Members may invite (the widest setting), so the matrix shows what
	// the policy table allows; the owners-only default is tested apart.
	if err := e.st.SetInstanceSettings(ctx, store.InstanceSettings{InvitePolicy: "members", SessionTTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	_, invHash := seal.NewToken(seal.PrefixInvite)
	if f.victimInvite, err = e.st.CreateInvite(ctx, store.Invite{TokenHash: invHash, Role: domain.InstanceMember, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}

	svc, _ := json.Marshal(domain.Service{Name: "svc", Host: "api.example.com", Auth: domain.Auth{Type: "bearer", Token: "KEY_A"}})
	if err := e.st.UpsertServices(ctx, v.ID, []store.ServiceRow{{Name: "svc", Spec: svc}}); err != nil {
		t.Fatal(err)
	}
	sealed, err := e.kr.Seal([]byte("value-a"), seal.CredentialAAD(v.ID, "KEY_A"))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.PutCredentials(ctx, v.ID, map[string][]byte{"KEY_A": sealed}); err != nil {
		t.Fatal(err)
	}
	return f
}

type matrixRequest struct {
	method, path string
	body         any
}

// requests says how to call each operation against the fixture's "target"
// vault and victims. A new operation must be added here or the test fails.
func (f *matrixFixture) requests() map[string]matrixRequest {
	svcs := map[string]any{"services": []any{map[string]any{"name": "svc2", "host": "api.other.com", "auth": map[string]any{"type": "passthrough"}}}}
	return map[string]matrixRequest{
		"get-health":                  {"GET", "/health", nil},
		"get-ready":                   {"GET", "/ready", nil},
		"get-status":                  {"GET", "/v1/status", nil},
		"get-metrics":                 {"GET", "/metrics", nil},
		"get-overview":                {"GET", "/v1/overview", nil},
		"get-vault-activity":          {"GET", "/v1/vaults/target/activity?window=day", nil},
		"get-mitm-ca":                 {"GET", "/v1/mitm/ca.pem", nil},
		"register":                    {"POST", "/v1/auth/register", map[string]any{"email": "new@example.com", "password": "password1"}},
		"login":                       {"POST", "/v1/auth/login", map[string]any{"email": "victim@example.com", "password": "password1"}},
		"accept-invite":               {"POST", "/v1/users/invites/av_inv_nope/accept", map[string]any{"email": "new@example.com", "password": "password1"}},
		"logout":                      {"POST", "/v1/auth/logout", nil},
		"get-me":                      {"GET", "/v1/auth/me", nil},
		"change-password":             {"POST", "/v1/auth/password", map[string]any{"current_password": "password1", "new_password": "password2"}},
		"delete-my-account":           {"DELETE", "/v1/auth/me", map[string]any{"password": "password1"}},
		"list-login-sessions":         {"GET", "/v1/auth/sessions", nil},
		"revoke-login-session":        {"DELETE", "/v1/auth/sessions/nope", nil},
		"revoke-other-login-sessions": {"POST", "/v1/auth/sessions/revoke-others", nil},
		"get-password-reset":          {"GET", "/v1/password-resets/av_rst_nope", nil},
		"complete-password-reset":     {"POST", "/v1/password-resets/av_rst_nope", map[string]any{"password": "password2"}},
		"list-user-sessions":          {"GET", "/v1/users/" + f.victimUserID + "/sessions", nil},
		"revoke-user-session":         {"DELETE", "/v1/users/" + f.victimUserID + "/sessions/nope", nil},
		"revoke-user-sessions":        {"DELETE", "/v1/users/" + f.victimUserID + "/sessions", nil},
		"create-password-reset":       {"POST", "/v1/users/" + f.victimUserID + "/password-reset", nil},
		"get-instance-settings":       {"GET", "/v1/instance/settings", nil},
		"update-instance-settings":    {"PATCH", "/v1/instance/settings", map[string]any{"invite_policy": "members"}},
		"list-invites":                {"GET", "/v1/invites", nil},
		"get-invite":                  {"GET", "/v1/invites/av_inv_nope", nil},
		"revoke-invite":               {"DELETE", "/v1/invites/" + f.victimInvite, nil},
		"resend-invite":               {"POST", "/v1/invites/" + f.victimInvite + "/resend", nil},
		"get-agent":                   {"GET", "/v1/agents/victim-agent", nil},
		"update-agent":                {"PATCH", "/v1/agents/victim-agent", map[string]any{"role": "no-access"}},
		"leave-vault":                 {"POST", "/v1/vaults/target/leave", nil},
		"list-users":                  {"GET", "/v1/users", nil},
		"create-invite":               {"POST", "/v1/users/invites", map[string]any{"role": "member"}},
		"update-user":                 {"PATCH", "/v1/users/" + f.victimUserID, map[string]any{"role": "no-access"}},
		"delete-user":                 {"DELETE", "/v1/users/" + f.victimUserID, nil},
		"list-agents":                 {"GET", "/v1/agents", nil},
		"create-agent":                {"POST", "/v1/agents", map[string]any{"name": "new-agent"}},
		"rotate-agent":                {"POST", "/v1/agents/victim-agent/rotate", nil},
		"revoke-agent":                {"POST", "/v1/agents/victim-agent/revoke", nil},
		"delete-agent":                {"DELETE", "/v1/agents/victim-agent", nil},
		"create-vault":                {"POST", "/v1/vaults", map[string]any{"name": "new-vault"}},
		"list-vaults":                 {"GET", "/v1/vaults", nil},
		"delete-vault":                {"DELETE", "/v1/vaults/target", nil},
		"rename-vault":                {"PATCH", "/v1/vaults/target", map[string]any{"name": "renamed"}},
		"get-vault-context":           {"GET", "/v1/vaults/target/context", nil},
		"get-vault-settings":          {"GET", "/v1/vaults/target/settings", nil},
		"update-vault-settings":       {"PATCH", "/v1/vaults/target/settings", map[string]any{"unmatched_host_policy": "deny"}},
		"join-vault":                  {"POST", "/v1/vaults/target/join", nil},
		"list-vault-users":            {"GET", "/v1/vaults/target/users", nil},
		"set-vault-user":              {"POST", "/v1/vaults/target/users", map[string]any{"email": "victim@example.com", "role": "proxy"}},
		"remove-vault-user":           {"DELETE", "/v1/vaults/target/users/victim@example.com", nil},
		"list-vault-agents":           {"GET", "/v1/vaults/target/agents", nil},
		"set-vault-agent":             {"POST", "/v1/vaults/target/agents", map[string]any{"agent": "victim-agent", "role": "member"}},
		"remove-vault-agent":          {"DELETE", "/v1/vaults/target/agents/victim-agent", nil},
		"create-session":              {"POST", "/v1/sessions", map[string]any{"vault": "target"}},
		"list-sessions":               {"GET", "/v1/vaults/target/sessions", nil},
		"create-canary":               {"POST", "/v1/vaults/target/canaries", map[string]any{"name": "OPENAI_API_KEY"}},
		"list-canaries":               {"GET", "/v1/vaults/target/canaries", nil},
		"revoke-session":              {"DELETE", "/v1/vaults/target/sessions/" + f.victimSession, nil},
		"list-my-sessions":            {"GET", "/v1/sessions", nil},
		"revoke-my-session":           {"DELETE", "/v1/sessions/" + f.victimSession, nil},
		"list-credentials":            {"GET", "/v1/credentials?vault=target", nil},
		"set-credentials":             {"POST", "/v1/credentials", map[string]any{"vault": "target", "credentials": map[string]string{"KEY_B": "value-b"}}},
		"delete-credentials":          {"DELETE", "/v1/credentials", map[string]any{"vault": "target", "keys": []string{"KEY_A"}}},
		"list-services":               {"GET", "/v1/vaults/target/services", nil},
		"list-credential-store-kinds": {"GET", "/v1/instance/credential-stores", nil},
		"get-credential-store":        {"GET", "/v1/vaults/target/credential-store", nil},
		"set-credential-store":        {"PATCH", "/v1/vaults/target/credential-store", map[string]any{"kind": "builtin"}},
		"sync-vault":                  {"POST", "/v1/vaults/target/sync", nil},
		"upsert-services":             {"POST", "/v1/vaults/target/services", svcs},
		"replace-services":            {"PUT", "/v1/vaults/target/services", svcs},
		"update-service":              {"PATCH", "/v1/vaults/target/services/svc", map[string]any{"enabled": false}},
		"delete-service":              {"DELETE", "/v1/vaults/target/services/svc", nil},
		"delete-services":             {"DELETE", "/v1/vaults/target/services", nil},
		"get-cli-skill":               {"GET", "/v1/skills/cli", nil},
		"discover":                    {"GET", "/discover?vault=target", nil},
		"create-proposal":             {"POST", "/v1/proposals", proposalBody("target")},
		"list-proposals":              {"GET", "/v1/proposals?vault=target", nil},
		"get-proposal":                {"GET", "/v1/proposals/" + f.pendingProposal() + "?vault=target", nil},
		"admin-list-proposals":        {"GET", "/v1/admin/proposals?vault=target", nil},
		"approve-proposal":            {"POST", "/v1/admin/proposals/" + f.pendingProposal() + "/approve", map[string]any{"vault": "target"}},
		"reject-proposal":             {"POST", "/v1/admin/proposals/" + f.pendingProposal() + "/reject", map[string]any{"vault": "target", "reason": "no"}},
		"list-request-logs":           {"GET", "/v1/vaults/target/logs", nil},
		"explain-request":             {"GET", "/v1/vaults/target/explain?url=https://api.example.com/v1", nil},
		"list-audit-entries":          {"GET", "/v1/audit?limit=5", nil},
		"verify-audit":                {"GET", "/v1/audit/verify", nil},
		"list-service-catalog":        {"GET", "/v1/service-catalog", nil},
		"list-discovered-hosts":       {"GET", "/v1/vaults/target/discovered-hosts", nil},
	}
}

// registeredOperations lists every operation id in the OpenAPI document.
func registeredOperations(t *testing.T) []string {
	_, a := api.New(api.Deps{})
	var ids []string
	for _, item := range a.OpenAPI().Paths {
		for _, o := range []*huma.Operation{item.Get, item.Post, item.Put, item.Patch, item.Delete} {
			if o != nil {
				ids = append(ids, o.OperationID)
			}
		}
	}
	sort.Strings(ids)
	if len(ids) < 40 {
		t.Fatalf("only %d operations registered", len(ids))
	}
	return ids
}

// TestPermissionMatrix walks every registered operation with every kind of
// caller and checks the HTTP outcome against the policy table: refused
// callers get exactly 401 (no token) or 403, allowed ones get neither.
func TestPermissionMatrix(t *testing.T) {
	ops := registeredOperations(t)
	for _, id := range ops {
		if _, ok := authz.Policy[id]; !ok {
			t.Errorf("operation %q has no row in authz.Policy", id)
		}
	}
	for id := range authz.Policy {
		if !contains(ops, id) {
			t.Errorf("authz.Policy has a row for %q, which is not a registered operation", id)
		}
	}
	for _, id := range ops {
		t.Run(id, func(t *testing.T) {
			f := newMatrixFixture(t)
			req, ok := f.requests()[id]
			if !ok {
				t.Fatalf("no request for operation %q in the matrix test", id)
			}
			// Refused callers first: an allowed destructive call must not
			// change what a refused one sees.
			callers := append([]authz.MatrixCaller{}, authz.MatrixCallers...)
			sort.SliceStable(callers, func(i, j int) bool {
				return authz.Decide(id, callers[i].Actor, callers[i].VaultRole) != nil &&
					authz.Decide(id, callers[j].Actor, callers[j].VaultRole) == nil
			})
			for _, c := range callers {
				token, ok := f.tokens[c.Name]
				if !ok {
					t.Fatalf("fixture has no caller %q", c.Name)
				}
				status, body := f.do(req.method, req.path, token, req.body)
				switch want := authz.Decide(id, c.Actor, c.VaultRole); {
				case want == nil && (status == http.StatusUnauthorized || status == http.StatusForbidden):
					t.Errorf("%s: policy allows, got %d %s", c.Name, status, body)
				case want != nil && domain.CodeOf(want) == domain.CodeUnauthorized && status != http.StatusUnauthorized:
					t.Errorf("%s: policy says 401, got %d %s", c.Name, status, body)
				case want != nil && domain.CodeOf(want) == domain.CodeForbidden && status != http.StatusForbidden:
					t.Errorf("%s: policy says 403, got %d %s", c.Name, status, body)
				}
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

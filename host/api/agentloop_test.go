package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/host/api"
	"github.com/agent-vault/agent-vault/host/authn"
	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/seal"
	"github.com/agent-vault/agent-vault/host/store"
)

// pendingProposal stores a proposal in the fixture's vault (a service using
// the existing KEY_A) and returns its id.
func (f *matrixFixture) pendingProposal() string {
	f.t.Helper()
	ctx := context.Background()
	v, err := f.st.VaultByName(ctx, "target")
	if err != nil {
		f.t.Fatal(err)
	}
	spec := `{"services":[{"action":"set","name":"svc3","host":"api.third.com","auth":{"type":"bearer","token":"KEY_A"}}],"credentials":[]}`
	p, err := f.st.CreateProposal(ctx, store.Proposal{ID: store.NewID(), VaultID: v.ID, CreatorKind: "agent", CreatorID: "x",
		Message: "m", Spec: []byte(spec), ExpiresAt: time.Now().Add(time.Hour)}, nil, 100)
	if err != nil {
		f.t.Fatal(err)
	}
	return p.ID
}

func proposalBody(vault string) map[string]any {
	return map[string]any{"vault": vault, "message": "need the other API",
		"services": []any{map[string]any{"action": "set", "name": "other", "host": "api.other.com", "auth": map[string]any{"type": "bearer", "token": "KEY_A"}}}}
}

// fakeStoreInfo stands in for the credential-store lifecycle.
type fakeStoreInfo struct {
	external map[string]bool
	dynamic  map[string][]string
}

func (f fakeStoreInfo) IsExternal(_ context.Context, vaultID string) (bool, error) {
	return f.external[vaultID], nil
}

func (f fakeStoreInfo) DynamicKeys(_ context.Context, vaultID string) ([]string, error) {
	return f.dynamic[vaultID], nil
}

// loopEnv is an API over a real store with a vault "shop" (policy deny, one
// service and key), its admin, an agent (member of shop only), a second
// agent in two vaults, and a scoped session.
type loopEnv struct {
	*testEnv
	info                             *fakeStoreInfo
	shop, ext                        store.Vault
	admin, agent, twoVaults, session string
	dropped                          uint64
}

func newLoopEnv(t *testing.T) *loopEnv {
	t.Helper()
	ctx := context.Background()
	st, dbPath := openStore(t)
	_, kr, err := seal.Create("")
	if err != nil {
		t.Fatal(err)
	}
	l := &loopEnv{info: &fakeStoreInfo{external: map[string]bool{}, dynamic: map[string][]string{}}}
	logs := &syncBuffer{}
	handler, _ := api.New(api.Deps{Store: st, Keyring: kr, PublicURL: "http://agent-vault.test", StoreInfo: l.info,
		Logger:            slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		RequestLogDropped: func() uint64 { return l.dropped }})
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	l.testEnv = &testEnv{t: t, st: st, kr: kr, url: srv.URL, dbPath: dbPath, logs: logs, seen: &syncBuffer{}}

	adminID, adminTok := l.user("owner@example.com", domain.InstanceOwner)
	l.admin = adminTok
	admin := &store.Grant{Kind: store.PrincipalUser, PrincipalID: adminID, Role: domain.VaultAdmin}
	if l.shop, err = st.CreateVault(ctx, "shop", admin, nil); err != nil {
		t.Fatal(err)
	}
	if l.ext, err = st.CreateVault(ctx, "external", admin, nil); err != nil {
		t.Fatal(err)
	}
	l.info.external[l.ext.ID] = true
	l.info.dynamic[l.ext.ID] = []string{"DB_PASSWORD", "DB_USER"}
	st.SetUnmatchedHostPolicy(ctx, l.shop.ID, domain.PolicyDeny)
	svc, _ := json.Marshal(domain.Service{Name: "github", Host: "api.github.com", Auth: domain.Auth{Type: "bearer", Token: "GITHUB_TOKEN"}})
	st.UpsertServices(ctx, l.shop.ID, []store.ServiceRow{{Name: "github", Spec: svc}})
	l.putCredential(l.shop.ID, "GITHUB_TOKEN", "gh-value")

	var tok string
	var hash []byte
	tok, hash = seal.NewToken(seal.PrefixAgent)
	if _, err := st.CreateAgent(ctx, store.Agent{Name: "robot", Role: domain.InstanceMember}, hash,
		[]store.AgentGrant{{VaultID: l.shop.ID, Role: domain.VaultProxy}}); err != nil {
		t.Fatal(err)
	}
	l.agent = tok
	tok, hash = seal.NewToken(seal.PrefixAgent)
	if _, err := st.CreateAgent(ctx, store.Agent{Name: "busy", Role: domain.InstanceMember}, hash,
		[]store.AgentGrant{{VaultID: l.shop.ID, Role: domain.VaultProxy}, {VaultID: l.ext.ID, Role: domain.VaultProxy}}); err != nil {
		t.Fatal(err)
	}
	l.twoVaults = tok
	tok, hash = seal.NewToken(authn.PrefixScopedSession)
	if _, err := st.CreateScopedSession(ctx, store.ScopedSession{VaultID: l.shop.ID, CreatorKind: store.PrincipalUser, CreatorID: adminID,
		ExpiresAt: time.Now().Add(time.Hour)}, hash); err != nil {
		t.Fatal(err)
	}
	l.session = tok
	return l
}

func (l *loopEnv) putCredential(vaultID, key, value string) {
	sealed, err := l.kr.Seal([]byte(value), seal.CredentialAAD(vaultID, key))
	if err != nil {
		l.t.Fatal(err)
	}
	if err := l.st.PutCredentials(context.Background(), vaultID, map[string][]byte{key: sealed}); err != nil {
		l.t.Fatal(err)
	}
}

func (l *loopEnv) credential(vaultID, key string) string {
	sealed, err := l.st.SealedCredential(context.Background(), vaultID, key)
	if err != nil {
		return ""
	}
	v, err := l.kr.Open(sealed, seal.CredentialAAD(vaultID, key))
	if err != nil {
		l.t.Fatal(err)
	}
	return string(v)
}

// doHeader is do with extra request headers.
func (l *loopEnv) doHeader(method, path, token string, header map[string]string) (int, []byte) {
	req, _ := http.NewRequest(method, l.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		l.t.Fatal(err)
	}
	defer res.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := res.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return res.StatusCode, []byte(b.String())
}

func TestDiscover(t *testing.T) {
	l := newLoopEnv(t)
	tests := []struct {
		name       string
		token      string
		header     map[string]string
		path       string
		wantStatus int
		wantCode   string
		wantBody   string
	}{
		{"agent-one-vault", l.agent, nil, "/discover", 200, "",
			`{"vault":"shop","services":[{"name":"github","host":"api.github.com","enabled":true}],"available_credentials":["GITHUB_TOKEN"],"propose_url":"http://agent-vault.test/v1/proposals","guide_url":"http://agent-vault.test/v1/skills/cli"}`},
		{"session", l.session, nil, "/discover", 200, "", ""},
		{"two-vaults-need-header", l.twoVaults, nil, "/discover", 400, domain.CodeVaultRequired, ""},
		{"two-vaults-header", l.twoVaults, map[string]string{"X-Vault": "external"}, "/discover", 200, "",
			`{"vault":"external","services":[],"available_credentials":["DB_PASSWORD","DB_USER"],"propose_url":"http://agent-vault.test/v1/proposals","guide_url":"http://agent-vault.test/v1/skills/cli"}`},
		{"agent-other-vault", l.agent, map[string]string{"X-Vault": "external"}, "/discover", 403, domain.CodeForbidden, ""},
		{"session-other-vault", l.session, map[string]string{"X-Vault": "external"}, "/discover", 403, domain.CodeForbidden, ""},
		{"unknown-vault", l.agent, map[string]string{"X-Vault": "nope"}, "/discover", 404, domain.CodeVaultNotFound, ""},
		{"anonymous", "", nil, "/discover", 401, domain.CodeUnauthorized, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := l.doHeader("GET", tc.path, tc.token, tc.header)
			if status != tc.wantStatus || code(body) != tc.wantCode {
				t.Fatalf("got %d %q, want %d %q: %s", status, code(body), tc.wantStatus, tc.wantCode, body)
			}
			if tc.wantBody != "" && strings.TrimSpace(string(body)) != tc.wantBody {
				t.Fatalf("body\n%s\nwant\n%s", body, tc.wantBody)
			}
		})
	}
	_, body := l.doHeader("GET", "/discover", l.twoVaults, nil)
	if !strings.Contains(string(body), `this token reaches 2 vaults (external, shop); name one with the X-Vault header`) {
		t.Fatalf("vault_required message: %s", body)
	}
}

func TestSkillGuide(t *testing.T) {
	l := newLoopEnv(t)
	res, err := http.Get(l.url + "/v1/skills/cli")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b strings.Builder
	fmt.Fprint(&b, "")
	buf := make([]byte, 1<<16)
	n, _ := res.Body.Read(buf)
	for n > 0 {
		b.Write(buf[:n])
		n, _ = res.Body.Read(buf)
	}
	guide := b.String()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/markdown; charset=utf-8" {
		t.Fatalf("%d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	// The guide names every code and endpoint an agent acts on, and stays short.
	for _, want := range []string{"proposal_hint", "host_not_allowed", "credential_not_found", "service_disabled",
		"POST $AGENT_VAULT_ADDR/v1/proposals", "GET $AGENT_VAULT_ADDR/v1/proposals/{id}", "approval_url", "/discover",
		"external_credential_store", "X-Agent-Vault-Proxy-Error"} {
		if !strings.Contains(guide, want) {
			t.Errorf("guide lacks %q", want)
		}
	}
	if lines := strings.Count(guide, "\n"); lines > 90 {
		t.Errorf("guide has %d lines; keep it under 90", lines)
	}
}

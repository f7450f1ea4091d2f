package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/host/api"
	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/store"
)

// clock is a settable time for the API and the store together.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newClockEnv is newEnv with one fake clock for the API and the store.
func newClockEnv(t *testing.T) (*testEnv, *clock) {
	c := &clock{t: time.Now()}
	e := newEnv(t, func(d *api.Deps) { d.Now = c.now })
	e.st.SetClock(c.now)
	return e, c
}

func decodeJSON[T any](t *testing.T, body []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("decoding %s: %v", body, err)
	}
	return v
}

type sessionBody struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// login signs in with a user agent and returns the session token.
func (e *testEnv) login(email, password, userAgent string) string {
	e.t.Helper()
	status, body := e.doWith(http.MethodPost, "/v1/auth/login", "", map[string]any{"email": email, "password": password},
		http.Header{"User-Agent": {userAgent}})
	if status != http.StatusOK {
		e.t.Fatalf("login %s: %d %s", email, status, body)
	}
	return decodeJSON[sessionBody](e.t, body).Token
}

// doWith is do with extra request headers.
func (e *testEnv) doWith(method, path, token string, body any, h http.Header) (int, []byte) {
	e.t.Helper()
	j, _ := json.Marshal(body)
	req, err := http.NewRequest(method, e.url+path, strings.NewReader(string(j)))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range h {
		req.Header[k] = v
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	e.seen.Write(out)
	return res.StatusCode, out
}

func want(t *testing.T, status int, wantStatus int, body []byte, wantCode string) {
	t.Helper()
	if status != wantStatus || (wantCode != "" && code(body) != wantCode) {
		t.Fatalf("got %d %s, want %d %s", status, body, wantStatus, wantCode)
	}
}

type loginSessions struct {
	Sessions []struct {
		ID            string    `json:"id"`
		ClientAddress string    `json:"client_address"`
		UserAgent     string    `json:"user_agent"`
		Current       bool      `json:"current"`
		LastUsedAt    time.Time `json:"last_used_at"`
	} `json:"sessions"`
}

func TestChangePassword(t *testing.T) {
	e := newEnv(t)
	e.user("owner@example.com", domain.InstanceOwner)
	laptop := e.login("owner@example.com", "password1", "laptop")
	phone := e.login("owner@example.com", "password1", "phone")

	tests := []struct {
		name       string
		current    string
		next       string
		wantStatus int
		wantCode   string
	}{
		{"wrong-current", "not-my-password", "password2", http.StatusUnauthorized, domain.CodeInvalidCredentials},
		{"too-short", "password1", "short", http.StatusUnprocessableEntity, domain.CodeInvalidInput},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := e.do("POST", "/v1/auth/password", laptop, map[string]any{"current_password": tc.current, "new_password": tc.next})
			want(t, status, tc.wantStatus, body, tc.wantCode)
		})
	}
	// Refused changes changed nothing: both sessions still work.
	for _, tok := range []string{laptop, phone} {
		if status, body := e.do("GET", "/v1/auth/me", tok, nil); status != http.StatusOK {
			t.Fatalf("after refused changes: %d %s", status, body)
		}
	}

	status, body := e.do("POST", "/v1/auth/password", laptop, map[string]any{"current_password": "password1", "new_password": "password2"})
	want(t, status, http.StatusOK, body, "")
	fresh := decodeJSON[sessionBody](t, body).Token
	for name, tok := range map[string]string{"laptop": laptop, "phone": phone} {
		if status, _ := e.do("GET", "/v1/auth/me", tok, nil); status != http.StatusUnauthorized {
			t.Errorf("%s session still works after the password changed: %d", name, status)
		}
	}
	if status, body := e.do("GET", "/v1/auth/me", fresh, nil); status != http.StatusOK {
		t.Fatalf("the new session: %d %s", status, body)
	}
	status, body = e.do("POST", "/v1/auth/login", "", map[string]any{"email": "owner@example.com", "password": "password1"})
	want(t, status, http.StatusUnauthorized, body, domain.CodeInvalidCredentials)
	e.login("owner@example.com", "password2", "cli")
	if strings.Contains(e.logs.String(), "password2") {
		t.Error("the log holds the new password")
	}
}

func TestLoginSessions(t *testing.T) {
	e := newEnv(t)
	e.user("owner@example.com", domain.InstanceOwner)
	memberID, _ := e.user("member@example.com", domain.InstanceMember)
	owner := e.login("owner@example.com", "password1", "owner-browser")
	laptop := e.login("member@example.com", "password1", "Firefox on laptop")
	phone := e.login("member@example.com", "password1", "Safari on phone")
	tablet := e.login("member@example.com", "password1", "tablet")

	status, body := e.do("GET", "/v1/auth/sessions", laptop, nil)
	want(t, status, http.StatusOK, body, "")
	list := decodeJSON[loginSessions](t, body)
	byUA := map[string]string{}
	current := ""
	for _, s := range list.Sessions {
		byUA[s.UserAgent] = s.ID
		if s.UserAgent != "" && s.ClientAddress != "127.0.0.1" {
			t.Errorf("session %s: client address %q, want 127.0.0.1", s.ID, s.ClientAddress)
		}
		if s.Current {
			current = s.UserAgent
		}
	}
	if byUA["Firefox on laptop"] == "" || byUA["Safari on phone"] == "" || byUA["tablet"] == "" || current != "Firefox on laptop" {
		t.Fatalf("sessions listed: %s", body)
	}
	if strings.Contains(string(body), laptop) || strings.Contains(string(body), "token") {
		t.Fatalf("session list shows a token: %s", body)
	}

	// Revoke one by id: only that one ends.
	status, body = e.do("DELETE", "/v1/auth/sessions/"+byUA["Safari on phone"], laptop, nil)
	want(t, status, http.StatusOK, body, "")
	if status, _ := e.do("GET", "/v1/auth/me", phone, nil); status != http.StatusUnauthorized {
		t.Errorf("revoked session answers %d", status)
	}
	// Someone else's session id is not found for a member.
	ownerSessions := decodeJSON[loginSessions](t, must2(e.do("GET", "/v1/auth/sessions", owner, nil)))
	status, body = e.do("DELETE", "/v1/auth/sessions/"+ownerSessions.Sessions[0].ID, laptop, nil)
	want(t, status, http.StatusNotFound, body, domain.CodeNotFound)

	// Revoke all others: the tablet ends, the laptop stays.
	status, body = e.do("POST", "/v1/auth/sessions/revoke-others", laptop, nil)
	want(t, status, http.StatusOK, body, "")
	if n := decodeJSON[struct{ Revoked int }](t, body).Revoked; n != 2 { // the tablet and the harness's own
		t.Errorf("revoked %d others, want 2", n)
	}
	if status, _ := e.do("GET", "/v1/auth/me", tablet, nil); status != http.StatusUnauthorized {
		t.Errorf("tablet session answers %d after revoke-others", status)
	}
	if status, _ := e.do("GET", "/v1/auth/me", laptop, nil); status != http.StatusOK {
		t.Errorf("the asking session ended with the others: %d", status)
	}

	// The owner sees and ends the member's sessions.
	status, body = e.do("GET", "/v1/users/"+memberID+"/sessions", owner, nil)
	want(t, status, http.StatusOK, body, "")
	if got := decodeJSON[loginSessions](t, body); len(got.Sessions) != 1 { // the laptop
		t.Fatalf("owner sees %s", body)
	}
	status, body = e.do("DELETE", "/v1/users/"+memberID+"/sessions", owner, nil)
	want(t, status, http.StatusOK, body, "")
	if status, _ := e.do("GET", "/v1/auth/me", laptop, nil); status != http.StatusUnauthorized {
		t.Errorf("member session survived the owner's revoke-all: %d", status)
	}
	status, body = e.do("DELETE", "/v1/users/nobody/sessions", owner, nil)
	want(t, status, http.StatusNotFound, body, domain.CodeNotFound)
}

func must2(status int, body []byte) []byte { return body }

func TestOwnerRevokesOneUserSession(t *testing.T) {
	e := newEnv(t)
	e.user("owner@example.com", domain.InstanceOwner)
	memberID, _ := e.user("member@example.com", domain.InstanceMember)
	owner := e.login("owner@example.com", "password1", "o")
	a := e.login("member@example.com", "password1", "a")
	b := e.login("member@example.com", "password1", "b")
	list := decodeJSON[loginSessions](t, must2(e.do("GET", "/v1/users/"+memberID+"/sessions", owner, nil)))
	for _, s := range list.Sessions {
		if s.UserAgent == "a" {
			status, body := e.do("DELETE", "/v1/users/"+memberID+"/sessions/"+s.ID, owner, nil)
			want(t, status, http.StatusOK, body, "")
		}
		if s.Current {
			t.Error("the owner's list of another user marks a session current")
		}
	}
	if status, _ := e.do("GET", "/v1/auth/me", a, nil); status != http.StatusUnauthorized {
		t.Errorf("session a survived: %d", status)
	}
	if status, _ := e.do("GET", "/v1/auth/me", b, nil); status != http.StatusOK {
		t.Errorf("session b ended too: %d", status)
	}
}

func TestIdleTimeout(t *testing.T) {
	e, clk := newClockEnv(t)
	_, ownerTok := e.user("owner@example.com", domain.InstanceOwner)
	status, body := e.do("PATCH", "/v1/instance/settings", ownerTok, map[string]any{"idle_timeout_seconds": 60})
	want(t, status, http.StatusBadRequest, body, domain.CodeInvalidInput)
	status, body = e.do("PATCH", "/v1/instance/settings", ownerTok, map[string]any{"idle_timeout_seconds": 600, "session_ttl_seconds": 3600})
	want(t, status, http.StatusOK, body, "")

	busy := e.login("owner@example.com", "password1", "busy")
	idle := e.login("owner@example.com", "password1", "idle")
	if got := decodeJSON[sessionBody](t, must2(e.do("POST", "/v1/auth/login", "", map[string]any{"email": "owner@example.com", "password": "password1"}))); got.ExpiresAt.Sub(clk.now()) > time.Hour+time.Second {
		t.Errorf("a sign-in lasts until %s, past the 1 h session lifetime", got.ExpiresAt)
	}
	// The busy session is used every 5 minutes for 20 minutes; the idle
	// one is not.
	for i := 0; i < 4; i++ {
		clk.add(5 * time.Minute)
		if status, body := e.do("GET", "/v1/auth/me", busy, nil); status != http.StatusOK {
			t.Fatalf("busy session after %d min: %d %s", (i+1)*5, status, body)
		}
	}
	if status, _ := e.do("GET", "/v1/auth/me", idle, nil); status != http.StatusUnauthorized {
		t.Errorf("a session idle for 20 min (timeout 10) answers %d", status)
	}
	// Turning the timeout off lets an idle session stand again.
	status, body = e.do("PATCH", "/v1/instance/settings", busy, map[string]any{"idle_timeout_seconds": 0})
	want(t, status, http.StatusOK, body, "")
	if status, _ := e.do("GET", "/v1/auth/me", idle, nil); status != http.StatusOK {
		t.Errorf("with the idle timeout off the session answers %d", status)
	}
}

func TestPasswordReset(t *testing.T) {
	e, clk := newClockEnv(t)
	_, owner := e.user("owner@example.com", domain.InstanceOwner)
	memberID, memberTok := e.user("member@example.com", domain.InstanceMember)

	reset := func() (token, url string) {
		status, body := e.do("POST", "/v1/users/"+memberID+"/password-reset", owner, nil)
		want(t, status, http.StatusCreated, body, "")
		r := decodeJSON[struct {
			Token    string `json:"token"`
			ResetURL string `json:"reset_url"`
			Emailed  bool   `json:"emailed"`
		}](t, body)
		if r.Emailed {
			t.Error("emailed without a mail sender")
		}
		return r.Token, r.ResetURL
	}
	first, _ := reset()
	token, url := reset()
	if url != "http://agent-vault.test/reset-password/"+token {
		t.Errorf("reset_url %q", url)
	}
	// Only the newest link works.
	status, body := e.do("GET", "/v1/password-resets/"+first, "", nil)
	want(t, status, http.StatusBadRequest, body, domain.CodePasswordResetInvalid)

	status, body = e.do("GET", "/v1/password-resets/"+token, "", nil)
	want(t, status, http.StatusOK, body, "")
	if got := decodeJSON[struct{ Email string }](t, body).Email; got != "member@example.com" {
		t.Errorf("reset shows email %q", got)
	}
	status, body = e.do("POST", "/v1/password-resets/"+token, "", map[string]any{"password": "new-password"})
	want(t, status, http.StatusOK, body, "")
	signedIn := decodeJSON[sessionBody](t, body).Token
	// The reset is in the audit trail, by the person it signed in.
	rows, _, err := e.st.ListAudit(context.Background(), store.AuditQuery{Limit: 1})
	if err != nil || len(rows) != 1 || rows[0].Operation != "complete-password-reset" || rows[0].ActorName != "member@example.com" || rows[0].Outcome != "ok" {
		t.Errorf("audit after the reset: %+v %v", rows, err)
	}
	if status, _ := e.do("GET", "/v1/auth/me", memberTok, nil); status != http.StatusUnauthorized {
		t.Errorf("the member's old session survived the reset: %d", status)
	}
	if status, _ := e.do("GET", "/v1/auth/me", signedIn, nil); status != http.StatusOK {
		t.Errorf("the reset's session: %d", status)
	}
	e.login("member@example.com", "new-password", "x")

	// Used once, then refused; an expired one says so.
	status, body = e.do("POST", "/v1/password-resets/"+token, "", map[string]any{"password": "another-password"})
	want(t, status, http.StatusBadRequest, body, domain.CodePasswordResetInvalid)
	if !strings.Contains(string(body), "already used") {
		t.Errorf("used link: %s", body)
	}
	status, body = e.do("POST", "/v1/users/nobody/password-reset", owner, nil)
	want(t, status, http.StatusNotFound, body, domain.CodeNotFound)
	late, _ := reset()
	clk.add(61 * time.Minute)
	status, body = e.do("POST", "/v1/password-resets/"+late, "", map[string]any{"password": "another-password"})
	want(t, status, http.StatusBadRequest, body, domain.CodePasswordResetInvalid)
	if !strings.Contains(string(body), "expired") {
		t.Errorf("expired link: %s", body)
	}
	for _, tok := range []string{token, first, late} {
		if strings.Contains(e.logs.String(), tok) {
			t.Error("the log holds a reset token")
		}
	}
}

func TestPasswordResetIsEmailed(t *testing.T) {
	type mail struct{ to, subject, body string }
	var sent []mail
	e := newEnv(t, func(d *api.Deps) {
		d.SendMail = func(_ context.Context, to, subject, body string) error {
			sent = append(sent, mail{to, subject, body})
			return nil
		}
	})
	_, owner := e.user("owner@example.com", domain.InstanceOwner)
	memberID, _ := e.user("member@example.com", domain.InstanceMember)
	status, body := e.do("POST", "/v1/users/"+memberID+"/password-reset", owner, nil)
	want(t, status, http.StatusCreated, body, "")
	r := decodeJSON[struct {
		ResetURL string `json:"reset_url"`
		Emailed  bool   `json:"emailed"`
	}](t, body)
	if !r.Emailed || len(sent) != 1 || sent[0].to != "member@example.com" || !strings.Contains(sent[0].body, r.ResetURL) {
		t.Fatalf("emailed=%v sent=%+v", r.Emailed, sent)
	}
}

func TestDeleteMyAccount(t *testing.T) {
	e := newEnv(t)
	_, owner := e.user("owner@example.com", domain.InstanceOwner)
	_, member := e.user("member@example.com", domain.InstanceMember)
	tests := []struct {
		name       string
		token      string
		password   string
		wantStatus int
		wantCode   string
	}{
		{"wrong-password", member, "nope-nope", http.StatusUnauthorized, domain.CodeInvalidCredentials},
		{"last-owner", owner, "password1", http.StatusConflict, domain.CodeLastOwner},
		{"member", member, "password1", http.StatusOK, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := e.do("DELETE", "/v1/auth/me", tc.token, map[string]any{"password": tc.password})
			want(t, status, tc.wantStatus, body, tc.wantCode)
		})
	}
	if status, _ := e.do("GET", "/v1/auth/me", member, nil); status != http.StatusUnauthorized {
		t.Errorf("deleted account's session answers %d", status)
	}
	if _, err := e.st.UserByEmail(context.Background(), "member@example.com"); domain.CodeOf(err) != domain.CodeNotFound {
		t.Errorf("member still exists: %v", err)
	}
}

func TestInstanceSettings(t *testing.T) {
	e := newEnv(t)
	_, owner := e.user("owner@example.com", domain.InstanceOwner)
	status, body := e.do("GET", "/v1/instance/settings", owner, nil)
	want(t, status, http.StatusOK, body, "")
	if got := string(body); !strings.Contains(got, `"invite_policy":"owners"`) || !strings.Contains(got, `"session_ttl_seconds":604800`) || !strings.Contains(got, `"idle_timeout_seconds":0`) {
		t.Errorf("defaults: %s", got)
	}
	tests := []struct {
		name       string
		body       map[string]any
		wantStatus int
		wantCode   string
		wantBody   string
	}{
		{"domains", map[string]any{"allowed_email_domains": []string{"Example.com", "@corp.example"}}, 200, "", `"allowed_email_domains":["example.com","corp.example"]`},
		{"bad-domain", map[string]any{"allowed_email_domains": []string{"not a domain"}}, 400, domain.CodeInvalidInput, ""},
		{"bad-policy", map[string]any{"invite_policy": "everyone"}, 422, domain.CodeInvalidInput, ""},
		{"short-ttl", map[string]any{"session_ttl_seconds": 10}, 422, domain.CodeInvalidInput, ""},
		{"policy", map[string]any{"invite_policy": "members"}, 200, "", `"invite_policy":"members","allowed_email_domains":["example.com","corp.example"]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := e.do("PATCH", "/v1/instance/settings", owner, tc.body)
			want(t, status, tc.wantStatus, body, tc.wantCode)
			if !strings.Contains(string(body), tc.wantBody) {
				t.Errorf("got %s, want it to contain %s", body, tc.wantBody)
			}
		})
	}
}

type inviteBody struct {
	ID        string `json:"id"`
	Token     string `json:"token"`
	InviteURL string `json:"invite_url"`
}

func TestInvites(t *testing.T) {
	e, clk := newClockEnv(t)
	ownerID, owner := e.user("owner@example.com", domain.InstanceOwner)
	_, member := e.user("member@example.com", domain.InstanceMember)
	ctx := context.Background()
	shop, err := e.st.CreateVault(ctx, "shop", &store.Grant{Kind: store.PrincipalUser, PrincipalID: ownerID, Role: domain.VaultAdmin}, nil)
	if err != nil {
		t.Fatal(err)
	}

	invite := func(token string, body map[string]any) (int, []byte) {
		return e.do("POST", "/v1/users/invites", token, body)
	}
	status, body := invite(owner, map[string]any{"email": "new@example.com", "vaults": []map[string]string{{"vault": "shop", "role": "member"}, {"vault": "default", "role": "proxy"}}})
	want(t, status, http.StatusCreated, body, "")
	inv := decodeJSON[inviteBody](t, body)

	// The link's page: who invited, to what.
	status, body = e.do("GET", "/v1/invites/"+inv.Token, "", nil)
	want(t, status, http.StatusOK, body, "")
	for _, want := range []string{`"invited_by":"owner@example.com"`, `"email":"new@example.com"`, `{"vault":"default","role":"proxy"}`, `{"vault":"shop","role":"member"}`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("invite page %s lacks %s", body, want)
		}
	}
	status, body = e.do("GET", "/v1/invites", owner, nil)
	want(t, status, http.StatusOK, body, "")
	if !strings.Contains(string(body), inv.ID) || strings.Contains(string(body), inv.Token) {
		t.Errorf("list: %s", body)
	}

	// Re-send: the old link stops, the new one works.
	status, body = e.do("POST", "/v1/invites/"+inv.ID+"/resend", owner, nil)
	want(t, status, http.StatusOK, body, "")
	renewed := decodeJSON[inviteBody](t, body)
	if renewed.ID != inv.ID || renewed.Token == inv.Token {
		t.Fatalf("resend: %s", body)
	}
	status, body = e.do("GET", "/v1/invites/"+inv.Token, "", nil)
	want(t, status, http.StatusBadRequest, body, domain.CodeInviteInvalid)

	// Accept: the vault roles come with it; a second use is refused.
	status, body = e.do("POST", "/v1/users/invites/"+renewed.Token+"/accept", "", map[string]any{"email": "new@example.com", "password": "password1"})
	want(t, status, http.StatusCreated, body, "")
	newTok := decodeJSON[sessionBody](t, body).Token
	u, err := e.st.UserByEmail(ctx, "new@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if role, _ := e.st.VaultRole(ctx, shop.ID, store.PrincipalUser, u.ID); role != domain.VaultMember {
		t.Errorf("role in shop %q, want member", role)
	}
	if status, _ := e.do("GET", "/v1/credentials?vault=shop", newTok, nil); status != http.StatusOK {
		t.Errorf("the new user cannot list shop's credentials: %d", status)
	}
	status, body = e.do("POST", "/v1/users/invites/"+renewed.Token+"/accept", "", map[string]any{"email": "new@example.com", "password": "password1"})
	want(t, status, http.StatusBadRequest, body, domain.CodeInviteInvalid)
	status, body = e.do("GET", "/v1/invites/"+renewed.Token, "", nil)
	want(t, status, http.StatusBadRequest, body, domain.CodeInviteInvalid)
	if !strings.Contains(string(body), "already used") {
		t.Errorf("used invite: %s", body)
	}

	// Revoked and expired links say so.
	status, body = invite(owner, map[string]any{})
	want(t, status, http.StatusCreated, body, "")
	revoked := decodeJSON[inviteBody](t, body)
	status, body = e.do("DELETE", "/v1/invites/"+revoked.ID, owner, nil)
	want(t, status, http.StatusOK, body, "")
	status, body = e.do("GET", "/v1/invites/"+revoked.Token, "", nil)
	want(t, status, http.StatusBadRequest, body, domain.CodeInviteInvalid)
	if !strings.Contains(string(body), "revoked") {
		t.Errorf("revoked invite: %s", body)
	}
	status, body = invite(owner, map[string]any{})
	late := decodeJSON[inviteBody](t, body)
	clk.add(8 * 24 * time.Hour)
	status, body = e.do("POST", "/v1/users/invites/"+late.Token+"/accept", "", map[string]any{"email": "late@example.com", "password": "password1"})
	want(t, status, http.StatusBadRequest, body, domain.CodeInviteInvalid)
	if !strings.Contains(string(body), "expired") {
		t.Errorf("expired invite: %s", body)
	}
	status, body = e.do("GET", "/v1/invites", e.login("owner@example.com", "password1", "later"), nil)
	if !strings.Contains(string(body), `"expired":true`) {
		t.Errorf("the expired invite is not listed as expired: %s", body)
	}
	clk.add(-8 * 24 * time.Hour)

	// Invites to a vault the inviter does not administer are refused.
	status, body = e.do("PATCH", "/v1/instance/settings", owner, map[string]any{"invite_policy": "members"})
	want(t, status, http.StatusOK, body, "")
	status, body = invite(member, map[string]any{"vaults": []map[string]string{{"vault": "shop", "role": "member"}}})
	want(t, status, http.StatusForbidden, body, domain.CodeForbidden)
	status, body = invite(owner, map[string]any{"vaults": []map[string]string{{"vault": "nope", "role": "member"}}})
	want(t, status, http.StatusNotFound, body, domain.CodeVaultNotFound)
}

func TestInvitePolicy(t *testing.T) {
	e := newEnv(t)
	_, owner := e.user("owner@example.com", domain.InstanceOwner)
	_, member := e.user("member@example.com", domain.InstanceMember)
	_, other := e.user("other@example.com", domain.InstanceMember)
	set := func(body map[string]any) {
		status, b := e.do("PATCH", "/v1/instance/settings", owner, body)
		want(t, status, http.StatusOK, b, "")
	}
	invite := func(token string, body map[string]any) (int, []byte) {
		return e.do("POST", "/v1/users/invites", token, body)
	}

	status, body := invite(member, map[string]any{})
	want(t, status, http.StatusForbidden, body, domain.CodeForbidden)
	set(map[string]any{"invite_policy": "members"})
	status, body = invite(member, map[string]any{"role": "owner"})
	want(t, status, http.StatusForbidden, body, domain.CodeForbidden)
	status, body = invite(member, map[string]any{"role": "member"})
	want(t, status, http.StatusCreated, body, "")
	mine := decodeJSON[inviteBody](t, body)
	status, body = invite(owner, map[string]any{})
	ownerInv := decodeJSON[inviteBody](t, body)

	// A member lists and manages only the invites they sent.
	status, body = e.do("GET", "/v1/invites", member, nil)
	if !strings.Contains(string(body), mine.ID) || strings.Contains(string(body), ownerInv.ID) {
		t.Errorf("member's list: %s", body)
	}
	status, body = e.do("DELETE", "/v1/invites/"+mine.ID, other, nil)
	want(t, status, http.StatusNotFound, body, domain.CodeNotFound)
	status, body = e.do("POST", "/v1/invites/"+ownerInv.ID+"/resend", member, nil)
	want(t, status, http.StatusNotFound, body, domain.CodeNotFound)
	status, body = e.do("DELETE", "/v1/invites/"+mine.ID, member, nil)
	want(t, status, http.StatusOK, body, "")

	// Allowed domains: invites must name an address there, and so must
	// whoever accepts an open invite sent before the rule.
	status, body = invite(owner, map[string]any{})
	open := decodeJSON[inviteBody](t, body)
	set(map[string]any{"allowed_email_domains": []string{"example.com"}})
	for _, tc := range []struct {
		name string
		body map[string]any
		want int
		code string
	}{
		{"no-email", map[string]any{}, 400, domain.CodeEmailDomainNotAllowed},
		{"other-domain", map[string]any{"email": "x@elsewhere.org"}, 400, domain.CodeEmailDomainNotAllowed},
		{"subdomain-is-other", map[string]any{"email": "x@evil.example.com"}, 400, domain.CodeEmailDomainNotAllowed},
		{"allowed", map[string]any{"email": "x@example.com"}, 201, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := invite(owner, tc.body)
			want(t, status, tc.want, body, tc.code)
		})
	}
	status, body = e.do("POST", "/v1/users/invites/"+open.Token+"/accept", "", map[string]any{"email": "y@elsewhere.org", "password": "password1"})
	want(t, status, http.StatusBadRequest, body, domain.CodeEmailDomainNotAllowed)
	status, body = e.do("POST", "/v1/users/invites/"+open.Token+"/accept", "", map[string]any{"email": "y@example.com", "password": "password1"})
	want(t, status, http.StatusCreated, body, "")
}

type agentToken struct {
	Agent struct {
		Name                   string     `json:"name"`
		TokenExpiresAt         *time.Time `json:"token_expires_at"`
		TokenTTLSeconds        int        `json:"token_ttl_seconds"`
		PreviousTokenExpiresAt *time.Time `json:"previous_token_expires_at"`
	} `json:"agent"`
	Token string `json:"token"`
}

func TestAgentTokenExpiryAndOverlap(t *testing.T) {
	e, clk := newClockEnv(t)
	_, owner := e.user("owner@example.com", domain.InstanceOwner)

	status, body := e.do("POST", "/v1/agents", owner, map[string]any{"name": "bot", "ttl_seconds": 3600, "vaults": []map[string]string{{"vault": "default", "role": "member"}}})
	want(t, status, http.StatusCreated, body, "")
	created := decodeJSON[agentToken](t, body)
	if created.Agent.TokenExpiresAt == nil || created.Agent.TokenExpiresAt.Sub(clk.now()) > time.Hour+time.Second {
		t.Fatalf("token_expires_at: %s", body)
	}
	old := created.Token
	// A session the old token minted (as `agent-vault run` does).
	status, body = e.do("POST", "/v1/sessions", old, map[string]any{"vault": "default"})
	want(t, status, http.StatusCreated, body, "")
	scoped := decodeJSON[struct{ Token string }](t, body).Token

	// Rotate with a 10-minute overlap: both tokens and the session work.
	status, body = e.do("POST", "/v1/agents/bot/rotate", owner, map[string]any{"overlap_seconds": 600})
	want(t, status, http.StatusOK, body, "")
	rotated := decodeJSON[agentToken](t, body)
	if rotated.Agent.PreviousTokenExpiresAt == nil || rotated.Agent.TokenExpiresAt == nil {
		t.Errorf("after rotation (the new token keeps the hour's lifetime): %s", body)
	}
	for name, tok := range map[string]string{"old": old, "new": rotated.Token, "session": scoped} {
		if status, body := e.do("GET", "/v1/auth/me", tok, nil); status != http.StatusOK {
			t.Errorf("%s token within the overlap: %d %s", name, status, body)
		}
	}
	clk.add(11 * time.Minute)
	for name, tok := range map[string]string{"old": old, "session": scoped} {
		if status, _ := e.do("GET", "/v1/auth/me", tok, nil); status != http.StatusUnauthorized {
			t.Errorf("%s token after the overlap answers %d", name, status)
		}
	}
	if status, _ := e.do("GET", "/v1/auth/me", rotated.Token, nil); status != http.StatusOK {
		t.Errorf("new token after the overlap answers %d", status)
	}

	// Without overlap the old token stops at once; an expiring token
	// expires, and so do the sessions it minted.
	status, body = e.do("POST", "/v1/agents/bot/rotate", owner, map[string]any{"ttl_seconds": 1800})
	want(t, status, http.StatusOK, body, "")
	short := decodeJSON[agentToken](t, body).Token
	if status, _ := e.do("GET", "/v1/auth/me", rotated.Token, nil); status != http.StatusUnauthorized {
		t.Errorf("token rotated without overlap answers %d", status)
	}
	status, body = e.do("POST", "/v1/sessions", short, map[string]any{"vault": "default"})
	want(t, status, http.StatusCreated, body, "")
	scoped2 := decodeJSON[struct{ Token string }](t, body).Token
	clk.add(31 * time.Minute)
	for name, tok := range map[string]string{"expired token": short, "its session": scoped2} {
		if status, _ := e.do("GET", "/v1/auth/me", tok, nil); status != http.StatusUnauthorized {
			t.Errorf("%s answers %d", name, status)
		}
	}

	// A revoked agent's old token does not come back through an overlap.
	status, body = e.do("POST", "/v1/agents/bot/rotate", owner, nil)
	cur := decodeJSON[agentToken](t, body).Token
	e.do("POST", "/v1/agents/bot/revoke", owner, nil)
	status, body = e.do("POST", "/v1/agents/bot/rotate", owner, map[string]any{"overlap_seconds": 600})
	want(t, status, http.StatusOK, body, "")
	if status, _ := e.do("GET", "/v1/auth/me", cur, nil); status != http.StatusUnauthorized {
		t.Errorf("a revoked token came back through the overlap: %d", status)
	}
}

// A rotation keeps the token's lifetime unless it names another; 0 names
// "never", which later rotations keep in turn.
func TestAgentRotationKeepsLifetime(t *testing.T) {
	e, clk := newClockEnv(t)
	_, owner := e.user("owner@example.com", domain.InstanceOwner)
	status, body := e.do("POST", "/v1/agents", owner, map[string]any{"name": "bot", "ttl_seconds": 3600})
	want(t, status, http.StatusCreated, body, "")
	steps := []struct {
		name    string
		body    map[string]any
		wantTTL int
	}{
		{"no body keeps the created lifetime", nil, 3600},
		{"an overlap alone keeps it", map[string]any{"overlap_seconds": 60}, 3600},
		{"a named lifetime replaces it", map[string]any{"ttl_seconds": 600}, 600},
		{"and is kept next time", map[string]any{}, 600},
		{"0 means never", map[string]any{"ttl_seconds": 0}, 0},
		{"never is kept", nil, 0},
	}
	for _, st := range steps {
		clk.add(time.Minute)
		var in any
		if st.body != nil {
			in = st.body
		}
		status, body := e.do("POST", "/v1/agents/bot/rotate", owner, in)
		want(t, status, http.StatusOK, body, "")
		got := decodeJSON[agentToken](t, body).Agent
		if got.TokenTTLSeconds != st.wantTTL {
			t.Errorf("%s: token_ttl_seconds %d, want %d", st.name, got.TokenTTLSeconds, st.wantTTL)
		}
		switch {
		case st.wantTTL == 0 && got.TokenExpiresAt != nil:
			t.Errorf("%s: expires at %v, want never", st.name, got.TokenExpiresAt)
		case st.wantTTL > 0 && (got.TokenExpiresAt == nil || !got.TokenExpiresAt.Equal(clk.now().Add(time.Duration(st.wantTTL)*time.Second).UTC().Truncate(time.Second))):
			t.Errorf("%s: expires at %v, want %v from now", st.name, got.TokenExpiresAt, time.Duration(st.wantTTL)*time.Second)
		}
	}
}

func TestAgentGetRenameRole(t *testing.T) {
	e := newEnv(t)
	_, owner := e.user("owner@example.com", domain.InstanceOwner)
	status, body := e.do("POST", "/v1/agents", owner, map[string]any{"name": "bot"})
	want(t, status, http.StatusCreated, body, "")
	tok := decodeJSON[agentToken](t, body).Token
	e.do("POST", "/v1/agents", owner, map[string]any{"name": "taken"})
	if status, _ := e.do("GET", "/v1/auth/me", tok, nil); status != http.StatusOK {
		t.Fatal("agent token does not work")
	}

	status, body = e.do("GET", "/v1/agents/bot", owner, nil)
	want(t, status, http.StatusOK, body, "")
	if !strings.Contains(string(body), `"last_used_at"`) || strings.Contains(string(body), tok) {
		t.Errorf("get-agent: %s", body)
	}
	tests := []struct {
		name       string
		path       string
		body       map[string]any
		wantStatus int
		wantCode   string
	}{
		{"rename-taken", "bot", map[string]any{"name": "taken"}, 409, domain.CodeAlreadyExists},
		{"rename-bad", "bot", map[string]any{"name": "Bad Name"}, 422, domain.CodeInvalidInput},
		{"missing", "nope", map[string]any{"name": "x"}, 404, domain.CodeNotFound},
		{"rename", "bot", map[string]any{"name": "robot"}, 200, ""},
		{"disable", "robot", map[string]any{"role": "no-access"}, 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := e.do("PATCH", "/v1/agents/"+tc.path, owner, tc.body)
			want(t, status, tc.wantStatus, body, tc.wantCode)
		})
	}
	status, body = e.do("GET", "/v1/auth/me", tok, nil)
	want(t, status, http.StatusOK, body, "")
	if !strings.Contains(string(body), `"name":"robot"`) || !strings.Contains(string(body), `"role":"no-access"`) {
		t.Errorf("renamed, disabled agent: %s", body)
	}
	if status, _ := e.do("GET", "/v1/credentials?vault=default", tok, nil); status != http.StatusForbidden {
		t.Errorf("a no-access agent reads credentials: %d", status)
	}
}

func TestLeaveVault(t *testing.T) {
	e := newEnv(t)
	ownerID, owner := e.user("owner@example.com", domain.InstanceOwner)
	memberID, member := e.user("member@example.com", domain.InstanceMember)
	def, err := e.st.VaultByName(context.Background(), "default")
	if err != nil {
		t.Fatal(err)
	}
	e.grant(def.ID, store.PrincipalUser, memberID, domain.VaultMember)
	_ = ownerID

	status, body := e.do("POST", "/v1/vaults/default/leave", owner, nil)
	want(t, status, http.StatusConflict, body, domain.CodeLastAdmin)
	status, body = e.do("POST", "/v1/vaults/default/leave", member, nil)
	want(t, status, http.StatusOK, body, "")
	if status, _ := e.do("GET", "/v1/credentials?vault=default", member, nil); status != http.StatusForbidden {
		t.Errorf("after leaving, the member reads the vault: %d", status)
	}
	status, body = e.do("POST", "/v1/vaults/default/leave", member, nil)
	want(t, status, http.StatusForbidden, body, domain.CodeForbidden)
	// With a second admin, the first may leave.
	e.grant(def.ID, store.PrincipalUser, memberID, domain.VaultAdmin)
	status, body = e.do("POST", "/v1/vaults/default/leave", owner, nil)
	want(t, status, http.StatusOK, body, "")
}

func TestUsersListShowsVaultsAndLastLogin(t *testing.T) {
	e := newEnv(t)
	_, owner := e.user("owner@example.com", domain.InstanceOwner)
	e.login("owner@example.com", "password1", "x")
	status, body := e.do("GET", "/v1/users", owner, nil)
	want(t, status, http.StatusOK, body, "")
	if !strings.Contains(string(body), `"vaults":[{"vault":"default","role":"admin"}]`) || !strings.Contains(string(body), `"last_login_at"`) {
		t.Errorf("users: %s", body)
	}
}

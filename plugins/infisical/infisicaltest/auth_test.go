package infisicaltest_test

import (
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/plugins/infisical/infisicaltest"
)

func TestLogin(t *testing.T) {
	tests := []struct {
		name        string
		path        string
		body        string
		wantStatus  int
		wantError   string
		wantMessage string
		wantMethod  infisicaltest.AuthMethod
	}{
		{"universal-ok", "universal-auth", `{"clientId":"client-id-1","clientSecret":"client-secret-1"}`, 200, "", "", infisicaltest.AuthUniversal},
		{"universal-org-slug-accepted", "universal-auth", `{"clientId":"client-id-1","clientSecret":"client-secret-1","organizationSlug":"acme"}`, 200, "", "", infisicaltest.AuthUniversal},
		{"universal-wrong-secret", "universal-auth", `{"clientId":"client-id-1","clientSecret":"nope"}`, 401, "UnauthorizedError", "Invalid credentials", ""},
		{"universal-unknown-client", "universal-auth", `{"clientId":"who","clientSecret":"client-secret-1"}`, 401, "UnauthorizedError", "Invalid credentials", ""},
		{"universal-missing-secret", "universal-auth", `{"clientId":"client-id-1"}`, 422, "ValidationFailure", `[{"code":"invalid_type","expected":"string","received":"undefined","path":["clientSecret"],"message":"Required"}]`, ""},
		{"universal-empty-secret", "universal-auth", `{"clientId":"client-id-1","clientSecret":""}`, 422, "ValidationFailure", `[{"code":"too_small","minimum":1,"type":"string","path":["clientSecret"],"message":"String must contain at least 1 character(s)"}]`, ""},
		{"ldap-missing-all", "ldap-auth", `{}`, 422, "ValidationFailure", `[{"code":"invalid_type","expected":"string","received":"undefined","path":["identityId"],"message":"Required"},{"code":"invalid_type","expected":"string","received":"undefined","path":["username"],"message":"Required"},{"code":"invalid_type","expected":"string","received":"undefined","path":["password"],"message":"Required"}]`, ""},
		{"universal-bad-json", "universal-auth", `{"clientId":`, 400, "BadRequest", "Body is not valid JSON but content-type is set to 'application/json'", ""},
		{"universal-wrong-type", "universal-auth", `{"clientId":5,"clientSecret":"x"}`, 422, "ValidationFailure", `[{"code":"invalid_type","expected":"string","received":"number","path":["clientId"],"message":"Expected string, received number"}]`, ""},
		{"kubernetes-ok", "kubernetes-auth", `{"identityId":"identity-1","jwt":"k8s-sa-jwt"}`, 200, "", "", infisicaltest.AuthKubernetes},
		{"kubernetes-bad-jwt", "kubernetes-auth", `{"identityId":"identity-1","jwt":"other"}`, 401, "UnauthorizedError", "Access denied: failed to validate Kubernetes service account token", ""},
		{"kubernetes-not-configured", "kubernetes-auth", `{"identityId":"identity-2","jwt":"k8s-sa-jwt"}`, 404, "NotFound", "Kubernetes auth method not found for identity, did you configure Kubernetes auth?", ""},
		{"gcp-id-token-ok", "gcp-auth", `{"identityId":"identity-1","jwt":"gcp-id-token"}`, 200, "", "", infisicaltest.AuthGCPIDToken},
		{"gcp-iam-ok", "gcp-auth", `{"identityId":"identity-1","jwt":"gcp-iam-jwt"}`, 200, "", "", infisicaltest.AuthGCPIAM},
		{"gcp-iam-claims-ok", "gcp-auth", `{"identityId":"identity-2","jwt":"` + unsignedJWT(`{"sub":"sa@p.iam.gserviceaccount.com","aud":"identity-2"}`) + `"}`, 200, "", "", infisicaltest.AuthGCPIAM},
		{"gcp-iam-claims-wrong-aud", "gcp-auth", `{"identityId":"identity-2","jwt":"` + unsignedJWT(`{"sub":"sa@p.iam.gserviceaccount.com","aud":"identity-1"}`) + `"}`, 401, "UnauthorizedError", "Access denied: failed to validate GCP identity token", ""},
		{"ldap-ok", "ldap-auth", `{"identityId":"identity-1","username":"svc-broker","password":"ldap-pass"}`, 200, "", "", infisicaltest.AuthLDAP},
		{"ldap-wrong-password", "ldap-auth", `{"identityId":"identity-1","username":"svc-broker","password":"x"}`, 401, "UnauthorizedError", "Invalid credentials", ""},
		{"ldap-not-configured", "ldap-auth", `{"identityId":"nobody","username":"a","password":"b"}`, 404, "NotFound", "LDAP auth method not found for identity, did you configure LDAP auth?", ""},
		{"aws-not-configured", "aws-auth", `{"identityId":"identity-2","iamHttpRequestMethod":"POST","iamRequestBody":"x","iamRequestHeaders":"y"}`, 404, "NotFound", "AWS auth method not found for identity, did you configure AWS auth?", ""},
		{"aws-bad-body", "aws-auth", `{"identityId":"identity-1","iamHttpRequestMethod":"POST","iamRequestBody":"eA==","iamRequestHeaders":"e30="}`, 401, "UnauthorizedError", "Access denied: iamRequestBody is not base64 of Action=GetCallerIdentity&Version=2011-06-15", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := frozenFixture(t)
			e.AddIdentity(infisicaltest.Identity{ID: "identity-2", GCP: &infisicaltest.GCPAuth{ServiceAccountEmail: "sa@p.iam.gserviceaccount.com"}})
			a := do(t, e, "POST", "/api/v1/auth/"+tc.path+"/login", "", tc.body)
			if tc.wantStatus != 200 {
				wantError(t, a, tc.wantStatus, tc.wantError, tc.wantMessage)
				if n := e.Counts().TotalLogins(); n != 0 {
					t.Fatalf("logins = %d after a failed login", n)
				}
				return
			}
			var got struct {
				AccessToken       string `json:"accessToken"`
				ExpiresIn         int64  `json:"expiresIn"`
				AccessTokenMaxTTL int64  `json:"accessTokenMaxTTL"`
				TokenType         string `json:"tokenType"`
			}
			a.decode(t, &got)
			if a.status != 200 || got.AccessToken == "" || got.ExpiresIn != 2592000 || got.AccessTokenMaxTTL != 2592000 || got.TokenType != "Bearer" {
				t.Fatalf("got %d %s", a.status, a.body)
			}
			if n := e.Counts().Logins[tc.wantMethod]; n != 1 {
				t.Fatalf("logins[%s] = %d, want 1", tc.wantMethod, n)
			}
		})
	}
}

func unsignedJWT(claims string) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(`{"alg":"RS256"}`)) + "." + enc.EncodeToString([]byte(claims)) + ".sig"
}

func TestLogin_lockout(t *testing.T) {
	e := frozenFixture(t)
	e.AddIdentity(infisicaltest.Identity{ID: "locked", LDAP: &infisicaltest.LDAPAuth{Username: "u", Password: "p"}, LockoutAfter: 2, LockoutFor: time.Minute})
	bad := `{"identityId":"locked","username":"u","password":"wrong"}`
	good := `{"identityId":"locked","username":"u","password":"p"}`
	steps := []struct {
		body        string
		advance     time.Duration
		wantStatus  int
		wantMessage string
	}{
		{bad, 0, 401, "Invalid credentials"},
		{bad, 0, 401, "Invalid credentials"},
		{good, 0, 401, "This identity auth method is temporarily locked, please try again later"},
		{good, time.Minute, 200, ""},
	}
	for i, s := range steps {
		e.Clock().Advance(s.advance)
		a := do(t, e, "POST", "/api/v1/auth/ldap-auth/login", "", s.body)
		if a.status != s.wantStatus || (s.wantMessage != "" && a.errorMessage() != s.wantMessage) {
			t.Fatalf("step %d: got %d %s, want %d %q", i, a.status, a.body, s.wantStatus, s.wantMessage)
		}
	}
	if n := e.Counts(); n.LoginFailures != 3 || n.Logins[infisicaltest.AuthLDAP] != 1 {
		t.Fatalf("counts = %+v", n)
	}
}

func TestTokenUse(t *testing.T) {
	tests := []struct {
		name        string
		identity    infisicaltest.Identity
		prepare     func(e *infisicaltest.Emulator, tok string) string // returns the token to present
		wantStatus  int
		wantError   string
		wantMessage string
	}{
		{"ok", infisicaltest.Identity{}, nil, 200, "", ""},
		{"missing", infisicaltest.Identity{}, func(*infisicaltest.Emulator, string) string { return "" }, 401, "UnauthorizedError", "Token missing"},
		{"malformed", infisicaltest.Identity{}, func(*infisicaltest.Emulator, string) string { return "garbage" }, 403, "TokenError", "The provided access token is malformed. Please re-authenticate."},
		{"foreign-jwt", infisicaltest.Identity{}, func(*infisicaltest.Emulator, string) string { return "a.b.c" }, 403, "TokenError", "invalid signature"},
		{"expired-by-clock", infisicaltest.Identity{TTL: 10 * time.Second}, func(e *infisicaltest.Emulator, tok string) string {
			e.Clock().Advance(10 * time.Second)
			return tok
		}, 403, "TokenError", "Your token has expired. Please re-authenticate."},
		{"not-yet-expired", infisicaltest.Identity{TTL: 10 * time.Second}, func(e *infisicaltest.Emulator, tok string) string {
			e.Clock().Advance(9 * time.Second)
			return tok
		}, 200, "", ""},
		{"expired-401-variant", infisicaltest.Identity{}, func(e *infisicaltest.Emulator, tok string) string {
			e.SetExpiredTokenStatus(401)
			e.ExpireToken(tok)
			return tok
		}, 401, "UnauthorizedError", "Your token has expired. Please re-authenticate."},
		{"expired-by-knob", infisicaltest.Identity{}, func(e *infisicaltest.Emulator, tok string) string {
			e.ExpireTokens("identity-1")
			return tok
		}, 403, "TokenError", "Your token has expired. Please re-authenticate."},
		{"no-expiry", infisicaltest.Identity{TTL: infisicaltest.NoExpiry}, func(e *infisicaltest.Emulator, tok string) string {
			e.Clock().Advance(24 * 365 * time.Hour)
			return tok
		}, 200, "", ""},
		{"revoked", infisicaltest.Identity{}, func(e *infisicaltest.Emulator, tok string) string {
			e.RevokeTokens("identity-1")
			return tok
		}, 401, "UnauthorizedError", "No identity access token found"},
		// The first use (made below) spends the only allowed one.
		{"uses-limit", infisicaltest.Identity{NumUsesLimit: 1}, nil, 401, "UnauthorizedError", "Unable to renew because access token number of uses limit reached"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := frozenFixture(t)
			id := tc.identity
			id.ID, id.Universal = "identity-1", &infisicaltest.UniversalAuth{ClientID: clientID, ClientSecret: clientSecret}
			e.AddIdentity(id)
			tok := login(t, e)
			if tc.prepare != nil {
				tok = tc.prepare(e, tok)
			}
			if tc.name == "uses-limit" {
				if a := do(t, e, "GET", "/api/v1/workspace/"+projectID, tok, ""); a.status != 200 {
					t.Fatalf("first use: %d %s", a.status, a.body)
				}
			}
			a := do(t, e, "GET", "/api/v1/workspace/"+projectID, tok, "")
			if tc.wantStatus == 200 {
				if a.status != 200 {
					t.Fatalf("got %d %s", a.status, a.body)
				}
				return
			}
			wantError(t, a, tc.wantStatus, tc.wantError, tc.wantMessage)
		})
	}
}

// renewed is a login/renew answer.
type renewed struct {
	AccessToken       string `json:"accessToken"`
	ExpiresIn         int64  `json:"expiresIn"`
	AccessTokenMaxTTL int64  `json:"accessTokenMaxTTL"`
}

func renew(t *testing.T, e *infisicaltest.Emulator, tok string) (answer, renewed) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"accessToken": tok})
	a := do(t, e, "POST", "/api/v1/auth/token/renew", "", string(body))
	var r renewed
	if a.status == 200 {
		a.decode(t, &r)
	}
	return a, r
}

// A lease call resolves its token once, so it spends one use.
func TestTokenUse_oneUsePerRequest(t *testing.T) {
	e := frozenFixture(t)
	e.AddIdentity(infisicaltest.Identity{ID: "identity-1", Universal: &infisicaltest.UniversalAuth{ClientID: clientID, ClientSecret: clientSecret}, NumUsesLimit: 2})
	tok := login(t, e)
	l := mint(t, e, tok, "db-postgres")
	if a := do(t, e, "DELETE", "/api/v1/dynamic-secrets/leases/"+l.Lease.ID, tok, leaseOpBody(l.Lease.ID, "/")); a.status != 200 {
		t.Fatalf("second use: %d %s", a.status, a.body)
	}
	wantError(t, do(t, e, "GET", "/api/v1/workspace/"+projectID, tok, ""), 401, "UnauthorizedError", "Unable to renew because access token number of uses limit reached")
}

func TestTokenRenew(t *testing.T) {
	e := frozenFixture(t)
	e.AddIdentity(infisicaltest.Identity{ID: "identity-1", Universal: &infisicaltest.UniversalAuth{ClientID: clientID, ClientSecret: clientSecret}, TTL: 10 * time.Second, MaxTTL: 25 * time.Second})
	first := login(t, e)

	e.Clock().Advance(5 * time.Second)
	a, r := renew(t, e, first)
	if a.status != 200 || r.AccessToken == first || r.ExpiresIn != 10 || r.AccessTokenMaxTTL != 25 {
		t.Fatalf("renew 1: %d %s", a.status, a.body)
	}
	// The old string keeps working until its own expiry (t=10s), the new one after.
	e.Clock().Advance(4 * time.Second)
	if a := do(t, e, "GET", "/api/v1/workspace/"+projectID, first, ""); a.status != 200 {
		t.Fatalf("old token at 9s: %d", a.status)
	}
	e.Clock().Advance(2 * time.Second)
	wantError(t, do(t, e, "GET", "/api/v1/workspace/"+projectID, first, ""), 403, "TokenError", "Your token has expired. Please re-authenticate.")
	if a := do(t, e, "GET", "/api/v1/workspace/"+projectID, r.AccessToken, ""); a.status != 200 {
		t.Fatalf("renewed token at 11s: %d", a.status)
	}
	e.Clock().Advance(time.Second) // 12 s: 12+10 <= 25
	a, r2 := renew(t, e, r.AccessToken)
	if a.status != 200 {
		t.Fatalf("renew 2: %d %s", a.status, a.body)
	}
	// At 20 s, 20+10 > 25 would pass the max TTL: refused and the token deleted.
	e.Clock().Advance(8 * time.Second)
	a, _ = renew(t, e, r2.AccessToken)
	wantError(t, a, 401, "UnauthorizedError", "Failed to renew MI access token past its Max TTL expiration")
	wantError(t, do(t, e, "GET", "/api/v1/workspace/"+projectID, r2.AccessToken, ""), 401, "UnauthorizedError", "No identity access token found")
	if n := e.Counts().TokenRenews; n != 2 {
		t.Fatalf("renews = %d, want 2", n)
	}
	a, _ = renew(t, e, "not-a-token")
	wantError(t, a, 403, "TokenError", "The provided access token is malformed. Please re-authenticate.")
}

func TestTokenRenew_periodic(t *testing.T) {
	e := frozenFixture(t)
	e.AddIdentity(infisicaltest.Identity{ID: "identity-1", Universal: &infisicaltest.UniversalAuth{ClientID: clientID, ClientSecret: clientSecret}, Period: time.Minute})
	tok := login(t, e)
	for i := 0; i < 3; i++ {
		e.Clock().Advance(50 * time.Second)
		a, r := renew(t, e, tok)
		if a.status != 200 || r.ExpiresIn != 60 || r.AccessTokenMaxTTL != 1000000000 {
			t.Fatalf("renew %d: %d %s", i, a.status, a.body)
		}
		tok = r.AccessToken
	}
}

func TestTokenRevoke(t *testing.T) {
	e := frozenFixture(t)
	tok := login(t, e)
	body := `{"accessToken":"` + tok + `"}`
	wantError(t, do(t, e, "POST", "/api/v1/auth/token/revoke", "", body), 401, "UnauthorizedError", "Token missing")
	a := do(t, e, "POST", "/api/v1/auth/token/revoke", tok, body)
	if a.status != 200 || string(a.body) != `{"message":"Successfully revoked access token"}` {
		t.Fatalf("revoke: %d %s", a.status, a.body)
	}
	wantError(t, do(t, e, "GET", "/api/v1/workspace/"+projectID, tok, ""), 401, "UnauthorizedError", "No identity access token found")
	if n := e.Counts().TokenRevokes; n != 1 {
		t.Fatalf("revokes = %d", n)
	}
}

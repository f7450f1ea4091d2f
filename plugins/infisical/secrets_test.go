//go:build !wasip1

package main

import (
	"encoding/json"
	"maps"
	"net/http"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/plugins/infisical/infisicaltest"
	"github.com/agent-vault/agent-vault/sdk"
)

func TestSync_ok(t *testing.T) {
	f := newFixture(t)
	got, err := store{}.Sync(ctx(t), f.req())
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"API_KEY": "v1", "DB_URL": "postgres://x"}; !maps.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	reqs := f.emu.RequestsTo(infisicaltest.RouteListSecrets)
	if len(reqs) != 1 {
		t.Fatalf("%d list requests", len(reqs))
	}
	// The query parameters of wire doc §5.2, empty workspaceSlug included.
	if got, want := reqs[0].Query.Encode(), "environment=dev&expandSecretReferences=true&include_imports=false&recursive=false&secretPath=%2Fapp&workspaceId=p-1&workspaceSlug="; got != want {
		t.Fatalf("query %s, want %s", got, want)
	}
	if f.emu.Counts().TotalLogins() != 1 {
		t.Fatalf("logins %d", f.emu.Counts().TotalLogins())
	}
	// The token is cached: a second sync logs in no more.
	if _, err := (store{}).Sync(ctx(t), f.req()); err != nil {
		t.Fatal(err)
	}
	if n := f.emu.Counts().TotalLogins(); n != 1 {
		t.Fatalf("logins after two syncs: %d", n)
	}
}

// TestSyncProbe_errors: every upstream failure maps to its stable code and
// a message that says what failed.
func TestSyncProbe_errors(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(f *fixture)
		cfg     json.RawMessage
		env     map[string]string
		wantErr string // "code: message"
		probe   bool   // probe only (sync would pass)
	}{
		{name: "unknown-project", cfg: cfgOf("nope", "dev", "/app"),
			wantErr: "external_store_not_found: listing secrets at project nope, environment dev, path /app: HTTP 404: Project with ID 'nope' not found"},
		{name: "unknown-environment", cfg: cfgOf("p-1", "qa", "/app"),
			wantErr: "external_store_not_found: listing secrets at project p-1, environment qa, path /app: HTTP 404: Folder with path '/app' in environment 'qa' was not found. Please ensure the environment slug and secret path is correct."},
		{name: "unknown-path", cfg: cfgOf("p-1", "dev", "/nope"),
			wantErr: "external_store_not_found: listing secrets at project p-1, environment dev, path /nope: HTTP 404: Folder with path '/nope' in environment 'dev' was not found. Please ensure the environment slug and secret path is correct."},
		{name: "legacy-unknown-environment", probe: true, cfg: cfgOf("p-1", "qa", "/app"),
			setup:   func(f *fixture) { f.emu.SetLegacyMissingPath(true) },
			wantErr: "external_store_not_found: environment \"qa\" does not exist in project p-1"},
		{name: "legacy-unknown-path", probe: true, cfg: cfgOf("p-1", "dev", "/nope"),
			setup:   func(f *fixture) { f.emu.SetLegacyMissingPath(true) },
			wantErr: "external_store_not_found: checking the folder at project p-1, environment dev, path /nope: HTTP 404: Folder with path '/nope' in environment 'dev' not found"},
		{name: "not-member", setup: func(f *fixture) { f.emu.SetAccess("id-1", "p-1", infisicaltest.Access{NotMember: true}) },
			wantErr: "external_store_forbidden: listing secrets at project p-1, environment dev, path /app: HTTP 403: You are not member of this project (the machine identity may not read this)"},
		{name: "cannot-read", setup: func(f *fixture) { f.emu.SetAccess("id-1", "p-1", infisicaltest.Access{CannotReadValues: true}) },
			wantErr: "external_store_forbidden: listing secrets at project p-1, environment dev, path /app: HTTP 403: You do not have permission to read secret values (the machine identity may not read this)"},
		{name: "login-failed", env: map[string]string{envUniversalSecret: "wrong"},
			wantErr: "external_store_auth_failed: universal-auth login failed: HTTP 401: Invalid credentials"},
		{name: "no-auth-method", env: map[string]string{envUniversalSecret: ""},
			wantErr: "external_store_auth_failed: no complete Infisical auth method: set INFISICAL_UNIVERSAL_AUTH_CLIENT_ID and INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET, or INFISICAL_KUBERNETES_IDENTITY_ID, or INFISICAL_AWS_IAM_AUTH_IDENTITY_ID with AWS credentials, or INFISICAL_GCP_AUTH_IDENTITY_ID, or INFISICAL_LDAP_AUTH_IDENTITY_ID, INFISICAL_LDAP_AUTH_USERNAME and INFISICAL_LDAP_AUTH_PASSWORD"},
		{name: "upstream-500", setup: func(f *fixture) { f.emu.Inject(infisicaltest.RouteListSecrets, infisicaltest.Status(500)) },
			wantErr: "external_store_unreachable: listing secrets at project p-1, environment dev, path /app: HTTP 500: Something went wrong"},
		{name: "login-500", setup: func(f *fixture) { f.emu.Inject(infisicaltest.RouteUniversalAuthLogin, infisicaltest.HTMLError(502)) },
			wantErr: "external_store_unreachable: universal-auth login: HTTP 502"},
		{name: "non-json", setup: func(f *fixture) { f.emu.Inject(infisicaltest.RouteListSecrets, infisicaltest.NonJSON()) },
			wantErr: "external_store_unreachable: listing secrets at project p-1, environment dev, path /app: Infisical answered HTTP 200 with \"text/plain\" instead of JSON"},
		{name: "malformed", setup: func(f *fixture) {
			f.emu.Inject(infisicaltest.RouteListSecrets, infisicaltest.Raw(200, "application/json", `{"secrets":[{"secretKey":1}]}`))
		},
			wantErr: "external_store_unreachable: listing secrets at project p-1, environment dev, path /app: malformed answer from Infisical: invalid JSON at byte 25: want a string"},
		{name: "truncated", setup: func(f *fixture) {
			f.emu.Inject(infisicaltest.RouteListSecrets, infisicaltest.Raw(200, "application/json", `{"secrets":[`))
		},
			wantErr: "external_store_unreachable: listing secrets at project p-1, environment dev, path /app: malformed answer from Infisical: invalid JSON at byte 12: unexpected end"},
		{name: "down", setup: func(f *fixture) { f.emu.Stop() },
			wantErr: "external_store_unreachable"},
		{name: "bad-key", setup: func(f *fixture) {
			f.emu.SetSecrets("p-1", "dev", "/app", map[string]string{"GOOD": "x", "database-url": "y", "stripeKey": "z"})
		}, wantErr: "external_store_invalid_key: Infisical key \"database-url\" at project p-1, environment dev, path /app does not match ^[A-Z][A-Z0-9_]*$ (2 bad keys); rename it upstream"},
		{name: "invalid-path-chars", cfg: cfgOf("p-1", "dev", "/a b"),
			wantErr: "invalid_store_config: listing secrets at project p-1, environment dev, path /a b: HTTP 400: Invalid secret path. Only alphanumeric characters, dashes, and underscores are allowed."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			if tc.setup != nil {
				tc.setup(f)
			}
			req := f.req()
			if tc.cfg != nil {
				req.Config = tc.cfg
			}
			if tc.env != nil {
				env := maps.Clone(f.env)
				maps.Copy(env, tc.env)
				req.Env = env
			}
			ops := map[string]func() error{"probe": func() error { return store{}.Probe(ctx(t), req) }}
			if !tc.probe {
				ops["sync"] = func() error { _, err := store{}.Sync(ctx(t), req); return err }
			}
			for op, run := range ops {
				got := errText(run())
				if tc.name == "down" {
					got = codeOf(run())
				}
				if got != tc.wantErr {
					t.Errorf("%s:\n got %s\nwant %s", op, got, tc.wantErr)
				}
			}
		})
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestToken_errorRelogin: an expired token (403 TokenError) makes the
// plugin log in again once and retry; a second token error is an auth
// failure, not a loop.
func TestToken_errorRelogin(t *testing.T) {
	f := newFixture(t)
	if _, err := (store{}).Sync(ctx(t), f.req()); err != nil {
		t.Fatal(err)
	}
	f.emu.ExpireTokens("id-1")
	if _, err := (store{}).Sync(ctx(t), f.req()); err != nil {
		t.Fatalf("sync after expiry: %v", err)
	}
	if n := f.emu.Counts().Logins[infisicaltest.AuthUniversal]; n != 2 {
		t.Fatalf("logins %d, want 2", n)
	}
	f.emu.Inject(infisicaltest.RouteListSecrets, infisicaltest.TokenExpired())
	_, err := store{}.Sync(ctx(t), f.req())
	if got, want := errText(err), "external_store_auth_failed: listing secrets at project p-1, environment dev, path /app: HTTP 403: Your token has expired. Please re-authenticate. (the access token was refused after a fresh login)"; got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
	if n := f.emu.Counts().Logins[infisicaltest.AuthUniversal]; n != 3 {
		t.Fatalf("logins %d, want 3 (one retry only)", n)
	}
	if n := f.emu.Hits(infisicaltest.RouteListSecrets); n != 5 {
		t.Fatalf("list requests %d, want 5 (one retry per sync)", n)
	}
}

// TestToken_renewAndRelogin: a token near expiry is renewed; near the max
// TTL the plugin logs in again instead.
func TestToken_renewAndRelogin(t *testing.T) {
	f := newFixture(t, infisicaltest.WithFrozenClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)))
	f.emu.AddIdentity(infisicaltest.Identity{ID: "id-1", Universal: &infisicaltest.UniversalAuth{ClientID: "cid", ClientSecret: "csecret"},
		TTL: 100 * time.Second, MaxTTL: 400 * time.Second})
	sync := func() {
		t.Helper()
		if _, err := (store{}).Sync(ctx(t), f.req()); err != nil {
			t.Fatal(err)
		}
	}
	type counts struct{ logins, renews int }
	now := func() counts {
		c := f.emu.Counts()
		return counts{c.Logins[infisicaltest.AuthUniversal], c.TokenRenews}
	}
	steps := []struct {
		advance time.Duration
		want    counts
	}{
		{0, counts{1, 0}},
		{50 * time.Second, counts{1, 0}}, // 50 s left: cached
		{30 * time.Second, counts{1, 1}}, // 20 s left (< 25 s margin): renewed
		{80 * time.Second, counts{1, 2}}, // t=160: renewed again (240 s of max TTL left)
		{80 * time.Second, counts{1, 3}}, // t=240: renewed (160 s left)
		{80 * time.Second, counts{2, 3}}, // t=320: 80 s of max TTL left < TTL: log in again
		{10 * time.Second, counts{2, 3}}, // cached
	}
	for i, s := range steps {
		f.emu.Clock().Advance(s.advance)
		sync()
		if got := now(); got != s.want {
			t.Fatalf("step %d: %+v, want %+v", i, got, s.want)
		}
	}
}

var _ = http.MethodGet
var _ sdk.Request

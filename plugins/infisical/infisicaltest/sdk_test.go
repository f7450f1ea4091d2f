package infisicaltest_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	infisical "github.com/infisical/go-sdk"
	sdkerrors "github.com/infisical/go-sdk/packages/errors"

	"github.com/agent-vault/agent-vault/plugins/infisical/infisicaltest"
)

const (
	projectID = "5f3e0c1a-0000-4000-8000-00000000abcd"
	slug      = "my-proj-abc"
	clientID  = "client-id-1"
	// Test credentials of the emulator, not real ones.
	clientSecret = "client-secret-1"
)

// fixture is an emulator with one identity (every login method), one
// project with secrets and a dynamic secret.
func fixture(t *testing.T) *infisicaltest.Emulator {
	t.Helper()
	e := infisicaltest.New(t)
	populate(e)
	return e
}

func populate(e *infisicaltest.Emulator) {
	e.AddIdentity(infisicaltest.Identity{
		ID:         "identity-1",
		Universal:  &infisicaltest.UniversalAuth{ClientID: clientID, ClientSecret: clientSecret},
		Kubernetes: &infisicaltest.KubernetesAuth{JWT: "k8s-sa-jwt"},
		LDAP:       &infisicaltest.LDAPAuth{Username: "svc-broker", Password: "ldap-pass"},
		GCP:        &infisicaltest.GCPAuth{IDToken: "gcp-id-token", IAMJWT: "gcp-iam-jwt"},
		AWS:        &infisicaltest.AWSAuth{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", Region: "eu-west-1"},
	})
	e.AddProject(infisicaltest.Project{ID: projectID, Slug: slug, Name: "My Proj", Environments: []string{"dev", "prod"}})
	e.SetSecrets(projectID, "dev", "/", map[string]string{"DB_URL": "postgres://db/app", "API_KEY": "k-1"})
	e.AddDynamicSecret(projectID, "dev", "/", infisicaltest.DynamicSecret{Name: "db-postgres", DefaultTTL: time.Hour, MaxTTL: 24 * time.Hour})
}

// newClient is the unmodified SDK client pointed at the emulator, with its
// background token refresh tied to the test.
func newClient(t *testing.T, e *infisicaltest.Emulator, cfg infisical.Config) infisical.InfisicalClientInterface {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cfg.SiteUrl = e.URL()
	cfg.SilentMode = true
	return infisical.NewInfisicalClient(ctx, cfg)
}

func TestSDK_universalLoginListSecretsAndLeases(t *testing.T) {
	e := fixture(t)
	c := newClient(t, e, infisical.Config{})

	cred, err := c.Auth().UniversalAuthLogin(clientID, clientSecret)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	if cred.ExpiresIn != 2592000 || cred.AccessTokenMaxTTL != 2592000 || cred.TokenType != "Bearer" || cred.AccessToken == "" {
		t.Fatalf("login credential = %+v", cred)
	}

	res, err := c.Secrets().ListSecrets(infisical.ListSecretsOptions{ProjectID: projectID, Environment: "dev", SecretPath: "/", ExpandSecretReferences: true})
	if err != nil {
		t.Fatalf("list secrets: %v", err)
	}
	got := map[string]string{}
	for _, s := range res.Secrets {
		got[s.SecretKey] = s.SecretValue
	}
	if len(got) != 2 || got["DB_URL"] != "postgres://db/app" || got["API_KEY"] != "k-1" {
		t.Fatalf("secrets = %v", got)
	}
	if res.ETag == "" {
		t.Fatal("no ETag")
	}

	dyn, err := c.DynamicSecrets().List(infisical.ListDynamicSecretsRootCredentialsOptions{ProjectSlug: slug, EnvironmentSlug: "dev", SecretPath: "/"})
	if err != nil {
		t.Fatalf("list dynamic: %v", err)
	}
	if len(dyn) != 1 || dyn[0].Name != "db-postgres" || dyn[0].DefaultTTL != "1h" || dyn[0].MaxTTL != "1d" {
		t.Fatalf("dynamic = %+v", dyn)
	}

	data, ds, lease, err := c.DynamicSecrets().Leases().Create(infisical.CreateDynamicSecretLeaseOptions{DynamicSecretName: "db-postgres", ProjectSlug: slug, EnvironmentSlug: "dev", SecretPath: "/"})
	if err != nil {
		t.Fatalf("create lease: %v", err)
	}
	if data["DB_USERNAME"] != "inf-user-1" || data["DB_PASSWORD"] != "inf-pass-1" || ds.Name != "db-postgres" || lease.Id == "" {
		t.Fatalf("lease = %+v %+v %v", lease, ds, data)
	}
	if d := lease.ExpireAt.Sub(lease.CreatedAt); d != time.Hour {
		t.Fatalf("lease lifetime = %v, want 1h", d)
	}

	renewed, err := c.DynamicSecrets().Leases().RenewById(infisical.RenewDynamicSecretLeaseOptions{LeaseId: lease.Id, ProjectSlug: slug, EnvironmentSlug: "dev", SecretPath: "/"})
	if err != nil {
		t.Fatalf("renew lease: %v", err)
	}
	if !renewed.ExpireAt.Equal(lease.ExpireAt.Add(time.Hour)) {
		t.Fatalf("renewed expireAt = %v, want %v", renewed.ExpireAt, lease.ExpireAt.Add(time.Hour))
	}

	deleted, err := c.DynamicSecrets().Leases().DeleteById(infisical.DeleteDynamicSecretLeaseOptions{LeaseId: lease.Id, ProjectSlug: slug, EnvironmentSlug: "dev", SecretPath: "/"})
	if err != nil {
		t.Fatalf("revoke lease: %v", err)
	}
	if deleted.Id != lease.Id {
		t.Fatalf("revoked %q, want %q", deleted.Id, lease.Id)
	}

	n := e.Counts()
	if n.Logins[infisicaltest.AuthUniversal] != 1 || n.SecretLists != 1 || n.DynamicLists != 1 || n.LeasesMinted != 1 || n.LeasesRenewed != 1 || n.LeasesRevoked != 1 {
		t.Fatalf("counts = %+v", n)
	}
	if len(e.Leases()) != 0 {
		t.Fatalf("leases left: %+v", e.Leases())
	}
	// The SDK's bearer token and headers reached the emulator as on the real server.
	for _, r := range e.RequestsTo(infisicaltest.RouteListSecrets) {
		if r.Header.Get("Authorization") != "Bearer "+cred.AccessToken || r.Header.Get("User-Agent") != "infisical-go-sdk" {
			t.Fatalf("list request headers = %v", r.Header)
		}
	}
	if h := e.RequestsTo(infisicaltest.RouteUniversalAuthLogin)[0].Header.Get("Authorization"); h != "" {
		t.Fatalf("login carried Authorization %q", h)
	}
}

func TestSDK_otherLogins(t *testing.T) {
	e := fixture(t)
	dir := t.TempDir()
	tokenPath := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenPath, []byte("k8s-sa-jwt"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		login  func(a infisical.AuthInterface) (infisical.MachineIdentityCredential, error)
		method infisicaltest.AuthMethod
	}{
		{"kubernetes", func(a infisical.AuthInterface) (infisical.MachineIdentityCredential, error) {
			return a.KubernetesAuthLogin("identity-1", tokenPath)
		}, infisicaltest.AuthKubernetes},
		{"ldap", func(a infisical.AuthInterface) (infisical.MachineIdentityCredential, error) {
			return a.LdapAuthLogin("identity-1", "svc-broker", "ldap-pass")
		}, infisicaltest.AuthLDAP},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, e, infisical.Config{})
			if _, err := tc.login(c.Auth()); err != nil {
				t.Fatalf("login: %v", err)
			}
			if got := e.Counts().Logins[tc.method]; got != 1 {
				t.Fatalf("logins[%s] = %d, want 1", tc.method, got)
			}
			if _, err := c.Secrets().ListSecrets(infisical.ListSecretsOptions{ProjectID: projectID, Environment: "dev"}); err != nil {
				t.Fatalf("list after login: %v", err)
			}
		})
	}
}

func TestSDK_faultsSurfaceAsSDKErrors(t *testing.T) {
	tests := []struct {
		name        string
		fault       infisicaltest.Fault
		wantStatus  int    // 0: want a RequestError
		wantMessage string // APIError.ErrorMessage
	}{
		{"status-500", infisicaltest.Status(500), 500, "Something went wrong"},
		{"token-expired", infisicaltest.TokenExpired(), 403, "Your token has expired. Please re-authenticate."},
		{"html-502", infisicaltest.HTMLError(502), 502, ""},
		{"custom-404", infisicaltest.Error(404, "SecretPathNotFound", "Folder with path '/x' in environment 'dev' was not found. Please ensure the environment slug and secret path is correct."), 404, "Folder with path '/x' in environment 'dev' was not found. Please ensure the environment slug and secret path is correct."},
		{"malformed-json", infisicaltest.MalformedJSON(), 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := fixture(t)
			c := newClient(t, e, infisical.Config{})
			if _, err := c.Auth().UniversalAuthLogin(clientID, clientSecret); err != nil {
				t.Fatal(err)
			}
			e.Inject(infisicaltest.RouteListSecrets, tc.fault.Times(1))
			_, err := c.Secrets().ListSecrets(infisical.ListSecretsOptions{ProjectID: projectID, Environment: "dev"})
			if tc.wantStatus == 0 {
				var re *sdkerrors.RequestError
				if !errors.As(err, &re) {
					t.Fatalf("err = %T %v, want *errors.RequestError", err, err)
				}
			} else {
				var ae *sdkerrors.APIError
				if !errors.As(err, &ae) {
					t.Fatalf("err = %T %v, want *errors.APIError", err, err)
				}
				if ae.StatusCode != tc.wantStatus || ae.ErrorMessage != tc.wantMessage || ae.Operation != "CallListSecretsV3Raw" {
					t.Fatalf("APIError = %+v, want status %d message %q", ae, tc.wantStatus, tc.wantMessage)
				}
				if tc.wantStatus != 502 && ae.ReqId == "" {
					t.Fatalf("APIError has no reqId: %+v", ae)
				}
			}
			// One fault, one call: the next list succeeds.
			if _, err := c.Secrets().ListSecrets(infisical.ListSecretsOptions{ProjectID: projectID, Environment: "dev"}); err != nil {
				t.Fatalf("list after fault: %v", err)
			}
		})
	}
}

var _ = http.StatusOK

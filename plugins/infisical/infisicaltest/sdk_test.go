package infisicaltest_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-resty/resty/v2"
	infisical "github.com/infisical/go-sdk"
	sdkauth "github.com/infisical/go-sdk/packages/api/auth"
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

// metadataEmu answers the GCP metadata server's identity endpoint for the
// SDK's GCP ID-token flow. Go reads HTTP_PROXY once per process, so it is
// set before any test runs; loopback traffic is never proxied, so every
// other test reaches its own emulator directly.
var metadataEmu *infisicaltest.Emulator

func TestMain(m *testing.M) {
	metadataEmu = infisicaltest.NewUnstarted()
	u, err := metadataEmu.Start()
	if err != nil {
		panic(err)
	}
	os.Setenv("HTTP_PROXY", u)
	os.Setenv("http_proxy", u)
	os.Unsetenv("NO_PROXY")
	os.Unsetenv("no_proxy")
	code := m.Run()
	metadataEmu.Close()
	os.Exit(code)
}

func TestSDK_gcpIDTokenLogin(t *testing.T) {
	e := metadataEmu
	e.AddIdentity(infisicaltest.Identity{ID: "gcp-identity", GCP: &infisicaltest.GCPAuth{IDToken: "gcp-id-token-for-sdk"}})
	c := newClient(t, e, infisical.Config{})
	before := e.Counts().Logins[infisicaltest.AuthGCPIDToken]
	if _, err := c.Auth().GcpIdTokenAuthLogin("gcp-identity"); err != nil {
		t.Fatalf("GCP ID-token login: %v", err)
	}
	if got := e.Counts().Logins[infisicaltest.AuthGCPIDToken]; got != before+1 {
		t.Fatalf("gcp id-token logins = %d, want %d", got, before+1)
	}
	md := e.RequestsTo(infisicaltest.RouteGCPMetadata)
	if len(md) == 0 || md[len(md)-1].Header.Get("Metadata-Flavor") != "Google" || md[len(md)-1].Query.Get("audience") != "gcp-identity" {
		t.Fatalf("metadata requests = %+v", md)
	}
}

func TestSDK_awsIAMLogin(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SESSION_TOKEN", "")
	e := fixture(t)

	// The SDK signs the STS request locally; the emulator verifies the
	// signature with the same secret, so both sides agree on SigV4.
	c := newClient(t, e, infisical.Config{})
	if _, err := c.Auth().AwsIamAuthLogin("identity-1"); err != nil {
		t.Fatalf("AWS IAM login: %v", err)
	}
	if got := e.Counts().Logins[infisicaltest.AuthAWSIAM]; got != 1 {
		t.Fatalf("aws logins = %d", got)
	}

	// Another secret key: the signature no longer matches.
	e.AddIdentity(infisicaltest.Identity{ID: "identity-1", AWS: &infisicaltest.AWSAuth{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "other", Region: "eu-west-1"}})
	_, err := newClient(t, e, infisical.Config{}).Auth().AwsIamAuthLogin("identity-1")
	var ae *sdkerrors.APIError
	if !errors.As(err, &ae) || ae.StatusCode != 401 || ae.ErrorMessage != "Access denied: the request signature does not match" || ae.Operation != "CallAWSIamAuthLogin" {
		t.Fatalf("err = %v", err)
	}
}

func TestSDK_renewAndRevoke(t *testing.T) {
	e := fixture(t)
	// With the default TTL = max TTL a renew would pass the max TTL (the
	// server refuses it, which is why the SDK then logs in again).
	e.AddIdentity(infisicaltest.Identity{ID: "identity-1", Universal: &infisicaltest.UniversalAuth{ClientID: clientID, ClientSecret: clientSecret}, TTL: time.Hour, MaxTTL: 24 * time.Hour})
	c := newClient(t, e, infisical.Config{})
	cred, err := c.Auth().UniversalAuthLogin(clientID, clientSecret)
	if err != nil {
		t.Fatal(err)
	}
	// The SDK renews through this exported call when its timer fires.
	hc := resty.New().SetBaseURL(e.URL() + "/api")
	ren, err := sdkauth.CallRenewAccessToken(hc, sdkauth.RenewAccessTokenRequest{AccessToken: cred.AccessToken})
	if err != nil || ren.AccessToken == "" || ren.AccessToken == cred.AccessToken || ren.ExpiresIn != 3600 || ren.AccessTokenMaxTTL != 86400 {
		t.Fatalf("renew = %+v, %v", ren, err)
	}
	if r := e.RequestsTo(infisicaltest.RouteTokenRenew); len(r) != 1 || r[0].Header.Get("Authorization") != "" {
		t.Fatalf("renew requests = %+v", r)
	}

	if err := c.Auth().RevokeAccessToken(); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	// The SDK forgot its token: the next call goes out without one.
	_, err = c.Secrets().ListSecrets(infisical.ListSecretsOptions{ProjectID: projectID, Environment: "dev"})
	var ae *sdkerrors.APIError
	if !errors.As(err, &ae) || ae.StatusCode != 401 || ae.ErrorMessage != "Token missing" {
		t.Fatalf("list after revoke: %v", err)
	}
	if n := e.Counts(); n.TokenRenews != 1 || n.TokenRevokes != 1 {
		t.Fatalf("counts = %+v", n)
	}
}

func TestSDK_moreFaults(t *testing.T) {
	e := fixture(t)
	c := newClient(t, e, infisical.Config{})
	if _, err := c.Auth().UniversalAuthLogin(clientID, clientSecret); err != nil {
		t.Fatal(err)
	}
	opts := infisical.ListSecretsOptions{ProjectID: projectID, Environment: "dev"}

	t.Run("422-message-is-raw-body", func(t *testing.T) {
		e.Inject(infisicaltest.RouteListSecrets, infisicaltest.Error(422, "ValidationFailure", "bad").Times(1))
		_, err := c.Secrets().ListSecrets(opts)
		var ae *sdkerrors.APIError
		if !errors.As(err, &ae) || ae.StatusCode != 422 || !strings.HasPrefix(ae.ErrorMessage, `{"reqId":"req-emu`) || !strings.HasSuffix(ae.ErrorMessage, `"message":[{"code":"custom","path":[],"message":"bad"}],"error":"ValidationFailure"}`) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("non-json-gives-zero-values", func(t *testing.T) {
		e.Inject(infisicaltest.RouteListSecrets, infisicaltest.NonJSON().Times(1))
		res, err := c.Secrets().ListSecrets(opts)
		if err != nil || len(res.Secrets) != 0 {
			t.Fatalf("got %d secrets, %v; want 0, nil", len(res.Secrets), err)
		}
	})
	t.Run("304-not-modified", func(t *testing.T) {
		res, err := c.Secrets().ListSecrets(opts)
		if err != nil {
			t.Fatal(err)
		}
		again := opts
		again.IfNoneMatch = res.ETag
		_, err = c.Secrets().ListSecrets(again)
		var nm *sdkerrors.NotModifiedError
		if !errors.As(err, &nm) {
			t.Fatalf("err = %v, want NotModifiedError", err)
		}
	})
	t.Run("retrieve", func(t *testing.T) {
		s, err := c.Secrets().Retrieve(infisical.RetrieveSecretOptions{SecretKey: "DB_URL", ProjectID: projectID, Environment: "dev"})
		if err != nil || s.SecretValue != "postgres://db/app" {
			t.Fatalf("retrieve = %+v, %v", s, err)
		}
	})
	leaseOpts := infisical.CreateDynamicSecretLeaseOptions{DynamicSecretName: "db-postgres", ProjectSlug: slug, EnvironmentSlug: "dev", SecretPath: "/"}
	t.Run("lease-create-token-expired", func(t *testing.T) {
		e.Inject(infisicaltest.RouteCreateLease, infisicaltest.TokenExpired().Times(1))
		_, _, _, err := c.DynamicSecrets().Leases().Create(leaseOpts)
		var ae *sdkerrors.APIError
		if !errors.As(err, &ae) || ae.StatusCode != 403 || ae.ErrorMessage != "Your token has expired. Please re-authenticate." || ae.Operation != "CallCreateDynamicSecretLeaseV1" {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("lease-create-malformed", func(t *testing.T) {
		e.Inject(infisicaltest.RouteCreateLease, infisicaltest.MalformedJSON().Times(1))
		_, _, _, err := c.DynamicSecrets().Leases().Create(leaseOpts)
		var re *sdkerrors.RequestError
		if !errors.As(err, &re) {
			t.Fatalf("err = %T %v, want RequestError", err, err)
		}
	})
	t.Run("revoke-failed-is-200", func(t *testing.T) {
		_, _, lease, err := c.DynamicSecrets().Leases().Create(leaseOpts)
		if err != nil {
			t.Fatal(err)
		}
		e.Inject(infisicaltest.RouteRevokeLease, infisicaltest.RevokeFailed("provider unreachable").Times(1))
		got, err := c.DynamicSecrets().Leases().DeleteById(infisical.DeleteDynamicSecretLeaseOptions{LeaseId: lease.Id, ProjectSlug: slug, EnvironmentSlug: "dev", SecretPath: "/"})
		if err != nil || got.Status != "Failed to delete" || got.StatusDetails != "provider unreachable" {
			t.Fatalf("revoke = %+v, %v", got, err)
		}
		// Still there: get-by-ID, list and get-by-name work through the SDK.
		byID, err := c.DynamicSecrets().Leases().GetById(infisical.GetDynamicSecretLeaseByIdOptions{LeaseId: lease.Id, ProjectSlug: slug, EnvironmentSlug: "dev", SecretPath: "/"})
		if err != nil || byID.DynamicSecret.Name != "db-postgres" || byID.Status != "Failed to delete" {
			t.Fatalf("get by id = %+v, %v", byID, err)
		}
		list, err := c.DynamicSecrets().Leases().List(infisical.ListDynamicSecretLeasesOptions{DynamicSecretName: "db-postgres", ProjectSlug: slug, EnvironmentSlug: "dev", SecretPath: "/"})
		// Two: the malformed-answer subtest above minted one too, as the real
		// server would have before its answer was mangled.
		if err != nil || len(list) != 2 || list[1].Id != lease.Id {
			t.Fatalf("list leases = %+v, %v", list, err)
		}
		ds, err := c.DynamicSecrets().GetByName(infisical.GetDynamicSecretRootCredentialByNameOptions{DynamicSecretName: "db-postgres", ProjectSlug: slug, EnvironmentSlug: "dev", SecretPath: "/"})
		if err != nil || ds.Name != "db-postgres" {
			t.Fatalf("get by name = %+v, %v", ds, err)
		}
	})
	t.Run("expired-lease-renew-404", func(t *testing.T) {
		_, _, lease, err := c.DynamicSecrets().Leases().Create(leaseOpts)
		if err != nil {
			t.Fatal(err)
		}
		e.ExpireLease(lease.Id)
		_, err = c.DynamicSecrets().Leases().RenewById(infisical.RenewDynamicSecretLeaseOptions{LeaseId: lease.Id, ProjectSlug: slug, EnvironmentSlug: "dev", SecretPath: "/"})
		var ae *sdkerrors.APIError
		if !errors.As(err, &ae) || ae.StatusCode != 404 || ae.ErrorMessage != "Dynamic secret lease with ID '"+lease.Id+"' not found" {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestSDK_droppedConnections turns the SDK's own retries off (they wait a
// second or more per attempt whatever the backoff setting), leaving Go's
// transport, which replays a GET once when a reused connection drops.
func TestSDK_droppedConnections(t *testing.T) {
	e := fixture(t)
	c := newClient(t, e, infisical.Config{RetryRequestsConfig: &infisical.RetryRequestsConfig{
		ExponentialBackoff: &infisical.ExponentialBackoffStrategy{BaseDelay: time.Millisecond, MaxDelay: time.Millisecond, MaxRetries: 0},
	}})
	if _, err := c.Auth().UniversalAuthLogin(clientID, clientSecret); err != nil {
		t.Fatal(err)
	}
	opts := infisical.ListSecretsOptions{ProjectID: projectID, Environment: "dev"}

	// The first attempt is dropped, the replay succeeds within one SDK call.
	e.Inject(infisicaltest.RouteListSecrets, infisicaltest.CloseConnection().Times(1))
	if _, err := c.Secrets().ListSecrets(opts); err != nil {
		t.Fatalf("list with one dropped attempt: %v", err)
	}
	if n := e.Hits(infisicaltest.RouteListSecrets); n != 2 {
		t.Fatalf("hits = %d, want 2", n)
	}

	// Every attempt reset: the SDK reports a RequestError.
	e.Inject(infisicaltest.RouteListSecrets, infisicaltest.ResetConnection())
	_, err := c.Secrets().ListSecrets(opts)
	var re *sdkerrors.RequestError
	if !errors.As(err, &re) || re.Operation != "CallListSecretsV3Raw" || !strings.Contains(err.Error(), "connection reset by peer") {
		t.Fatalf("err = %T %v, want RequestError", err, err)
	}
	if n := e.Hits(infisicaltest.RouteListSecrets); n != 4 {
		t.Fatalf("hits = %d, want 4 (2 + the attempt and its replay)", n)
	}
}

func TestSDK_tls(t *testing.T) {
	e := infisicaltest.New(t, infisicaltest.WithTLS())
	populate(e)
	if !strings.HasPrefix(e.URL(), "https://127.0.0.1:") {
		t.Fatalf("URL = %q", e.URL())
	}
	// Untrusted by default.
	if _, err := http.Get(e.URL() + "/api/v1/workspace/x"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("default client: err = %v, want a certificate error", err)
	}
	if res, err := e.Client().Get(e.URL() + "/api/v1/workspace/x"); err != nil || res.StatusCode != 401 {
		t.Fatalf("trusting client: %v %v", res, err)
	}
	c := newClient(t, e, infisical.Config{CaCertificate: string(e.CACertPEM())})
	if _, err := c.Auth().UniversalAuthLogin(clientID, clientSecret); err != nil {
		t.Fatalf("login over TLS: %v", err)
	}
	if _, err := c.Secrets().ListSecrets(infisical.ListSecretsOptions{ProjectID: projectID, Environment: "dev"}); err != nil {
		t.Fatalf("list over TLS: %v", err)
	}
}

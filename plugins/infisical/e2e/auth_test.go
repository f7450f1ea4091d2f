package e2e

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/agent-vault/agent-vault/plugins/infisical/infisicaltest"
)

// TestAuthMethods (item 11): with each method's environment the server's
// plugin logs in with the request Infisical expects (the emulator checks
// SigV4 signatures, RS256 JWTs, and the token read from a file by the host),
// the chosen method is logged without secrets, several complete groups
// warn and the first in the documented order wins, and a failing login
// leaves the server running with a clear error.
func TestAuthMethods(t *testing.T) {
	emu := infisicaltest.New(t)
	emu.SetSecrets("p-1", "dev", "/", map[string]string{"API_KEY": "v"})

	files := t.TempDir()
	tokenFile := filepath.Join(files, "sa-token")
	os.WriteFile(tokenFile, []byte("k8s-service-account-jwt\n"), 0o600)
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(key)
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	saKey, _ := json.Marshal(map[string]string{"type": "service_account", "client_email": "sa@p.iam.gserviceaccount.com", "private_key_id": "k1",
		"private_key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}))})
	keyFile := filepath.Join(files, "sa-key.json")
	os.WriteFile(keyFile, saKey, 0o600)

	emu.AddIdentity(infisicaltest.Identity{ID: "u-1", Universal: &infisicaltest.UniversalAuth{ClientID: "cid", ClientSecret: "universal-secret"}})
	emu.AddIdentity(infisicaltest.Identity{ID: "k-1", Kubernetes: &infisicaltest.KubernetesAuth{JWT: "k8s-service-account-jwt"}})
	emu.AddIdentity(infisicaltest.Identity{ID: "a-1", AWS: &infisicaltest.AWSAuth{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "aws-secret-key", Region: "eu-west-1"}})
	emu.AddIdentity(infisicaltest.Identity{ID: "g-1", GCP: &infisicaltest.GCPAuth{ServiceAccountEmail: "sa@p.iam.gserviceaccount.com",
		ServiceAccountPublicKeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))}})
	emu.AddIdentity(infisicaltest.Identity{ID: "g-2", GCP: &infisicaltest.GCPAuth{IDToken: "metadata-issued-id-jwt"}})
	emu.AddIdentity(infisicaltest.Identity{ID: "l-1", LDAP: &infisicaltest.LDAPAuth{Username: "alice", Password: "ldap-password"}})

	universal := []string{"INFISICAL_UNIVERSAL_AUTH_CLIENT_ID=cid", "INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET=universal-secret"}
	ldap := []string{"INFISICAL_LDAP_AUTH_IDENTITY_ID=l-1", "INFISICAL_LDAP_AUTH_USERNAME=alice", "INFISICAL_LDAP_AUTH_PASSWORD=ldap-password"}
	secrets := []string{"universal-secret", "k8s-service-account-jwt", "aws-secret-key", "ldap-password", "metadata-issued-id-jwt", "PRIVATE KEY"}
	tests := []struct {
		name        string
		env         []string
		method      infisicaltest.AuthMethod
		route       infisicaltest.Route
		fields      []string
		wantIgnored string
	}{
		{name: "universal", env: universal, method: infisicaltest.AuthUniversal, route: infisicaltest.RouteUniversalAuthLogin, fields: []string{"clientId", "clientSecret"}},
		{name: "kubernetes", env: []string{"INFISICAL_KUBERNETES_IDENTITY_ID=k-1", "INFISICAL_KUBERNETES_SERVICE_ACCOUNT_TOKEN_PATH=" + tokenFile},
			method: infisicaltest.AuthKubernetes, route: infisicaltest.RouteKubernetesAuthLogin, fields: []string{"identityId", "jwt"}},
		{name: "aws-iam", env: []string{"INFISICAL_AWS_IAM_AUTH_IDENTITY_ID=a-1", "AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=aws-secret-key", "AWS_REGION=eu-west-1"},
			method: infisicaltest.AuthAWSIAM, route: infisicaltest.RouteAWSAuthLogin, fields: []string{"iamHttpRequestMethod", "iamRequestBody", "iamRequestHeaders", "identityId"}},
		{name: "gcp-iam", env: []string{"INFISICAL_GCP_AUTH_IDENTITY_ID=g-1", "INFISICAL_GCP_IAM_SERVICE_ACCOUNT_KEY_FILE_PATH=" + keyFile},
			method: infisicaltest.AuthGCPIAM, route: infisicaltest.RouteGCPAuthLogin, fields: []string{"identityId", "jwt"}},
		{name: "gcp-id-token", env: []string{"INFISICAL_GCP_AUTH_IDENTITY_ID=g-2", "INFISICAL_GCP_METADATA_URL=" + emu.URL()},
			method: infisicaltest.AuthGCPIDToken, route: infisicaltest.RouteGCPAuthLogin, fields: []string{"identityId", "jwt"}},
		{name: "ldap", env: ldap, method: infisicaltest.AuthLDAP, route: infisicaltest.RouteLDAPAuthLogin, fields: []string{"identityId", "password", "username"}},
		{name: "universal-before-ldap", env: append(append([]string{}, ldap...), universal...), method: infisicaltest.AuthUniversal,
			route: infisicaltest.RouteUniversalAuthLogin, fields: []string{"clientId", "clientSecret"}, wantIgnored: "ldap-auth"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			emu.ResetCounts()
			hitsBefore := len(emu.RequestsTo(tc.route))
			srv := startServer(t, newDataDir(t), append([]string{"INFISICAL_URL=" + emu.URL()}, tc.env...))
			// The start-up check logs in in the background; once it is done,
			// the vault's probe and sync must reuse its token. (A call made
			// while the check still runs gets an instance of its own, which
			// logs in again.)
			srv.WaitForLog(`msg="credential store ready" kind=infisical`)
			c := register(t, srv)
			c.Must("POST", "/v1/vaults", map[string]any{"name": "auth-" + tc.name, "credential_store": storeSpec("p-1", "dev", "/", 3600)}, 201, nil)
			srv.Stop()
			if n := emu.Counts().Logins[tc.method]; n != 1 {
				t.Fatalf("%s logins %d (all %v)", tc.method, n, emu.Counts().Logins)
			}
			reqs := emu.RequestsTo(tc.route)[hitsBefore:]
			var body map[string]any
			json.Unmarshal(reqs[len(reqs)-1].Body, &body)
			var fields []string
			for k := range body {
				fields = append(fields, k)
			}
			sort.Strings(fields)
			if !reflect.DeepEqual(fields, tc.fields) {
				t.Fatalf("login body fields %v, want %v", fields, tc.fields)
			}
			logs := srv.Logs.String()
			if !strings.Contains(logs, "infisical auth method chosen method="+string(tc.method)) {
				t.Fatalf("no log of the chosen method:\n%s", logs)
			}
			if tc.wantIgnored != "" && !strings.Contains(logs, "ignored="+tc.wantIgnored) {
				t.Fatalf("no warning about the ignored method:\n%s", logs)
			}
			for _, s := range secrets {
				if strings.Contains(logs, s) {
					t.Fatalf("the server log contains %q", s)
				}
			}
		})
	}

	t.Run("login-fails-server-keeps-running", func(t *testing.T) {
		srv := startServer(t, newDataDir(t), []string{"INFISICAL_URL=" + emu.URL(), "INFISICAL_UNIVERSAL_AUTH_CLIENT_ID=cid", "INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET=wrong"})
		c := register(t, srv)
		p := c.Problem("POST", "/v1/vaults", map[string]any{"name": "auth-fails", "credential_store": storeSpec("p-1", "dev", "/", 3600)})
		if p.Code != "external_store_auth_failed" || !strings.Contains(p.Detail, "Invalid credentials") {
			t.Fatalf("create: %+v", p)
		}
		c.Must("POST", "/v1/vaults", map[string]any{"name": "builtin-ok"}, 201, nil)
		srv.Stop()
	})
}

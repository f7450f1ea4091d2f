//go:build !wasip1

package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"maps"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/agent-vault/agent-vault/plugins/infisical/infisicaltest"
)

func TestChooseMethod(t *testing.T) {
	universal := map[string]string{envUniversalID: "c", envUniversalSecret: "s"}
	k8s := map[string]string{envK8sIdentity: "k"}
	aws := map[string]string{envAWSIdentity: "a", envAWSKeyID: "AK", envAWSSecret: "SK"}
	gcpIAM := map[string]string{envGCPIdentity: "g", envGCPKeyFile: "{}"}
	gcpID := map[string]string{envGCPIdentity: "g"}
	ldap := map[string]string{envLDAPIdentity: "l", envLDAPUser: "u", envLDAPPassword: "p"}
	merge := func(ms ...map[string]string) map[string]string {
		out := map[string]string{}
		for _, m := range ms {
			maps.Copy(out, m)
		}
		return out
	}
	tests := []struct {
		name        string
		env         map[string]string
		want        authMethod
		wantIgnored []authMethod
		wantErr     bool
	}{
		{name: "universal", env: universal, want: methodUniversal},
		{name: "kubernetes", env: k8s, want: methodKubernetes},
		{name: "aws", env: aws, want: methodAWSIAM},
		{name: "gcp-iam", env: gcpIAM, want: methodGCPIAM},
		{name: "gcp-iam-key-unreadable", env: map[string]string{envGCPIdentity: "g", envGCPKeyFile: ""}, want: methodGCPIAM},
		{name: "gcp-id-token", env: gcpID, want: methodGCPIDToken},
		{name: "ldap", env: ldap, want: methodLDAP},
		{name: "all", env: merge(universal, k8s, aws, gcpIAM, ldap), want: methodUniversal, wantIgnored: []authMethod{methodKubernetes, methodAWSIAM, methodGCPIAM, methodLDAP}},
		{name: "k8s-over-aws", env: merge(aws, k8s), want: methodKubernetes, wantIgnored: []authMethod{methodAWSIAM}},
		{name: "aws-over-gcp", env: merge(gcpID, aws), want: methodAWSIAM, wantIgnored: []authMethod{methodGCPIDToken}},
		{name: "gcp-over-ldap", env: merge(ldap, gcpID), want: methodGCPIDToken, wantIgnored: []authMethod{methodLDAP}},
		{name: "universal-incomplete", env: map[string]string{envUniversalID: "c", envLDAPIdentity: "l", envLDAPUser: "u", envLDAPPassword: "p"}, want: methodLDAP},
		{name: "aws-without-keys", env: map[string]string{envAWSIdentity: "a"}, wantErr: true},
		{name: "ldap-without-password", env: map[string]string{envLDAPIdentity: "l", envLDAPUser: "u"}, wantErr: true},
		{name: "none", env: map[string]string{}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ignored, err := chooseMethod(tc.env)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v", err)
			}
			if got != tc.want || !reflect.DeepEqual(ignored, tc.wantIgnored) {
				t.Fatalf("got %s %v, want %s %v", got, ignored, tc.want, tc.wantIgnored)
			}
		})
	}
}

// TestLogin_methods: each method logs in against the emulator with the
// request body Infisical expects; the emulator verifies AWS signatures and
// RS256 JWTs.
func TestLogin_methods(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(key)
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	saKey, _ := json.Marshal(map[string]string{"type": "service_account", "client_email": "sa@p.iam.gserviceaccount.com", "private_key_id": "k1",
		"private_key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}))})
	pubPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))

	tests := []struct {
		name       string
		identity   infisicaltest.Identity
		env        map[string]string
		method     infisicaltest.AuthMethod
		route      infisicaltest.Route
		wantFields []string // JSON body keys
	}{
		{name: "universal", identity: infisicaltest.Identity{ID: "u-1", Universal: &infisicaltest.UniversalAuth{ClientID: "cid2", ClientSecret: "cs"}},
			env: map[string]string{envUniversalID: "cid2", envUniversalSecret: "cs"}, method: infisicaltest.AuthUniversal, route: infisicaltest.RouteUniversalAuthLogin,
			wantFields: []string{"clientId", "clientSecret"}},
		{name: "kubernetes", identity: infisicaltest.Identity{ID: "k-1", Kubernetes: &infisicaltest.KubernetesAuth{JWT: "sa-jwt"}},
			env: map[string]string{envK8sIdentity: "k-1", envK8sToken: "sa-jwt\n"}, method: infisicaltest.AuthKubernetes, route: infisicaltest.RouteKubernetesAuthLogin,
			wantFields: []string{"identityId", "jwt"}},
		{name: "aws-iam", identity: infisicaltest.Identity{ID: "a-1", AWS: &infisicaltest.AWSAuth{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI", Region: "eu-west-1"}},
			env:    map[string]string{envAWSIdentity: "a-1", envAWSKeyID: "AKIDEXAMPLE", envAWSSecret: "wJalrXUtnFEMI", envAWSSession: "sess-tok", envAWSRegion: "eu-west-1"},
			method: infisicaltest.AuthAWSIAM, route: infisicaltest.RouteAWSAuthLogin,
			wantFields: []string{"iamHttpRequestMethod", "iamRequestBody", "iamRequestHeaders", "identityId"}},
		{name: "aws-iam-default-region", identity: infisicaltest.Identity{ID: "a-2", AWS: &infisicaltest.AWSAuth{AccessKeyID: "AK2", SecretAccessKey: "SK2", Region: "us-east-1"}},
			env:    map[string]string{envAWSIdentity: "a-2", envAWSKeyID: "AK2", envAWSSecret: "SK2"},
			method: infisicaltest.AuthAWSIAM, route: infisicaltest.RouteAWSAuthLogin,
			wantFields: []string{"iamHttpRequestMethod", "iamRequestBody", "iamRequestHeaders", "identityId"}},
		{name: "gcp-iam", identity: infisicaltest.Identity{ID: "g-1", GCP: &infisicaltest.GCPAuth{ServiceAccountEmail: "sa@p.iam.gserviceaccount.com", ServiceAccountPublicKeyPEM: pubPEM}},
			env: map[string]string{envGCPIdentity: "g-1", envGCPKeyFile: string(saKey)}, method: infisicaltest.AuthGCPIAM, route: infisicaltest.RouteGCPAuthLogin,
			wantFields: []string{"identityId", "jwt"}},
		{name: "gcp-id-token", identity: infisicaltest.Identity{ID: "g-2", GCP: &infisicaltest.GCPAuth{IDToken: "id-token-from-metadata"}},
			env: map[string]string{envGCPIdentity: "g-2"}, method: infisicaltest.AuthGCPIDToken, route: infisicaltest.RouteGCPAuthLogin,
			wantFields: []string{"identityId", "jwt"}},
		{name: "ldap", identity: infisicaltest.Identity{ID: "l-1", LDAP: &infisicaltest.LDAPAuth{Username: "alice", Password: "pw"}},
			env: map[string]string{envLDAPIdentity: "l-1", envLDAPUser: "alice", envLDAPPassword: "pw", envOrgSlug: "acme"}, method: infisicaltest.AuthLDAP, route: infisicaltest.RouteLDAPAuthLogin,
			wantFields: []string{"identityId", "organizationSlug", "password", "username"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.emu.AddIdentity(tc.identity)
			env := map[string]string{envURL: f.emu.URL(), envGCPMetadata: f.emu.URL()}
			maps.Copy(env, tc.env)
			req := f.req()
			req.Env = env
			if _, err := (store{}).Sync(ctx(t), req); err != nil {
				t.Fatalf("sync: %v", err)
			}
			if n := f.emu.Counts().Logins[tc.method]; n != 1 {
				t.Fatalf("%s logins: %d (counts %+v)", tc.method, n, f.emu.Counts().Logins)
			}
			reqs := f.emu.RequestsTo(tc.route)
			if len(reqs) != 1 {
				t.Fatalf("%d login requests", len(reqs))
			}
			lr := reqs[0]
			if lr.Header.Get("Authorization") != "" || !strings.HasPrefix(lr.Header.Get("Content-Type"), "application/json") {
				t.Fatalf("login headers: Authorization %q, Content-Type %q", lr.Header.Get("Authorization"), lr.Header.Get("Content-Type"))
			}
			var body map[string]string
			if err := json.Unmarshal(lr.Body, &body); err != nil {
				t.Fatal(err)
			}
			var fields []string
			for k := range body {
				fields = append(fields, k)
			}
			sort.Strings(fields)
			if !reflect.DeepEqual(fields, tc.wantFields) {
				t.Fatalf("body fields %v, want %v", fields, tc.wantFields)
			}
			if tc.route == infisicaltest.RouteAWSAuthLogin {
				checkAWSHeaders(t, body["iamRequestHeaders"], env[envAWSSession] != "")
			}
		})
	}
}

func checkAWSHeaders(t *testing.T, enc string, session bool) {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]string
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	want := []string{"Authorization", "Content-Length", "Content-Type", "Host", "X-Amz-Date"}
	if session {
		want = append(want, "X-Amz-Security-Token")
	}
	var got []string
	for k := range h {
		got = append(got, k)
	}
	sort.Strings(got)
	if !reflect.DeepEqual(got, want) || h["Content-Length"] != "43" {
		t.Fatalf("headers %v (Content-Length %s), want %v", got, h["Content-Length"], want)
	}
}

// TestLogin_fileUnreadable: a token or key file the host could not read
// fails the login with a message naming the variable.
func TestLogin_fileUnreadable(t *testing.T) {
	tests := []struct {
		name, wantErr string
		env           map[string]string
	}{
		{name: "kubernetes", env: map[string]string{envK8sIdentity: "k-1"},
			wantErr: "external_store_auth_failed: kubernetes-auth: the service-account token (INFISICAL_KUBERNETES_SERVICE_ACCOUNT_TOKEN_PATH, default /var/run/secrets/kubernetes.io/serviceaccount/token) could not be read by the host"},
		{name: "gcp-iam", env: map[string]string{envGCPIdentity: "g-1", envGCPKeyFile: ""},
			wantErr: "external_store_auth_failed: gcp-iam-auth: the service-account key file (INFISICAL_GCP_IAM_SERVICE_ACCOUNT_KEY_FILE_PATH) could not be read by the host"},
		{name: "gcp-iam-not-json", env: map[string]string{envGCPIdentity: "g-1", envGCPKeyFile: "nope"},
			wantErr: "external_store_auth_failed: gcp-iam-auth: INFISICAL_GCP_IAM_SERVICE_ACCOUNT_KEY_FILE_PATH is not a service-account JSON key (client_email and private_key)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			env := map[string]string{envURL: f.emu.URL()}
			maps.Copy(env, tc.env)
			req := f.req()
			req.Env = env
			_, err := store{}.Sync(ctx(t), req)
			if got := errText(err); got != tc.wantErr {
				t.Fatalf("got %s\nwant %s", got, tc.wantErr)
			}
		})
	}
}

package infisicaltest_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"strconv"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/plugins/infisical/infisicaltest"
)

// signRS256 builds the JWT a GCP IAM login carries, signed with key.
func signRS256(t *testing.T, key *rsa.PrivateKey, claims string) string {
	t.Helper()
	enc := base64.RawURLEncoding
	unsigned := enc.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc.EncodeToString([]byte(claims))
	digest := sha256.Sum256([]byte(unsigned))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return unsigned + "." + enc.EncodeToString(sig)
}

func TestLogin_gcpIAMSignature(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	pubPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	exp := epoch.Add(time.Hour).Unix()
	claims := func(sub string, exp int64) string {
		return `{"sub":"` + sub + `","aud":"gcp-iam","exp":` + strconv.FormatInt(exp, 10) + `}`
	}
	tests := []struct {
		name       string
		jwt        string
		advance    time.Duration
		wantStatus int
	}{
		{"signed", signRS256(t, key, claims("sa@p.iam.gserviceaccount.com", exp)), 0, 200},
		{"other-key", signRS256(t, other, claims("sa@p.iam.gserviceaccount.com", exp)), 0, 401},
		{"other-account", signRS256(t, key, claims("x@p.iam.gserviceaccount.com", exp)), 0, 401},
		{"expired", signRS256(t, key, claims("sa@p.iam.gserviceaccount.com", exp)), 2 * time.Hour, 401},
		{"unsigned", unsignedJWT(claims("sa@p.iam.gserviceaccount.com", exp)), 0, 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := frozenFixture(t)
			e.AddIdentity(infisicaltest.Identity{ID: "gcp-iam", GCP: &infisicaltest.GCPAuth{ServiceAccountEmail: "sa@p.iam.gserviceaccount.com", ServiceAccountPublicKeyPEM: pubPEM}})
			e.Clock().Advance(tc.advance)
			a := do(t, e, "POST", "/api/v1/auth/gcp-auth/login", "", `{"identityId":"gcp-iam","jwt":"`+tc.jwt+`"}`)
			if tc.wantStatus != 200 {
				wantError(t, a, 401, "UnauthorizedError", "Access denied: failed to validate GCP identity token")
				return
			}
			if a.status != 200 || e.Counts().Logins[infisicaltest.AuthGCPIAM] != 1 {
				t.Fatalf("got %d %s", a.status, a.body)
			}
		})
	}
}

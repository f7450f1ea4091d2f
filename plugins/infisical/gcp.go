package main

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/pem"
	"strings"
	"time"

	"github.com/agent-vault/agent-vault/sdk"
	"github.com/agent-vault/agent-vault/sdk/sdkjson"
)

// serviceAccountKey is the part of a GCP service-account JSON key we use.
type serviceAccountKey struct {
	ClientEmail  string
	PrivateKey   string
	PrivateKeyID string
}

func (k *serviceAccountKey) decode(data []byte) error {
	return decodeAnswer(data, members{
		{"client_email", str(&k.ClientEmail)}, {"private_key", str(&k.PrivateKey)}, {"private_key_id", str(&k.PrivateKeyID)},
	})
}

// gcpIAMJWT builds the GCP IAM login JWT (wire doc §1.5): claims sub =
// the service account, aud = the identity ID, RS256-signed with the
// service account's own key. The Infisical SDK asks Google's IAM
// Credentials API to sign the same claims with a Google-held key; a JWT
// signed by the account's key verifies against the same published
// certificates, and needs no call to Google.
func gcpIAMJWT(env map[string]string, now time.Time) (string, error) {
	raw := env[envGCPKeyFile]
	if strings.TrimSpace(raw) == "" {
		return "", sdk.Errorf(sdk.CodeAuthFailed, "gcp-iam-auth: the service-account key file (%s) could not be read by the host", envGCPKeyFile)
	}
	var k serviceAccountKey
	if err := k.decode([]byte(raw)); err != nil || k.ClientEmail == "" || k.PrivateKey == "" {
		return "", sdk.Errorf(sdk.CodeAuthFailed, "gcp-iam-auth: %s is not a service-account JSON key (client_email and private_key)", envGCPKeyFile)
	}
	block, _ := pem.Decode([]byte(k.PrivateKey))
	if block == nil {
		return "", sdk.Errorf(sdk.CodeAuthFailed, "gcp-iam-auth: the key's private_key is not PEM")
	}
	key, err := parseRSAPrivateKey(block.Bytes)
	if err != nil {
		return "", sdk.Errorf(sdk.CodeAuthFailed, "gcp-iam-auth: the key's private_key is not an RSA key")
	}
	enc := base64.RawURLEncoding
	header := sdkjson.AppendStringMap(nil, map[string]string{"alg": "RS256", "typ": "JWT", "kid": k.PrivateKeyID})
	claims := jsonObject(map[string]any{
		"iss": k.ClientEmail, "sub": k.ClientEmail, "aud": strings.TrimSpace(env[envGCPIdentity]),
		"iat": now.Unix(), "exp": now.Add(15 * time.Minute).Unix(),
	})
	signing := enc.EncodeToString(header) + "." + enc.EncodeToString(claims)
	digest := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		return "", sdk.Errorf(sdk.CodeAuthFailed, "gcp-iam-auth: signing the login JWT: %v", err)
	}
	return signing + "." + enc.EncodeToString(sig), nil
}

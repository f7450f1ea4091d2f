package server

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/agent-vault/agent-vault/host/certs"
	"github.com/agent-vault/agent-vault/host/seal"
	"github.com/agent-vault/agent-vault/host/store"
)

// Where the interception CA lives in the meta table. The key is sealed with
// the DEK like every other secret at rest.
const (
	caCertKey = "mitm_ca_cert"
	caKeyKey  = "mitm_ca_key"
)

// loadOrCreateCA returns the instance's interception CA, creating and
// persisting it on first start.
func loadOrCreateCA(ctx context.Context, st *store.Store, keyring *seal.Keyring) (*certs.Authority, error) {
	certPEM, haveCert, err := st.Meta(ctx, caCertKey)
	if err != nil {
		return nil, err
	}
	sealedKey, haveKey, err := st.Meta(ctx, caKeyKey)
	if err != nil {
		return nil, err
	}
	if haveCert && haveKey {
		keyPEM, err := keyring.Open(sealedKey, seal.AAD("ca_key"))
		if err != nil {
			return nil, fmt.Errorf("opening the interception CA key: %w", err)
		}
		return certs.Load(certPEM, keyPEM)
	}
	ca, certPEM, keyPEM, err := certs.New()
	if err != nil {
		return nil, err
	}
	sealedKey, err = keyring.Seal(keyPEM, seal.AAD("ca_key"))
	if err != nil {
		return nil, err
	}
	if err := st.PutMeta(ctx, caKeyKey, sealedKey); err != nil {
		return nil, err
	}
	if err := st.PutMeta(ctx, caCertKey, certPEM); err != nil {
		return nil, err
	}
	return ca, nil
}

// upstreamRoots is the system pool plus the operator's extra roots (a PEM
// file), or nil for the system pool alone.
func upstreamRoots(extraFile string) (*x509.CertPool, error) {
	if extraFile == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(extraFile)
	if err != nil {
		return nil, fmt.Errorf("reading upstream CA file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("upstream CA file %s holds no PEM certificate", extraFile)
	}
	return pool, nil
}

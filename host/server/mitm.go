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
// persisting it on first start. Replicas sharing a database share the CA:
// the first to start creates it, atomically, and every other loads it.
func loadOrCreateCA(ctx context.Context, st *store.Store, keyring *seal.Keyring) (*certs.Authority, error) {
	for attempt := 0; ; attempt++ {
		ca, half, err := loadCA(ctx, st, keyring)
		if ca != nil || err != nil {
			return ca, err
		}
		ca, certPEM, keyPEM, err := certs.New()
		if err != nil {
			return nil, err
		}
		sealedKey, err := keyring.Seal(keyPEM, seal.AAD("ca_key"))
		if err != nil {
			return nil, err
		}
		if half && attempt >= 2 {
			// Still only one of the two after retries: left by a crash
			// between two writes of an older version. Replace both.
			if err := st.PutMeta(ctx, caKeyKey, sealedKey); err != nil {
				return nil, err
			}
			return ca, st.PutMeta(ctx, caCertKey, certPEM)
		}
		wrote, err := st.InsertMetasIfAbsent(ctx, map[string][]byte{caKeyKey: sealedKey, caCertKey: certPEM})
		if err != nil || wrote {
			return ca, err
		}
		// Another replica stored its CA first, or its commit fell between
		// our two reads: load again.
	}
}

// loadCA loads the stored CA; nil without error when none is stored, and
// half when only its certificate or only its key is.
func loadCA(ctx context.Context, st *store.Store, keyring *seal.Keyring) (ca *certs.Authority, half bool, err error) {
	certPEM, haveCert, err := st.Meta(ctx, caCertKey)
	if err != nil {
		return nil, false, err
	}
	sealedKey, haveKey, err := st.Meta(ctx, caKeyKey)
	if err != nil {
		return nil, false, err
	}
	if haveCert && haveKey {
		keyPEM, err := keyring.Open(sealedKey, seal.AAD("ca_key"))
		if err != nil {
			return nil, false, fmt.Errorf("opening the interception CA key: %w", err)
		}
		ca, err := certs.Load(certPEM, keyPEM)
		return ca, false, err
	}
	return nil, haveCert != haveKey, nil
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

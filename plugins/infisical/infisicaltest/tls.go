package infisicaltest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"time"
)

// WithTLS serves HTTPS with a self-signed certificate for 127.0.0.1, ::1
// and localhost. Clients trust it through CACertPEM, CertPool or Client.
func WithTLS() Option { return func(e *Emulator) { e.wantTLS = true } }

// CACertPEM is the PEM certificate clients must trust when the emulator
// serves HTTPS (nil otherwise). It is what the SDK's Config.CaCertificate takes.
func (e *Emulator) CACertPEM() []byte {
	e.srvMu.Lock()
	defer e.srvMu.Unlock()
	if e.tlsCert == nil {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.tlsCert.Certificate[0]})
}

// CertPool holds CACertPEM (an empty pool when serving plain HTTP).
func (e *Emulator) CertPool() *x509.CertPool {
	pool := x509.NewCertPool()
	if pem := e.CACertPEM(); pem != nil {
		pool.AppendCertsFromPEM(pem)
	}
	return pool
}

// Client returns an HTTP client that trusts the emulator, with a timeout
// so that a Hang fault cannot stall a test forever.
func (e *Emulator) Client() *http.Client {
	return &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: e.CertPool(), MinVersion: tls.VersionTLS12}},
	}
}

// newSelfSigned makes a certificate that is its own CA, for loopback.
func newSelfSigned(now time.Time) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating TLS key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{Organization: []string{"infisicaltest"}, CommonName: "infisicaltest loopback"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("creating TLS certificate: %w", err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

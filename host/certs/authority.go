// Package certs is the certificate authority behind the proxy's TLS
// interception. On first start the server creates a root CA ([New]) and
// persists its certificate and (sealed) key; later starts [Load] them. For
// each host an agent connects to, the authority mints a short-lived leaf
// certificate signed by the root, caches it, and re-mints it before it
// expires. Agents trust the root (from [Authority.CertPEM]) and nothing else
// changes for them.
package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"

	"github.com/agent-vault/agent-vault/host/domain"
)

const (
	// caYears is how long a new root is valid; re-issuing it means every
	// agent has to trust a new root, so it is long.
	caYears = 10
	// leafValidity is how long a leaf is valid. Leaves are cheap to mint and
	// never persisted, so they are short-lived.
	leafValidity = 24 * time.Hour
	// backdate moves NotBefore into the past so that a client whose clock
	// runs a little behind still accepts a fresh certificate.
	backdate = time.Hour
	// renewBefore is how long before NotAfter a cached leaf is replaced, so
	// that a handshake never gets a leaf about to expire.
	renewBefore = time.Hour
	// DefaultCacheSize is how many leaves are cached when no
	// [WithCacheSize] is given.
	DefaultCacheSize = 1024
)

// PEM block types written by [New].
const (
	pemCert = "CERTIFICATE"
	pemKey  = "PRIVATE KEY" // PKCS #8
)

// Authority mints and caches leaf certificates. It is safe for concurrent
// use.
type Authority struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
	now     func() time.Time
	cache   *lru.Cache[string, *tls.Certificate]
	group   singleflight.Group
	mints   atomic.Int64 // leaves minted (Stats)
	hits    atomic.Int64 // leaves served from the cache (Stats)
}

// Stats reports how many leaves were minted and how many served from the
// cache since the authority was made; safe to call at any time.
func (a *Authority) Stats() (minted, cacheHits int64) { return a.mints.Load(), a.hits.Load() }

// Option configures an [Authority].
type Option func(*config)

type config struct {
	cacheSize int
	now       func() time.Time
}

// WithCacheSize sets how many leaf certificates are kept (least recently
// used are evicted first). Values below 1 mean [DefaultCacheSize].
func WithCacheSize(n int) Option { return func(c *config) { c.cacheSize = n } }

// WithClock replaces time.Now, for tests of expiry.
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

func newConfig(opts []Option) config {
	c := config{cacheSize: DefaultCacheSize, now: time.Now}
	for _, o := range opts {
		o(&c)
	}
	if c.cacheSize < 1 {
		c.cacheSize = DefaultCacheSize
	}
	return c
}

// New creates a root CA (ECDSA P-256, valid for 10 years) and returns the
// authority with the certificate and the PKCS #8 private key, both PEM. The
// caller persists them and must seal keyPEM before storing it.
func New(opts ...Option) (a *Authority, certPEM, keyPEM []byte, err error) {
	c := newConfig(opts)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	now := c.now()
	id := make([]byte, 4)
	rand.Read(id)
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject: pkix.Name{
			Organization: []string{"Agent Vault"},
			// A per-instance suffix tells several instances' roots apart in a
			// trust store.
			CommonName: fmt.Sprintf("Agent Vault proxy CA %x", id),
		},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.AddDate(caYears, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		// The root signs leaves directly; no intermediate may chain to it.
		MaxPathLen:     0,
		MaxPathLenZero: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, nil, err
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: pemCert, Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: pemKey, Bytes: keyDER})
	a, err = load(certPEM, keyPEM, c)
	if err != nil {
		return nil, nil, nil, err
	}
	return a, certPEM, keyPEM, nil
}

// Load rebuilds an authority from the PEM that [New] returned. It fails
// with [domain.CodeCAInvalid] if either block does not parse, the key is not
// the certificate's, the certificate is not a CA, or it has expired.
func Load(certPEM, keyPEM []byte, opts ...Option) (*Authority, error) {
	return load(certPEM, keyPEM, newConfig(opts))
}

func load(certPEM, keyPEM []byte, c config) (*Authority, error) {
	bad := func(format string, args ...any) error {
		return domain.Errorf(domain.CodeCAInvalid, "proxy CA: "+format, args...)
	}
	cb, _ := pem.Decode(certPEM)
	if cb == nil || cb.Type != pemCert {
		return nil, bad("certificate is not a PEM %q block", pemCert)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, bad("certificate does not parse")
	}
	// The error of a key parser is not shown: it could quote key bytes.
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, bad("key is not PEM")
	}
	var key *ecdsa.PrivateKey
	switch kb.Type {
	case pemKey:
		k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
		if err != nil {
			return nil, bad("key does not parse as PKCS #8")
		}
		ek, ok := k.(*ecdsa.PrivateKey)
		if !ok {
			return nil, bad("key is %T, want an ECDSA key", k)
		}
		key = ek
	case "EC PRIVATE KEY":
		if key, err = x509.ParseECPrivateKey(kb.Bytes); err != nil {
			return nil, bad("key does not parse as an EC private key")
		}
	default:
		return nil, bad("key is a PEM %q block, want %q", kb.Type, pemKey)
	}
	if pub, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok || !pub.Equal(key.Public()) {
		return nil, bad("key does not belong to the certificate")
	}
	if !cert.IsCA || !cert.BasicConstraintsValid || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, bad("certificate is not a CA certificate")
	}
	if now := c.now(); now.After(cert.NotAfter) {
		return nil, bad("certificate expired on %s", cert.NotAfter.UTC().Format(time.RFC3339))
	}
	cache, err := lru.New[string, *tls.Certificate](c.cacheSize)
	if err != nil {
		return nil, err
	}
	return &Authority{
		cert:    cert,
		key:     key,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: pemCert, Bytes: cert.Raw}),
		now:     c.now,
		cache:   cache,
	}, nil
}

// CertPEM returns the root certificate in PEM, for agents to trust.
func (a *Authority) CertPEM() []byte { return append([]byte(nil), a.certPEM...) }

// Certificate returns the parsed root certificate. Callers must not modify
// it.
func (a *Authority) Certificate() *x509.Certificate { return a.cert }

// Leaf returns a certificate for host (a DNS name, or an IP literal that
// becomes an IP SAN), valid now and for at least another hour. Leaves are
// cached per normalised host; concurrent calls for one host share one mint.
// An invalid host fails with [domain.CodeInvalidHost].
func (a *Authority) Leaf(host string) (*tls.Certificate, error) {
	name, ip, err := normalize(host)
	if err != nil {
		return nil, err
	}
	if c, ok := a.cache.Get(name); ok && a.fresh(c) {
		a.hits.Add(1)
		return c, nil
	}
	v, err, _ := a.group.Do(name, func() (any, error) {
		// A caller that missed the cache just as another mint finished finds
		// that leaf here rather than minting its own.
		if c, ok := a.cache.Get(name); ok && a.fresh(c) {
			return c, nil
		}
		c, err := a.mint(name, ip)
		if err != nil {
			return nil, err
		}
		a.cache.Add(name, c)
		return c, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*tls.Certificate), nil
}

// GetCertificate serves as tls.Config.GetCertificate: it mints for the SNI
// name. A ClientHello without SNI fails; use [Authority.GetCertificateFor]
// when the host is known from elsewhere (the CONNECT target).
func (a *Authority) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if hello.ServerName == "" {
		return nil, errors.New("proxy CA: client sent no server name (SNI)")
	}
	return a.Leaf(hello.ServerName)
}

// GetCertificateFor returns a tls.Config.GetCertificate that mints for the
// SNI name, or for fallbackHost (a host without port, such as the CONNECT
// target's) when the client sent none, as clients do for IP-literal hosts.
func (a *Authority) GetCertificateFor(fallbackHost string) func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		if hello.ServerName == "" {
			return a.Leaf(fallbackHost)
		}
		return a.Leaf(hello.ServerName)
	}
}

func (a *Authority) fresh(c *tls.Certificate) bool {
	return a.now().Before(c.Leaf.NotAfter.Add(-renewBefore))
}

func (a *Authority) mint(name string, ip netip.Addr) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := a.now()
	notAfter := now.Add(leafValidity)
	if notAfter.After(a.cert.NotAfter) {
		notAfter = a.cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		NotBefore:             now.Add(-backdate),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	// No subject: clients match the SAN, and a CN is capped at 64 bytes.
	if ip.IsValid() {
		tmpl.IPAddresses = []net.IP{ip.AsSlice()}
	} else {
		tmpl.DNSNames = []string{name}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, key.Public(), a.key)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	a.mints.Add(1)
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

func randomSerial() *big.Int {
	b := make([]byte, 16)
	rand.Read(b)
	b[0] &= 0x7f // positive, and at most 20 octets as RFC 5280 requires
	return new(big.Int).SetBytes(b)
}

// normalize returns the cache key for host and, for an IP literal, the
// address. Names are lower-cased and lose one trailing dot; IPv6 may be
// bracketed; IPv4-mapped addresses are unmapped; zones are dropped.
func normalize(host string) (string, netip.Addr, error) {
	bad := func(why string) (string, netip.Addr, error) {
		return "", netip.Addr{}, domain.Errorf(domain.CodeInvalidHost, "host %q %s", host, why)
	}
	h := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if ip, err := netip.ParseAddr(h); err == nil {
		ip = ip.WithZone("").Unmap()
		return ip.String(), ip, nil
	}
	h = strings.ToLower(strings.TrimSuffix(h, "."))
	if h == "" || len(h) > 253 {
		return bad("must be 1 to 253 characters long")
	}
	for _, l := range strings.Split(h, ".") {
		if l == "" || len(l) > 63 {
			return bad("has an empty label or one longer than 63 characters")
		}
		for _, c := range []byte(l) {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return bad("is not a valid DNS name for a certificate")
			}
		}
	}
	return h, netip.Addr{}, nil
}

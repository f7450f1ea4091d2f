package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/host/domain"
)

// clock is a settable time source.
type clock struct{ t atomic.Pointer[time.Time] }

func newClock(t time.Time) *clock {
	c := &clock{}
	c.set(t)
	return c
}
func (c *clock) now() time.Time      { return *c.t.Load() }
func (c *clock) set(t time.Time)     { c.t.Store(&t) }
func (c *clock) add(d time.Duration) { c.set(c.now().Add(d)) }

var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func newAuthority(t testing.TB, opts ...Option) (*Authority, []byte, []byte) {
	t.Helper()
	a, certPEM, keyPEM, err := New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return a, certPEM, keyPEM
}

func checkErr(t *testing.T, err error, wantCode, wantText string) {
	t.Helper()
	var de *domain.Error
	if !errors.As(err, &de) {
		t.Fatalf("err = %T %v, want *domain.Error %q", err, err, wantText)
	}
	if de.Code != wantCode || err.Error() != wantText {
		t.Fatalf("err = %q (code %s)\nwant %q (code %s)", err.Error(), de.Code, wantText, wantCode)
	}
}

func TestNew_root(t *testing.T) {
	clk := newClock(t0)
	a, certPEM, keyPEM := newAuthority(t, WithClock(clk.now))
	root := a.Certificate()
	pub, ok := root.PublicKey.(*ecdsa.PublicKey)
	switch {
	case !ok || pub.Curve != elliptic.P256():
		t.Fatalf("root key is %T, want ECDSA P-256", root.PublicKey)
	case !root.IsCA || !root.BasicConstraintsValid || root.MaxPathLen != 0 || !root.MaxPathLenZero:
		t.Fatal("root is not a path-length-0 CA")
	case root.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign|x509.KeyUsageDigitalSignature:
		t.Fatalf("root key usage = %v", root.KeyUsage)
	case !root.NotBefore.Equal(t0.Add(-time.Hour)) || !root.NotAfter.Equal(t0.AddDate(10, 0, 0)):
		t.Fatalf("root validity %s..%s", root.NotBefore, root.NotAfter)
	case !strings.HasPrefix(root.Subject.CommonName, "Agent Vault proxy CA "):
		t.Fatalf("root CN = %q", root.Subject.CommonName)
	case root.CheckSignatureFrom(root) != nil:
		t.Fatal("root is not self-signed")
	}
	if string(a.CertPEM()) != string(certPEM) {
		t.Fatal("CertPEM differs from New's certPEM")
	}
	if b, _ := pem.Decode(keyPEM); b == nil || b.Type != "PRIVATE KEY" {
		t.Fatal("key is not a PKCS #8 PEM block")
	}
	if _, _, _, err := New(); err != nil {
		t.Fatal(err)
	}
}

// verify checks a leaf against the root the way a client does.
func verify(t *testing.T, a *Authority, leaf *tls.Certificate, host string, at time.Time) {
	t.Helper()
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(a.CertPEM()) {
		t.Fatal("CertPEM does not parse")
	}
	if _, err := leaf.Leaf.Verify(x509.VerifyOptions{
		DNSName: host, Roots: roots, CurrentTime: at,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}); err != nil {
		t.Fatalf("leaf for %q does not verify: %v", host, err)
	}
}

func TestLeaf_verifies(t *testing.T) {
	clk := newClock(t0)
	a, _, _ := newAuthority(t, WithClock(clk.now))
	tests := []struct {
		name, host, verifyAs string
		wantDNS              []string
		wantIP               string
	}{
		{"dns", "api.example.com", "api.example.com", []string{"api.example.com"}, ""},
		{"dns-case-dot", "API.Example.com.", "api.example.com", []string{"api.example.com"}, ""},
		{"dns-underscore", "my_svc.internal", "my_svc.internal", []string{"my_svc.internal"}, ""},
		{"ipv4", "10.0.0.1", "10.0.0.1", nil, "10.0.0.1"},
		{"ipv6", "2001:db8::1", "2001:db8::1", nil, "2001:db8::1"},
		{"ipv6-bracketed", "[2001:db8::1]", "2001:db8::1", nil, "2001:db8::1"},
		{"ipv4-mapped", "::ffff:10.0.0.1", "10.0.0.1", nil, "10.0.0.1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			leaf, err := a.Leaf(tc.host)
			if err != nil {
				t.Fatal(err)
			}
			verify(t, a, leaf, tc.verifyAs, t0)
			l := leaf.Leaf
			if fmt.Sprint(l.DNSNames) != fmt.Sprint(tc.wantDNS) {
				t.Fatalf("DNSNames = %v, want %v", l.DNSNames, tc.wantDNS)
			}
			if tc.wantIP != "" && (len(l.IPAddresses) != 1 || l.IPAddresses[0].String() != tc.wantIP) {
				t.Fatalf("IPAddresses = %v, want [%s]", l.IPAddresses, tc.wantIP)
			}
			if l.IsCA || l.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth || len(l.ExtKeyUsage) != 1 {
				t.Fatal("leaf is a CA or not a server certificate")
			}
			if !l.NotBefore.Equal(t0.Add(-time.Hour)) || !l.NotAfter.Equal(t0.Add(24*time.Hour)) {
				t.Fatalf("leaf validity %s..%s", l.NotBefore, l.NotAfter)
			}
			if pub, ok := l.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
				t.Fatal("leaf key is not ECDSA P-256")
			}
		})
	}
}

func TestLeaf_invalidHost(t *testing.T) {
	a, _, _ := newAuthority(t)
	tests := []struct{ host, wantText string }{
		{"", `invalid_host: host "" must be 1 to 253 characters long`},
		{"*.example.com", `invalid_host: host "*.example.com" is not a valid DNS name for a certificate`},
		{"a..b", `invalid_host: host "a..b" has an empty label or one longer than 63 characters`},
		{"exa mple.com", `invalid_host: host "exa mple.com" is not a valid DNS name for a certificate`},
	}
	for _, tc := range tests {
		t.Run(tc.host, func(t *testing.T) {
			leaf, err := a.Leaf(tc.host)
			if leaf != nil {
				t.Fatal("got a leaf with an error")
			}
			checkErr(t, err, domain.CodeInvalidHost, tc.wantText)
		})
	}
}

func TestLeaf_cache(t *testing.T) {
	a, _, _ := newAuthority(t, WithCacheSize(2))
	first, _ := a.Leaf("a.example")
	again, _ := a.Leaf("A.EXAMPLE.")
	if first != again || a.mints.Load() != 1 {
		t.Fatalf("cache miss for the same host (mints %d)", a.mints.Load())
	}
	a.Leaf("b.example")
	a.Leaf("c.example") // evicts a.example, the least recently used
	if a.mints.Load() != 3 {
		t.Fatalf("mints = %d, want 3", a.mints.Load())
	}
	if evicted, _ := a.Leaf("a.example"); evicted == first || a.mints.Load() != 4 {
		t.Fatalf("evicted leaf served again (mints %d)", a.mints.Load())
	}
}

func TestLeaf_remintBeforeExpiry(t *testing.T) {
	clk := newClock(t0)
	a, _, _ := newAuthority(t, WithClock(clk.now))
	first, _ := a.Leaf("api.example.com")
	steps := []struct {
		advance  time.Duration
		wantSame bool
	}{
		{22 * time.Hour, true},   // 2 h left
		{59 * time.Minute, true}, // 1 h 1 min left
		{time.Minute, false},     // 1 h left: renew
		{time.Minute, true},      // the new leaf is cached
	}
	cur := first
	for i, st := range steps {
		clk.add(st.advance)
		got, err := a.Leaf("api.example.com")
		if err != nil {
			t.Fatal(err)
		}
		if (got == cur) != st.wantSame {
			t.Fatalf("step %d at %s: same leaf = %v, want %v", i, clk.now(), got == cur, st.wantSame)
		}
		verify(t, a, got, "api.example.com", clk.now())
		cur = got
	}
	if a.mints.Load() != 2 {
		t.Fatalf("mints = %d, want 2", a.mints.Load())
	}
}

func TestLeaf_cappedByRoot(t *testing.T) {
	clk := newClock(t0)
	a, _, _ := newAuthority(t, WithClock(clk.now))
	clk.set(a.Certificate().NotAfter.Add(-2 * time.Hour))
	leaf, err := a.Leaf("late.example")
	if err != nil {
		t.Fatal(err)
	}
	if !leaf.Leaf.NotAfter.Equal(a.Certificate().NotAfter) {
		t.Fatalf("leaf outlives the root: %s > %s", leaf.Leaf.NotAfter, a.Certificate().NotAfter)
	}
}

// TestLeaf_hammer: P goroutines ask for the same few hosts at once; each host
// is minted exactly once and every caller gets that one leaf.
func TestLeaf_hammer(t *testing.T) {
	P, N := 8, 50
	if testing.Short() {
		P = 4
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(max(P/2, 1)))
	a, _, _ := newAuthority(t)
	hosts := []string{"a.example", "b.example", "10.0.0.1", "[2001:db8::1]"}
	got := make([][]*tls.Certificate, P)
	errs := make([]error, P)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for p := range P {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := range N {
				c, err := a.Leaf(hosts[(p+i)%len(hosts)])
				if err != nil {
					errs[p] = err
					return
				}
				got[p] = append(got[p], c)
			}
		}()
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if m := a.mints.Load(); m != int64(len(hosts)) {
		t.Fatalf("mints = %d, want one per host (%d)", m, len(hosts))
	}
	for p := range P {
		for i, c := range got[p] {
			want, _ := a.Leaf(hosts[(p+i)%len(hosts)])
			if c != want {
				t.Fatalf("goroutine %d call %d got a different leaf", p, i)
			}
		}
	}
}

// TestGetCertificate_handshake runs real TLS handshakes, as an agent would
// through the proxy.
func TestGetCertificate_handshake(t *testing.T) {
	a, _, _ := newAuthority(t)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(a.CertPEM())
	tests := []struct {
		name       string
		get        func(*tls.ClientHelloInfo) (*tls.Certificate, error)
		serverName string // SNI the client sends ("" for none)
		verifyAs   string // the name the client checks
		wantErr    string
	}{
		{"sni", a.GetCertificate, "api.example.com", "api.example.com", ""},
		{"no-sni", a.GetCertificate, "", "10.0.0.1", "proxy CA: client sent no server name (SNI)"},
		{"no-sni-fallback", a.GetCertificateFor("10.0.0.1"), "", "10.0.0.1", ""},
		{"sni-over-fallback", a.GetCertificateFor("other.example"), "api.example.com", "api.example.com", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cc, sc := net.Pipe()
			defer cc.Close()
			defer sc.Close()
			srvErr := make(chan error, 1)
			go func() {
				srv := tls.Server(sc, &tls.Config{GetCertificate: tc.get})
				srvErr <- srv.Handshake()
				sc.Close()
			}()
			cli := tls.Client(cc, &tls.Config{
				RootCAs:    roots,
				ServerName: tc.serverName,
				// With no SNI (IP-literal hosts), check the IP as a client
				// would, by verifying the chain ourselves.
				InsecureSkipVerify: tc.serverName == "",
				VerifyConnection: func(cs tls.ConnectionState) error {
					_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{DNSName: tc.verifyAs, Roots: roots})
					return err
				},
			})
			cliErr := cli.Handshake()
			err := <-srvErr
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr || cliErr == nil {
					t.Fatalf("server err = %v, client err = %v; want %q", err, cliErr, tc.wantErr)
				}
				return
			}
			if err != nil || cliErr != nil {
				t.Fatalf("handshake: server %v, client %v", err, cliErr)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	clk := newClock(t0)
	a, certPEM, keyPEM := newAuthority(t, WithClock(clk.now))
	loaded, err := Load(certPEM, keyPEM, WithClock(clk.now))
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := loaded.Leaf("api.example.com")
	if err != nil {
		t.Fatal(err)
	}
	verify(t, a, leaf, "api.example.com", t0) // the original root trusts it

	// The SEC 1 "EC PRIVATE KEY" form is read too.
	ecDER, _ := x509.MarshalECPrivateKey(a.key)
	if _, err := Load(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER})); err != nil {
		t.Fatalf("Load(EC PRIVATE KEY) = %v", err)
	}
}

func TestLoad_invalid(t *testing.T) {
	clk := newClock(t0)
	a, certPEM, keyPEM := newAuthority(t, WithClock(clk.now))
	_, _, otherKey := newAuthority(t)
	leaf, _ := a.Leaf("leaf.example")
	leafPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Certificate[0]})
	leafKeyDER, _ := x509.MarshalPKCS8PrivateKey(leaf.PrivateKey)
	leafKeyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: leafKeyDER})
	rsaLike := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte{1}})
	tests := []struct {
		name            string
		certPEM, keyPEM []byte
		at              time.Time
		wantText        string
	}{
		{"empty-cert", nil, keyPEM, t0, `ca_invalid: proxy CA: certificate is not a PEM "CERTIFICATE" block`},
		{"key-as-cert", keyPEM, keyPEM, t0, `ca_invalid: proxy CA: certificate is not a PEM "CERTIFICATE" block`},
		{"garbage-cert", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("x")}), keyPEM, t0, "ca_invalid: proxy CA: certificate does not parse"},
		{"empty-key", certPEM, nil, t0, "ca_invalid: proxy CA: key is not PEM"},
		{"garbage-key", certPEM, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("x")}), t0, "ca_invalid: proxy CA: key does not parse as PKCS #8"},
		{"rsa-block", certPEM, rsaLike, t0, `ca_invalid: proxy CA: key is a PEM "RSA PRIVATE KEY" block, want "PRIVATE KEY"`},
		{"other-key", certPEM, otherKey, t0, "ca_invalid: proxy CA: key does not belong to the certificate"},
		{"not-a-ca", leafPEM, leafKeyPEM, t0, "ca_invalid: proxy CA: certificate is not a CA certificate"},
		{"expired", certPEM, keyPEM, t0.AddDate(10, 0, 1), "ca_invalid: proxy CA: certificate expired on 2036-11-28T12:00:00Z"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			at := tc.at
			got, err := Load(tc.certPEM, tc.keyPEM, WithClock(func() time.Time { return at }))
			if got != nil {
				t.Fatal("got an authority with an error")
			}
			checkErr(t, err, domain.CodeCAInvalid, tc.wantText)
			if strings.Contains(err.Error(), "PRIVATE") && tc.name != "rsa-block" {
				t.Fatal("error quotes key material")
			}
		})
	}
}

func FuzzLoad(f *testing.F) {
	_, certPEM, keyPEM, err := New()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(certPEM, keyPEM)
	f.Add(keyPEM, certPEM)
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"), []byte{})
	f.Fuzz(func(t *testing.T, c, k []byte) {
		a, err := Load(c, k)
		if err != nil {
			if a != nil || domain.CodeOf(err) != domain.CodeCAInvalid {
				t.Fatalf("Load = %v, %v", a, err)
			}
			return
		}
		if _, err := a.Leaf("fuzz.example"); err != nil {
			t.Fatalf("loaded authority cannot mint: %v", err)
		}
	})
}

func FuzzLeafHost(f *testing.F) {
	a, _, _, err := New(WithCacheSize(8))
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"api.example.com", "10.0.0.1", "[::1]", "::ffff:1.2.3.4", "fe80::1%eth0", "*.x", "", "A.B."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		leaf, err := a.Leaf(host)
		if err != nil {
			if domain.CodeOf(err) != domain.CodeInvalidHost {
				t.Fatalf("Leaf(%q) = %v", host, err)
			}
			return
		}
		name, _, _ := normalize(host)
		roots := x509.NewCertPool()
		roots.AddCert(a.Certificate())
		if _, err := leaf.Leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots}); err != nil {
			t.Fatalf("leaf for %q (%q) does not verify: %v", host, name, err)
		}
	})
}

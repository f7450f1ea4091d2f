package proxy

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/url"
	"testing"

	"github.com/agent-vault/agent-vault/host/certs"
)

// TestWithCertsAuthority runs CONNECT interception on the product's CA:
// Config.Certificates is the authority's Leaf method as-is.
func TestWithCertsAuthority(t *testing.T) {
	ca, _, _, err := certs.New()
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, testServices(), func(c *Config) { c.Certificates = ca.Leaf })
	roots := x509.NewCertPool()
	roots.AddCert(ca.Certificate())
	tr := &http.Transport{
		Proxy:           http.ProxyURL(&url.URL{Scheme: "http", Host: e.addr, User: url.UserPassword("tok1", "main")}),
		TLSClientConfig: &tls.Config{RootCAs: roots},
	}
	defer tr.CloseIdleConnections()
	for _, u := range []string{"https://api.test/v1", "https://www.api.test/v1"} {
		resp, err := (&http.Client{Transport: tr}).Get(u)
		if err != nil {
			t.Fatal(err)
		}
		if got := decodeEcho(t, resp); !got.TLS || got.Name != "api" {
			t.Fatalf("%s: upstream saw %+v", u, got)
		}
	}
}

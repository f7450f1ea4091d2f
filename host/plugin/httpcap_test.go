package plugin

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/agent-vault/agent-vault/host/netguard"
	"github.com/agent-vault/agent-vault/sdk/abi"
)

// upstream is a loopback server that counts hits and can redirect.
type upstream struct {
	*httptest.Server
	hits atomic.Int32
}

func newUpstream(t *testing.T, redirectTo string) *upstream {
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		switch r.URL.Path {
		case "/redirect":
			http.Redirect(w, r, redirectTo, http.StatusFound)
		case "/big":
			w.Write(make([]byte, abi.MaxHTTPResponseBody+1))
		default:
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"auth":"` + r.Header.Get("Authorization") + `"}`))
		}
	}))
	t.Cleanup(u.Close)
	return u
}

// testCap is a capability granted manifest origins (guarded) and
// operator origins (which may be private), as resolveGrant gives them.
func testCap(t *testing.T, manifest, operator []string) *httpCapability {
	t.Helper()
	base, err := netguard.New(netguard.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var origins, exempt []string
	for _, o := range manifest {
		origins = append(origins, canon(o))
	}
	for _, o := range operator {
		origins = append(origins, canon(o))
		exempt = append(exempt, canon(o))
	}
	guard, err := base.WithExceptions(exempt...)
	if err != nil {
		t.Fatal(err)
	}
	return newHTTPCapability(origins, guard, nil)
}

func do(c *httpCapability, method, url string) (*abi.HTTPResponse, *abi.Error) {
	desc, _ := json.Marshal(abi.HTTPRequest{Method: method, URL: url, Header: map[string][]string{"Authorization": {"Bearer s3cr3t"}}})
	r, origin, err := abi.DecodeHTTPRequest(desc)
	if err != nil {
		return nil, &abi.Error{Code: "decode", Message: err.Error()}
	}
	return c.do(context.Background(), r, origin)
}

func TestHTTP_allowed(t *testing.T) {
	up := newUpstream(t, "")
	c := testCap(t, nil, []string{up.URL})
	resp, herr := do(c, "GET", up.URL+"/x")
	if herr != nil || resp.Status != 200 || string(resp.Body) != `{"auth":"Bearer s3cr3t"}` {
		t.Fatalf("resp %+v, err %v", resp, herr)
	}
}

func TestHTTP_denied(t *testing.T) {
	up := newUpstream(t, "")
	other := newUpstream(t, "")
	tests := []struct {
		name     string
		manifest []string
		operator []string
		url      string
		wantCode string
		wantMsg  string
	}{
		{name: "origin-not-granted", operator: []string{other.URL}, url: up.URL + "/x",
			wantCode: abi.CodeHTTPOriginDenied, wantMsg: "origin " + canon(up.URL) + " is not granted to this plugin"},
		{name: "no-grants", url: up.URL + "/x",
			wantCode: abi.CodeHTTPOriginDenied, wantMsg: "origin " + canon(up.URL) + " is not granted to this plugin"},
		{name: "other-port-same-host", operator: []string{"http://127.0.0.1:1"}, url: up.URL + "/x",
			wantCode: abi.CodeHTTPOriginDenied, wantMsg: "origin " + canon(up.URL) + " is not granted to this plugin"},
		{name: "manifest-origin-on-loopback", manifest: []string{up.URL}, url: up.URL + "/x",
			wantCode: abi.CodeHTTPPrivateAddress, wantMsg: strings.TrimPrefix(up.URL, "http://") + " is a private, special-purpose or metadata address; a plugin reaches one only through an origin the operator granted"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := testCap(t, tc.manifest, tc.operator)
			_, herr := do(c, "GET", tc.url)
			if herr == nil || herr.Code != tc.wantCode || herr.Message != tc.wantMsg {
				t.Fatalf("got %+v, want %s: %s", herr, tc.wantCode, tc.wantMsg)
			}
			if up.hits.Load() != 0 {
				t.Fatalf("denied request reached the upstream")
			}
		})
	}
}

func canon(u string) string { o, _ := abi.ParseOrigin(u); return o }

func TestHTTP_redirect(t *testing.T) {
	outside := newUpstream(t, "")
	bouncer := newUpstream(t, outside.URL+"/stolen")
	t.Run("denied-to-ungranted-origin", func(t *testing.T) {
		c := testCap(t, nil, []string{bouncer.URL})
		_, herr := do(c, "GET", bouncer.URL+"/redirect")
		want := "redirect to origin " + canon(outside.URL) + " is not granted to this plugin"
		if herr == nil || herr.Code != abi.CodeHTTPOriginDenied || herr.Message != want {
			t.Fatalf("got %+v, want %s", herr, want)
		}
		if outside.hits.Load() != 0 {
			t.Fatal("redirect reached the ungranted origin")
		}
	})
	t.Run("allowed-between-granted-origins", func(t *testing.T) {
		c := testCap(t, nil, []string{bouncer.URL, outside.URL})
		resp, herr := do(c, "GET", bouncer.URL+"/redirect")
		if herr != nil || resp.Status != 200 || outside.hits.Load() != 1 {
			t.Fatalf("resp %+v, err %v, hits %d", resp, herr, outside.hits.Load())
		}
	})
	t.Run("loop-stops", func(t *testing.T) {
		var self *upstream
		self = newUpstream(t, "")
		self.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, self.URL+"/again", http.StatusFound)
		})
		c := testCap(t, nil, []string{self.URL})
		_, herr := do(c, "GET", self.URL+"/start")
		if herr == nil || herr.Code != abi.CodeHTTPFailed || herr.Message != "stopped after 5 redirects" {
			t.Fatalf("got %+v", herr)
		}
	})
}

func TestHTTP_responseTooLarge(t *testing.T) {
	up := newUpstream(t, "")
	c := testCap(t, nil, []string{up.URL})
	_, herr := do(c, "GET", up.URL+"/big")
	if herr == nil || herr.Code != abi.CodeHTTPTooLarge || herr.Message != fmt.Sprintf("response body exceeds %d bytes", abi.MaxHTTPResponseBody) {
		t.Fatalf("got %+v", herr)
	}
}

func TestHTTP_failureHidesSecrets(t *testing.T) {
	// A refused connection: the message names the cause, not the URL's
	// query string nor the request headers.
	c := testCap(t, nil, []string{"http://127.0.0.1:1"})
	_, herr := do(c, "GET", "http://127.0.0.1:1/x?token=s3cr3t")
	if herr == nil || herr.Code != abi.CodeHTTPFailed || strings.Contains(herr.Message, "s3cr3t") {
		t.Fatalf("got %+v", herr)
	}
}

// TestHTTP_specialRanges: a granted origin that is not operator-named may
// not reach any address host/netguard refuses, including the special
// ranges a weaker check misses (benchmarking, reserved, IETF, NAT64 of a
// private address); an operator-named origin is still refused a metadata
// address. Nothing is dialled.
func TestHTTP_specialRanges(t *testing.T) {
	tests := []struct {
		origin   string
		operator bool
	}{
		{origin: "http://198.18.0.1"}, {origin: "http://240.0.0.1"}, {origin: "http://192.0.0.8"},
		{origin: "http://192.0.2.1"}, {origin: "http://0.1.2.3"}, {origin: "http://255.255.255.255"},
		{origin: "http://[64:ff9b::a00:1]"}, {origin: "http://[100::1]"}, {origin: "http://[2001:db8::1]"},
		{origin: "http://[fec0::1]"}, {origin: "http://127.0.0.1:9"}, {origin: "http://[::ffff:10.0.0.1]"},
		{origin: "http://169.254.169.254", operator: true}, {origin: "http://[fd00:ec2::254]", operator: true},
	}
	for _, tc := range tests {
		t.Run(tc.origin, func(t *testing.T) {
			var c *httpCapability
			if tc.operator {
				c = testCap(t, nil, []string{tc.origin})
			} else {
				c = testCap(t, []string{tc.origin}, nil)
			}
			_, herr := do(c, "GET", tc.origin+"/x")
			if herr == nil || herr.Code != abi.CodeHTTPPrivateAddress {
				t.Fatalf("got %+v, want %s", herr, abi.CodeHTTPPrivateAddress)
			}
		})
	}
}

// TestHTTP_throughGuest drives the capability from a WAT guest: the probe
// export sends its config as the request descriptor.
func TestHTTP_throughGuest(t *testing.T) {
	up := newUpstream(t, "")
	outside := newUpstream(t, "")
	bouncer := newUpstream(t, outside.URL+"/x")
	rt := newTestRuntime(t, func(c *Config) {
		c.Env = envMap(map[string]string{"HTTPGUEST_ORIGINS": up.URL + "," + bouncer.URL})
	})
	p := rt.load(t, "limits/http")
	ctx := context.Background()
	tests := []struct {
		name, url, want string
	}{
		{name: "granted", url: up.URL + "/ok"},
		{name: "not-granted", url: outside.URL + "/x",
			want: `plugin_error|guest|plugin "httpguest": export "probe": returned unknown code "http_origin_denied": origin ` + canon(outside.URL) + ` is not granted to this plugin`},
		{name: "redirect-out", url: bouncer.URL + "/redirect",
			want: `plugin_error|guest|plugin "httpguest": export "probe": returned unknown code "http_origin_denied": redirect to origin ` + canon(outside.URL) + ` is not granted to this plugin`},
		{name: "bad-descriptor", url: "ftp://x",
			want: `plugin_error|guest|plugin "httpguest": export "probe": returned unknown code "http_bad_request": origin "ftp://x": scheme must be http or https`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := p.Probe(ctx, json.RawMessage(`{"method":"GET","url":"`+tc.url+`"}`))
			if got := errString(err); got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
	if up.hits.Load() != 1 || outside.hits.Load() != 0 {
		t.Fatalf("hits: granted %d, outside %d", up.hits.Load(), outside.hits.Load())
	}
}

// TestHTTP_grants drives a third-party guest whose manifest requests a
// fixed origin and the origins of HTTPGUEST_ORIGINS: it reaches only what
// the operator's grant names, whatever the manifest or the environment
// say, and a granted loopback origin is reachable because the operator
// named it.
func TestHTTP_grants(t *testing.T) {
	up := newUpstream(t, "")
	wasm := guest(t, "limits/http")
	sum := sha256Hex(wasm)
	denied := func(origin string) string {
		return `plugin_error|guest|plugin "httpguest": export "probe": returned unknown code "http_origin_denied": origin ` + origin + ` is not granted to this plugin`
	}
	tests := []struct {
		name  string
		grant Grant
		url   string
		want  string
	}{
		{name: "env-origin-not-granted", grant: Grant{SHA256: sum, Env: []string{"HTTPGUEST_ORIGINS"}}, url: up.URL + "/x", want: denied(canon(up.URL))},
		{name: "manifest-origin-not-granted", grant: Grant{SHA256: sum, Env: []string{"HTTPGUEST_ORIGINS"}}, url: "https://api.example.com/x", want: denied("https://api.example.com:443")},
		{name: "env-not-granted", grant: Grant{SHA256: sum, HTTPOrigins: []string{up.URL}}, url: up.URL + "/x", want: denied(canon(up.URL))},
		{name: "granted", grant: Grant{SHA256: sum, Env: []string{"HTTPGUEST_ORIGINS"}, HTTPOrigins: []string{canon(up.URL)}}, url: up.URL + "/x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rt := newTestRuntime(t, func(c *Config) {
				c.Env = envMap(map[string]string{"HTTPGUEST_ORIGINS": up.URL})
				c.Grants = map[string]Grant{"httpguest": tc.grant}
			})
			p, err := rt.loadThirdParty(context.Background(), "httpguest", wasm)
			if err != nil {
				t.Fatal(err)
			}
			before := up.hits.Load()
			err = p.Probe(context.Background(), json.RawMessage(`{"method":"GET","url":"`+tc.url+`"}`))
			if got := errString(err); got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
			if hit := up.hits.Load() != before; hit != (tc.want == "") {
				t.Fatalf("upstream hit = %v", hit)
			}
		})
	}
}

// TestHTTP_roots: an upstream behind a private CA is refused with the
// system roots and reached once the operator's roots (RootCAs) hold it.
func TestHTTP_roots(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer srv.Close()
	tests := []struct {
		name     string
		roots    *x509.CertPool
		wantCode string
	}{
		{"system-roots", nil, abi.CodeHTTPFailed},
		{"operator-roots", func() *x509.CertPool { p := x509.NewCertPool(); p.AddCert(srv.Certificate()); return p }(), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newHTTPCapability([]string{canon(srv.URL)}, testGuard(t, canon(srv.URL)), tc.roots)
			resp, err := do(c, "GET", srv.URL+"/x")
			if tc.wantCode != "" {
				if err == nil || err.Code != tc.wantCode || !strings.Contains(err.Message, "certificate") {
					t.Fatalf("got %v, %v; want %s naming the certificate", resp, err, tc.wantCode)
				}
				return
			}
			if err != nil || resp.Status != 200 {
				t.Fatalf("got %+v, %v", resp, err)
			}
		})
	}
}

func testGuard(t *testing.T, exempt ...string) *netguard.Guard {
	base, err := netguard.New(netguard.Options{})
	if err != nil {
		t.Fatal(err)
	}
	g, err := base.WithExceptions(exempt...)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

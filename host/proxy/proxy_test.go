package proxy

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/agent-vault/agent-vault/host/domain"
)

func off() *bool { b := false; return &b }

func testServices() []domain.Service {
	bearer := domain.Auth{Type: domain.AuthBearer, Token: "TOKEN"}
	return []domain.Service{
		{Name: "bearer", Host: "api.test", Auth: bearer, Substitutions: []domain.Substitution{
			{Key: "ACCOUNT", Placeholder: "__ACCOUNT__", In: []domain.Surface{"path", "query", "header", "body"}}}},
		{Name: "basic", Host: "api.test/basic/*", Auth: domain.Auth{Type: domain.AuthBasic, Username: "USER", Password: "PASS"}},
		{Name: "apikey", Host: "api.test/apikey/*", Auth: domain.Auth{Type: domain.AuthAPIKey, Key: "KEY", Prefix: "Key "}},
		{Name: "custom", Host: "api.test/custom/*", Auth: domain.Auth{Type: domain.AuthCustom, Headers: map[string]string{"X-Sig": "{{ USER }}:{{ KEY }}"}}},
		{Name: "pass", Host: "api.test/pass/*", Auth: domain.Auth{Type: domain.AuthPassthrough}},
		{Name: "wild", Host: "*.api.test", Auth: domain.Auth{Type: domain.AuthAPIKey, Key: "KEY"}},
		{Name: "disabled", Host: "api.test/disabled/*", Enabled: off(), Auth: bearer},
		{Name: "missing", Host: "api.test/missing/*", Auth: domain.Auth{Type: domain.AuthBearer, Token: "NOPE"}},
		{Name: "crlf", Host: "api.test/crlf/*", Auth: domain.Auth{Type: domain.AuthBearer, Token: "CRLF"}},
		{Name: "broken", Host: "api.test/broken/*", Auth: domain.Auth{Type: domain.AuthBearer, Token: "BROKEN"}},
		{Name: "cookies", Host: "api.test/cookies/*", Auth: domain.Auth{Type: domain.AuthPassthrough}, AllowSetCookie: true},
		{Name: "blocked", Host: "blocked.test", Auth: bearer},
	}
}

// TestInjection checks, for each auth type and over both plain HTTP and
// CONNECT/MITM, exactly what the upstream receives. The echo upstream sends
// the headers back in its body: that is what an agent would receive from a
// service that reflects its input, and is out of the proxy's hands.
func TestInjection(t *testing.T) {
	e := newEnv(t, testServices())
	c := e.client("tok1:main")
	n := 0 // events seen
	tests := []struct {
		name       string
		path       string
		header     string // header the upstream must see, with exactly this value
		want       string
		wantKeys   []string
		wantSvc    string
		clientAuth string // Authorization the agent sends (must be replaced)
	}{
		{name: "bearer", path: "/v1/charges", header: "Authorization", want: "Bearer sk_live_TOKENVALUE", wantKeys: []string{"TOKEN"}, wantSvc: "bearer", clientAuth: "Bearer fake"},
		{name: "basic", path: "/basic/x", header: "Authorization", want: "Basic " + base64.StdEncoding.EncodeToString([]byte("alice-USERVALUE:PASSVALUE")), wantKeys: []string{"USER", "PASS"}, wantSvc: "basic"},
		{name: "api-key", path: "/apikey/x", header: "X-Api-Key", want: "Key APIKEYVALUE", wantKeys: []string{"KEY"}, wantSvc: "apikey"},
		{name: "custom", path: "/custom/x", header: "X-Sig", want: "alice-USERVALUE:APIKEYVALUE", wantKeys: []string{"USER", "KEY"}, wantSvc: "custom"},
		{name: "passthrough", path: "/pass/x", header: "Authorization", want: "Bearer agent-own", wantSvc: "pass", clientAuth: "Bearer agent-own"},
	}
	for _, scheme := range []string{"http", "https"} {
		for _, tc := range tests {
			t.Run(scheme+"/"+tc.name, func(t *testing.T) {
				req, _ := http.NewRequest("GET", scheme+"://api.test"+tc.path+"?q=1", nil)
				if tc.clientAuth != "" {
					req.Header.Set("Authorization", tc.clientAuth)
				}
				resp, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				for k, vs := range resp.Header {
					assertNoSecrets(t, "response header "+k, strings.Join(vs, ","))
				}
				got := decodeEcho(t, resp)
				if resp.StatusCode != 200 || got.TLS != (scheme == "https") || got.Host != "api.test" || got.Raw != tc.path+"?q=1" {
					t.Fatalf("status %d, upstream saw tls=%v host=%q uri=%q", resp.StatusCode, got.TLS, got.Host, got.Raw)
				}
				if v := got.Header.Values(tc.header); len(v) != 1 || v[0] != tc.want {
					t.Fatalf("upstream %s = %q, want [%q]", tc.header, v, tc.want)
				}
				if got.Header.Get("Proxy-Authorization") != "" {
					t.Fatal("Proxy-Authorization reached the upstream")
				}
				ev := e.log.next(t, n)
				n++
				if ev.Service != tc.wantSvc || fmt.Sprint(ev.Keys) != fmt.Sprint(tc.wantKeys) || ev.Status != 200 || ev.Path != tc.path ||
					ev.VaultName != "main" || ev.ActorID != "agent-1" || ev.Host != "api.test" || ev.Error != "" {
					t.Fatalf("event %+v", ev)
				}
			})
		}
	}
}

// TestSubstitution sends placeholders in every surface: the upstream sees
// encoded values; the log keeps the placeholder form of the path.
func TestSubstitution(t *testing.T) {
	e := newEnv(t, testServices())
	c := e.client("tok1:main")
	for i, scheme := range []string{"http", "https"} {
		t.Run(scheme, func(t *testing.T) {
			req, _ := http.NewRequest("POST", scheme+"://api.test/accounts/__ACCOUNT__/x?id=__ACCOUNT__",
				strings.NewReader(`{"account":"__ACCOUNT__"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Account", "__ACCOUNT__")
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got := decodeEcho(t, resp)
			if got.Raw != "/accounts/acct_ACCOUNTVALUE/x?id=acct_ACCOUNTVALUE" || got.Header.Get("X-Account") != "acct_ACCOUNTVALUE" ||
				got.Body != `{"account":"acct_ACCOUNTVALUE"}` || got.Header.Get("Content-Length") != "31" {
				t.Fatalf("upstream saw %q, header %q, body %q, length %q", got.Raw, got.Header.Get("X-Account"), got.Body, got.Header.Get("Content-Length"))
			}
			ev := e.log.next(t, i)
			if ev.Path != "/accounts/__ACCOUNT__/x" || fmt.Sprint(ev.Keys) != "[ACCOUNT TOKEN]" {
				t.Fatalf("event %+v", ev)
			}
		})
	}
}

// TestProxyErrors covers every answer the proxy writes itself.
func TestProxyErrors(t *testing.T) {
	e := newEnv(t, testServices())
	tests := []struct {
		name       string
		userinfo   string
		url        string
		wantStatus int
		wantCode   string
		wantMsg    string
	}{
		{"no-auth-http", "", "http://api.test/", 407, CodeProxyAuthRequired,
			"proxy authentication required: use http://<token>:<vault>@<proxy> or Proxy-Authorization: Bearer <token>"},
		{"bad-token", "nope:main", "http://api.test/", 407, domain.CodeUnauthorized, "the proxy token is invalid or expired"},
		{"other-vault", "tok2:main", "http://api.test/", 403, domain.CodeForbidden, `this session is limited to vault "locked"`},
		{"disabled", "tok1:main", "http://api.test/disabled/x", 403, domain.CodeServiceDisabled, `service "disabled" of vault "main" is disabled`},
		{"disabled-https", "tok1:main", "https://api.test/disabled/x", 403, domain.CodeServiceDisabled, `service "disabled" of vault "main" is disabled`},
		{"missing-credential", "tok1:main", "http://api.test/missing/x", 502, domain.CodeCredentialNotFound, `credential "NOPE" is not in vault "main"`},
		{"crlf-credential", "tok1:main", "https://api.test/crlf/x", 502, domain.CodeCredentialUnusable,
			`the value of credential "CRLF" contains a control character and cannot be sent in a header`},
		{"store-failure", "tok1:main", "http://api.test/broken/x", 502, domain.CodeExternalStore, "the external store is unreachable"},
		{"deny-policy", "tok2:locked", "http://deny.test/x", 403, domain.CodeHostNotAllowed, `vault "locked" has no service for deny.test and refuses other hosts`},
		{"blocked-destination", "tok1:main", "http://blocked.test/x", 403, "destination_blocked", "blocked.test:80 is in a private range"},
		{"unreachable", "tok1:main", "http://127.0.0.1:1/", 502, CodeUpstream, "cannot reach 127.0.0.1"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := e.client(tc.userinfo).Get(tc.url)
			if tc.wantStatus == 407 && strings.HasPrefix(tc.url, "https") {
				t.Fatal("use http:// for 407 rows: Go's client reports a failed CONNECT as an error")
			}
			if err != nil {
				t.Fatal(err)
			}
			b := errorOf(t, resp)
			if resp.StatusCode != tc.wantStatus || b.Error != tc.wantCode || b.Message != tc.wantMsg {
				t.Fatalf("got %d %q %q, want %d %q %q", resp.StatusCode, b.Error, b.Message, tc.wantStatus, tc.wantCode, tc.wantMsg)
			}
			if tc.wantStatus == 407 && resp.Header.Get("Proxy-Authenticate") != `Basic realm="agent-vault"` {
				t.Fatalf("Proxy-Authenticate = %q", resp.Header.Get("Proxy-Authenticate"))
			}
			if tc.wantCode == domain.CodeHostNotAllowed && !strings.Contains(b.ProposalHint, `Propose a service for host "deny.test"`) {
				t.Fatalf("proposal_hint = %q", b.ProposalHint)
			}
			if ev := e.log.next(t, i); ev.Status != tc.wantStatus || ev.Error != tc.wantCode {
				t.Fatalf("event %+v", ev)
			}
		})
	}
}

func TestConnectAuthRequired(t *testing.T) {
	e := newEnv(t, testServices())
	for _, hdr := range []string{"", "Basic " + base64.StdEncoding.EncodeToString([]byte("nope:main"))} {
		c := dialProxy(t, e)
		fmt.Fprintf(c, "CONNECT api.test:443 HTTP/1.1\r\nHost: api.test:443\r\n")
		if hdr != "" {
			fmt.Fprintf(c, "Proxy-Authorization: %s\r\n", hdr)
		}
		fmt.Fprintf(c, "\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 407 || resp.Header.Get("Proxy-Authenticate") != `Basic realm="agent-vault"` {
			t.Fatalf("status %d, Proxy-Authenticate %q", resp.StatusCode, resp.Header.Get("Proxy-Authenticate"))
		}
	}
}

func TestBearerProxyAuthorization(t *testing.T) {
	e := newEnv(t, testServices())
	req, _ := http.NewRequest("GET", "http://api.test/v1", nil)
	tr := &http.Transport{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: e.addr}),
		ProxyConnectHeader: http.Header{}}
	defer tr.CloseIdleConnections()
	req.Header.Set("Proxy-Authorization", "Bearer tok1")
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if got := decodeEcho(t, resp); got.Header.Get("Authorization") != "Bearer sk_live_TOKENVALUE" {
		t.Fatalf("upstream Authorization %q", got.Header.Get("Authorization"))
	}
}

func TestRequestForms(t *testing.T) {
	e := newEnv(t, testServices())
	auth := "Proxy-Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("tok1:main")) + "\r\n"
	tests := []struct {
		name, request string
		wantStatus    int
		wantCode      string
	}{
		{"origin-form", "GET /v1 HTTP/1.1\r\nHost: api.test\r\n" + auth + "\r\n", 400, CodeBadProxyRequest},
		{"https-absolute-form", "GET https://api.test/v1 HTTP/1.1\r\nHost: api.test\r\n" + auth + "\r\n", 400, CodeHTTPSAbsoluteForm},
		{"connect-without-port", "CONNECT api.test HTTP/1.1\r\nHost: api.test\r\n" + auth + "\r\n", 400, CodeBadProxyRequest},
		{"connect-bad-port", "CONNECT api.test:99999 HTTP/1.1\r\nHost: api.test:99999\r\n" + auth + "\r\n", 400, CodeBadProxyRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := dialProxy(t, e)
			io.WriteString(c, tc.request)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			if b := errorOf(t, resp); resp.StatusCode != tc.wantStatus || b.Error != tc.wantCode {
				t.Fatalf("got %d %q, want %d %q", resp.StatusCode, b.Error, tc.wantStatus, tc.wantCode)
			}
		})
	}
}

// TestHostPinned sends a different Host inside CONNECT tunnels (TLS and
// plain): the upstream and the dialer only ever see the CONNECT target, and
// the credential is the one for the CONNECT target's service.
func TestHostPinned(t *testing.T) {
	e := newEnv(t, testServices())
	for _, useTLS := range []bool{true, false} {
		t.Run(fmt.Sprintf("tls=%v", useTLS), func(t *testing.T) {
			target := "api.test:80"
			if useTLS {
				target = "api.test:443"
			}
			before := len(e.dial.dialedAddrs())
			conn := e.rawConnect(target, "tok1:main")
			rw := conn
			if useTLS {
				tc := tls.Client(conn, &tls.Config{ServerName: "api.test", RootCAs: e.mitmCA.pool})
				if err := tc.Handshake(); err != nil {
					t.Fatal(err)
				}
				rw = tc
			}
			io.WriteString(rw, "GET http://other.test/pinned HTTP/1.1\r\nHost: other.test\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(rw), nil)
			if err != nil {
				t.Fatal(err)
			}
			got := decodeEcho(t, resp)
			if got.Name != "api" || got.Host != "api.test" || got.Path != "/pinned" || got.Header.Get("Authorization") != "Bearer sk_live_TOKENVALUE" {
				t.Fatalf("upstream %q saw host %q path %q auth %q", got.Name, got.Host, got.Path, got.Header.Get("Authorization"))
			}
			for _, a := range e.dial.dialedAddrs()[before:] {
				if a != target {
					t.Fatalf("dialed %q, want only %q", a, target)
				}
			}
		})
	}
}

// TestLeafCertificateForConnectHost checks the MITM leaf names the CONNECT
// host, whatever SNI the client sends.
func TestLeafCertificateForConnectHost(t *testing.T) {
	e := newEnv(t, testServices())
	conn := e.rawConnect("api.test:443", "tok1:main")
	tc := tls.Client(conn, &tls.Config{ServerName: "other.test", RootCAs: e.mitmCA.pool})
	err := tc.Handshake()
	if err == nil || !strings.Contains(err.Error(), "certificate is valid for api.test, not other.test") {
		t.Fatalf("handshake with foreign SNI: %v", err)
	}
}

// TestRedirects: the proxy returns redirects untouched, and when the agent
// follows one to another host no credential goes with it.
func TestRedirects(t *testing.T) {
	e := newEnv(t, testServices())
	e.mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://other.test/landing", http.StatusFound)
	})
	c := e.client("tok1:main")
	for _, scheme := range []string{"http", "https"} {
		resp, err := c.Get(scheme + "://api.test/redirect")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 302 || resp.Header.Get("Location") != "http://other.test/landing" {
			t.Fatalf("%s: status %d Location %q", scheme, resp.StatusCode, resp.Header.Get("Location"))
		}
		for _, a := range e.dial.dialedAddrs() {
			if strings.HasPrefix(a, "other.test") {
				t.Fatalf("%s: the proxy followed the redirect to %s", scheme, a)
			}
		}
	}
	follow := e.client("tok1:main")
	follow.CheckRedirect = nil
	req, _ := http.NewRequest("GET", "https://api.test/redirect", nil)
	req.Header.Set("X-Account", "__ACCOUNT__")
	resp, err := follow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got := decodeEcho(t, resp)
	if got.Name != "other" {
		t.Fatalf("landed on %q", got.Name)
	}
	for k, vs := range got.Header {
		assertNoSecrets(t, "cross-host header "+k, strings.Join(vs, ","))
	}
	if got.Header.Get("X-Account") != "__ACCOUNT__" {
		t.Fatalf("placeholder should pass unresolved to a host without a service, got %q", got.Header.Get("X-Account"))
	}
}

// TestHopByHop: headers named in Connection and proxy headers never cross,
// in either direction; a client cannot strip an injected header by naming
// it in Connection; Set-Cookie needs the service's opt-in.
func TestHopByHop(t *testing.T) {
	e := newEnv(t, testServices())
	c := e.client("tok1:main")
	for _, path := range []string{"/v1", "/cookies/x"} {
		req, _ := http.NewRequest("GET", "http://api.test"+path, nil)
		req.Header.Set("Connection", "X-Hop, Authorization, X-Api-Key")
		req.Header.Set("X-Hop", "client-hop")
		req.Header.Set("Keep-Alive", "timeout=5")
		req.Header.Set("Proxy-Connection", "keep-alive")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Header.Get("X-Hop-Response") != "" {
			t.Fatalf("%s: response hop-by-hop header reached the client", path)
		}
		wantCookie := ""
		if path == "/cookies/x" {
			wantCookie = "session=upstream"
		}
		if got := resp.Header.Get("Set-Cookie"); got != wantCookie {
			t.Fatalf("%s: Set-Cookie = %q, want %q", path, got, wantCookie)
		}
		got := decodeEcho(t, resp)
		for _, h := range []string{"X-Hop", "Keep-Alive", "Proxy-Connection", "Proxy-Authorization"} {
			if got.Header.Get(h) != "" {
				t.Fatalf("%s: %s reached the upstream", path, h)
			}
		}
		if path == "/v1" && got.Header.Get("Authorization") != "Bearer sk_live_TOKENVALUE" {
			t.Fatalf("injected Authorization was stripped: %q", got.Header.Get("Authorization"))
		}
	}
}

func TestWildcardService(t *testing.T) {
	e := newEnv(t, testServices())
	resp, err := e.client("tok1:main").Get("https://www.api.test/x")
	if err != nil {
		t.Fatal(err)
	}
	if got := decodeEcho(t, resp); got.Host != "www.api.test" || got.Header.Get("X-Api-Key") != "APIKEYVALUE" {
		t.Fatalf("host %q key %q", got.Host, got.Header.Get("X-Api-Key"))
	}
}

func TestUpstreamTLSVerified(t *testing.T) {
	e := newEnv(t, testServices(), func(c *Config) { c.UpstreamRoots = nil }) // system roots do not know the test CA
	resp, err := e.client("tok1:main").Get("https://api.test/v1")
	if err != nil {
		t.Fatal(err)
	}
	if b := errorOf(t, resp); resp.StatusCode != 502 || b.Error != CodeUpstream || b.Message != "the TLS certificate of api.test did not verify" {
		t.Fatalf("got %d %+v", resp.StatusCode, b)
	}
}

func dialProxy(t testing.TB, e *env) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Credentials never travel in clear text to a public host unless the
// service opts in; only loopback hosts are exempt.
func TestPlaintextInjectionRefused(t *testing.T) {
	e := newEnv(t, testServices())
	svcs := e.vaults.m["v1"].Services
	for i := range svcs {
		svcs[i].AllowPlainHTTP = false
	}
	res, err := e.client("tok1:main").Get("http://api.test/v1/charges")
	if err != nil {
		t.Fatal(err)
	}
	body := errorOf(t, res)
	if res.StatusCode != http.StatusForbidden || body.Error != CodePlaintextRefused {
		t.Fatalf("got %d %+v", res.StatusCode, body)
	}
	// The same service over https (CONNECT) injects as usual.
	res, err = e.client("tok1:main").Get("https://api.test/v1/charges")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("https: %d", res.StatusCode)
	}
	for _, tc := range []struct {
		host  string
		local bool
	}{{"localhost", true}, {"api.localhost", true}, {"127.0.0.1", true}, {"[::1]", true}, {"::ffff:127.0.0.1", true},
		{"10.1.2.3", false}, {"192.168.1.1", false}, {"169.254.169.254", false}, {"[fd00::1]", false}, {"api.test", false}, {"8.8.8.8", false}} {
		if got := loopbackHost(tc.host); got != tc.local {
			t.Errorf("loopbackHost(%q) = %v", tc.host, got)
		}
	}
}

package cli_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// sessionsFixture is a real server with a vault "app" whose service "up"
// (a loopback upstream, plain and TLS) gets UP_TOKEN injected.
type sessionsFixture struct {
	s          *runningServer
	owner      string // the owner's session token
	proxyAddr  string
	caPool     *x509.CertPool
	plain, tls *httptest.Server
}

// echoUpstream answers "injected" when the proxy attached the credential.
func echoUpstream(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") == "Bearer upstream-secret" {
		io.WriteString(w, "injected")
		return
	}
	io.WriteString(w, "bare")
}

func newSessionsFixture(t *testing.T, flags ...string) *sessionsFixture {
	t.Helper()
	f := &sessionsFixture{plain: httptest.NewServer(http.HandlerFunc(echoUpstream)), tls: httptest.NewTLSServer(http.HandlerFunc(echoUpstream))}
	t.Cleanup(f.plain.Close)
	t.Cleanup(f.tls.Close)
	caFile := writeCertPEM(t, f.tls.Certificate())
	f.s = startServerWith(t, newDataDir(t), append([]string{"--mitm-port=-1", "--allow-private-ranges", "--upstream-ca-file", caFile}, flags...))
	_, body := post(t, f.s.URL+"/v1/auth/register", "", `{"email":"owner@example.com","password":"password1"}`)
	f.owner = tokenField.FindStringSubmatch(body)[1]
	f.mustCall(t, "POST", "/v1/vaults", f.owner, `{"name":"app"}`, 201)
	f.mustCall(t, "POST", "/v1/credentials", f.owner, `{"vault":"app","credentials":{"UP_TOKEN":"upstream-secret"}}`, 200)
	svc := func(name, host string) string {
		return fmt.Sprintf(`{"name":%q,"host":%q,"auth":{"type":"bearer","token":"UP_TOKEN"}}`, name, host)
	}
	f.mustCall(t, "POST", "/v1/vaults/app/services", f.owner, `{"services":[`+
		svc("plain", strings.TrimPrefix(f.plain.URL, "http://"))+","+svc("tls", strings.TrimPrefix(f.tls.URL, "https://"))+`]}`, 200)
	res, err := http.Get(f.s.URL + "/v1/mitm/ca.pem")
	if err != nil {
		t.Fatal(err)
	}
	caPEM, _ := io.ReadAll(res.Body)
	res.Body.Close()
	f.proxyAddr = "127.0.0.1:" + res.Header.Get("X-MITM-Port")
	f.caPool = x509.NewCertPool()
	if !f.caPool.AppendCertsFromPEM(caPEM) {
		t.Fatal("no proxy CA")
	}
	return f
}

func writeCertPEM(t *testing.T, cert *x509.Certificate) string {
	path := filepath.Join(t.TempDir(), "upstream.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// call sends an API request and returns the status and body.
func (f *sessionsFixture) call(t *testing.T, method, path, token, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, f.s.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func (f *sessionsFixture) mustCall(t *testing.T, method, path, token, body string, want int) string {
	t.Helper()
	status, out := f.call(t, method, path, token, body)
	if status != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, status, out, want)
	}
	return out
}

// agent creates an agent with a role in "app" and returns its token.
func (f *sessionsFixture) agent(t *testing.T, name, role string) string {
	out := f.mustCall(t, "POST", "/v1/agents", f.owner, fmt.Sprintf(`{"name":%q,"vaults":[{"vault":"app","role":%q}]}`, name, role), 201)
	return tokenField.FindStringSubmatch(out)[1]
}

// mint creates a week-long scoped session with token and returns its id
// and token.
func (f *sessionsFixture) mint(t *testing.T, token string) (id, session string) {
	var out struct{ ID, Token string }
	json.Unmarshal([]byte(f.mustCall(t, "POST", "/v1/sessions", token, `{"vault":"app","ttl_seconds":604800}`, 201)), &out)
	return out.ID, out.Token
}

// proxyConn is one client connection to the proxy, kept open.
type proxyConn struct {
	t    *testing.T
	conn net.Conn
	br   *bufio.Reader
}

func (f *sessionsFixture) dial(t *testing.T) *proxyConn {
	t.Helper()
	c, err := net.Dial("tcp", f.proxyAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	return &proxyConn{t: t, conn: c, br: bufio.NewReader(c)}
}

// get sends one request on the connection and reads the answer; a closed
// connection reads as status 0.
func (p *proxyConn) get(target, proxyToken string) (int, string) {
	p.t.Helper()
	req, _ := http.NewRequest("GET", target, nil)
	if proxyToken != "" {
		req.Header.Set("Proxy-Authorization", "Bearer "+proxyToken)
	}
	write := req.Write
	if strings.HasPrefix(target, "http://") && proxyToken != "" {
		write = req.WriteProxy // absolute form on the proxy's own port
	}
	if err := write(p.conn); err != nil {
		return 0, err.Error()
	}
	res, err := http.ReadResponse(p.br, req)
	if err != nil {
		return 0, err.Error()
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// tunnel opens a CONNECT tunnel to target with token; with useTLS the
// connection inside is intercepted TLS.
func (f *sessionsFixture) tunnel(t *testing.T, target, token string, useTLS bool) *proxyConn {
	t.Helper()
	p := f.dial(t)
	fmt.Fprintf(p.conn, "CONNECT %s HTTP/1.1\r\nHost: %s\r\nProxy-Authorization: Bearer %s\r\n\r\n", target, target, token)
	res, err := http.ReadResponse(p.br, &http.Request{Method: "CONNECT"})
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("CONNECT: %v %v", res, err)
	}
	if useTLS {
		host, _, _ := net.SplitHostPort(target)
		tc := tls.Client(p.conn, &tls.Config{RootCAs: f.caPool, ServerName: host})
		if err := tc.Handshake(); err != nil {
			t.Fatal(err)
		}
		p.conn, p.br = tc, bufio.NewReader(tc)
	}
	return p
}

// A scoped session minted with an agent's token dies with the agent's
// access: the API refuses it and the proxy refuses it on a new
// connection, whichever way the agent loses access.
func TestScopedSessionDiesWithItsCreator(t *testing.T) {
	f := newSessionsFixture(t)
	tests := []struct {
		name   string
		change func(t *testing.T, agent, agentToken string)
	}{
		{"agent-revoked", func(t *testing.T, agent, _ string) {
			f.mustCall(t, "POST", "/v1/agents/"+agent+"/revoke", f.owner, "", 200)
		}},
		{"agent-deleted", func(t *testing.T, agent, _ string) { f.mustCall(t, "DELETE", "/v1/agents/"+agent, f.owner, "", 200) }},
		{"agent-rotated", func(t *testing.T, agent, _ string) {
			f.mustCall(t, "POST", "/v1/agents/"+agent+"/rotate", f.owner, "", 200)
		}},
		{"grant-removed", func(t *testing.T, agent, _ string) {
			f.mustCall(t, "DELETE", "/v1/vaults/app/agents/"+agent, f.owner, "", 200)
		}},
		{"revoked-removed-and-deleted", func(t *testing.T, agent, _ string) {
			f.mustCall(t, "POST", "/v1/agents/"+agent+"/revoke", f.owner, "", 200)
			f.mustCall(t, "DELETE", "/v1/vaults/app/agents/"+agent, f.owner, "", 200)
			f.mustCall(t, "DELETE", "/v1/agents/"+agent, f.owner, "", 200)
		}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			name := fmt.Sprintf("agent-%d", i)
			agentToken := f.agent(t, name, "proxy")
			_, sess := f.mint(t, agentToken)
			target := f.plain.URL + "/"
			if status, body := f.call(t, "GET", "/v1/auth/me", sess, ""); status != 200 {
				t.Fatalf("me before: %d %s", status, body)
			}
			if status, body := f.dial(t).get(target, sess); status != 200 || body != "injected" {
				t.Fatalf("proxy before: %d %s", status, body)
			}
			tc.change(t, name, agentToken)
			if status, body := f.call(t, "GET", "/v1/auth/me", sess, ""); status != 401 {
				t.Errorf("me after: %d %s, want 401", status, body)
			}
			if status, body := f.dial(t).get(target, sess); status != 407 {
				t.Errorf("proxy after, new connection: %d %s, want 407", status, body)
			}
		})
	}
}

// Every request on a connection that is already open is authorised
// against the current state: a keep-alive connection, a CONNECT tunnel
// carrying plain HTTP and an intercepted TLS tunnel all refuse the next
// request once the token is revoked.
func TestOpenConnectionsFollowRevocation(t *testing.T) {
	f := newSessionsFixture(t)
	agentToken := f.agent(t, "runner", "proxy")
	id, sess := f.mint(t, agentToken)
	plainHost := strings.TrimPrefix(f.plain.URL, "http://")
	tlsHost := strings.TrimPrefix(f.tls.URL, "https://")
	conns := []struct {
		name   string
		conn   *proxyConn
		target string
		token  string // sent with every request (keep-alive) or only on CONNECT
	}{
		{"keep-alive", f.dial(t), f.plain.URL + "/", sess},
		{"tunnel-plain", f.tunnel(t, plainHost, sess, false), "http://" + plainHost + "/", ""},
		{"tunnel-tls", f.tunnel(t, tlsHost, sess, true), "https://" + tlsHost + "/", ""},
	}
	for _, c := range conns {
		for i := range 2 {
			if status, body := c.conn.get(c.target, c.token); status != 200 || body != "injected" {
				t.Fatalf("%s request %d before revoking: %d %s", c.name, i, status, body)
			}
		}
	}
	// The agent that minted the session revokes it.
	f.mustCall(t, "DELETE", "/v1/sessions/"+id, agentToken, "", 200)
	for _, c := range conns {
		if status, body := c.conn.get(c.target, c.token); status != 407 {
			t.Errorf("%s after revoking: %d %s, want 407", c.name, status, body)
		}
	}
	// A tunnel answered 407 is closed.
	if status, _ := conns[1].conn.get(conns[1].target, ""); status != 0 {
		t.Errorf("tunnel still serves after 407: %d", status)
	}
}

// Tunnels close after --tunnel-max-lifetime however busy they are.
func TestTunnelMaxLifetime(t *testing.T) {
	f := newSessionsFixture(t, "--tunnel-max-lifetime=1s")
	agentToken := f.agent(t, "runner", "proxy")
	_, sess := f.mint(t, agentToken)
	host := strings.TrimPrefix(f.plain.URL, "http://")
	opened := time.Now()
	tun := f.tunnel(t, host, sess, false)
	if status, body := tun.get("http://"+host+"/", ""); status != 200 || body != "injected" {
		t.Fatalf("first request: %d %s", status, body)
	}
	// The proxy closes the (idle) tunnel at its lifetime, long before the
	// 5 min idle timeout.
	tun.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	if n, err := tun.br.Read(make([]byte, 1)); err == nil || n != 0 {
		t.Fatalf("read on the tunnel: %d, %v; want it closed", n, err)
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the tunnel outlived its maximum lifetime")
	}
	if lived := time.Since(opened); lived < time.Second {
		t.Fatalf("the tunnel closed after %v, before its lifetime", lived)
	}
}

// An agent ends the session `run` minted for its program, and `run` says
// so when it could not.
func TestRunRevokesUnderAnAgentToken(t *testing.T) {
	f := newSessionsFixture(t)
	agentToken := f.agent(t, "runner", "proxy")
	o := newOperator(t, f.s.URL)
	env := []string{"AGENT_VAULT_TOKEN=" + agentToken}
	stdout, stderr, code := o.run(nil, "", env, "run", "--vault=app", "--", "sh", "-c", `echo "$HTTP_PROXY" | sed 's|http://\([^:]*\):.*|\1|'; exit 5`)
	if code != 5 || stderr != "" {
		t.Fatalf("run: exit %d (want 5), stderr %q", code, stderr)
	}
	childToken := strings.TrimSpace(stdout)
	if status, body := f.call(t, "GET", "/v1/auth/me", childToken, ""); status != 401 {
		t.Fatalf("the program's session after run: %d %s, want 401", status, body)
	}
	if stdout, stderr, code := o.run(nil, "", env, "vault", "session", "list", "--mine"); code != 0 || stdout != "You have no live scoped sessions.\n" {
		t.Fatalf("the agent's live sessions after run: exit %d\n%s%s", code, stdout, stderr)
	}

	// When the revoke cannot get through, run warns and keeps the
	// program's exit code. The CLI talks to the server through a relay
	// that the program switches to refusing revocations.
	var refuse atomic.Bool
	target, _ := url.Parse(f.s.URL)
	relay := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/break" {
			refuse.Store(true)
			return
		}
		if refuse.Load() && r.Method == http.MethodDelete {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		httputil.NewSingleHostReverseProxy(target).ServeHTTP(w, r)
	}))
	defer relay.Close()
	o = newOperator(t, relay.URL)
	_, stderr, code = o.run(nil, "", env, "run", "--vault=app", "--", "sh", "-c", "curl -s --noproxy '*' "+relay.URL+"/break; exit 4")
	if code != 4 {
		t.Fatalf("run with a failing revoke: exit %d (want 4)\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "warning: could not revoke the scoped session") || !strings.Contains(stderr, "agent-vault vault session revoke --vault=app") {
		t.Fatalf("run did not say the revoke failed:\n%s", stderr)
	}
	// The warning was true: the session is still live, and its minter
	// can still revoke it through the CLI.
	var live struct{ Sessions []struct{ ID string } }
	json.Unmarshal([]byte(f.mustCall(t, "GET", "/v1/sessions", agentToken, "", 200)), &live)
	if len(live.Sessions) != 1 {
		t.Fatalf("live sessions: %+v", live)
	}
	o = newOperator(t, f.s.URL)
	if _, stderr, code := o.run(nil, "", env, "vault", "session", "revoke", "--vault=app", live.Sessions[0].ID); code != 0 {
		t.Fatalf("the agent revoking its session: exit %d\n%s", code, stderr)
	}
	if out := f.mustCall(t, "GET", "/v1/sessions", agentToken, "", 200); !strings.Contains(out, `"sessions":[]`) {
		t.Fatalf("after revoke: %s", out)
	}
}

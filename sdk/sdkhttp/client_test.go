package sdkhttp

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/agent-vault/agent-vault/sdk"
)

// Natively the transport goes through the same descriptor and envelope
// encoding as in wasm, with a plain client standing in for the host.
func TestClient_roundTrip(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Echo", r.Header.Get("Authorization"))
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte(r.Method + " " + r.URL.Path + " " + string(b)))
	}))
	defer srv.Close()
	for name, do := range map[string]func(*http.Request) (*http.Response, error){"client": Client().Do, "do": Do} {
		t.Run(name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(context.Background(), "POST", srv.URL+"/p", strings.NewReader("body"))
			req.Header.Set("Authorization", "Bearer t")
			resp, err := do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 201 || resp.Status != "201 Created" || string(b) != "POST /p body" || resp.Header.Get("X-Echo") != "Bearer t" {
				t.Fatalf("got %d %q %q %v", resp.StatusCode, resp.Status, b, resp.Header)
			}
		})
	}
}

func TestClient_hostError(t *testing.T) {
	req, _ := http.NewRequest("GET", "ftp://example.com/x", nil)
	_, err := Do(req)
	var he *sdk.HTTPError
	if !errors.As(err, &he) || he.Code != "http_bad_request" || he.Message != `origin "ftp://example.com/x": scheme must be http or https` {
		t.Fatalf("got %#v", err)
	}
}

func TestClient_canceledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://127.0.0.1:1/", nil)
	if _, err := Do(req); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
}

func TestCheckStatus(t *testing.T) {
	tests := []struct {
		status int
		want   string
	}{
		{200, ""}, {204, ""},
		{401, "external_store_auth_failed: upstream rejected the credentials (HTTP 401)"},
		{403, "external_store_forbidden: upstream refused access (HTTP 403)"},
		{404, "external_store_not_found: upstream has no such resource (HTTP 404)"},
		{500, "external_store_unreachable: upstream answered HTTP 500"},
		{429, "external_store_unreachable: upstream answered HTTP 429"},
	}
	for _, tc := range tests {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			err := CheckStatus(&http.Response{StatusCode: tc.status})
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

package sdk

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

// Natively Fetch goes through the same descriptor and envelope encoding as
// in wasm, with a plain client standing in for the host.
func TestFetch(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Echo", r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte(r.Method + " " + r.URL.RequestURI() + " " + string(b)))
	}))
	defer srv.Close()
	tests := []struct {
		name           string
		req            HTTPRequest
		want, wantEcho string
	}{
		{name: "post", req: HTTPRequest{Method: "POST", URL: srv.URL + "/p?q=1", Header: map[string][]string{"Authorization": {"Bearer t"}}, Body: []byte("body")}, want: "POST /p?q=1 body", wantEcho: "Bearer t"},
		{name: "default-get", req: HTTPRequest{URL: srv.URL + "/g"}, want: "GET /g "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Fetch(context.Background(), tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != 201 || string(r.Body) != tc.want || r.HeaderValue("X-Echo") != tc.wantEcho {
				t.Fatalf("got %d %q %v", r.Status, r.Body, r.Header)
			}
			if got := r.HeaderValue("content-type"); got != "text/plain" {
				t.Fatalf("HeaderValue(content-type) = %q", got)
			}
		})
	}
}

func TestFetch_failures(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Fetch(canceled, HTTPRequest{URL: "http://127.0.0.1:1/"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled context: got %v", err)
	}
	_, err := Fetch(context.Background(), HTTPRequest{URL: "ftp://example.com/x"})
	var he *HTTPError
	if !errors.As(err, &he) || he.Code != "http_bad_request" || he.Message != `origin "ftp://example.com/x": scheme must be http or https` {
		t.Fatalf("bad scheme: got %#v", err)
	}
	// A capability failure is reported as unreachable.
	if got := string(errorEnvelope(err)); got != `{"error":{"code":"external_store_unreachable","message":"http_bad_request: origin \"ftp://example.com/x\": scheme must be http or https"}}` {
		t.Fatalf("envelope %s", got)
	}
}

func TestHeaderValue(t *testing.T) {
	r := &HTTPResponse{Header: map[string][]string{"Content-Type": {"application/json", "x"}, "x-lower": {"l"}, "Empty": {}}}
	tests := []struct{ name, want string }{
		{"Content-Type", "application/json"},
		{"content-type", "application/json"},
		{"X-Lower", "l"},
		{"Empty", ""},
		{"Missing", ""},
	}
	for _, tc := range tests {
		if got := r.HeaderValue(tc.name); got != tc.want {
			t.Errorf("HeaderValue(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestCheckStatus(t *testing.T) {
	tests := []struct {
		status int
		want   string
	}{
		{200, ""}, {204, ""}, {299, ""},
		{199, "external_store_unreachable: upstream answered HTTP 199"},
		{301, "external_store_unreachable: upstream answered HTTP 301"},
		{401, "external_store_auth_failed: upstream rejected the credentials (HTTP 401)"},
		{403, "external_store_forbidden: upstream refused access (HTTP 403)"},
		{404, "external_store_not_found: upstream has no such resource (HTTP 404)"},
		{429, "external_store_unreachable: upstream answered HTTP 429"},
		{500, "external_store_unreachable: upstream answered HTTP 500"},
	}
	for _, tc := range tests {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			got := ""
			if err := CheckStatus(tc.status); err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDecodeHTTPResponse(t *testing.T) {
	tests := []struct {
		name     string
		env, raw string
		wantBody string
		wantErr  string
	}{
		{name: "raw", env: `{"ok":{"status":200,"body_len":3}}`, raw: "abc", wantBody: "abc"},
		{name: "inline", env: `{"ok":{"status":200,"body":"YWJj"}}`, wantBody: "abc"},
		{name: "empty", env: `{"ok":{"status":204}}`},
		{name: "short-raw", env: `{"ok":{"status":200,"body_len":4}}`, raw: "abc",
			wantErr: "http_failed: host response: body_len 4, but 3 raw bytes"},
		{name: "unannounced-raw", env: `{"ok":{"status":200}}`, raw: "abc",
			wantErr: "http_failed: host response: body_len 0, but 3 raw bytes"},
		{name: "both", env: `{"ok":{"status":200,"body":"YWJj","body_len":3}}`, raw: "abc",
			wantErr: "http_failed: host response: body both inline and raw"},
		{name: "host-error", env: `{"error":{"code":"http_timeout","message":"too slow"}}`,
			wantErr: "http_timeout: too slow"},
		{name: "not-json", env: `{`,
			wantErr: "http_failed: host response: envelope: invalid JSON at byte 1: unexpected end"},
		{name: "bad-ok", env: `{"ok":{"status":"x"}}`,
			wantErr: "http_failed: host response: invalid JSON at byte 10: want a number"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := decodeHTTPResponse([]byte(tc.env), []byte(tc.raw))
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.wantErr {
				t.Fatalf("error %q, want %q", got, tc.wantErr)
			}
			if err == nil && string(r.Body) != tc.wantBody {
				t.Fatalf("body %q, want %q", r.Body, tc.wantBody)
			}
		})
	}
}

// FuzzDecodeHTTPResponse: whatever the host hands over, decodeHTTPResponse
// returns an error or a body that is exactly the inline or the raw bytes.
func FuzzDecodeHTTPResponse(f *testing.F) {
	f.Add([]byte(`{"ok":{"status":200,"body_len":3}}`), []byte("abc"))
	f.Add([]byte(`{"ok":{"status":200,"body":"YWJj"}}`), []byte(nil))
	f.Add([]byte(`{"ok":{"status":200,"body_len":-1}}`), []byte(nil))
	f.Add([]byte(`{"error":{"code":"http_failed","message":"x"}}`), []byte("x"))
	f.Fuzz(func(t *testing.T, env, raw []byte) {
		r, err := decodeHTTPResponse(env, raw)
		if err != nil {
			return
		}
		if len(raw) > 0 && !bytes.Equal(r.Body, raw) {
			t.Fatalf("body %q, raw %q", r.Body, raw)
		}
	})
}

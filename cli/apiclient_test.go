package cli

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func response(status int, contentType, body string) *http.Response {
	req, _ := http.NewRequest("GET", "http://127.0.0.1:14321/v1/vaults", nil)
	return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {contentType}},
		Body: io.NopCloser(strings.NewReader(body)), Request: req}
}

func TestDecode(t *testing.T) {
	type view struct {
		Name string `json:"name"`
	}
	tests := []struct {
		name     string
		res      *http.Response
		err      error
		want     string
		wantErr  string
		wantExit int
	}{
		{"ok", response(200, "application/json", `{"name":"my-app"}`), nil, "my-app", "", 0},
		{"no-content", response(204, "", ""), nil, "", "", 0},
		{"not-found", response(404, "application/problem+json", `{"status":404,"title":"Not Found","code":"vault_not_found","detail":"no vault named \"x\""}`), nil, "",
			`vault_not_found: no vault named "x"`, exitNotFound},
		{"conflict", response(409, "application/problem+json", `{"status":409,"title":"Conflict","code":"sync_in_flight","detail":"a sync is running"}`), nil, "",
			"sync_in_flight: a sync is running", exitConflict},
		{"forbidden", response(403, "application/problem+json", `{"status":403,"title":"Forbidden","code":"forbidden","detail":"no"}`), nil, "", "forbidden: no", exitForbidden},
		{"unauthorized", response(401, "application/problem+json", `{"status":401,"title":"Unauthorized","code":"unauthorized","detail":"sign in"}`), nil, "",
			"unauthorized: sign in\n  sign in with 'agent-vault login' or pass --token", exitUnauthorized},
		{"fields", response(422, "application/problem+json", `{"status":422,"title":"Unprocessable Entity","code":"invalid_input","detail":"validation failed","errors":[{"location":"body.name","message":"too long"},{"message":"bad"}]}`), nil, "",
			"invalid_input: validation failed\n  body.name: too long\n  bad", exitFailure},
		{"no-detail", response(500, "application/problem+json", `{"status":500,"title":"Internal Server Error","code":"internal"}`), nil, "", "internal: Internal Server Error", exitFailure},
		{"not-a-problem", response(502, "text/html", `<html>bad gateway</html>`), nil, "", "http_502: Bad Gateway", exitFailure},
		{"bad-json", response(200, "application/json", `{`), nil, "", "unexpected answer from http://127.0.0.1:14321: unexpected end of JSON input", exitFailure},
		{"unreachable", nil, &url.Error{Op: "Get", URL: "http://127.0.0.1:9/v1/vaults", Err: errors.New("connection refused")}, "",
			"cannot reach the server at http://127.0.0.1:9 (connection refused); is 'agent-vault server' running?", exitFailure},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decode[view](tc.res, tc.err)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				if code := exitCodeOf(err); code != tc.wantExit {
					t.Fatalf("exit %d, want %d", code, tc.wantExit)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Name != tc.want {
				t.Fatalf("got %q, want %q", got.Name, tc.want)
			}
		})
	}
}

func TestExitCodes(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"plain", errors.New("x"), exitFailure},
		{"usage", usageErrorf("pass --yes"), exitUsage},
		{"coded", codedErrorf(exitConflict, "already_exists", "x"), exitConflict},
		{"wrapped-api", errors.Join(errors.New("ctx"), &apiError{status: 404}), exitNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := exitCodeOf(tc.err); got != tc.want {
				t.Fatalf("exit %d, want %d", got, tc.want)
			}
		})
	}
}

// FuzzProblem feeds arbitrary error bodies to decode: it must not panic
// and must always produce an error with a code.
func FuzzProblem(f *testing.F) {
	f.Add(404, `{"status":404,"title":"Not Found","code":"not_found","detail":"x"}`)
	f.Add(422, `{"code":"invalid_input","errors":[{"location":"body","message":"m"},null]}`)
	f.Add(500, `not json`)
	f.Add(409, `{"code":""}`)
	f.Fuzz(func(t *testing.T, status int, body string) {
		if status < 300 || status > 599 {
			return
		}
		_, err := decode[struct{}](response(status, "application/problem+json", body), nil)
		if err == nil {
			t.Fatal("an error status decoded without error")
		}
		msg := err.Error()
		if code, _, ok := strings.Cut(msg, ": "); !ok || code == "" {
			t.Fatalf("error %q has no code", msg)
		}
	})
}

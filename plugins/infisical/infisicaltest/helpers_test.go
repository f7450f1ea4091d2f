package infisicaltest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/plugins/infisical/infisicaltest"
)

// epoch is the frozen start of the clock in tests that compare timestamps.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// answer is a decoded emulator response.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// errorName and errorMessage read the standard error body.
func (a answer) errorName() string {
	var b struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(a.body, &b)
	return b.Error
}

func (a answer) errorMessage() string {
	var b struct {
		Message json.RawMessage `json:"message"`
	}
	_ = json.Unmarshal(a.body, &b)
	var s string
	if json.Unmarshal(b.Message, &s) == nil {
		return s
	}
	return string(b.Message) // a 422 issue array, verbatim
}

func (a answer) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("decoding %s: %v", a.body, err)
	}
}

// do sends one request; token "" sends no Authorization header.
func do(t *testing.T, e *infisicaltest.Emulator, method, path, token, body string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.URL()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{status: res.StatusCode, header: res.Header, body: b}
}

// login logs the fixture identity in with universal auth.
func login(t *testing.T, e *infisicaltest.Emulator) string {
	t.Helper()
	a := do(t, e, "POST", "/api/v1/auth/universal-auth/login", "", `{"clientId":"`+clientID+`","clientSecret":"`+clientSecret+`"}`)
	if a.status != 200 {
		t.Fatalf("login: %d %s", a.status, a.body)
	}
	var out struct {
		AccessToken string `json:"accessToken"`
	}
	a.decode(t, &out)
	return out.AccessToken
}

// wantError checks status and the error body's `error` and `message`.
func wantError(t *testing.T, a answer, status int, name, message string) {
	t.Helper()
	if a.status != status || a.errorName() != name || a.errorMessage() != message {
		t.Fatalf("got %d %s\nwant %d error=%q message=%q", a.status, a.body, status, name, message)
	}
	if ct := a.header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Fatalf("Content-Type = %q", ct)
	}
}

// frozenFixture is fixture with the clock frozen at epoch.
func frozenFixture(t *testing.T, opts ...infisicaltest.Option) *infisicaltest.Emulator {
	t.Helper()
	e := infisicaltest.New(t, append([]infisicaltest.Option{infisicaltest.WithFrozenClock(epoch)}, opts...)...)
	populate(e)
	return e
}

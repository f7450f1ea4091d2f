package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/host/api"
	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/loginguard"
)

// postJSON sends body and returns the status, the problem code and the
// Retry-After header.
func (e *testEnv) postJSON(path string, body any) (status int, code, retryAfter string) {
	e.t.Helper()
	b, _ := json.Marshal(body)
	res, err := http.Post(e.url+path, "application/json", strings.NewReader(string(b)))
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	var p struct {
		Code string `json:"code"`
	}
	json.Unmarshal(out, &p)
	return res.StatusCode, p.Code, res.Header.Get("Retry-After")
}

func login(email, password string) map[string]string {
	return map[string]string{"email": email, "password": password}
}

// TestLoginThrottled: wrong passwords for one account, then from one
// address, meet 429 with Retry-After (even the right password is refused
// while backing off), and each failure is logged with the email and the
// address, never the password.
func TestLoginThrottled(t *testing.T) {
	e := newEnv(t, func(d *api.Deps) {
		d.Logins = loginguard.NewThrottle(loginguard.ThrottleConfig{AccountFree: 3, AddressFree: 6})
	})
	e.user("owner@example.com", domain.InstanceOwner)
	steps := []struct {
		email, password string
		wantStatus      int
		wantCode        string
	}{
		{"owner@example.com", "wrong-guess-1", 401, domain.CodeInvalidCredentials},
		{"owner@example.com", "wrong-guess-2", 401, domain.CodeInvalidCredentials},
		{"owner@example.com", "wrong-guess-3", 401, domain.CodeInvalidCredentials},
		{"OWNER@example.com", "wrong-guess-4", 401, domain.CodeInvalidCredentials}, // starts the account's back-off
		{"owner@example.com", "password1", 429, domain.CodeLoginThrottled},
		{"nobody-1@example.com", "wrong-guess-5", 401, domain.CodeInvalidCredentials},
		{"nobody-2@example.com", "wrong-guess-6", 401, domain.CodeInvalidCredentials},
		{"nobody-3@example.com", "wrong-guess-7", 401, domain.CodeInvalidCredentials}, // the address's 7th: back-off
		{"nobody-4@example.com", "wrong-guess-8", 429, domain.CodeLoginThrottled},
	}
	for i, s := range steps {
		status, code, retry := e.postJSON("/v1/auth/login", login(s.email, s.password))
		if status != s.wantStatus || code != s.wantCode {
			t.Fatalf("step %d: %d %s, want %d %s", i, status, code, s.wantStatus, s.wantCode)
		}
		if status == 429 && retry != "1" {
			t.Fatalf("step %d: Retry-After %q, want 1", i, retry)
		}
	}
	logs := e.logs.String()
	if n := strings.Count(logs, `msg="login failed"`); n != 7 {
		t.Fatalf("%d failed logins logged, want 7:\n%s", n, logs)
	}
	for _, want := range []string{`email=owner@example.com address=127.0.0.1:`, `email=nobody-3@example.com address=127.0.0.1:`} {
		if !strings.Contains(logs, want) {
			t.Fatalf("log lacks %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "wrong-guess") || strings.Contains(logs, "password1") {
		t.Fatalf("a password reached the log:\n%s", logs)
	}
}

// TestCheapChecksBeforeHashing: with every hashing slot taken, what can be
// refused without a hash is refused at once (registration after the owner
// exists, an unknown invite), while a login waits for the pool and is shed
// with 503 and Retry-After.
func TestCheapChecksBeforeHashing(t *testing.T) {
	pool := loginguard.NewPool(loginguard.PoolConfig{Size: 1, MaxWait: 50 * time.Millisecond})
	e := newEnv(t, func(d *api.Deps) { d.Passwords = pool })
	e.user("owner@example.com", domain.InstanceOwner)
	held, release := make(chan struct{}), make(chan struct{})
	go pool.Do(context.Background(), func() error { close(held); <-release; return nil })
	<-held
	defer close(release)

	tests := []struct {
		name       string
		path       string
		body       any
		wantStatus int
		wantCode   string
	}{
		{"register-after-owner", "/v1/auth/register", login("second@example.com", "password2"), 409, domain.CodeAlreadyInitialized},
		{"unknown-invite", "/v1/users/invites/av_inv_unknown/accept", login("second@example.com", "password2"), 400, domain.CodeInviteInvalid},
		{"login-waits-for-the-pool", "/v1/auth/login", login("owner@example.com", "password1"), 503, domain.CodeServerBusy},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, code, retry := e.postJSON(tc.path, tc.body)
			if status != tc.wantStatus || code != tc.wantCode {
				t.Fatalf("%d %s, want %d %s", status, code, tc.wantStatus, tc.wantCode)
			}
			if status == 503 && retry == "" {
				t.Fatal("503 without Retry-After")
			}
		})
	}
}

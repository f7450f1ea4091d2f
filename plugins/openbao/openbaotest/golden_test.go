package openbaotest_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/plugins/openbao/openbaotest"
	"github.com/agent-vault/agent-vault/sdk/golden"
)

// TestWireGolden records the emulator's answer to every route the plugin
// uses, with a frozen clock and sequential IDs, so a change to the wire
// format shows as a diff of testdata/wire.golden (UPDATE_GOLDEN=1 rewrites
// it). The shapes follow openbao-wire.md; the client tests prove the
// vendor's client reads them.
func TestWireGolden(t *testing.T) {
	e := openbaotest.New(t, openbaotest.WithFrozenClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)))
	e.AddAppRole(openbaotest.AppRole{RoleID: "rid", SecretID: "sid", Policies: []string{"*"}, TTL: time.Hour})
	e.AddToken(openbaotest.Token{ID: "narrow", Policies: []string{"secret/data/app/"}})
	e.PutSecret("", "secret", "app", map[string]any{"API_KEY": "v1", "PORT": 5432})
	e.PutSecret("", "secret", "app/child", map[string]any{"CHILD": "c"})
	e.PutSecret("", "secret", "gone", map[string]any{"X": "y"})
	e.DeleteSecret("", "secret", "gone")
	e.MountKV("", "kv", 1)
	e.PutSecret("", "kv", "legacy", map[string]any{"OLD": "o"})
	e.AddDatabaseRole("", "database", openbaotest.DBRole{Name: "readonly", TTL: time.Hour})

	var out strings.Builder
	token := ""
	call := func(method, path, body string, headers ...string) string {
		t.Helper()
		req, _ := http.NewRequest(method, e.URL()+path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("X-Vault-Token", token)
		}
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		fmt.Fprintf(&out, "%s %s %s\n%d %s\n%s\n", method, path, body, resp.StatusCode, resp.Header.Get("Content-Type"), bytes.TrimSpace(b))
		return string(b)
	}
	login := call("POST", "/v1/auth/approle/login", `{"role_id":"rid","secret_id":"sid"}`)
	token = between(login, `"client_token":"`, `"`)
	call("POST", "/v1/auth/approle/login", `{"role_id":"rid","secret_id":"wrong"}`)
	call("GET", "/v1/auth/token/lookup-self", "")
	call("POST", "/v1/auth/token/renew-self", `{"increment":600}`)
	call("GET", "/v1/secret/data/app", "")
	call("GET", "/v1/secret/data/gone", "")
	call("GET", "/v1/secret/data/nope", "")
	call("GET", "/v1/secret/app", "")
	call("GET", "/v1/secret/metadata/app?list=true", "")
	call("GET", "/v1/secret/metadata/app", "")
	call("GET", "/v1/kv/legacy", "")
	call("GET", "/v1/sys/internal/ui/mounts/kv", "")
	call("GET", "/v1/secret/data/app", "", "X-Vault-Namespace", "nope/")
	creds := call("GET", "/v1/database/creds/readonly", "")
	lease := between(creds, `"lease_id":"`, `"`)
	call("GET", "/v1/database/creds/nope", "")
	call("PUT", "/v1/sys/leases/renew", `{"lease_id":"`+lease+`","increment":1800}`)
	call("PUT", "/v1/sys/leases/lookup", `{"lease_id":"`+lease+`"}`)
	call("PUT", "/v1/sys/leases/revoke", `{"lease_id":"`+lease+`"}`)
	call("PUT", "/v1/sys/leases/renew", `{"lease_id":"`+lease+`"}`)
	call("PUT", "/v1/sys/leases/lookup", `{"lease_id":"`+lease+`"}`)
	token = "narrow"
	call("GET", "/v1/secret/data/other", "")
	token = "nope"
	call("GET", "/v1/auth/token/lookup-self", "")
	golden.Check(t, "wire", []byte(out.String()))
}

func between(s, from, to string) string {
	_, rest, _ := strings.Cut(s, from)
	v, _, _ := strings.Cut(rest, to)
	return v
}

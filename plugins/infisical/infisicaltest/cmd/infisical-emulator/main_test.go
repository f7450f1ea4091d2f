package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/agent-vault/agent-vault/plugins/infisical/infisicaltest"
)

func TestLoad_exampleState(t *testing.T) {
	f, err := os.Open("testdata/state.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	e := infisicaltest.NewUnstarted()
	if err := load(e, f); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(handler(e))
	defer srv.Close()

	res, err := http.Post(srv.URL+"/api/v1/auth/universal-auth/login", "application/json", strings.NewReader(`{"clientId":"client-id-1","clientSecret":"client-secret-1"}`))
	if err != nil {
		t.Fatal(err)
	}
	var login struct {
		AccessToken string `json:"accessToken"`
		ExpiresIn   int    `json:"expiresIn"`
	}
	if err := json.NewDecoder(res.Body).Decode(&login); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || login.ExpiresIn != 3600 {
		t.Fatalf("login: %d %+v", res.StatusCode, login)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/api/v3/secrets/raw?workspaceId=5f3e0c1a-0000-4000-8000-00000000abcd&environment=dev", nil)
	req.Header.Set("Authorization", "Bearer "+login.AccessToken)
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 200 {
		t.Fatalf("list: %v %v", res, err)
	}
	res, err = http.Get(srv.URL + "/_emulator/counts")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var c infisicaltest.Counts
	if err := json.Unmarshal(body, &c); err != nil || c.SecretLists != 1 || c.Logins[infisicaltest.AuthUniversal] != 1 {
		t.Fatalf("counts = %s", body)
	}
}

func TestLoad_errors(t *testing.T) {
	tests := []struct {
		name, state, wantErr string
	}{
		{"unknown-field", `{"identites":[]}`, `json: unknown field "identites"`},
		{"identity-without-id", `{"identities":[{}]}`, "identities[0]: id is required"},
		{"bad-ttl", `{"identities":[{"id":"a","ttl":"soon"}]}`, `identities[0].ttl: time: invalid duration "soon"`},
		{"negative-max-ttl", `{"identities":[{"id":"a","max_ttl":"-1s"}]}`, "identities[0].max_ttl: must not be negative"},
		{"project-without-id", `{"projects":[{}]}`, "projects[0]: id is required"},
		{"bad-dynamic-ttl", `{"projects":[{"id":"p","dynamic_secrets":[{"name":"x","default_ttl":"x"}]}]}`, `projects[0].dynamic_secrets[0].default_ttl: time: invalid duration "x"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := load(infisicaltest.NewUnstarted(), strings.NewReader(tc.state))
			if err == nil || err.Error() != tc.wantErr {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestAdmin(t *testing.T) {
	e := infisicaltest.NewUnstarted()
	e.AddIdentity(infisicaltest.Identity{ID: "id"})
	tok, _ := e.IssueToken("id")
	srv := httptest.NewServer(handler(e))
	defer srv.Close()
	call := func(method, path, body string) int {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	list := "/api/v3/secrets/raw?workspaceId=p&environment=dev"
	steps := []struct {
		method, path, body string
		want               int
	}{
		{"PUT", "/_emulator/secrets", `{"project_id":"p","environment":"dev","values":{"A":"1"}}`, 204},
		{"GET", list, "", 200},
		{"POST", "/_emulator/faults", `{"route":"GET /api/v3/secrets/raw","kind":"status","status":502,"times":1}`, 204},
		{"GET", list, "", 502},
		{"GET", list, "", 200},
		{"POST", "/_emulator/faults", `{"route":"*","kind":"token_expired"}`, 204},
		{"GET", list, "", 403},
		{"DELETE", "/_emulator/faults", "", 204},
		{"GET", list, "", 200},
		{"POST", "/_emulator/faults", `{"route":"*","kind":"explode"}`, 400},
		{"POST", "/_emulator/faults", `{"route":"*","kind":"status","status":200}`, 400},
		{"POST", "/_emulator/faults", `{"kind":"hang"}`, 400},
		{"PUT", "/_emulator/secrets", `{"values":{}}`, 400},
	}
	for i, s := range steps {
		if got := call(s.method, s.path, s.body); got != s.want {
			t.Fatalf("step %d %s %s: %d, want %d", i, s.method, s.path, got, s.want)
		}
	}
}

package infisicaltest_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/plugins/infisical/infisicaltest"
	"github.com/agent-vault/agent-vault/sdk/golden"
)

// wire renders an answer as the golden format: status, the headers that
// matter, a blank line and the exact body.
func (a answer) wire() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP %d\nContent-Type: %s\n", a.status, a.header.Get("Content-Type"))
	if et := a.header.Get("ETag"); et != "" {
		fmt.Fprintf(&b, "ETag: %s\n", et)
	}
	b.WriteString("\n")
	b.Write(a.body)
	b.WriteString("\n")
	return b.Bytes()
}

func TestGolden(t *testing.T) {
	e := frozenFixture(t)
	e.SetSecretList(projectID, "dev", "/app", []infisicaltest.Secret{
		{Key: "DB_URL", Value: "postgres://${DB_HOST}:5432/app", Comment: "primary", Tags: []infisicaltest.Tag{{Slug: "prod", Name: "prod", Color: "#fff"}}, Metadata: []infisicaltest.Metadata{{Key: "owner", Value: "team-a"}}},
		{Key: "DB_HOST", Value: "db.internal"},
	})
	e.SetSecrets(projectID, "prod", "/shared", map[string]string{"SHARED_KEY": "v"})
	e.AddImport(projectID, "dev", "/app", infisicaltest.Import{Environment: "prod", Path: "/shared"})

	steps := []struct {
		name   string
		method string
		path   string
		token  bool
		body   string
	}{
		{"login", "POST", "/api/v1/auth/universal-auth/login", false, `{"clientId":"client-id-1","clientSecret":"client-secret-1"}`},
		{"list-secrets", "GET", "/api/v3/secrets/raw?workspaceId=" + projectID + "&workspaceSlug=&environment=dev&secretPath=%2Fapp&expandSecretReferences=true&include_imports=true&recursive=false", true, ""},
		{"error-secret-path-not-found", "GET", listPath("/missing", true, false), true, ""},
		{"error-validation", "GET", strings.Replace(listPath("/", true, false), "recursive=false", "recursive=1", 1), true, ""},
		{"workspace", "GET", "/api/v1/workspace/" + projectID, true, ""},
		{"dynamic-list", "GET", "/api/v1/dynamic-secrets" + dynQuery, true, ""},
		{"lease-create", "POST", "/api/v1/dynamic-secrets/leases", true, leaseBody("db-postgres", "")},
		{"lease-renew", "POST", "/api/v1/dynamic-secrets/leases/{lease}/renew", true, leaseOpBody("{lease}", "/")},
		{"lease-revoke", "DELETE", "/api/v1/dynamic-secrets/leases/{lease}", true, leaseOpBody("{lease}", "/")},
		{"error-token-missing", "GET", "/api/v1/workspace/" + projectID, false, ""},
	}
	tok, leaseID := "", ""
	for _, s := range steps {
		s.path = strings.ReplaceAll(s.path, "{lease}", leaseID)
		s.body = strings.ReplaceAll(s.body, "{lease}", leaseID)
		if s.name == "lease-renew" {
			e.Clock().Advance(10 * time.Minute)
		}
		bearer := ""
		if s.token {
			bearer = tok
		}
		a := do(t, e, s.method, s.path, bearer, s.body)
		if s.name == "login" {
			var l renewed
			a.decode(t, &l)
			tok = l.AccessToken
		}
		if s.name == "lease-create" {
			var l createdLease
			a.decode(t, &l)
			leaseID = l.Lease.ID
		}
		t.Run(s.name, func(t *testing.T) { golden.Check(t, s.name, a.wire()) })
	}
}

package infisicaltest_test

import (
	"fmt"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/plugins/infisical/infisicaltest"
)

const dynQuery = "?projectSlug=" + slug + "&environmentSlug=dev&path=%2F"

func leaseBody(name, ttl string) string {
	return fmt.Sprintf(`{"dynamicSecretName":%q,"projectSlug":%q,"ttl":%q,"path":"/","environmentSlug":"dev","config":null}`, name, slug, ttl)
}

func leaseOpBody(id, path string) string {
	return fmt.Sprintf(`{"leaseId":%q,"ttl":"","projectSlug":%q,"path":%q,"environmentSlug":"dev","isForced":false}`, id, slug, path)
}

type createdLease struct {
	Lease struct {
		ID       string  `json:"id"`
		ExpireAt string  `json:"expireAt"`
		Status   *string `json:"status"`
	} `json:"lease"`
	DynamicSecret struct {
		Name string `json:"name"`
	} `json:"dynamicSecret"`
	Data map[string]any `json:"data"`
}

func mint(t *testing.T, e *infisicaltest.Emulator, tok, name string) createdLease {
	t.Helper()
	a := do(t, e, "POST", "/api/v1/dynamic-secrets/leases", tok, leaseBody(name, ""))
	if a.status != 200 {
		t.Fatalf("create lease: %d %s", a.status, a.body)
	}
	var l createdLease
	a.decode(t, &l)
	return l
}

func TestDynamicSecrets(t *testing.T) {
	tests := []struct {
		name        string
		setup       func(e *infisicaltest.Emulator)
		method      string
		path        string
		body        string
		wantStatus  int
		wantError   string
		wantMessage string
		wantNames   []string // for list
	}{
		{name: "list", setup: func(e *infisicaltest.Emulator) {
			e.AddDynamicSecret(projectID, "dev", "/", infisicaltest.DynamicSecret{Name: "db-replica"})
		}, method: "GET", path: "/api/v1/dynamic-secrets" + dynQuery, wantStatus: 200, wantNames: []string{"db-postgres", "db-replica"}},
		{name: "list-empty-path-is-root", method: "GET", path: "/api/v1/dynamic-secrets?projectSlug=" + slug + "&environmentSlug=dev&path=", wantStatus: 200, wantNames: []string{"db-postgres"}},
		{name: "list-filtered-without-read-root", setup: func(e *infisicaltest.Emulator) {
			e.AddDynamicSecret(projectID, "dev", "/", infisicaltest.DynamicSecret{Name: "db-replica"})
			e.SetAccess("identity-1", projectID, infisicaltest.Access{HiddenDynamicSecrets: []string{"db-postgres"}})
		}, method: "GET", path: "/api/v1/dynamic-secrets" + dynQuery, wantStatus: 200, wantNames: []string{"db-replica"}},
		{name: "list-missing-folder", method: "GET", path: "/api/v1/dynamic-secrets?projectSlug=" + slug + "&environmentSlug=dev&path=%2Fx", wantStatus: 404, wantError: "NotFound", wantMessage: "Folder with path '/x' in environment 'dev' not found"},
		{name: "list-unknown-slug", method: "GET", path: "/api/v1/dynamic-secrets?projectSlug=nope&environmentSlug=dev&path=%2F", wantStatus: 404, wantError: "NotFound", wantMessage: "Project with slug 'nope' not found"},
		{name: "list-missing-slug", method: "GET", path: "/api/v1/dynamic-secrets?environmentSlug=dev", wantStatus: 422, wantError: "ValidationFailure",
			wantMessage: `[{"code":"invalid_type","expected":"string","received":"undefined","path":["projectSlug"],"message":"Required"}]`},
		{name: "list-empty-slug", method: "GET", path: "/api/v1/dynamic-secrets?projectSlug=&environmentSlug=dev", wantStatus: 422, wantError: "ValidationFailure",
			wantMessage: `[{"code":"too_small","minimum":1,"type":"string","path":["projectSlug"],"message":"String must contain at least 1 character(s)"}]`},
		{name: "get-by-name", method: "GET", path: "/api/v1/dynamic-secrets/db-postgres" + dynQuery, wantStatus: 200},
		{name: "get-by-name-unknown", method: "GET", path: "/api/v1/dynamic-secrets/nope" + dynQuery, wantStatus: 404, wantError: "NotFound", wantMessage: "Dynamic secret with name 'nope in folder '/' not found"},
		{name: "get-by-name-without-edit", setup: func(e *infisicaltest.Emulator) {
			e.SetAccess("identity-1", projectID, infisicaltest.Access{CannotEditDynamic: true})
		}, method: "GET", path: "/api/v1/dynamic-secrets/db-postgres" + dynQuery, wantStatus: 403, wantError: "PermissionDenied", wantMessage: "You are not allowed to edit-root-credential on dynamic-secrets"},
		{name: "create-name-lower-cased", method: "POST", path: "/api/v1/dynamic-secrets/leases", body: leaseBody("DB-Postgres", ""), wantStatus: 200},
		{name: "create-unknown", method: "POST", path: "/api/v1/dynamic-secrets/leases", body: leaseBody("nope", ""), wantStatus: 404, wantError: "NotFound", wantMessage: "Dynamic secret with name 'nope' in folder with path '/' not found"},
		{name: "create-without-lease-permission", setup: func(e *infisicaltest.Emulator) {
			e.SetAccess("identity-1", projectID, infisicaltest.Access{CannotLease: true})
		}, method: "POST", path: "/api/v1/dynamic-secrets/leases", body: leaseBody("db-postgres", ""), wantStatus: 403, wantError: "PermissionDenied", wantMessage: "You are not allowed to lease on dynamic-secrets"},
		{name: "create-ttl-too-short", method: "POST", path: "/api/v1/dynamic-secrets/leases", body: leaseBody("db-postgres", "30s"), wantStatus: 422, wantError: "ValidationFailure",
			wantMessage: `[{"code":"custom","path":["ttl"],"message":"TTL must be a greater than 1min"}]`},
		{name: "create-ttl-above-max", method: "POST", path: "/api/v1/dynamic-secrets/leases", body: leaseBody("db-postgres", "2d"), wantStatus: 400, wantError: "BadRequest", wantMessage: "TTL cannot be larger than max TTL"},
		{name: "create-lease-limit", setup: func(e *infisicaltest.Emulator) { e.SetMaxLeaseLimit(0) },
			method: "POST", path: "/api/v1/dynamic-secrets/leases", body: leaseBody("db-postgres", ""), wantStatus: 400, wantError: "BadRequest", wantMessage: "Max lease limit reached. Limit: 0"},
		{name: "create-missing-environment", method: "POST", path: "/api/v1/dynamic-secrets/leases",
			body:       `{"dynamicSecretName":"db-postgres","projectSlug":"` + slug + `","ttl":"","path":"/","environmentSlug":"qa","config":null}`,
			wantStatus: 404, wantError: "NotFound", wantMessage: "Folder with path '/' in environment with slug 'qa' not found"},
		{name: "renew-unknown", method: "POST", path: "/api/v1/dynamic-secrets/leases/nope/renew", body: leaseOpBody("nope", "/"), wantStatus: 404, wantError: "NotFound", wantMessage: "Dynamic secret lease with ID 'nope' not found"},
		{name: "renew-empty-path", method: "POST", path: "/api/v1/dynamic-secrets/leases/nope/renew", body: leaseOpBody("nope", ""), wantStatus: 422, wantError: "ValidationFailure",
			wantMessage: `[{"code":"too_small","minimum":1,"type":"string","path":["path"],"message":"String must contain at least 1 character(s)"}]`},
		{name: "renew-absent-path-is-root", method: "POST", path: "/api/v1/dynamic-secrets/leases/nope/renew", body: `{"projectSlug":"` + slug + `","environmentSlug":"dev"}`, wantStatus: 404, wantError: "NotFound", wantMessage: "Dynamic secret lease with ID 'nope' not found"},
		{name: "revoke-unknown", method: "DELETE", path: "/api/v1/dynamic-secrets/leases/nope", body: leaseOpBody("nope", "/"), wantStatus: 404, wantError: "NotFound", wantMessage: "Dynamic secret lease with ID 'nope' not found"},
		{name: "get-lease-unknown", method: "GET", path: "/api/v1/dynamic-secrets/leases/nope" + dynQuery, wantStatus: 404, wantError: "NotFound", wantMessage: "Dynamic secret lease with ID 'nope' not found"},
		{name: "list-leases-unknown-name", method: "GET", path: "/api/v1/dynamic-secrets/DB-POSTGRES/leases" + dynQuery, wantStatus: 404, wantError: "NotFound", wantMessage: "Dynamic secret with name 'DB-POSTGRES' in folder with path '/' not found"},
		{name: "unknown-route", method: "GET", path: "/api/v9/nothing", wantStatus: 404, wantError: "Not Found", wantMessage: "Route GET:/api/v9/nothing not found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := frozenFixture(t)
			if tc.setup != nil {
				tc.setup(e)
			}
			a := do(t, e, tc.method, tc.path, login(t, e), tc.body)
			if tc.wantStatus != 200 {
				wantError(t, a, tc.wantStatus, tc.wantError, tc.wantMessage)
				if n := e.Counts(); n.LeasesMinted+n.DynamicLists+n.DynamicGets != 0 {
					t.Fatalf("counted a failed call: %+v", n)
				}
				return
			}
			if a.status != 200 {
				t.Fatalf("got %d %s", a.status, a.body)
			}
			if tc.wantNames != nil {
				var got struct {
					DynamicSecrets []struct {
						Name string `json:"name"`
					} `json:"dynamicSecrets"`
				}
				a.decode(t, &got)
				names := []string{}
				for _, d := range got.DynamicSecrets {
					names = append(names, d.Name)
				}
				if !reflect.DeepEqual(names, tc.wantNames) {
					t.Fatalf("names = %q, want %q", names, tc.wantNames)
				}
			}
		})
	}
}

func TestLeaseLifecycle(t *testing.T) {
	e := frozenFixture(t)
	e.AddDynamicSecret(projectID, "dev", "/", infisicaltest.DynamicSecret{
		Name: "db-postgres", DefaultTTL: time.Hour, MaxTTL: 150 * time.Minute,
		Data: func(l infisicaltest.Lease) map[string]any {
			return map[string]any{"username": fmt.Sprintf("u%d", l.Seq), "password": "p", "port": 5432}
		},
	})
	tok := login(t, e)

	l := mint(t, e, tok, "db-postgres")
	if !reflect.DeepEqual(l.Data, map[string]any{"username": "u1", "password": "p", "port": float64(5432)}) || l.Lease.ExpireAt != "2026-01-01T01:00:00.000Z" || l.Lease.Status != nil {
		t.Fatalf("lease = %+v", l)
	}

	// Renew extends from the old expiry: 01:00 + 1h = 02:00.
	a := do(t, e, "POST", "/api/v1/dynamic-secrets/leases/"+l.Lease.ID+"/renew", tok, leaseOpBody(l.Lease.ID, "/"))
	var r createdLease
	a.decode(t, &r)
	if a.status != 200 || r.Lease.ExpireAt != "2026-01-01T02:00:00.000Z" {
		t.Fatalf("renew: %d %s", a.status, a.body)
	}
	// A second renew would end at 03:00, past createdAt + 150 min.
	wantError(t, do(t, e, "POST", "/api/v1/dynamic-secrets/leases/"+l.Lease.ID+"/renew", tok, leaseOpBody(l.Lease.ID, "/")),
		400, "BadRequest", "The requested renewal would exceed the maximum allowed lease duration. Please choose a shorter TTL")

	// Get-by-ID carries the dynamic secret; list shows the lease.
	a = do(t, e, "GET", "/api/v1/dynamic-secrets/leases/"+l.Lease.ID+dynQuery, tok, "")
	var got struct {
		Lease struct {
			ID            string `json:"id"`
			DynamicSecret struct {
				Name string `json:"name"`
			} `json:"dynamicSecret"`
		} `json:"lease"`
	}
	a.decode(t, &got)
	if a.status != 200 || got.Lease.ID != l.Lease.ID || got.Lease.DynamicSecret.Name != "db-postgres" {
		t.Fatalf("get lease: %d %s", a.status, a.body)
	}
	if a := do(t, e, "GET", "/api/v1/dynamic-secrets/db-postgres/leases"+dynQuery, tok, ""); a.status != 200 || len(e.Leases()) != 1 {
		t.Fatalf("list leases: %d %s", a.status, a.body)
	}

	// Reaching expireAt deletes the lease: 404 from then on.
	e.Clock().Advance(2 * time.Hour)
	wantError(t, do(t, e, "DELETE", "/api/v1/dynamic-secrets/leases/"+l.Lease.ID, tok, leaseOpBody(l.Lease.ID, "/")),
		404, "NotFound", "Dynamic secret lease with ID '"+l.Lease.ID+"' not found")

	// A failing provider revoke still answers 200 and keeps the lease.
	l2 := mint(t, e, tok, "db-postgres")
	e.Inject(infisicaltest.RouteRevokeLease, infisicaltest.RevokeFailed("connection refused").Times(1))
	a = do(t, e, "DELETE", "/api/v1/dynamic-secrets/leases/"+l2.Lease.ID, tok, leaseOpBody(l2.Lease.ID, "/"))
	var rv createdLease
	a.decode(t, &rv)
	if a.status != 200 || rv.Lease.Status == nil || *rv.Lease.Status != "Failed to delete" || len(e.Leases()) != 1 {
		t.Fatalf("failed revoke: %d %s", a.status, a.body)
	}
	if a := do(t, e, "DELETE", "/api/v1/dynamic-secrets/leases/"+l2.Lease.ID, tok, leaseOpBody(l2.Lease.ID, "/")); a.status != 200 || len(e.Leases()) != 0 {
		t.Fatalf("second revoke: %d %s", a.status, a.body)
	}

	// Expire a lease on demand.
	l3 := mint(t, e, tok, "db-postgres")
	if !e.ExpireLease(l3.Lease.ID) || e.ExpireLease(l3.Lease.ID) {
		t.Fatal("ExpireLease should succeed once")
	}

	want := infisicaltest.Counts{Logins: map[infisicaltest.AuthMethod]int{infisicaltest.AuthUniversal: 1},
		LeasesMinted: 3, LeasesRenewed: 1, LeasesRevoked: 1, LeaseRevokesFailed: 1, LeasesExpired: 2, LeaseGets: 1, LeaseLists: 1}
	if got := e.Counts(); !reflect.DeepEqual(got, want) {
		t.Fatalf("counts = %+v\nwant     %+v", got, want)
	}
}

func TestLeaseTemplate(t *testing.T) {
	e := frozenFixture(t)
	e.AddDynamicSecret(projectID, "dev", "/", infisicaltest.DynamicSecret{Name: "db-replica", Template: map[string]any{
		"username": "replica-{seq}", "password": "pw-{id}", "port": 5432, "ssl": true, "hosts": []any{"a", "b"}, "extra": nil,
	}})
	tok := login(t, e)
	mint(t, e, tok, "db-postgres") // takes sequence number 1
	l := mint(t, e, tok, "db-replica")
	want := map[string]any{"username": "replica-2", "password": "pw-" + l.Lease.ID, "port": float64(5432), "ssl": true, "hosts": []any{"a", "b"}, "extra": nil}
	if !reflect.DeepEqual(l.Data, want) {
		t.Fatalf("data = %v\nwant   %v", l.Data, want)
	}
}

func TestDefaultLeaseData(t *testing.T) {
	tests := []struct {
		typ  string
		want []string
	}{
		{"sql-database", []string{"DB_PASSWORD", "DB_USERNAME"}},
		{"aws-iam", []string{"ACCESS_KEY", "SECRET_ACCESS_KEY", "SESSION_TOKEN"}},
		{"couchbase", []string{"password", "username"}},
		{"azure-entra-id", []string{"email", "password"}},
		{"ldap", []string{"DN_ARRAY", "PASSWORD", "USERNAME"}},
		{"totp", []string{"TIME_REMAINING", "TOTP"}},
		{"kubernetes", []string{"TOKEN"}},
		{"gcp-iam", []string{"SERVICE_ACCOUNT_EMAIL", "TOKEN"}},
		{"github", []string{"EXPIRES_AT", "PERMISSIONS", "REPOSITORY_SELECTION", "TOKEN"}},
		{"ssh", []string{"PRIVATE_KEY", "SIGNED_KEY"}},
		{"ibm-api-connect", []string{"CLIENT_ID", "CLIENT_SECRET"}},
	}
	for _, tc := range tests {
		t.Run(tc.typ, func(t *testing.T) {
			e := frozenFixture(t)
			e.AddDynamicSecret(projectID, "dev", "/", infisicaltest.DynamicSecret{Name: "x", Type: tc.typ})
			l := mint(t, e, login(t, e), "x")
			got := []string{}
			for k := range l.Data {
				got = append(got, k)
			}
			sort.Strings(got)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("fields = %q, want %q", got, tc.want)
			}
		})
	}
}

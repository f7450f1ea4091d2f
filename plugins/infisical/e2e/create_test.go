package e2e

import (
	"reflect"
	"strings"
	"testing"

	"github.com/agent-vault/agent-vault/plugins/infisical/infisicaltest"
)

// TestCreate (item 1): a good source creates the vault with its snapshot;
// a bad project, environment or path, or a forbidden identity, fails with
// the specific code and leaves no vault, grant or credentials behind.
func TestCreate(t *testing.T) {
	e := shared(t)
	c := e.ownerFor(t)
	e.emu.SetSecrets("p-1", "dev", "/create", map[string]string{"API_KEY": "k1", "DB_URL": "postgres://x"})
	e.emu.AddProject(infisicaltest.Project{ID: "p-forbidden", Environments: []string{"dev"}})
	e.emu.SetSecrets("p-forbidden", "dev", "/", map[string]string{"X": "y"})
	e.emu.SetAccess("id-1", "p-forbidden", infisicaltest.Access{NotMember: true})

	var kinds struct {
		Kinds []struct {
			Kind string `json:"kind"`
		} `json:"kinds"`
	}
	c.Must("GET", "/v1/instance/credential-stores", nil, 200, &kinds)
	var names []string
	for _, k := range kinds.Kinds {
		names = append(names, k.Kind)
	}
	if !strings.Contains(strings.Join(names, ","), "infisical") {
		t.Fatalf("kinds %v lack infisical", names)
	}

	bad := []struct {
		name, project, env, path string
		wantStatus               int
		wantCode, wantDetail     string
	}{
		{"bad-project", "nope", "dev", "/create", 0, "external_store_not_found", "Project with ID 'nope' not found"},
		{"bad-environment", "p-1", "qa", "/create", 0, "external_store_not_found", "in environment 'qa' was not found"},
		{"bad-path", "p-1", "dev", "/nope", 0, "external_store_not_found", "Folder with path '/nope'"},
		{"forbidden", "p-forbidden", "dev", "/", 0, "external_store_forbidden", "You are not member of this project"},
		{"relative-path", "p-1", "dev", "create", 0, "invalid_store_config", "secret_path"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			c := e.ownerFor(t)
			name := "c-" + tc.name
			p := c.Problem("POST", "/v1/vaults", map[string]any{"name": name, "credential_store": storeSpec(tc.project, tc.env, tc.path, 60)})
			if p.Code != tc.wantCode || !strings.Contains(p.Detail, tc.wantDetail) || p.Status < 400 {
				t.Fatalf("got %d %s %q, want %s containing %q", p.Status, p.Code, p.Detail, tc.wantCode, tc.wantDetail)
			}
			if st, body := c.Do("GET", "/v1/vaults/"+name+"/context", nil); st != 404 {
				t.Fatalf("vault %s exists after a failed create: %d %s", name, st, body)
			}
			if st, _ := c.Do("GET", "/v1/credentials?vault="+name, nil); st != 404 {
				t.Fatalf("credentials of %s: %d", name, st)
			}
			var vs struct {
				Vaults []struct {
					Name string `json:"name"`
				} `json:"vaults"`
			}
			c.Must("GET", "/v1/vaults", nil, 200, &vs)
			for _, v := range vs.Vaults {
				if v.Name == name {
					t.Fatalf("vault %s listed (a grant was left behind)", name)
				}
			}
		})
	}

	t.Run("ok", func(t *testing.T) {
		c.Must("POST", "/v1/vaults", map[string]any{"name": "c-good", "credential_store": storeSpec("p-1", "dev", "/create", 60)}, 201, nil)
		if got, want := c.Keys("c-good", "static"), []string{"API_KEY", "DB_URL"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("keys %v, want %v", got, want)
		}
		s := c.StoreOf("c-good")
		if s.Kind != "infisical" || !s.ReadOnly || s.LastSyncStatus != "ok" || s.CredentialCount != 2 || s.PollIntervalSeconds != 60 || s.NextSyncAt == nil || s.LastSyncedAt == nil {
			t.Fatalf("summary %+v", s)
		}
		var ctx struct {
			Role            string  `json:"role"`
			CredentialStore summary `json:"credential_store"`
		}
		c.Must("GET", "/v1/vaults/c-good/context", nil, 200, &ctx)
		if ctx.Role != "admin" || ctx.CredentialStore.Kind != "infisical" || len(ctx.CredentialStore.Config) == 0 {
			t.Fatalf("context %+v", ctx)
		}
		// Read-only: a local write answers 409 external_credential_store.
		p := c.Problem("POST", "/v1/credentials", map[string]any{"vault": "c-good", "credentials": map[string]string{"X": "y"}})
		if p.Status != 409 || p.Code != "external_credential_store" {
			t.Fatalf("write: %+v", p)
		}
	})
}

// TestProxyRotate (item 2): the proxy injects the upstream value; after a
// rotation and a manual sync the next request carries the new value.
func TestProxyRotate(t *testing.T) {
	e := shared(t)
	c := e.ownerFor(t)
	u := newUpstream(t)
	e.emu.SetSecrets("p-1", "dev", "/rotate", map[string]string{"API_KEY": "old-value"})
	c.Must("POST", "/v1/vaults", map[string]any{"name": "rotate", "credential_store": storeSpec("p-1", "dev", "/rotate", 3600)}, 201, nil)
	c.Must("PUT", "/v1/vaults/rotate/services", bearerService(u, "API_KEY"), 200, nil)
	a := newAgent(t, c, e.srv, "rotate", u)
	if got := a.MustGet(); got != "Bearer old-value" {
		t.Fatalf("injected %q", got)
	}
	e.emu.SetSecret("p-1", "dev", "/rotate", "API_KEY", "new-value")
	var s summary
	c.Must("POST", "/v1/vaults/rotate/sync", nil, 200, &s)
	if s.LastSyncStatus != "ok" || s.CredentialCount != 1 {
		t.Fatalf("sync summary %+v", s)
	}
	if got := a.MustGet(); got != "Bearer new-value" {
		t.Fatalf("after sync injected %q", got)
	}
}

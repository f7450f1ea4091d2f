package api_test

import (
	"encoding/json"
	"testing"

	"github.com/agent-vault/agent-vault/host/domain"
)

// The vault list says what each vault holds: its store kind for everyone
// who sees the vault, and its counts of credentials and services for those
// with a role in it (not for an owner who has not joined).
func TestListVaultsStoreKindAndCounts(t *testing.T) {
	e := newEnv(t)
	_, owner := e.user("owner@example.com", domain.InstanceOwner)
	_, member := e.user("member@example.com", domain.InstanceMember)

	if st, b := e.do("POST", "/v1/vaults", member, map[string]any{"name": "shop"}); st != 201 {
		t.Fatalf("create vault: %d %s", st, b)
	}
	if st, b := e.do("POST", "/v1/credentials", member, map[string]any{"vault": "shop", "credentials": map[string]string{"A_KEY": "a", "B_KEY": "b"}}); st != 200 {
		t.Fatalf("set credentials: %d %s", st, b)
	}
	svc := map[string]any{"name": "api", "host": "api.example.com", "auth": map[string]any{"type": "bearer", "token": "A_KEY"}}
	if st, b := e.do("POST", "/v1/vaults/shop/services", member, map[string]any{"services": []any{svc}}); st != 200 {
		t.Fatalf("set services: %d %s", st, b)
	}

	type listed struct {
		Name        string `json:"name"`
		Role        string `json:"role"`
		StoreKind   string `json:"store_kind"`
		Credentials *int   `json:"credentials"`
		Services    *int   `json:"services"`
	}
	list := func(token string) map[string]listed {
		t.Helper()
		st, b := e.do("GET", "/v1/vaults", token, nil)
		if st != 200 {
			t.Fatalf("list vaults: %d %s", st, b)
		}
		var out struct{ Vaults []listed }
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
		m := map[string]listed{}
		for _, v := range out.Vaults {
			m[v.Name] = v
		}
		return m
	}
	count := func(p *int) any {
		if p == nil {
			return nil
		}
		return *p
	}

	tests := []struct {
		name, token, vault, kind string
		creds, svcs              any
	}{
		{"member sees the counts of its vault", member, "shop", "builtin", 2, 1},
		{"an owner who has not joined sees the kind only", owner, "shop", "builtin", nil, nil},
		{"an empty vault counts zero", owner, domain.DefaultVault, "builtin", 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, ok := list(tc.token)[tc.vault]
			if !ok {
				t.Fatalf("vault %q not listed", tc.vault)
			}
			if v.StoreKind != tc.kind || count(v.Credentials) != tc.creds || count(v.Services) != tc.svcs {
				t.Errorf("got kind %q, credentials %v, services %v; want %q, %v, %v", v.StoreKind, count(v.Credentials), count(v.Services), tc.kind, tc.creds, tc.svcs)
			}
		})
	}
}

package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/store"
)

// The catalog is served as the repository holds it, and every entry's
// service is accepted by the vault's own service write.
func TestServiceCatalog(t *testing.T) {
	e := newEnv(t)
	_, tok := e.user("owner@example.com", domain.InstanceOwner)
	status, body := e.do("GET", "/v1/service-catalog", tok, nil)
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, body)
	}
	var res struct {
		Services []struct {
			ID          string          `json:"id"`
			Name        string          `json:"name"`
			Service     json.RawMessage `json:"service"`
			Credentials []struct {
				Key string `json:"key"`
			} `json:"credentials"`
		} `json:"services"`
	}
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Services) < 25 {
		t.Fatalf("%d entries, want at least 25", len(res.Services))
	}
	var services []json.RawMessage
	for _, s := range res.Services {
		if s.ID == "" || s.Name == "" || len(s.Credentials) == 0 || len(s.Service) == 0 {
			t.Errorf("entry %+v is incomplete", s)
		}
		services = append(services, s.Service)
	}
	status, body = e.do("PUT", "/v1/vaults/default/services", tok, map[string]any{"services": services})
	if status != http.StatusOK {
		t.Fatalf("the catalog's services do not save: %d %s", status, body)
	}
	if status, body = e.do("GET", "/v1/service-catalog", "", nil); status != http.StatusUnauthorized {
		t.Errorf("anonymous: %d %s", status, body)
	}
}

// Discovered hosts are listed newest first with the catalog entry that
// covers them; a host a service now covers drops out of the list.
func TestDiscoveredHosts(t *testing.T) {
	e := newEnv(t)
	_, tok := e.user("owner@example.com", domain.InstanceOwner)
	ctx := context.Background()
	v, err := e.st.VaultByName(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Millisecond)
	if err := e.st.RecordDiscoveredHosts(ctx, []store.DiscoveredHost{
		{VaultID: v.ID, Host: "api.github.com", Count: 3, FirstSeen: now.Add(-time.Hour), LastSeen: now},
		{VaultID: v.ID, Host: "internal.example.com:8443", Count: 1, FirstSeen: now.Add(-2 * time.Hour), LastSeen: now.Add(-time.Minute)},
		{VaultID: v.ID, Host: "api.stripe.com", Count: 7, FirstSeen: now.Add(-3 * time.Hour), LastSeen: now.Add(-2 * time.Minute)},
	}); err != nil {
		t.Fatal(err)
	}
	list := func() []map[string]any {
		t.Helper()
		status, body := e.do("GET", "/v1/vaults/default/discovered-hosts", tok, nil)
		if status != http.StatusOK {
			t.Fatalf("status %d: %s", status, body)
		}
		var res struct {
			Vault string           `json:"vault"`
			Hosts []map[string]any `json:"hosts"`
		}
		json.Unmarshal(body, &res)
		if res.Vault != "default" {
			t.Errorf("vault %q", res.Vault)
		}
		return res.Hosts
	}
	got := list()
	want := []struct {
		host, catalogID string
		count           float64
	}{{"api.github.com", "github", 3}, {"internal.example.com:8443", "", 1}, {"api.stripe.com", "stripe", 7}}
	if len(got) != len(want) {
		t.Fatalf("hosts %v", got)
	}
	for i, w := range want {
		id, _ := got[i]["catalog_id"].(string)
		if got[i]["host"] != w.host || id != w.catalogID || got[i]["count"] != w.count {
			t.Errorf("hosts[%d] = %v, want %+v", i, got[i], w)
		}
	}
	// A service for api.stripe.com takes it off the list.
	if status, body := e.do("POST", "/v1/vaults/default/services", tok, map[string]any{"services": []any{
		map[string]any{"name": "stripe", "host": "api.stripe.com", "auth": map[string]any{"type": "bearer", "token": "STRIPE_SECRET_KEY"}},
	}}); status != http.StatusOK {
		t.Fatalf("%d %s", status, body)
	}
	if got := list(); len(got) != 2 || got[0]["host"] != "api.github.com" || got[1]["host"] != "internal.example.com:8443" {
		t.Errorf("after the service: %v", got)
	}
	if status, body := e.do("GET", "/v1/vaults/nope/discovered-hosts", tok, nil); status != http.StatusNotFound || code(body) != "vault_not_found" {
		t.Errorf("missing vault: %d %s", status, body)
	}
}

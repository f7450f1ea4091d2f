package catalog

import (
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/agent-vault/agent-vault/host/domain"
)

// TestCatalogShape checks every entry the way the API checks a service a
// user writes (domain.ValidateServices, CheckServiceHosts), plus what the
// catalog itself promises: ids are service names, the listed credentials
// are exactly the keys the service references, links are https, and the
// host has no port or path, so a discovered host can be matched to it.
func TestCatalogShape(t *testing.T) {
	list, err := parse(servicesJSON)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) < 25 {
		t.Fatalf("the catalog has %d entries, want at least 25", len(list))
	}
	ids := map[string]bool{}
	for _, e := range list {
		t.Run(e.ID, func(t *testing.T) {
			if ids[e.ID] {
				t.Errorf("id %q is used twice", e.ID)
			}
			ids[e.ID] = true
			if e.Service.Name != e.ID {
				t.Errorf("service name %q differs from the id", e.Service.Name)
			}
			if e.Name == "" || e.Description == "" {
				t.Error("name and description are required")
			}
			if err := domain.ValidateServices([]domain.Service{e.Service}); err != nil {
				t.Errorf("the service validator refuses it: %v", err)
			}
			if err := domain.CheckServiceHosts([]domain.Service{e.Service}, false); err != nil {
				t.Errorf("host: %v", err)
			}
			p, err := domain.ParseHostPattern(e.Service.Host)
			if err != nil || p.Port != "" || p.Path != "" || p.IP {
				t.Errorf("host %q must be a host name or *.suffix without port or path", e.Service.Host)
			}
			if e.Service.Enabled != nil || e.Service.AllowPlainHTTP {
				t.Error("entries leave enabled and allow_plain_http at their defaults")
			}
			var keys []string
			for _, c := range e.Credentials {
				if err := domain.CheckKey(c.Key); err != nil {
					t.Errorf("credential %q: %v", c.Key, err)
				}
				if c.Description == "" {
					t.Errorf("credential %q has no description", c.Key)
				}
				keys = append(keys, c.Key)
				if c.Obtain != "" {
					checkHTTPS(t, "obtain", c.Obtain)
				}
			}
			want := e.Service.Keys()
			slices.Sort(keys)
			slices.Sort(want)
			if !slices.Equal(keys, want) {
				t.Errorf("credentials list %v, the service references %v", keys, want)
			}
			checkHTTPS(t, "docs", e.Docs)
		})
	}
	for _, id := range []string{"github", "gitlab", "openai", "anthropic", "stripe", "slack", "linear", "notion", "google-apis",
		"twilio", "sendgrid", "datadog", "sentry", "cloudflare", "vercel", "atlassian", "hubspot", "airtable", "discord",
		"telegram", "aws-api-gateway"} {
		if !ids[id] {
			t.Errorf("the catalog lacks %q", id)
		}
	}
}

func checkHTTPS(t *testing.T, field, raw string) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		t.Errorf("%s %q is not an https URL", field, raw)
	}
}

func TestParseRefusesUnknownFields(t *testing.T) {
	_, err := parse([]byte(`{"services":[{"id":"x","colour":"red"}]}`))
	if err == nil || !strings.Contains(err.Error(), `unknown field "colour"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestMatchHost(t *testing.T) {
	tests := []struct {
		host, want string
	}{
		{"api.github.com", "github"},
		{"API.GitHub.com", "github"},
		{"generativelanguage.googleapis.com", "gemini"}, // exact beats *.googleapis.com
		{"sheets.googleapis.com", "google-apis"},
		{"acme.atlassian.net", "atlassian"},
		{"a.b.atlassian.net", ""}, // a wildcard covers one label
		{"github.com", ""},
		{"example.com", ""},
	}
	for _, tc := range tests {
		t.Run(tc.host, func(t *testing.T) {
			e, ok := MatchHost(tc.host)
			if got := map[bool]string{true: e.ID}[ok]; got != tc.want {
				t.Errorf("MatchHost(%q) = %q, want %q", tc.host, got, tc.want)
			}
		})
	}
}

func TestAllReturnsCopies(t *testing.T) {
	a := All()
	for i := range a {
		if a[i].ID == "datadog" {
			a[i].Service.Auth.Headers["DD-API-KEY"] = "changed"
			a[i].Credentials[0].Key = "CHANGED"
		}
	}
	e, _ := Get("datadog")
	if e.Service.Auth.Headers["DD-API-KEY"] == "changed" || e.Credentials[0].Key == "CHANGED" {
		t.Fatal("a caller changed the catalog")
	}
}

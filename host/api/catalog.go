package api

import (
	"context"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/agent-vault/agent-vault/host/catalog"
	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/danielgtaylor/huma/v2"
)

// CatalogEntry is one API of the service catalog: the service to create
// for it, whose credential keys are suggestions the caller may rename.
type CatalogEntry struct {
	ID          string              `json:"id" doc:"Catalog id, also the suggested service name"`
	Name        string              `json:"name" doc:"Display name"`
	Description string              `json:"description"`
	Docs        string              `json:"docs" doc:"The API's documentation"`
	Service     domain.Service      `json:"service"`
	Credentials []CatalogCredential `json:"credentials" doc:"The credential keys the service references"`
}

// CatalogCredential is a credential key a catalog entry's service uses.
type CatalogCredential struct {
	Key         string `json:"key" doc:"Suggested credential key"`
	Description string `json:"description" doc:"What the credential is"`
	Obtain      string `json:"obtain,omitempty" doc:"Where to create or find it"`
}

type ServiceCatalogOutput struct {
	Body struct {
		Services []CatalogEntry `json:"services"`
	}
}

// DiscoveredHost is a host agents reached through the proxy without a
// matching service.
type DiscoveredHost struct {
	Host      string    `json:"host" doc:"Host name, with :port when not the scheme's default"`
	Count     int64     `json:"count" doc:"Requests seen"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	// CatalogID names the catalog entry whose host pattern covers the
	// host, so a service can be created from it.
	CatalogID string `json:"catalog_id,omitempty" doc:"The service catalog entry that covers this host, if any"`
}

type DiscoveredHostsOutput struct {
	Body struct {
		Vault string           `json:"vault"`
		Hosts []DiscoveredHost `json:"hosts"`
	}
}

func (s *server) registerCatalog(api huma.API) {
	huma.Register(api, op("list-service-catalog", http.MethodGet, "/v1/service-catalog", "Common APIs with the host and auth shape a service for them needs", "services"),
		func(ctx context.Context, in *struct{}) (*ServiceCatalogOutput, error) {
			if _, err := s.access(ctx, ""); err != nil {
				return nil, err
			}
			out := &ServiceCatalogOutput{}
			for _, e := range catalog.All() {
				ce := CatalogEntry{ID: e.ID, Name: e.Name, Description: e.Description, Docs: e.Docs, Service: e.Service}
				for _, c := range e.Credentials {
					ce.Credentials = append(ce.Credentials, CatalogCredential(c))
				}
				out.Body.Services = append(out.Body.Services, ce)
			}
			return out, nil
		})

	huma.Register(api, op("list-discovered-hosts", http.MethodGet, "/v1/vaults/{name}/discovered-hosts", "Hosts agents reached without a matching service, most recent first", "services", http.StatusNotFound),
		func(ctx context.Context, in *VaultNameInput) (*DiscoveredHostsOutput, error) {
			c, err := s.access(ctx, in.Name)
			if err != nil {
				return nil, err
			}
			rows, err := s.Store.DiscoveredHosts(ctx, c.Vault.ID)
			if err != nil {
				return nil, s.problem(ctx, err)
			}
			services, err := s.services(ctx, c.Vault.ID)
			if err != nil {
				return nil, s.problem(ctx, err)
			}
			out := &DiscoveredHostsOutput{}
			out.Body.Vault = c.Vault.Name
			out.Body.Hosts = []DiscoveredHost{}
			for _, r := range rows {
				host, port := splitHostPort(r.Host)
				if coveredByService(services, host, port) {
					continue // a service was created for it since
				}
				h := DiscoveredHost{Host: r.Host, Count: r.Count, FirstSeen: r.FirstSeen, LastSeen: r.LastSeen}
				if e, ok := catalog.MatchHost(host); ok {
					h.CatalogID = e.ID
				}
				out.Body.Hosts = append(out.Body.Hosts, h)
			}
			return out, nil
		})
}

// splitHostPort splits a logged host ("api.x.com", "api.x.com:8443",
// "[::1]:80"); port is empty when there is none.
func splitHostPort(hostport string) (host, port string) {
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		return strings.ToLower(h), p
	}
	return strings.ToLower(strings.Trim(hostport, "[]")), ""
}

// coveredByService reports whether any service's host pattern covers the
// host and port on some path.
func coveredByService(services []domain.Service, host, port string) bool {
	for _, svc := range services {
		p, err := domain.ParseHostPattern(svc.Host)
		if err != nil {
			continue
		}
		p.Path, p.Prefix = "", false
		if p.Port != "" && port == "" {
			continue
		}
		if p.Matches(host, port, "") {
			return true
		}
	}
	return false
}

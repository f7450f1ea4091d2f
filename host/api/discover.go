package api

import (
	"context"
	"net/http"
	"sort"

	"github.com/danielgtaylor/huma/v2"
)

// DiscoveredService is a service as an agent needs to know it.
type DiscoveredService struct {
	Name    string `json:"name"`
	Host    string `json:"host" doc:"The host pattern requests must match to get the service's credentials"`
	Enabled bool   `json:"enabled"`
}

type DiscoverInput struct {
	XVault string `header:"X-Vault" maxLength:"64" doc:"The vault, when the token reaches several"`
	Vault  string `query:"vault" maxLength:"64" doc:"The vault, for clients that cannot set headers"`
}

type DiscoverOutput struct {
	Body struct {
		Vault    string              `json:"vault"`
		Services []DiscoveredService `json:"services"`
		// Keys only: static ones and those dynamic secrets provide (no
		// lease is minted to list them).
		AvailableCredentials []string `json:"available_credentials" doc:"Credential keys the vault can inject (names only)"`
		ProposeURL           string   `json:"propose_url" doc:"Where to POST a proposal for what is missing"`
		GuideURL             string   `json:"guide_url" doc:"The agent guide (Markdown)"`
	}
}

func (s *server) registerDiscover(api huma.API) {
	huma.Register(api, op("discover", http.MethodGet, "/discover", "What the caller's vault offers: services and credential keys", "agents",
		http.StatusBadRequest, http.StatusNotFound),
		func(ctx context.Context, in *DiscoverInput) (*DiscoverOutput, error) {
			name, err := s.callerVault(ctx, in.XVault, in.Vault)
			if err != nil {
				return nil, s.loopProblem(ctx, err)
			}
			c, err := s.access(ctx, name)
			if err != nil {
				return nil, err
			}
			svcs, err := s.services(ctx, c.Vault.ID)
			if err != nil {
				return nil, s.problem(ctx, err)
			}
			static, err := s.staticKeys(ctx, c.Vault.ID)
			if err != nil {
				return nil, s.problem(ctx, err)
			}
			dynamic, err := s.dynamicKeys(ctx, c.Vault.ID)
			if err != nil {
				return nil, s.problem(ctx, err)
			}
			for _, k := range dynamic {
				static[k] = true
			}
			out := &DiscoverOutput{}
			out.Body.Vault = c.Vault.Name
			out.Body.Services = make([]DiscoveredService, 0, len(svcs))
			for _, svc := range svcs {
				out.Body.Services = append(out.Body.Services, DiscoveredService{Name: svc.Name, Host: svc.Host, Enabled: svc.IsEnabled()})
			}
			out.Body.AvailableCredentials = make([]string, 0, len(static))
			for k := range static {
				out.Body.AvailableCredentials = append(out.Body.AvailableCredentials, k)
			}
			sort.Strings(out.Body.AvailableCredentials)
			out.Body.ProposeURL = s.PublicURL + "/v1/proposals"
			out.Body.GuideURL = s.PublicURL + "/v1/skills/cli"
			return out, nil
		})
}

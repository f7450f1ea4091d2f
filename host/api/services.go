package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"

	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/store"
	"github.com/danielgtaylor/huma/v2"
)

type ServicesBody struct {
	Services []domain.Service `json:"services" maxItems:"1000"`
}

type ServicesInput struct {
	Name string `path:"name" maxLength:"64"`
	Body ServicesBody
}

type ServicesOutput struct {
	Body ServicesBody
}

type ServiceNameInput struct {
	Name    string `path:"name" maxLength:"64"`
	Service string `path:"service" maxLength:"64"`
}

type UpdateServiceInput struct {
	Name    string `path:"name" maxLength:"64"`
	Service string `path:"service" maxLength:"64"`
	Body    struct {
		Enabled bool `json:"enabled"`
	}
}

type ServiceOutput struct {
	Body domain.Service
}

func (s *server) registerServices(api huma.API) {
	huma.Register(api, op("list-services", http.MethodGet, "/v1/vaults/{name}/services", "List a vault's services in declaration order", "services", http.StatusNotFound),
		func(ctx context.Context, in *VaultNameInput) (*ServicesOutput, error) {
			c, err := s.access(ctx, in.Name)
			if err != nil {
				return nil, err
			}
			list, err := s.services(ctx, c.Vault.ID)
			if err != nil {
				return nil, s.problem(ctx, err)
			}
			return &ServicesOutput{Body: ServicesBody{Services: list}}, nil
		})

	huma.Register(api, op("upsert-services", http.MethodPost, "/v1/vaults/{name}/services", "Add services or replace them by name", "services", http.StatusBadRequest, http.StatusNotFound),
		func(ctx context.Context, in *ServicesInput) (*ServicesOutput, error) {
			return s.writeServices(ctx, in, false)
		})

	huma.Register(api, op("replace-services", http.MethodPut, "/v1/vaults/{name}/services", "Replace all of a vault's services", "services", http.StatusBadRequest, http.StatusNotFound),
		func(ctx context.Context, in *ServicesInput) (*ServicesOutput, error) {
			return s.writeServices(ctx, in, true)
		})

	huma.Register(api, op("update-service", http.MethodPatch, "/v1/vaults/{name}/services/{service}", "Enable or disable a service", "services", http.StatusNotFound),
		func(ctx context.Context, in *UpdateServiceInput) (*ServiceOutput, error) {
			c, err := s.access(ctx, in.Name)
			if err != nil {
				return nil, err
			}
			list, err := s.services(ctx, c.Vault.ID)
			if err != nil {
				return nil, s.problem(ctx, err)
			}
			for _, svc := range list {
				if svc.Name != in.Service {
					continue
				}
				enabled := in.Body.Enabled
				svc.Enabled = &enabled
				defer s.auditServices(ctx, c.Vault.ID)()
				row, err := serviceRow(svc)
				if err != nil {
					return nil, s.problem(ctx, err)
				}
				if err := s.Store.UpsertServices(ctx, c.Vault.ID, []store.ServiceRow{row}); err != nil {
					return nil, s.problem(ctx, err)
				}
				s.changed(c.Vault.ID)
				return &ServiceOutput{Body: svc}, nil
			}
			return nil, s.problem(ctx, domain.Errorf(domain.CodeNotFound, "no service %q in vault %q", in.Service, c.Vault.Name))
		})

	huma.Register(api, op("delete-service", http.MethodDelete, "/v1/vaults/{name}/services/{service}", "Remove one service", "services", http.StatusNotFound),
		func(ctx context.Context, in *ServiceNameInput) (*struct{}, error) {
			c, err := s.access(ctx, in.Name)
			if err != nil {
				return nil, err
			}
			defer s.auditServices(ctx, c.Vault.ID)()
			if err := s.Store.DeleteServices(ctx, c.Vault.ID, []string{in.Service}); err != nil {
				return nil, s.problem(ctx, err)
			}
			s.changed(c.Vault.ID)
			return nil, nil
		})

	huma.Register(api, op("delete-services", http.MethodDelete, "/v1/vaults/{name}/services", "Remove every service of a vault", "services", http.StatusNotFound),
		func(ctx context.Context, in *VaultNameInput) (*struct{}, error) {
			c, err := s.access(ctx, in.Name)
			if err != nil {
				return nil, err
			}
			defer s.auditServices(ctx, c.Vault.ID)()
			if err := s.Store.DeleteServices(ctx, c.Vault.ID, nil); err != nil {
				return nil, s.problem(ctx, err)
			}
			s.changed(c.Vault.ID)
			return nil, nil
		})
}

// writeServices validates a whole list, then upserts or replaces it.
func (s *server) writeServices(ctx context.Context, in *ServicesInput, replace bool) (*ServicesOutput, error) {
	c, err := s.access(ctx, in.Name)
	if err != nil {
		return nil, err
	}
	list := in.Body.Services
	if err := domain.ValidateServices(list); err != nil {
		return nil, s.problem(ctx, err)
	}
	if err := domain.CheckServiceHosts(list, s.AllowPrivateRanges); err != nil {
		return nil, s.problem(ctx, err)
	}
	rows := make([]store.ServiceRow, len(list))
	for i, svc := range list {
		if rows[i], err = serviceRow(svc); err != nil {
			return nil, s.problem(ctx, err)
		}
	}
	defer s.auditServices(ctx, c.Vault.ID)()
	if replace {
		err = s.Store.ReplaceServices(ctx, c.Vault.ID, rows)
	} else {
		err = s.Store.UpsertServices(ctx, c.Vault.ID, rows)
	}
	if err != nil {
		return nil, s.problem(ctx, err)
	}
	s.changed(c.Vault.ID)
	all, err := s.services(ctx, c.Vault.ID)
	if err != nil {
		return nil, s.problem(ctx, err)
	}
	return &ServicesOutput{Body: ServicesBody{Services: all}}, nil
}

// services loads a vault's services in declaration order.
func (s *server) services(ctx context.Context, vaultID string) ([]domain.Service, error) {
	rows, err := s.Store.ListServices(ctx, vaultID)
	if err != nil {
		return nil, err
	}
	out := make([]domain.Service, 0, len(rows))
	for _, r := range rows {
		var svc domain.Service
		if err := json.Unmarshal(r.Spec, &svc); err != nil {
			return nil, fmt.Errorf("service %q: stored spec does not decode: %w", r.Name, err)
		}
		out = append(out, svc)
	}
	return out, nil
}

// serviceAudit is what the audit trail records of a service: its host,
// switches, auth kind and the credential keys and header names it uses;
// never a template or a prefix, whose literal text could hold a secret.
type serviceAudit struct {
	Host            string   `json:"host"`
	Enabled         bool     `json:"enabled"`
	Auth            string   `json:"auth"`
	CredentialKeys  []string `json:"credential_keys"`
	Headers         []string `json:"headers,omitempty"`
	AllowSetCookie  bool     `json:"allow_set_cookie"`
	AllowPlainHTTP  bool     `json:"allow_plain_http"`
	ScrubResponses  bool     `json:"scrub_responses"`
	UnknownEncoding string   `json:"unknown_encoding"`
}

func serviceAuditOf(svc domain.Service) *serviceAudit {
	v := &serviceAudit{Host: svc.Host, Enabled: svc.IsEnabled(), Auth: string(svc.Auth.Type), CredentialKeys: svc.Keys(),
		AllowSetCookie: svc.AllowSetCookie, AllowPlainHTTP: svc.AllowPlainHTTP, ScrubResponses: svc.ScrubResponses == nil || *svc.ScrubResponses,
		UnknownEncoding: svc.UnknownEncoding}
	if v.UnknownEncoding == "" {
		v.UnknownEncoding = domain.EncodingBlock
	}
	if svc.Auth.Header != "" {
		v.Headers = append(v.Headers, svc.Auth.Header)
	}
	for h := range svc.Auth.Headers {
		v.Headers = append(v.Headers, h)
	}
	slices.Sort(v.Headers)
	return v
}

// auditServices notes a vault's services as they are now; the function
// it returns, run when the call ends, records each service's fields that
// changed since, as services.NAME.FIELD.
func (s *server) auditServices(ctx context.Context, vaultID string) func() {
	if noteFrom(ctx) == nil {
		return func() {}
	}
	before, err := s.services(ctx, vaultID)
	if err != nil {
		return func() {}
	}
	return func() {
		after, err := s.services(ctx, vaultID)
		if err != nil {
			return
		}
		views := map[string][2]*serviceAudit{}
		var names []string
		for i, list := range [][]domain.Service{before, after} {
			for _, svc := range list {
				v, seen := views[svc.Name]
				if !seen {
					names = append(names, svc.Name)
				}
				v[i] = serviceAuditOf(svc)
				views[svc.Name] = v
			}
		}
		for _, name := range names {
			noteDiff(ctx, "services."+name, views[name][0], views[name][1])
		}
	}
}

func serviceRow(svc domain.Service) (store.ServiceRow, error) {
	b, err := json.Marshal(svc)
	return store.ServiceRow{Name: svc.Name, Spec: b}, err
}

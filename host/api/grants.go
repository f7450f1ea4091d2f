package api

import (
	"context"
	"net/http"

	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/store"
	"github.com/danielgtaylor/huma/v2"
)

// MemberView is one principal's role in a vault.
type MemberView struct {
	ID   string `json:"id"`
	Name string `json:"name" doc:"Email for users, name for agents"`
	Role string `json:"role" enum:"admin,member,proxy"`
}

type ListMembersOutput struct {
	Body struct {
		Members []MemberView `json:"members"`
	}
}

type SetVaultUserInput struct {
	Name string `path:"name" maxLength:"64"`
	Body struct {
		Email string `json:"email" maxLength:"254" doc:"The user to add or whose role changes"`
		Role  string `json:"role" enum:"admin,member,proxy"`
	}
}

type SetVaultAgentInput struct {
	Name string `path:"name" maxLength:"64"`
	Body struct {
		Agent string `json:"agent" maxLength:"64" doc:"The agent to add or whose role changes"`
		Role  string `json:"role" enum:"admin,member,proxy"`
	}
}

type RemoveMemberInput struct {
	Name      string `path:"name" maxLength:"64"`
	Principal string `path:"principal" maxLength:"254" doc:"User email or id; agent name"`
}

// grantKinds describes the two grant resources, which share one shape.
var grantKinds = []struct {
	kind     store.PrincipalKind
	resource string
}{
	{store.PrincipalUser, "users"},
	{store.PrincipalAgent, "agents"},
}

func (s *server) registerGrants(api huma.API) {
	for _, g := range grantKinds {
		kind, res, one := g.kind, g.resource, string(g.kind)
		huma.Register(api, op("list-vault-"+res, http.MethodGet, "/v1/vaults/{name}/"+res, "List the "+res+" of a vault with their roles", "access", http.StatusNotFound),
			func(ctx context.Context, in *VaultNameInput) (*ListMembersOutput, error) {
				c, err := s.access(ctx, in.Name)
				if err != nil {
					return nil, err
				}
				list, err := s.Store.ListMembers(ctx, c.Vault.ID, kind)
				if err != nil {
					return nil, s.problem(ctx, err)
				}
				out := &ListMembersOutput{}
				out.Body.Members = []MemberView{}
				for _, m := range list {
					out.Body.Members = append(out.Body.Members, MemberView{ID: m.ID, Name: m.Name, Role: string(m.Role)})
				}
				return out, nil
			})

		huma.Register(api, op("remove-vault-"+one, http.MethodDelete, "/v1/vaults/{name}/"+res+"/{principal}", "Remove a "+one+" from a vault", "access", http.StatusNotFound, http.StatusConflict),
			func(ctx context.Context, in *RemoveMemberInput) (*struct{}, error) {
				c, err := s.access(ctx, in.Name)
				if err != nil {
					return nil, err
				}
				id, err := s.principalID(ctx, kind, in.Principal)
				if err != nil {
					return nil, s.problem(ctx, err)
				}
				return nil, s.auditGrant(ctx, c.Vault, kind, id, in.Principal, func() error {
					return s.identitiesChanged(ctx, s.Store.RemoveGrant(ctx, c.Vault.ID, kind, id))
				})
			})
	}

	huma.Register(api, op("set-vault-user", http.MethodPost, "/v1/vaults/{name}/users", "Add a user to a vault or change their role", "access", http.StatusNotFound, http.StatusConflict),
		func(ctx context.Context, in *SetVaultUserInput) (*struct{}, error) {
			return nil, s.setGrant(ctx, in.Name, store.PrincipalUser, in.Body.Email, in.Body.Role)
		})
	huma.Register(api, op("set-vault-agent", http.MethodPost, "/v1/vaults/{name}/agents", "Add an agent to a vault or change its role", "access", http.StatusNotFound, http.StatusConflict),
		func(ctx context.Context, in *SetVaultAgentInput) (*struct{}, error) {
			return nil, s.setGrant(ctx, in.Name, store.PrincipalAgent, in.Body.Agent, in.Body.Role)
		})
}

func (s *server) setGrant(ctx context.Context, vault string, kind store.PrincipalKind, principal, role string) error {
	c, err := s.access(ctx, vault)
	if err != nil {
		return err
	}
	id, err := s.principalID(ctx, kind, principal)
	if err != nil {
		return s.problem(ctx, err)
	}
	return s.auditGrant(ctx, c.Vault, kind, id, principal, func() error {
		return s.identitiesChanged(ctx, s.Store.SetGrant(ctx, c.Vault.ID, store.Grant{Kind: kind, PrincipalID: id, Role: domain.VaultRole(role)}))
	})
}

// principalID resolves a user (email or id) or an agent (name).
func (s *server) principalID(ctx context.Context, kind store.PrincipalKind, ref string) (string, error) {
	if kind == store.PrincipalAgent {
		a, err := s.Store.AgentByName(ctx, ref)
		return a.ID, err
	}
	if u, err := s.Store.UserByEmail(ctx, ref); err == nil {
		return u.ID, nil
	}
	u, err := s.Store.UserByID(ctx, ref)
	if err != nil {
		return "", domain.Errorf(domain.CodeNotFound, "no user %q", ref)
	}
	return u.ID, nil
}

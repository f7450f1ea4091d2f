package api

import (
	"context"
	"net/http"
	"time"

	"github.com/agent-vault/agent-vault/host/authz"
	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/seal"
	"github.com/agent-vault/agent-vault/host/store"
	"github.com/danielgtaylor/huma/v2"
)

// VaultGrantView is one vault role of an agent.
type VaultGrantView struct {
	Vault string `json:"vault" maxLength:"64"`
	Role  string `json:"role" enum:"admin,member,proxy"`
}

// AgentView is an agent as listings show it; never its token.
type AgentView struct {
	ID        string           `json:"id"`
	Name      string           `json:"name"`
	Role      string           `json:"role" enum:"member,no-access"`
	Revoked   bool             `json:"revoked"`
	Vaults    []VaultGrantView `json:"vaults"`
	CreatedAt time.Time        `json:"created_at"`
	// Token lifetimes and use.
	TokenExpiresAt         *time.Time `json:"token_expires_at,omitempty" doc:"When the current token stops working; absent: never"`
	TokenTTLSeconds        int        `json:"token_ttl_seconds" doc:"The lifetime the current token was given (0: never expires); a rotation that names none gives the new token the same"`
	PreviousTokenExpiresAt *time.Time `json:"previous_token_expires_at,omitempty" doc:"When the token replaced by the last rotation stops working (overlap window)"`
	LastUsedAt             *time.Time `json:"last_used_at,omitempty" doc:"When a token of the agent was last accepted (to the minute)"`
}

type CreateAgentInput struct {
	Body struct {
		Name       string           `json:"name" pattern:"^[a-z0-9][a-z0-9_-]{0,63}$" doc:"Agent name, unique on the instance"`
		Role       string           `json:"role,omitempty" enum:"member,no-access" default:"member" doc:"Instance role"`
		Vaults     []VaultGrantView `json:"vaults,omitempty" maxItems:"100" doc:"Vault roles to grant; the caller must administer each vault"`
		TTLSeconds int              `json:"ttl_seconds,omitempty" minimum:"0" maximum:"31536000" doc:"The token expires after this long; 0 or absent: never"`
	}
}

type AgentOutput struct {
	Body AgentView
}

type RotateAgentInput struct {
	Name string `path:"name" maxLength:"64"`
	Body *struct {
		OverlapSeconds int  `json:"overlap_seconds,omitempty" minimum:"0" maximum:"604800" doc:"Keep the old token (and the sessions it minted) working this much longer, so a running agent is not cut off; 0: it stops now"`
		TTLSeconds     *int `json:"ttl_seconds,omitempty" minimum:"0" maximum:"31536000" doc:"The new token expires after this long; 0: never; absent: the current token's lifetime (token_ttl_seconds)"`
	}
}

type UpdateAgentInput struct {
	Name string `path:"name" maxLength:"64"`
	Body struct {
		Name string `json:"name,omitempty" pattern:"^[a-z0-9][a-z0-9_-]{0,63}$" doc:"New name; the agent's tokens keep working"`
		Role string `json:"role,omitempty" enum:"member,no-access" doc:"New instance role; no-access disables the agent"`
	}
}

// AgentTokenOutput carries an agent and its token, shown this once.
type AgentTokenOutput struct {
	Body struct {
		Agent AgentView `json:"agent"`
		Token string    `json:"token" doc:"Agent token (av_agt_…), shown once"`
	}
}

type ListAgentsOutput struct {
	Body struct {
		Agents []AgentView `json:"agents"`
	}
}

type AgentNameInput struct {
	Name string `path:"name" maxLength:"64"`
}

func (s *server) registerAgents(api huma.API) {
	huma.Register(api, created(op("create-agent", http.MethodPost, "/v1/agents", "Create an agent and its token", "agents", http.StatusNotFound, http.StatusConflict)),
		func(ctx context.Context, in *CreateAgentInput) (*AgentTokenOutput, error) {
			c, err := s.access(ctx, "")
			if err != nil {
				return nil, err
			}
			var grants []store.AgentGrant
			for _, g := range in.Body.Vaults {
				v, err := s.mayGrant(ctx, c.Actor, g.Vault)
				if err != nil {
					return nil, err
				}
				grants = append(grants, store.AgentGrant{VaultID: v.ID, VaultName: v.Name, Role: domain.VaultRole(g.Role)})
			}
			role := domain.InstanceRole(in.Body.Role)
			if role == "" {
				role = domain.InstanceMember
			}
			token, hash := seal.NewToken(seal.PrefixAgent)
			a, err := s.Store.CreateAgent(ctx, store.Agent{Name: in.Body.Name, Role: role, CreatedBy: c.Actor.ID,
				TokenExpiresAt: s.expiry(in.Body.TTLSeconds), TokenTTL: time.Duration(in.Body.TTLSeconds) * time.Second}, hash, grants)
			if err != nil {
				return nil, s.problem(ctx, err)
			}
			noteDiff(ctx, "", nil, agentAuditOf(a, grants))
			out := &AgentTokenOutput{}
			out.Body.Agent, out.Body.Token = agentView(a, grants), token
			return out, nil
		})

	huma.Register(api, op("list-agents", http.MethodGet, "/v1/agents", "List agents", "agents"),
		func(ctx context.Context, in *struct{}) (*ListAgentsOutput, error) {
			if _, err := s.access(ctx, ""); err != nil {
				return nil, err
			}
			list, err := s.Store.ListAgents(ctx)
			if err != nil {
				return nil, s.problem(ctx, err)
			}
			out := &ListAgentsOutput{}
			out.Body.Agents = make([]AgentView, 0, len(list))
			for _, a := range list {
				grants, err := s.Store.AgentGrants(ctx, a.ID)
				if err != nil {
					return nil, s.problem(ctx, err)
				}
				out.Body.Agents = append(out.Body.Agents, agentView(a, grants))
			}
			return out, nil
		})

	huma.Register(api, op("get-agent", http.MethodGet, "/v1/agents/{name}", "Show an agent", "agents", http.StatusNotFound),
		func(ctx context.Context, in *AgentNameInput) (*AgentOutput, error) {
			a, err := s.agentFor(ctx, in.Name)
			if err != nil {
				return nil, err
			}
			grants, err := s.Store.AgentGrants(ctx, a.ID)
			if err != nil {
				return nil, s.problem(ctx, err)
			}
			return &AgentOutput{Body: agentView(a, grants)}, nil
		})

	huma.Register(api, op("update-agent", http.MethodPatch, "/v1/agents/{name}", "Rename an agent or change its instance role", "agents", http.StatusNotFound, http.StatusConflict),
		func(ctx context.Context, in *UpdateAgentInput) (*AgentOutput, error) {
			a, err := s.agentFor(ctx, in.Name)
			if err != nil {
				return nil, err
			}
			defer s.auditAgent(ctx, a)()
			if in.Body.Role != "" {
				if err := s.identitiesChanged(ctx, s.Store.SetAgentRole(ctx, a.ID, domain.InstanceRole(in.Body.Role))); err != nil {
					return nil, err
				}
			}
			if in.Body.Name != "" && in.Body.Name != a.Name {
				if err := s.identitiesChanged(ctx, s.Store.RenameAgent(ctx, a.ID, in.Body.Name)); err != nil {
					return nil, err
				}
			}
			if a, err = s.Store.AgentByID(ctx, a.ID); err != nil {
				return nil, s.problem(ctx, err)
			}
			grants, err := s.Store.AgentGrants(ctx, a.ID)
			if err != nil {
				return nil, s.problem(ctx, err)
			}
			return &AgentOutput{Body: agentView(a, grants)}, nil
		})

	huma.Register(api, op("rotate-agent", http.MethodPost, "/v1/agents/{name}/rotate", "Replace an agent's token (re-enables a revoked agent), optionally keeping the old one working for an overlap window", "agents", http.StatusNotFound),
		func(ctx context.Context, in *RotateAgentInput) (*AgentTokenOutput, error) {
			a, err := s.agentFor(ctx, in.Name)
			if err != nil {
				return nil, err
			}
			var overlap time.Duration
			ttl := int(a.TokenTTL / time.Second) // a rotation keeps the token's lifetime unless it names one
			if in.Body != nil {
				overlap = time.Duration(in.Body.OverlapSeconds) * time.Second
				if in.Body.TTLSeconds != nil {
					ttl = *in.Body.TTLSeconds
				}
			}
			token, hash := seal.NewToken(seal.PrefixAgent)
			defer s.auditAgent(ctx, a)()
			err = s.Store.RotateAgentToken(ctx, a.ID, hash, s.expiry(ttl), time.Duration(ttl)*time.Second, overlap)
			if err := s.identitiesChanged(ctx, err); err != nil {
				return nil, err
			}
			noteSecret(ctx, "token")
			grants, err := s.Store.AgentGrants(ctx, a.ID)
			if err != nil {
				return nil, s.problem(ctx, err)
			}
			if a, err = s.Store.AgentByID(ctx, a.ID); err != nil {
				return nil, s.problem(ctx, err)
			}
			out := &AgentTokenOutput{}
			out.Body.Agent, out.Body.Token = agentView(a, grants), token
			return out, nil
		})

	huma.Register(api, op("revoke-agent", http.MethodPost, "/v1/agents/{name}/revoke", "Disable an agent's token", "agents", http.StatusNotFound),
		func(ctx context.Context, in *AgentNameInput) (*struct{}, error) {
			a, err := s.agentFor(ctx, in.Name)
			if err != nil {
				return nil, err
			}
			defer s.auditAgent(ctx, a)()
			return nil, s.identitiesChanged(ctx, s.Store.RevokeAgent(ctx, a.ID))
		})

	huma.Register(api, op("delete-agent", http.MethodDelete, "/v1/agents/{name}", "Delete an agent", "agents", http.StatusNotFound),
		func(ctx context.Context, in *AgentNameInput) (*struct{}, error) {
			a, err := s.agentFor(ctx, in.Name)
			if err != nil {
				return nil, err
			}
			defer s.auditAgent(ctx, a)()
			return nil, s.identitiesChanged(ctx, s.Store.DeleteAgent(ctx, a.ID))
		})
}

// agentFor checks access and finds the named agent.
// agentAudit is what the audit trail records of an agent: never a token.
type agentAudit struct {
	Name                   string            `json:"name"`
	Role                   string            `json:"role"`
	Revoked                bool              `json:"revoked"`
	Vaults                 map[string]string `json:"vaults"`
	TokenExpiresAt         *time.Time        `json:"token_expires_at"`
	PreviousTokenExpiresAt *time.Time        `json:"previous_token_expires_at"`
}

func agentAuditOf(a store.Agent, grants []store.AgentGrant) *agentAudit {
	v := &agentAudit{Name: a.Name, Role: string(a.Role), Revoked: a.RevokedAt != nil, Vaults: map[string]string{},
		TokenExpiresAt: a.TokenExpiresAt, PreviousTokenExpiresAt: a.PrevTokenExpiresAt}
	for _, g := range grants {
		v.Vaults[g.VaultName] = string(g.Role)
	}
	return v
}

// auditAgent notes the agent as it is now; the function it returns, run
// when the call ends, records what changed since (everything, once the
// agent is deleted).
func (s *server) auditAgent(ctx context.Context, a store.Agent) func() {
	if noteFrom(ctx) == nil {
		return func() {}
	}
	view := func(id string) *agentAudit {
		a, err := s.Store.AgentByID(ctx, id)
		if err != nil {
			return nil
		}
		grants, err := s.Store.AgentGrants(ctx, id)
		if err != nil {
			return nil
		}
		return agentAuditOf(a, grants)
	}
	before := view(a.ID)
	return func() { noteDiff(ctx, "", before, view(a.ID)) }
}

func (s *server) agentFor(ctx context.Context, name string) (store.Agent, error) {
	if _, err := s.access(ctx, ""); err != nil {
		return store.Agent{}, err
	}
	a, err := s.Store.AgentByName(ctx, name)
	return a, s.problem(ctx, err)
}

// mayGrant finds a vault and checks that the actor may hand out roles in
// it: a vault admin, or an instance owner.
func (s *server) mayGrant(ctx context.Context, a authz.Actor, vaultName string) (store.Vault, error) {
	v, err := s.Store.VaultByName(ctx, vaultName)
	if err != nil {
		return v, s.problem(ctx, err)
	}
	role, err := s.roleIn(ctx, a, v.ID)
	if err != nil {
		return v, s.problem(ctx, err)
	}
	if role != domain.VaultAdmin && a.Role != domain.InstanceOwner {
		return v, s.problem(ctx, domain.Errorf(domain.CodeForbidden, "granting roles in vault %q needs its admin role", v.Name))
	}
	return v, nil
}

// expiry is when a token minted now with a lifetime of ttl seconds
// expires; nil for 0 (never).
func (s *server) expiry(ttl int) *time.Time {
	if ttl <= 0 {
		return nil
	}
	t := s.Now().Add(time.Duration(ttl) * time.Second).UTC().Truncate(time.Second)
	return &t
}

func agentView(a store.Agent, grants []store.AgentGrant) AgentView {
	v := AgentView{ID: a.ID, Name: a.Name, Role: string(a.Role), Revoked: a.RevokedAt != nil, CreatedAt: a.CreatedAt, Vaults: []VaultGrantView{},
		TokenExpiresAt: a.TokenExpiresAt, TokenTTLSeconds: int(a.TokenTTL / time.Second), PreviousTokenExpiresAt: a.PrevTokenExpiresAt, LastUsedAt: a.LastUsedAt}
	for _, g := range grants {
		v.Vaults = append(v.Vaults, VaultGrantView{Vault: g.VaultName, Role: string(g.Role)})
	}
	return v
}

package api

import (
	"context"
	"net/http"
	"time"

	"github.com/agent-vault/agent-vault/host/authn"
	"github.com/agent-vault/agent-vault/host/authz"
	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/seal"
	"github.com/agent-vault/agent-vault/host/store"
	"github.com/danielgtaylor/huma/v2"
)

// Scoped-session lifetimes.
const (
	minScopedTTL     = 300
	maxScopedTTL     = 7 * 24 * 3600
	defaultScopedTTL = 24 * 3600
)

type CreateSessionInput struct {
	Body struct {
		Vault      string `json:"vault" maxLength:"64"`
		TTLSeconds int    `json:"ttl_seconds,omitempty" minimum:"300" maximum:"604800" doc:"Lifetime; default 86400"`
	}
}

type CreateSessionOutput struct {
	Body struct {
		ID        string    `json:"id"`
		Token     string    `json:"token" doc:"Scoped session token (av_scp_…), shown once"`
		Vault     string    `json:"vault"`
		ExpiresAt time.Time `json:"expires_at"`
	}
}

// SessionView is a live scoped session; never its token.
type SessionView struct {
	ID        string    `json:"id"`
	Creator   string    `json:"creator" doc:"user:<id> or agent:<id>"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

type ListSessionsOutput struct {
	Body struct {
		Sessions []SessionView `json:"sessions"`
	}
}

type SessionIDInput struct {
	Name string `path:"name" maxLength:"64"`
	ID   string `path:"id" maxLength:"64"`
}

func (s *server) registerSessions(api huma.API) {
	huma.Register(api, created(op("create-session", http.MethodPost, "/v1/sessions", "Mint a proxy-role token fixed to one vault", "sessions", http.StatusNotFound)),
		func(ctx context.Context, in *CreateSessionInput) (*CreateSessionOutput, error) {
			c, err := s.access(ctx, in.Body.Vault)
			if err != nil {
				return nil, err
			}
			ttl := in.Body.TTLSeconds
			if ttl == 0 {
				ttl = defaultScopedTTL
			}
			if ttl < minScopedTTL || ttl > maxScopedTTL {
				return nil, s.problem(ctx, domain.FieldError(domain.CodeInvalidInput, "ttl_seconds", "must be between %d and %d", minScopedTTL, maxScopedTTL))
			}
			token, hash := seal.NewToken(authn.PrefixScopedSession)
			ss := store.ScopedSession{
				VaultID: c.Vault.ID, CreatorKind: store.PrincipalKind(c.Actor.Kind), CreatorID: c.Actor.ID,
				ExpiresAt: s.Now().Add(time.Duration(ttl) * time.Second).UTC().Truncate(time.Second),
			}
			if c.Actor.Kind == authz.Agent {
				// Rotating the agent's token ends what this token minted.
				ss.CreatorTokenHash = c.Actor.TokenHash
			}
			ss, err = s.Store.CreateScopedSession(ctx, ss, hash)
			if err != nil {
				return nil, s.problem(ctx, err)
			}
			noteTarget(ctx, "vaults/"+c.Vault.Name+"/sessions/"+ss.ID)
			noteChange(ctx, "expires_at", nil, ss.ExpiresAt)
			out := &CreateSessionOutput{}
			out.Body.ID, out.Body.Token, out.Body.Vault, out.Body.ExpiresAt = ss.ID, token, c.Vault.Name, ss.ExpiresAt
			return out, nil
		})

	huma.Register(api, op("list-sessions", http.MethodGet, "/v1/vaults/{name}/sessions", "List a vault's live scoped sessions", "sessions", http.StatusNotFound),
		func(ctx context.Context, in *VaultNameInput) (*ListSessionsOutput, error) {
			c, err := s.access(ctx, in.Name)
			if err != nil {
				return nil, err
			}
			list, err := s.Store.ListScopedSessions(ctx, c.Vault.ID)
			if err != nil {
				return nil, s.problem(ctx, err)
			}
			out := &ListSessionsOutput{}
			out.Body.Sessions = []SessionView{}
			for _, ss := range live(list) {
				out.Body.Sessions = append(out.Body.Sessions, SessionView{ID: ss.ID, Creator: string(ss.CreatorKind) + ":" + ss.CreatorID, CreatedAt: ss.CreatedAt, ExpiresAt: ss.ExpiresAt})
			}
			return out, nil
		})

	huma.Register(api, op("revoke-session", http.MethodDelete, "/v1/vaults/{name}/sessions/{id}", "Revoke a scoped session", "sessions", http.StatusNotFound),
		func(ctx context.Context, in *SessionIDInput) (*struct{}, error) {
			c, err := s.access(ctx, in.Name)
			if err != nil {
				return nil, err
			}
			ss, err := s.Store.ScopedSessionByID(ctx, in.ID)
			if err != nil || ss.VaultID != c.Vault.ID {
				return nil, s.problem(ctx, domain.Errorf(domain.CodeNotFound, "no session %q in this vault", in.ID))
			}
			return nil, s.identitiesChanged(ctx, s.Store.RevokeScopedSession(ctx, ss.ID))
		})

	// Whoever mints a session can list and revoke it, whatever their role
	// in its vault is now; a session can revoke itself.
	huma.Register(api, op("list-my-sessions", http.MethodGet, "/v1/sessions", "List the live scoped sessions the caller minted", "sessions"),
		func(ctx context.Context, _ *struct{}) (*ListMySessionsOutput, error) {
			c, err := s.access(ctx, "")
			if err != nil {
				return nil, err
			}
			list, err := s.Store.ListScopedSessionsByCreator(ctx, store.PrincipalKind(c.Actor.Kind), c.Actor.ID)
			if err != nil {
				return nil, s.problem(ctx, err)
			}
			out := &ListMySessionsOutput{}
			out.Body.Sessions = []MySessionView{}
			for _, ss := range live(list) {
				out.Body.Sessions = append(out.Body.Sessions, MySessionView{ID: ss.ID, Vault: ss.VaultName, CreatedAt: ss.CreatedAt, ExpiresAt: ss.ExpiresAt})
			}
			return out, nil
		})

	huma.Register(api, op("revoke-my-session", http.MethodDelete, "/v1/sessions/{id}", "Revoke a scoped session the caller minted (or the calling session itself)", "sessions", http.StatusNotFound),
		func(ctx context.Context, in *MySessionIDInput) (*struct{}, error) {
			c, err := s.access(ctx, "")
			if err != nil {
				return nil, err
			}
			ss, err := s.Store.ScopedSessionByID(ctx, in.ID)
			mine := err == nil && (ss.ID == c.Actor.ID && c.Actor.Kind == authz.Session ||
				string(ss.CreatorKind) == string(c.Actor.Kind) && ss.CreatorID == c.Actor.ID)
			if !mine || ss.RevokedAt != nil {
				return nil, s.problem(ctx, domain.Errorf(domain.CodeNotFound, "no live session %q minted by this caller", in.ID))
			}
			return nil, s.identitiesChanged(ctx, s.Store.RevokeScopedSession(ctx, ss.ID))
		})
}

// MySessionView is a scoped session the caller minted; never its token.
type MySessionView struct {
	ID        string    `json:"id"`
	Vault     string    `json:"vault"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

type ListMySessionsOutput struct {
	Body struct {
		Sessions []MySessionView `json:"sessions"`
	}
}

type MySessionIDInput struct {
	ID string `path:"id" maxLength:"64"`
}

// live keeps the sessions whose creator still backs them; the others can
// no longer authenticate and are not shown as live.
func live(list []store.ScopedSession) []store.ScopedSession {
	out := list[:0]
	for _, ss := range list {
		if _, err := authz.SessionRole(authz.SessionMintRole, authn.SessionCreator(ss)); err == nil {
			out = append(out, ss)
		}
	}
	return out
}

// Package authn turns a bearer token into the actor it stands for. The API
// and the proxy both use it, so both doors accept exactly the same tokens.
// Tokens are recognised by prefix and looked up by their SHA-256; the
// tokens themselves are never stored.
package authn

import (
	"context"
	"strings"

	"github.com/agent-vault/agent-vault/host/authz"
	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/seal"
	"github.com/agent-vault/agent-vault/host/store"
)

// PrefixScopedSession marks scoped-session tokens (proxy role, one vault).
const PrefixScopedSession = "av_scp_"

// Resolve returns the actor behind token, or a CodeUnauthorized error when
// the token is unknown, expired or revoked.
func Resolve(ctx context.Context, st *store.Store, token string) (authz.Actor, error) {
	hash := seal.HashToken(token)
	switch {
	case strings.HasPrefix(token, seal.PrefixSession):
		u, ls, err := st.UserBySession(ctx, hash)
		if err != nil {
			return authz.Actor{}, err
		}
		// Last use feeds the session list and the idle timeout; failing
		// to record it does not refuse the caller.
		_ = st.TouchSession(ctx, hash, ls.LastUsedAt)
		return authz.Actor{Kind: authz.User, ID: u.ID, Name: u.Email, Role: u.Role, TokenHash: hash, ExpiresAt: ls.ExpiresAt, SessionID: ls.ID}, nil
	case strings.HasPrefix(token, seal.PrefixAgent):
		a, until, err := st.AgentByToken(ctx, hash)
		if err != nil {
			return authz.Actor{}, err
		}
		_ = st.TouchAgent(ctx, a)
		return authz.Actor{Kind: authz.Agent, ID: a.ID, Name: a.Name, Role: a.Role, TokenHash: hash, ExpiresAt: until}, nil
	case strings.HasPrefix(token, PrefixScopedSession):
		ss, err := st.ScopedSessionByToken(ctx, hash)
		if err != nil {
			return authz.Actor{}, err
		}
		// The session is only as strong as its creator right now.
		role, err := authz.SessionRole(authz.SessionMintRole, SessionCreator(ss))
		if err != nil {
			return authz.Actor{}, err
		}
		exp := ss.ExpiresAt
		if until := ss.Creator.TokenUntil; !until.IsZero() && until.Before(exp) {
			exp = until
		}
		return authz.Actor{Kind: authz.Session, ID: ss.ID, Name: "session " + ss.ID[:8], VaultID: ss.VaultID, SessionRole: role,
			TokenHash: hash, ExpiresAt: exp}, nil
	}
	return authz.Actor{}, domain.Errorf(domain.CodeUnauthorized, "unrecognised token")
}

// VaultRole is the actor's role in a vault: from grants for users and
// agents, the derived role (see authz.SessionRole) for a scoped session in
// its own vault, none otherwise.
func VaultRole(ctx context.Context, st *store.Store, a authz.Actor, vaultID string) (domain.VaultRole, error) {
	switch a.Kind {
	case authz.User:
		return st.VaultRole(ctx, vaultID, store.PrincipalUser, a.ID)
	case authz.Agent:
		return st.VaultRole(ctx, vaultID, store.PrincipalAgent, a.ID)
	case authz.Session:
		if a.VaultID == vaultID {
			return a.SessionRole, nil
		}
	}
	return "", nil
}

// SessionCreator reads the creator's current state off a session row.
func SessionCreator(ss store.ScopedSession) authz.Creator {
	kind := authz.User
	if ss.CreatorKind == store.PrincipalAgent {
		kind = authz.Agent
	}
	c := ss.Creator
	return authz.Creator{Kind: kind, Exists: c.Exists, Revoked: c.Revoked, Role: c.Role, VaultRole: c.VaultRole}
}

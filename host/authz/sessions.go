package authz

import "github.com/agent-vault/agent-vault/host/domain"

// SessionMintRole is the vault role every scoped session is minted with.
const SessionMintRole = domain.VaultProxy

// Creator is what a scoped session's creator (a user or an agent) holds
// right now, as the store reads it on every lookup of the session.
type Creator struct {
	Kind Kind // User or Agent
	// Exists is false once the creator was deleted.
	Exists bool
	// Revoked is true once an agent creator was revoked, or its token
	// rotated since it minted the session.
	Revoked bool
	// Role is the creator's instance role.
	Role domain.InstanceRole
	// VaultRole is the creator's role in the session's vault; empty
	// without a grant.
	VaultRole domain.VaultRole
}

// SessionRole is the vault role a scoped session carries now: the role it
// was minted with, capped by what its creator holds in the vault at this
// moment. A session whose creator was deleted, revoked or disabled, or
// lost its grant, carries nothing: the error has code unauthorized, so the
// API answers 401 and the proxy 407, exactly as for a revoked session.
func SessionRole(minted domain.VaultRole, c Creator) (domain.VaultRole, error) {
	switch {
	case !c.Exists:
		return "", domain.Errorf(domain.CodeUnauthorized, "scoped session ended: its creator was deleted")
	case c.Revoked:
		return "", domain.Errorf(domain.CodeUnauthorized, "scoped session ended: its creator's token was revoked or rotated")
	case c.Role.Rank() <= domain.InstanceNoAccess.Rank():
		return "", domain.Errorf(domain.CodeUnauthorized, "scoped session ended: its creator's account is disabled")
	case !c.VaultRole.Valid():
		return "", domain.Errorf(domain.CodeUnauthorized, "scoped session ended: its creator no longer has a role in the vault")
	case c.VaultRole.Rank() < minted.Rank():
		return c.VaultRole, nil
	}
	return minted, nil
}

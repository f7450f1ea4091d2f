// Package authz decides who may do what. Every API operation has exactly one
// row in Policy; handlers ask Decide before they read or change anything.
// The permission matrix in PERMISSIONS.md is generated from the same table,
// and a test walks every registered operation against every kind of caller.
package authz

import (
	"time"

	"github.com/agent-vault/agent-vault/host/domain"
)

// Kind is the kind of caller behind a request.
type Kind string

const (
	Anonymous Kind = "anonymous"
	User      Kind = "user"    // a person with a session token (av_sess_)
	Agent     Kind = "agent"   // a program with an agent token (av_agt_)
	Session   Kind = "session" // a proxy-role token fixed to one vault (av_scp_)
)

// Actor is the authenticated caller.
type Actor struct {
	Kind Kind
	ID   string
	// Name is the user's email or the agent's name, for logs and listings.
	Name string
	// Role is the instance role of a user or agent; sessions have none.
	Role domain.InstanceRole
	// VaultID is the one vault a scoped session is fixed to, and
	// SessionRole its role there now (see SessionRole).
	VaultID     string
	SessionRole domain.VaultRole
	// ExpiresAt is when the token stops being valid by itself (its
	// expiry, a login session's idle timeout, the end of a rotated agent
	// token's overlap); zero when it does not expire.
	ExpiresAt time.Time
	// SessionID is the id of a user's login session.
	SessionID string
	// Token is the hash of the credential that authenticated the call (so
	// logout can end exactly this session).
	TokenHash []byte
}

// Kinds is a set of actor kinds.
type Kinds uint8

const (
	AllowUser Kinds = 1 << iota
	AllowAgent
	AllowSession
)

// Has reports whether k contains kind.
func (k Kinds) Has(kind Kind) bool {
	switch kind {
	case User:
		return k&AllowUser != 0
	case Agent:
		return k&AllowAgent != 0
	case Session:
		return k&AllowSession != 0
	}
	return false
}

// Rule is one row of the policy table.
type Rule struct {
	// Public operations need no token at all.
	Public bool
	// Actors lists the kinds of authenticated caller that may call.
	Actors Kinds
	// Instance is the minimum instance role of a user or agent.
	Instance domain.InstanceRole
	// Vault is the minimum role in the target vault; empty when the
	// operation is not about one vault.
	Vault domain.VaultRole
	// OwnerManages lets instance owners pass the vault check without a
	// grant. Only management operations set it: owners see and manage every
	// vault but read its contents only after joining.
	OwnerManages bool
}

// Decide returns nil when the actor may perform op with vaultRole in the
// target vault ("" when it has none or the operation targets no vault). It
// returns a *domain.Error with code unauthorized (no or bad token) or
// forbidden.
func Decide(op string, a Actor, vaultRole domain.VaultRole) error {
	rule, ok := Policy[op]
	if !ok {
		return domain.Errorf(domain.CodeForbidden, "operation %q has no policy", op)
	}
	if rule.Public {
		return nil
	}
	if a.Kind == Anonymous || a.Kind == "" {
		return domain.Errorf(domain.CodeUnauthorized, "this operation needs a token: sign in, or pass an agent or session token")
	}
	if !rule.Actors.Has(a.Kind) {
		return domain.Errorf(domain.CodeForbidden, "%s tokens cannot perform %s", a.Kind, op)
	}
	if a.Kind != Session && a.Role.Rank() < rule.Instance.Rank() {
		return domain.Errorf(domain.CodeForbidden, "%s needs instance role %s or higher", op, rule.Instance)
	}
	if rule.Vault == "" {
		return nil
	}
	if vaultRole.AtLeast(rule.Vault) {
		return nil
	}
	if rule.OwnerManages && a.Kind == User && a.Role == domain.InstanceOwner {
		return nil
	}
	return domain.Errorf(domain.CodeForbidden, "%s needs vault role %s or higher in this vault", op, rule.Vault)
}

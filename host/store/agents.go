package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/agent-vault/agent-vault/host/domain"
)

// Agent is a program that reaches vaults through the proxy with a token.
type Agent struct {
	ID        string
	Name      string
	Role      domain.InstanceRole
	RevokedAt *time.Time
	CreatedBy string
	CreatedAt time.Time
	// TokenExpiresAt is when the current token stops working; nil: never.
	TokenExpiresAt *time.Time
	// TokenTTL is the lifetime the current token was given (0: never
	// expires); a rotation that names none gives the new token the same.
	TokenTTL time.Duration
	// PrevTokenExpiresAt is when the token replaced by the last rotation
	// stops working; nil when it already did.
	PrevTokenExpiresAt *time.Time
	// LastUsedAt is when a token of the agent was last accepted.
	LastUsedAt *time.Time
}

// AgentGrant is one of an agent's vault roles, by vault name.
type AgentGrant struct {
	VaultID   string
	VaultName string
	Role      domain.VaultRole
}

const agentCols = `id, name, role, revoked_at, created_by, created_at, token_expires_at, prev_token_expires_at, last_used_at, token_ttl_seconds`

func scanAgent(row interface{ Scan(...any) error }) (Agent, error) {
	var a Agent
	var role string
	var revoked, tokenExp, prevExp, used sql.NullInt64
	var created, ttl int64
	err := row.Scan(&a.ID, &a.Name, &role, &revoked, &a.CreatedBy, &created, &tokenExp, &prevExp, &used, &ttl)
	a.TokenTTL = time.Duration(ttl) * time.Second
	a.Role, a.RevokedAt, a.CreatedAt = domain.InstanceRole(role), nullMsToTime(revoked), msToTime(created)
	a.TokenExpiresAt, a.PrevTokenExpiresAt, a.LastUsedAt = nullMsToTime(tokenExp), nullMsToTime(prevExp), nullMsToTime(used)
	return a, err
}

func nullTime(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

// CreateAgent inserts an agent with its token hash and vault grants in one
// transaction.
func (s *Store) CreateAgent(ctx context.Context, a Agent, tokenHash []byte, grants []AgentGrant) (Agent, error) {
	now := s.millis()
	a.ID, a.CreatedAt = NewID(), msToTime(now)
	err := s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO agents (id, name, role, token_hash, created_by, created_at, token_expires_at, token_ttl_seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			a.ID, a.Name, string(a.Role), tokenHash, a.CreatedBy, now, nullTime(a.TokenExpiresAt), int64(a.TokenTTL/time.Second))
		if isUnique(err) {
			return domain.Errorf(domain.CodeAlreadyExists, "an agent named %q already exists", a.Name)
		}
		if err != nil {
			return err
		}
		for _, g := range grants {
			if _, err := tx.ExecContext(ctx, `INSERT INTO vault_agents (vault_id, agent_id, role) VALUES (?, ?, ?)`, g.VaultID, a.ID, string(g.Role)); err != nil {
				return err
			}
		}
		return nil
	})
	return a, err
}

// AgentByName finds an agent.
func (s *Store) AgentByName(ctx context.Context, name string) (Agent, error) {
	a, err := scanAgent(s.db.QueryRowContext(ctx, `SELECT `+agentCols+` FROM agents WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return a, notFound(domain.CodeNotFound, "no agent named %q", name)
	}
	return a, err
}

// AgentByID finds an agent by id.
func (s *Store) AgentByID(ctx context.Context, id string) (Agent, error) {
	a, err := scanAgent(s.db.QueryRowContext(ctx, `SELECT `+agentCols+` FROM agents WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return a, notFound(domain.CodeNotFound, "no agent with id %q", id)
	}
	return a, err
}

// AgentByToken finds the unrevoked agent holding a token hash: its current
// token before that token expires, or its previous one within the overlap
// window of the last rotation. until is when the token stops working by
// itself (zero: never).
func (s *Store) AgentByToken(ctx context.Context, tokenHash []byte) (a Agent, until time.Time, err error) {
	now := s.millis()
	a, err = scanAgent(s.db.QueryRowContext(ctx, `SELECT `+agentCols+` FROM agents WHERE revoked_at IS NULL AND (
		(token_hash = ? AND (token_expires_at IS NULL OR token_expires_at > ?)) OR
		(prev_token_hash = ? AND prev_token_expires_at > ?))`, tokenHash, now, tokenHash, now))
	if errors.Is(err, sql.ErrNoRows) {
		return a, until, notFound(domain.CodeUnauthorized, "agent token unknown, expired or revoked")
	}
	if err != nil {
		return a, until, err
	}
	// The previous token matched when the current one did not (the two
	// hashes never coincide).
	var current int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM agents WHERE id = ? AND token_hash = ?`, a.ID, tokenHash).Scan(&current); err != nil {
		return a, until, err
	}
	switch {
	case current == 0 && a.PrevTokenExpiresAt != nil:
		until = *a.PrevTokenExpiresAt
	case current == 1 && a.TokenExpiresAt != nil:
		until = *a.TokenExpiresAt
	}
	return a, until, nil
}

// TouchAgent records that an agent's token was used now, unless that was
// recorded less than a minute ago.
func (s *Store) TouchAgent(ctx context.Context, a Agent) error {
	now := s.now()
	if a.LastUsedAt != nil && now.Sub(*a.LastUsedAt) < touchEvery {
		return nil
	}
	_, err := s.db.ExecContext(ctx, `UPDATE agents SET last_used_at = ? WHERE id = ?`, now.UnixMilli(), a.ID)
	return err
}

// RenameAgent changes an agent's name; its tokens keep working.
func (s *Store) RenameAgent(ctx context.Context, id, name string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE agents SET name = ? WHERE id = ?`, name, id)
	if isUnique(err) {
		return domain.Errorf(domain.CodeAlreadyExists, "an agent named %q already exists", name)
	}
	return mustAffect(res, err, domain.CodeNotFound, "no agent with id %q", id)
}

// SetAgentRole changes an agent's instance role.
func (s *Store) SetAgentRole(ctx context.Context, id string, role domain.InstanceRole) error {
	res, err := s.db.ExecContext(ctx, `UPDATE agents SET role = ? WHERE id = ?`, string(role), id)
	return mustAffect(res, err, domain.CodeNotFound, "no agent with id %q", id)
}

// ListAgents lists every agent by name.
func (s *Store) ListAgents(ctx context.Context) ([]Agent, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+agentCols+` FROM agents ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Agent
	for rows.Next() {
		a, err := scanAgent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// AgentGrants lists an agent's vault roles.
func (s *Store) AgentGrants(ctx context.Context, agentID string) ([]AgentGrant, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT v.id, v.name, g.role FROM vault_agents g JOIN vaults v ON v.id = g.vault_id
		WHERE g.agent_id = ? ORDER BY v.name`, agentID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AgentGrant
	for rows.Next() {
		var g AgentGrant
		var role string
		if err := rows.Scan(&g.VaultID, &g.VaultName, &role); err != nil {
			return nil, err
		}
		g.Role = domain.VaultRole(role)
		out = append(out, g)
	}
	return out, rows.Err()
}

// RotateAgentToken replaces an agent's token hash (expiring at expiresAt,
// nil: never, from a lifetime of ttl, which is recorded) and clears any
// revocation. With overlap > 0 the replaced
// token keeps working that much longer (never past its own expiry), and so
// do the scoped sessions it minted; a revoked agent's old token never
// comes back.
func (s *Store) RotateAgentToken(ctx context.Context, id string, tokenHash []byte, expiresAt *time.Time, ttl, overlap time.Duration) error {
	now := s.millis()
	until := now + overlap.Milliseconds()
	res, err := s.db.ExecContext(ctx, `UPDATE agents SET
		prev_token_hash = CASE WHEN ? > 0 AND revoked_at IS NULL AND (token_expires_at IS NULL OR token_expires_at > ?) THEN token_hash ELSE NULL END,
		prev_token_expires_at = CASE WHEN ? > 0 AND revoked_at IS NULL AND (token_expires_at IS NULL OR token_expires_at > ?)
			THEN (CASE WHEN token_expires_at IS NOT NULL AND token_expires_at < ? THEN token_expires_at ELSE ? END) ELSE NULL END,
		token_hash = ?, token_expires_at = ?, token_ttl_seconds = ?, revoked_at = NULL WHERE id = ?`,
		overlap.Milliseconds(), now, overlap.Milliseconds(), now, until, until, tokenHash, nullTime(expiresAt), int64(ttl/time.Second), id)
	return mustAffect(res, err, domain.CodeNotFound, "no agent with id %q", id)
}

// RevokeAgent disables an agent's tokens (the previous one's overlap
// ends too); the agent and its grants remain.
func (s *Store) RevokeAgent(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE agents SET revoked_at = ?, prev_token_hash = NULL, prev_token_expires_at = NULL WHERE id = ?`, s.millis(), id)
	return mustAffect(res, err, domain.CodeNotFound, "no agent with id %q", id)
}

// DeleteAgent deletes an agent, its grants and the scoped sessions it
// minted.
func (s *Store) DeleteAgent(ctx context.Context, id string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM agents WHERE id = ?`, id)
		if err := mustAffect(res, err, domain.CodeNotFound, "no agent with id %q", id); err != nil {
			return err
		}
		return deleteCreatedSessions(ctx, tx, PrincipalAgent, id)
	})
}

// ScopedSession is a proxy-role token fixed to one vault. It derives its
// authority from its creator: the Creator fields say what the creator
// holds now (filled by the lookups, not stored).
type ScopedSession struct {
	ID          string
	VaultID     string
	VaultName   string // filled by the lookups
	CreatorKind PrincipalKind
	CreatorID   string
	// CreatorTokenHash binds an agent's session to the token that minted
	// it; nil for users.
	CreatorTokenHash []byte
	CreatedAt        time.Time
	ExpiresAt        time.Time
	RevokedAt        *time.Time
	Creator          SessionCreator
}

// SessionCreator is the current state of a scoped session's creator.
type SessionCreator struct {
	// Exists is false when the user or agent was deleted.
	Exists bool
	// Revoked is true when the agent was revoked or its token rotated
	// since it minted the session.
	Revoked bool
	// Role is the creator's instance role now.
	Role domain.InstanceRole
	// VaultRole is the creator's role in the session's vault now; empty
	// without a grant.
	VaultRole domain.VaultRole
	// TokenUntil is when the agent token that minted the session stops
	// working (it expires, or its overlap after a rotation ends); zero:
	// never. Past it the creator counts as revoked.
	TokenUntil time.Time
}

// scopedSelect reads a session with its creator's current state. Both
// creator joins are LEFT JOINs so that a deleted creator still yields the
// row (with Exists false) and the caller can say why the session ended.
const scopedSelect = `SELECT s.id, s.vault_id, v.name, s.creator_kind, s.creator_id, s.created_at, s.expires_at, s.revoked_at,
	CASE WHEN a.id IS NOT NULL OR u.id IS NOT NULL THEN 1 ELSE 0 END,
	CASE WHEN a.id IS NOT NULL AND (a.revoked_at IS NOT NULL OR s.creator_token_hash IS NULL OR a.token_hash <> s.creator_token_hash) THEN 1 ELSE 0 END,
	COALESCE(a.role, u.role, ''), COALESCE(ga.role, gu.role, ''),
	CASE WHEN a.id IS NOT NULL AND a.token_hash = s.creator_token_hash THEN COALESCE(a.token_expires_at, 0) ELSE 0 END,
	CASE WHEN a.id IS NOT NULL AND a.revoked_at IS NULL AND a.prev_token_hash = s.creator_token_hash THEN COALESCE(a.prev_token_expires_at, 0) ELSE 0 END
	FROM scoped_sessions s
	JOIN vaults v ON v.id = s.vault_id
	LEFT JOIN agents a ON s.creator_kind = 'agent' AND a.id = s.creator_id
	LEFT JOIN vault_agents ga ON ga.agent_id = a.id AND ga.vault_id = s.vault_id
	LEFT JOIN users u ON s.creator_kind = 'user' AND u.id = s.creator_id
	LEFT JOIN vault_users gu ON gu.user_id = u.id AND gu.vault_id = s.vault_id `

// settle counts a creator whose minting token stopped working by now as
// revoked.
func (c *SessionCreator) settle(now int64) {
	if !c.TokenUntil.IsZero() && c.TokenUntil.UnixMilli() <= now {
		c.Revoked = true
	}
}

func scanScoped(row interface{ Scan(...any) error }) (ScopedSession, error) {
	var ss ScopedSession
	var kind, role, vaultRole string
	var created, expires int64
	var revoked sql.NullInt64
	var exists, creatorRevoked int
	var tokenUntil, prevUntil int64
	err := row.Scan(&ss.ID, &ss.VaultID, &ss.VaultName, &kind, &ss.CreatorID, &created, &expires, &revoked, &exists, &creatorRevoked, &role, &vaultRole,
		&tokenUntil, &prevUntil)
	ss.CreatorKind, ss.CreatedAt, ss.ExpiresAt, ss.RevokedAt = PrincipalKind(kind), msToTime(created), msToTime(expires), nullMsToTime(revoked)
	ss.Creator = SessionCreator{Exists: exists == 1, Revoked: creatorRevoked == 1, Role: domain.InstanceRole(role), VaultRole: domain.VaultRole(vaultRole)}
	// An agent's token that expires (or, after a rotation with overlap,
	// the previous token) bounds the sessions it minted.
	switch {
	case prevUntil > 0:
		ss.Creator.Revoked = false
		ss.Creator.TokenUntil = msToTime(prevUntil)
	case tokenUntil > 0:
		ss.Creator.TokenUntil = msToTime(tokenUntil)
	}
	return ss, err
}

// CreateScopedSession stores a scoped session.
func (s *Store) CreateScopedSession(ctx context.Context, ss ScopedSession, tokenHash []byte) (ScopedSession, error) {
	now := s.millis()
	ss.ID, ss.CreatedAt = NewID(), msToTime(now)
	_, err := s.db.ExecContext(ctx, `INSERT INTO scoped_sessions (id, token_hash, vault_id, creator_kind, creator_id, creator_token_hash, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, ss.ID, tokenHash, ss.VaultID, string(ss.CreatorKind), ss.CreatorID, ss.CreatorTokenHash, now, ss.ExpiresAt.UnixMilli())
	return ss, err
}

// ScopedSessionByToken finds an unexpired, unrevoked scoped session with
// its creator's current state; whether that creator still backs it is
// the caller's decision (authz.SessionRole).
func (s *Store) ScopedSessionByToken(ctx context.Context, tokenHash []byte) (ScopedSession, error) {
	now := s.millis()
	ss, err := scanScoped(s.db.QueryRowContext(ctx, scopedSelect+`WHERE s.token_hash = ? AND s.revoked_at IS NULL AND s.expires_at > ?`, tokenHash, now))
	if errors.Is(err, sql.ErrNoRows) {
		return ss, notFound(domain.CodeUnauthorized, "scoped session expired, revoked or unknown")
	}
	ss.Creator.settle(now)
	return ss, err
}

// ScopedSessionByID finds a scoped session by id.
func (s *Store) ScopedSessionByID(ctx context.Context, id string) (ScopedSession, error) {
	ss, err := scanScoped(s.db.QueryRowContext(ctx, scopedSelect+`WHERE s.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return ss, notFound(domain.CodeNotFound, "no session with id %q", id)
	}
	return ss, err
}

// ListScopedSessions lists a vault's unexpired, unrevoked scoped sessions,
// newest first, with their creators' current state.
func (s *Store) ListScopedSessions(ctx context.Context, vaultID string) ([]ScopedSession, error) {
	return s.listScoped(ctx, `s.vault_id = ?`, vaultID)
}

// ListScopedSessionsByCreator lists the unexpired, unrevoked scoped
// sessions one user or agent minted, in every vault, newest first.
func (s *Store) ListScopedSessionsByCreator(ctx context.Context, kind PrincipalKind, creatorID string) ([]ScopedSession, error) {
	return s.listScoped(ctx, `s.creator_kind = ? AND s.creator_id = ?`, string(kind), creatorID)
}

func (s *Store) listScoped(ctx context.Context, where string, args ...any) ([]ScopedSession, error) {
	rows, err := s.db.QueryContext(ctx, scopedSelect+`WHERE `+where+` AND s.revoked_at IS NULL AND s.expires_at > ?
		ORDER BY s.created_at DESC, s.id`, append(args, s.millis())...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ScopedSession
	now := s.millis()
	for rows.Next() {
		ss, err := scanScoped(rows)
		if err != nil {
			return nil, err
		}
		ss.Creator.settle(now)
		out = append(out, ss)
	}
	return out, rows.Err()
}

// RevokeScopedSession revokes a scoped session.
func (s *Store) RevokeScopedSession(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE scoped_sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, s.millis(), id)
	return mustAffect(res, err, domain.CodeNotFound, "no live session with id %q", id)
}

// deleteCreatedSessions removes the scoped sessions a deleted user or
// agent minted. The lookups refuse them anyway (their creator is gone);
// this keeps no orphans behind, since creator_id cannot be a foreign key
// to two tables.
func deleteCreatedSessions(ctx context.Context, tx *sql.Tx, kind PrincipalKind, id string) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM scoped_sessions WHERE creator_kind = ? AND creator_id = ?`, string(kind), id)
	return err
}

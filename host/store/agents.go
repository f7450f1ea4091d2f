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
}

// AgentGrant is one of an agent's vault roles, by vault name.
type AgentGrant struct {
	VaultID   string
	VaultName string
	Role      domain.VaultRole
}

const agentCols = `id, name, role, revoked_at, created_by, created_at`

func scanAgent(row interface{ Scan(...any) error }) (Agent, error) {
	var a Agent
	var role string
	var revoked sql.NullInt64
	var created int64
	err := row.Scan(&a.ID, &a.Name, &role, &revoked, &a.CreatedBy, &created)
	a.Role, a.RevokedAt, a.CreatedAt = domain.InstanceRole(role), nullMsToTime(revoked), msToTime(created)
	return a, err
}

// CreateAgent inserts an agent with its token hash and vault grants in one
// transaction.
func (s *Store) CreateAgent(ctx context.Context, a Agent, tokenHash []byte, grants []AgentGrant) (Agent, error) {
	now := s.millis()
	a.ID, a.CreatedAt = NewID(), msToTime(now)
	err := s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO agents (id, name, role, token_hash, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			a.ID, a.Name, string(a.Role), tokenHash, a.CreatedBy, now)
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

// AgentByToken finds the unrevoked agent holding a token hash.
func (s *Store) AgentByToken(ctx context.Context, tokenHash []byte) (Agent, error) {
	a, err := scanAgent(s.db.QueryRowContext(ctx, `SELECT `+agentCols+` FROM agents WHERE token_hash = ? AND revoked_at IS NULL`, tokenHash))
	if errors.Is(err, sql.ErrNoRows) {
		return a, notFound(domain.CodeUnauthorized, "agent token unknown or revoked")
	}
	return a, err
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

// RotateAgentToken replaces an agent's token hash and clears any revocation.
func (s *Store) RotateAgentToken(ctx context.Context, id string, tokenHash []byte) error {
	res, err := s.db.ExecContext(ctx, `UPDATE agents SET token_hash = ?, revoked_at = NULL WHERE id = ?`, tokenHash, id)
	return mustAffect(res, err, domain.CodeNotFound, "no agent with id %q", id)
}

// RevokeAgent disables an agent's token; the agent and its grants remain.
func (s *Store) RevokeAgent(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE agents SET revoked_at = ? WHERE id = ?`, s.millis(), id)
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
}

// scopedSelect reads a session with its creator's current state. Both
// creator joins are LEFT JOINs so that a deleted creator still yields the
// row (with Exists false) and the caller can say why the session ended.
const scopedSelect = `SELECT s.id, s.vault_id, v.name, s.creator_kind, s.creator_id, s.created_at, s.expires_at, s.revoked_at,
	CASE WHEN a.id IS NOT NULL OR u.id IS NOT NULL THEN 1 ELSE 0 END,
	CASE WHEN a.id IS NOT NULL AND (a.revoked_at IS NOT NULL OR s.creator_token_hash IS NULL OR a.token_hash <> s.creator_token_hash) THEN 1 ELSE 0 END,
	COALESCE(a.role, u.role, ''), COALESCE(ga.role, gu.role, '')
	FROM scoped_sessions s
	JOIN vaults v ON v.id = s.vault_id
	LEFT JOIN agents a ON s.creator_kind = 'agent' AND a.id = s.creator_id
	LEFT JOIN vault_agents ga ON ga.agent_id = a.id AND ga.vault_id = s.vault_id
	LEFT JOIN users u ON s.creator_kind = 'user' AND u.id = s.creator_id
	LEFT JOIN vault_users gu ON gu.user_id = u.id AND gu.vault_id = s.vault_id `

func scanScoped(row interface{ Scan(...any) error }) (ScopedSession, error) {
	var ss ScopedSession
	var kind, role, vaultRole string
	var created, expires int64
	var revoked sql.NullInt64
	var exists, creatorRevoked int
	err := row.Scan(&ss.ID, &ss.VaultID, &ss.VaultName, &kind, &ss.CreatorID, &created, &expires, &revoked, &exists, &creatorRevoked, &role, &vaultRole)
	ss.CreatorKind, ss.CreatedAt, ss.ExpiresAt, ss.RevokedAt = PrincipalKind(kind), msToTime(created), msToTime(expires), nullMsToTime(revoked)
	ss.Creator = SessionCreator{Exists: exists == 1, Revoked: creatorRevoked == 1, Role: domain.InstanceRole(role), VaultRole: domain.VaultRole(vaultRole)}
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
	ss, err := scanScoped(s.db.QueryRowContext(ctx, scopedSelect+`WHERE s.token_hash = ? AND s.revoked_at IS NULL AND s.expires_at > ?`, tokenHash, s.millis()))
	if errors.Is(err, sql.ErrNoRows) {
		return ss, notFound(domain.CodeUnauthorized, "scoped session expired, revoked or unknown")
	}
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
	for rows.Next() {
		ss, err := scanScoped(rows)
		if err != nil {
			return nil, err
		}
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

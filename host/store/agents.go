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

// DeleteAgent deletes an agent and its grants.
func (s *Store) DeleteAgent(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM agents WHERE id = ?`, id)
	return mustAffect(res, err, domain.CodeNotFound, "no agent with id %q", id)
}

// ScopedSession is a proxy-role token fixed to one vault.
type ScopedSession struct {
	ID          string
	VaultID     string
	CreatorKind PrincipalKind
	CreatorID   string
	CreatedAt   time.Time
	ExpiresAt   time.Time
	RevokedAt   *time.Time
}

const scopedCols = `id, vault_id, creator_kind, creator_id, created_at, expires_at, revoked_at`

func scanScoped(row interface{ Scan(...any) error }) (ScopedSession, error) {
	var ss ScopedSession
	var kind string
	var created, expires int64
	var revoked sql.NullInt64
	err := row.Scan(&ss.ID, &ss.VaultID, &kind, &ss.CreatorID, &created, &expires, &revoked)
	ss.CreatorKind, ss.CreatedAt, ss.ExpiresAt, ss.RevokedAt = PrincipalKind(kind), msToTime(created), msToTime(expires), nullMsToTime(revoked)
	return ss, err
}

// CreateScopedSession stores a scoped session.
func (s *Store) CreateScopedSession(ctx context.Context, ss ScopedSession, tokenHash []byte) (ScopedSession, error) {
	now := s.millis()
	ss.ID, ss.CreatedAt = NewID(), msToTime(now)
	_, err := s.db.ExecContext(ctx, `INSERT INTO scoped_sessions (id, token_hash, vault_id, creator_kind, creator_id, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, ss.ID, tokenHash, ss.VaultID, string(ss.CreatorKind), ss.CreatorID, now, ss.ExpiresAt.UnixMilli())
	return ss, err
}

// ScopedSessionByToken finds a live (unexpired, unrevoked) scoped session.
func (s *Store) ScopedSessionByToken(ctx context.Context, tokenHash []byte) (ScopedSession, error) {
	ss, err := scanScoped(s.db.QueryRowContext(ctx, `SELECT `+scopedCols+` FROM scoped_sessions
		WHERE token_hash = ? AND revoked_at IS NULL AND expires_at > ?`, tokenHash, s.millis()))
	if errors.Is(err, sql.ErrNoRows) {
		return ss, notFound(domain.CodeUnauthorized, "scoped session expired, revoked or unknown")
	}
	return ss, err
}

// ScopedSessionByID finds a scoped session by id.
func (s *Store) ScopedSessionByID(ctx context.Context, id string) (ScopedSession, error) {
	ss, err := scanScoped(s.db.QueryRowContext(ctx, `SELECT `+scopedCols+` FROM scoped_sessions WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return ss, notFound(domain.CodeNotFound, "no session with id %q", id)
	}
	return ss, err
}

// ListScopedSessions lists a vault's live scoped sessions, newest first.
func (s *Store) ListScopedSessions(ctx context.Context, vaultID string) ([]ScopedSession, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+scopedCols+` FROM scoped_sessions
		WHERE vault_id = ? AND revoked_at IS NULL AND expires_at > ? ORDER BY created_at DESC`, vaultID, s.millis())
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

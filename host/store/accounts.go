package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/agent-vault/agent-vault/host/domain"
)

// LoginSession is a user's sign-in as listings show it; never its token.
type LoginSession struct {
	ID         string
	UserID     string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	LastUsedAt time.Time
	ClientAddr string
	UserAgent  string
	// TokenHash lets the caller tell its own session apart; never shown.
	TokenHash []byte
}

// touchEvery bounds how often a token's last use is written: a busy token
// costs one write a minute, not one per request.
const touchEvery = time.Minute

// TouchSession records that a login session was used now, unless that was
// recorded less than a minute ago.
func (s *Store) TouchSession(ctx context.Context, tokenHash []byte, lastUsed time.Time) error {
	now := s.now()
	if now.Sub(lastUsed) < touchEvery {
		return nil
	}
	_, err := s.db.ExecContext(ctx, `UPDATE user_sessions SET last_used_at = ? WHERE token_hash = ?`, now.UnixMilli(), tokenHash)
	return err
}

// ListLoginSessions lists a user's live login sessions, most recently used
// first. The token hash is filled so the caller can mark its own.
func (s *Store) ListLoginSessions(ctx context.Context, userID string) ([]LoginSession, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, token_hash, created_at, expires_at, last_used_at, client_addr, user_agent
		FROM user_sessions WHERE user_id = ? AND expires_at > ? ORDER BY last_used_at DESC, id`, userID, s.millis())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []LoginSession
	for rows.Next() {
		ls := LoginSession{UserID: userID}
		var created, exp, used int64
		if err := rows.Scan(&ls.ID, &ls.TokenHash, &created, &exp, &used, &ls.ClientAddr, &ls.UserAgent); err != nil {
			return nil, err
		}
		ls.CreatedAt, ls.ExpiresAt, ls.LastUsedAt = msToTime(created), msToTime(exp), msToTime(used)
		out = append(out, ls)
	}
	return out, rows.Err()
}

// DeleteLoginSession ends one of a user's sessions by id.
func (s *Store) DeleteLoginSession(ctx context.Context, userID, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM user_sessions WHERE user_id = ? AND id = ?`, userID, id)
	return mustAffect(res, err, domain.CodeNotFound, "no login session %q", id)
}

// DeleteUserSessions ends every session of a user except the one whose
// token hash is keep (nil ends all), and returns how many ended.
func (s *Store) DeleteUserSessions(ctx context.Context, userID string, keep []byte) (int, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM user_sessions WHERE user_id = ? AND token_hash <> ?`, userID, append([]byte{}, keep...))
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// SetPassword replaces a user's password hash and ends all their sessions;
// when sess is not nil it opens that one instead, in the same transaction.
func (s *Store) SetPassword(ctx context.Context, userID, passwordHash string, sess *Session) error {
	return s.tx(ctx, func(tx *sql.Tx) error { return setPassword(ctx, tx, userID, passwordHash, sess, s.millis()) })
}

func setPassword(ctx context.Context, tx *sql.Tx, userID, passwordHash string, sess *Session, now int64) error {
	res, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE id = ?`, passwordHash, userID)
	if err := mustAffect(res, err, domain.CodeNotFound, "no user with id %q", userID); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM user_sessions WHERE user_id = ?`, userID); err != nil {
		return err
	}
	if sess != nil {
		return insertSession(ctx, tx, userID, *sess, now)
	}
	return nil
}

// PasswordReset is an owner-issued, single-use link to set a new password.
type PasswordReset struct {
	TokenHash []byte
	UserID    string
	Email     string // filled by lookups
	CreatedBy string
	ExpiresAt time.Time
}

// CreatePasswordReset stores a reset; earlier unused resets of the same
// user stop working, so only the newest link does.
func (s *Store) CreatePasswordReset(ctx context.Context, r PasswordReset) error {
	now := s.millis()
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE password_resets SET used_at = ? WHERE user_id = ? AND used_at IS NULL`, now, r.UserID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO password_resets (token_hash, user_id, created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
			r.TokenHash, r.UserID, r.CreatedBy, now, r.ExpiresAt.UnixMilli())
		return err
	})
}

// Codes of a token link (invite or password reset) that cannot be used.
const (
	linkUnknown = "unknown"
	linkExpired = "expired"
	linkUsed    = "used"
	linkRevoked = "revoked"
)

func linkError(code, state, what string) error {
	switch state {
	case linkExpired:
		return domain.Errorf(code, "this %s link has expired; ask for a new one", what)
	case linkUsed:
		return domain.Errorf(code, "this %s link was already used", what)
	case linkRevoked:
		return domain.Errorf(code, "this %s link was revoked", what)
	}
	return domain.Errorf(code, "this %s link is not known", what)
}

// PasswordResetByToken finds an open reset. Otherwise it fails with
// password_reset_invalid, saying whether the link expired, was used or is
// unknown.
func (s *Store) PasswordResetByToken(ctx context.Context, tokenHash []byte) (PasswordReset, error) {
	return passwordReset(ctx, s.db.QueryRowContext, tokenHash, s.millis())
}

func passwordReset(ctx context.Context, query func(context.Context, string, ...any) *sql.Row, tokenHash []byte, now int64) (PasswordReset, error) {
	var r PasswordReset
	var exp int64
	var used sql.NullInt64
	err := query(ctx, `SELECT r.user_id, u.email, r.created_by, r.expires_at, r.used_at
		FROM password_resets r JOIN users u ON u.id = r.user_id WHERE r.token_hash = ?`, tokenHash).Scan(&r.UserID, &r.Email, &r.CreatedBy, &exp, &used)
	r.TokenHash, r.ExpiresAt = tokenHash, msToTime(exp)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return r, linkError(domain.CodePasswordResetInvalid, linkUnknown, "password reset")
	case err != nil:
		return r, err
	case used.Valid:
		return r, linkError(domain.CodePasswordResetInvalid, linkUsed, "password reset")
	case exp <= now:
		return r, linkError(domain.CodePasswordResetInvalid, linkExpired, "password reset")
	}
	return r, nil
}

// UsePasswordReset sets a new password through an open reset, ends every
// session of the user and opens sess, in one transaction; the link then
// stops working.
func (s *Store) UsePasswordReset(ctx context.Context, tokenHash []byte, passwordHash string, sess Session) (PasswordReset, error) {
	var r PasswordReset
	now := s.millis()
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if r, err = passwordReset(ctx, tx.QueryRowContext, tokenHash, now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE password_resets SET used_at = ? WHERE user_id = ? AND used_at IS NULL`, now, r.UserID); err != nil {
			return err
		}
		return setPassword(ctx, tx, r.UserID, passwordHash, &sess, now)
	})
	return r, err
}

// InstanceSettings are the instance's team settings.
type InstanceSettings struct {
	// InvitePolicy is "owners" (only owners invite) or "members".
	InvitePolicy string
	// AllowedEmailDomains limits who can be invited; empty allows any.
	AllowedEmailDomains []string
	// SessionTTL is how long a sign-in lasts.
	SessionTTL time.Duration
	// IdleTimeout ends a sign-in unused this long; 0 turns it off.
	IdleTimeout time.Duration
}

// DefaultInstanceSettings apply until an owner changes them.
var DefaultInstanceSettings = InstanceSettings{InvitePolicy: "owners", SessionTTL: 7 * 24 * time.Hour}

// GetInstanceSettings reads the settings (the defaults when never set).
func (s *Store) GetInstanceSettings(ctx context.Context) (InstanceSettings, error) {
	var st InstanceSettings
	var domains string
	var ttl, idle int64
	err := s.db.QueryRowContext(ctx, `SELECT invite_policy, allowed_email_domains, session_ttl_seconds, idle_timeout_seconds
		FROM instance_settings WHERE id = 1`).Scan(&st.InvitePolicy, &domains, &ttl, &idle)
	if errors.Is(err, sql.ErrNoRows) {
		return DefaultInstanceSettings, nil
	}
	if domains != "" {
		st.AllowedEmailDomains = strings.Split(domains, ",")
	}
	st.SessionTTL, st.IdleTimeout = time.Duration(ttl)*time.Second, time.Duration(idle)*time.Second
	return st, err
}

// SetInstanceSettings replaces the settings.
func (s *Store) SetInstanceSettings(ctx context.Context, st InstanceSettings) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO instance_settings (id, invite_policy, allowed_email_domains, session_ttl_seconds, idle_timeout_seconds)
		VALUES (1, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET invite_policy = excluded.invite_policy,
		allowed_email_domains = excluded.allowed_email_domains, session_ttl_seconds = excluded.session_ttl_seconds,
		idle_timeout_seconds = excluded.idle_timeout_seconds`,
		st.InvitePolicy, strings.Join(st.AllowedEmailDomains, ","), int64(st.SessionTTL/time.Second), int64(st.IdleTimeout/time.Second))
	return err
}

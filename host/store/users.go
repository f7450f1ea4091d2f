package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
	"unicode/utf8"

	"github.com/agent-vault/agent-vault/host/domain"
)

// User is a person who signs in with an email and password.
type User struct {
	ID           string
	Email        string
	PasswordHash string
	Role         domain.InstanceRole
	CreatedAt    time.Time
	// LastLoginAt is when the user last signed in; nil if never.
	LastLoginAt *time.Time
}

// Session is a signed-in user's session token (stored as a hash), with
// where it was opened from.
type Session struct {
	TokenHash  []byte
	ExpiresAt  time.Time
	ClientAddr string
	UserAgent  string
}

const userCols = `id, email, password_hash, role, created_at, last_login_at`

func scanUser(row interface{ Scan(...any) error }) (User, error) {
	var u User
	var created int64
	var role string
	var last sql.NullInt64
	err := row.Scan(&u.ID, &u.Email, &u.PasswordHash, &role, &created, &last)
	u.Role = domain.InstanceRole(role)
	u.CreatedAt = msToTime(created)
	u.LastLoginAt = nullMsToTime(last)
	return u, err
}

// CountUsers returns the number of users.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n)
	return n, err
}

// RegisterOwner creates the first user as instance owner, makes them admin of
// the default vault and opens their session, in one transaction. It fails
// with already_initialized when any user exists.
func (s *Store) RegisterOwner(ctx context.Context, u User, sess Session) (User, error) {
	u.ID, u.Role = NewID(), domain.InstanceOwner
	now := s.millis()
	u.CreatedAt = msToTime(now)
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return domain.Errorf(domain.CodeAlreadyInitialized, "this instance already has an owner; ask them for an invite")
		}
		if err := insertUser(ctx, tx, u, now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO vault_users (vault_id, user_id, role)
			SELECT id, ?, 'admin' FROM vaults WHERE name = ?`, u.ID, domain.DefaultVault); err != nil {
			return err
		}
		return insertSession(ctx, tx, u.ID, sess, now)
	})
	return u, err
}

func insertUser(ctx context.Context, tx *sql.Tx, u User, now int64) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO users (id, email, password_hash, role, created_at) VALUES (?, ?, ?, ?, ?)`,
		u.ID, u.Email, u.PasswordHash, string(u.Role), now)
	if isUnique(err) {
		return domain.Errorf(domain.CodeAlreadyExists, "a user with email %q already exists", u.Email)
	}
	return err
}

// insertSession opens a login session; opening one is signing in, so it
// also records the user's last login.
func insertSession(ctx context.Context, tx *sql.Tx, userID string, sess Session, now int64) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO user_sessions (token_hash, user_id, created_at, expires_at, id, last_used_at, client_addr, user_agent)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		sess.TokenHash, userID, now, sess.ExpiresAt.UnixMilli(), NewID(), now, truncate(sess.ClientAddr, 128), truncate(sess.UserAgent, 512))
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE users SET last_login_at = ? WHERE id = ?`, now, userID)
	return err
}

// truncate keeps at most n bytes of s, cut at a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// UserByEmail finds a user by email (case-insensitive).
func (s *Store) UserByEmail(ctx context.Context, email string) (User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE email = ?`, email))
	if errors.Is(err, sql.ErrNoRows) {
		return u, notFound(domain.CodeNotFound, "no user with email %q", email)
	}
	return u, err
}

// UserByID finds a user by id.
func (s *Store) UserByID(ctx context.Context, id string) (User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return u, notFound(domain.CodeNotFound, "no user with id %q", id)
	}
	return u, err
}

// ListUsers returns every user, oldest first.
func (s *Store) ListUsers(ctx context.Context) ([]User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+userCols+` FROM users ORDER BY created_at, email`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// SetUserRole changes a user's instance role. The last owner cannot be
// demoted (last_owner).
func (s *Store) SetUserRole(ctx context.Context, id string, role domain.InstanceRole) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := guardLastOwner(ctx, tx, id, role != domain.InstanceOwner); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE users SET role = ? WHERE id = ?`, string(role), id)
		return mustAffect(res, err, domain.CodeNotFound, "no user with id %q", id)
	})
}

// DeleteUser removes a user, their sessions, grants and the scoped
// sessions they minted. The last owner cannot be deleted (last_owner).
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := guardLastOwner(ctx, tx, id, true); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, id)
		if err := mustAffect(res, err, domain.CodeNotFound, "no user with id %q", id); err != nil {
			return err
		}
		return deleteCreatedSessions(ctx, tx, PrincipalUser, id)
	})
}

// guardLastOwner refuses when id is the only owner and the change would
// take that away.
func guardLastOwner(ctx context.Context, tx *sql.Tx, id string, removing bool) error {
	if !removing {
		return nil
	}
	var isOwner, owners int
	err := tx.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM users WHERE id = ? AND role = 'owner'),
		(SELECT COUNT(*) FROM users WHERE role = 'owner')`, id).Scan(&isOwner, &owners)
	if err != nil {
		return err
	}
	if isOwner == 1 && owners == 1 {
		return domain.Errorf(domain.CodeLastOwner, "the instance must keep at least one owner")
	}
	return nil
}

func mustAffect(res sql.Result, err error, code, format string, args ...any) error {
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound(code, format, args...)
	}
	return nil
}

// CreateSession opens a session for a user.
func (s *Store) CreateSession(ctx context.Context, userID string, sess Session) error {
	return s.tx(ctx, func(tx *sql.Tx) error { return insertSession(ctx, tx, userID, sess, s.millis()) })
}

// UserBySession returns the user owning a live session token hash and the
// session. A session is live until it expires and, when the instance sets
// an idle timeout, while it was used within that timeout; the returned
// ExpiresAt is the earlier of the two ends, so caches trust it no longer.
func (s *Store) UserBySession(ctx context.Context, tokenHash []byte) (User, LoginSession, error) {
	now := s.millis()
	row := s.db.QueryRowContext(ctx, `SELECT u.id, u.email, u.password_hash, u.role, u.created_at, u.last_login_at,
			s.id, s.created_at, s.expires_at, s.last_used_at, s.client_addr, s.user_agent, COALESCE(st.idle_timeout_seconds, 0)
		FROM user_sessions s JOIN users u ON u.id = s.user_id
		LEFT JOIN instance_settings st ON st.id = 1
		WHERE s.token_hash = ? AND s.expires_at > ?`, tokenHash, now)
	var u User
	var ls LoginSession
	var created, sCreated, sExp, sUsed, idle int64
	var role string
	var last sql.NullInt64
	err := row.Scan(&u.ID, &u.Email, &u.PasswordHash, &role, &created, &last,
		&ls.ID, &sCreated, &sExp, &sUsed, &ls.ClientAddr, &ls.UserAgent, &idle)
	if errors.Is(err, sql.ErrNoRows) {
		return u, ls, notFound(domain.CodeUnauthorized, "session expired or unknown")
	}
	if err != nil {
		return u, ls, err
	}
	if idle > 0 {
		if sUsed+idle*1000 <= now {
			return u, ls, domain.Errorf(domain.CodeUnauthorized, "session ended after %d seconds without use", idle)
		}
		sExp = min(sExp, sUsed+idle*1000)
	}
	u.Role, u.CreatedAt, u.LastLoginAt = domain.InstanceRole(role), msToTime(created), nullMsToTime(last)
	ls.UserID, ls.CreatedAt, ls.ExpiresAt, ls.LastUsedAt = u.ID, msToTime(sCreated), msToTime(sExp), msToTime(sUsed)
	return u, ls, nil
}

// DeleteSession ends a session.
func (s *Store) DeleteSession(ctx context.Context, tokenHash []byte) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM user_sessions WHERE token_hash = ?`, tokenHash)
	return err
}

// Invite lets a new user join the instance.
type Invite struct {
	ID        string
	TokenHash []byte
	Email     string
	Role      domain.InstanceRole
	CreatedBy string
	// CreatedByEmail is filled by the lookups ("" when that user is gone).
	CreatedByEmail string
	CreatedAt      time.Time
	ExpiresAt      time.Time
	// Vaults are the roles the new user receives on joining.
	Vaults []InviteVault
}

// InviteVault is a vault role an invite hands out.
type InviteVault struct {
	VaultID   string
	VaultName string // filled by the lookups
	Role      domain.VaultRole
}

// CreateInvite stores an invite with its vault roles and returns its id.
func (s *Store) CreateInvite(ctx context.Context, inv Invite) (string, error) {
	inv.ID = NewID()
	err := s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO invites (id, token_hash, email, role, created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			inv.ID, inv.TokenHash, inv.Email, string(inv.Role), sql.NullString{String: inv.CreatedBy, Valid: inv.CreatedBy != ""}, s.millis(), inv.ExpiresAt.UnixMilli())
		if err != nil {
			return err
		}
		for _, v := range inv.Vaults {
			if _, err := tx.ExecContext(ctx, `INSERT INTO invite_vaults (invite_id, vault_id, role) VALUES (?, ?, ?)
				ON CONFLICT (invite_id, vault_id) DO UPDATE SET role = excluded.role`, inv.ID, v.VaultID, string(v.Role)); err != nil {
				return err
			}
		}
		return nil
	})
	return inv.ID, err
}

const inviteSelect = `SELECT i.id, i.token_hash, i.email, i.role, COALESCE(i.created_by, ''), COALESCE(u.email, ''), i.created_at, i.expires_at,
	i.accepted_at, i.revoked_at FROM invites i LEFT JOIN users u ON u.id = i.created_by `

func scanInvite(row interface{ Scan(...any) error }) (inv Invite, state string, err error) {
	var role string
	var created, exp int64
	var accepted, revoked sql.NullInt64
	err = row.Scan(&inv.ID, &inv.TokenHash, &inv.Email, &role, &inv.CreatedBy, &inv.CreatedByEmail, &created, &exp, &accepted, &revoked)
	inv.Role, inv.CreatedAt, inv.ExpiresAt = domain.InstanceRole(role), msToTime(created), msToTime(exp)
	switch {
	case accepted.Valid:
		state = linkUsed
	case revoked.Valid:
		state = linkRevoked
	}
	return inv, state, err
}

func inviteVaults(ctx context.Context, query func(context.Context, string, ...any) (*sql.Rows, error), id string) ([]InviteVault, error) {
	rows, err := query(ctx, `SELECT v.id, v.name, iv.role FROM invite_vaults iv JOIN vaults v ON v.id = iv.vault_id
		WHERE iv.invite_id = ? ORDER BY v.name`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []InviteVault
	for rows.Next() {
		var v InviteVault
		var role string
		if err := rows.Scan(&v.VaultID, &v.VaultName, &role); err != nil {
			return nil, err
		}
		v.Role = domain.VaultRole(role)
		out = append(out, v)
	}
	return out, rows.Err()
}

// openInvite finds the invite a token opens, failing with invite_invalid
// that says whether it is unknown, expired, used or revoked.
func openInvite(ctx context.Context, q querier, tokenHash []byte, now int64) (Invite, error) {
	inv, state, err := scanInvite(q.QueryRowContext(ctx, inviteSelect+`WHERE i.token_hash = ?`, tokenHash))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return inv, linkError(domain.CodeInviteInvalid, linkUnknown, "invite")
	case err != nil:
		return inv, err
	case state != "":
		return inv, linkError(domain.CodeInviteInvalid, state, "invite")
	case inv.ExpiresAt.UnixMilli() <= now:
		return inv, linkError(domain.CodeInviteInvalid, linkExpired, "invite")
	}
	inv.Vaults, err = inviteVaults(ctx, q.QueryContext, inv.ID)
	return inv, err
}

// querier is what *sql.DB and *sql.Tx share.
type querier interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}

// InviteByToken finds the open invite a token belongs to, with its vault
// roles and who sent it (for the page the invitee sees).
func (s *Store) InviteByToken(ctx context.Context, tokenHash []byte) (Invite, error) {
	return openInvite(ctx, s.db, tokenHash, s.millis())
}

// ListInvites lists the invites not yet accepted or revoked, expired ones
// included (they can be re-sent), newest first.
func (s *Store) ListInvites(ctx context.Context) ([]Invite, error) {
	rows, err := s.db.QueryContext(ctx, inviteSelect+`WHERE i.accepted_at IS NULL AND i.revoked_at IS NULL ORDER BY i.created_at DESC, i.id`)
	if err != nil {
		return nil, err
	}
	var out []Invite
	for rows.Next() {
		inv, _, err := scanInvite(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, inv)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		if out[i].Vaults, err = inviteVaults(ctx, s.db.QueryContext, out[i].ID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// InviteByID finds an invite that was not accepted or revoked.
func (s *Store) InviteByID(ctx context.Context, id string) (Invite, error) {
	inv, _, err := scanInvite(s.db.QueryRowContext(ctx, inviteSelect+`WHERE i.id = ? AND i.accepted_at IS NULL AND i.revoked_at IS NULL`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return inv, notFound(domain.CodeNotFound, "no pending invite %q", id)
	}
	if err != nil {
		return inv, err
	}
	inv.Vaults, err = inviteVaults(ctx, s.db.QueryContext, inv.ID)
	return inv, err
}

// RevokeInvite stops a pending invite from working.
func (s *Store) RevokeInvite(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE invites SET revoked_at = ? WHERE id = ? AND accepted_at IS NULL AND revoked_at IS NULL`, s.millis(), id)
	return mustAffect(res, err, domain.CodeNotFound, "no pending invite %q", id)
}

// RenewInvite gives a pending invite a new token and expiry: the old link
// stops working, the new one is sent instead.
func (s *Store) RenewInvite(ctx context.Context, id string, tokenHash []byte, expiresAt time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE invites SET token_hash = ?, expires_at = ? WHERE id = ? AND accepted_at IS NULL AND revoked_at IS NULL`,
		tokenHash, expiresAt.UnixMilli(), id)
	return mustAffect(res, err, domain.CodeNotFound, "no pending invite %q", id)
}

// CheckInvite fails with invite_invalid when no open invite has tokenHash,
// or when the invite is for another email than email. AcceptInvite checks
// the same in its transaction; this is the cheap check before any
// password is hashed.
func (s *Store) CheckInvite(ctx context.Context, tokenHash []byte, email string) error {
	inv, err := s.InviteByToken(ctx, tokenHash)
	if err != nil {
		return err
	}
	if inv.Email != "" && !equalFoldASCII(inv.Email, email) {
		return domain.FieldError(domain.CodeInviteInvalid, "email", "this invite is for a different email address")
	}
	return nil
}

// AcceptInvite creates the invited user with the invite's vault roles and
// opens their session in one transaction; the invite can be used once.
// When the invite names an email, u.Email must match it.
func (s *Store) AcceptInvite(ctx context.Context, tokenHash []byte, u User, sess Session) (User, error) {
	now := s.millis()
	u.ID, u.CreatedAt = NewID(), msToTime(now)
	err := s.tx(ctx, func(tx *sql.Tx) error {
		inv, err := openInvite(ctx, tx, tokenHash, now)
		if err != nil {
			return err
		}
		if inv.Email != "" && !equalFoldASCII(inv.Email, u.Email) {
			return domain.FieldError(domain.CodeInviteInvalid, "email", "this invite is for a different email address")
		}
		u.Role = inv.Role
		if err := insertUser(ctx, tx, u, now); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE invites SET accepted_at = ? WHERE id = ? AND accepted_at IS NULL`, now, inv.ID)
		if err := mustAffect(res, err, domain.CodeInviteInvalid, "this invite link was already used"); err != nil {
			return err
		}
		for _, v := range inv.Vaults {
			if _, err := tx.ExecContext(ctx, `INSERT INTO vault_users (vault_id, user_id, role) VALUES (?, ?, ?)`, v.VaultID, u.ID, string(v.Role)); err != nil {
				return err
			}
		}
		return insertSession(ctx, tx, u.ID, sess, now)
	})
	return u, err
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

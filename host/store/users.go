package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/agent-vault/agent-vault/host/domain"
)

// User is a person who signs in with an email and password.
type User struct {
	ID           string
	Email        string
	PasswordHash string
	Role         domain.InstanceRole
	CreatedAt    time.Time
}

// Session is a signed-in user's session token (stored as a hash).
type Session struct {
	TokenHash []byte
	ExpiresAt time.Time
}

const userCols = `id, email, password_hash, role, created_at`

func scanUser(row interface{ Scan(...any) error }) (User, error) {
	var u User
	var created int64
	var role string
	err := row.Scan(&u.ID, &u.Email, &u.PasswordHash, &role, &created)
	u.Role = domain.InstanceRole(role)
	u.CreatedAt = msToTime(created)
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
	_, err := tx.ExecContext(ctx, `INSERT INTO users (`+userCols+`) VALUES (?, ?, ?, ?, ?)`,
		u.ID, u.Email, u.PasswordHash, string(u.Role), now)
	if isUnique(err) {
		return domain.Errorf(domain.CodeAlreadyExists, "a user with email %q already exists", u.Email)
	}
	return err
}

func insertSession(ctx context.Context, tx *sql.Tx, userID string, sess Session, now int64) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO user_sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
		sess.TokenHash, userID, now, sess.ExpiresAt.UnixMilli())
	return err
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

// UserBySession returns the user owning an unexpired session token hash.
func (s *Store) UserBySession(ctx context.Context, tokenHash []byte) (User, time.Time, error) {
	var exp int64
	row := s.db.QueryRowContext(ctx, `SELECT u.id, u.email, u.password_hash, u.role, u.created_at, s.expires_at
		FROM user_sessions s JOIN users u ON u.id = s.user_id
		WHERE s.token_hash = ? AND s.expires_at > ?`, tokenHash, s.millis())
	var u User
	var created int64
	var role string
	err := row.Scan(&u.ID, &u.Email, &u.PasswordHash, &role, &created, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return u, time.Time{}, notFound(domain.CodeUnauthorized, "session expired or unknown")
	}
	u.Role, u.CreatedAt = domain.InstanceRole(role), msToTime(created)
	return u, msToTime(exp), err
}

// DeleteSession ends a session.
func (s *Store) DeleteSession(ctx context.Context, tokenHash []byte) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM user_sessions WHERE token_hash = ?`, tokenHash)
	return err
}

// Invite lets a new user join the instance.
type Invite struct {
	TokenHash []byte
	Email     string
	Role      domain.InstanceRole
	CreatedBy string
	ExpiresAt time.Time
}

// CreateInvite stores an invite.
func (s *Store) CreateInvite(ctx context.Context, inv Invite) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO invites (token_hash, email, role, created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
		inv.TokenHash, inv.Email, string(inv.Role), sql.NullString{String: inv.CreatedBy, Valid: inv.CreatedBy != ""}, s.millis(), inv.ExpiresAt.UnixMilli())
	return err
}

// CheckInvite fails with invite_invalid when no open invite has tokenHash,
// or when the invite is for another email than email. AcceptInvite checks
// the same in its transaction; this is the cheap check before any
// password is hashed.
func (s *Store) CheckInvite(ctx context.Context, tokenHash []byte, email string) error {
	var want string
	err := s.db.QueryRowContext(ctx, `SELECT email FROM invites
		WHERE token_hash = ? AND accepted_at IS NULL AND expires_at > ?`, tokenHash, s.millis()).Scan(&want)
	if errors.Is(err, sql.ErrNoRows) {
		return domain.Errorf(domain.CodeInviteInvalid, "the invite is unknown, expired or already used")
	}
	if err != nil {
		return err
	}
	if want != "" && !equalFoldASCII(want, email) {
		return domain.FieldError(domain.CodeInviteInvalid, "email", "this invite is for a different email address")
	}
	return nil
}

// AcceptInvite creates the invited user and opens their session in one
// transaction; the invite can be used once. When the invite names an email,
// u.Email must match it.
func (s *Store) AcceptInvite(ctx context.Context, tokenHash []byte, u User, sess Session) (User, error) {
	now := s.millis()
	u.ID, u.CreatedAt = NewID(), msToTime(now)
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var email, role string
		err := tx.QueryRowContext(ctx, `SELECT email, role FROM invites
			WHERE token_hash = ? AND accepted_at IS NULL AND expires_at > ?`, tokenHash, now).Scan(&email, &role)
		if errors.Is(err, sql.ErrNoRows) {
			return domain.Errorf(domain.CodeInviteInvalid, "the invite is unknown, expired or already used")
		}
		if err != nil {
			return err
		}
		if email != "" && !equalFoldASCII(email, u.Email) {
			return domain.FieldError(domain.CodeInviteInvalid, "email", "this invite is for a different email address")
		}
		u.Role = domain.InstanceRole(role)
		if err := insertUser(ctx, tx, u, now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE invites SET accepted_at = ? WHERE token_hash = ?`, now, tokenHash); err != nil {
			return err
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

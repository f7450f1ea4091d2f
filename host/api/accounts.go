package api

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/agent-vault/agent-vault/host/authz"
	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/seal"
	"github.com/agent-vault/agent-vault/host/store"
	"github.com/danielgtaylor/huma/v2"
)

// passwordResetTTL is how long an owner-issued reset link works.
const passwordResetTTL = time.Hour

type ChangePasswordInput struct {
	Body struct {
		CurrentPassword string `json:"current_password" minLength:"1" maxLength:"256" doc:"The password now"`
		NewPassword     string `json:"new_password" minLength:"8" maxLength:"256" doc:"At least 8 characters"`
	}
}

type DeleteMyAccountInput struct {
	Body struct {
		Password string `json:"password" minLength:"1" maxLength:"256" doc:"The account's password, to confirm"`
	}
}

// LoginSessionView is a sign-in as its owner sees it; never its token.
type LoginSessionView struct {
	ID            string    `json:"id"`
	CreatedAt     time.Time `json:"created_at"`
	LastUsedAt    time.Time `json:"last_used_at"`
	ExpiresAt     time.Time `json:"expires_at" doc:"When it ends unless used (idle timeout) or revoked"`
	ClientAddress string    `json:"client_address" doc:"The address it signed in from"`
	UserAgent     string    `json:"user_agent" doc:"The client it signed in with"`
	Current       bool      `json:"current" doc:"This is the session making the request"`
}

type ListLoginSessionsOutput struct {
	Body struct {
		Sessions []LoginSessionView `json:"sessions"`
	}
}

type LoginSessionIDInput struct {
	ID string `path:"id" maxLength:"64"`
}

type RevokedCountOutput struct {
	Body struct {
		Revoked int `json:"revoked" doc:"How many sessions ended"`
	}
}

type UserSessionInput struct {
	ID        string `path:"id" maxLength:"64"`
	SessionID string `path:"session" maxLength:"64"`
}

type PasswordResetOutput struct {
	Body struct {
		Token     string    `json:"token" doc:"Reset token (av_rst_…), shown once; single use"`
		ResetURL  string    `json:"reset_url" doc:"Link to give the user: it opens a page to choose a new password"`
		ExpiresAt time.Time `json:"expires_at"`
		Emailed   bool      `json:"emailed" doc:"Whether the link was also emailed to the user (needs SMTP configured)"`
	}
}

type ResetTokenInput struct {
	Token string `path:"token" maxLength:"128"`
}

type GetPasswordResetOutput struct {
	Body struct {
		Email     string    `json:"email" doc:"Whose password the link resets"`
		ExpiresAt time.Time `json:"expires_at"`
	}
}

type CompletePasswordResetInput struct {
	Token string `path:"token" maxLength:"128"`
	Body  struct {
		Password string `json:"password" minLength:"8" maxLength:"256" doc:"At least 8 characters"`
	}
}

// InstanceSettingsBody is the instance's team settings.
type InstanceSettingsBody struct {
	InvitePolicy        string   `json:"invite_policy" enum:"owners,members" doc:"Who may invite people: owners only, or members too"`
	AllowedEmailDomains []string `json:"allowed_email_domains" maxItems:"100" doc:"Only addresses at these domains can be invited (empty: any); invites must then name an email"`
	SessionTTLSeconds   int      `json:"session_ttl_seconds" minimum:"300" maximum:"31536000" doc:"How long a sign-in lasts"`
	IdleTimeoutSeconds  int      `json:"idle_timeout_seconds" minimum:"0" maximum:"31536000" doc:"End a sign-in unused this long; 0 turns the idle timeout off, otherwise at least 300"`
}

type InstanceSettingsOutput struct {
	Body InstanceSettingsBody
}

type UpdateInstanceSettingsInput struct {
	Body struct {
		InvitePolicy        *string   `json:"invite_policy,omitempty" enum:"owners,members" doc:"Who may invite people"`
		AllowedEmailDomains *[]string `json:"allowed_email_domains,omitempty" maxItems:"100" doc:"Allowed email domains (empty list: any)"`
		SessionTTLSeconds   *int      `json:"session_ttl_seconds,omitempty" minimum:"300" maximum:"31536000" doc:"How long a sign-in lasts"`
		IdleTimeoutSeconds  *int      `json:"idle_timeout_seconds,omitempty" minimum:"0" maximum:"31536000" doc:"End a sign-in unused this long; 0: off"`
	}
}

func (s *server) registerAccounts(api huma.API) {
	huma.Register(api, op("change-password", http.MethodPost, "/v1/auth/password", "Change your password; every session of yours ends and a new one opens", "account",
		http.StatusTooManyRequests, http.StatusServiceUnavailable),
		func(ctx context.Context, in *ChangePasswordInput) (*SessionOutput, error) {
			c, err := s.access(ctx, "")
			if err != nil {
				return nil, err
			}
			if _, err := s.login(ctx, emailPassword{Email: c.Actor.Name, Password: in.Body.CurrentPassword}); err != nil {
				return nil, s.refusal(ctx, err)
			}
			hash, err := s.hashPassword(ctx, in.Body.NewPassword)
			if err != nil {
				return nil, err
			}
			sess, out, err := s.newSession(ctx)
			if err != nil {
				return nil, err
			}
			if err := s.identitiesChanged(ctx, s.Store.SetPassword(ctx, c.Actor.ID, hash, &sess)); err != nil {
				return nil, err
			}
			noteSecret(ctx, "password")
			s.Logger.InfoContext(ctx, "password changed; the user's other sessions ended", "user", c.Actor.Name)
			return out, nil
		})

	huma.Register(api, op("delete-my-account", http.MethodDelete, "/v1/auth/me", "Delete your own account", "account",
		http.StatusConflict, http.StatusTooManyRequests, http.StatusServiceUnavailable),
		func(ctx context.Context, in *DeleteMyAccountInput) (*struct{}, error) {
			c, err := s.access(ctx, "")
			if err != nil {
				return nil, err
			}
			if _, err := s.login(ctx, emailPassword{Email: c.Actor.Name, Password: in.Body.Password}); err != nil {
				return nil, s.refusal(ctx, err)
			}
			if err := s.identitiesChanged(ctx, s.Store.DeleteUser(ctx, c.Actor.ID)); err != nil {
				return nil, err
			}
			noteChange(ctx, "role", string(c.Actor.Role), nil)
			s.Logger.InfoContext(ctx, "user deleted their account", "user", c.Actor.Name)
			return nil, nil
		})

	huma.Register(api, op("list-login-sessions", http.MethodGet, "/v1/auth/sessions", "List your sign-ins", "account"),
		func(ctx context.Context, in *struct{}) (*ListLoginSessionsOutput, error) {
			c, err := s.access(ctx, "")
			if err != nil {
				return nil, err
			}
			return s.loginSessions(ctx, c.Actor.ID, c.Actor.TokenHash)
		})

	huma.Register(api, op("revoke-login-session", http.MethodDelete, "/v1/auth/sessions/{id}", "End one of your sign-ins", "account", http.StatusNotFound),
		func(ctx context.Context, in *LoginSessionIDInput) (*struct{}, error) {
			c, err := s.access(ctx, "")
			if err != nil {
				return nil, err
			}
			return nil, s.identitiesChanged(ctx, s.Store.DeleteLoginSession(ctx, c.Actor.ID, in.ID))
		})

	huma.Register(api, op("revoke-other-login-sessions", http.MethodPost, "/v1/auth/sessions/revoke-others", "End all your sign-ins but this one", "account"),
		func(ctx context.Context, in *struct{}) (*RevokedCountOutput, error) {
			c, err := s.access(ctx, "")
			if err != nil {
				return nil, err
			}
			n, err := s.Store.DeleteUserSessions(ctx, c.Actor.ID, c.Actor.TokenHash)
			if err := s.identitiesChanged(ctx, err); err != nil {
				return nil, err
			}
			noteEnded(ctx, n)
			out := &RevokedCountOutput{}
			out.Body.Revoked = n
			return out, nil
		})

	huma.Register(api, op("list-user-sessions", http.MethodGet, "/v1/users/{id}/sessions", "List a user's sign-ins", "users", http.StatusNotFound),
		func(ctx context.Context, in *UserIDInput) (*ListLoginSessionsOutput, error) {
			c, err := s.access(ctx, "")
			if err != nil {
				return nil, err
			}
			if _, err := s.Store.UserByID(ctx, in.ID); err != nil {
				return nil, s.problem(ctx, err)
			}
			return s.loginSessions(ctx, in.ID, c.Actor.TokenHash)
		})

	huma.Register(api, op("revoke-user-session", http.MethodDelete, "/v1/users/{id}/sessions/{session}", "End one of a user's sign-ins", "users", http.StatusNotFound),
		func(ctx context.Context, in *UserSessionInput) (*struct{}, error) {
			if _, err := s.access(ctx, ""); err != nil {
				return nil, err
			}
			return nil, s.identitiesChanged(ctx, s.Store.DeleteLoginSession(ctx, in.ID, in.SessionID))
		})

	huma.Register(api, op("revoke-user-sessions", http.MethodDelete, "/v1/users/{id}/sessions", "End every sign-in of a user", "users", http.StatusNotFound),
		func(ctx context.Context, in *UserIDInput) (*RevokedCountOutput, error) {
			if _, err := s.access(ctx, ""); err != nil {
				return nil, err
			}
			if _, err := s.Store.UserByID(ctx, in.ID); err != nil {
				return nil, s.problem(ctx, err)
			}
			n, err := s.Store.DeleteUserSessions(ctx, in.ID, nil)
			if err := s.identitiesChanged(ctx, err); err != nil {
				return nil, err
			}
			noteEnded(ctx, n)
			out := &RevokedCountOutput{}
			out.Body.Revoked = n
			return out, nil
		})

	huma.Register(api, created(op("create-password-reset", http.MethodPost, "/v1/users/{id}/password-reset", "Issue a single-use link that sets a user's password", "users", http.StatusNotFound)),
		func(ctx context.Context, in *UserIDInput) (*PasswordResetOutput, error) {
			c, err := s.access(ctx, "")
			if err != nil {
				return nil, err
			}
			u, err := s.Store.UserByID(ctx, in.ID)
			if err != nil {
				return nil, s.problem(ctx, err)
			}
			noteTarget(ctx, "users/"+u.Email)
			token, hash := seal.NewToken(seal.PrefixReset)
			exp := s.Now().Add(passwordResetTTL).UTC().Truncate(time.Second)
			if err := s.Store.CreatePasswordReset(ctx, store.PasswordReset{TokenHash: hash, UserID: u.ID, CreatedBy: c.Actor.ID, ExpiresAt: exp}); err != nil {
				return nil, s.problem(ctx, err)
			}
			noteChange(ctx, "reset_link_expires_at", nil, exp)
			out := &PasswordResetOutput{}
			out.Body.Token, out.Body.ExpiresAt = token, exp
			out.Body.ResetURL = s.PublicURL + "/reset-password/" + token
			out.Body.Emailed = s.mail(ctx, u.Email, "Set a new Agent Vault password",
				fmt.Sprintf("%s issued a link for you to choose a new password for %s on Agent Vault.\n\nOpen it within the hour; it works once:\n%s\n",
					c.Actor.Name, u.Email, out.Body.ResetURL))
			s.Logger.InfoContext(ctx, "password reset issued", "user", u.Email, "by", c.Actor.Name)
			return out, nil
		})

	huma.Register(api, op("get-password-reset", http.MethodGet, "/v1/password-resets/{token}", "Whose password a reset link sets", "account", http.StatusBadRequest),
		func(ctx context.Context, in *ResetTokenInput) (*GetPasswordResetOutput, error) {
			if _, err := s.access(ctx, ""); err != nil {
				return nil, err
			}
			r, err := s.Store.PasswordResetByToken(ctx, seal.HashToken(in.Token))
			if err != nil {
				return nil, s.problem(ctx, err)
			}
			out := &GetPasswordResetOutput{}
			out.Body.Email, out.Body.ExpiresAt = r.Email, r.ExpiresAt
			return out, nil
		})

	huma.Register(api, op("complete-password-reset", http.MethodPost, "/v1/password-resets/{token}", "Set a new password with a reset link and sign in", "account",
		http.StatusBadRequest, http.StatusServiceUnavailable),
		func(ctx context.Context, in *CompletePasswordResetInput) (*SessionOutput, error) {
			if _, err := s.access(ctx, ""); err != nil {
				return nil, err
			}
			// A used or unknown link is refused before spending a hash.
			r, err := s.Store.PasswordResetByToken(ctx, seal.HashToken(in.Token))
			if err != nil {
				return nil, s.problem(ctx, err)
			}
			noteActor(ctx, authz.Actor{Kind: authz.User, ID: r.UserID, Name: r.Email})
			hash, err := s.hashPassword(ctx, in.Body.Password)
			if err != nil {
				return nil, err
			}
			sess, out, err := s.newSession(ctx)
			if err != nil {
				return nil, err
			}
			r, err = s.Store.UsePasswordReset(ctx, seal.HashToken(in.Token), hash, sess)
			if err := s.identitiesChanged(ctx, err); err != nil {
				return nil, err
			}
			noteSecret(ctx, "password")
			s.Logger.InfoContext(ctx, "password reset used; the user's other sessions ended", "user", r.Email)
			return out, nil
		})

	huma.Register(api, op("get-instance-settings", http.MethodGet, "/v1/instance/settings", "Show the instance's team settings", "instance"),
		func(ctx context.Context, in *struct{}) (*InstanceSettingsOutput, error) {
			if _, err := s.access(ctx, ""); err != nil {
				return nil, err
			}
			st, err := s.Store.GetInstanceSettings(ctx)
			if err != nil {
				return nil, s.problem(ctx, err)
			}
			return &InstanceSettingsOutput{Body: settingsBody(st)}, nil
		})

	huma.Register(api, op("update-instance-settings", http.MethodPatch, "/v1/instance/settings", "Change the instance's team settings", "instance"),
		func(ctx context.Context, in *UpdateInstanceSettingsInput) (*InstanceSettingsOutput, error) {
			if _, err := s.access(ctx, ""); err != nil {
				return nil, err
			}
			st, err := s.Store.GetInstanceSettings(ctx)
			if err != nil {
				return nil, s.problem(ctx, err)
			}
			b := in.Body
			if b.InvitePolicy != nil {
				st.InvitePolicy = *b.InvitePolicy
			}
			if b.AllowedEmailDomains != nil {
				st.AllowedEmailDomains = nil
				for _, d := range *b.AllowedEmailDomains {
					d = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(d), "@"))
					if !validDomain(d) {
						return nil, s.problem(ctx, domain.FieldError(domain.CodeInvalidInput, "allowed_email_domains", "%q is not a domain name", d))
					}
					st.AllowedEmailDomains = append(st.AllowedEmailDomains, d)
				}
			}
			if b.SessionTTLSeconds != nil {
				st.SessionTTL = time.Duration(*b.SessionTTLSeconds) * time.Second
			}
			if b.IdleTimeoutSeconds != nil {
				if n := *b.IdleTimeoutSeconds; n != 0 && n < 300 {
					return nil, s.problem(ctx, domain.FieldError(domain.CodeInvalidInput, "idle_timeout_seconds", "must be 0 (off) or at least 300"))
				}
				st.IdleTimeout = time.Duration(*b.IdleTimeoutSeconds) * time.Second
			}
			if before, err := s.Store.GetInstanceSettings(ctx); err == nil {
				noteDiff(ctx, "", settingsBody(before), settingsBody(st))
			}
			if err := s.identitiesChanged(ctx, s.Store.SetInstanceSettings(ctx, st)); err != nil {
				return nil, err
			}
			return &InstanceSettingsOutput{Body: settingsBody(st)}, nil
		})
}

func settingsBody(st store.InstanceSettings) InstanceSettingsBody {
	b := InstanceSettingsBody{InvitePolicy: st.InvitePolicy, AllowedEmailDomains: st.AllowedEmailDomains,
		SessionTTLSeconds: int(st.SessionTTL / time.Second), IdleTimeoutSeconds: int(st.IdleTimeout / time.Second)}
	if b.AllowedEmailDomains == nil {
		b.AllowedEmailDomains = []string{}
	}
	return b
}

// validDomain accepts host names of letters, digits, hyphens and dots.
func validDomain(d string) bool {
	if d == "" || len(d) > 253 || strings.HasPrefix(d, ".") || strings.HasSuffix(d, ".") || strings.Contains(d, "..") {
		return false
	}
	for _, r := range d {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// emailDomainAllowed reports whether email is at one of domains (any when
// domains is empty).
func emailDomainAllowed(email string, domains []string) bool {
	if len(domains) == 0 {
		return true
	}
	_, d, ok := strings.Cut(strings.ToLower(email), "@")
	if !ok {
		return false
	}
	for _, want := range domains {
		if d == want {
			return true
		}
	}
	return false
}

func (s *server) loginSessions(ctx context.Context, userID string, current []byte) (*ListLoginSessionsOutput, error) {
	list, err := s.Store.ListLoginSessions(ctx, userID)
	if err != nil {
		return nil, s.problem(ctx, err)
	}
	out := &ListLoginSessionsOutput{}
	out.Body.Sessions = make([]LoginSessionView, 0, len(list))
	for _, ls := range list {
		out.Body.Sessions = append(out.Body.Sessions, LoginSessionView{ID: ls.ID, CreatedAt: ls.CreatedAt, LastUsedAt: ls.LastUsedAt,
			ExpiresAt: ls.ExpiresAt, ClientAddress: ls.ClientAddr, UserAgent: ls.UserAgent, Current: bytes.Equal(ls.TokenHash, current)})
	}
	return out, nil
}

// hashPassword runs a password hash in the bounded pool.
func (s *server) hashPassword(ctx context.Context, password string) (string, error) {
	var hash string
	if err := s.Passwords.Do(ctx, func() (err error) {
		hash, err = seal.HashPassword(password)
		return err
	}); err != nil {
		return "", s.refusal(ctx, err)
	}
	return hash, nil
}

// mail sends a message when a mail sender is configured and reports
// whether it was sent. A failure is logged (never with the body, which
// carries a link) and the caller still gets the link to pass on by hand.
func (s *server) mail(ctx context.Context, to, subject, body string) bool {
	if s.SendMail == nil {
		return false
	}
	if err := s.SendMail(ctx, to, subject, body); err != nil {
		s.Logger.WarnContext(ctx, "sending mail failed", "to", to, "subject", subject, "error", err)
		return false
	}
	return true
}

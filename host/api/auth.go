package api

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/agent-vault/agent-vault/host/authn"
	"github.com/agent-vault/agent-vault/host/authz"
	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/loginguard"
	"github.com/agent-vault/agent-vault/host/seal"
	"github.com/agent-vault/agent-vault/host/store"
	"github.com/danielgtaylor/huma/v2"
)

// authenticate resolves the bearer token, if any, into an actor and records
// the operation id, for access to consult. A token that does not resolve
// leaves the caller anonymous, so protected operations answer 401.
func (s *server) authenticate(ctx huma.Context, next func(huma.Context)) {
	ctx = huma.WithValue(ctx, opKey, ctx.Operation().OperationID)
	ctx = huma.WithValue(ctx, remoteAddrKey{}, ctx.RemoteAddr())
	ctx = huma.WithValue(ctx, userAgentKey{}, ctx.Header("User-Agent"))
	if token, ok := strings.CutPrefix(ctx.Header("Authorization"), "Bearer "); ok {
		if a, err := authn.Resolve(ctx.Context(), s.Store, strings.TrimSpace(token)); err == nil {
			ctx = huma.WithValue(ctx, actorKey, a)
		}
	}
	next(ctx)
}

// Credentials of a person signing in or registering.
type emailPassword struct {
	Email    string `json:"email" format:"email" maxLength:"254" doc:"Email address"`
	Password string `json:"password" minLength:"8" maxLength:"256" doc:"At least 8 characters"`
}

type RegisterInput struct {
	Body emailPassword
}

type LoginInput struct {
	Body emailPassword
}

// SessionOutput answers register, login and invite acceptance.
type SessionOutput struct {
	Body struct {
		Token     string    `json:"token" doc:"Session token (av_sess_…); send as Authorization: Bearer"`
		ExpiresAt time.Time `json:"expires_at"`
	}
}

type LogoutInput struct{}

type MeOutput struct {
	Body struct {
		Kind  string `json:"kind" enum:"user,agent,session" doc:"What kind of caller this token belongs to"`
		ID    string `json:"id"`
		Name  string `json:"name" doc:"Email for users, name for agents"`
		Role  string `json:"role,omitempty" doc:"Instance role (users and agents)"`
		Vault string `json:"vault,omitempty" doc:"The vault a scoped session is fixed to"`
	}
}

type AcceptInviteInput struct {
	Token string `path:"token" maxLength:"128"`
	Body  emailPassword
}

func (s *server) registerAuth(api huma.API) {
	huma.Register(api, created(op("register", http.MethodPost, "/v1/auth/register", "Register the first user as instance owner", "auth",
		http.StatusConflict, http.StatusServiceUnavailable)),
		func(ctx context.Context, in *RegisterInput) (*SessionOutput, error) {
			// Once the instance has an owner, registration is over: say so
			// before spending a hash on it.
			if n, err := s.Store.CountUsers(ctx); err != nil || n > 0 {
				if err == nil {
					err = errAlreadyInitialized
				}
				return nil, s.problem(ctx, err)
			}
			return s.signUp(ctx, in.Body, "instance owner registered", func(u store.User, sess store.Session) (store.User, error) {
				return s.Store.RegisterOwner(ctx, u, sess)
			})
		})

	huma.Register(api, op("login", http.MethodPost, "/v1/auth/login", "Sign in with email and password", "auth",
		http.StatusTooManyRequests, http.StatusServiceUnavailable),
		func(ctx context.Context, in *LoginInput) (*SessionOutput, error) {
			if _, err := s.access(ctx, ""); err != nil {
				return nil, err
			}
			u, err := s.login(ctx, in.Body)
			if err != nil {
				noteActor(ctx, authz.Actor{Kind: authz.Anonymous, Name: in.Body.Email})
				return nil, s.refusal(ctx, err)
			}
			noteActor(ctx, authz.Actor{Kind: authz.User, ID: u.ID, Name: u.Email})
			sess, out, err := s.newSession(ctx)
			if err != nil {
				return nil, err
			}
			if err := s.Store.CreateSession(ctx, u.ID, sess); err != nil {
				return nil, s.problem(ctx, err)
			}
			return out, nil
		})

	huma.Register(api, op("logout", http.MethodPost, "/v1/auth/logout", "End this session", "auth"),
		func(ctx context.Context, in *LogoutInput) (*struct{}, error) {
			c, err := s.access(ctx, "")
			if err != nil {
				return nil, err
			}
			return nil, s.identitiesChanged(ctx, s.Store.DeleteSession(ctx, c.Actor.TokenHash))
		})

	huma.Register(api, op("get-me", http.MethodGet, "/v1/auth/me", "Who this token belongs to", "auth"),
		func(ctx context.Context, in *struct{}) (*MeOutput, error) {
			c, err := s.access(ctx, "")
			if err != nil {
				return nil, err
			}
			out := &MeOutput{}
			out.Body.Kind, out.Body.ID, out.Body.Name, out.Body.Role = string(c.Actor.Kind), c.Actor.ID, c.Actor.Name, string(c.Actor.Role)
			if c.Actor.Kind == authz.Session {
				v, err := s.Store.VaultByID(ctx, c.Actor.VaultID)
				if err != nil {
					return nil, s.problem(ctx, err)
				}
				out.Body.Vault = v.Name
			}
			return out, nil
		})

	huma.Register(api, created(op("accept-invite", http.MethodPost, "/v1/users/invites/{token}/accept", "Join the instance with an invite", "users",
		http.StatusBadRequest, http.StatusConflict, http.StatusServiceUnavailable)),
		func(ctx context.Context, in *AcceptInviteInput) (*SessionOutput, error) {
			// An unknown or used invite is refused before spending a hash.
			if err := s.Store.CheckInvite(ctx, seal.HashToken(in.Token), in.Body.Email); err != nil {
				return nil, s.problem(ctx, err)
			}
			// Domains allowed now, not when the invite was sent, decide.
			if settings, err := s.Store.GetInstanceSettings(ctx); err != nil {
				return nil, s.problem(ctx, err)
			} else if !emailDomainAllowed(in.Body.Email, settings.AllowedEmailDomains) {
				return nil, s.problem(ctx, domain.FieldError(domain.CodeEmailDomainNotAllowed, "email", "this instance admits only addresses at %s", strings.Join(settings.AllowedEmailDomains, ", ")))
			}
			inv, err := s.Store.InviteByToken(ctx, seal.HashToken(in.Token))
			if err != nil {
				return nil, s.problem(ctx, err)
			}
			out, err := s.signUp(ctx, in.Body, "invite accepted", func(u store.User, sess store.Session) (store.User, error) {
				return s.Store.AcceptInvite(ctx, seal.HashToken(in.Token), u, sess)
			})
			if err == nil {
				noteInviteVaults(ctx, inv.Vaults)
			}
			return out, err
		})
}

// signUp creates a user through create (registration or an invite), with
// the password hashed and a session opened in the same transaction.
func (s *server) signUp(ctx context.Context, in emailPassword, event string, create func(store.User, store.Session) (store.User, error)) (*SessionOutput, error) {
	if _, err := s.access(ctx, ""); err != nil {
		return nil, err
	}
	hash, err := s.hashPassword(ctx, in.Password)
	if err != nil {
		return nil, err
	}
	sess, out, err := s.newSession(ctx)
	if err != nil {
		return nil, err
	}
	noteActor(ctx, authz.Actor{Kind: authz.Anonymous, Name: in.Email})
	u, err := create(store.User{Email: in.Email, PasswordHash: hash}, sess)
	if err != nil {
		return nil, s.problem(ctx, err)
	}
	noteActor(ctx, authz.Actor{Kind: authz.User, ID: u.ID, Name: u.Email})
	noteChange(ctx, "role", nil, string(u.Role))
	s.Logger.InfoContext(ctx, event, "user", u.Email, "role", u.Role)
	return out, nil
}

var errAlreadyInitialized = domain.Errorf(domain.CodeAlreadyInitialized, "this instance already has an owner; ask them for an invite")

// remoteAddrKey holds the client's address ("ip:port") in a request's context.
type remoteAddrKey struct{}

// userAgentKey holds the request's User-Agent, recorded with a new session.
type userAgentKey struct{}

// login checks an email and password, throttled per account and per client
// address, with the hash run in the bounded pool. Every failure is logged
// with the email and the address, never the password.
func (s *server) login(ctx context.Context, in emailPassword) (store.User, error) {
	addr, _ := ctx.Value(remoteAddrKey{}).(string)
	if err := s.Logins.Check(in.Email, addr); err != nil {
		return store.User{}, err
	}
	var u store.User
	var ok bool
	err := s.Passwords.Do(ctx, func() error {
		// Checked again: while this sign-in waited for a slot, others
		// from the same address or for the same account may have failed.
		if err := s.Logins.Check(in.Email, addr); err != nil {
			return err
		}
		var err error
		if u, err = s.Store.UserByEmail(ctx, in.Email); err != nil {
			if domain.CodeOf(err) != domain.CodeNotFound {
				return err
			}
			// Spend the same work as a real check, so timing does not
			// tell which emails exist.
			seal.VerifyPassword(dummyHash(), in.Password)
			return nil
		}
		ok, err = seal.VerifyPassword(u.PasswordHash, in.Password)
		if err != nil {
			s.Logger.ErrorContext(ctx, "stored password hash unusable", "user", u.Email, "code", domain.CodeOf(err))
			ok = false
		}
		return nil
	})
	if err != nil {
		return store.User{}, err
	}
	if !ok {
		backingOff := s.Logins.Failed(in.Email, addr)
		s.Logger.WarnContext(ctx, "login failed", "email", in.Email, "address", addr, "backing_off", backingOff)
		return store.User{}, domain.Errorf(domain.CodeInvalidCredentials, "email or password is wrong")
	}
	s.Logins.Succeeded(in.Email)
	return u, nil
}

// isSignIn reports whether r is an operation that hashes a password
// (login, register, accept-invite, changing or resetting a password,
// deleting one's account).
func isSignIn(r *http.Request) bool {
	p := r.URL.Path
	if r.Method == http.MethodDelete {
		return p == "/v1/auth/me"
	}
	if r.Method != http.MethodPost {
		return false
	}
	return p == "/v1/auth/login" || p == "/v1/auth/register" || p == "/v1/auth/password" ||
		strings.HasPrefix(p, "/v1/password-resets/") ||
		strings.HasPrefix(p, "/v1/users/invites/") && strings.HasSuffix(p, "/accept")
}

// shedSignIns refuses a sign-in before its body is read when its address
// is backing off or the hashing pool is full. Under a flood each refusal
// then costs little more than the request's headers, and the server keeps
// answering everything else promptly.
func (s *server) shedSignIns(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isSignIn(r) {
			err := s.Logins.CheckAddress(r.RemoteAddr)
			if err == nil && s.Passwords.Full() {
				err = loginguard.Busy()
			}
			var ref *loginguard.Refusal
			if errors.As(err, &ref) {
				w.Header().Set("Retry-After", strconv.Itoa(ref.RetryAfterSeconds()))
				status := statusOf(ref.Err.Code)
				writeProblem(w, &Problem{Status: status, Title: http.StatusText(status), Detail: ref.Err.Message, Code: ref.Err.Code})
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// refusal turns err into a problem, with Retry-After when the refusal is
// only for now (throttled, busy).
func (s *server) refusal(ctx context.Context, err error) error {
	var r *loginguard.Refusal
	if errors.As(err, &r) {
		return huma.ErrorWithHeaders(s.problem(ctx, r.Err), http.Header{"Retry-After": {strconv.Itoa(r.RetryAfterSeconds())}})
	}
	return s.problem(ctx, err)
}

// dummyHash is verified against when an email is unknown.
var dummyHash = sync.OnceValue(func() string {
	h, _ := seal.HashPassword("agent-vault-timing-equaliser")
	return h
})

// newSession mints a user session token lasting the instance's session
// lifetime, noting the client's address and user agent: the store gets its
// hash, the caller the token, once.
func (s *server) newSession(ctx context.Context) (store.Session, *SessionOutput, error) {
	st, err := s.Store.GetInstanceSettings(ctx)
	if err != nil {
		return store.Session{}, nil, s.problem(ctx, err)
	}
	token, hash := seal.NewToken(seal.PrefixSession)
	exp := s.Now().Add(st.SessionTTL).UTC().Truncate(time.Second)
	out := &SessionOutput{}
	out.Body.Token, out.Body.ExpiresAt = token, exp
	addr, _ := ctx.Value(remoteAddrKey{}).(string)
	if host, _, err := net.SplitHostPort(addr); err == nil {
		addr = host
	}
	ua, _ := ctx.Value(userAgentKey{}).(string)
	return store.Session{TokenHash: hash, ExpiresAt: exp, ClientAddr: addr, UserAgent: ua}, out, nil
}

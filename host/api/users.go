package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/seal"
	"github.com/agent-vault/agent-vault/host/store"
	"github.com/danielgtaylor/huma/v2"
)

// inviteTTL is how long an invite link stays valid.
const inviteTTL = 7 * 24 * time.Hour

// UserView is a user as listings show them.
type UserView struct {
	ID          string           `json:"id"`
	Email       string           `json:"email"`
	Role        string           `json:"role" enum:"owner,member,no-access" doc:"Instance role; no-access means disabled"`
	Vaults      []VaultGrantView `json:"vaults" doc:"The user's vault roles"`
	LastLoginAt *time.Time       `json:"last_login_at,omitempty" doc:"When the user last signed in"`
	CreatedAt   time.Time        `json:"created_at"`
}

type ListUsersOutput struct {
	Body struct {
		Users []UserView `json:"users"`
	}
}

type CreateInviteInput struct {
	Body struct {
		Email  string           `json:"email,omitempty" format:"email" maxLength:"254" doc:"When set, only this address can accept"`
		Role   string           `json:"role,omitempty" enum:"owner,member,no-access" default:"member" doc:"Instance role of the new user"`
		Vaults []VaultGrantView `json:"vaults,omitempty" maxItems:"100" doc:"Vault roles the new user receives on joining; the inviter must administer each vault"`
	}
}

type CreateInviteOutput struct {
	Body struct {
		ID        string    `json:"id" doc:"Invite id (for listing, revoking and re-sending)"`
		Token     string    `json:"token" doc:"Invite token (shown once)"`
		InviteURL string    `json:"invite_url" doc:"Link to send to the invitee"`
		ExpiresAt time.Time `json:"expires_at"`
		Emailed   bool      `json:"emailed" doc:"Whether the link was also emailed (needs an email and SMTP configured)"`
	}
}

// InviteView is a pending invite; never its token.
type InviteView struct {
	ID        string           `json:"id"`
	Email     string           `json:"email" doc:"Who may accept; empty: anyone with the link"`
	Role      string           `json:"role" enum:"owner,member,no-access"`
	Vaults    []VaultGrantView `json:"vaults"`
	InvitedBy string           `json:"invited_by" doc:"Email of the inviter (empty once that user is gone)"`
	CreatedAt time.Time        `json:"created_at"`
	ExpiresAt time.Time        `json:"expires_at"`
	Expired   bool             `json:"expired" doc:"The link no longer works; re-send to renew it"`
}

type ListInvitesOutput struct {
	Body struct {
		Invites []InviteView `json:"invites"`
	}
}

type InviteIDInput struct {
	ID string `path:"id" maxLength:"64"`
}

type InviteTokenInput struct {
	Token string `path:"token" maxLength:"128"`
}

type GetInviteOutput struct {
	Body InviteView
}

type UserIDInput struct {
	ID string `path:"id" maxLength:"64"`
}

type UpdateUserInput struct {
	ID   string `path:"id" maxLength:"64"`
	Body struct {
		Role string `json:"role" enum:"owner,member,no-access"`
	}
}

func (s *server) registerUsers(api huma.API) {
	huma.Register(api, op("list-users", http.MethodGet, "/v1/users", "List users", "users"),
		func(ctx context.Context, in *struct{}) (*ListUsersOutput, error) {
			if _, err := s.access(ctx, ""); err != nil {
				return nil, err
			}
			list, err := s.Store.ListUsers(ctx)
			if err != nil {
				return nil, s.problem(ctx, err)
			}
			out := &ListUsersOutput{}
			out.Body.Users = make([]UserView, 0, len(list))
			for _, u := range list {
				vaults, err := s.Store.ListVaults(ctx, store.PrincipalUser, u.ID, false)
				if err != nil {
					return nil, s.problem(ctx, err)
				}
				v := UserView{ID: u.ID, Email: u.Email, Role: string(u.Role), CreatedAt: u.CreatedAt, LastLoginAt: u.LastLoginAt, Vaults: []VaultGrantView{}}
				for _, g := range vaults {
					v.Vaults = append(v.Vaults, VaultGrantView{Vault: g.Name, Role: string(g.Role)})
				}
				out.Body.Users = append(out.Body.Users, v)
			}
			return out, nil
		})

	huma.Register(api, created(op("create-invite", http.MethodPost, "/v1/users/invites", "Invite a user", "users", http.StatusBadRequest, http.StatusNotFound)),
		func(ctx context.Context, in *CreateInviteInput) (*CreateInviteOutput, error) {
			c, err := s.access(ctx, "")
			if err != nil {
				return nil, err
			}
			settings, err := s.Store.GetInstanceSettings(ctx)
			if err != nil {
				return nil, s.problem(ctx, err)
			}
			role := domain.InstanceRole(in.Body.Role)
			if role == "" {
				role = domain.InstanceMember
			}
			if c.Actor.Role != domain.InstanceOwner {
				if settings.InvitePolicy != "members" {
					return nil, s.problem(ctx, domain.Errorf(domain.CodeForbidden, "only owners invite people on this instance (instance setting invite_policy)"))
				}
				if role == domain.InstanceOwner {
					return nil, s.problem(ctx, domain.Errorf(domain.CodeForbidden, "only owners can invite an owner"))
				}
			}
			if len(settings.AllowedEmailDomains) > 0 {
				if in.Body.Email == "" {
					return nil, s.problem(ctx, domain.FieldError(domain.CodeEmailDomainNotAllowed, "email", "this instance admits only addresses at %s: name the invitee's email", strings.Join(settings.AllowedEmailDomains, ", ")))
				}
				if !emailDomainAllowed(in.Body.Email, settings.AllowedEmailDomains) {
					return nil, s.problem(ctx, domain.FieldError(domain.CodeEmailDomainNotAllowed, "email", "this instance admits only addresses at %s", strings.Join(settings.AllowedEmailDomains, ", ")))
				}
			}
			inv := store.Invite{Email: in.Body.Email, Role: role, CreatedBy: c.Actor.ID}
			for _, g := range in.Body.Vaults {
				v, err := s.mayGrant(ctx, c.Actor, g.Vault)
				if err != nil {
					return nil, err
				}
				inv.Vaults = append(inv.Vaults, store.InviteVault{VaultID: v.ID, VaultName: v.Name, Role: domain.VaultRole(g.Role)})
			}
			token, hash := seal.NewToken(seal.PrefixInvite)
			inv.TokenHash, inv.ExpiresAt = hash, s.Now().Add(inviteTTL).UTC().Truncate(time.Second)
			if inv.ID, err = s.Store.CreateInvite(ctx, inv); err != nil {
				return nil, s.problem(ctx, err)
			}
			noteChange(ctx, "email", nil, inv.Email)
			noteChange(ctx, "role", nil, string(inv.Role))
			noteInviteVaults(ctx, inv.Vaults)
			return s.inviteLink(ctx, c.Actor.Name, inv, token), nil
		})

	huma.Register(api, op("list-invites", http.MethodGet, "/v1/invites", "List pending invites", "users"),
		func(ctx context.Context, in *struct{}) (*ListInvitesOutput, error) {
			c, err := s.access(ctx, "")
			if err != nil {
				return nil, err
			}
			list, err := s.Store.ListInvites(ctx)
			if err != nil {
				return nil, s.problem(ctx, err)
			}
			out := &ListInvitesOutput{}
			out.Body.Invites = []InviteView{}
			for _, inv := range list {
				// Owners see every invite; others see the ones they sent.
				if c.Actor.Role == domain.InstanceOwner || inv.CreatedBy == c.Actor.ID {
					out.Body.Invites = append(out.Body.Invites, s.inviteView(inv))
				}
			}
			return out, nil
		})

	huma.Register(api, op("get-invite", http.MethodGet, "/v1/invites/{token}", "Show what an invite link offers and who sent it", "users", http.StatusBadRequest),
		func(ctx context.Context, in *InviteTokenInput) (*GetInviteOutput, error) {
			if _, err := s.access(ctx, ""); err != nil {
				return nil, err
			}
			inv, err := s.Store.InviteByToken(ctx, seal.HashToken(in.Token))
			if err != nil {
				return nil, s.problem(ctx, err)
			}
			return &GetInviteOutput{Body: s.inviteView(inv)}, nil
		})

	huma.Register(api, op("revoke-invite", http.MethodDelete, "/v1/invites/{id}", "Revoke a pending invite", "users", http.StatusNotFound),
		func(ctx context.Context, in *InviteIDInput) (*struct{}, error) {
			if _, err := s.ownInvite(ctx, in.ID); err != nil {
				return nil, err
			}
			if err := s.Store.RevokeInvite(ctx, in.ID); err != nil {
				return nil, s.problem(ctx, err)
			}
			noteChange(ctx, "status", "pending", "revoked")
			return nil, nil
		})

	huma.Register(api, op("resend-invite", http.MethodPost, "/v1/invites/{id}/resend", "Renew a pending invite's link (the old link stops working) and send it again", "users", http.StatusNotFound),
		func(ctx context.Context, in *InviteIDInput) (*CreateInviteOutput, error) {
			inv, err := s.ownInvite(ctx, in.ID)
			if err != nil {
				return nil, err
			}
			token, hash := seal.NewToken(seal.PrefixInvite)
			expired := inv.ExpiresAt
			inv.ExpiresAt = s.Now().Add(inviteTTL).UTC().Truncate(time.Second)
			if err := s.Store.RenewInvite(ctx, inv.ID, hash, inv.ExpiresAt); err != nil {
				return nil, s.problem(ctx, err)
			}
			noteSecret(ctx, "token")
			noteChange(ctx, "expires_at", expired, inv.ExpiresAt)
			return s.inviteLink(ctx, actorFrom(ctx).Name, inv, token), nil
		})

	huma.Register(api, op("update-user", http.MethodPatch, "/v1/users/{id}", "Change a user's instance role", "users", http.StatusNotFound, http.StatusConflict),
		func(ctx context.Context, in *UpdateUserInput) (*struct{}, error) {
			if _, err := s.access(ctx, ""); err != nil {
				return nil, err
			}
			before, _ := s.userForAudit(ctx, in.ID)
			if err := s.identitiesChanged(ctx, s.Store.SetUserRole(ctx, in.ID, domain.InstanceRole(in.Body.Role))); err != nil {
				return nil, err
			}
			noteChange(ctx, "role", string(before.Role), in.Body.Role)
			return nil, nil
		})

	huma.Register(api, op("delete-user", http.MethodDelete, "/v1/users/{id}", "Delete a user", "users", http.StatusNotFound, http.StatusConflict),
		func(ctx context.Context, in *UserIDInput) (*struct{}, error) {
			if _, err := s.access(ctx, ""); err != nil {
				return nil, err
			}
			before, _ := s.userForAudit(ctx, in.ID)
			if err := s.identitiesChanged(ctx, s.Store.DeleteUser(ctx, in.ID)); err != nil {
				return nil, err
			}
			noteChange(ctx, "role", string(before.Role), nil)
			return nil, nil
		})
}

// userForAudit finds the user a call acts on and names them as its target.
func (s *server) userForAudit(ctx context.Context, id string) (store.User, error) {
	u, err := s.Store.UserByID(ctx, id)
	if err == nil {
		noteTarget(ctx, "users/"+u.Email)
	}
	return u, err
}

// ownInvite checks access and finds a pending invite the caller may
// manage: any for owners, their own for others (anyone else's is
// not_found, as it is absent from their list).
func (s *server) ownInvite(ctx context.Context, id string) (store.Invite, error) {
	c, err := s.access(ctx, "")
	if err != nil {
		return store.Invite{}, err
	}
	inv, err := s.Store.InviteByID(ctx, id)
	if err == nil && c.Actor.Role != domain.InstanceOwner && inv.CreatedBy != c.Actor.ID {
		err = domain.Errorf(domain.CodeNotFound, "no pending invite %q", id)
	}
	return inv, s.problem(ctx, err)
}

func (s *server) inviteView(inv store.Invite) InviteView {
	v := InviteView{ID: inv.ID, Email: inv.Email, Role: string(inv.Role), InvitedBy: inv.CreatedByEmail, CreatedAt: inv.CreatedAt,
		ExpiresAt: inv.ExpiresAt, Expired: !inv.ExpiresAt.After(s.Now()), Vaults: []VaultGrantView{}}
	for _, g := range inv.Vaults {
		v.Vaults = append(v.Vaults, VaultGrantView{Vault: g.VaultName, Role: string(g.Role)})
	}
	return v
}

// inviteLink answers a new or renewed invite: its link, emailed too when
// the invite names an address and mail is configured.
func (s *server) inviteLink(ctx context.Context, inviter string, inv store.Invite, token string) *CreateInviteOutput {
	out := &CreateInviteOutput{}
	out.Body.ID, out.Body.Token, out.Body.ExpiresAt = inv.ID, token, inv.ExpiresAt
	out.Body.InviteURL = s.PublicURL + "/invite/" + token
	if inv.Email != "" {
		var vaults []string
		for _, v := range inv.Vaults {
			vaults = append(vaults, v.VaultName+" ("+string(v.Role)+")")
		}
		what := "as " + string(inv.Role)
		if len(vaults) > 0 {
			what += ", with access to " + strings.Join(vaults, ", ")
		}
		out.Body.Emailed = s.mail(ctx, inv.Email, "You are invited to Agent Vault",
			fmt.Sprintf("%s invited you to join their Agent Vault %s.\n\nOpen this link to choose a password and join (valid until %s):\n%s\n",
				inviter, what, inv.ExpiresAt.Format(time.RFC1123), out.Body.InviteURL))
	}
	return out
}

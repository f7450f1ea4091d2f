package api

import (
	"context"
	"net/http"
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
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Role      string    `json:"role" enum:"owner,member,no-access"`
	CreatedAt time.Time `json:"created_at"`
}

type ListUsersOutput struct {
	Body struct {
		Users []UserView `json:"users"`
	}
}

type CreateInviteInput struct {
	Body struct {
		Email string `json:"email,omitempty" format:"email" maxLength:"254" doc:"When set, only this address can accept"`
		Role  string `json:"role,omitempty" enum:"owner,member,no-access" default:"member" doc:"Instance role of the new user"`
	}
}

type CreateInviteOutput struct {
	Body struct {
		Token     string    `json:"token" doc:"Invite token (shown once)"`
		InviteURL string    `json:"invite_url" doc:"Link to send to the invitee"`
		ExpiresAt time.Time `json:"expires_at"`
	}
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
				out.Body.Users = append(out.Body.Users, UserView{ID: u.ID, Email: u.Email, Role: string(u.Role), CreatedAt: u.CreatedAt})
			}
			return out, nil
		})

	huma.Register(api, created(op("create-invite", http.MethodPost, "/v1/users/invites", "Invite a user", "users")),
		func(ctx context.Context, in *CreateInviteInput) (*CreateInviteOutput, error) {
			c, err := s.access(ctx, "")
			if err != nil {
				return nil, err
			}
			role := domain.InstanceRole(in.Body.Role)
			if role == "" {
				role = domain.InstanceMember
			}
			token, hash := seal.NewToken(seal.PrefixInvite)
			exp := s.Now().Add(inviteTTL).UTC().Truncate(time.Second)
			if err := s.Store.CreateInvite(ctx, store.Invite{TokenHash: hash, Email: in.Body.Email, Role: role, CreatedBy: c.Actor.ID, ExpiresAt: exp}); err != nil {
				return nil, s.problem(ctx, err)
			}
			out := &CreateInviteOutput{}
			out.Body.Token, out.Body.ExpiresAt = token, exp
			out.Body.InviteURL = s.PublicURL + "/invite/" + token
			return out, nil
		})

	huma.Register(api, op("update-user", http.MethodPatch, "/v1/users/{id}", "Change a user's instance role", "users", http.StatusNotFound, http.StatusConflict),
		func(ctx context.Context, in *UpdateUserInput) (*struct{}, error) {
			if _, err := s.access(ctx, ""); err != nil {
				return nil, err
			}
			return nil, s.identitiesChanged(ctx, s.Store.SetUserRole(ctx, in.ID, domain.InstanceRole(in.Body.Role)))
		})

	huma.Register(api, op("delete-user", http.MethodDelete, "/v1/users/{id}", "Delete a user", "users", http.StatusNotFound, http.StatusConflict),
		func(ctx context.Context, in *UserIDInput) (*struct{}, error) {
			if _, err := s.access(ctx, ""); err != nil {
				return nil, err
			}
			return nil, s.identitiesChanged(ctx, s.Store.DeleteUser(ctx, in.ID))
		})
}

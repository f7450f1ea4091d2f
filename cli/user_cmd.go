package cli

import (
	client "github.com/agent-vault/agent-vault/openapi/client/go"
	"github.com/oapi-codegen/runtime/types"
)

type userCmd struct {
	List    userListCmd    `cmd:"" aliases:"ls" help:"List the users of this instance."`
	SetRole userSetRoleCmd `cmd:"" name:"set-role" help:"Change a user's instance role."`
	Delete  userDeleteCmd  `cmd:"" aliases:"rm" help:"Delete a user."`
}

type userListCmd struct {
	authFlag
}

func (userListCmd) Run(c *apiClient, out *printer) error {
	res, err := decode[client.ListUsersOutputBody](c.api.ListUsers(c.ctx))
	if err != nil {
		return err
	}
	return out.result(res, func() {
		var rows [][]string
		for _, u := range deref(res.Users) {
			rows = append(rows, []string{u.Email, string(u.Role), u.Id, when(u.CreatedAt)})
		}
		out.table("No users.", []string{"email", "role", "id", "created"}, rows)
	})
}

// userID accepts an email or an id; the API addresses users by id.
func userID(c *apiClient, ref string) (string, error) {
	res, err := decode[client.ListUsersOutputBody](c.api.ListUsers(c.ctx))
	if err != nil {
		return "", err
	}
	for _, u := range deref(res.Users) {
		if u.Email == ref || u.Id == ref {
			return u.Id, nil
		}
	}
	return "", codedErrorf(exitNotFound, "not_found", "no user %q", ref)
}

type userSetRoleCmd struct {
	authFlag
	User string `arg:"" help:"Email or id."`
	Role string `arg:"" enum:"owner,member,no-access" help:"Instance role: owner, member or no-access."`
}

func (s *userSetRoleCmd) Run(c *apiClient, out *printer) error {
	id, err := userID(c, s.User)
	if err != nil {
		return err
	}
	if _, err := decode[struct{}](c.api.UpdateUser(c.ctx, id, client.UpdateUserJSONRequestBody{Role: client.UpdateUserInputBodyRole(s.Role)})); err != nil {
		return err
	}
	return out.result(map[string]any{"user": s.User, "role": s.Role}, func() {
		out.line("%s is now %s.", s.User, s.Role)
	})
}

type userDeleteCmd struct {
	authFlag
	User string `arg:"" help:"Email or id."`
}

func (d *userDeleteCmd) Run(c *apiClient, out *printer) error {
	id, err := userID(c, d.User)
	if err != nil {
		return err
	}
	if _, err := decode[struct{}](c.api.DeleteUser(c.ctx, id)); err != nil {
		return err
	}
	return out.result(map[string]any{"user": d.User, "deleted": true}, func() {
		out.line("Deleted user %s.", d.User)
	})
}

type inviteCmd struct {
	Create inviteCreateCmd `cmd:"" help:"Create an invite link; prints its token once."`
	Accept inviteAcceptCmd `cmd:"" help:"Accept an invite: create your account and sign in."`
}

type inviteCreateCmd struct {
	authFlag
	Email string `help:"Only this address may accept."`
	Role  string `enum:"owner,member,no-access" default:"member" help:"Instance role of the new user."`
}

func (i *inviteCreateCmd) Run(c *apiClient, out *printer) error {
	role := client.CreateInviteInputBodyRole(i.Role)
	body := client.CreateInviteJSONRequestBody{Role: &role}
	if i.Email != "" {
		body.Email = ptr(types.Email(i.Email))
	}
	res, err := decode[client.CreateInviteOutputBody](c.api.CreateInvite(c.ctx, body))
	if err != nil {
		return err
	}
	return out.result(res, func() {
		out.line("Invite created (valid until %s). Send this link, or the token for 'agent-vault invite accept':\n%s\n%s",
			when(res.ExpiresAt), res.InviteUrl, res.Token)
	})
}

type inviteAcceptCmd struct {
	credentialsFlags
	InviteToken string `arg:"" name:"token" help:"The invite token."`
}

func (a *inviteAcceptCmd) Run(e *env, c *apiClient, out *printer) error {
	email, pw, err := a.readNew(e)
	if err != nil {
		return err
	}
	s, err := decode[client.SessionOutputBody](c.api.AcceptInvite(c.ctx, a.InviteToken, client.AcceptInviteJSONRequestBody{Email: types.Email(email), Password: pw}))
	if err != nil {
		return err
	}
	return signedIn(c, out, email, s, "Accepted the invite and signed in")
}

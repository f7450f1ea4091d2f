package cli

import (
	"strings"

	client "github.com/agent-vault/agent-vault/openapi/client/go"
	"github.com/oapi-codegen/runtime/types"
)

type userCmd struct {
	List           userListCmd           `cmd:"" aliases:"ls" help:"List the users of this instance."`
	SetRole        userSetRoleCmd        `cmd:"" name:"set-role" help:"Change a user's instance role (no-access disables the account)."`
	Delete         userDeleteCmd         `cmd:"" aliases:"rm" help:"Delete a user."`
	Sessions       userSessionsCmd       `cmd:"" help:"List a user's sign-ins (owners)."`
	RevokeSessions userRevokeSessionsCmd `cmd:"" name:"revoke-sessions" help:"End a user's sign-ins, all or one (owners)."`
	ResetPassword  userResetPasswordCmd  `cmd:"" name:"reset-password" help:"Issue a single-use link (valid 1 hour) for a user to choose a new password (owners)."`
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
			last := "never"
			if u.LastLoginAt != nil {
				last = when(*u.LastLoginAt)
			}
			rows = append(rows, []string{u.Email, string(u.Role), grantsText(u.Vaults), last, u.Id})
		}
		out.table("No users.", []string{"email", "role", "vaults", "last login", "id"}, rows)
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
	List   inviteListCmd   `cmd:"" aliases:"ls" help:"List pending invites (owners see all, members those they sent)."`
	Revoke inviteRevokeCmd `cmd:"" help:"Revoke a pending invite; its link stops working."`
	Resend inviteResendCmd `cmd:"" help:"Renew a pending invite's link (the old one stops working) and send it again."`
	Show   inviteShowCmd   `cmd:"" help:"Show what an invite link offers and who sent it (no account needed)."`
	Accept inviteAcceptCmd `cmd:"" help:"Accept an invite: create your account and sign in."`
}

type inviteShowCmd struct {
	InviteToken string `arg:"" name:"token" help:"The invite token (av_inv_…), or the whole invite link."`
}

func (s *inviteShowCmd) Run(c *apiClient, out *printer) error {
	inv, err := decode[client.InviteView](c.api.GetInvite(c.ctx, lastPathPart(s.InviteToken)))
	if err != nil {
		return err
	}
	return out.result(inv, func() {
		out.table("", []string{"invited by", "for", "role", "vaults", "expires"},
			[][]string{{dash(inv.InvitedBy), dash(inv.Email), string(inv.Role), grantsText(inv.Vaults), when(inv.ExpiresAt)}})
	})
}

// lastPathPart takes a token out of a link to it (or returns the token).
func lastPathPart(s string) string {
	if i := strings.LastIndex(s, "/"); i >= 0 {
		return s[i+1:]
	}
	return s
}

type inviteCreateCmd struct {
	authFlag
	Email string   `help:"Only this address may accept (emailed the link when the server has SMTP)."`
	Role  string   `enum:"owner,member,no-access" default:"member" help:"Instance role of the new user."`
	Vault []string `placeholder:"NAME:ROLE" help:"Give the new user a role (admin, member, proxy) in a vault you administer on joining; repeat for several."`
}

func (i *inviteCreateCmd) Run(c *apiClient, out *printer) error {
	role := client.CreateInviteInputBodyRole(i.Role)
	body := client.CreateInviteJSONRequestBody{Role: &role}
	if i.Email != "" {
		body.Email = ptr(types.Email(i.Email))
	}
	if len(i.Vault) > 0 {
		grants := make([]client.VaultGrantView, 0, len(i.Vault))
		for _, g := range i.Vault {
			v, r, ok := strings.Cut(g, ":")
			if !ok || v == "" || r == "" {
				return usageErrorf("--vault %q is not NAME:ROLE", g)
			}
			grants = append(grants, client.VaultGrantView{Vault: v, Role: client.VaultGrantViewRole(r)})
		}
		body.Vaults = &grants
	}
	res, err := decode[client.CreateInviteOutputBody](c.api.CreateInvite(c.ctx, body))
	if err != nil {
		return err
	}
	return printInvite(out, res, "Invite created")
}

func printInvite(out *printer, res *client.CreateInviteOutputBody, verb string) error {
	return out.result(res, func() {
		sent := ""
		if res.Emailed {
			sent = " and emailed"
		}
		out.line("%s%s (id %s, valid until %s). Send this link, or the token for 'agent-vault invite accept':\n%s\n%s",
			verb, sent, res.Id, when(res.ExpiresAt), res.InviteUrl, res.Token)
	})
}

type inviteListCmd struct {
	authFlag
}

func (inviteListCmd) Run(c *apiClient, out *printer) error {
	res, err := decode[client.ListInvitesOutputBody](c.api.ListInvites(c.ctx))
	if err != nil {
		return err
	}
	return out.result(res, func() {
		var rows [][]string
		for _, inv := range deref(res.Invites) {
			exp := when(inv.ExpiresAt)
			if inv.Expired {
				exp = "expired " + exp
			}
			rows = append(rows, []string{inv.Id, dash(inv.Email), string(inv.Role), grantsText(inv.Vaults), dash(inv.InvitedBy), exp})
		}
		out.table("No pending invites.", []string{"id", "email", "role", "vaults", "invited by", "expires"}, rows)
	})
}

type inviteRevokeCmd struct {
	authFlag
	ID string `arg:"" help:"Invite id (from 'invite list')."`
}

func (r *inviteRevokeCmd) Run(c *apiClient, out *printer) error {
	if _, err := decode[struct{}](c.api.RevokeInvite(c.ctx, r.ID)); err != nil {
		return err
	}
	return out.result(map[string]any{"invite": r.ID, "revoked": true}, func() { out.line("Revoked invite %s.", r.ID) })
}

type inviteResendCmd struct {
	authFlag
	ID string `arg:"" help:"Invite id (from 'invite list')."`
}

func (r *inviteResendCmd) Run(c *apiClient, out *printer) error {
	res, err := decode[client.CreateInviteOutputBody](c.api.ResendInvite(c.ctx, r.ID))
	if err != nil {
		return err
	}
	return printInvite(out, res, "Invite renewed")
}

type userSessionsCmd struct {
	authFlag
	User string `arg:"" help:"Email or id."`
}

func (u *userSessionsCmd) Run(c *apiClient, out *printer) error {
	id, err := userID(c, u.User)
	if err != nil {
		return err
	}
	res, err := decode[client.ListLoginSessionsOutputBody](c.api.ListUserSessions(c.ctx, id))
	if err != nil {
		return err
	}
	return printLoginSessions(out, res)
}

type userRevokeSessionsCmd struct {
	authFlag
	User    string `arg:"" help:"Email or id."`
	Session string `help:"End only this session (an id from 'user sessions'); default: all."`
}

func (r *userRevokeSessionsCmd) Run(c *apiClient, out *printer) error {
	id, err := userID(c, r.User)
	if err != nil {
		return err
	}
	if r.Session != "" {
		if _, err := decode[struct{}](c.api.RevokeUserSession(c.ctx, id, r.Session)); err != nil {
			return err
		}
		return out.result(map[string]any{"user": r.User, "revoked": 1}, func() { out.line("Ended session %s of %s.", r.Session, r.User) })
	}
	res, err := decode[client.RevokedCountOutputBody](c.api.RevokeUserSessions(c.ctx, id))
	if err != nil {
		return err
	}
	return out.result(map[string]any{"user": r.User, "revoked": res.Revoked}, func() { out.line("Ended %d session(s) of %s.", res.Revoked, r.User) })
}

type userResetPasswordCmd struct {
	authFlag
	User string `arg:"" help:"Email or id."`
}

func (r *userResetPasswordCmd) Run(c *apiClient, out *printer) error {
	id, err := userID(c, r.User)
	if err != nil {
		return err
	}
	res, err := decode[client.PasswordResetOutputBody](c.api.CreatePasswordReset(c.ctx, id))
	if err != nil {
		return err
	}
	return out.result(res, func() {
		how := "Give them this link"
		if res.Emailed {
			how = "Emailed them this link"
		}
		out.line("%s (works once, until %s; it ends their sessions when used), or the token for 'agent-vault account reset':\n%s\n%s",
			how, when(res.ExpiresAt), res.ResetUrl, res.Token)
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
	s, err := decode[client.SessionOutputBody](c.api.AcceptInvite(c.ctx, lastPathPart(a.InviteToken), client.AcceptInviteJSONRequestBody{Email: types.Email(email), Password: pw}))
	if err != nil {
		return err
	}
	return signedIn(c, out, email, s, "Accepted the invite and signed in")
}

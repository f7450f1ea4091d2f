package cli

import (
	"bufio"
	"fmt"
	"strings"
	"time"

	client "github.com/agent-vault/agent-vault/openapi/client/go"
)

type accountCmd struct {
	Password accountPasswordCmd `cmd:"" help:"Change your password; every session of yours ends and this one is renewed."`
	Sessions accountSessionsCmd `cmd:"" help:"List and end your sign-ins."`
	Reset    accountResetCmd    `cmd:"" help:"Choose a new password with a reset link an owner gave you, and sign in."`
	Delete   accountDeleteCmd   `cmd:"" help:"Delete your own account."`
}

// passwordLines reads n passwords: the first n lines of standard input
// with --password-stdin, else hidden prompts (a new one asked twice).
func passwordLines(e *env, fromStdin bool, prompts []string, choosingLast bool) ([]string, error) {
	if fromStdin {
		r := bufio.NewReader(e.Stdin)
		var out []string
		for range prompts {
			line, err := r.ReadString('\n')
			if err != nil && line == "" {
				return nil, fmt.Errorf("reading %d password lines from standard input: %w", len(prompts), err)
			}
			out = append(out, strings.TrimRight(line, "\r\n"))
		}
		return out, nil
	}
	var out []string
	for i, p := range prompts {
		if choosingLast && i == len(prompts)-1 && terminal(e) != nil {
			fmt.Fprintf(e.Stderr, "Choose a password of at least %d characters.\n", minPasswordLength)
		}
		pw, ok, err := promptSecret(e, p)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, usageErrorf("no terminal to ask for the password; pass --password-stdin")
		}
		out = append(out, pw)
	}
	if choosingLast {
		last := out[len(out)-1]
		if len(last) < minPasswordLength {
			return nil, codedErrorf(exitFailure, "weak_password", "the password has %d characters; it needs at least %d", len(last), minPasswordLength)
		}
		again, _, err := promptSecret(e, "Repeat the new password: ")
		if err != nil {
			return nil, err
		}
		if again != last {
			return nil, codedErrorf(exitFailure, "password_mismatch", "the two passwords differ; nothing was changed")
		}
	}
	return out, nil
}

type accountPasswordCmd struct {
	authFlag
	PasswordStdin bool `name:"password-stdin" help:"Read the current password from the first line of standard input and the new one from the second."`
}

func (p *accountPasswordCmd) Run(e *env, c *apiClient, out *printer) error {
	pw, err := passwordLines(e, p.PasswordStdin, []string{"Current password: ", "New password: "}, true)
	if err != nil {
		return err
	}
	s, err := decode[client.SessionOutputBody](c.api.ChangePassword(c.ctx, client.ChangePasswordJSONRequestBody{CurrentPassword: pw[0], NewPassword: pw[1]}))
	if err != nil {
		return err
	}
	return renewedSession(c, out, s, "Changed your password; your other sessions ended")
}

// renewedSession keeps the session a password change or reset opened,
// when the saved session is the one that asked (a --token caller keeps
// its own arrangements).
func renewedSession(c *apiClient, out *printer, s *client.SessionOutputBody, verb string) error {
	email := ""
	if c.session != nil && (c.token == "" || c.token == c.session.Token) {
		email = c.session.Email
	}
	if email != "" {
		return signedIn(c, out, email, s, verb+". Signed in again")
	}
	return out.result(map[string]any{"expires_at": s.ExpiresAt}, func() {
		out.line("%s. Sign in again with 'agent-vault login'.", verb)
	})
}

type accountSessionsCmd struct {
	List         accountSessionsListCmd   `cmd:"" default:"withargs" aliases:"ls" help:"List your sign-ins (this one is marked)."`
	Revoke       accountSessionsRevokeCmd `cmd:"" help:"End one of your sign-ins by id."`
	RevokeOthers accountRevokeOthersCmd   `cmd:"" name:"revoke-others" help:"End all your sign-ins but this one."`
}

type accountSessionsListCmd struct {
	authFlag
}

func (accountSessionsListCmd) Run(c *apiClient, out *printer) error {
	res, err := decode[client.ListLoginSessionsOutputBody](c.api.ListLoginSessions(c.ctx))
	if err != nil {
		return err
	}
	return printLoginSessions(out, res)
}

func printLoginSessions(out *printer, res *client.ListLoginSessionsOutputBody) error {
	return out.result(res, func() {
		var rows [][]string
		for _, s := range deref(res.Sessions) {
			id := s.Id
			if s.Current {
				id += " (this one)"
			}
			rows = append(rows, []string{id, when(s.CreatedAt), when(s.LastUsedAt), dash(s.ClientAddress), dash(safeText(s.UserAgent))})
		}
		out.table("No sign-ins.", []string{"id", "created", "last used", "address", "client"}, rows)
	})
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

type accountSessionsRevokeCmd struct {
	authFlag
	ID string `arg:"" help:"Session id (from 'account sessions list')."`
}

func (r *accountSessionsRevokeCmd) Run(c *apiClient, out *printer) error {
	if _, err := decode[struct{}](c.api.RevokeLoginSession(c.ctx, r.ID)); err != nil {
		return err
	}
	return out.result(map[string]any{"session": r.ID, "revoked": true}, func() { out.line("Ended session %s.", r.ID) })
}

type accountRevokeOthersCmd struct {
	authFlag
}

func (accountRevokeOthersCmd) Run(c *apiClient, out *printer) error {
	res, err := decode[client.RevokedCountOutputBody](c.api.RevokeOtherLoginSessions(c.ctx))
	if err != nil {
		return err
	}
	return out.result(res, func() { out.line("Ended %d other session(s).", res.Revoked) })
}

type accountResetCmd struct {
	ResetToken    string `arg:"" name:"token" help:"The reset token (av_rst_…), or the whole reset link."`
	PasswordStdin bool   `name:"password-stdin" help:"Read the new password from the first line of standard input."`
}

func (r *accountResetCmd) Run(e *env, c *apiClient, out *printer) error {
	token := lastPathPart(r.ResetToken)
	info, err := decode[client.GetPasswordResetOutputBody](c.api.GetPasswordReset(c.ctx, token))
	if err != nil {
		return err
	}
	if !r.PasswordStdin && terminal(e) != nil {
		fmt.Fprintf(e.Stderr, "Setting a new password for %s.\n", info.Email)
	}
	pw, err := passwordLines(e, r.PasswordStdin, []string{"New password: "}, true)
	if err != nil {
		return err
	}
	s, err := decode[client.SessionOutputBody](c.api.CompletePasswordReset(c.ctx, token, client.CompletePasswordResetJSONRequestBody{Password: pw[0]}))
	if err != nil {
		return err
	}
	return signedIn(c, out, info.Email, s, "Set a new password and signed in")
}

type accountDeleteCmd struct {
	authFlag
	PasswordStdin bool `name:"password-stdin" help:"Read your password from the first line of standard input."`
	Yes           bool `help:"Do not ask to type your email (for scripts)."`
}

func (d *accountDeleteCmd) Run(e *env, c *apiClient, out *printer) error {
	me, err := decode[client.MeOutputBody](c.api.GetMe(c.ctx))
	if err != nil {
		return err
	}
	if err := confirmTypedWhat(e, d.Yes, "delete your account", "Deleting your account ends your sessions and removes your vault roles", "your email", me.Name); err != nil {
		return err
	}
	pw, err := passwordLines(e, d.PasswordStdin, []string{"Password: "}, false)
	if err != nil {
		return err
	}
	if _, err := decode[struct{}](c.api.DeleteMyAccount(c.ctx, client.DeleteMyAccountJSONRequestBody{Password: pw[0]})); err != nil {
		return err
	}
	if err := forgetSession(); err != nil {
		return err
	}
	return out.result(map[string]any{"deleted": true, "email": me.Name}, func() { out.line("Deleted the account %s.", me.Name) })
}

// durationFlag parses a lifetime such as 90m, 24h or 7d into seconds.
func durationSeconds(flag, v string) (int, error) {
	if v == "" {
		return 0, nil
	}
	if n, ok := strings.CutSuffix(v, "d"); ok {
		var days int
		if _, err := fmt.Sscanf(n, "%d", &days); err != nil || fmt.Sprint(days) != n {
			return 0, usageErrorf("--%s %q is not a duration (90m, 24h, 7d)", flag, v)
		}
		return days * 24 * 3600, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, usageErrorf("--%s %q is not a duration (90m, 24h, 7d)", flag, v)
	}
	return int(d / time.Second), nil
}

// seconds renders a number of seconds the way the flags take it.
func seconds(n int64) string {
	switch {
	case n == 0:
		return "0"
	case n%(24*3600) == 0:
		return fmt.Sprintf("%dd", n/(24*3600))
	case n%3600 == 0:
		return fmt.Sprintf("%dh", n/3600)
	case n%60 == 0:
		return fmt.Sprintf("%dm", n/60)
	}
	return fmt.Sprintf("%ds", n)
}

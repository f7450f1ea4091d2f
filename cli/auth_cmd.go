package cli

import (
	"bufio"
	"fmt"
	"strings"

	client "github.com/agent-vault/agent-vault/openapi/client/go"
	"github.com/oapi-codegen/runtime/types"
)

type statusCmd struct{}

func (statusCmd) Run(c *apiClient, out *printer) error {
	st, err := decode[client.StatusOutputBody](c.api.GetStatus(c.ctx))
	if err != nil {
		return err
	}
	return out.result(st, func() {
		out.table("", []string{"server", "version", "initialized"},
			[][]string{{c.addr, st.Version, yesNo(st.Initialized)}})
		if st.NeedsFirstUser {
			out.line("\nNobody has registered yet: run 'agent-vault register'.")
		}
	})
}

// credentialsFlags are how register, login and invite accept get an email
// and password: flags and stdin for scripts, prompts on a terminal.
type credentialsFlags struct {
	Email         string `help:"Email address (prompted for on a terminal when missing)."`
	PasswordStdin bool   `name:"password-stdin" help:"Read the password from the first line of standard input."`
}

// minPasswordLength is the server's rule for a new password (POST
// /v1/auth/register and invite accept), said before the prompt asks.
const minPasswordLength = 8

func (f *credentialsFlags) read(e *env) (email, password string, err error) {
	return f.readWith(e, false)
}

// readNew is read for a password being chosen (register, invite accept):
// on a terminal it states the rule first and asks twice.
func (f *credentialsFlags) readNew(e *env) (email, password string, err error) {
	return f.readWith(e, true)
}

func (f *credentialsFlags) readWith(e *env, choosing bool) (email, password string, err error) {
	email = f.Email
	if email == "" {
		if email, err = promptLine(e, "Email: "); err != nil {
			return "", "", err
		}
		if email == "" {
			return "", "", usageErrorf("no email: pass --email")
		}
	}
	if f.PasswordStdin {
		line, rerr := bufio.NewReader(e.Stdin).ReadString('\n')
		if rerr != nil && line == "" {
			return "", "", fmt.Errorf("reading the password from standard input: %w", rerr)
		}
		return email, strings.TrimRight(line, "\r\n"), nil
	}
	if choosing && terminal(e) != nil {
		fmt.Fprintf(e.Stderr, "Choose a password of at least %d characters.\n", minPasswordLength)
	}
	pw, ok, err := promptSecret(e, "Password: ")
	if err != nil {
		return "", "", err
	}
	if !ok {
		return "", "", usageErrorf("no terminal to ask for the password; pass --password-stdin")
	}
	if !choosing {
		return email, pw, nil
	}
	if len(pw) < minPasswordLength {
		return "", "", codedErrorf(exitFailure, "weak_password", "the password has %d characters; it needs at least %d", len(pw), minPasswordLength)
	}
	again, _, err := promptSecret(e, "Repeat the password: ")
	if err != nil {
		return "", "", err
	}
	if again != pw {
		return "", "", codedErrorf(exitFailure, "password_mismatch", "the two passwords differ; nothing was changed")
	}
	return email, pw, nil
}

// signedIn saves a session and says who is signed in.
func signedIn(c *apiClient, out *printer, email string, s *client.SessionOutputBody, verb string) error {
	if err := (&session{Addr: c.addr, Email: email, Token: s.Token, ExpiresAt: s.ExpiresAt}).save(); err != nil {
		return err
	}
	// The token itself stays in the session file, never on the screen.
	return out.result(map[string]any{"email": email, "addr": c.addr, "expires_at": s.ExpiresAt}, func() {
		out.line("%s as %s on %s (session until %s).", verb, email, c.addr, when(s.ExpiresAt))
	})
}

type registerCmd struct {
	credentialsFlags
}

func (registerCmd) Help() string {
	return "Only the first account can register; everyone else joins with 'agent-vault invite accept'."
}

func (r *registerCmd) Run(e *env, c *apiClient, out *printer) error {
	email, pw, err := r.readNew(e)
	if err != nil {
		return err
	}
	s, err := decode[client.SessionOutputBody](c.api.Register(c.ctx, client.RegisterJSONRequestBody{Email: types.Email(email), Password: pw}))
	if err != nil {
		return err
	}
	return signedIn(c, out, email, s, "Registered the owner account and signed in")
}

type loginCmd struct {
	credentialsFlags
}

func (l *loginCmd) Run(e *env, c *apiClient, out *printer) error {
	email, pw, err := l.read(e)
	if err != nil {
		return err
	}
	s, err := decode[client.SessionOutputBody](c.api.Login(c.ctx, client.LoginJSONRequestBody{Email: types.Email(email), Password: pw}))
	if err != nil {
		return err
	}
	return signedIn(c, out, email, s, "Signed in")
}

type logoutCmd struct {
	authFlag
}

func (logoutCmd) Run(c *apiClient, out *printer) error {
	if c.token != "" {
		// A token the server no longer knows is as good as logged out.
		if _, err := decode[struct{}](c.api.Logout(c.ctx)); err != nil && exitCodeOf(err) != exitUnauthorized {
			return err
		}
	}
	if err := forgetSession(); err != nil {
		return err
	}
	return out.result(map[string]any{"logged_out": true}, func() { out.line("Signed out.") })
}

type whoamiCmd struct {
	authFlag
}

func (whoamiCmd) Run(c *apiClient, out *printer) error {
	me, err := decode[client.MeOutputBody](c.api.GetMe(c.ctx))
	if err != nil {
		return err
	}
	return out.result(me, func() {
		out.table("", []string{"kind", "name", "role", "vault", "server"},
			[][]string{{string(me.Kind), me.Name, str(me.Role), str(me.Vault), c.addr}})
	})
}

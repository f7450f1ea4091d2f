package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/agent-vault/agent-vault/host/audit"
	"github.com/agent-vault/agent-vault/host/seal"
	"github.com/agent-vault/agent-vault/host/server"
	"github.com/alecthomas/kong"
	"golang.org/x/term"
)

type masterPasswordCmd struct {
	DataDir       string `default:"~/.agent-vault" env:"AGENT_VAULT_DATA_DIR" type:"path" help:"Directory holding the database."`
	DatabaseURL   string `name:"database-url" env:"AGENT_VAULT_DATABASE_URL" help:"PostgreSQL database (postgres://…) instead of the one in --data-dir."`
	PasswordStdin bool   `help:"Read passwords from standard input, one per line: the current one first (change, remove), then the new one (set, change)."`

	Set    struct{} `cmd:"" help:"Protect the data encryption key with a new master password."`
	Change struct{} `cmd:"" help:"Replace the master password."`
	Remove struct{} `cmd:"" help:"Stop protecting the data encryption key with a password (not recommended)."`
}

func (c *masterPasswordCmd) Help() string {
	return `Re-wraps the data encryption key only: no credential is re-encrypted. The
server must be stopped. The current password may also come from
AGENT_VAULT_MASTER_PASSWORD.`
}

func (c *masterPasswordCmd) Run(e *env, kctx *kong.Context) error {
	action := kctx.Command()
	dir := expandHome(c.DataDir)
	release, err := server.LockDataDir(dir)
	if err != nil {
		return err
	}
	defer release()
	st, err := server.OpenDatabase(e.Ctx, dir, c.DatabaseURL)
	if err != nil {
		return err
	}
	defer st.Close()
	env, err := server.Envelope(e.Ctx, st)
	if err != nil {
		return err
	}
	in := newPasswordReader(e, c.PasswordStdin)
	current := os.Getenv(masterPasswordEnv)
	os.Unsetenv(masterPasswordEnv)
	if env.Mode == seal.ModePassword && current == "" {
		if current, err = in.read("Current master password: "); err != nil {
			return err
		}
	}
	var next string
	switch action {
	case "master-password set":
		if env.Mode == seal.ModePassword {
			return fmt.Errorf("a master password is already set; use `agent-vault master-password change`")
		}
		current = ""
		next, err = in.readNew()
	case "master-password change":
		if env.Mode != seal.ModePassword {
			return fmt.Errorf("no master password is set; use `agent-vault master-password set`")
		}
		next, err = in.readNew()
	case "master-password remove":
		if env.Mode != seal.ModePassword {
			return fmt.Errorf("no master password is set")
		}
	}
	if err != nil {
		return err
	}
	updated, err := seal.ChangePassword(env, current, next)
	if err != nil {
		return err
	}
	if err := server.PutEnvelope(e.Ctx, st, updated); err != nil {
		return err
	}
	// The change is recorded in the audit trail as done by the local user
	// at this machine (the server is stopped: no API caller exists).
	who := os.Getenv("USER")
	var sum audit.Summary
	sum.Set("seal_mode", string(env.Mode), string(updated.Mode))
	if action == "master-password change" {
		sum.Secret("master_password")
	}
	if _, err := audit.NewRecorder(st, nil, nil).Record(e.Ctx, audit.Entry{ActorKind: audit.ActorLocal, ActorName: who,
		Operation: strings.ReplaceAll(action, " ", "-"), Target: "master password", Summary: sum.Encode()}); err != nil {
		fmt.Fprintln(e.Stderr, "warning: the master password changed, but the audit entry was not recorded:", err)
	}
	fmt.Fprintln(e.Stdout, map[string]string{
		"master-password set":    "Master password set. Start the server with AGENT_VAULT_MASTER_PASSWORD or --password-stdin.",
		"master-password change": "Master password changed.",
		"master-password remove": "Master password removed. The data encryption key is now stored unprotected.",
	}[action])
	return nil
}

// passwordReader takes passwords from stdin lines or from terminal prompts.
type passwordReader struct {
	e     *env
	lines *bufio.Reader
}

func newPasswordReader(e *env, fromStdin bool) *passwordReader {
	r := &passwordReader{e: e}
	if fromStdin {
		r.lines = bufio.NewReader(e.Stdin)
	}
	return r
}

func (r *passwordReader) read(prompt string) (string, error) {
	if r.lines != nil {
		line, err := r.lines.ReadString('\n')
		if err != nil && (err != io.EOF || line == "") {
			return "", fmt.Errorf("reading a password from standard input: %w", err)
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	f, ok := r.e.Stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", fmt.Errorf("no terminal to ask for a password; pass --password-stdin")
	}
	fmt.Fprint(r.e.Stderr, prompt)
	b, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(r.e.Stderr)
	return string(b), err
}

// readNew reads a new password, twice on a terminal.
func (r *passwordReader) readNew() (string, error) {
	pw, err := r.read("New master password: ")
	if err != nil {
		return "", err
	}
	if len(pw) < 8 {
		return "", fmt.Errorf("the master password must be at least 8 characters")
	}
	if r.lines == nil {
		again, err := r.read("Repeat it: ")
		if err != nil {
			return "", err
		}
		if again != pw {
			return "", fmt.Errorf("the two passwords differ")
		}
	}
	return pw, nil
}

// Package cli is the kong command tree of `agent-vault`: `server` runs the
// host, and the other commands manage it through the Go client generated
// from openapi/openapi.json (the only way the CLI speaks to a server).
package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/alecthomas/kong"

	"github.com/agent-vault/agent-vault/host/version"
)

// Version is the build's version, the one the server reports too.
var Version = version.Version

// Exit codes are part of the CLI's contract: scripts branch on them.
const (
	exitOK           = 0
	exitFailure      = 1
	exitUsage        = 2
	exitNotFound     = 3 // 404
	exitConflict     = 4 // 409
	exitForbidden    = 5 // 403
	exitUnauthorized = 6 // 401: not signed in, or the token expired
)

const exitCodesHelp = `Exit codes: 0 ok, 1 failure, 2 usage (bad flags, or a confirmation that
needs --yes), 3 not found, 4 conflict, 5 permission denied, 6 not signed in.`

// globals are flags every command accepts. The API token is not among them:
// `--token` also names the bearer credential key of `service set`, so each
// API command carries its own --token (see authFlag).
type globals struct {
	Addr string `env:"AGENT_VAULT_ADDR" placeholder:"URL" help:"Server address (default: the one you logged in to, else http://127.0.0.1:14321)."`
	JSON bool   `name:"json" help:"Print machine-readable JSON instead of tables."`
}

// root is the whole command tree.
type root struct {
	globals

	Server         serverCmd         `cmd:"" group:"server" help:"Run the Agent Vault server (API and proxy) in the foreground."`
	MasterPassword masterPasswordCmd `cmd:"" group:"server" name:"master-password" help:"Set, change or remove the master password (server stopped)."`
	MigrateDB      migrateDBCmd      `cmd:"" group:"server" name:"migrate-db" help:"Copy an instance from its SQLite data directory into an empty PostgreSQL database."`
	Status         statusCmd         `cmd:"" group:"server" help:"Show whether the server is up, its version and whether it has an owner."`

	Register registerCmd `cmd:"" group:"account" help:"Create the first (owner) account on a new server and sign in."`
	Login    loginCmd    `cmd:"" group:"account" help:"Sign in and keep the session in ~/.agent-vault/session.json."`
	Logout   logoutCmd   `cmd:"" group:"account" help:"End the session on the server and forget it locally."`
	Whoami   whoamiCmd   `cmd:"" group:"account" help:"Show who the current token belongs to."`
	Account  accountCmd  `cmd:"" group:"account" help:"Your password, your sign-ins, your account."`

	Vault    vaultCmd    `cmd:"" group:"manage" help:"Create and manage vaults, their credentials, services and members."`
	Service  serviceCmd  `cmd:"" group:"manage" help:"Same as 'vault service'."`
	Agent    agentCmd    `cmd:"" group:"manage" help:"Create and manage agents (the identities AI agents use)."`
	User     userCmd     `cmd:"" group:"manage" help:"List users and change their instance role."`
	Invite   inviteCmd   `cmd:"" group:"manage" help:"Invite people to this instance, or accept an invite."`
	Instance instanceCmd `cmd:"" group:"manage" help:"Instance-wide settings (owners)."`
	Proposal proposalCmd `cmd:"" group:"agents" help:"Propose services and credential slots for a human to approve (agents)."`
	Guide    guideCmd    `cmd:"" group:"agents" help:"Print the guide for agents published by the server."`
	Discover discoverCmd `cmd:"" group:"agents" help:"Show what a vault offers an agent: its services and credential keys."`
	Run      runCmd      `cmd:"" group:"manage" help:"Run a program whose HTTP(S) traffic goes through the proxy with a vault's credentials."`
	Audit    auditCmd    `cmd:"" group:"manage" help:"Read, export and verify the audit trail of administrative actions (owners)."`
	Overview overviewCmd `cmd:"" group:"manage" help:"Show the proxied traffic, errors, store sync health and leases of all vaults (owners)."`

	Completion completionCmd `cmd:"" group:"tools" help:"Print a shell completion script (bash, zsh or fish)."`
	OpenAPI    openapiCmd    `cmd:"" group:"tools" name:"openapi" help:"Print the OpenAPI 3.1 document of the HTTP API."`
	Version    versionCmd    `cmd:"" group:"tools" help:"Print the version."`
	Complete   completeCmd   `cmd:"" name:"__complete" hidden:"" help:"Complete a partial command line (used by the completion scripts)."`
}

// env is what commands read from the outside world, so tests can swap it.
type env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Ctx    context.Context
}

// Main runs the command line and returns the process exit code.
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := &env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Ctx: ctx}
	return runArgs(e, args)
}

func runArgs(e *env, args []string) int {
	code := -1
	parser, err := newParser(e, func(c int) { code = c; panic(exitPanic{}) })
	if err != nil {
		fmt.Fprintln(e.Stderr, "error:", err)
		return exitFailure
	}
	return run(parser, args, e, &code)
}

// newParser builds the kong parser; exit is called for --help and usage
// errors. Dependencies of API commands come from providers, so `version`,
// `completion` and --help need no session or server.
func newParser(e *env, exit func(int)) (*kong.Kong, error) {
	var r root
	return kong.New(&r,
		kong.Name("agent-vault"),
		kong.Description("Agent Vault brokers credentials for AI agents: agents hold no secrets, the proxy attaches them.\n\n"+exitCodesHelp),
		kong.UsageOnError(),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true, NoExpandSubcommands: true, WrapUpperBound: 100}),
		kong.ExplicitGroups([]kong.Group{
			{Key: "server", Title: "Server:"},
			{Key: "account", Title: "Account:"},
			{Key: "manage", Title: "Manage:"},
			{Key: "agents", Title: "For agents:"},
			{Key: "tools", Title: "Tools:"},
		}),
		kong.Vars{"vault_role_help": vaultRoleHelp},
		kong.Writers(e.Stdout, e.Stderr),
		kong.Exit(exit),
		kong.Bind(e, &r.globals),
		kong.BindToProvider(func() *printer { return newPrinter(e, r.JSON) }),
		kong.BindToProvider(func(kctx *kong.Context) (*apiClient, error) { return newAPIClient(e, &r.globals, kctx) }),
	)
}

type exitPanic struct{}

func run(parser *kong.Kong, args []string, e *env, code *int) (exit int) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(exitPanic); !ok {
				panic(r)
			}
			exit = *code
		}
	}()
	if len(args) == 0 {
		args = []string{"--help"} // a bare agent-vault shows what it can do
	}
	asJSON := jsonRequested(args)
	kctx, err := parser.Parse(args)
	if err != nil {
		hint := "agent-vault"
		var perr *kong.ParseError
		if errors.As(err, &perr) && perr.Context != nil && perr.Context.Selected() != nil {
			hint = commandPath(perr.Context.Selected())
		}
		if asJSON {
			writeJSONError(e.Stderr, codeUsage, fmt.Sprintf("%s; run '%s --help' for usage", err, hint))
			return exitUsage
		}
		parser.Errorf("%s", err)
		fmt.Fprintf(e.Stderr, "Run '%s --help' for usage.\n", hint)
		return exitUsage
	}
	if err := kctx.Run(); err != nil {
		var child *childExit
		if errors.As(err, &child) {
			return child.code
		}
		if asJSON {
			code, msg := errorParts(err)
			writeJSONError(e.Stderr, code, msg)
		} else {
			printError(e, err)
		}
		return exitCodeOf(err)
	}
	return exitOK
}

// commandPath is the command line that selects n, for a "--help" hint a
// person can paste: command names only (kong's FullPath adds aliases).
func commandPath(n *kong.Node) string {
	var names []string
	for ; n != nil && n.Parent != nil; n = n.Parent {
		if n.Type == kong.CommandNode {
			names = append([]string{n.Name}, names...)
		}
	}
	return strings.Join(append([]string{"agent-vault"}, names...), " ")
}

// jsonRequested reports whether --json is among the flags (before "--"),
// so even a command line that does not parse gets a JSON error.
func jsonRequested(args []string) bool {
	for _, a := range args {
		switch {
		case a == "--":
			return false
		case a == "--json":
			return true
		case strings.HasPrefix(a, "--json="):
			v, err := strconv.ParseBool(strings.TrimPrefix(a, "--json="))
			return err == nil && v
		}
	}
	return false
}

// writeJSONError prints {"error":{"code":…,"message":…}} on stderr: with
// --json, scripts read errors the way they read results.
func writeJSONError(w io.Writer, code, msg string) {
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	body.Error.Code, body.Error.Message = code, msg
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.Encode(body)
	w.Write(safeJSON(buf.Bytes())) // the message can quote the server
}

// printError prints a command's failure; its text may quote the server, so
// it is made safe (safeBlock) like every other output.
func printError(e *env, err error) {
	fmt.Fprintln(e.Stderr, "error:", safeBlock(err.Error()))
}

type versionCmd struct{}

func (versionCmd) Run(e *env, g *globals) error {
	if g.JSON {
		return newPrinter(e, true).result(map[string]string{"version": Version}, nil)
	}
	fmt.Fprintln(e.Stdout, "agent-vault", Version)
	return nil
}

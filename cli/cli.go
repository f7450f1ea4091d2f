// Package cli is the kong command tree of `agent-vault`: `server` runs the
// host, and the other commands manage it.
package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/alecthomas/kong"
)

// Version is set at build time with -ldflags "-X .../cli.Version=…".
var Version = "dev"

// root is the whole command tree.
type root struct {
	Server         serverCmd         `cmd:"" help:"Run the Agent Vault server (API and proxy) in the foreground."`
	MasterPassword masterPasswordCmd `cmd:"" name:"master-password" help:"Set, change or remove the master password (server stopped)."`
	OpenAPI        openapiCmd        `cmd:"" name:"openapi" help:"Print the OpenAPI 3.1 document of the HTTP API."`
	Version        versionCmd        `cmd:"" help:"Print the version."`
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
	code := -1
	parser, err := kong.New(&root{},
		kong.Name("agent-vault"),
		kong.Description("Agent Vault brokers credentials for AI agents: agents hold no secrets, the proxy attaches them."),
		kong.UsageOnError(),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
		kong.Writers(e.Stdout, e.Stderr),
		kong.Exit(func(c int) { code = c; panic(exitPanic{}) }),
		kong.Bind(e),
	)
	if err != nil {
		fmt.Fprintln(e.Stderr, "error:", err)
		return 1
	}
	return run(parser, args, e, &code)
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
	kctx, err := parser.Parse(args)
	if err != nil {
		parser.Errorf("%s", err)
		return 2
	}
	if err := kctx.Run(); err != nil {
		fmt.Fprintln(e.Stderr, "error:", err)
		return 1
	}
	return 0
}

type versionCmd struct{}

func (versionCmd) Run(e *env) error {
	fmt.Fprintln(e.Stdout, "agent-vault", Version)
	return nil
}

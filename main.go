// Command agent-vault is the Agent Vault server and its command-line client.
package main

import (
	"os"

	"github.com/agent-vault/agent-vault/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:])) }

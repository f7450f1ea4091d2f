package cli

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/alecthomas/kong"

	client "github.com/agent-vault/agent-vault/openapi/client/go"
)

type completionCmd struct {
	Shell string `arg:"" enum:"bash,zsh,fish" help:"Shell: bash, zsh or fish."`
}

func (completionCmd) Help() string {
	return `Load it in the current shell, or add the line to your shell's start-up file:
  bash:  source <(agent-vault completion bash)
  zsh:   source <(agent-vault completion zsh)
  fish:  agent-vault completion fish | source`
}

// The scripts ask the binary itself (the hidden __complete command) for
// candidates, so they never go stale as commands are added.
var completionScripts = map[string]string{
	"bash": `# bash completion for agent-vault
_agent_vault() {
  local cur="${COMP_WORDS[COMP_CWORD]}"
  COMPREPLY=($(compgen -W "$(agent-vault __complete "${COMP_WORDS[@]:1:COMP_CWORD-1}" 2>/dev/null)" -- "$cur"))
}
complete -o default -F _agent_vault agent-vault
`,
	"zsh": `#compdef agent-vault
# zsh completion for agent-vault
_agent_vault() {
  local -a candidates
  candidates=(${(f)"$(agent-vault __complete "${(@)words[2,CURRENT-1]}" 2>/dev/null)"})
  compadd -- $candidates
}
compdef _agent_vault agent-vault
`,
	"fish": `# fish completion for agent-vault
function __agent_vault_complete
    set -l words (commandline -opc)
    agent-vault __complete $words[2..-1] 2>/dev/null
end
complete -c agent-vault -f -a '(__agent_vault_complete)'
`,
}

func (c *completionCmd) Run(e *env) error {
	_, err := fmt.Fprint(e.Stdout, completionScripts[c.Shell])
	return err
}

// completeCmd prints the subcommands and flags that may follow words, or
// the names that fit where the cursor is: vault names after --vault and
// for a vault command's name, service names for a service command's name.
type completeCmd struct {
	Words []string `arg:"" optional:"" passthrough:"" help:"The words typed so far, after the program name."`
}

func (c *completeCmd) Run(e *env, g *globals, kctx *kong.Context) error {
	names := func(what nameKind, vault string) []string {
		api, err := newAPIClient(e, g, kctx)
		if err != nil {
			return nil
		}
		// A completion that waits on a server is worse than none.
		ctx, cancel := context.WithTimeout(e.Ctx, 2*time.Second)
		defer cancel()
		api.ctx = ctx
		return lookupNames(api, what, vault)
	}
	for _, s := range completions(kctx.Model.Node, c.Words, names) {
		fmt.Fprintln(e.Stdout, s)
	}
	return nil
}

type nameKind int

const (
	noNames nameKind = iota
	vaultNames
	serviceNames
)

// lookupNames asks the server for the names; nothing on any failure.
func lookupNames(c *apiClient, what nameKind, vault string) []string {
	var out []string
	switch what {
	case vaultNames:
		l, err := decode[client.ListVaultsOutputBody](c.api.ListVaults(c.ctx))
		if err != nil {
			return nil
		}
		for _, v := range deref(l.Vaults) {
			out = append(out, v.Name)
		}
	case serviceNames:
		l, err := decode[client.ServicesBody](c.api.ListServices(c.ctx, vault))
		if err != nil {
			return nil
		}
		for _, s := range deref(l.Services) {
			out = append(out, s.Name)
		}
	}
	return out
}

// completions walks the command words in typed and lists what can come
// next: visible subcommands (and aliases) and the flags of that command
// and its parents, or the names lookup finds for a --vault value or a
// name argument. bash splits "--vault=x" into "--vault", "=", "x".
func completions(n *kong.Node, words []string, lookup func(nameKind, string) []string) []string {
	vault := os.Getenv(vaultEnv)
	if vault == "" {
		if dir, err := os.Getwd(); err == nil {
			_, vault, _ = findBinding(dir)
		}
	}
	positionals := 0
	for i := 0; i < len(words); i++ {
		w := words[i]
		if w == "--vault" && i+2 < len(words) && words[i+1] == "=" {
			vault = words[i+2]
		} else if w == "--vault" && i+1 < len(words) && words[i+1] != "=" {
			vault = words[i+1]
		} else if strings.HasPrefix(w, "--vault=") {
			vault = strings.TrimPrefix(w, "--vault=")
		}
		if strings.HasPrefix(w, "-") || w == "=" {
			if f := flagNamed(n, strings.TrimLeft(w, "-")); f != nil && !f.IsBool() && i+1 < len(words) && words[i+1] != "=" {
				i++ // the flag's value
			}
			continue
		}
		if i > 0 && words[i-1] == "=" {
			continue // the value of --flag=
		}
		if positionals == 0 {
			if next := childNamed(n, w); next != nil {
				n = next
				continue
			}
		}
		positionals++
	}
	last := ""
	if len(words) > 0 {
		last = words[len(words)-1]
	}
	if last == "=" && len(words) > 1 {
		last = words[len(words)-2]
	}
	if last == "--vault" {
		return sorted(lookup(vaultNames, ""))
	}
	// A name argument offers the names and the flags: the shell keeps
	// those that start like the word being typed.
	var out []string
	if positionals == 0 && len(n.Positional) > 0 && n.Positional[0].Name == "name" && n.Parent != nil {
		switch {
		case n.Parent.Name == "service" && n.Name != "add":
			if vault == "" {
				vault = "default"
			}
			out = lookup(serviceNames, vault)
		case n.Parent.Name == "vault" && n.Name != "create":
			out = lookup(vaultNames, "")
		}
	}
	for _, ch := range n.Children {
		if ch.Hidden {
			continue
		}
		out = append(out, ch.Name)
		out = append(out, ch.Aliases...)
	}
	for p := n; p != nil; p = p.Parent {
		for _, f := range p.Flags {
			if !f.Hidden {
				out = append(out, "--"+f.Name)
			}
		}
	}
	return sorted(out)
}

func sorted(s []string) []string {
	sort.Strings(s)
	return s
}

// flagNamed finds a flag of n or its parents.
func flagNamed(n *kong.Node, name string) *kong.Flag {
	for p := n; p != nil; p = p.Parent {
		for _, f := range p.Flags {
			if f.Name == name {
				return f
			}
		}
	}
	return nil
}

func childNamed(n *kong.Node, name string) *kong.Node {
	for _, ch := range n.Children {
		if ch.Type != kong.CommandNode {
			continue
		}
		if ch.Name == name {
			return ch
		}
		for _, a := range ch.Aliases {
			if a == name {
				return ch
			}
		}
	}
	return nil
}

package cli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/alecthomas/kong"
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

// completeCmd prints the subcommands and flags that may follow words.
type completeCmd struct {
	Words []string `arg:"" optional:"" passthrough:"" help:"The words typed so far, after the program name."`
}

func (c *completeCmd) Run(e *env, kctx *kong.Context) error {
	for _, s := range completions(kctx.Model.Node, c.Words) {
		fmt.Fprintln(e.Stdout, s)
	}
	return nil
}

// completions walks the command words in typed and lists what can come
// next: visible subcommands (and aliases) and the flags of that command
// and its parents.
func completions(n *kong.Node, words []string) []string {
	for _, w := range words {
		if strings.HasPrefix(w, "-") {
			continue
		}
		next := childNamed(n, w)
		if next == nil {
			break
		}
		n = next
	}
	var out []string
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
	sort.Strings(out)
	return out
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

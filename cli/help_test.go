package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/agent-vault/agent-vault/sdk/golden"
	"github.com/alecthomas/kong"
)

// TestHelpPages golden-tests `--help` of the root and every command,
// captured in-process with kong.Writers and kong.Exit.
func TestHelpPages(t *testing.T) {
	t.Setenv("COLUMNS", "80")
	var paths [][]string
	var walk func(n *kong.Node, path []string)
	walk = func(n *kong.Node, path []string) {
		if n.Hidden {
			return
		}
		paths = append(paths, path)
		for _, ch := range n.Children {
			if ch.Type == kong.CommandNode {
				walk(ch, append(append([]string(nil), path...), ch.Name))
			}
		}
	}
	p, err := newParser(&env{}, func(int) {})
	if err != nil {
		t.Fatal(err)
	}
	walk(p.Model.Node, nil)
	if len(paths) < 50 {
		t.Fatalf("walked only %d commands", len(paths))
	}
	for _, path := range paths {
		name := "root"
		if len(path) > 0 {
			name = strings.Join(path, "_")
		}
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := runArgs(&env{Stdout: &stdout, Stderr: &stderr}, append(path, "--help"))
			if code != 0 || stderr.Len() != 0 {
				t.Fatalf("exit %d, stderr %q", code, stderr.String())
			}
			golden.Check(t, "help/"+name, stdout.Bytes())
		})
	}
}

// TestEveryFlagHasHelp keeps help text on every flag and argument.
func TestEveryFlagHasHelp(t *testing.T) {
	p, err := newParser(&env{}, func(int) {})
	if err != nil {
		t.Fatal(err)
	}
	var walk func(n *kong.Node)
	walk = func(n *kong.Node) {
		if n.Help == "" && n.Parent != nil {
			t.Errorf("command %q has no help", n.Path())
		}
		for _, f := range n.Flags {
			if f.Help == "" {
				t.Errorf("%s: flag --%s has no help", n.Path(), f.Name)
			}
		}
		for _, a := range n.Positional {
			if a.Help == "" {
				t.Errorf("%s: argument %s has no help", n.Path(), a.Name)
			}
		}
		for _, ch := range n.Children {
			walk(ch)
		}
	}
	walk(p.Model.Node)
}

const rootWords = "--addr --help --json account agent audit completion discover guide instance invite login logout master-password migrate-db openapi overview proposal register run server service status user vault version whoami"

func TestCompletions(t *testing.T) {
	p, err := newParser(&env{}, func(int) {})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		words []string
		want  string
	}{
		{"root", nil, rootWords},
		{"vault-creds", []string{"vault", "creds"}, "--addr --help --json delete list ls rm set"},
		{"flags-skipped", []string{"--json", "agent"}, "--addr --help --json create delete list ls rename revoke rm rotate set-role show"},
		{"leaf", []string{"vault", "delete", "my-app"}, "--addr --help --json --token --yes"},
		{"unknown-word-stops", []string{"nope", "vault"}, rootWords},
		{"vault-flag", []string{"vault", "creds", "list", "--vault"}, "my-app other"},
		{"vault-flag-equals", []string{"run", "--vault", "="}, "my-app other"},
		{"vault-name-arg", []string{"vault", "delete"}, "--addr --help --json --token --yes my-app other"},
		{"vault-rename-new-name", []string{"vault", "rename", "my-app"}, "--addr --help --json --token"},
		{"service-name-default-vault", []string{"service", "enable"}, "--addr --help --json --token --vault default-svc"},
		{"service-name-of-vault", []string{"vault", "service", "disable", "--vault", "my-app"}, "--addr --help --json --token --vault my-app-svc"},
		{"service-name-of-vault-equals", []string{"service", "enable", "--vault", "=", "other"}, "--addr --help --json --token --vault other-svc"},
		{"service-add-new-name", []string{"service", "add", "--vault=my-app"}, "--addr --allow-plain-http --allow-set-cookie --auth --credential --custom-header --disabled --from-catalog --header --help --host --json --key --password --prefix --token --username --vault"},
	}
	lookup := func(what nameKind, vault string) []string {
		switch what {
		case vaultNames:
			return []string{"other", "my-app"}
		case serviceNames:
			return []string{vault + "-svc"}
		}
		return nil
	}
	t.Setenv("AGENT_VAULT_VAULT", "")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := strings.Join(completions(p.Model.Node, tc.words, lookup), " ")
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/alecthomas/kong"

	"github.com/agent-vault/agent-vault/host/domain"
)

// A project binding ties a directory tree to a vault, so commands run
// anywhere inside a project use that project's vault without --vault. It
// is a small JSON file, meant to be committed with the project:
//
//	{"vault": "my-app"}
//
// Commands look for it in the current directory and then in each parent,
// as git looks for .git, and stop at the first one found.
const bindingFile = "agent-vault.json"

// vaultEnv is the environment variable that names the vault.
const vaultEnv = "AGENT_VAULT_VAULT"

// defaultVault is used when nothing names a vault.
const defaultVault = "default"

// Where the vault of a command came from, strongest first.
const (
	sourceFlag    = "flag"
	sourceEnv     = "env"
	sourceFile    = "file"
	sourceDefault = "default"
)

type binding struct {
	Vault string `json:"vault"`
}

// findBinding walks up from dir to the file-system root and returns the
// first binding file and its vault; path is empty when there is none.
func findBinding(dir string) (path, vault string, err error) {
	for {
		p := filepath.Join(dir, bindingFile)
		b, err := os.ReadFile(p)
		switch {
		case err == nil:
			var bnd binding
			if err := json.Unmarshal(b, &bnd); err != nil {
				return p, "", fmt.Errorf("%s: not a project binding: %v", p, err)
			}
			if bnd.Vault == "" {
				return p, "", fmt.Errorf(`%s names no vault: write {"vault": "NAME"} or run 'agent-vault vault use NAME'`, p)
			}
			return p, bnd.Vault, nil
		case errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrPermission):
		default:
			return p, "", err
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", "", nil
		}
		dir = parent
	}
}

// writeBinding writes dir's binding file, replacing any there.
func writeBinding(dir, vault string) (string, error) {
	p := filepath.Join(dir, bindingFile)
	b, err := json.MarshalIndent(binding{Vault: vault}, "", "  ")
	if err != nil {
		return "", err
	}
	return p, os.WriteFile(p, append(b, '\n'), 0o644)
}

// vaultFlag names the vault a command works inside. Commands that act on a
// vault itself take its name as an argument instead. Without --vault or
// AGENT_VAULT_VAULT, the project binding (agent-vault.json, found upward
// from the current directory) names it, else the vault "default".
type vaultFlag struct {
	Vault string `env:"AGENT_VAULT_VAULT" placeholder:"NAME" help:"Vault to work in (default: the project's agent-vault.json, else \"default\")."`

	// vaultSource says where Vault came from (sourceFlag…sourceDefault);
	// vaultFile is the binding file when it came from one.
	vaultSource, vaultFile string
}

// AfterApply fills in the vault from the binding or the default when
// neither the flag nor the environment named one (kong calls it after
// parsing, on every command that embeds vaultFlag).
func (v *vaultFlag) AfterApply(kctx *kong.Context) error {
	vault, source, file, err := resolveVault(kctx, v.Vault)
	if err != nil {
		return err
	}
	v.Vault, v.vaultSource, v.vaultFile = vault, source, file
	return nil
}

// resolveVault decides a command's vault: --vault, then AGENT_VAULT_VAULT,
// then the nearest binding file, then "default".
func resolveVault(kctx *kong.Context, given string) (vault, source, file string, err error) {
	if given != "" {
		if flagOnCommandLine(kctx, "vault") {
			return given, sourceFlag, "", nil
		}
		return given, sourceEnv, "", nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", "", "", err
	}
	file, vault, err = findBinding(dir)
	if err != nil {
		return "", "", "", err
	}
	if file != "" {
		return vault, sourceFile, file, nil
	}
	return defaultVault, sourceDefault, "", nil
}

// flagOnCommandLine reports whether --name was typed (before "--").
func flagOnCommandLine(kctx *kong.Context, name string) bool {
	for _, a := range kctx.Args {
		if a == "--" {
			break
		}
		if a == "--"+name || strings.HasPrefix(a, "--"+name+"=") {
			return true
		}
	}
	return false
}

// vaultOrigin says in words where the vault came from, for messages.
func (v *vaultFlag) vaultOrigin() string {
	switch v.vaultSource {
	case sourceFlag:
		return "--vault"
	case sourceEnv:
		return vaultEnv
	case sourceFile:
		return v.vaultFile
	default:
		return "the default"
	}
}

type vaultUseCmd struct {
	authFlag
	Name string `arg:"" help:"Vault to bind the current directory (and everything below it) to."`
}

func (vaultUseCmd) Help() string {
	return `Writes agent-vault.json ({"vault": "NAME"}) in the current directory. Every
command run in this directory or below it then works in NAME without
--vault: 'run', 'service', 'credential', 'proposal' and the rest. --vault
and AGENT_VAULT_VAULT still win over the file. Commit the file so the whole
team uses the same vault; delete it to unbind.

The vault must exist and be visible to you.`
}

func (u *vaultUseCmd) Run(c *apiClient, out *printer) error {
	if err := domain.CheckVaultName(u.Name); err != nil {
		return err
	}
	if _, err := decode[struct{}](c.api.GetVaultContext(c.ctx, u.Name)); err != nil {
		return err
	}
	dir, err := os.Getwd()
	if err != nil {
		return err
	}
	p, err := writeBinding(dir, u.Name)
	if err != nil {
		return err
	}
	return out.result(map[string]string{"vault": u.Name, "file": p}, func() {
		out.line("This directory now uses vault %s (%s).", u.Name, p)
	})
}

type vaultCurrentCmd struct {
	vaultFlag
}

func (vaultCurrentCmd) Help() string {
	return `Shows which vault commands run here would use and why: --vault, then
AGENT_VAULT_VAULT, then the nearest agent-vault.json in this directory or a
parent, then the vault "default". Needs no server.`
}

func (v *vaultCurrentCmd) Run(out *printer) error {
	res := map[string]string{"vault": v.Vault, "source": v.vaultSource}
	if v.vaultFile != "" {
		res["file"] = v.vaultFile
	}
	return out.result(res, func() {
		switch v.vaultSource {
		case sourceFlag:
			out.line("%s (from --vault)", v.Vault)
		case sourceEnv:
			out.line("%s (from %s)", v.Vault, vaultEnv)
		case sourceFile:
			out.line("%s (from %s)", v.Vault, v.vaultFile)
		default:
			out.line("%s (the default: no --vault, no %s, no %s here or above)", v.Vault, vaultEnv, bindingFile)
		}
	})
}

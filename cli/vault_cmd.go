package cli

import (
	"fmt"

	client "github.com/agent-vault/agent-vault/openapi/client/go"
)

type vaultCmd struct {
	Create   vaultCreateCmd   `cmd:"" help:"Create a vault (you become its admin)."`
	List     vaultListCmd     `cmd:"" aliases:"ls" help:"List the vaults you can see."`
	Show     vaultShowCmd     `cmd:"" help:"Show a vault, your role in it and its credential store."`
	Rename   vaultRenameCmd   `cmd:"" help:"Rename a vault."`
	Delete   vaultDeleteCmd   `cmd:"" help:"Delete a vault with its credentials and services (asks you to type its name)."`
	Join     vaultJoinCmd     `cmd:"" help:"Join a vault as admin (instance owners)."`
	Leave    vaultLeaveCmd    `cmd:"" help:"Give up your own role in a vault (its last admin cannot)."`
	Settings vaultSettingsCmd `cmd:"" help:"Show or change a vault's settings."`
	Use      vaultUseCmd      `cmd:"" help:"Bind the current directory to a vault (writes agent-vault.json)."`
	Current  vaultCurrentCmd  `cmd:"" help:"Show which vault applies here and why (flag, environment, agent-vault.json, default)."`

	CredentialStore credentialStoreCmd `cmd:"" name:"credential-store" help:"Show, switch and sync a vault's credential store (builtin or external)."`
	Credential      credentialCmd      `cmd:"" aliases:"creds" help:"List, set and delete a vault's credentials (values are never shown)."`
	Service         serviceCmd         `cmd:"" help:"Manage the services (hosts and how to authenticate to them) of a vault."`
	User            vaultUserCmd       `cmd:"" help:"Manage which users can use a vault, and their roles."`
	Agent           vaultAgentCmd      `cmd:"" help:"Manage which agents can use a vault, and their roles."`
	Session         vaultSessionCmd    `cmd:"" help:"Create, list and revoke scoped sessions (short-lived tokens fixed to one vault)."`
	Proposal        vaultProposalCmd   `cmd:"" help:"Review what agents proposed (services and credential slots): list, show, approve, reject."`
	Logs            vaultLogsCmd       `cmd:"" help:"Show the proxy's request log of a vault (never values)."`
	Activity        vaultActivityCmd   `cmd:"" help:"Show a vault's proxied traffic, errors, store sync health and leases over the last hour or day."`
	Explain         vaultExplainCmd    `cmd:"" help:"Explain whether a request would get credentials injected, and why."`
	Canary          vaultCanaryCmd     `cmd:"" help:"List canary credentials: bait values that block and revoke whoever sends them."`
	Run             runCmd             `cmd:"" help:"Same as 'agent-vault run': run a program through the proxy with this vault's credentials."`
}

func vaultRows(vs []client.VaultView) [][]string {
	rows := make([][]string, 0, len(vs))
	for _, v := range vs {
		role := "-"
		if v.Role != nil && *v.Role != "" {
			role = string(*v.Role)
		}
		rows = append(rows, []string{v.Name, role, when(v.CreatedAt)})
	}
	return rows
}

type vaultCreateCmd struct {
	authFlag
	Name            string `arg:"" help:"Vault name: 3-64 characters of a-z, 0-9 and single inner hyphens."`
	CredentialStore string `name:"credential-store" default:"builtin" placeholder:"KIND" help:"Where the credentials come from: builtin, or an external kind such as infisical or openbao."`
	storeFlags
}

func (vaultCreateCmd) Help() string {
	return `An external store is probed before the vault is created; if the probe fails,
nothing is created.

Examples:
  agent-vault vault create my-app --credential-store=infisical \
    --infisical-project-id=abc123 --infisical-environment=dev --infisical-path=/stripe
  agent-vault vault create my-app --credential-store=openbao \
    --store-config mount=secret --store-config path=app/stripe \
    --store-config dynamic_roles=pgrole=database/creds/readonly
  agent-vault vault create my-app --credential-store=openbao --store-config-file cfg.json`
}

func (v *vaultCreateCmd) Run(e *env, c *apiClient, out *printer) error {
	body := client.CreateVaultJSONRequestBody{Name: v.Name}
	spec, err := v.spec(v.CredentialStore, c.kindSchema)
	if err != nil {
		return err
	}
	if v.CredentialStore != builtinKind {
		body.CredentialStore = &spec
	}
	stop := progress(e, out, "Creating vault "+v.Name)
	vv, err := decode[client.VaultView](c.api.CreateVault(c.ctx, body))
	stop()
	if err != nil {
		return err
	}
	return out.result(vv, func() { out.line("Created vault %s (%s credential store).", vv.Name, v.CredentialStore) })
}

type vaultListCmd struct {
	authFlag
}

func (vaultListCmd) Run(c *apiClient, out *printer) error {
	l, err := decode[client.ListVaultsOutputBody](c.api.ListVaults(c.ctx))
	if err != nil {
		return err
	}
	return out.result(l, func() {
		out.table("No vaults.", []string{"name", "role", "created"}, vaultRows(deref(l.Vaults)))
	})
}

type vaultShowCmd struct {
	authFlag
	Name string `arg:"" help:"Vault name."`
}

func (v *vaultShowCmd) Run(c *apiClient, out *printer) error {
	ctx, err := decode[client.VaultContextOutputBody](c.api.GetVaultContext(c.ctx, v.Name))
	if err != nil {
		return err
	}
	return out.result(ctx, func() {
		cs := ctx.CredentialStore
		out.table("", []string{"name", "your role", "store", "read-only", "credentials", "created"},
			[][]string{{ctx.Vault.Name, str(ctx.Role), cs.Kind, yesNo(cs.ReadOnly), fmt.Sprint(cs.CredentialCount), when(ctx.Vault.CreatedAt)}})
	})
}

type vaultRenameCmd struct {
	authFlag
	Name    string `arg:"" help:"Current name."`
	NewName string `arg:"" help:"New name."`
}

func (v *vaultRenameCmd) Run(c *apiClient, out *printer) error {
	vv, err := decode[client.VaultView](c.api.RenameVault(c.ctx, v.Name, client.RenameVaultJSONRequestBody{Name: v.NewName}))
	if err != nil {
		return err
	}
	return out.result(vv, func() { out.line("Renamed vault %s to %s.", v.Name, vv.Name) })
}

type vaultDeleteCmd struct {
	authFlag
	Name string `arg:"" help:"Vault name."`
	Yes  bool   `help:"Do not ask to type the vault name (for scripts)."`
}

func (v *vaultDeleteCmd) Run(e *env, c *apiClient, out *printer) error {
	warning := fmt.Sprintf("Deleting vault %q removes its credentials, services and grants for good", v.Name)
	if err := confirmTyped(e, v.Yes, fmt.Sprintf("delete vault %q", v.Name), warning, v.Name); err != nil {
		return err
	}
	if _, err := decode[struct{}](c.api.DeleteVault(c.ctx, v.Name)); err != nil {
		return err
	}
	return out.result(map[string]any{"vault": v.Name, "deleted": true}, func() { out.line("Deleted vault %s.", v.Name) })
}

type vaultJoinCmd struct {
	authFlag
	Name string `arg:"" help:"Vault name."`
}

func (v *vaultJoinCmd) Run(c *apiClient, out *printer) error {
	vv, err := decode[client.VaultView](c.api.JoinVault(c.ctx, v.Name))
	if err != nil {
		return err
	}
	return out.result(vv, func() { out.line("Joined vault %s as admin.", vv.Name) })
}

type vaultLeaveCmd struct {
	authFlag
	Name string `arg:"" help:"Vault name."`
}

func (v *vaultLeaveCmd) Run(c *apiClient, out *printer) error {
	if _, err := decode[struct{}](c.api.LeaveVault(c.ctx, v.Name)); err != nil {
		return err
	}
	return out.result(map[string]any{"vault": v.Name, "left": true}, func() { out.line("Left vault %s.", v.Name) })
}

type vaultSettingsCmd struct {
	Get vaultSettingsGetCmd `cmd:"" help:"Show a vault's settings."`
	Set vaultSettingsSetCmd `cmd:"" help:"Change a vault's settings."`
}

type vaultSettingsGetCmd struct {
	authFlag
	Name string `arg:"" help:"Vault name."`
}

func printSettings(out *printer, s *client.VaultSettings) error {
	return out.result(s, func() {
		out.table("", []string{"setting", "value"}, [][]string{{"unmatched-host-policy", string(s.UnmatchedHostPolicy)}})
	})
}

func (v *vaultSettingsGetCmd) Run(c *apiClient, out *printer) error {
	s, err := decode[client.VaultSettings](c.api.GetVaultSettings(c.ctx, v.Name))
	if err != nil {
		return err
	}
	return printSettings(out, s)
}

type vaultSettingsSetCmd struct {
	authFlag
	Name                string `arg:"" help:"Vault name."`
	UnmatchedHostPolicy string `enum:"passthrough,deny," default:"" placeholder:"POLICY" help:"What the proxy does with requests that match no service: passthrough (forward untouched) or deny."`
}

func (v *vaultSettingsSetCmd) Run(c *apiClient, out *printer) error {
	var body client.UpdateVaultSettingsJSONRequestBody
	if v.UnmatchedHostPolicy != "" {
		p := client.UpdateVaultSettingsInputBodyUnmatchedHostPolicy(v.UnmatchedHostPolicy)
		body.UnmatchedHostPolicy = &p
	}
	if body.UnmatchedHostPolicy == nil {
		return usageErrorf("nothing to change: pass --unmatched-host-policy")
	}
	s, err := decode[client.VaultSettings](c.api.UpdateVaultSettings(c.ctx, v.Name, body))
	if err != nil {
		return err
	}
	return printSettings(out, s)
}

// deref turns the client's nullable lists into plain ones.
func deref[T any](p *[]T) []T {
	if p == nil {
		return nil
	}
	return *p
}

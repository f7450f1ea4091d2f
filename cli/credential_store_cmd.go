package cli

import (
	"fmt"
	"strings"

	client "github.com/agent-vault/agent-vault/openapi/client/go"
)

// storeFlags choose a vault's credential store. The infisical flags become
// the kind's per-vault config ({project_id, environment, secret_path}).
type storeFlags struct {
	InfisicalProjectID   string `name:"infisical-project-id" placeholder:"ID" help:"infisical: the project id."`
	InfisicalEnvironment string `name:"infisical-environment" placeholder:"SLUG" help:"infisical: the environment slug, such as dev or prod."`
	InfisicalPath        string `name:"infisical-path" default:"/" placeholder:"PATH" help:"infisical: the folder the secrets are in."`
	PollIntervalSeconds  int64  `name:"poll-interval-seconds" default:"60" placeholder:"N" help:"External stores: seconds between syncs (at least 10)."`
}

const builtinKind = "builtin"

// spec builds the API's CredentialStoreSpec for kind, refusing flags that
// do not belong to it.
func (f *storeFlags) spec(kind string) (client.CredentialStoreSpec, error) {
	s := client.CredentialStoreSpec{Kind: kind}
	infisicalSet := f.InfisicalProjectID != "" || f.InfisicalEnvironment != "" || f.InfisicalPath != "/"
	switch kind {
	case builtinKind:
		if infisicalSet {
			return s, usageErrorf("the --infisical-* flags only apply to an infisical store")
		}
		return s, nil
	case "infisical":
		if f.InfisicalProjectID == "" || f.InfisicalEnvironment == "" {
			return s, usageErrorf("an infisical store needs --infisical-project-id and --infisical-environment")
		}
		s.Config = map[string]string{"project_id": f.InfisicalProjectID, "environment": f.InfisicalEnvironment, "secret_path": f.InfisicalPath}
	default:
		// Other kinds come from plugins; their config is set through the
		// API until they have flags here.
		if infisicalSet {
			return s, usageErrorf("the --infisical-* flags only apply to an infisical store")
		}
	}
	s.PollIntervalSeconds = &f.PollIntervalSeconds
	return s, nil
}

type credentialStoreCmd struct {
	Show  credentialStoreShowCmd  `cmd:"" help:"Show a vault's credential store and its last sync."`
	Set   credentialStoreSetCmd   `cmd:"" help:"Switch a vault to another credential store (asks you to type the vault name)."`
	Sync  credentialStoreSyncCmd  `cmd:"" help:"Sync a vault from its external store now."`
	Kinds credentialStoreKindsCmd `cmd:"" help:"List the credential store kinds this server offers."`
}

func printStore(out *printer, vault string, s *client.Summary) error {
	return out.result(s, func() {
		rows := [][]string{
			{"vault", vault},
			{"kind", s.Kind},
			{"read-only", yesNo(s.ReadOnly)},
			{"credentials", fmt.Sprint(s.CredentialCount)},
		}
		if m, ok := s.Config.(map[string]any); ok {
			for _, k := range []string{"project_id", "environment", "secret_path"} {
				if v, ok := m[k]; ok {
					rows = append(rows, []string{strings.ReplaceAll(k, "_", "-"), fmt.Sprint(v)})
				}
			}
		}
		if s.PollIntervalSeconds != nil && s.Kind != builtinKind {
			rows = append(rows, []string{"poll-interval", fmt.Sprintf("%ds", *s.PollIntervalSeconds)})
		}
		if s.LastSyncStatus != nil {
			rows = append(rows, []string{"last-sync", string(*s.LastSyncStatus)})
		}
		if s.LastSyncedAt != nil {
			rows = append(rows, []string{"last-synced-at", when(*s.LastSyncedAt)})
		}
		if s.NextSyncAt != nil {
			rows = append(rows, []string{"next-sync-at", when(*s.NextSyncAt)})
		}
		if s.LastSyncError != nil && *s.LastSyncError != "" {
			rows = append(rows, []string{"last-sync-error", *s.LastSyncError})
		}
		out.table("", []string{"field", "value"}, rows)
	})
}

type credentialStoreShowCmd struct {
	authFlag
	Name string `arg:"" help:"Vault name."`
}

func (c *credentialStoreShowCmd) Run(api *apiClient, out *printer) error {
	s, err := decode[client.Summary](api.api.GetCredentialStore(api.ctx, c.Name))
	if err != nil {
		return err
	}
	return printStore(out, c.Name, s)
}

type credentialStoreSetCmd struct {
	authFlag
	Name string `arg:"" help:"Vault name."`
	Kind string `required:"" placeholder:"KIND" help:"builtin, or an external kind such as infisical ('vault credential-store kinds' lists them)."`
	Yes  bool   `help:"Do not ask to type the vault name (for scripts)."`
	storeFlags
}

func (credentialStoreSetCmd) Help() string {
	return `Switching to an external store makes the vault read-only: its credentials
come from the store and replace the local ones at each sync. Switching back
to builtin makes it writable again. Either way you are asked to type the
vault name, or pass --yes.

Example:
  agent-vault vault credential-store set my-app --kind=infisical \
    --infisical-project-id=abc123 --infisical-environment=dev \
    --infisical-path=/stripe --poll-interval-seconds=60`
}

func (c *credentialStoreSetCmd) Run(e *env, api *apiClient, out *printer) error {
	spec, err := c.spec(c.Kind)
	if err != nil {
		return err
	}
	current, err := decode[client.Summary](api.api.GetCredentialStore(api.ctx, c.Name))
	if err != nil {
		return err
	}
	var warning string
	switch {
	case c.Kind == builtinKind && current.Kind != builtinKind:
		warning = fmt.Sprintf("Vault %q stops syncing from %s and becomes writable; its %d credential%s stay as local copies", c.Name, current.Kind, current.CredentialCount, plural(int(current.CredentialCount)))
	case c.Kind != builtinKind:
		warning = fmt.Sprintf("Vault %q (%s, %d credential%s) will take its credentials from %s: they are replaced at every sync and local writes are refused", c.Name, current.Kind, current.CredentialCount, plural(int(current.CredentialCount)), c.Kind)
	default:
		warning = fmt.Sprintf("Vault %q stays on the built-in store", c.Name)
	}
	if err := confirmTyped(e, c.Yes, fmt.Sprintf("change the credential store of vault %q", c.Name), warning, c.Name); err != nil {
		return err
	}
	stop := progress(e, out, fmt.Sprintf("Connecting vault %s to %s", c.Name, c.Kind))
	s, err := decode[client.Summary](api.api.SetCredentialStore(api.ctx, c.Name, spec))
	stop()
	if err != nil {
		return err
	}
	if !out.json {
		out.line("Vault %s now uses the %s credential store.", c.Name, s.Kind)
	}
	return printStore(out, c.Name, s)
}

type credentialStoreSyncCmd struct {
	authFlag
	Name string `arg:"" help:"Vault name."`
}

func (c *credentialStoreSyncCmd) Run(e *env, api *apiClient, out *printer) error {
	stop := progress(e, out, "Syncing vault "+c.Name)
	s, err := decode[client.Summary](api.api.SyncVault(api.ctx, c.Name))
	stop()
	if err != nil {
		return err
	}
	if !out.json {
		out.line("Synced vault %s: %d credential%s from %s.", c.Name, s.CredentialCount, plural(int(s.CredentialCount)), s.Kind)
	}
	return printStore(out, c.Name, s)
}

type credentialStoreKindsCmd struct {
	authFlag
}

func (credentialStoreKindsCmd) Run(api *apiClient, out *printer) error {
	res, err := decode[client.ListStoreKindsOutputBody](api.api.ListCredentialStoreKinds(api.ctx))
	if err != nil {
		return err
	}
	return out.result(res, func() {
		var rows [][]string
		for _, k := range deref(res.Kinds) {
			rows = append(rows, []string{k.Kind, yesNo(k.ReadOnly), yesNo(k.Polls), yesNo(k.DynamicSecrets), str(k.Description)})
		}
		out.table("No credential store kinds.", []string{"kind", "read-only", "polls", "dynamic", "description"}, rows)
	})
}

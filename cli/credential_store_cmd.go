package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	client "github.com/agent-vault/agent-vault/openapi/client/go"
)

// storeFlags choose a vault's credential store. --store-config and
// --store-config-file set any kind's per-vault config; the infisical flags
// are shortcuts for its {project_id, environment, secret_path}.
type storeFlags struct {
	StoreConfig          map[string]string `name:"store-config" placeholder:"FIELD=VALUE" help:"A field of the kind's per-vault config (repeatable), typed by the kind's config schema: true or false, a number, or a comma-separated list."`
	StoreConfigFile      string            `name:"store-config-file" type:"existingfile" placeholder:"FILE" help:"The kind's per-vault config as a JSON object; --store-config fields override it."`
	InfisicalProjectID   string            `name:"infisical-project-id" placeholder:"ID" help:"infisical: the project id."`
	InfisicalEnvironment string            `name:"infisical-environment" placeholder:"SLUG" help:"infisical: the environment slug, such as dev or prod."`
	InfisicalPath        string            `name:"infisical-path" default:"/" placeholder:"PATH" help:"infisical: the folder the secrets are in."`
	PollIntervalSeconds  int64             `name:"poll-interval-seconds" default:"60" placeholder:"N" help:"External stores: seconds between syncs (at least 10)."`
}

const builtinKind = "builtin"

// schemaFunc returns a kind's config schema (nil when the server does not
// offer the kind: the server then refuses the request itself).
type schemaFunc func(kind string) (map[string]any, error)

// spec builds the API's CredentialStoreSpec for kind, refusing flags that
// do not belong to it. schema types --store-config values; it is called
// only when there are some.
func (f *storeFlags) spec(kind string, schema schemaFunc) (client.CredentialStoreSpec, error) {
	s := client.CredentialStoreSpec{Kind: kind}
	infisicalSet := f.InfisicalProjectID != "" || f.InfisicalEnvironment != "" || f.InfisicalPath != "/"
	generic := len(f.StoreConfig) > 0 || f.StoreConfigFile != ""
	if kind == builtinKind {
		if infisicalSet {
			return s, usageErrorf("the --infisical-* flags only apply to an infisical store")
		}
		if generic {
			return s, usageErrorf("--store-config and --store-config-file only apply to an external store")
		}
		return s, nil
	}
	if kind != "infisical" && infisicalSet {
		return s, usageErrorf("the --infisical-* flags only apply to an infisical store")
	}
	cfg := map[string]any{}
	if f.StoreConfigFile != "" {
		b, err := os.ReadFile(f.StoreConfigFile)
		if err != nil {
			return s, usageErrorf("--store-config-file: %v", err)
		}
		if err := json.Unmarshal(b, &cfg); err != nil || cfg == nil {
			return s, usageErrorf("--store-config-file %s: not a JSON object", f.StoreConfigFile)
		}
	}
	if len(f.StoreConfig) > 0 {
		var sch map[string]any
		if schema != nil {
			var err error
			if sch, err = schema(kind); err != nil {
				return s, err
			}
		}
		for _, name := range sortedKeys(f.StoreConfig) {
			v, err := typedValue(kind, sch, name, f.StoreConfig[name])
			if err != nil {
				return s, err
			}
			cfg[name] = v
		}
	}
	if kind == "infisical" && (infisicalSet || !generic) {
		if f.InfisicalProjectID == "" || f.InfisicalEnvironment == "" {
			return s, usageErrorf("an infisical store needs --infisical-project-id and --infisical-environment")
		}
		cfg["project_id"], cfg["environment"], cfg["secret_path"] = f.InfisicalProjectID, f.InfisicalEnvironment, f.InfisicalPath
	}
	if len(cfg) > 0 || kind == "infisical" {
		s.Config = cfg
	}
	s.PollIntervalSeconds = &f.PollIntervalSeconds
	return s, nil
}

// typedValue turns a --store-config value into the JSON type the kind's
// schema gives the field. Without a schema every value is a string; an
// unknown field is refused when the schema lists its fields.
func typedValue(kind string, schema map[string]any, name, raw string) (any, error) {
	props, _ := schema["properties"].(map[string]any)
	prop, known := props[name].(map[string]any)
	if !known {
		if len(props) > 0 {
			return nil, usageErrorf("--store-config %s: the %s config has no field %q (fields: %s)", name, kind, name, strings.Join(sortedKeys(props), ", "))
		}
		return raw, nil
	}
	typ, _ := prop["type"].(string)
	if ts, ok := prop["type"].([]any); ok {
		for _, x := range ts {
			if x != "null" {
				typ, _ = x.(string)
			}
		}
	}
	switch typ {
	case "boolean":
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return nil, usageErrorf("--store-config %s: want true or false, got %q", name, raw)
		}
		return b, nil
	case "integer":
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return nil, usageErrorf("--store-config %s: want a whole number, got %q", name, raw)
		}
		return n, nil
	case "number":
		n, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			return nil, usageErrorf("--store-config %s: want a number, got %q", name, raw)
		}
		return n, nil
	case "array":
		out := []string{}
		for _, part := range strings.Split(raw, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
		return out, nil
	}
	return raw, nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// kindSchema fetches a kind's config schema from the server.
func (api *apiClient) kindSchema(kind string) (map[string]any, error) {
	res, err := decode[client.ListStoreKindsOutputBody](api.api.ListCredentialStoreKinds(api.ctx))
	if err != nil {
		return nil, err
	}
	for _, k := range deref(res.Kinds) {
		if k.Kind == kind {
			m, _ := k.ConfigSchema.(map[string]any)
			return m, nil
		}
	}
	return nil, nil
}

type credentialStoreCmd struct {
	Show  credentialStoreShowCmd  `cmd:"" help:"Show a vault's credential store and its last sync."`
	Set   credentialStoreSetCmd   `cmd:"" help:"Switch a vault to another credential store (asks you to type the vault name)."`
	Sync  credentialStoreSyncCmd  `cmd:"" help:"Sync a vault from its external store now."`
	Kinds credentialStoreKindsCmd `cmd:"" help:"List the credential store kinds this server offers."`
}

// configText shows a config value: lists comma-separated.
func configText(v any) string {
	if l, ok := v.([]any); ok {
		parts := make([]string, len(l))
		for i, x := range l {
			parts[i] = fmt.Sprint(x)
		}
		return strings.Join(parts, ",")
	}
	return fmt.Sprint(v)
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
			// Infisical's fields in their usual order, then any kind's
			// fields by name.
			order := []string{"project_id", "environment", "secret_path"}
			for _, k := range sortedKeys(m) {
				if k != "project_id" && k != "environment" && k != "secret_path" {
					order = append(order, k)
				}
			}
			for _, k := range order {
				if v, ok := m[k]; ok {
					rows = append(rows, []string{strings.ReplaceAll(k, "_", "-"), configText(v)})
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
	Kind string `required:"" placeholder:"KIND" help:"builtin, or an external kind such as infisical or openbao ('vault credential-store kinds' lists them)."`
	Yes  bool   `help:"Do not ask to type the vault name (for scripts)."`
	storeFlags
}

func (credentialStoreSetCmd) Help() string {
	return `Switching to an external store makes the vault read-only: its credentials
come from the store and replace the local ones at each sync. Switching back
to builtin makes it writable again. Either way you are asked to type the
vault name, or pass --yes.

Examples:
  agent-vault vault credential-store set my-app --kind=infisical \
    --infisical-project-id=abc123 --infisical-environment=dev \
    --infisical-path=/stripe --poll-interval-seconds=60
  agent-vault vault credential-store set my-app --kind=openbao \
    --store-config mount=secret --store-config path=app/stripe`
}

func (c *credentialStoreSetCmd) Run(e *env, api *apiClient, out *printer) error {
	spec, err := c.spec(c.Kind, api.kindSchema)
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

package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/agent-vault/agent-vault/host/domain"
	client "github.com/agent-vault/agent-vault/openapi/client/go"
)

type serviceCmd struct {
	List    serviceListCmd    `cmd:"" aliases:"ls" help:"List a vault's services."`
	Add     serviceAddCmd     `cmd:"" help:"Add a service; fails if one with that name exists."`
	Set     serviceSetCmd     `cmd:"" help:"Create or replace a service from flags, or every service in a YAML file (-f)."`
	Export  serviceExportCmd  `cmd:"" help:"Print a vault's services as YAML, the shape 'service set -f' reads."`
	Remove  serviceRemoveCmd  `cmd:"" aliases:"rm" help:"Remove a service."`
	Enable  serviceEnableCmd  `cmd:"" help:"Enable a service."`
	Disable serviceDisableCmd `cmd:"" help:"Disable a service; the proxy stops injecting its credentials."`

	Catalog    serviceCatalogCmd    `cmd:"" help:"List the built-in catalog of common APIs (add one with 'service add --from-catalog ID')."`
	Discovered serviceDiscoveredCmd `cmd:"" help:"List hosts agents reached through the proxy that no service covers."`
}

// serviceFlags describe one service. Every auth field names a credential
// KEY in the vault, never a value, so these flags are safe in history.
// The API token comes from AGENT_VAULT_TOKEN or the session here, since
// --token is the bearer key.
type serviceFlags struct {
	vaultFlag
	Host           string   `placeholder:"PATTERN" help:"Hosts the service covers: api.x.com, *.x.com, host:port, host/path*."`
	Auth           string   `enum:"bearer,basic,api-key,custom,passthrough," default:"" placeholder:"TYPE" help:"How to authenticate: bearer, basic, api-key, custom or passthrough."`
	Token          string   `placeholder:"KEY" help:"bearer: credential key of the token."`
	Username       string   `placeholder:"KEY" help:"basic: credential key of the user name."`
	Password       string   `placeholder:"KEY" help:"basic: credential key of the password (optional)."`
	Key            string   `placeholder:"KEY" help:"api-key: credential key of the API key."`
	Header         string   `placeholder:"NAME" help:"api-key: header to put the key in (default X-API-Key)."`
	Prefix         string   `placeholder:"TEXT" help:"api-key: literal text put before the key, for example \"Token \"."`
	CustomHeader   []string `name:"custom-header" placeholder:"'NAME={{ KEY }}'" help:"custom: a header rendered from credential keys; repeat for several."`
	Disabled       bool     `help:"Create the service disabled."`
	AllowSetCookie bool     `name:"allow-set-cookie" help:"Let upstream Set-Cookie headers through to the agent."`
	AllowPlainHTTP bool     `name:"allow-plain-http" help:"Attach credentials to plain http:// requests to non-local hosts too (not recommended)."`
}

const serviceHelp = `Examples:
  agent-vault service set my-db --vault=my-app --host=db.internal --auth=basic \
    --username=DB_POSTGRES_USERNAME --password=DB_POSTGRES_PASSWORD
  agent-vault vault service add stripe --host=api.stripe.com --auth=bearer --token=STRIPE_KEY
  agent-vault vault service set -f services.yaml --vault=my-app

The API token is read from AGENT_VAULT_TOKEN or the login session: --token
here is the bearer credential key.`

// service builds the API's shape from flags.
func (f *serviceFlags) service(name string) (client.Service, error) {
	if f.Host == "" || f.Auth == "" {
		return client.Service{}, usageErrorf("a service needs --host and --auth (or -f FILE)")
	}
	a := client.Auth{Type: client.AuthType(f.Auth)}
	set := func(dst **string, v string) {
		if v != "" {
			*dst = &v
		}
	}
	set(&a.Token, f.Token)
	set(&a.Username, f.Username)
	set(&a.Password, f.Password)
	set(&a.Key, f.Key)
	set(&a.Header, f.Header)
	set(&a.Prefix, f.Prefix)
	if len(f.CustomHeader) > 0 {
		h := map[string]string{}
		for _, ch := range f.CustomHeader {
			k, v, ok := strings.Cut(ch, "=")
			if !ok || k == "" {
				return client.Service{}, usageErrorf("--custom-header %q is not NAME=TEMPLATE", ch)
			}
			h[k] = v
		}
		a.Headers = &h
	}
	s := client.Service{Name: name, Host: f.Host, Auth: a}
	if f.Disabled {
		s.Enabled = ptr(false)
	}
	if f.AllowSetCookie {
		s.AllowSetCookie = ptr(true)
	}
	if f.AllowPlainHTTP {
		s.AllowPlainHttp = ptr(true)
	}
	return s, nil
}

func ptr[T any](v T) *T { return &v }

func serviceRows(list []client.Service) [][]string {
	rows := make([][]string, 0, len(list))
	for _, s := range list {
		enabled := s.Enabled == nil || *s.Enabled
		rows = append(rows, []string{s.Name, s.Host, string(s.Auth.Type), authKeys(s.Auth), yesNo(enabled)})
	}
	return rows
}

// authKeys lists the credential keys an auth uses (names, not values).
func authKeys(a client.Auth) string {
	var keys []string
	for _, k := range []*string{a.Token, a.Username, a.Password, a.Key} {
		if k != nil && *k != "" {
			keys = append(keys, *k)
		}
	}
	if a.Headers != nil {
		var names []string
		for h := range *a.Headers {
			names = append(names, h+"=…")
		}
		sort.Strings(names)
		keys = append(keys, names...)
	}
	if len(keys) == 0 {
		return "-"
	}
	return strings.Join(keys, ",")
}

func listServices(c *apiClient, vault string) (*client.ServicesBody, error) {
	return decode[client.ServicesBody](c.api.ListServices(c.ctx, vault))
}

type serviceListCmd struct {
	authFlag
	vaultFlag
}

func (l *serviceListCmd) Run(c *apiClient, out *printer) error {
	res, err := listServices(c, l.Vault)
	if err != nil {
		return err
	}
	return out.result(res, func() {
		out.table(fmt.Sprintf("No services in vault %s.", l.Vault), []string{"name", "host", "auth", "keys", "enabled"}, serviceRows(deref(res.Services)))
	})
}

type serviceAddCmd struct {
	serviceFlags
	FromCatalog string   `name:"from-catalog" placeholder:"ID" help:"Take the host and auth from this catalog entry ('service catalog' lists them); only the credential keys are asked."`
	Credential  []string `name:"credential" placeholder:"KEY" help:"With --from-catalog: the vault's key for each credential the entry uses, in its order (default: asked on a terminal, else the entry's suggested key)."`
	Name        string   `arg:"" optional:"" help:"Service name, unique in the vault (with --from-catalog: default the entry's id)."`
}

func (serviceAddCmd) Help() string {
	return serviceHelp + `

From the catalog (asks only for the credential keys):
  agent-vault service add --from-catalog github --vault=my-app
  agent-vault service add --from-catalog twilio --credential=TWILIO_SID --credential=TWILIO_TOKEN`
}

func (a *serviceAddCmd) Run(e *env, c *apiClient, out *printer) error {
	var s client.Service
	var keys []string
	var err error
	switch {
	case a.FromCatalog != "":
		s, keys, err = a.fromCatalog(e, c)
	case len(a.Credential) > 0:
		err = usageErrorf("--credential goes with --from-catalog")
	case a.Name == "":
		err = usageErrorf("give a service NAME (or --from-catalog ID)")
	default:
		s, err = a.service(a.Name)
	}
	if err != nil {
		return err
	}
	a.Name = s.Name
	existing, err := listServices(c, a.Vault)
	if err != nil {
		return err
	}
	for _, e := range deref(existing.Services) {
		if e.Name == a.Name {
			return codedErrorf(exitConflict, domain.CodeAlreadyExists, "service %q already exists in vault %s; use 'service set' to replace it", a.Name, a.Vault)
		}
	}
	if err := upsertServices(c, out, a.Vault, []client.Service{s}, "Added"); err != nil {
		return err
	}
	if missing := missingKeys(c, a.Vault, keys); len(missing) > 0 && !out.json {
		out.line("Vault %s has no %s yet: agent-vault vault credential set --vault=%s %s=-", a.Vault, strings.Join(missing, ", "), a.Vault, missing[0])
	}
	return nil
}

type serviceSetCmd struct {
	serviceFlags
	File    string `short:"f" type:"existingfile" placeholder:"FILE" help:"YAML file of services in the API's shape ({services: [...]}); each is created or replaced."`
	Replace bool   `help:"With -f: the file becomes the vault's whole set of services; services not in it are removed."`
	Name    string `arg:"" optional:"" help:"Service name (not with -f)."`
}

func (serviceSetCmd) Help() string { return serviceHelp }

func (s *serviceSetCmd) Run(c *apiClient, out *printer) error {
	var list []client.Service
	switch {
	case s.File != "" && s.Name != "":
		return usageErrorf("give a service NAME with flags, or -f FILE, not both")
	case s.File != "":
		var err error
		if list, err = readServicesFile(s.File); err != nil {
			return err
		}
	case s.Name == "":
		return usageErrorf("give a service NAME with flags, or -f FILE")
	case s.Replace:
		return usageErrorf("--replace only goes with -f FILE")
	default:
		svc, err := s.service(s.Name)
		if err != nil {
			return err
		}
		list = []client.Service{svc}
	}
	if s.Replace {
		res, err := decode[client.ServicesBody](c.api.ReplaceServices(c.ctx, s.Vault, client.ReplaceServicesJSONRequestBody{Services: &list}))
		if err != nil {
			return err
		}
		return out.result(res, func() {
			out.line("Vault %s now has exactly the %d service%s of %s.", s.Vault, len(list), plural(len(list)), s.File)
		})
	}
	return upsertServices(c, out, s.Vault, list, "Set")
}

// readServicesFile checks a YAML file with the same strict rules the
// server uses, then converts it to the API's JSON shape.
func readServicesFile(path string) ([]client.Service, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	parsed, err := domain.ParseServicesYAML(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	raw, err := json.Marshal(parsed)
	if err != nil {
		return nil, err
	}
	var list []client.Service
	return list, json.Unmarshal(raw, &list)
}

func upsertServices(c *apiClient, out *printer, vault string, list []client.Service, verb string) error {
	res, err := decode[client.ServicesBody](c.api.UpsertServices(c.ctx, vault, client.UpsertServicesJSONRequestBody{Services: &list}))
	if err != nil {
		return err
	}
	return out.result(res, func() {
		names := make([]string, len(list))
		for i, s := range list {
			names[i] = s.Name
		}
		out.line("%s service%s %s in vault %s.", verb, plural(len(names)), strings.Join(names, ", "), vault)
	})
}

type serviceExportCmd struct {
	authFlag
	vaultFlag
}

func (x *serviceExportCmd) Run(c *apiClient, out *printer) error {
	res, err := listServices(c, x.Vault)
	if err != nil {
		return err
	}
	if out.json {
		return out.result(res, nil)
	}
	raw, err := json.Marshal(deref(res.Services))
	if err != nil {
		return err
	}
	var list []domain.Service
	if err := json.Unmarshal(raw, &list); err != nil {
		return err
	}
	y, err := domain.MarshalServicesYAML(list)
	if err != nil {
		return err
	}
	_, err = out.out.Write(y)
	return err
}

type serviceRemoveCmd struct {
	authFlag
	vaultFlag
	Name string `arg:"" optional:"" help:"Service name."`
	All  bool   `help:"Remove every service of the vault (asks you to type the vault name)."`
	Yes  bool   `help:"With --all: do not ask (for scripts)."`
}

func (r *serviceRemoveCmd) Run(e *env, c *apiClient, out *printer) error {
	if r.All == (r.Name != "") {
		return usageErrorf("give a service NAME, or --all")
	}
	if r.All {
		warning := fmt.Sprintf("Removing every service of vault %q stops all credential injection for it", r.Vault)
		if err := confirmTyped(e, r.Yes, fmt.Sprintf("remove every service of vault %q", r.Vault), warning, r.Vault); err != nil {
			return err
		}
		if _, err := decode[struct{}](c.api.DeleteServices(c.ctx, r.Vault)); err != nil {
			return err
		}
		return out.result(map[string]any{"vault": r.Vault, "removed_all": true}, func() {
			out.line("Removed every service from vault %s.", r.Vault)
		})
	}
	if _, err := decode[struct{}](c.api.DeleteService(c.ctx, r.Vault, r.Name)); err != nil {
		return err
	}
	return out.result(map[string]any{"vault": r.Vault, "service": r.Name, "removed": true}, func() {
		out.line("Removed service %s from vault %s.", r.Name, r.Vault)
	})
}

type serviceEnableCmd struct {
	authFlag
	vaultFlag
	Name string `arg:"" help:"Service name."`
}

func (s *serviceEnableCmd) Run(c *apiClient, out *printer) error {
	return setServiceEnabled(c, out, s.Vault, s.Name, true)
}

type serviceDisableCmd struct {
	authFlag
	vaultFlag
	Name string `arg:"" help:"Service name."`
}

func (s *serviceDisableCmd) Run(c *apiClient, out *printer) error {
	return setServiceEnabled(c, out, s.Vault, s.Name, false)
}

func setServiceEnabled(c *apiClient, out *printer, vault, name string, on bool) error {
	svc, err := decode[client.Service](c.api.UpdateService(c.ctx, vault, name, client.UpdateServiceJSONRequestBody{Enabled: on}))
	if err != nil {
		return err
	}
	return out.result(svc, func() {
		out.line("%s service %s in vault %s.", map[bool]string{true: "Enabled", false: "Disabled"}[on], name, vault)
	})
}

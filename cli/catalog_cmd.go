package cli

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/agent-vault/agent-vault/host/domain"
	client "github.com/agent-vault/agent-vault/openapi/client/go"
)

// serviceCatalogCmd lists the server's built-in service catalog.
type serviceCatalogCmd struct {
	authFlag
	Search string `arg:"" optional:"" help:"Only entries whose id, name, description or host contain this text."`
}

func (serviceCatalogCmd) Help() string {
	return `Each entry is a common API with the host and auth a service for it needs.
Add one with: agent-vault service add --from-catalog ID --vault=NAME`
}

func (l *serviceCatalogCmd) Run(c *apiClient, out *printer) error {
	res, err := decode[client.ServiceCatalogOutputBody](c.api.ListServiceCatalog(c.ctx))
	if err != nil {
		return err
	}
	var list []client.CatalogEntry
	q := strings.ToLower(l.Search)
	for _, e := range deref(res.Services) {
		if q == "" || strings.Contains(strings.ToLower(e.Id+" "+e.Name+" "+e.Description+" "+e.Service.Host), q) {
			list = append(list, e)
		}
	}
	res.Services = &list
	return out.result(res, func() {
		rows := make([][]string, 0, len(list))
		for _, e := range list {
			rows = append(rows, []string{e.Id, e.Name, e.Service.Host, string(e.Service.Auth.Type), strings.Join(catalogKeys(e), ",")})
		}
		out.table(fmt.Sprintf("No catalog entry matches %q.", l.Search), []string{"id", "name", "host", "auth", "keys"}, rows)
	})
}

func catalogKeys(e client.CatalogEntry) []string {
	var keys []string
	for _, c := range deref(e.Credentials) {
		keys = append(keys, c.Key)
	}
	return keys
}

// fromCatalog builds the service of catalog entry a.FromCatalog, asking
// (or taking from --credential) only which credential keys it uses.
func (a *serviceAddCmd) fromCatalog(e *env, c *apiClient) (client.Service, []string, error) {
	f := a.serviceFlags
	if f.Auth != "" || f.Token != "" || f.Username != "" || f.Password != "" || f.Key != "" || f.Header != "" || f.Prefix != "" || len(f.CustomHeader) > 0 {
		return client.Service{}, nil, usageErrorf("--from-catalog sets the auth: give only --credential for its keys (and --host to change the host)")
	}
	res, err := decode[client.ServiceCatalogOutputBody](c.api.ListServiceCatalog(c.ctx))
	if err != nil {
		return client.Service{}, nil, err
	}
	var entry *client.CatalogEntry
	for _, ce := range deref(res.Services) {
		if ce.Id == a.FromCatalog {
			entry = &ce
			break
		}
	}
	if entry == nil {
		return client.Service{}, nil, codedErrorf(exitNotFound, domain.CodeNotFound, "the service catalog has no entry %q; list them with 'agent-vault service catalog'", a.FromCatalog)
	}
	creds := deref(entry.Credentials)
	if len(a.Credential) > len(creds) {
		return client.Service{}, nil, usageErrorf("%s uses %d credential key%s (%s); --credential was given %d times",
			entry.Id, len(creds), plural(len(creds)), strings.Join(catalogKeys(*entry), ", "), len(a.Credential))
	}
	rename := map[string]string{}
	var keys []string
	for i, cr := range creds {
		key := cr.Key
		if i < len(a.Credential) {
			key = a.Credential[i]
		} else {
			answer, err := promptLine(e, fmt.Sprintf("Credential key for %s: %s [%s]: ", entry.Name, cr.Description, cr.Key))
			if err != nil {
				return client.Service{}, nil, err
			}
			if answer != "" {
				key = answer
			}
		}
		if err := domain.CheckKey(key); err != nil {
			return client.Service{}, nil, err
		}
		rename[cr.Key] = key
		keys = append(keys, key)
	}
	svc := renameKeys(entry.Service, rename)
	svc.Name = a.Name
	if svc.Name == "" {
		svc.Name = entry.Id
	}
	if f.Host != "" {
		svc.Host = f.Host
	}
	if f.Disabled {
		svc.Enabled = ptr(false)
	}
	if f.AllowSetCookie {
		svc.AllowSetCookie = ptr(true)
	}
	if f.AllowPlainHTTP {
		svc.AllowPlainHttp = ptr(true)
	}
	return svc, keys, nil
}

// renameKeys returns svc with every credential key reference renamed by
// rename (keys not in it stay).
func renameKeys(svc client.Service, rename map[string]string) client.Service {
	to := func(p *string) *string {
		if p == nil {
			return nil
		}
		if n, ok := rename[*p]; ok {
			return &n
		}
		return p
	}
	a := svc.Auth
	a.Token, a.Username, a.Password, a.Key = to(a.Token), to(a.Username), to(a.Password), to(a.Key)
	if a.Headers != nil {
		h := make(map[string]string, len(*a.Headers))
		for name, tmpl := range *a.Headers {
			h[name] = templateRef.ReplaceAllStringFunc(tmpl, func(ref string) string {
				k := templateRef.FindStringSubmatch(ref)[1]
				if n, ok := rename[k]; ok {
					k = n
				}
				return "{{ " + k + " }}"
			})
		}
		a.Headers = &h
	}
	svc.Auth = a
	if svc.Substitutions != nil {
		subs := make([]client.Substitution, len(*svc.Substitutions))
		for i, s := range *svc.Substitutions {
			if n, ok := rename[s.Key]; ok {
				s.Key = n
			}
			subs[i] = s
		}
		svc.Substitutions = &subs
	}
	return svc
}

// templateRef is one {{ KEY }} reference of a custom-header template.
var templateRef = regexp.MustCompile(`\{\{\s*([A-Z][A-Z0-9_]*)\s*\}\}`)

// missingKeys lists the keys the vault has no credential for, so the
// command can say what to set next; nil when the list cannot be read.
func missingKeys(c *apiClient, vault string, keys []string) []string {
	res, err := decode[client.ListCredentialsOutputBody](c.api.ListCredentials(c.ctx, &client.ListCredentialsParams{Vault: vault}))
	if err != nil {
		return nil
	}
	have := map[string]bool{}
	for _, cv := range deref(res.Credentials) {
		have[cv.Key] = true
	}
	var missing []string
	for _, k := range keys {
		if !have[k] {
			missing = append(missing, k)
		}
	}
	return missing
}

// serviceDiscoveredCmd lists the hosts agents reached without a service.
type serviceDiscoveredCmd struct {
	authFlag
	vaultFlag
}

func (serviceDiscoveredCmd) Help() string {
	return `The proxy counts, per vault, the hosts agents reached that no service
covers (host only: never a path or a value). A host a service covers
drops off the list. CATALOG names the catalog entry for the host, if any:
  agent-vault service add --from-catalog ID --vault=NAME`
}

func (d *serviceDiscoveredCmd) Run(c *apiClient, out *printer) error {
	res, err := decode[client.DiscoveredHostsOutputBody](c.api.ListDiscoveredHosts(c.ctx, d.Vault))
	if err != nil {
		return err
	}
	return out.result(res, func() {
		var rows [][]string
		for _, h := range deref(res.Hosts) {
			rows = append(rows, []string{h.Host, fmt.Sprint(h.Count), when(h.LastSeen), str(h.CatalogId)})
		}
		out.table(fmt.Sprintf("No hosts without a service seen in vault %s.", res.Vault), []string{"host", "requests", "last seen", "catalog"}, rows)
	})
}

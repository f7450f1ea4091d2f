package cli

import (
	"bufio"
	"fmt"
	"sort"
	"strings"

	client "github.com/agent-vault/agent-vault/openapi/client/go"
)

type credentialCmd struct {
	List   credentialListCmd   `cmd:"" aliases:"ls" help:"List credential keys, their type and source (never their values)."`
	Set    credentialSetCmd    `cmd:"" help:"Set credentials: KEY=VALUE, or KEY=- to read the value from standard input."`
	Delete credentialDeleteCmd `cmd:"" aliases:"rm" help:"Delete credentials by key."`
}

type credentialListCmd struct {
	authFlag
	vaultFlag
}

func (l *credentialListCmd) Run(c *apiClient, out *printer) error {
	res, err := decode[client.ListCredentialsOutputBody](c.api.ListCredentials(c.ctx, &client.ListCredentialsParams{Vault: l.Vault}))
	if err != nil {
		return err
	}
	return out.result(res, func() {
		var rows [][]string
		for _, cr := range deref(res.Credentials) {
			updated := "-"
			if cr.UpdatedAt != nil {
				updated = when(*cr.UpdatedAt)
			}
			rows = append(rows, []string{cr.Key, string(cr.Type), cr.Source, updated})
		}
		out.table(fmt.Sprintf("No credentials in vault %s.", res.Vault), []string{"key", "type", "source", "updated"}, rows)
	})
}

type credentialSetCmd struct {
	authFlag
	vaultFlag
	Pairs      []string `arg:"" name:"KEY=VALUE" help:"Credentials to set. KEY=- reads the value from standard input (the whole input for one such key, one line each for several), so it stays out of shell history."`
	AllowEmpty bool     `name:"allow-empty" help:"Store empty values; without it an empty value (usually an unset variable) is refused with empty_credential_value."`
}

func (credentialSetCmd) Help() string {
	return `Examples:
  agent-vault vault credential set --vault=my-app STRIPE_KEY=-  < stripe.key
  printf '%s\n%s\n' "$USER_NAME" "$USER_PASS" | agent-vault vault creds set DB_USER=- DB_PASS=-`
}

func (s *credentialSetCmd) Run(e *env, c *apiClient, out *printer) error {
	values, err := parsePairs(e, s.Pairs)
	if err != nil {
		return err
	}
	res, err := decode[client.KeysOutputBody](c.api.SetCredentials(c.ctx, client.SetCredentialsJSONRequestBody{Vault: s.Vault, Credentials: values, AllowEmpty: &s.AllowEmpty}))
	if err != nil {
		return err
	}
	return out.result(res, func() {
		keys := deref(res.Keys)
		out.line("Set %d credential%s in vault %s: %s.", len(keys), plural(len(keys)), res.Vault, strings.Join(keys, ", "))
	})
}

// parsePairs splits KEY=VALUE arguments and fills KEY=- values from stdin.
// Error messages name keys only, never values.
func parsePairs(e *env, pairs []string) (map[string]string, error) {
	values := make(map[string]string, len(pairs))
	var fromStdin []string
	for i, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			// The argument is not echoed: it may be a value typed alone.
			return nil, usageErrorf("argument %d is not KEY=VALUE (use KEY=- to read the value from standard input)", i+1)
		}
		if _, dup := values[k]; dup {
			return nil, usageErrorf("key %s is given twice", k)
		}
		values[k] = v
		if v == "-" {
			fromStdin = append(fromStdin, k)
		}
	}
	switch len(fromStdin) {
	case 0:
	case 1:
		v, err := readAllStdin(e, "the value of "+fromStdin[0])
		if err != nil {
			return nil, err
		}
		values[fromStdin[0]] = v
	default:
		r := bufio.NewReader(e.Stdin)
		for _, k := range fromStdin {
			line, err := r.ReadString('\n')
			if err != nil && line == "" {
				return nil, fmt.Errorf("reading the value of %s from standard input: one line per KEY=- is needed", k)
			}
			values[k] = strings.TrimRight(line, "\r\n")
		}
	}
	return values, nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

type credentialDeleteCmd struct {
	authFlag
	vaultFlag
	Keys []string `arg:"" name:"KEY" help:"Keys to delete."`
}

func (d *credentialDeleteCmd) Run(c *apiClient, out *printer) error {
	keys := append([]string(nil), d.Keys...)
	sort.Strings(keys)
	res, err := decode[client.KeysOutputBody](c.api.DeleteCredentials(c.ctx, client.DeleteCredentialsJSONRequestBody{Vault: d.Vault, Keys: &keys}))
	if err != nil {
		return err
	}
	return out.result(res, func() {
		k := deref(res.Keys)
		out.line("Deleted %d credential%s from vault %s: %s.", len(k), plural(len(k)), res.Vault, strings.Join(k, ", "))
	})
}

package main

import (
	"context"
	"sort"

	"github.com/agent-vault/agent-vault/sdk"
)

// validKey reports whether k matches ^[A-Z][A-Z0-9_]*$ (the host also
// bounds the length). A byte loop: it is hot in large syncs, and package
// regexp would add about 260 KB to the plugin.
func validKey(k string) bool {
	if k == "" || k[0] < 'A' || k[0] > 'Z' {
		return false
	}
	for i := 1; i < len(k); i++ {
		if c := k[i]; !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// listPath is the list-secrets call of wire doc §5.2, with every query
// parameter the SDK sends.
func listPath(c config) string {
	return "/v3/secrets/raw?" + query("workspaceId", c.ProjectID, "workspaceSlug", "", "environment", c.Environment,
		"secretPath", c.SecretPath, "expandSecretReferences", "true", "include_imports", "false", "recursive", "false")
}

func (store) Sync(ctx context.Context, req sdk.Request) (map[string]string, error) {
	c, err := parseConfig(req.Config)
	if err != nil {
		return nil, err
	}
	return fetch(ctx, req.Env, c)
}

// fetch lists the folder's secrets. One key that breaks the key rule fails
// the whole snapshot, naming the key (the host checks again).
func fetch(ctx context.Context, env map[string]string, c config) (map[string]string, error) {
	what := "listing secrets at " + where(c)
	var raw []byte
	keep := func(body []byte) error { raw = body; return nil }
	if err := authed(ctx, env, "GET", listPath(c), nil, keep, what); err != nil {
		return nil, err
	}
	secrets, err := parseSecretList(raw)
	if err != nil {
		return nil, sdk.Errorf(sdk.CodeUnreachable, "%s: malformed answer from Infisical: %v", what, err)
	}
	out := make(map[string]string, len(secrets))
	var bad []string
	for _, s := range secrets {
		if !validKey(s.key) {
			bad = append(bad, s.key)
			continue
		}
		out[s.key] = s.value
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return nil, sdk.Errorf(sdk.CodeInvalidKey, "Infisical key %q at %s does not match ^[A-Z][A-Z0-9_]*$ (%d bad keys); rename it upstream", bad[0], where(c), len(bad))
	}
	return out, nil
}

// where names a vault's source in messages.
func where(c config) string {
	return "project " + c.ProjectID + ", environment " + c.Environment + ", path " + c.SecretPath
}

// Probe runs the sync fetch, then checks what older servers answer with
// an empty list rather than 404: the environment (project lookup) and the
// folder (the dynamic-secret list fails for a missing folder on every
// version, wire doc §3.3).
func (store) Probe(ctx context.Context, req sdk.Request) error {
	c, err := parseConfig(req.Config)
	if err != nil {
		return err
	}
	if _, err := fetch(ctx, req.Env, c); err != nil {
		return err
	}
	p, err := project(ctx, req.Env, c.ProjectID)
	if err != nil {
		// Older servers refuse project lookups by machine identities; the
		// fetch above already proved access.
		if e, ok := err.(*sdk.Error); ok && e.Code == sdk.CodeForbidden {
			return nil
		}
		return err
	}
	if len(p.Environments) > 0 && !p.hasEnv(c.Environment) {
		return sdk.Errorf(sdk.CodeNotFound, "environment %q does not exist in project %s", c.Environment, c.ProjectID)
	}
	var d dynamicListAnswer
	what := "checking the folder at " + where(c)
	err = authedRaw(ctx, req.Env, "GET", dynamicListPath(p.Slug, c), nil, d.decode, what)
	if ue, ok := err.(*upstreamError); ok && (ue.status == 404 || ue.status == 400) {
		// 404 on current servers, 400 "Folder not found" on older ones.
		return sdk.Errorf(sdk.CodeNotFound, "%s: %s", what, ue.describe())
	}
	return nil
}

package main

import (
	"context"
	"sort"
	"strings"

	"github.com/agent-vault/agent-vault/sdk"
	"github.com/agent-vault/agent-vault/sdk/abi"
	"github.com/agent-vault/agent-vault/sdk/sdkjson"
)

// dataNamespace is the namespace a vault's calls go to.
func dataNamespace(env map[string]string, c config) string {
	if c.Namespace != "" {
		return c.Namespace
	}
	return loginNamespace(env)
}

// secretPath is the read route of a secret (wire doc §2.1, §2.4).
func secretPath(c config, p string) string {
	if c.KVVersion == 1 {
		return escapePath(c.Mount) + "/" + escapePath(p)
	}
	return escapePath(c.Mount) + "/data/" + escapePath(p)
}

// listPath is the list route below a path (wire doc §2.3, §2.4), as the
// official client sends it.
func listPath(c config, p string) string {
	if c.KVVersion == 1 {
		return escapePath(c.Mount) + "/" + escapePath(p) + "?list=true"
	}
	return escapePath(c.Mount) + "/metadata/" + escapePath(p) + "?list=true"
}

// readSecret reads the latest version of one secret. found is false when
// nothing live is stored there: never written, or its latest version
// deleted or destroyed (a 404 with an envelope, wire doc §2.2).
func readSecret(ctx context.Context, env map[string]string, c config, p string, each func(k, v string)) (found bool, err error) {
	what := "reading " + where(c, p)
	raw, err := authed(ctx, env, call{method: "GET", path: secretPath(c, p), namespace: dataNamespace(env, c), what: what})
	if ue, ok := err.(*upstreamError); ok && ue.status == 404 && !ue.says("namespace not found") {
		return false, nil
	}
	if err != nil {
		return false, mapError(err, what)
	}
	err = decodeEnvelope(raw, func(r *sdkjson.Reader, key string) error {
		if key != "data" {
			return r.Skip()
		}
		if c.KVVersion == 1 {
			found = true
			return readValues(r, each)
		}
		if r.Null() {
			return nil
		}
		return r.Object(func(k []byte) error {
			if string(k) != "data" {
				return r.Skip()
			}
			found = !r.Null()
			if !found {
				return nil
			}
			return readValues(r, each)
		})
	})
	if err != nil {
		return false, malformed(what, err)
	}
	return found, nil
}

// listSecrets lists the secrets directly below p (folders, which end in
// "/", are left out: recursion goes one level). Nothing there is an empty
// list (404 {"errors":[]}, wire doc §2.3).
func listSecrets(ctx context.Context, env map[string]string, c config, p string) ([]string, error) {
	what := "listing " + where(c, p)
	raw, err := authed(ctx, env, call{method: "GET", path: listPath(c, p), namespace: dataNamespace(env, c), what: what})
	if ue, ok := err.(*upstreamError); ok && ue.status == 404 && !ue.says("namespace not found") {
		return nil, nil
	}
	if err != nil {
		return nil, mapError(err, what)
	}
	var keys []string
	err = decodeEnvelope(raw, func(r *sdkjson.Reader, key string) error {
		if key != "data" || r.Null() {
			return r.Skip()
		}
		return r.Object(func(k []byte) error {
			if string(k) != "keys" {
				return r.Skip()
			}
			return readStrings(r, &keys)
		})
	})
	if err != nil {
		return nil, malformed(what, err)
	}
	out := keys[:0]
	for _, k := range keys {
		if k != "" && !strings.HasSuffix(k, "/") && cleanPath(k) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out, nil
}

// where names a secret in messages.
func where(c config, p string) string {
	s := "secret " + c.Mount + "/" + p
	if c.Namespace != "" {
		s += " in namespace " + c.Namespace
	}
	return s
}

func (store) Sync(ctx context.Context, req sdk.Request) (map[string]string, error) {
	c, err := parseConfig(req.Config)
	if err != nil {
		return nil, err
	}
	snap, _, err := fetch(ctx, req.Env, c)
	return snap, err
}

// fetch reads the vault's secret and, when recursive, the secrets one
// level below it, into one snapshot. found counts the live secrets read.
// A key that breaks the key rule, or that two secrets both define, fails
// the whole snapshot, naming the key (the host checks again).
func fetch(ctx context.Context, env map[string]string, c config) (map[string]string, int, error) {
	out := map[string]string{}
	from := map[string]string{} // key → the secret that defined it
	var bad []string
	var clash string
	add := func(p string) func(k, v string) {
		return func(k, v string) {
			if !abi.ValidKey(k) {
				bad = append(bad, k)
				return
			}
			if prev, dup := from[k]; dup && clash == "" {
				clash = "key " + k + " is defined by both " + c.Mount + "/" + prev + " and " + c.Mount + "/" + p
			}
			out[k], from[k] = v, p
		}
	}
	found := 0
	ok, err := readSecret(ctx, env, c, c.Path, add(c.Path))
	if err != nil {
		return nil, 0, err
	}
	if ok {
		found++
	}
	if c.Recursive {
		children, err := listSecrets(ctx, env, c, c.Path)
		if err != nil {
			return nil, 0, err
		}
		for _, child := range children {
			p := c.Path + "/" + child
			ok, err := readSecret(ctx, env, c, p, add(p))
			if err != nil {
				return nil, 0, err
			}
			if ok {
				found++
			}
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return nil, found, sdk.Errorf(sdk.CodeInvalidKey, "OpenBao key %q at %s does not match ^[A-Z][A-Z0-9_]*$ (%d bad keys); rename it upstream", bad[0], where(c, c.Path), len(bad))
	}
	if clash != "" {
		return nil, found, sdk.Errorf(sdk.CodeInvalidKey, "%s; rename one upstream", clash)
	}
	return out, found, nil
}

// Probe reads what a sync reads and fails when nothing is there: a path
// with no live secret (and, when recursive, none below it) is not found.
func (store) Probe(ctx context.Context, req sdk.Request) error {
	c, err := parseConfig(req.Config)
	if err != nil {
		return err
	}
	_, found, err := fetch(ctx, req.Env, c)
	if err != nil {
		return err
	}
	if found == 0 {
		return sdk.Errorf(sdk.CodeNotFound, "no secret at %s (check the mount, the path and kv_version)", where(c, c.Path))
	}
	return nil
}

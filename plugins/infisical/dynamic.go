package main

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/agent-vault/agent-vault/sdk"
	"github.com/agent-vault/agent-vault/sdk/abi"
	"github.com/agent-vault/agent-vault/sdk/sdkjson"
)

// projectInfo is what the project lookup gives: the slug the dynamic-secret
// routes need and the environment slugs.
type projectInfo struct {
	Slug         string
	Environments []string
	at           time.Time
}

func (p projectInfo) hasEnv(env string) bool {
	for _, e := range p.Environments {
		if e == env {
			return true
		}
	}
	return false
}

// slugTTL bounds how long a project lookup is reused, so a renamed slug
// heals.
const slugTTL = time.Hour

var (
	projMu   sync.Mutex
	projects = map[string]projectInfo{} // INFISICAL_URL + project ID → info
)

// project resolves a project ID (wire doc §5.3), cached per instance.
func project(ctx context.Context, env map[string]string, id string) (projectInfo, error) {
	key := env[envURL] + "\x00" + id
	now := clock()
	projMu.Lock()
	p, ok := projects[key]
	projMu.Unlock()
	if ok && now.Sub(p.at) < slugTTL {
		return p, nil
	}
	var slug string
	var envs []string
	decode := func(body []byte) error {
		return decodeAnswer(body, members{{"workspace", object(members{
			{"slug", str(&slug)},
			{"environments", array(func() { envs = nil }, func(r *sdkjson.Reader) error {
				var e string
				err := readObject(r, members{{"slug", str(&e)}})
				envs = append(envs, e)
				return err
			})},
		})}})
	}
	if err := authed(ctx, env, "GET", "/v1/workspace/"+pathEscape(id), nil, decode, "looking up project "+id); err != nil {
		return p, err
	}
	if slug == "" {
		return p, sdk.Errorf(sdk.CodeUnreachable, "looking up project %s: Infisical answered without a slug", id)
	}
	p = projectInfo{Slug: slug, Environments: envs, at: now}
	projMu.Lock()
	projects[key] = p
	projMu.Unlock()
	return p, nil
}

type dynamicListAnswer struct {
	DynamicSecrets []dynamicSecretWire
}

type dynamicSecretWire struct{ Name, Type, DefaultTTL string }

func (a *dynamicListAnswer) decode(body []byte) error {
	return decodeAnswer(body, members{{"dynamicSecrets", array(func() { a.DynamicSecrets = nil }, func(r *sdkjson.Reader) error {
		var d dynamicSecretWire
		err := readObject(r, members{{"name", str(&d.Name)}, {"type", str(&d.Type)}, {"defaultTTL", str(&d.DefaultTTL)}})
		a.DynamicSecrets = append(a.DynamicSecrets, d)
		return err
	})}})
}

func dynamicListPath(slug string, c config) string {
	return "/v1/dynamic-secrets?" + query("projectSlug", slug, "environmentSlug", c.Environment, "path", c.SecretPath)
}

// scope is the request context of the dynamic-secret routes.
func scope(ctx context.Context, req sdk.Request) (config, projectInfo, error) {
	c, err := parseConfig(req.Config)
	if err != nil {
		return c, projectInfo{}, err
	}
	p, err := project(ctx, req.Env, c.ProjectID)
	return c, p, err
}

// ListDynamic lists the dynamic secrets at the vault's path. Their fields
// are unknown until a lease is minted, so Fields stays empty and the host
// maps keys by the secret's name prefix.
func (store) ListDynamic(ctx context.Context, req sdk.Request) ([]sdk.DynamicSecret, error) {
	c, p, err := scope(ctx, req)
	if err != nil {
		return nil, err
	}
	var a dynamicListAnswer
	if err := authed(ctx, req.Env, "GET", dynamicListPath(p.Slug, c), nil, a.decode, "listing dynamic secrets at "+where(c)); err != nil {
		return nil, err
	}
	out := make([]sdk.DynamicSecret, 0, len(a.DynamicSecrets))
	for _, d := range a.DynamicSecrets {
		ttl, _ := parseMS(d.DefaultTTL)
		out = append(out, sdk.DynamicSecret{Name: d.Name, Description: d.Type, TTLSeconds: int64(ttl / time.Second), Renewable: true})
	}
	return out, nil
}

type leaseWire struct {
	ID       string
	ExpireAt time.Time
	Status   *string
}

func (l *leaseWire) members() members {
	return members{{"id", str(&l.ID)}, {"expireAt", timestamp(&l.ExpireAt, "lease.expireAt")}, {"status", strPtr(&l.Status)}}
}

func (store) LeaseCreate(ctx context.Context, req sdk.Request, name string) (sdk.Lease, error) {
	c, p, err := scope(ctx, req)
	if err != nil {
		return sdk.Lease{}, err
	}
	body := jsonObject(map[string]any{"dynamicSecretName": name, "projectSlug": p.Slug, "ttl": "", "path": c.SecretPath, "environmentSlug": c.Environment, "config": nil})
	var (
		lease      leaseWire
		defaultTTL string
		data       map[string]string // credential texts of the values
	)
	decode := func(body []byte) error {
		return decodeAnswer(body, members{
			{"lease", object(lease.members())},
			{"dynamicSecret", object(members{{"defaultTTL", str(&defaultTTL)}})},
			{"data", valueTexts(&data)},
		})
	}
	err = authed(ctx, req.Env, "POST", "/v1/dynamic-secrets/leases", body, decode, "leasing dynamic secret "+name)
	if e, ok := err.(*sdk.Error); ok && e.Code == sdk.CodeNotFound && strings.Contains(e.Message, "Dynamic secret with name") {
		return sdk.Lease{}, sdk.Errorf(sdk.CodeCredentialNotFound, "%s", e.Message)
	}
	if err != nil {
		return sdk.Lease{}, err
	}
	if lease.ID == "" {
		return sdk.Lease{}, sdk.Errorf(sdk.CodeUnreachable, "leasing dynamic secret %s: Infisical answered without a lease ID", name)
	}
	ttl := ttlOf(lease.ExpireAt)
	if lease.ExpireAt.IsZero() {
		d, _ := parseMS(defaultTTL)
		ttl = int64(d / time.Second)
	}
	if ttl <= 0 {
		return sdk.Lease{}, sdk.Errorf(sdk.CodeUnreachable, "leasing dynamic secret %s: Infisical answered with a lease that has no time left", name)
	}
	return sdk.Lease{LeaseID: lease.ID, Values: leaseValues(name, data), TTLSeconds: ttl, Renewable: true}, nil
}

func (store) LeaseRenew(ctx context.Context, req sdk.Request, leaseID string) (sdk.Lease, error) {
	c, p, err := scope(ctx, req)
	if err != nil {
		return sdk.Lease{}, err
	}
	body := jsonObject(map[string]any{"leaseId": leaseID, "ttl": "", "projectSlug": p.Slug, "path": c.SecretPath, "environmentSlug": c.Environment, "isForced": false})
	var lease leaseWire
	decode := func(body []byte) error { return decodeAnswer(body, members{{"lease", object(lease.members())}}) }
	err = authed(ctx, req.Env, "POST", "/v1/dynamic-secrets/leases/"+pathEscape(leaseID)+"/renew", body, decode, "renewing lease "+leaseID)
	if err != nil {
		return sdk.Lease{}, leaseErr(err)
	}
	ttl := ttlOf(lease.ExpireAt)
	if ttl <= 0 {
		// The host then mints a new lease and revokes this one.
		return sdk.Lease{}, sdk.Errorf(sdk.CodeUnreachable, "renewing lease %s: Infisical answered with no time left", leaseID)
	}
	return sdk.Lease{LeaseID: leaseID, TTLSeconds: ttl, Renewable: true}, nil
}

// LeaseRevoke deletes a lease. A 200 whose lease reads "Failed to delete"
// counts as revoked: Infisical keeps retrying the provider revoke itself.
func (store) LeaseRevoke(ctx context.Context, req sdk.Request, leaseID string) error {
	c, p, err := scope(ctx, req)
	if err != nil {
		return err
	}
	body := jsonObject(map[string]any{"leaseId": leaseID, "projectSlug": p.Slug, "path": c.SecretPath, "environmentSlug": c.Environment, "isForced": false})
	var lease leaseWire
	decode := func(body []byte) error { return decodeAnswer(body, members{{"lease", object(lease.members())}}) }
	err = authed(ctx, req.Env, "DELETE", "/v1/dynamic-secrets/leases/"+pathEscape(leaseID), body, decode, "revoking lease "+leaseID)
	if err != nil {
		return leaseErr(err)
	}
	if lease.Status != nil && *lease.Status != "" {
		sdk.Log(sdk.LevelWarn, "Infisical could not revoke the lease at the provider yet; it retries on its own", "lease_id", leaseID, "status", *lease.Status)
	}
	return nil
}

// leaseErr turns "no such lease" into CodeLeaseNotFound.
func leaseErr(err error) error {
	if e, ok := err.(*sdk.Error); ok && e.Code == sdk.CodeNotFound && strings.Contains(e.Message, "lease") {
		return sdk.Errorf(sdk.CodeLeaseNotFound, "%s", e.Message)
	}
	return err
}

// ttlOf is the seconds left until expireAt by the host's clock (0 when
// unknown or past).
func ttlOf(expireAt time.Time) int64 {
	if expireAt.IsZero() {
		return 0
	}
	return max(0, int64(expireAt.Sub(clock())/time.Second))
}

// leaseValues maps a lease's data, already as credential texts (see
// valueText), to credential keys <NAME>_<FIELD> (upper-snake), wire doc
// §5.4. Fields whose key part is not a valid key, or that collide after
// sanitising, are dropped and logged by name.
func leaseValues(name string, data map[string]string) map[string]string {
	prefix, ok := keyPart(name)
	out := map[string]string{}
	if !ok {
		sdk.Log(sdk.LevelWarn, "dynamic secret name cannot be a key prefix; no keys", "secret", name)
		return out
	}
	var dropped []string
	for _, f := range sdkjson.SortedKeys(data) {
		part, ok := keyPart(f)
		key := prefix + "_" + part
		if _, dup := out[key]; !ok || dup {
			dropped = append(dropped, f)
			continue
		}
		out[key] = data[f]
	}
	if len(dropped) > 0 {
		sdk.Log(sdk.LevelWarn, "dynamic secret fields dropped: not usable as keys", "secret", name, "fields", strings.Join(dropped, ","))
	}
	return out
}

// keyPart trims, upper-cases and maps '-', ' ', '.', '/' to '_'; ok when
// the result is a valid key. It is the host's rule for dynamic-secret key
// prefixes, applied to fields too.
func keyPart(s string) (string, bool) { return abi.DynamicKeyPrefix(s) }

// parseMS parses Infisical's TTL strings ("30s", "10m", "1h", "7d", a bare
// number of milliseconds).
func parseMS(s string) (time.Duration, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false
	}
	units := map[string]time.Duration{"ms": time.Millisecond, "s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour, "w": 7 * 24 * time.Hour, "y": 365*24*time.Hour + 6*time.Hour}
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	n, err := strconv.ParseFloat(s[:i], 64)
	if err != nil || n < 0 {
		return 0, false
	}
	u := strings.ToLower(strings.TrimSpace(s[i:]))
	if u == "" {
		u = "ms"
	}
	d, ok := units[u]
	if !ok {
		return 0, false
	}
	return time.Duration(n * float64(d)), true
}

package main

import (
	"context"
	"strings"

	"github.com/agent-vault/agent-vault/sdk"
	"github.com/agent-vault/agent-vault/sdk/abi"
	"github.com/agent-vault/agent-vault/sdk/sdkjson"
)

// sdkKeyPrefix upper-cases a role name into a key prefix (the host's rule
// for dynamic-secret prefixes).
func sdkKeyPrefix(s string) (string, bool) { return abi.DynamicKeyPrefix(s) }

// ListDynamic lists the vault's configured roles. Their fields are unknown
// until a lease is minted, so Fields stays empty and the host maps keys by
// the role's name prefix.
func (store) ListDynamic(_ context.Context, req sdk.Request) ([]sdk.DynamicSecret, error) {
	c, err := parseConfig(req.Config)
	if err != nil {
		return nil, err
	}
	out := make([]sdk.DynamicSecret, 0, len(c.Roles))
	for _, ro := range c.Roles {
		out = append(out, sdk.DynamicSecret{Name: ro.Name, Description: ro.Path, Renewable: true})
	}
	return out, nil
}

// leaseAnswer is the lease part of the envelope (wire doc §4.1, §4.3).
type leaseAnswer struct {
	id        string
	ttl       int64
	renewable bool
	data      map[string]string
}

func decodeLease(raw []byte, withData bool) (leaseAnswer, error) {
	var a leaseAnswer
	err := decodeEnvelope(raw, func(r *sdkjson.Reader, key string) error {
		switch key {
		case "lease_id":
			return readStr(r, &a.id)
		case "lease_duration":
			return readInt(r, &a.ttl)
		case "renewable":
			return readBool(r, &a.renewable)
		case "data":
			if withData {
				a.data = map[string]string{}
				return readValues(r, func(k, v string) { a.data[k] = v })
			}
		}
		return r.Skip()
	})
	return a, err
}

// LeaseCreate reads the role's path, which mints credentials and a lease
// (e.g. GET database/creds/<role>). Each field of the answer becomes
// <NAME>_<FIELD>.
func (store) LeaseCreate(ctx context.Context, req sdk.Request, name string) (sdk.Lease, error) {
	c, err := parseConfig(req.Config)
	if err != nil {
		return sdk.Lease{}, err
	}
	var ro *role
	for i := range c.Roles {
		if c.Roles[i].Name == name {
			ro = &c.Roles[i]
		}
	}
	if ro == nil {
		return sdk.Lease{}, sdk.Errorf(sdk.CodeCredentialNotFound, "no dynamic role %q in this vault's dynamic_roles", name)
	}
	what := "minting " + ro.Path
	raw, err := authed(ctx, req.Env, call{method: "GET", path: escapePath(ro.Path), namespace: dataNamespace(req.Env, c), what: what})
	if err != nil {
		return sdk.Lease{}, mapError(err, what)
	}
	a, err := decodeLease(raw, true)
	if err != nil {
		return sdk.Lease{}, malformed(what, err)
	}
	if a.id == "" || a.ttl <= 0 {
		return sdk.Lease{}, sdk.Errorf(sdk.CodeUnreachable, "%s: OpenBao answered without a lease; dynamic_roles must name a path that returns one", what)
	}
	return sdk.Lease{LeaseID: a.id, Values: leaseValues(name, a.data), TTLSeconds: a.ttl, Renewable: a.renewable}, nil
}

// LeaseRenew extends a lease through sys/leases/renew (wire doc §4.3).
// A lease whose TTL stops growing runs into its max TTL; the host then
// mints a new one.
func (store) LeaseRenew(ctx context.Context, req sdk.Request, leaseID string) (sdk.Lease, error) {
	c, err := parseConfig(req.Config)
	if err != nil {
		return sdk.Lease{}, err
	}
	what := "renewing lease " + leaseID
	raw, err := authed(ctx, req.Env, call{method: "PUT", path: "sys/leases/renew", namespace: dataNamespace(req.Env, c),
		body: jsonBody("lease_id", leaseID), what: what})
	if err != nil {
		return sdk.Lease{}, leaseError(err, what)
	}
	a, err := decodeLease(raw, false)
	if err != nil {
		return sdk.Lease{}, malformed(what, err)
	}
	if a.ttl <= 0 {
		return sdk.Lease{}, sdk.Errorf(sdk.CodeUnreachable, "%s: OpenBao answered with no time left", what)
	}
	return sdk.Lease{LeaseID: leaseID, TTLSeconds: a.ttl, Renewable: a.renewable}, nil
}

// LeaseRevoke revokes a lease through sys/leases/revoke (wire doc §4.4).
// Revoke answers 204 even for leases it does not know, so a lookup first
// tells an unknown lease (lease_not_found) from a revoked one.
func (store) LeaseRevoke(ctx context.Context, req sdk.Request, leaseID string) error {
	c, err := parseConfig(req.Config)
	if err != nil {
		return err
	}
	ns := dataNamespace(req.Env, c)
	what := "revoking lease " + leaseID
	if _, err := authed(ctx, req.Env, call{method: "PUT", path: "sys/leases/lookup", namespace: ns, body: jsonBody("lease_id", leaseID), what: what}); err != nil {
		return leaseError(err, what)
	}
	_, err = authed(ctx, req.Env, call{method: "PUT", path: "sys/leases/revoke", namespace: ns, body: jsonBody("lease_id", leaseID), what: what})
	return leaseError(err, what)
}

// leaseError turns "no such lease" (400 lease not found, invalid lease,
// wire doc §4.3, §4.5) into CodeLeaseNotFound.
func leaseError(err error, what string) error {
	if ue, ok := err.(*upstreamError); ok && ue.status == 400 &&
		(ue.says("lease not found") || ue.says("invalid lease") || ue.says("lease expired")) {
		return sdk.Errorf(sdk.CodeLeaseNotFound, "%s: %s", what, ue.describe())
	}
	return mapError(err, what)
}

// leaseValues maps a lease's data to credential keys <NAME>_<FIELD>
// (upper-snake). Fields whose key part is not a valid key, or that collide
// after upper-casing, are dropped and logged by name.
func leaseValues(name string, data map[string]string) map[string]string {
	prefix, ok := sdkKeyPrefix(name)
	out := map[string]string{}
	if !ok {
		sdk.Log(sdk.LevelWarn, "dynamic role name cannot be a key prefix; no keys", "role", name)
		return out
	}
	var dropped []string
	for _, f := range sdkjson.SortedKeys(data) {
		part, ok := sdkKeyPrefix(f)
		key := prefix + "_" + part
		if _, dup := out[key]; !ok || dup || !abi.ValidKey(key) {
			dropped = append(dropped, f)
			continue
		}
		out[key] = data[f]
	}
	if len(dropped) > 0 {
		sdk.Log(sdk.LevelWarn, "dynamic secret fields dropped: not usable as keys", "role", name, "fields", strings.Join(dropped, ","))
	}
	return out
}

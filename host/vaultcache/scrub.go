package vaultcache

import (
	"context"
	"fmt"
	"slices"

	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/proxy"
	"github.com/agent-vault/agent-vault/host/scrub"
	"github.com/agent-vault/agent-vault/host/seal"
)

// The proxy's two defences against leaks need the values in play, in
// one automaton each, built here when a vault changes and never per
// request: the response set of each service (the values it injects) and
// the egress set of every value of every vault. These sets hold the
// values in memory in the clear for as long as they are current; the
// sealed rows stay the source of truth.

// LeasedValueSource lists the values of the dynamic-secret leases this
// host holds. A DynamicResolver that implements it has those values in
// the egress set too, from the moment a lease is minted until it is
// replaced or ends; they are never stored, only held in memory, as the
// leases hold them.
type LeasedValueSource interface {
	// LeaseGeneration changes whenever LeasedValues would list something
	// else. It is read on every request, so it must be cheap.
	LeaseGeneration() uint64
	LeasedValues(fn func(vaultID, key, value string))
}

// egressEntry is the egress set as of a cache generation and a lease
// generation.
type egressEntry struct {
	gen      uint64
	leaseGen uint64
	static   []scrub.Value // every vault's stored values and canaries
	set      *scrub.Set    // static and leased values
}

// leaseGen is the dynamic resolver's lease generation, 0 without one.
func (c *Cache) leaseGen() (LeasedValueSource, uint64) {
	if src, ok := c.dynamic.(LeasedValueSource); ok {
		return src, src.LeaseGeneration()
	}
	return nil, 0
}

// egressSet returns the set of every vault's static values and canaries
// and of the live leases' values. It is rebuilt once after any
// Invalidate (the stored values are opened again) or lease change (the
// opened values are reused), while requests wait: a request must not pass
// a check that does not yet know a value just stored or leased.
func (c *Cache) egressSet(ctx context.Context) (*scrub.Set, error) {
	for attempt := 0; ; attempt++ {
		c.mu.RLock()
		e, gen := c.egress, c.gen.Load()
		c.mu.RUnlock()
		src, leaseGen := c.leaseGen()
		if e != nil && e.gen == gen && e.leaseGen == leaseGen {
			return e.set, nil
		}
		v, err, _ := c.loads.Do("\x00egress", func() (any, error) { return c.buildEgress(ctx, e, src) })
		if err != nil {
			return nil, err
		}
		// A build that started before this request's generations is
		// not enough; one more round picks up the change.
		if ne := v.(*egressEntry); ne.gen >= gen && ne.leaseGen >= leaseGen || attempt == 1 {
			return ne.set, nil
		}
	}
}

func (c *Cache) buildEgress(ctx context.Context, old *egressEntry, src LeasedValueSource) (*egressEntry, error) {
	gen := c.gen.Load()
	var leaseGen uint64
	if src != nil {
		leaseGen = src.LeaseGeneration()
	}
	entry := &egressEntry{gen: gen, leaseGen: leaseGen}
	if old != nil && old.gen == gen {
		entry.static = old.static
	} else {
		rows, err := c.st.AllSealedCredentials(ctx)
		if err != nil {
			return nil, err
		}
		vals := make([]scrub.Value, 0, len(rows))
		for _, r := range rows {
			v, err := c.keyring.Open(r.Sealed, seal.CredentialAAD(r.VaultID, r.Key))
			if err != nil {
				return nil, fmt.Errorf("opening credential %q: %w", r.Key, err)
			}
			vals = append(vals, scrub.Value{Owner: scrub.Owner{Vault: r.VaultID, Key: r.Key}, Value: string(v)})
		}
		canaries, err := c.canaries(ctx, "")
		if err != nil {
			return nil, err
		}
		entry.static = append(vals, canaries...)
	}
	all := entry.static
	if src != nil {
		all = slices.Clip(all)
		src.LeasedValues(func(vaultID, key, value string) {
			all = append(all, scrub.Value{Owner: scrub.Owner{Vault: vaultID, Key: key}, Value: value})
		})
	}
	entry.set = scrub.NewSet(all)
	c.mu.Lock()
	if c.gen.Load() == gen {
		c.egress = entry
	}
	c.mu.Unlock()
	return entry, nil
}

// canaries opens the canaries of a vault, or of every vault when vaultID
// is empty.
func (c *Cache) canaries(ctx context.Context, vaultID string) ([]scrub.Value, error) {
	rows, err := c.st.Canaries(ctx, vaultID)
	if err != nil {
		return nil, err
	}
	out := make([]scrub.Value, 0, len(rows))
	for _, r := range rows {
		v, err := c.keyring.Open(r.Sealed, seal.CanaryAAD(r.VaultID, r.ID))
		if err != nil {
			return nil, fmt.Errorf("opening canary %q: %w", r.Name, err)
		}
		out = append(out, scrub.Value{Owner: scrub.Owner{Vault: r.VaultID, Key: r.Name, Canary: true}, Value: string(v)})
	}
	return out, nil
}

// scrubSets precomputes each service's response set from the vault's
// static values and, for keys with no static row, the values in leased
// (key → value; nil when none are known). A service with a key in
// neither gets none: the proxy builds its set per request. dynamic
// reports whether a service was left without a set for that reason.
func (c *Cache) scrubSets(vaultID string, e *vaultEntry, leased map[string]string) (sets []*proxy.ServiceScrub, dynamic bool, err error) {
	cfg := &e.config
	sets = make([]*proxy.ServiceScrub, len(cfg.Services))
	opened := map[string]string{}
	for i := range cfg.Services {
		svc := &cfg.Services[i]
		if !svc.ScrubsResponses() {
			continue
		}
		keys := svc.Keys()
		if len(keys) == 0 {
			continue
		}
		vals := make([]string, 0, len(keys))
		for _, k := range keys {
			v, ok := opened[k]
			if !ok {
				sealed, found := e.sealed[k]
				if !found {
					if v, found = leased[k]; !found {
						break
					}
				} else {
					b, err := c.keyring.Open(sealed, seal.CredentialAAD(vaultID, k))
					if err != nil {
						return nil, false, fmt.Errorf("opening credential %q: %w", k, err)
					}
					v = string(b)
				}
				opened[k] = v
			}
			vals = append(vals, v)
		}
		if len(vals) != len(keys) {
			dynamic = true
			continue
		}
		pre := &proxy.ServiceScrub{Values: make(map[string]string, len(keys))}
		for j, k := range keys {
			pre.Values[k] = vals[j]
		}
		pre.Set = proxy.ResponseSet(vaultID, svc, keys, vals, cfg.Canaries)
		sets[i] = pre
	}
	return sets, dynamic, nil
}

// leasedScrub is a vault's response sets including its live leased values,
// as of a lease generation.
type leasedScrub struct {
	leaseGen uint64
	sets     []*proxy.ServiceScrub
}

// withLeases returns the vault's response sets with the services that
// inject leased values included, built once per lease change rather than
// by the proxy on every request.
func (c *Cache) withLeases(vaultID string, e *vaultEntry) []*proxy.ServiceScrub {
	src, gen := c.leaseGen()
	if !e.dynamicScrub || src == nil {
		return e.config.Scrub
	}
	if ls := e.leased.Load(); ls != nil && ls.leaseGen == gen {
		return ls.sets
	}
	leased := map[string]string{}
	src.LeasedValues(func(v, key, value string) {
		if v == vaultID {
			leased[key] = value
		}
	})
	sets, _, err := c.scrubSets(vaultID, e, leased)
	if err != nil {
		return e.config.Scrub // the proxy builds what is missing per request
	}
	e.leased.Store(&leasedScrub{leaseGen: gen, sets: sets})
	return sets
}

// RevokeSession revokes a scoped session and forgets its token at once.
func (c *Cache) RevokeSession(ctx context.Context, vaultID, sessionID string) error {
	ss, err := c.st.ScopedSessionByID(ctx, sessionID)
	if err != nil {
		return err
	}
	if ss.VaultID != vaultID {
		return domain.Errorf(domain.CodeNotFound, "no session %q in this vault", sessionID)
	}
	if err := c.st.RevokeScopedSession(ctx, sessionID); err != nil && domain.CodeOf(err) != domain.CodeNotFound {
		return err
	}
	c.mu.Lock()
	for k, t := range c.tokens {
		if t.actor.ID == sessionID {
			delete(c.tokens, k)
		}
	}
	c.gen.Add(1) // open tunnels authenticate again before their next request
	c.mu.Unlock()
	return nil
}

// Interface guards
var _ proxy.SessionRevoker = (*Cache)(nil)

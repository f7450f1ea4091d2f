package vaultcache

import (
	"context"
	"fmt"

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

// egressEntry is the egress set as of a cache generation.
type egressEntry struct {
	gen uint64
	set *scrub.Set
}

// egressSet returns the set of every vault's static values, rebuilt once
// after any Invalidate, while requests wait: a request must not pass a
// check that does not yet know a value just stored.
func (c *Cache) egressSet(ctx context.Context) (*scrub.Set, error) {
	c.mu.RLock()
	e, gen := c.egress, c.gen.Load()
	c.mu.RUnlock()
	if e != nil && e.gen == gen {
		return e.set, nil
	}
	v, err, _ := c.loads.Do("\x00egress", func() (any, error) {
		gen := c.gen.Load()
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
		vals = append(vals, canaries...)
		entry := &egressEntry{gen: gen, set: scrub.NewSet(vals)}
		c.mu.Lock()
		if c.gen.Load() == gen {
			c.egress = entry
		}
		c.mu.Unlock()
		return entry, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*egressEntry).set, nil
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
// static values. A service whose keys are not all static (a dynamic
// secret) gets none: the proxy builds its set per request.
func (c *Cache) scrubSets(vaultID string, e *vaultEntry) error {
	cfg := &e.config
	cfg.Scrub = make([]*proxy.ServiceScrub, len(cfg.Services))
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
					break
				}
				b, err := c.keyring.Open(sealed, seal.CredentialAAD(vaultID, k))
				if err != nil {
					return fmt.Errorf("opening credential %q: %w", k, err)
				}
				v = string(b)
				opened[k] = v
			}
			vals = append(vals, v)
		}
		if len(vals) != len(keys) {
			continue
		}
		pre := &proxy.ServiceScrub{Values: make(map[string]string, len(keys))}
		for j, k := range keys {
			pre.Values[k] = vals[j]
		}
		pre.Set = proxy.ResponseSet(vaultID, svc, keys, vals, cfg.Canaries)
		cfg.Scrub[i] = pre
	}
	return nil
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

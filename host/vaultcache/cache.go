// Package vaultcache is the proxy's in-memory view of vaults: who a proxy
// token belongs to, each vault's services and policy, and its sealed
// credentials. The proxy asks it on every request, so it answers from
// memory; the API tells it what changed (Invalidate) and the next request
// reloads that vault from the store, once, however many requests arrive
// together. Values stay sealed in memory and are opened per request.
package vaultcache

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agent-vault/agent-vault/host/authn"
	"github.com/agent-vault/agent-vault/host/authz"
	"github.com/agent-vault/agent-vault/host/broker"
	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/proxy"
	"github.com/agent-vault/agent-vault/host/scrub"
	"github.com/agent-vault/agent-vault/host/seal"
	"github.com/agent-vault/agent-vault/host/store"
	"golang.org/x/sync/singleflight"
)

// tokenTTL bounds how long a resolved token is trusted without asking the
// store again. Changes through the API take effect at once (they
// Invalidate, which bumps the generation every cached principal carries)
// and a token never outlives its own expiry; this only covers changes made
// elsewhere (another process on the same database).
const tokenTTL = 5 * time.Second

// DynamicResolver supplies credentials that are minted on demand (an
// external store's dynamic secrets). found=false means the key is not one
// of its keys.
type DynamicResolver interface {
	ResolveDynamic(ctx context.Context, vaultID, key string) (value string, found bool, err error)
}

// Cache implements the proxy's Authenticator, Vaults and Credentials.
type Cache struct {
	st      *store.Store
	keyring *seal.Keyring
	log     *slog.Logger
	now     func() time.Time
	dynamic DynamicResolver

	loads singleflight.Group

	// gen is bumped by every Invalidate: a load started before it is not
	// kept, and a principal authenticated before it is stale (Current).
	// Read without the lock, so the proxy checks a principal with one
	// atomic load.
	gen atomic.Uint64

	mu     sync.RWMutex
	egress *egressEntry // every vault's values; nil or stale after Invalidate
	vaults map[string]*vaultEntry
	names  map[string]string // vault name → id
	ids    map[string]string // vault id → name
	tokens map[string]tokenEntry
}

type vaultEntry struct {
	config proxy.VaultConfig
	sealed map[string][]byte
	// dynamicScrub: a service injects keys with no static row (dynamic
	// secrets); leased holds its response sets with the live leases'
	// values (scrub.go).
	dynamicScrub bool
	leased       atomic.Pointer[leasedScrub]
}

type tokenEntry struct {
	actor  authz.Actor
	grants map[string]domain.VaultRole // vault id → role (users and agents)
	// until is when the entry must be checked against the store again:
	// tokenTTL after it was read, or the token's own expiry if sooner.
	until time.Time
	// gen is the cache generation the entry was read under.
	gen uint64
}

// New returns an empty cache over st.
func New(st *store.Store, keyring *seal.Keyring, log *slog.Logger) *Cache {
	return &Cache{st: st, keyring: keyring, log: log, now: time.Now,
		vaults: map[string]*vaultEntry{}, names: map[string]string{}, ids: map[string]string{}, tokens: map[string]tokenEntry{}}
}

// SetDynamic plugs in the resolver consulted for keys with no static row.
func (c *Cache) SetDynamic(d DynamicResolver) { c.dynamic = d }

// Invalidate forgets a vault's configuration and credentials; an empty id
// forgets everything, tokens and names included.
func (c *Cache) Invalidate(vaultID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen.Add(1)
	if vaultID == "" {
		c.vaults, c.tokens = map[string]*vaultEntry{}, map[string]tokenEntry{}
		c.names, c.ids = map[string]string{}, map[string]string{}
		return
	}
	delete(c.vaults, vaultID)
}

// ProxyConfig returns the vault's services and unmatched-host policy,
// its response sets and the egress set of every vault's values.
func (c *Cache) ProxyConfig(ctx context.Context, vaultID string) (proxy.VaultConfig, error) {
	e, err := c.vault(ctx, vaultID)
	if err != nil {
		return proxy.VaultConfig{}, err
	}
	cfg := e.config
	cfg.Scrub = c.withLeases(vaultID, e)
	if cfg.Egress, err = c.egressSet(ctx); err != nil {
		return proxy.VaultConfig{}, err
	}
	return cfg, nil
}

// Resolve opens a static credential; a key with no static row falls
// through to the dynamic resolver before it is reported missing.
func (c *Cache) Resolve(ctx context.Context, vaultID, key string) (string, bool, error) {
	e, err := c.vault(ctx, vaultID)
	if err != nil {
		return "", false, err
	}
	if sealed, ok := e.sealed[key]; ok {
		v, err := c.keyring.Open(sealed, seal.CredentialAAD(vaultID, key))
		if err != nil {
			return "", false, fmt.Errorf("opening credential %q: %w", key, err)
		}
		return string(v), true, nil
	}
	if c.dynamic != nil {
		return c.dynamic.ResolveDynamic(ctx, vaultID, key)
	}
	return "", false, nil
}

func (c *Cache) vault(ctx context.Context, vaultID string) (*vaultEntry, error) {
	c.mu.RLock()
	e, ok := c.vaults[vaultID]
	gen := c.gen.Load()
	c.mu.RUnlock()
	if ok {
		return e, nil
	}
	v, err, _ := c.loads.Do(vaultID, func() (any, error) {
		e, err := c.load(ctx, vaultID)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		if c.gen.Load() == gen { // nothing changed while loading: keep it
			c.vaults[vaultID] = e
		}
		c.mu.Unlock()
		return e, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*vaultEntry), nil
}

func (c *Cache) load(ctx context.Context, vaultID string) (*vaultEntry, error) {
	v, err := c.st.VaultByID(ctx, vaultID)
	if err != nil {
		return nil, err
	}
	rows, err := c.st.ListServices(ctx, vaultID)
	if err != nil {
		return nil, err
	}
	e := &vaultEntry{config: proxy.VaultConfig{UnmatchedHostPolicy: v.UnmatchedHostPolicy, RevokeOnEgressBlock: v.RevokeOnEgressBlock},
		sealed: map[string][]byte{}}
	for _, r := range rows {
		var svc domain.Service
		if err := json.Unmarshal(r.Spec, &svc); err != nil {
			return nil, fmt.Errorf("service %q of vault %q does not decode: %w", r.Name, v.Name, err)
		}
		e.config.Services = append(e.config.Services, svc)
	}
	e.config.Matcher = broker.NewMatcher(e.config.Services)
	creds, err := c.st.SealedCredentials(ctx, vaultID)
	if err != nil {
		return nil, err
	}
	for _, cr := range creds {
		e.sealed[cr.Key] = cr.Sealed
	}
	if e.config.Canaries, err = c.canaries(ctx, vaultID); err != nil {
		return nil, err
	}
	e.config.CanarySet = scrub.NewSet(e.config.Canaries)
	if e.config.Scrub, e.dynamicScrub, err = c.scrubSets(vaultID, e, nil); err != nil {
		return nil, err
	}
	return e, nil
}

// AuthenticateProxy resolves a proxy token and the vault it names (which
// may be empty when the token can reach exactly one vault).
func (c *Cache) AuthenticateProxy(ctx context.Context, token, vault string) (proxy.Principal, error) {
	t, err := c.token(ctx, token)
	if err != nil {
		return proxy.Principal{}, err
	}
	a := t.actor
	p := proxy.Principal{ActorID: a.ID, ActorKind: proxy.ActorKind(a.Kind), Gen: t.gen, ValidUntil: t.until}
	if a.Kind != authz.Session && a.Role == domain.InstanceNoAccess {
		return p, domain.Errorf(domain.CodeForbidden, "this account is disabled (instance role no-access)")
	}
	vaultID := ""
	switch {
	case a.Kind == authz.Session:
		vaultID = a.VaultID
		p.VaultRole = a.SessionRole
	case vault == "" && len(t.grants) == 1:
		for id, role := range t.grants {
			vaultID, p.VaultRole = id, role
		}
	case vault == "":
		return p, domain.Errorf(domain.CodeVaultRequired, "this token can use %d vaults: name one as the proxy password (http://<token>:<vault>@host:port)", len(t.grants))
	default:
		id, err := c.vaultID(ctx, vault)
		if err != nil {
			return p, err
		}
		vaultID, p.VaultRole = id, t.grants[id]
	}
	name, err := c.vaultName(ctx, vaultID)
	if err != nil {
		return p, err
	}
	if vault != "" && vault != name {
		return p, domain.Errorf(domain.CodeForbidden, "this session is fixed to vault %q, not %q", name, vault)
	}
	if !p.VaultRole.AtLeast(domain.VaultProxy) {
		return p, domain.Errorf(domain.CodeForbidden, "this token has no role in vault %q", name)
	}
	p.VaultID, p.VaultName = vaultID, name
	return p, nil
}

// Current reports whether a principal authenticated earlier still stands:
// nothing was invalidated since and neither the token's expiry nor the
// entry's trust period has passed. The proxy asks it before every request
// on a connection whose principal it holds (a tunnel); when it answers
// false, the proxy authenticates the connection's token again.
func (c *Cache) Current(p *proxy.Principal) bool {
	return p.Gen == c.gen.Load() && c.now().Before(p.ValidUntil)
}

func (c *Cache) token(ctx context.Context, token string) (tokenEntry, error) {
	key := string(seal.HashToken(token))
	c.mu.RLock()
	t, ok := c.tokens[key]
	gen := c.gen.Load()
	c.mu.RUnlock()
	now := c.now()
	if ok && now.Before(t.until) {
		return t, nil
	}
	actor, err := authn.Resolve(ctx, c.st, token)
	if err != nil {
		return t, err
	}
	t = tokenEntry{actor: actor, grants: map[string]domain.VaultRole{}, until: now.Add(tokenTTL), gen: gen}
	if !actor.ExpiresAt.IsZero() && actor.ExpiresAt.Before(t.until) {
		t.until = actor.ExpiresAt
	}
	if actor.Kind != authz.Session {
		kind := store.PrincipalUser
		if actor.Kind == authz.Agent {
			kind = store.PrincipalAgent
		}
		list, err := c.st.ListVaults(ctx, kind, actor.ID, false)
		if err != nil {
			return t, err
		}
		for _, v := range list {
			t.grants[v.ID] = v.Role
		}
	}
	c.mu.Lock()
	if c.gen.Load() == gen {
		c.tokens[key] = t
	}
	c.mu.Unlock()
	return t, nil
}

func (c *Cache) vaultID(ctx context.Context, name string) (string, error) {
	c.mu.RLock()
	id, ok := c.names[name]
	gen := c.gen.Load()
	c.mu.RUnlock()
	if ok {
		return id, nil
	}
	v, err := c.st.VaultByName(ctx, name)
	if err != nil {
		return "", domain.Errorf(domain.CodeForbidden, "no vault %q for this token", name)
	}
	c.remember(v, gen)
	return v.ID, nil
}

func (c *Cache) vaultName(ctx context.Context, id string) (string, error) {
	c.mu.RLock()
	name, ok := c.ids[id]
	gen := c.gen.Load()
	c.mu.RUnlock()
	if ok {
		return name, nil
	}
	v, err := c.st.VaultByID(ctx, id)
	if err != nil {
		return "", err
	}
	c.remember(v, gen)
	return v.Name, nil
}

// remember caches a vault's name unless an Invalidate happened since gen
// was read (the name may have changed).
func (c *Cache) remember(v store.Vault, gen uint64) {
	c.mu.Lock()
	if c.gen.Load() == gen {
		c.names[v.Name], c.ids[v.ID] = v.ID, v.Name
	}
	c.mu.Unlock()
}

// Interface guards
var (
	_ proxy.Authenticator = (*Cache)(nil)
	_ proxy.Revalidator   = (*Cache)(nil)
	_ proxy.Vaults        = (*Cache)(nil)
	_ proxy.Credentials   = (*Cache)(nil)
)

package credstore

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/plugin"
	"github.com/agent-vault/agent-vault/host/store"
	"github.com/agent-vault/agent-vault/sdk/abi"
	"golang.org/x/sync/singleflight"
)

// Lease timing.
const (
	// renewMargin: a lease is renewed (or replaced) this long before it
	// expires, or at a third of its lifetime for shorter leases.
	renewMargin = 60 * time.Second
	// dynamicListTTL: how long a vault's list of dynamic secrets is reused.
	dynamicListTTL = 60 * time.Second
	// revokeTimeout bounds revocation on disconnect, delete and shutdown.
	revokeTimeout = 5 * time.Second
)

// leases mints dynamic secrets lazily, keeps their values in memory only,
// renews them near expiry, and revokes them when they are no longer wanted.
// Only lease metadata reaches the database.
type leases struct {
	m *Manager

	mints singleflight.Group // one mint per (vault, secret) at a time
	lists singleflight.Group // one dynamic_list per vault at a time

	// gen changes whenever the set of live lease values does (a mint, a
	// replacement, a vault's leases forgotten), so the proxy's egress
	// set knows to take them in again (LeasedValues).
	gen atomic.Uint64

	mu    sync.Mutex
	live  map[leaseKey]*lease
	byKey map[string]map[string]leaseKey // vault → credential key → lease
	known map[string]dynamicList         // vault → cached list
}

type leaseKey struct{ vaultID, secret string }

type lease struct {
	rowID     string
	leaseID   string
	values    map[string]string
	expires   time.Time
	ttl       time.Duration
	renewable bool
	kind      string
	config    json.RawMessage
}

type dynamicList struct {
	secrets []abi.DynamicSecret
	at      time.Time
}

func newLeases(m *Manager) *leases {
	return &leases{m: m, live: map[leaseKey]*lease{}, byKey: map[string]map[string]leaseKey{}, known: map[string]dynamicList{}}
}

func (l *lease) fresh(now time.Time) bool {
	margin := min(renewMargin, l.ttl/3)
	return now.Add(margin).Before(l.expires)
}

// ResolveDynamic returns the value of a dynamic-secret key, minting,
// renewing or replacing the lease behind it when needed. found=false means
// no dynamic secret of the vault provides key. A fresh cached lease is
// answered from memory alone.
func (m *Manager) ResolveDynamic(ctx context.Context, vaultID, key string) (string, bool, error) {
	l := m.leases
	now := m.cfg.Now()
	l.mu.Lock()
	if lk, ok := l.byKey[vaultID][key]; ok {
		if le := l.live[lk]; le != nil && le.fresh(now) {
			v, ok := le.values[key]
			l.mu.Unlock()
			return v, ok, nil
		}
	}
	l.mu.Unlock()

	cs, p, err := m.dynamicStore(ctx, vaultID)
	if err != nil || p == nil {
		return "", false, err
	}
	secrets, err := l.list(ctx, cs, p)
	if err != nil {
		return "", false, err
	}
	name, ok := secretFor(secrets, key)
	if !ok {
		return "", false, nil
	}
	le, err := l.get(ctx, cs, p, name)
	if err != nil {
		return "", false, err
	}
	v, ok := le.values[key]
	return v, ok, nil
}

// dynamicStore returns the vault's store and plugin when it mints dynamic
// secrets here; a nil plugin means it does not.
func (m *Manager) dynamicStore(ctx context.Context, vaultID string) (store.CredentialStore, *plugin.Plugin, error) {
	cs, found, err := m.cfg.Store.CredentialStoreOf(ctx, vaultID)
	if err != nil || !found {
		return cs, nil, err
	}
	p, err := m.external(cs.Kind)
	if err != nil || !p.Manifest().Features.Has(abi.FeatureDynamicSecrets) {
		return cs, nil, nil
	}
	return cs, p, nil
}

// list returns the vault's dynamic secrets, reusing a recent answer.
func (l *leases) list(ctx context.Context, cs store.CredentialStore, p *plugin.Plugin) ([]abi.DynamicSecret, error) {
	now := l.m.cfg.Now()
	l.mu.Lock()
	if d, ok := l.known[cs.VaultID]; ok && now.Sub(d.at) < dynamicListTTL {
		l.mu.Unlock()
		return d.secrets, nil
	}
	l.mu.Unlock()
	v, err, _ := l.lists.Do(cs.VaultID, func() (any, error) {
		secrets, err := p.ListDynamic(ctx, cs.Config)
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		l.known[cs.VaultID] = dynamicList{secrets: secrets, at: now}
		l.mu.Unlock()
		return secrets, nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]abi.DynamicSecret), nil
}

// secretFor finds the dynamic secret that provides key: one listing it
// among its fields, else the one whose key prefix is the longest prefix of
// key (so DB_REPLICA_PASSWORD belongs to db-replica, not db).
func secretFor(secrets []abi.DynamicSecret, key string) (string, bool) {
	best, bestLen := "", 0
	for _, s := range secrets {
		for _, f := range s.Fields {
			if f == key {
				return s.Name, true
			}
		}
		prefix, ok := abi.DynamicKeyPrefix(s.Name)
		if ok && len(s.Fields) == 0 && strings.HasPrefix(key, prefix+"_") && len(prefix) > bestLen {
			best, bestLen = s.Name, len(prefix)
		}
	}
	return best, bestLen > 0
}

// get returns a fresh lease of a secret: the cached one, a renewal of it,
// or a new one. Concurrent callers share one mint.
func (l *leases) get(ctx context.Context, cs store.CredentialStore, p *plugin.Plugin, name string) (*lease, error) {
	lk := leaseKey{cs.VaultID, name}
	v, err, _ := l.mints.Do(lk.vaultID+"\x00"+name, func() (any, error) {
		now := l.m.cfg.Now()
		l.mu.Lock()
		old := l.live[lk]
		l.mu.Unlock()
		if old != nil && old.fresh(now) {
			return old, nil
		}
		obs := l.m.cfg.Observe
		if old != nil && old.renewable {
			if renewed, err := p.LeaseRenew(ctx, old.config, old.leaseID); err == nil {
				obs.Lease(lk.vaultID, cs.Kind, LeaseRenewed)
				le := *old
				le.ttl = time.Duration(renewed.TTLSeconds) * time.Second
				le.expires = now.Add(le.ttl)
				if err := l.m.cfg.Store.UpdateLeaseExpiry(ctx, le.rowID, le.expires); err != nil {
					l.m.log.Warn("recording a lease renewal", "error", err)
				}
				l.put(lk, &le)
				return &le, nil
			} else {
				obs.Lease(lk.vaultID, cs.Kind, LeaseRenewFailed)
				l.m.log.Info("lease renewal failed; minting a new lease", "vault_id", lk.vaultID, "secret", name, "code", domain.CodeOf(err))
			}
		}
		le, err := l.mint(ctx, cs, p, name)
		if err != nil {
			obs.Lease(lk.vaultID, cs.Kind, LeaseMintFailed)
			return nil, err
		}
		l.put(lk, le)
		obs.Lease(lk.vaultID, cs.Kind, LeaseMinted)
		if old != nil {
			obs.Lease(lk.vaultID, cs.Kind, LeaseReminted)
			go l.revokeRow(context.WithoutCancel(ctx), lk.vaultID, old.rowID, old.kind, old.config, old.leaseID)
		}
		return le, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*lease), nil
}

func (l *leases) mint(ctx context.Context, cs store.CredentialStore, p *plugin.Plugin, name string) (*lease, error) {
	got, err := p.LeaseCreate(ctx, cs.Config, name)
	if err != nil {
		return nil, err
	}
	for k := range got.Values {
		if err := domain.CheckKey(k); err != nil {
			return nil, domain.Errorf(domain.CodeExternalInvalidKey, "dynamic secret %q returned an invalid key: %s", name, err.Error())
		}
	}
	now := l.m.cfg.Now()
	le := &lease{rowID: store.NewID(), leaseID: got.LeaseID, values: got.Values, ttl: time.Duration(got.TTLSeconds) * time.Second,
		renewable: got.Renewable, kind: cs.Kind, config: cs.Config}
	le.expires = now.Add(le.ttl)
	err = l.m.cfg.Store.InsertLease(ctx, store.LeaseRow{ID: le.rowID, VaultID: cs.VaultID, Kind: cs.Kind, Config: cs.Config,
		SecretName: name, LeaseID: got.LeaseID, ExpiresAt: le.expires, InstanceID: l.m.cfg.InstanceID})
	if err != nil {
		// Without a row the lease could never be revoked after a crash:
		// give it back now.
		l.revokeRow(context.WithoutCancel(ctx), cs.VaultID, "", cs.Kind, cs.Config, got.LeaseID)
		return nil, err
	}
	l.m.log.Info("dynamic secret leased", "vault_id", cs.VaultID, "secret", name, "ttl_seconds", got.TTLSeconds)
	return le, nil
}

func (l *leases) put(lk leaseKey, le *lease) {
	l.mu.Lock()
	defer l.mu.Unlock()
	defer l.gen.Add(1)
	l.live[lk] = le
	keys := l.byKey[lk.vaultID]
	if keys == nil {
		keys = map[string]leaseKey{}
		l.byKey[lk.vaultID] = keys
	}
	for k := range le.values {
		keys[k] = lk
	}
}

// LeaseGeneration changes whenever LeasedValues would list something
// else; one atomic load, for a caller that caches what it built from them.
func (m *Manager) LeaseGeneration() uint64 { return m.leases.gen.Load() }

// LeasedValues calls fn with every value of every live lease this host
// holds (in memory only, as the leases do). A value leaves the list when
// its lease is replaced or its vault's leases end.
func (m *Manager) LeasedValues(fn func(vaultID, key, value string)) {
	l := m.leases
	l.mu.Lock()
	defer l.mu.Unlock()
	for lk, le := range l.live {
		for k, v := range le.values {
			fn(lk.vaultID, k, v)
		}
	}
}

// DynamicKey is a credential key provided by a dynamic secret.
type DynamicKey struct {
	Key    string
	Secret string
	// Unavailable marks a secret whose lease could not be minted; Key is
	// then "<PREFIX>_*".
	Unavailable bool
}

// DynamicKeys lists the keys the vault's dynamic secrets provide. With
// mint set, a lease is minted (or reused) per secret to learn its fields,
// the same lease the proxy then uses; without it, only fields already
// known (declared by the store or seen on a live lease) are listed. Errors
// hide dynamic keys rather than failing a listing.
func (m *Manager) DynamicKeys(ctx context.Context, vaultID string, mint bool) []DynamicKey {
	cs, p, err := m.dynamicStore(ctx, vaultID)
	if err != nil || p == nil {
		return nil
	}
	secrets, err := m.leases.list(ctx, cs, p)
	if err != nil {
		m.log.Warn("listing dynamic secrets", "vault_id", vaultID, "code", domain.CodeOf(err))
		return nil
	}
	var out []DynamicKey
	for _, s := range secrets {
		prefix, ok := abi.DynamicKeyPrefix(s.Name)
		if !ok && len(s.Fields) == 0 {
			continue
		}
		keys := s.Fields
		if len(keys) == 0 {
			m.leases.mu.Lock()
			if le := m.leases.live[leaseKey{vaultID, s.Name}]; le != nil {
				keys = slices.Sorted(maps.Keys(le.values))
			}
			m.leases.mu.Unlock()
		}
		if len(keys) == 0 && mint {
			le, err := m.leases.get(ctx, cs, p, s.Name)
			if err != nil {
				out = append(out, DynamicKey{Key: prefix + "_*", Secret: s.Name, Unavailable: true})
				continue
			}
			keys = slices.Sorted(maps.Keys(le.values))
		}
		for _, k := range keys {
			out = append(out, DynamicKey{Key: k, Secret: s.Name})
		}
	}
	return out
}

// revokeVault forgets a vault's leases and revokes them upstream, bounded
// in time. Rows are deleted whatever the outcome: the store's own lease
// TTL is the backstop.
func (l *leases) revokeVault(ctx context.Context, vaultID string) {
	l.mu.Lock()
	for lk := range l.live {
		if lk.vaultID == vaultID {
			delete(l.live, lk)
		}
	}
	delete(l.byKey, vaultID)
	delete(l.known, vaultID)
	l.gen.Add(1)
	l.mu.Unlock()
	rows, err := l.m.cfg.Store.Leases(ctx, vaultID, "")
	if err != nil {
		l.m.log.Error("listing leases to revoke", "vault_id", vaultID, "error", err)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, revokeTimeout)
	defer cancel()
	for _, r := range rows {
		l.revokeRow(ctx, r.VaultID, r.ID, r.Kind, r.Config, r.LeaseID)
	}
}

// revokeRow revokes one lease and deletes its row (when it has one). It
// reports whether the revoke succeeded.
func (l *leases) revokeRow(ctx context.Context, vaultID, rowID, kind string, cfg json.RawMessage, leaseID string) bool {
	ok := false
	if l.m.cfg.Plugins != nil {
		if p, err := l.m.cfg.Plugins.Plugin(kind); err == nil {
			err = p.LeaseRevoke(ctx, cfg, leaseID)
			ok = err == nil || domain.CodeOf(err) == abi.CodeLeaseNotFound
			if ok {
				l.m.cfg.Observe.Lease(vaultID, kind, LeaseRevoked)
			} else {
				l.m.cfg.Observe.Lease(vaultID, kind, LeaseRevokeFailed)
				l.m.log.Warn("revoking a lease failed; the store's lease TTL will end it", "kind", kind, "code", domain.CodeOf(err))
			}
		}
	}
	if rowID != "" {
		if err := l.m.cfg.Store.DeleteLease(context.WithoutCancel(ctx), rowID); err != nil {
			l.m.log.Error("deleting a lease row", "error", err)
		}
	}
	return ok
}

// sweep revokes leases a previous run of this instance left behind (their
// values died with it). Leases of other instances are left alone.
func (l *leases) sweep(ctx context.Context) {
	rows, err := l.m.cfg.Store.Leases(ctx, "", l.m.cfg.InstanceID)
	if err != nil || len(rows) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, revokeTimeout)
	defer cancel()
	for _, r := range rows {
		l.revokeRow(ctx, r.VaultID, r.ID, r.Kind, r.Config, r.LeaseID)
	}
	l.m.log.Info("swept leases left by a previous run", "count", len(rows))
}

// shutdown revokes this instance's leases within revokeTimeout; rows whose
// revoke failed stay, for the next start's sweep.
func (l *leases) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), revokeTimeout)
	defer cancel()
	rows, err := l.m.cfg.Store.Leases(ctx, "", l.m.cfg.InstanceID)
	if err != nil {
		return
	}
	for _, r := range rows {
		if l.m.cfg.Plugins == nil {
			break
		}
		p, err := l.m.cfg.Plugins.Plugin(r.Kind)
		if err != nil {
			continue
		}
		if err := p.LeaseRevoke(ctx, r.Config, r.LeaseID); err != nil && domain.CodeOf(err) != abi.CodeLeaseNotFound {
			l.m.log.Warn("revoking a lease at shutdown failed; the next start will retry", "code", domain.CodeOf(err))
			continue
		}
		l.m.cfg.Store.DeleteLease(ctx, r.ID)
	}
}

// ActiveLeases counts the live leases this instance holds, by vault id.
func (m *Manager) ActiveLeases() map[string]int {
	l := m.leases
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]int, len(l.byKey))
	for lk := range l.live {
		out[lk.vaultID]++
	}
	return out
}

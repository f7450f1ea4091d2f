package credstore

import (
	"context"
	"encoding/json"
	"errors"
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
	// DefaultLeaseOwnerTTL is how long a replica owns a lease after its
	// last heartbeat (Config.LeaseOwnerTTL).
	DefaultLeaseOwnerTTL = 15 * time.Second
)

// CodeLeaseUnavailable: a dynamic secret's lease could not be had from
// the replica that owns it.
const CodeLeaseUnavailable = "lease_unavailable"

// leases mints dynamic secrets lazily, keeps their values in memory only,
// renews them near expiry, and revokes them when they are no longer wanted.
// Only lease metadata reaches the database. Replicas sharing a database
// share one lease per (vault, dynamic secret): see LEASES.md.
type leases struct {
	m *Manager

	mints singleflight.Group // one acquisition per (vault, secret) at a time
	lists singleflight.Group // one dynamic_list per vault at a time

	// gen changes whenever the set of live lease values does (a mint, a
	// replacement, a vault's leases forgotten), so the proxy's egress
	// set knows to take them in again (LeasedValues).
	gen atomic.Uint64

	mu    sync.Mutex
	live  map[leaseKey]*lease
	byKey map[string]map[string]leaseKey // vault → credential key → lease
	known map[string]dynamicList         // vault → cached list
	// epochs counts, per vault, the times its leases were forgotten (its
	// store switched, disconnected or deleted). An acquisition that began
	// before the count moved must not put its lease in memory: the switch
	// retired the lease's row, and the lease is being revoked.
	epochs map[string]uint64

	waiters sync.Map // transfer request id → chan transferMsg
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
	// owned: this replica owns the lease (renews, replaces, revokes it);
	// otherwise it is a copy handed over by the owner.
	owned bool
}

type dynamicList struct {
	secrets []abi.DynamicSecret
	at      time.Time
}

func newLeases(m *Manager) *leases {
	return &leases{m: m, live: map[leaseKey]*lease{}, byKey: map[string]map[string]leaseKey{}, known: map[string]dynamicList{},
		epochs: map[string]uint64{}}
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

// get returns a fresh lease of a secret: the one held in memory, a
// renewal or replacement of it, the cluster's current lease handed over by
// its owner, or a new one. Concurrent callers of one replica share one
// acquisition; replicas share one lease (see acquire).
func (l *leases) get(ctx context.Context, cs store.CredentialStore, p *plugin.Plugin, name string) (*lease, error) {
	lk := leaseKey{cs.VaultID, name}
	v, err, _ := l.mints.Do(lk.vaultID+"\x00"+name, func() (any, error) { return l.acquire(ctx, cs, p, lk) })
	if err != nil {
		return nil, err
	}
	return v.(*lease), nil
}

// acquireTimeout bounds acquire's rounds of looking at the database again
// (after losing a race, or while another replica mints the lease).
const acquireTimeout = 30 * time.Second

// acquire finds or makes the secret's one current lease. The database row
// decides: no row, this replica claims one and mints; a row this replica
// owns, it renews or replaces its lease; a row whose owner's heartbeat
// lapsed, it takes over (keeping the lease when it holds its values,
// replacing it otherwise); a row another live replica owns, the owner
// hands the values over without storing them (transfer.go).
func (l *leases) acquire(ctx context.Context, cs store.CredentialStore, p *plugin.Plugin, lk leaseKey) (*lease, error) {
	st, me := l.m.cfg.Store, l.m.cfg.InstanceID
	epoch := l.epoch(lk.vaultID)
	for deadline := time.Now().Add(acquireTimeout); time.Now().Before(deadline); {
		now := l.m.cfg.Now()
		held := l.held(lk)
		if held != nil && held.fresh(now) {
			return held, nil
		}
		row, found, err := st.CurrentLease(ctx, lk.vaultID, lk.secret)
		if err != nil {
			return nil, err
		}
		switch {
		case !found:
			le, err := l.mint(ctx, cs, p, lk, nil, epoch)
			if le != nil || err != nil {
				return le, err
			}
			// Another replica claimed the secret first: look again.
		case row.InstanceID == me && held != nil && held.owned && held.rowID == row.ID:
			le, err := l.refresh(ctx, cs, p, lk, held, epoch)
			if le != nil || err != nil {
				return le, err
			}
		case row.InstanceID == me || row.OwnerUntil.Before(now):
			if row.InstanceID != me {
				ok, err := st.TakeOverLease(ctx, row.ID, me, now.Add(l.m.cfg.LeaseOwnerTTL), now)
				if err != nil {
					return nil, err
				}
				if !ok {
					continue
				}
				l.m.log.Info("took over a dynamic-secret lease whose owner stopped", "vault_id", lk.vaultID, "secret", lk.secret, "previous_owner", row.InstanceID)
			}
			if held != nil && held.rowID == row.ID && held.leaseID == row.LeaseID {
				owned, err := l.own(lk, held, epoch)
				if err != nil {
					return nil, err
				}
				le, err := l.refresh(ctx, cs, p, lk, owned, epoch)
				if le != nil || err != nil {
					return le, err
				}
				continue
			}
			// Its values died with their holder (or are being minted by
			// this replica's previous run): replace the lease.
			le, err := l.mint(ctx, cs, p, lk, &row, epoch)
			if le != nil || err != nil {
				return le, err
			}
		case row.LeaseID == "":
			// Its owner is minting it now.
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(mintWait):
			}
		default:
			le, err := l.fetch(ctx, cs, row)
			if err == nil {
				return le, l.put(lk, le, epoch)
			}
			if !errors.Is(err, errNotOwner) {
				return nil, err
			}
		}
	}
	return nil, domain.Errorf(CodeLeaseUnavailable, "dynamic secret %q: the replicas did not agree on its lease in time; try again", lk.secret)
}

// mintWait is how long acquire waits before looking again at a lease
// another replica is minting.
const mintWait = 50 * time.Millisecond

// refresh renews an owned lease near expiry, or replaces it when it cannot
// be renewed. A nil lease and nil error mean the row changed under this
// replica: look again.
func (l *leases) refresh(ctx context.Context, cs store.CredentialStore, p *plugin.Plugin, lk leaseKey, old *lease, epoch uint64) (*lease, error) {
	now := l.m.cfg.Now()
	if old.fresh(now) {
		return old, nil
	}
	if old.renewable {
		renewed, err := p.LeaseRenew(ctx, old.config, old.leaseID)
		if err == nil {
			l.m.cfg.Observe.Lease(lk.vaultID, cs.Kind, LeaseRenewed)
			le := *old
			le.ttl = time.Duration(renewed.TTLSeconds) * time.Second
			le.expires = now.Add(le.ttl)
			if err := l.m.cfg.Store.UpdateLeaseExpiry(ctx, le.rowID, le.expires); err != nil {
				l.m.log.Warn("recording a lease renewal", "error", err)
			}
			return &le, l.put(lk, &le, epoch)
		}
		l.m.cfg.Observe.Lease(lk.vaultID, cs.Kind, LeaseRenewFailed)
		l.m.log.Info("lease renewal failed; minting a new lease", "vault_id", lk.vaultID, "secret", lk.secret, "code", domain.CodeOf(err))
	}
	row := store.LeaseRow{ID: old.rowID, Kind: old.kind, Config: old.config, LeaseID: old.leaseID}
	return l.mint(ctx, cs, p, lk, &row, epoch)
}

// mint leases the secret anew. With replacing nil it first claims the
// secret cluster-wide (a nil lease and nil error: another replica did);
// otherwise the new lease takes the place of replacing, which is then
// revoked. Only the lease's metadata reaches the database.
func (l *leases) mint(ctx context.Context, cs store.CredentialStore, p *plugin.Plugin, lk leaseKey, replacing *store.LeaseRow, epoch uint64) (*lease, error) {
	st := l.m.cfg.Store
	now := l.m.cfg.Now()
	row := store.LeaseRow{ID: store.NewID(), VaultID: cs.VaultID, Kind: cs.Kind, Config: cs.Config, SecretName: lk.secret,
		InstanceID: l.m.cfg.InstanceID, OwnerUntil: now.Add(l.m.cfg.LeaseOwnerTTL), ExpiresAt: now}
	if replacing == nil {
		won, err := st.ClaimLease(ctx, row)
		if err != nil || !won {
			return nil, err
		}
	}
	unclaim := func() {
		if replacing == nil {
			st.DeleteLease(context.WithoutCancel(ctx), row.ID)
		}
	}
	got, err := p.LeaseCreate(ctx, cs.Config, lk.secret)
	if err != nil {
		l.m.cfg.Observe.Lease(lk.vaultID, cs.Kind, LeaseMintFailed)
		unclaim()
		return nil, err
	}
	giveBack := func() { l.revokeUpstream(context.WithoutCancel(ctx), cs.VaultID, cs.Kind, cs.Config, got.LeaseID) }
	for k := range got.Values {
		if err := domain.CheckKey(k); err != nil {
			l.m.cfg.Observe.Lease(lk.vaultID, cs.Kind, LeaseMintFailed)
			unclaim()
			giveBack()
			return nil, domain.Errorf(domain.CodeExternalInvalidKey, "dynamic secret %q returned an invalid key: %s", lk.secret, err.Error())
		}
	}
	le := &lease{rowID: row.ID, leaseID: got.LeaseID, values: got.Values, ttl: time.Duration(got.TTLSeconds) * time.Second,
		renewable: got.Renewable, kind: cs.Kind, config: cs.Config, owned: true}
	le.expires = l.m.cfg.Now().Add(le.ttl)
	var ok bool
	if replacing == nil {
		ok, err = st.SetLeaseMinted(ctx, row.ID, got.LeaseID, le.expires)
	} else {
		row.LeaseID, row.ExpiresAt = got.LeaseID, le.expires
		ok, err = st.ReplaceLease(ctx, replacing.ID, row)
	}
	if err != nil || !ok {
		// Without its row the lease could never be revoked after a crash:
		// give it back now.
		giveBack()
		if err == nil && replacing == nil {
			err = domain.Errorf(domain.CodeConflict, "the vault's credential store changed while dynamic secret %q was leased", lk.secret)
		}
		return nil, err
	}
	l.m.cfg.Observe.Lease(lk.vaultID, cs.Kind, LeaseMinted)
	if replacing != nil {
		l.m.cfg.Observe.Lease(lk.vaultID, cs.Kind, LeaseReminted)
		go l.revokeRow(context.WithoutCancel(ctx), replacing.ID)
	}
	if err := l.put(lk, le, epoch); err != nil {
		// The vault's store switched after the row took the lease: the
		// switch retired the row, and its lease is revoked with the others.
		return nil, err
	}
	l.m.log.Info("dynamic secret leased", "vault_id", cs.VaultID, "secret", lk.secret, "ttl_seconds", got.TTLSeconds)
	return le, nil
}

// held returns the lease of a secret this replica holds in memory.
func (l *leases) held(lk leaseKey) *lease {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.live[lk]
}

// own marks a held copy as owned by this replica (after a takeover).
func (l *leases) own(lk leaseKey, le *lease, epoch uint64) (*lease, error) {
	owned := *le
	owned.owned = true
	return &owned, l.put(lk, &owned, epoch)
}

// epoch is the vault's count of forgettings (leases.epochs), read before
// an acquisition.
func (l *leases) epoch(vaultID string) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.epochs[vaultID]
}

// put keeps a lease in memory, unless the vault's leases were forgotten
// since epoch was read: then the vault's store changed under the caller.
func (l *leases) put(lk leaseKey, le *lease, epoch uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.epochs[lk.vaultID] != epoch {
		return domain.Errorf(domain.CodeConflict, "the vault's credential store changed while dynamic secret %q was leased; try again", lk.secret)
	}
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
	return nil
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

// revokeRetired revokes a vault's retired leases upstream, bounded in
// time: those its store switch, disconnect or delete retired (the caller
// retired them and forgot the vault's leases first). Leases minted since,
// from the vault's new store, are current rows and stay. Of replicas
// revoking at once, each lease is revoked by the one that deletes its row;
// one whose revoke fails goes back, for any replica's maintenance.
func (l *leases) revokeRetired(ctx context.Context, vaultID string) {
	rows, err := l.m.cfg.Store.Leases(ctx, vaultID, "")
	if err != nil {
		l.m.log.Error("listing leases to revoke", "vault_id", vaultID, "error", err)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, revokeTimeout)
	defer cancel()
	for _, r := range rows {
		if r.Retired {
			l.revokeRow(ctx, r.ID)
		}
	}
}

// forgetVault drops a vault's leases from memory, at once and for good:
// an acquisition in flight cannot put its lease back (leases.epochs).
func (l *leases) forgetVault(vaultID string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for lk := range l.live {
		if lk.vaultID == vaultID {
			delete(l.live, lk)
		}
	}
	delete(l.byKey, vaultID)
	delete(l.known, vaultID)
	l.epochs[vaultID]++
	l.gen.Add(1)
}

// revokeRow deletes a lease row and, when this caller deleted it, revokes
// the lease the row named at that moment upstream. It reports whether a
// revoke succeeded.
func (l *leases) revokeRow(ctx context.Context, id string) bool {
	r, took, err := l.m.cfg.Store.TakeLeaseRow(context.WithoutCancel(ctx), id)
	if err != nil {
		l.m.log.Error("deleting a lease row", "error", err)
		return false
	}
	if !took || r.LeaseID == "" {
		// Not minted yet: the mint finds its row gone and gives the
		// lease back itself (SetLeaseMinted).
		return false
	}
	// This caller alone may revoke it now: a cancelled caller must not
	// leave it live upstream. Its deadline still holds.
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(revokeTimeout)
	}
	ctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
	defer cancel()
	if l.revokeUpstream(ctx, r.VaultID, r.Kind, r.Config, r.LeaseID) {
		return true
	}
	if r.ExpiresAt.After(l.m.cfg.Now()) {
		// Put it back, retired: any replica's maintenance tries again
		// (unless its vault is gone: then the store's TTL ends it).
		r.Retired, r.OwnerUntil = true, time.Time{}
		if err := l.m.cfg.Store.InsertLease(context.WithoutCancel(ctx), r); err != nil {
			l.m.log.Info("a lease whose revoke failed is left to the store's TTL", "vault_id", r.VaultID, "secret", r.SecretName)
		}
	}
	return false
}

// revokeUpstream revokes one lease through its store's plugin.
func (l *leases) revokeUpstream(ctx context.Context, vaultID, kind string, cfg json.RawMessage, leaseID string) bool {
	if l.m.cfg.Plugins == nil {
		return false
	}
	p, err := l.m.cfg.Plugins.Plugin(kind)
	if err != nil {
		return false
	}
	err = p.LeaseRevoke(ctx, cfg, leaseID)
	ok := err == nil || domain.CodeOf(err) == abi.CodeLeaseNotFound
	if ok {
		l.m.cfg.Observe.Lease(vaultID, kind, LeaseRevoked)
	} else {
		l.m.cfg.Observe.Lease(vaultID, kind, LeaseRevokeFailed)
		l.m.log.Warn("revoking a lease failed; the store's lease TTL will end it", "kind", kind, "code", domain.CodeOf(err))
	}
	return ok
}

// clustered reports whether other replicas may share this database.
func (l *leases) clustered() bool { return l.m.cfg.Store.Dialect() == store.Postgres }

// start deals with the leases a previous run of this instance left: their
// values died with that run. Those no other replica holds (all of them on
// SQLite, the unshared ones on PostgreSQL) are revoked; among replicas a
// lease whose values were handed over is released instead, so a replica
// holding them takes it over (maintain revokes it an owner TTL later if
// none does).
func (l *leases) start(ctx context.Context) {
	l.sweep(ctx)
	if l.clustered() {
		if err := l.m.cfg.Store.ReleaseLeases(ctx, l.m.cfg.InstanceID); err != nil {
			l.m.log.Warn("releasing the leases of a previous run", "error", err)
		}
	}
}

// handedOver reports a lease that other replicas may hold and use: it
// outlives its owner's shutdown.
func (l *leases) handedOver(r store.LeaseRow) bool { return l.clustered() && r.Shared && !r.Retired }

// sweep revokes leases a previous run of this instance left behind, but
// for those handed over. Leases of other instances are left alone.
func (l *leases) sweep(ctx context.Context) {
	rows, err := l.m.cfg.Store.Leases(ctx, "", l.m.cfg.InstanceID)
	if err != nil || len(rows) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, revokeTimeout)
	defer cancel()
	n := 0
	for _, r := range rows {
		if !l.handedOver(r) {
			l.revokeRow(ctx, r.ID)
			n++
		}
	}
	if n > 0 {
		l.m.log.Info("swept leases left by a previous run", "count", n)
	}
}

// maintain runs until ctx ends: every third of the owner TTL it renews
// this replica's ownership of its leases (the heartbeat), takes over the
// leases of stopped owners whose values it holds, and revokes leases
// nobody can use: replaced ones, and those whose owner stopped more than an
// owner TTL ago with no replica taking them over.
func (l *leases) maintain(ctx context.Context) {
	ttl := l.m.cfg.LeaseOwnerTTL
	t := time.NewTicker(ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		l.maintainOnce(ctx)
	}
}

func (l *leases) maintainOnce(ctx context.Context) {
	st, me, ttl := l.m.cfg.Store, l.m.cfg.InstanceID, l.m.cfg.LeaseOwnerTTL
	now := l.m.cfg.Now()
	if err := st.HeartbeatLeases(ctx, me, now.Add(ttl)); err != nil {
		if ctx.Err() == nil {
			l.m.log.Warn("lease heartbeat failed", "error", err)
		}
		return
	}
	rows, err := st.UnownedLeases(ctx, now)
	if err != nil {
		return
	}
	for _, r := range rows {
		lk := leaseKey{r.VaultID, r.SecretName}
		epoch := l.epoch(r.VaultID)
		held := l.held(lk)
		switch {
		case r.Retired:
			l.revokeRow(ctx, r.ID)
		case held != nil && held.rowID == r.ID && held.leaseID == r.LeaseID && r.LeaseID != "":
			if ok, err := st.TakeOverLease(ctx, r.ID, me, now.Add(ttl), now); err == nil && ok {
				if _, err := l.own(lk, held, epoch); err == nil {
					l.m.log.Info("took over a dynamic-secret lease whose owner stopped", "vault_id", r.VaultID, "secret", r.SecretName, "previous_owner", r.InstanceID)
				}
			}
		case r.OwnerUntil.Before(now.Add(-ttl)):
			if l.revokeRow(ctx, r.ID) {
				l.m.log.Info("revoked a dynamic-secret lease nobody holds", "vault_id", r.VaultID, "secret", r.SecretName)
			}
		}
	}
}

// changed is told by the cluster watcher that a vault's data changed on
// some replica ("" for every vault). Copies of leases handed over by
// other replicas are dropped (the next use asks the owner again), the
// list of dynamic secrets is read anew, and owned leases are checked
// against the database in the background: one deleted or taken over
// elsewhere is forgotten.
func (l *leases) changed(vaultID string) {
	var owned []leaseKey
	l.mu.Lock()
	for lk, le := range l.live {
		if vaultID != "" && lk.vaultID != vaultID {
			continue
		}
		if le.owned {
			owned = append(owned, lk)
		} else {
			delete(l.live, lk)
			l.gen.Add(1)
		}
	}
	if vaultID == "" {
		clear(l.known)
	} else {
		delete(l.known, vaultID)
	}
	l.mu.Unlock()
	if len(owned) == 0 {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), revokeTimeout)
		defer cancel()
		for _, lk := range owned {
			row, found, err := l.m.cfg.Store.CurrentLease(ctx, lk.vaultID, lk.secret)
			if err != nil {
				continue
			}
			l.mu.Lock()
			if le := l.live[lk]; le != nil && le.owned && (!found || row.ID != le.rowID || row.InstanceID != l.m.cfg.InstanceID) {
				delete(l.live, lk)
				l.gen.Add(1)
			}
			l.mu.Unlock()
		}
	}()
}

// shutdown ends this instance's part in its leases within revokeTimeout.
// It revokes those no other replica holds (all of them on SQLite), retired
// ones included; a lease whose revoke failed goes back as a retired row of
// this instance, for the next start's sweep (or, among replicas, any
// one's maintenance). Among replicas a lease whose values were handed over
// is released instead: a replica holding them takes it over at once.
func (l *leases) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), revokeTimeout)
	defer cancel()
	rows, err := l.m.cfg.Store.Leases(ctx, "", l.m.cfg.InstanceID)
	if err != nil {
		return
	}
	for _, r := range rows {
		if !l.handedOver(r) {
			l.revokeRow(ctx, r.ID)
		}
	}
	if l.clustered() {
		if err := l.m.cfg.Store.ReleaseLeases(ctx, l.m.cfg.InstanceID); err != nil {
			l.m.log.Warn("handing over leases at shutdown", "error", err)
		}
	}
}

// ActiveLeases counts the live leases this instance holds, by vault id
// (owned ones and copies handed over by their owners).
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

package credstore

import (
	"context"
	"encoding/json"
	"errors"
	"hash/fnv"
	"time"

	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/plugin"
	"github.com/agent-vault/agent-vault/host/store"
)

// maxSyncErrorLen bounds the error message kept on a failed sync.
const maxSyncErrorLen = 300

// Summary is a vault's credential store as callers see it.
type Summary struct {
	Kind                string          `json:"kind" doc:"builtin, or an external kind such as infisical"`
	ReadOnly            bool            `json:"read_only" doc:"Local credential writes are refused (the external store is the source of truth)"`
	Config              json.RawMessage `json:"config,omitempty" doc:"The store's per-vault config (vault admins and instance owners)"`
	PollIntervalSeconds int             `json:"poll_interval_seconds,omitempty"`
	LastSyncStatus      string          `json:"last_sync_status,omitempty" enum:"ok,error"`
	LastSyncedAt        *time.Time      `json:"last_synced_at,omitempty"`
	LastSyncError       string          `json:"last_sync_error,omitempty" doc:"Why the last sync failed (vault admins and instance owners)"`
	NextSyncAt          *time.Time      `json:"next_sync_at,omitempty"`
	CredentialCount     int             `json:"credential_count"`
}

// Summarize describes a vault's store. With privileged false, the config
// and the sync error are left out.
func (m *Manager) Summarize(ctx context.Context, vaultID string, privileged bool) (Summary, error) {
	creds, err := m.cfg.Store.ListCredentials(ctx, vaultID)
	if err != nil {
		return Summary{}, err
	}
	cs, found, err := m.cfg.Store.CredentialStoreOf(ctx, vaultID)
	if err != nil || !found {
		return Summary{Kind: BuiltinKind, CredentialCount: len(creds)}, err
	}
	s := Summary{Kind: cs.Kind, ReadOnly: true, PollIntervalSeconds: cs.PollIntervalSeconds, LastSyncStatus: cs.LastSyncStatus,
		LastSyncedAt: cs.LastSyncedAt, CredentialCount: len(creds)}
	if privileged {
		s.Config, s.LastSyncError = json.RawMessage(cs.Config), cs.LastSyncError
	}
	if _, err := m.external(cs.Kind); err == nil {
		next := m.nextSync(cs)
		s.NextSyncAt = &next
	}
	return s, nil
}

// nextSync is when the scheduler will sync a store next: a full interval
// after the last attempt plus a small per-vault jitter, so vaults created
// together do not all poll in the same second.
func (m *Manager) nextSync(cs store.CredentialStore) time.Time {
	if cs.LastSyncedAt == nil {
		return m.cfg.Now()
	}
	interval := time.Duration(cs.PollIntervalSeconds) * time.Second
	h := fnv.New32a()
	h.Write([]byte(cs.VaultID))
	jitter := time.Duration(h.Sum32()%1000) * interval / 10000 // up to 10% of the interval
	return cs.LastSyncedAt.Add(interval + jitter).UTC()
}

// Sync refreshes a vault from its external store now. It fails with
// sync_in_flight when a refresh of the vault is already running. On any
// failure the previous snapshot keeps serving and the store records the
// error; a snapshot fetched under a config that has since changed is
// discarded. Replicas sharing a database sync a vault one at a time,
// cluster-wide (store.TrySyncLock): a sync asked of one replica while
// another syncs the vault fails with sync_in_flight too.
func (m *Manager) Sync(ctx context.Context, vaultID string) error {
	return m.sync(ctx, vaultID, false)
}

// sync is Sync; scheduled syncs also skip a vault that another replica
// synced since this one saw it due.
func (m *Manager) sync(ctx context.Context, vaultID string, scheduled bool) error {
	cs, found, err := m.cfg.Store.CredentialStoreOf(ctx, vaultID)
	if err != nil {
		return err
	}
	if !found {
		return domain.Errorf(CodeNotExternal, "this vault uses the built-in store; there is nothing to sync")
	}
	p, err := m.external(cs.Kind)
	if err != nil {
		return err
	}
	if _, busy := m.inflight.LoadOrStore(vaultID, struct{}{}); busy {
		return domain.Errorf(domain.CodeSyncInFlight, "a sync of this vault is already in flight")
	}
	defer m.inflight.Delete(vaultID)
	release, ok, err := m.cfg.Store.TrySyncLock(ctx, vaultID)
	if err != nil {
		return err
	}
	if !ok {
		return domain.Errorf(domain.CodeSyncInFlight, "another replica is syncing this vault")
	}
	defer release()
	// Read again under the lock: another replica may have synced (or the
	// config changed) since.
	if cs, found, err = m.cfg.Store.CredentialStoreOf(ctx, vaultID); err != nil || !found {
		return err
	}
	if scheduled && m.cfg.Now().Before(m.nextSync(cs)) {
		return nil
	}

	start := time.Now()
	outcome := SyncError
	defer func() {
		if ctx.Err() == nil {
			m.cfg.Observe.Synced(vaultID, cs.Kind, outcome, time.Since(start))
		}
	}()
	snapshot, err := p.Sync(ctx, cs.Config)
	if err != nil {
		if ctx.Err() != nil {
			return err // shutting down: not the store's failure
		}
		msg := err.Error()
		var pe *plugin.Error
		if errors.As(err, &pe) {
			msg = pe.Display()
		}
		if len(msg) > maxSyncErrorLen {
			msg = msg[:maxSyncErrorLen] + "…"
		}
		if rerr := m.cfg.Store.RecordSyncFailure(context.WithoutCancel(ctx), vaultID, cs.Generation, msg); rerr != nil {
			m.log.Error("recording a failed sync", "vault_id", vaultID, "error", rerr)
		}
		m.log.Warn("sync failed; the previous snapshot keeps serving", "vault_id", vaultID, "kind", cs.Kind, "code", domain.CodeOf(err), "error", msg)
		if scheduled && m.cfg.ScheduledSync != nil {
			m.cfg.ScheduledSync(ctx, cs, err)
		}
		return err
	}
	sealed, err := m.sealAll(vaultID, snapshot)
	if err != nil {
		return err
	}
	applied, err := m.cfg.Store.ApplySync(ctx, vaultID, cs.Generation, sealed)
	if err != nil {
		return err
	}
	if !applied {
		outcome = SyncDiscarded
		m.log.Info("sync discarded: the vault's store changed while it ran", "vault_id", vaultID)
		return domain.Errorf(domain.CodeConflict, "the vault's credential store changed during the sync; its result was discarded")
	}
	outcome = SyncOK
	m.cfg.Changed(vaultID)
	if scheduled && m.cfg.ScheduledSync != nil {
		m.cfg.ScheduledSync(ctx, cs, nil)
	}
	m.log.Debug("synced", "vault_id", vaultID, "kind", cs.Kind, "credentials", len(snapshot))
	return nil
}

// Scheduler settings.
const (
	schedulerTick     = time.Second
	maxConcurrentSync = 4
)

// Run deals with the leases left by a previous run of this instance, then
// syncs every external vault at its cadence and keeps this replica's
// leases owned (heartbeats) until ctx ends, and finally revokes or hands
// over this instance's leases (bounded in time). At most
// maxConcurrentSync syncs run at once, and one at a time per vault.
func (m *Manager) Run(ctx context.Context) {
	m.leases.start(ctx)
	maintained := make(chan struct{})
	go func() { m.leases.maintain(ctx); close(maintained) }()
	defer func() { <-maintained; m.leases.shutdown() }()
	if len(m.Kinds()) == 1 {
		m.log.Info("no external credential store is configured; the sync scheduler is off (external vaults keep serving their cached snapshot)")
		<-ctx.Done()
		return
	}
	slots := make(chan struct{}, maxConcurrentSync)
	t := time.NewTicker(schedulerTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		stores, err := m.cfg.Store.ExternalStores(ctx)
		if err != nil {
			if ctx.Err() == nil {
				m.log.Error("listing external stores", "error", err)
			}
			continue
		}
		now := m.cfg.Now()
		for _, cs := range stores {
			if now.Before(m.nextSync(cs)) {
				continue
			}
			if _, err := m.external(cs.Kind); err != nil {
				continue // kind not configured here: keep serving the cache
			}
			if _, busy := m.inflight.Load(cs.VaultID); busy {
				continue
			}
			select {
			case slots <- struct{}{}:
			default:
				continue // all slots busy: next tick
			}
			go func(vaultID string) {
				defer func() { <-slots }()
				m.sync(ctx, vaultID, true)
			}(cs.VaultID)
		}
	}
}

// Package credstore runs the credential-store lifecycle: creating a vault
// on an external store (probe first, then one transaction), connecting and
// disconnecting existing vaults, syncing (scheduled and manual, one at a
// time per vault, never partially), and dynamic-secret leases. Store kinds
// are plugins (host/plugin); this package decides when to call them and
// what to do with their answers. It seals every value before it is stored
// and never hands the DEK to a plugin.
package credstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/plugin"
	"github.com/agent-vault/agent-vault/host/seal"
	"github.com/agent-vault/agent-vault/host/store"
	"github.com/agent-vault/agent-vault/sdk/abi"
)

// BuiltinKind is the store every vault has unless it is connected to
// another one.
const BuiltinKind = "builtin"

// Poll cadence bounds, in seconds.
const (
	DefaultPollInterval = 60
	MinPollInterval     = 10
	MaxPollInterval     = 24 * 3600
)

// Stable codes this package adds.
const (
	CodeNotExternal = "credential_store_not_external"
)

// NotConfiguredCode is the code for a store kind whose instance-level
// settings are missing, e.g. infisical_not_configured.
func NotConfiguredCode(kind string) string { return kind + "_not_configured" }

// Spec asks for a vault's credential store.
type Spec struct {
	Kind                string
	Config              json.RawMessage
	PollIntervalSeconds int
}

// Config is what the manager needs.
type Config struct {
	Store   *store.Store
	Keyring *seal.Keyring
	Plugins *plugin.Runtime
	Logger  *slog.Logger
	// Env reads instance-level settings (to tell which kinds are
	// configured); nil means no external kind is configured.
	Env func(string) string
	// Unloaded are the manifests of shipped kinds the server did not load
	// because their instance settings are absent; asking for one answers
	// <kind>_not_configured rather than "no such kind".
	Unloaded map[string]abi.Manifest
	// InstanceID identifies this server instance on lease rows.
	InstanceID string
	// Changed is told when a vault's credentials changed (the proxy's
	// cache reloads them).
	Changed func(vaultID string)
	// ScheduledSync, when set, is told the outcome of each scheduled sync
	// that ran (nil error: applied), with the store as it was before, so
	// the audit trail can record changes of state. May be nil.
	ScheduledSync func(ctx context.Context, before store.CredentialStore, err error)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MinPollInterval is the shortest sync cadence a vault may ask for;
	// zero means MinPollInterval seconds. Tests of the scheduler lower it.
	MinPollInterval time.Duration
	// Observe is told of every sync and lease event (metrics); nil: none.
	Observe Observer
	// LeaseOwnerTTL is how long a replica owns a dynamic-secret lease
	// after its last heartbeat before another may take it over; zero
	// means DefaultLeaseOwnerTTL. Heartbeats come every third of it.
	LeaseOwnerTTL time.Duration
}

// Observer receives the store lifecycle's events. Its methods are called
// synchronously and must be quick.
type Observer interface {
	// Synced reports a finished sync attempt of a vault with its outcome
	// (SyncOK, SyncError, SyncDiscarded); syncs cut short by shutdown and
	// refused ones (sync_in_flight) are not reported.
	Synced(vaultID, kind, outcome string, took time.Duration)
	// Lease reports a dynamic-secret lease event (Lease… constants).
	Lease(vaultID, kind, event string)
}

// Sync outcomes.
const (
	SyncOK        = "ok"
	SyncError     = "error"
	SyncDiscarded = "discarded" // the store's config changed while it ran
)

// Lease events.
const (
	LeaseMinted       = "minted"
	LeaseRenewed      = "renewed"
	LeaseReminted     = "reminted" // a lease replaced by a new one (renewal failed or not renewable)
	LeaseRevoked      = "revoked"
	LeaseMintFailed   = "mint_failed"
	LeaseRenewFailed  = "renew_failed"
	LeaseRevokeFailed = "revoke_failed"
)

// LeaseEvents lists every lease event.
var LeaseEvents = []string{LeaseMinted, LeaseRenewed, LeaseReminted, LeaseRevoked, LeaseMintFailed, LeaseRenewFailed, LeaseRevokeFailed}

type noObserver struct{}

func (noObserver) Synced(string, string, string, time.Duration) {}
func (noObserver) Lease(string, string, string)                 {}

// Manager is the credential-store lifecycle. Its methods are safe for
// concurrent use.
type Manager struct {
	cfg      Config
	log      *slog.Logger
	inflight sync.Map // vault id → struct{}: one sync at a time per vault
	leases   *leases
}

// New returns a manager; call Run to start the sync scheduler.
func New(cfg Config) *Manager {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Env == nil {
		cfg.Env = func(string) string { return "" }
	}
	if cfg.Changed == nil {
		cfg.Changed = func(string) {}
	}
	if cfg.Observe == nil {
		cfg.Observe = noObserver{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.LeaseOwnerTTL <= 0 {
		cfg.LeaseOwnerTTL = DefaultLeaseOwnerTTL
	}
	if cfg.MinPollInterval <= 0 {
		cfg.MinPollInterval = MinPollInterval * time.Second
	}
	m := &Manager{cfg: cfg, log: cfg.Logger}
	m.leases = newLeases(m)
	return m
}

// KindInfo describes a store kind a caller may choose.
type KindInfo struct {
	Kind         string          `json:"kind"`
	Description  string          `json:"description,omitempty"`
	ReadOnly     bool            `json:"read_only" doc:"Local credential writes are refused"`
	Polls        bool            `json:"polls" doc:"Credentials are fetched on a cadence"`
	Dynamic      bool            `json:"dynamic_secrets" doc:"The store mints short-lived credentials"`
	ConfigSchema json.RawMessage `json:"config_schema,omitempty" doc:"JSON Schema of the per-vault config"`
}

// Kinds lists the built-in kind and every external kind that is loaded and
// configured on this instance.
func (m *Manager) Kinds() []KindInfo {
	out := []KindInfo{{Kind: BuiltinKind, Description: "Credentials stored in Agent Vault, sealed with the instance key."}}
	if m.cfg.Plugins == nil {
		return out
	}
	for _, p := range m.cfg.Plugins.Plugins() {
		man := p.Manifest()
		if man.Kind == BuiltinKind || !man.Features.Has(abi.FeaturePolls) || m.configured(man) != nil {
			continue
		}
		out = append(out, KindInfo{Kind: man.Kind, Description: man.Description, ReadOnly: !man.Features.Has(abi.FeatureWritable),
			Polls: true, Dynamic: man.Features.Has(abi.FeatureDynamicSecrets), ConfigSchema: man.ConfigSchema})
	}
	sort.Slice(out[1:], func(i, j int) bool { return out[1+i].Kind < out[1+j].Kind })
	return out
}

// checkTimeout bounds a kind's start-up check.
const checkTimeout = 15 * time.Second

// CheckKinds asks every configured external kind that can (feature
// check) to verify its instance settings, such as logging in, and logs the
// outcome: which method it used, or why it failed. It never stops the
// server; a failing kind stays unavailable until its settings work.
func (m *Manager) CheckKinds(ctx context.Context) {
	if m.cfg.Plugins == nil {
		return
	}
	for _, p := range m.cfg.Plugins.Plugins() {
		man := p.Manifest()
		if !man.Features.Has(abi.FeatureCheck) || m.configured(man) != nil {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, checkTimeout)
		summary, err := p.Check(cctx)
		cancel()
		if err != nil {
			msg := err.Error()
			var pe *plugin.Error
			if errors.As(err, &pe) {
				msg = pe.Display()
			}
			m.log.Warn("credential store unavailable until its settings work", "kind", man.Kind, "code", domain.CodeOf(err), "error", msg)
			continue
		}
		m.log.Info("credential store ready", "kind", man.Kind, "check", summary)
	}
}

// configured reports whether every required instance setting of a plugin
// is present.
func (m *Manager) configured(man abi.Manifest) error { return Configured(man, m.cfg.Env) }

// Configured returns a <kind>_not_configured error naming the required
// instance settings of man that getenv lacks, or nil.
func Configured(man abi.Manifest, getenv func(string) string) error {
	var missing []string
	for _, e := range man.Env {
		if v, _ := e.Lookup(getenv, nil); e.Required && v == "" {
			missing = append(missing, strings.Join(e.Names(), " or "))
		}
	}
	if len(missing) > 0 {
		return domain.Errorf(NotConfiguredCode(man.Kind), "the %s credential store is not configured on this server (set %s and restart)", man.Kind, strings.Join(missing, ", "))
	}
	return nil
}

// external returns the plugin of an external kind, if loaded and
// configured.
func (m *Manager) external(kind string) (*plugin.Plugin, error) {
	if kind == BuiltinKind {
		return nil, domain.Errorf(CodeNotExternal, "builtin is not an external store")
	}
	if m.cfg.Plugins == nil {
		return nil, domain.Errorf(NotConfiguredCode(kind), "the %s credential store is not available on this server", kind)
	}
	p, err := m.cfg.Plugins.Plugin(kind)
	if err != nil {
		if man, ok := m.cfg.Unloaded[kind]; ok {
			if err := m.configured(man); err != nil {
				return nil, err
			}
		}
		return nil, domain.Errorf(domain.CodePluginNotFound, "no credential store kind %q on this server", kind)
	}
	man := p.Manifest()
	if !man.Features.Has(abi.FeaturePolls) {
		return nil, domain.Errorf(domain.CodeInvalidStoreConfig, "store kind %q is not an external store", kind)
	}
	if err := m.configured(man); err != nil {
		return nil, err
	}
	return p, nil
}

// prepare checks a spec and fills its defaults.
func (m *Manager) prepare(ctx context.Context, spec Spec) (*plugin.Plugin, Spec, error) {
	p, err := m.external(spec.Kind)
	if err != nil {
		return nil, spec, err
	}
	if spec.PollIntervalSeconds == 0 {
		spec.PollIntervalSeconds = DefaultPollInterval
	}
	if min := int(m.cfg.MinPollInterval.Seconds()); spec.PollIntervalSeconds < max(min, 1) || spec.PollIntervalSeconds > MaxPollInterval {
		return nil, spec, domain.FieldError(domain.CodeInvalidStoreConfig, "poll_interval_seconds", "must be between %d and %d seconds", max(min, 1), MaxPollInterval)
	}
	if len(spec.Config) == 0 {
		spec.Config = json.RawMessage(`{}`)
	}
	if err := p.ValidateConfig(ctx, spec.Config); err != nil {
		return nil, spec, err
	}
	return p, spec, nil
}

// fetch probes the store, then takes its full snapshot: what create and
// connect share. Nothing is written.
func (m *Manager) fetch(ctx context.Context, p *plugin.Plugin, cfg json.RawMessage) (map[string]string, error) {
	if err := p.Probe(ctx, cfg); err != nil {
		return nil, err
	}
	return p.Sync(ctx, cfg)
}

// sealAll seals a snapshot for one vault.
func (m *Manager) sealAll(vaultID string, snapshot map[string]string) (map[string][]byte, error) {
	out := make(map[string][]byte, len(snapshot))
	for k, v := range snapshot {
		b, err := m.cfg.Keyring.Seal([]byte(v), seal.CredentialAAD(vaultID, k))
		if err != nil {
			return nil, err
		}
		out[k] = b
	}
	return out, nil
}

// CreateVault creates a vault backed by an external store. The store is
// probed and its snapshot fetched first; then the vault row, the store
// config, the sealed snapshot and the creator's grant are committed in one
// transaction. Any failure creates nothing.
func (m *Manager) CreateVault(ctx context.Context, name string, creator *store.Grant, spec Spec) (store.Vault, error) {
	p, spec, err := m.prepare(ctx, spec)
	if err != nil {
		return store.Vault{}, err
	}
	snapshot, err := m.fetch(ctx, p, spec.Config)
	if err != nil {
		return store.Vault{}, err
	}
	return m.cfg.Store.CreateVault(ctx, name, creator, func(tx *store.Tx, v store.Vault) error {
		sealed, err := m.sealAll(v.ID, snapshot)
		if err != nil {
			return err
		}
		return tx.ConnectStore(m.row(v.ID, spec), sealed)
	})
}

func (m *Manager) row(vaultID string, spec Spec) store.CredentialStore {
	return store.CredentialStore{VaultID: vaultID, Kind: spec.Kind, Config: spec.Config, PollIntervalSeconds: spec.PollIntervalSeconds}
}

// Connect switches a vault (built-in or external) to an external store:
// probe and fetch first, then the vault's credentials are replaced by the
// snapshot in one transaction and polling starts. Re-connecting to the same
// source is how the cadence changes. Leases minted under the old config are
// retired in that transaction, forgotten before Connect returns, and
// revoked in the background.
func (m *Manager) Connect(ctx context.Context, v store.Vault, spec Spec) error {
	p, spec, err := m.prepare(ctx, spec)
	if err != nil {
		return err
	}
	snapshot, err := m.fetch(ctx, p, spec.Config)
	if err != nil {
		return err
	}
	sealed, err := m.sealAll(v.ID, snapshot)
	if err != nil {
		return err
	}
	if err := m.cfg.Store.ConnectStore(ctx, m.row(v.ID, spec), sealed); err != nil {
		return err
	}
	m.switched(ctx, v.ID)
	m.log.Info("vault connected to an external credential store", "vault", v.Name, "kind", spec.Kind, "credentials", len(snapshot))
	return nil
}

// Disconnect returns a vault to the built-in store: polling stops and the
// last synced secrets stay as ordinary, editable credentials. It works
// whether or not the external kind is configured.
func (m *Manager) Disconnect(ctx context.Context, v store.Vault) error {
	if err := m.cfg.Store.DisconnectStore(ctx, v.ID); err != nil {
		return err
	}
	m.switched(ctx, v.ID)
	m.log.Info("vault disconnected from its external credential store", "vault", v.Name)
	return nil
}

// switched follows a vault's store switch or disconnect, whose
// transaction retired the vault's leases: they are forgotten at once (no
// request is served from them any more) and revoked in the background.
func (m *Manager) switched(ctx context.Context, vaultID string) {
	m.leases.forgetVault(vaultID)
	m.cfg.Changed(vaultID)
	go m.leases.revokeRetired(context.WithoutCancel(ctx), vaultID)
}

// BeforeDeleteVault retires, forgets and revokes the vault's leases
// (bounded in time) before the vault and everything it owns is deleted.
func (m *Manager) BeforeDeleteVault(ctx context.Context, vaultID string) {
	if err := m.cfg.Store.RetireVaultLeases(ctx, vaultID); err != nil {
		m.log.Error("retiring a deleted vault's leases", "vault_id", vaultID, "error", err)
	}
	m.leases.forgetVault(vaultID)
	m.leases.revokeRetired(ctx, vaultID)
}

// IsExternal reports whether a vault's credentials come from an external
// store (and so refuse local writes).
func (m *Manager) IsExternal(ctx context.Context, vaultID string) (bool, error) {
	_, found, err := m.cfg.Store.CredentialStoreOf(ctx, vaultID)
	return found, err
}

// ValidateWrite asks the built-in store plugin whether a local write is
// acceptable. External vaults refuse local writes.
func (m *Manager) ValidateWrite(ctx context.Context, vaultID string, creds map[string]string) error {
	cs, external, err := m.cfg.Store.CredentialStoreOf(ctx, vaultID)
	if err != nil {
		return err
	}
	if external {
		return domain.Errorf(domain.CodeExternalStore, "this vault's credentials come from %s, the source of truth; change them there (or disconnect the store)", cs.Kind)
	}
	if m.cfg.Plugins == nil || creds == nil {
		return nil
	}
	p, err := m.cfg.Plugins.Plugin(BuiltinKind)
	if err != nil {
		return fmt.Errorf("the built-in store plugin is not loaded: %w", err)
	}
	return p.ValidateWrite(ctx, json.RawMessage(`{}`), creds)
}

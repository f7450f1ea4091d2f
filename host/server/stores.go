package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/agent-vault/agent-vault/host/audit"
	"github.com/agent-vault/agent-vault/host/credstore"
	"github.com/agent-vault/agent-vault/host/netguard"
	"github.com/agent-vault/agent-vault/host/plugin"
	"github.com/agent-vault/agent-vault/host/seal"
	"github.com/agent-vault/agent-vault/host/store"
	"github.com/agent-vault/agent-vault/host/vaultcache"
	"github.com/agent-vault/agent-vault/plugins"
	"github.com/agent-vault/agent-vault/sdk/abi"
	"golang.org/x/sync/errgroup"
)

// startStores loads the store plugins (the shipped ones, then any in the
// plugin directory) and builds the credential-store manager. A shipped
// plugin that fails to load stops the server; a third-party one is
// reported and skipped.
func startStores(ctx context.Context, cfg Config, st *store.Store, keyring *seal.Keyring, cache *vaultcache.Cache, rec *audit.Recorder) (*credstore.Manager, func(), error) {
	log := cfg.Logger
	getenv := cfg.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	shipped, err := plugins.All()
	if err != nil {
		return nil, nil, err
	}
	pcfg, err := pluginGrants(cfg, getenv, shipped)
	if err != nil {
		return nil, nil, err
	}
	pcfg.CacheDir = filepath.Join(cfg.DataDir, "wasm-cache")
	pcfg.Logger = log
	pcfg.Env = getenv
	pcfg.PluginDir = cfg.PluginDir
	pcfg.IdleRelease = cfg.PluginIdleRelease
	pcfg.Observe = pluginObserver(cfg.metrics)
	// Plugins trust what the proxy trusts: the system roots and
	// --upstream-ca-file.
	if pcfg.RootCAs, err = upstreamRoots(cfg.UpstreamCAFile); err != nil {
		return nil, nil, err
	}
	rt, err := plugin.NewRuntime(ctx, pcfg)
	if err != nil {
		return nil, nil, err
	}
	closeRT := func() { rt.Close(context.Background()) }
	// A shipped plugin whose manifest is remembered from an earlier start
	// (by the SHA-256 of its module) is not compiled now: a configured one
	// is registered and compiles on first use; an external kind whose
	// required settings are absent is not registered at all, and its
	// manifest says what it needs. The others load side by side, so a first
	// start takes as long as the slowest one, not the sum (most of a load is
	// wazero validating and compiling, which one plugin cannot spread over
	// every core).
	manifests := manifestCache{dir: filepath.Join(cfg.DataDir, "wasm-cache", "manifests")}
	unloaded := map[string]abi.Manifest{}
	var g errgroup.Group
	for kind, wasm := range shipped {
		// The build recorded every shipped manifest (plugins.BuildManifest),
		// so normally nothing is compiled or even hashed here; the data
		// directory's record serves a binary built without it.
		man, ok := plugins.BuildManifest(kind)
		if !ok {
			if man, ok = manifests.get(wasm); ok {
				// Hashing read every page of the embedded module; nothing
				// reads it again until a compile.
				plugins.DropPages(kind)
			}
		}
		if ok {
			if err := credstore.Configured(man, getenv); err != nil && kind != credstore.BuiltinKind {
				log.Info("store plugin not loaded: its kind is not configured", "plugin", kind, "reason", err.Error())
				unloaded[kind] = man
				continue
			}
			p, err := rt.Register(kind, wasm, man)
			if err != nil {
				closeRT()
				return nil, nil, fmt.Errorf("registering the shipped %s store plugin: %w", kind, err)
			}
			// A configured kind compiles in the background, so its first
			// call rarely waits; one that comes sooner waits for it.
			if kind != credstore.BuiltinKind {
				go p.Warm(ctx)
			}
			continue
		}
		g.Go(func() error {
			p, err := rt.Load(ctx, kind, wasm)
			if err != nil {
				return fmt.Errorf("loading the shipped %s store plugin: %w", kind, err)
			}
			manifests.put(wasm, p.Manifest())
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		closeRT()
		return nil, nil, err
	}
	for _, err := range rt.LoadDir(ctx) {
		log.Error("a store plugin was skipped", "error", err)
	}
	id, err := instanceID(cfg.DataDir)
	if err != nil {
		closeRT()
		return nil, nil, err
	}
	m := credstore.New(credstore.Config{
		Store: st, Keyring: keyring, Plugins: rt, Logger: log, Env: getenv, InstanceID: id, Unloaded: unloaded,
		Changed: cache.Invalidate, MinPollInterval: cfg.MinPollInterval, ScheduledSync: auditScheduledSync(st, rec),
		Observe:       storeObserver(cfg.metrics),
		LeaseOwnerTTL: cfg.LeaseOwnerTTL,
	})
	cache.SetDynamic(m) // also a LeasedValueSource: live leased values join the egress set
	var kinds []string
	for _, k := range m.Kinds() {
		kinds = append(kinds, k.Kind)
	}
	log.Info("credential stores available", "kinds", strings.Join(kinds, ","))
	go m.CheckKinds(ctx) // logs in where a kind can, without holding up the start
	return m, closeRT, nil
}

// pluginGrants is the part of the plugin runtime's configuration that
// decides what plugins may have: the operator's grants file, the shipped
// kinds no third-party plugin may take, the data directory no plugin may
// read, and the network guard of their HTTP capability. That guard honours
// the operator's name pins (AGENT_VAULT_RESOLVE) but not the proxy's
// private-range allowances: a plugin reaches a private address only
// through an origin granted to it.
func pluginGrants(cfg Config, getenv func(string) string, shipped map[string][]byte) (plugin.Config, error) {
	var pc plugin.Config
	if cfg.PluginGrantsFile != "" {
		g, err := plugin.ReadGrantsFile(cfg.PluginGrantsFile)
		if err != nil {
			return pc, err
		}
		pc.Grants = g
	}
	for kind := range shipped {
		pc.ReservedKinds = append(pc.ReservedKinds, kind)
	}
	pc.DenyPaths = []string{cfg.DataDir}
	if abs, err := filepath.Abs(cfg.DataDir); err == nil {
		pc.DenyPaths = append(pc.DenyPaths, abs)
		if real, err := filepath.EvalSymlinks(abs); err == nil {
			pc.DenyPaths = append(pc.DenyPaths, real)
		}
	}
	opts, err := netguard.FromEnv(getenv)
	if err != nil {
		return pc, err
	}
	pc.Guard, err = netguard.New(netguard.Options{Pins: opts.Pins, Dialer: &net.Dialer{Timeout: 10 * time.Second}})
	return pc, err
}

// manifestCache remembers the manifests of shipped plugins by the SHA-256
// of their module, in the data directory, so a later start can tell what a
// plugin needs without compiling it.
type manifestCache struct{ dir string }

func (c manifestCache) path(wasm []byte) string {
	sum := sha256.Sum256(wasm)
	return filepath.Join(c.dir, hex.EncodeToString(sum[:])+".json")
}

func (c manifestCache) get(wasm []byte) (abi.Manifest, bool) {
	b, err := os.ReadFile(c.path(wasm))
	if err != nil {
		return abi.Manifest{}, false
	}
	man, err := abi.DecodeManifest(b)
	if err != nil {
		return abi.Manifest{}, false
	}
	return *man, true
}

// put is best effort: without the entry the next start simply loads.
func (c manifestCache) put(wasm []byte, man abi.Manifest) {
	b, err := json.Marshal(man)
	if err != nil || os.MkdirAll(c.dir, 0o700) != nil {
		return
	}
	os.WriteFile(c.path(wasm), b, 0o600)
}

// instanceID names this server instance on the lease rows it writes. It
// lives in the data directory, not the database, so replicas sharing one
// database each keep their own.
func instanceID(dataDir string) (string, error) {
	path := filepath.Join(dataDir, "instance-id")
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	id := store.NewID()
	if err := os.WriteFile(path, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("writing the instance id: %w", err)
	}
	return id, nil
}

// Interface guards
var _ vaultcache.LeasedValueSource = (*credstore.Manager)(nil)

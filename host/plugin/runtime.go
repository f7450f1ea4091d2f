// Package plugin runs credential-store plugins: WebAssembly modules that
// implement the ABI in sdk/ABI.md, executed by wazero.
//
// It has two layers. The ABI layer (hostfuncs.go, call.go) reads and writes
// guest memory, decodes envelopes and implements the host imports through the
// hostServices interface. The runtime layer (this file, pool.go, load.go)
// compiles with an on-disk cache, validates at load, pools instances,
// holds compiled code only while a plugin is in use (residency.go) and
// applies limits. It imports no other host package but host/domain and
// host/netguard: the server passes in a network guard, a logger, an
// environment reader, the operator's grants and a cache dir.
package plugin

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/netguard"
)

// Config configures a Runtime. Zero values take the documented defaults.
type Config struct {
	// CacheDir holds wazero's compilation cache (the server uses
	// <data-dir>/wasm-cache). Empty: compile in memory on every start.
	CacheDir string
	// Logger receives runtime events and plugin log lines (with a "plugin"
	// attribute). Default: slog.Default().
	Logger *slog.Logger
	// Guard checks and dials every connection of the HTTP capability. Each
	// plugin uses a copy that may also reach the private addresses of the
	// origins the operator granted it (Guard.WithExceptions). Default: a
	// guard that refuses every private and special-purpose address.
	Guard *netguard.Guard
	// Env reads an instance-level environment variable. Only names a
	// manifest declares are ever read. Default: os.Getenv.
	Env func(name string) string
	// PluginDir holds third-party *.wasm plugins loaded by LoadDir.
	PluginDir string
	// CallTimeout bounds every export call, from the moment it has an
	// instance. Default 30 s.
	CallTimeout time.Duration
	// InitTimeout bounds creating an instance (the plugin's _initialize),
	// separately from the call that needed it, and each of Load's calls
	// (abi_version, manifest). Default 30 s.
	InitTimeout time.Duration
	// MemoryLimitPages caps each instance's linear memory in 64 KiB pages.
	// Default 2048 (128 MiB): a 16 MiB HTTP body arrives base64-encoded in
	// an envelope and is decoded next to it, under Go's garbage collector.
	MemoryLimitPages uint32
	// MaxInstances caps live instances per plugin (and so concurrent calls
	// into it). Default 4.
	MaxInstances int
	// MaxModuleBytes refuses larger modules before compiling. Default 32 MiB.
	MaxModuleBytes int
	// Observe, when set, is told of every store call (not the load-time
	// calls) once it returns: the plugin's kind, the export, how long it
	// took and its error (a *Error, or nil). It must be quick.
	Observe func(kind, export string, took time.Duration, err error)
	// IdleRelease closes a plugin's instances and compiled code once no
	// call has run for this long; the next call compiles it again from the
	// cache (residency.go). Zero keeps every plugin compiled.
	IdleRelease time.Duration
	// Grants are the operator's grants by plugin kind (grants.go). A
	// third-party plugin (LoadDir) loads only with a grant whose SHA256
	// matches its module; a shipped plugin (Load, Register) without one
	// gets what its manifest requests.
	Grants map[string]Grant
	// ReservedKinds are the kinds of the shipped plugins, loaded or not; a
	// third-party plugin may never take one.
	ReservedKinds []string
	// RootCAs verify the TLS of every plugin's HTTP capability. Nil: the
	// system roots. The server passes the system roots plus
	// --upstream-ca-file, the same roots the proxy trusts, so a store
	// behind a private CA (an OpenBao with its own CA) is reachable.
	RootCAs *x509.CertPool
	// DenyPaths are trees no plugin may read a file from, whatever its
	// grant (the server passes its data directory); /proc and /sys always
	// are.
	DenyPaths []string
}

func (c *Config) defaults() {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Guard == nil {
		c.Guard, _ = netguard.New(netguard.Options{Dialer: &net.Dialer{Timeout: 10 * time.Second}})
	}
	if c.Env == nil {
		c.Env = os.Getenv
	}
	if c.CallTimeout <= 0 {
		c.CallTimeout = 30 * time.Second
	}
	if c.InitTimeout <= 0 {
		c.InitTimeout = 30 * time.Second
	}
	if c.MemoryLimitPages == 0 {
		c.MemoryLimitPages = 2048
	}
	if c.MaxInstances <= 0 {
		c.MaxInstances = 4
	}
	if c.MaxModuleBytes <= 0 {
		c.MaxModuleBytes = 32 << 20
	}
}

// Runtime loads and runs store plugins. It is safe for concurrent use.
type Runtime struct {
	cfg     Config
	wr      wazero.Runtime
	modCfg  wazero.ModuleConfig
	mu      sync.RWMutex
	plugins map[string]*Plugin
}

// NewRuntime creates a runtime with the WASI and agent_vault_v1 host modules.
func NewRuntime(ctx context.Context, cfg Config) (*Runtime, error) {
	cfg.defaults()
	// DWARF is not read: parsing it is most of a cached load's time for a
	// Go guest, and trap messages show only the first line anyway.
	rc := wazero.NewRuntimeConfig().
		WithDebugInfoEnabled(false).
		WithCloseOnContextDone(true).
		WithMemoryLimitPages(cfg.MemoryLimitPages)
	if cfg.CacheDir != "" {
		cache, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("plugin compilation cache %s: %w", cfg.CacheDir, err)
		}
		rc = rc.WithCompilationCache(cache)
	}
	wr := wazero.NewRuntimeWithConfig(ctx, rc)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, wr); err != nil {
		wr.Close(ctx)
		return nil, err
	}
	if err := registerHostModule(ctx, wr); err != nil {
		wr.Close(ctx)
		return nil, err
	}
	// No ambient authority: no files, args or environment; real clocks and
	// randomness. Sleeps are sliced so a sleeping guest notices its deadline.
	modCfg := wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions().
		WithSysWalltime().
		WithSysNanotime().
		WithNanosleep(slicedSleep).
		WithRandSource(rand.Reader)
	return &Runtime{cfg: cfg, wr: wr, modCfg: modCfg, plugins: map[string]*Plugin{}}, nil
}

// slicedSleep sleeps at most 5 ms per guest request: wazero checks for a
// closed module (deadline passed) only when the guest runs.
func slicedSleep(ns int64) {
	const slice = int64(5 * time.Millisecond)
	if ns > slice {
		ns = slice
	}
	time.Sleep(time.Duration(ns))
}

// Plugins returns the loaded plugins sorted by kind.
func (rt *Runtime) Plugins() []*Plugin {
	rt.mu.RLock()
	defer rt.mu.RUnlock()
	out := make([]*Plugin, 0, len(rt.plugins))
	for _, p := range rt.plugins {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Kind() < out[j].Kind() })
	return out
}

// Plugin returns the plugin of a kind, or a plugin_not_found error.
func (rt *Runtime) Plugin(kind string) (*Plugin, error) {
	rt.mu.RLock()
	defer rt.mu.RUnlock()
	if p, ok := rt.plugins[kind]; ok {
		return p, nil
	}
	return nil, domain.Errorf(domain.CodePluginNotFound, "no store plugin of kind %q is loaded", kind)
}

// LoadDir loads the third-party plugins in Config.PluginDir: each
// <kind>.wasm loads only when the operator granted that kind with the
// module's SHA-256, and never under a shipped kind's name. A plugin that
// fails is logged and skipped (a bad third-party plugin never stops the
// server); the failures are returned for reporting. A missing or empty dir
// is no error.
func (rt *Runtime) LoadDir(ctx context.Context) []error {
	if rt.cfg.PluginDir == "" {
		return nil
	}
	paths, err := filepath.Glob(filepath.Join(rt.cfg.PluginDir, "*.wasm"))
	if err != nil {
		return []error{err}
	}
	sort.Strings(paths)
	var errs []error
	for _, path := range paths {
		name := strings.TrimSuffix(filepath.Base(path), ".wasm")
		wasm, err := os.ReadFile(path)
		if err == nil {
			_, err = rt.loadThirdParty(ctx, name, wasm)
		}
		if err != nil {
			rt.cfg.Logger.Error("store plugin skipped", "path", path, "err", err)
			errs = append(errs, err)
			continue
		}
	}
	return errs
}

// Close closes every plugin instance and the wazero runtime.
func (rt *Runtime) Close(ctx context.Context) error {
	rt.mu.Lock()
	for _, p := range rt.plugins {
		p.close(ctx)
	}
	rt.plugins = map[string]*Plugin{}
	rt.mu.Unlock()
	return rt.wr.Close(ctx)
}

package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/sdk/abi"
)

// Plugin is one loaded store kind. Its methods are safe for concurrent use;
// each call takes an instance from the plugin's pool. Every method returns
// *Error on failure (unwrapping to *domain.Error): a guest code from
// abi.GuestCodes passed through, plugin_trap / plugin_bad_result for a
// broken plugin, plugin_timeout / plugin_memory_limit / plugin_output_limit
// for a limit, plugin_unsupported when the manifest lacks the feature.
type Plugin struct {
	rt       *Runtime
	loadName string
	wasm     []byte
	manifest abi.Manifest
	grant    *grant // what the operator gave it (grants.go)
	services hostServices

	// What is held only while the plugin is used (residency.go).
	mu        sync.Mutex
	compiled  wazero.CompiledModule // nil while released
	pool      *pool                 // instances of compiled
	active    int                   // calls between acquire and done
	idleTimer *time.Timer
	closed    bool
}

// Kind is the manifest's kind.
func (p *Plugin) Kind() string { return p.manifest.Kind }

// Manifest returns a copy of the plugin's manifest.
func (p *Plugin) Manifest() abi.Manifest {
	m := p.manifest
	m.Env = append([]abi.EnvVar(nil), m.Env...)
	m.HTTPOrigins = append([]string(nil), m.HTTPOrigins...)
	m.ConfigSchema = append(json.RawMessage(nil), m.ConfigSchema...)
	return m
}

func (p *Plugin) name() string {
	if p.manifest.Kind != "" {
		return p.manifest.Kind
	}
	return p.loadName
}

func (p *Plugin) logger() *slog.Logger { return p.rt.cfg.Logger.With("plugin", p.name()) }

// ValidateConfig asks the plugin whether cfg is a valid per-vault config.
// Failures carry invalid_store_config (with the plugin's message).
func (p *Plugin) ValidateConfig(ctx context.Context, cfg json.RawMessage) error {
	_, err := p.call(ctx, abi.ExportValidateConfig, 0, abi.Request{Config: cfg}, nil)
	return err
}

// Probe checks that the store is reachable and the credentials work
// (create-with-probe). Codes: external_store_unreachable,
// external_store_auth_failed, external_store_forbidden, external_store_not_found,
// invalid_store_config.
func (p *Plugin) Probe(ctx context.Context, cfg json.RawMessage) error {
	_, err := p.call(ctx, abi.ExportProbe, 0, abi.Request{Config: cfg}, nil)
	return err
}

// Check verifies the store's instance-level settings (no vault config) and
// returns its display-safe summary line.
func (p *Plugin) Check(ctx context.Context) (string, error) {
	var res abi.CheckResult
	if _, err := p.call(ctx, abi.ExportCheck, abi.FeatureCheck, abi.Request{}, &res); err != nil {
		return "", err
	}
	// The summary is shown to users: it may not carry a granted value.
	env, _ := p.env()
	return scrubValues(res.Summary, env, p.manifest.HTTPOriginsEnv), nil
}

// Sync returns the store's full snapshot. Every key is validated
// (domain.CheckKey, domain.CheckValue); one bad key fails the whole sync
// with external_store_invalid_key naming the key, never the value.
func (p *Plugin) Sync(ctx context.Context, cfg json.RawMessage) (map[string]string, error) {
	var res abi.SyncResult
	if _, err := p.call(ctx, abi.ExportSync, abi.FeaturePolls, abi.Request{Config: cfg}, &res); err != nil {
		return nil, err
	}
	if res.Secrets == nil {
		res.Secrets = map[string]string{}
	}
	if err := p.checkValues(abi.ExportSync, res.Secrets); err != nil {
		return nil, err
	}
	return res.Secrets, nil
}

// ValidateWrite asks a writable store whether the proposed key → value
// changes are acceptable. The host seals and stores them; the plugin keeps
// nothing.
func (p *Plugin) ValidateWrite(ctx context.Context, cfg json.RawMessage, secrets map[string]string) error {
	_, err := p.call(ctx, abi.ExportValidateWrite, abi.FeatureWritable, abi.Request{Config: cfg, Secrets: secrets}, nil)
	return err
}

// ListDynamic lists the dynamic secrets the store can mint.
func (p *Plugin) ListDynamic(ctx context.Context, cfg json.RawMessage) ([]abi.DynamicSecret, error) {
	var res abi.DynamicListResult
	if _, err := p.call(ctx, abi.ExportDynamicList, abi.FeatureDynamicSecrets, abi.Request{Config: cfg}, &res); err != nil {
		return nil, err
	}
	for _, s := range res.Secrets {
		for _, f := range s.Fields {
			if !domain.ValidKey(f) {
				return nil, p.err(abi.ExportDynamicList, ClassGuest, domain.CodeExternalInvalidKey, fmt.Sprintf("dynamic secret %q has field %q, which is not a valid credential key", s.Name, f))
			}
		}
	}
	return res.Secrets, nil
}

// LeaseCreate mints a lease of the named dynamic secret.
func (p *Plugin) LeaseCreate(ctx context.Context, cfg json.RawMessage, name string) (abi.Lease, error) {
	var l abi.Lease
	if _, err := p.call(ctx, abi.ExportLeaseCreate, abi.FeatureDynamicSecrets, abi.Request{Config: cfg, Name: name}, &l); err != nil {
		return abi.Lease{}, err
	}
	if l.LeaseID == "" || l.TTLSeconds <= 0 {
		return abi.Lease{}, p.err(abi.ExportLeaseCreate, ClassTrap, abi.CodePluginBadResult, "lease has no lease_id or a non-positive ttl_seconds")
	}
	if err := p.checkValues(abi.ExportLeaseCreate, l.Values); err != nil {
		return abi.Lease{}, err
	}
	return l, nil
}

// LeaseRenew extends a lease; the result's TTLSeconds is the new TTL.
func (p *Plugin) LeaseRenew(ctx context.Context, cfg json.RawMessage, leaseID string) (abi.Lease, error) {
	var l abi.Lease
	if _, err := p.call(ctx, abi.ExportLeaseRenew, abi.FeatureDynamicSecrets, abi.Request{Config: cfg, LeaseID: leaseID}, &l); err != nil {
		return abi.Lease{}, err
	}
	if l.TTLSeconds <= 0 {
		return abi.Lease{}, p.err(abi.ExportLeaseRenew, ClassTrap, abi.CodePluginBadResult, "renewed lease has a non-positive ttl_seconds")
	}
	if err := p.checkValues(abi.ExportLeaseRenew, l.Values); err != nil {
		return abi.Lease{}, err
	}
	return l, nil
}

// LeaseRevoke revokes a lease. Revoking an unknown lease returns
// lease_not_found.
func (p *Plugin) LeaseRevoke(ctx context.Context, cfg json.RawMessage, leaseID string) error {
	_, err := p.call(ctx, abi.ExportLeaseRevoke, abi.FeatureDynamicSecrets, abi.Request{Config: cfg, LeaseID: leaseID}, nil)
	return err
}

func (p *Plugin) checkValues(export string, values map[string]string) error {
	for k, v := range values {
		if !domain.ValidKey(k) {
			return p.err(export, ClassGuest, domain.CodeExternalInvalidKey, fmt.Sprintf("key %q must match ^[A-Z][A-Z0-9_]*$ (at most %d characters); nothing was applied", abi.Truncate(k, 200), domain.MaxKeyLength))
		}
		if err := domain.CheckValue(k, v); err != nil {
			return p.err(export, ClassGuest, domain.CodeValueTooLarge, fmt.Sprintf("credential %q is %d bytes; the limit is %d", k, len(v), domain.MaxValueBytes))
		}
	}
	return nil
}

// call runs export with req (env and deadline filled in) on a pooled
// instance and decodes the OK value into out (when non-nil).
func (p *Plugin) call(ctx context.Context, export string, need abi.Feature, req abi.Request, out any) (raw json.RawMessage, err error) {
	if observe := p.rt.cfg.Observe; observe != nil {
		start := time.Now()
		defer func() { observe(p.Kind(), export, time.Since(start), err) }()
	}
	if need != 0 && !p.manifest.Features.Has(need) {
		return nil, p.err(export, ClassGuest, abi.CodePluginUnsupported, "the plugin's manifest does not declare this capability")
	}
	env, err := p.env()
	if err != nil {
		return nil, err
	}
	req.Env = env
	if ctx.Err() != nil {
		return nil, p.err(export, ClassLimit, abi.CodePluginTimeout, "the call was canceled or past its deadline before it started")
	}
	pool, err := p.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer p.done()
	// Waiting for a free instance is bounded like a call.
	waitCtx, cancelWait := context.WithTimeout(ctx, p.rt.cfg.CallTimeout)
	inst, err := pool.get(waitCtx)
	cancelWait()
	if err != nil {
		if e, ok := err.(*Error); ok {
			return nil, e
		}
		return nil, p.err(export, ClassLimit, abi.CodePluginTimeout, "no instance became free before the deadline")
	}
	ctx, cancel := context.WithTimeout(ctx, p.rt.cfg.CallTimeout)
	defer cancel()
	if dl, ok := ctx.Deadline(); ok {
		req.DeadlineUnixNano = dl.UnixNano()
	}
	in, err := json.Marshal(req)
	if err != nil {
		pool.put(ctx, inst, true)
		return nil, p.err(export, ClassGuest, domain.CodeInvalidStoreConfig, "config is not valid JSON")
	}
	ctx = withGiven(ctx, env, p.manifest.HTTPOriginsEnv)
	raw, healthy, err := p.invoke(ctx, inst, export, in)
	pool.put(ctx, inst, healthy)
	if e, ok := err.(*Error); ok && e.Class == ClassGuest {
		// The plugin's message reaches API responses: it may not carry
		// a value the plugin was given.
		e.Message = scrubValues(e.Message, env, p.manifest.HTTPOriginsEnv)
	}
	if err != nil {
		if e, ok := err.(*Error); ok && e.Class != ClassGuest {
			p.logger().Warn("plugin call failed", "export", export, "class", e.Class.String(), "code", e.Code, "err", e.Message)
		}
		return nil, err
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return nil, p.err(export, ClassTrap, abi.CodePluginBadResult, fmt.Sprintf("result does not match %T: %v", out, err))
		}
	}
	return raw, nil
}

// env collects the manifest's declared variables that the plugin is
// granted, read now.
func (p *Plugin) env() (map[string]string, error) {
	if len(p.manifest.Env) == 0 {
		return nil, nil
	}
	var vars []abi.EnvVar
	for _, e := range p.manifest.Env {
		if p.grant.grantedEntry(e) {
			vars = append(vars, e)
		} else if e.Required {
			return nil, domain.Errorf(domain.CodeInvalidStoreConfig, "store plugin %q needs the environment variable %s, which the operator has not granted it (see the plugin grants file)", p.name(), e.Name)
		}
	}
	readFile := func(path string) ([]byte, error) { return p.grant.readGrantedFile(path, p.rt.cfg.DenyPaths) }
	// Only granted names are read: a fallback name the operator did not
	// grant reads as unset.
	getenv := func(name string) string {
		if !p.grant.granted(name) {
			return ""
		}
		return p.rt.cfg.Env(name)
	}
	env, err := readEnv(vars, getenv, readFile)
	if err != nil {
		return nil, domain.Errorf(domain.CodeInvalidStoreConfig, "store plugin %q needs the environment variable %s, which is not set", p.name(), err.name)
	}
	for _, u := range env.unreadable {
		// The path is the operator's; the reason never includes content.
		p.logger().Warn("cannot read the file named by an environment variable", "env", u.name, "error", u.reason)
	}
	return env.vars, nil
}

// envResult is what readEnv collected.
type envResult struct {
	vars       map[string]string
	unreadable []envProblem
}

type envProblem struct{ name, reason string }

// readEnv applies the manifest's env rules (ABI.md, "manifest"): fallback
// names, defaults, required variables, and file variables whose content is
// passed instead of their path. It fails only for a required variable that is unset.
func readEnv(vars []abi.EnvVar, getenv func(string) string, readFile func(string) ([]byte, error)) (envResult, *envProblem) {
	out := envResult{vars: make(map[string]string, len(vars))}
	for _, e := range vars {
		v, _ := e.Lookup(getenv, nil)
		fromDefault := false
		if v == "" && e.Default != "" {
			v, fromDefault = e.Default, true
		}
		if v == "" {
			if e.Required {
				return out, &envProblem{name: strings.Join(e.Names(), " or ")}
			}
			continue
		}
		if e.File {
			b, err := readFile(v)
			switch {
			case err != nil && fromDefault:
				continue
			case err != nil:
				out.unreadable = append(out.unreadable, envProblem{e.Name, err.Error()})
				out.vars[e.Name] = ""
				continue
			}
			v = string(b)
		}
		out.vars[e.Name] = v
	}
	return out, nil
}

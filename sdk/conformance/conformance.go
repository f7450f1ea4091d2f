// Package conformance is the test kit for store plugins. Run loads a plugin
// in the real host runtime (host/plugin) and runs named subtests for every
// export its manifest declares, so a plugin that passes here behaves the way
// the host expects. Subtests are named after ABI exports: "manifest/valid",
// "probe/ok", "sync/bad_key", "lease_revoke/unknown", ... Third parties call
// it from their own tests:
//
//	func TestConformance(t *testing.T) {
//		wasm := conformance.Build(t, ".")
//		conformance.Run(t, wasm, conformance.Options{Config: json.RawMessage(`{...}`)})
//	}
package conformance

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/agent-vault/agent-vault/host/plugin"
	"github.com/agent-vault/agent-vault/sdk/abi"
)

// Options are the fixtures a plugin's test provides. Subtests whose fixture
// is missing are skipped with a message naming the option.
type Options struct {
	// Env is the instance environment (only names the manifest declares
	// reach the plugin).
	Env map[string]string
	// Config is a valid per-vault config against a working upstream.
	Config json.RawMessage
	// InvalidConfigs must each fail validate_config with invalid_store_config.
	// An unknown field is always tried as well.
	InvalidConfigs map[string]json.RawMessage
	// ProbeErrors are configs (and env overrides) with the code probe must
	// return: the plugin maps upstream failures to stable codes.
	ProbeErrors []ProbeCase
	// WantSecrets, when set, is the snapshot sync must return for Config.
	WantSecrets map[string]string
	// BadKeyConfig makes the upstream return a key that breaks the key rule;
	// the host must fail the whole sync with external_store_invalid_key.
	BadKeyConfig json.RawMessage
	// ValidWrite is a write a writable store accepts.
	ValidWrite map[string]string
	// InvalidWrites are writes it refuses, with the code.
	InvalidWrites []WriteCase
	// DynamicSecret is the dynamic secret leased in the round trip
	// (default: the first one dynamic_list returns).
	DynamicSecret string
	// SlowConfig makes the upstream stall: the call must end at the
	// deadline (DeadlineTimeout, default 1 s) and the host keep serving.
	SlowConfig      json.RawMessage
	DeadlineTimeout time.Duration
	// CACertPEM holds extra PEM roots the plugin's HTTP capability trusts
	// besides the system roots, as the server's --upstream-ca-file gives
	// them: set it to an HTTPS test server's certificate (httptest's
	// Certificate, encoded) to run the kit against HTTPS.
	CACertPEM []byte
	// Grants, when set, are the operator grants to run the plugin under,
	// keyed by kind, as in the server's grants file (sdk/README.md,
	// "Granting it"): use the entry you tell operators to write, so the
	// kit proves the plugin works with it. Without, the plugin gets what
	// its manifest requests, as a shipped plugin does.
	Grants map[string]plugin.Grant
}

// ProbeCase is one expected probe failure.
type ProbeCase struct {
	Name     string
	Config   json.RawMessage   // nil: Options.Config
	Env      map[string]string // merged over Options.Env
	WantCode string
}

// WriteCase is one expected validate_write failure.
type WriteCase struct {
	Name     string
	Secrets  map[string]string
	WantCode string
}

// Build compiles the plugin package in dir for wasip1 the way plugins.mk
// does and returns the module bytes. It uses the go command on PATH (or
// $GO) and Go's build cache, so repeated runs are quick.
func Build(t testing.TB, dir string) []byte {
	t.Helper()
	goCmd := os.Getenv("GO")
	if goCmd == "" {
		goCmd = "go"
	}
	out := filepath.Join(t.TempDir(), "plugin.wasm")
	cmd := exec.Command(goCmd, "build", "-buildmode=c-shared", "-trimpath", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s for wasip1: %v\n%s", dir, err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type kit struct {
	t     *testing.T
	wasm  []byte
	opts  Options
	cache string
}

// Run loads wasm and runs the conformance subtests.
func Run(t *testing.T, wasm []byte, opts Options) {
	if opts.Config == nil {
		opts.Config = json.RawMessage(`{}`)
	}
	if opts.DeadlineTimeout == 0 {
		opts.DeadlineTimeout = time.Second
	}
	k := &kit{t: t, wasm: wasm, opts: opts, cache: cacheDir(t)}
	p := k.load(t, nil, 10*time.Second)
	m := p.Manifest()
	ctx := context.Background()

	t.Run("exports", func(t *testing.T) { k.checkExports(t, m.Features) })
	t.Run("manifest/valid", func(t *testing.T) { checkManifest(t, m) })
	t.Run("manifest/config_schema", func(t *testing.T) { checkSchema(t, m.ConfigSchema) })

	t.Run("validate_config/ok", func(t *testing.T) {
		if err := p.ValidateConfig(ctx, opts.Config); err != nil {
			t.Fatalf("Options.Config refused: %v", err)
		}
	})
	invalid := map[string]json.RawMessage{"unknown_field": json.RawMessage(`{"conformance_unknown_field":1}`), "not_object": json.RawMessage(`[]`)}
	for name, cfg := range opts.InvalidConfigs {
		invalid[name] = cfg
	}
	for name, cfg := range invalid {
		t.Run("validate_config/"+name, func(t *testing.T) {
			wantCode(t, p.ValidateConfig(ctx, cfg), abi.CodeInvalidStoreConfig)
		})
	}

	t.Run("probe/ok", func(t *testing.T) {
		if err := p.Probe(ctx, opts.Config); err != nil {
			t.Fatalf("probe with Options.Config: %v", err)
		}
	})
	for _, pc := range opts.ProbeErrors {
		t.Run("probe/"+pc.Name, func(t *testing.T) {
			pp := p
			if pc.Env != nil {
				pp = k.load(t, pc.Env, 10*time.Second)
			}
			cfg := pc.Config
			if cfg == nil {
				cfg = opts.Config
			}
			wantCode(t, pp.Probe(ctx, cfg), pc.WantCode)
		})
	}

	if m.Features.Has(abi.FeatureCheck) {
		// The options' environment is the instance's: check must pass
		// with it, with no vault config at all.
		t.Run("check/ok", func(t *testing.T) {
			summary, err := p.Check(ctx)
			if err != nil {
				t.Fatalf("check with Options.Env: %v", err)
			}
			if summary == "" {
				t.Fatal("check returned an empty summary")
			}
		})
	}

	if m.Features.Has(abi.FeaturePolls) {
		k.syncTests(p)
	} else {
		t.Run("sync/unsupported", func(t *testing.T) {
			_, err := p.Sync(ctx, opts.Config)
			wantCode(t, err, abi.CodePluginUnsupported)
		})
	}
	if m.Features.Has(abi.FeatureWritable) {
		k.writeTests(p)
	} else {
		t.Run("validate_write/unsupported", func(t *testing.T) {
			wantCode(t, p.ValidateWrite(ctx, opts.Config, map[string]string{"A": "b"}), abi.CodePluginUnsupported)
		})
	}
	if m.Features.Has(abi.FeatureDynamicSecrets) {
		k.leaseTests(p)
	} else {
		t.Run("lease_create/unsupported", func(t *testing.T) {
			_, err := p.LeaseCreate(ctx, opts.Config, "x")
			wantCode(t, err, abi.CodePluginUnsupported)
		})
	}

	t.Run("deadline", func(t *testing.T) {
		if opts.SlowConfig == nil {
			t.Skip("Options.SlowConfig not set")
		}
		slow := k.load(t, nil, opts.DeadlineTimeout)
		call := func() error { return slow.Probe(ctx, opts.SlowConfig) }
		if m.Features.Has(abi.FeaturePolls) {
			call = func() error { _, err := slow.Sync(ctx, opts.SlowConfig); return err }
		}
		// Either the host stops the guest at the deadline (plugin_timeout)
		// or the guest's HTTP request ends with the same deadline and the
		// plugin reports the upstream as unreachable: both honour it.
		err := call()
		if code := codeOf(err); code != abi.CodePluginTimeout && code != abi.CodeUnreachable {
			t.Fatalf("slow upstream: got %v, want %s or %s", err, abi.CodePluginTimeout, abi.CodeUnreachable)
		}
		if err := slow.ValidateConfig(ctx, opts.Config); err != nil {
			t.Fatalf("host stopped serving after the deadline: %v", err)
		}
	})

	t.Run("concurrency", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for g := range errs {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				for i := 0; i < 5 && errs[g] == nil; i++ {
					errs[g] = p.ValidateConfig(ctx, opts.Config)
				}
			}(g)
		}
		wg.Wait()
		for g, err := range errs {
			if err != nil {
				t.Errorf("goroutine %d: %v", g, err)
			}
		}
	})
}

func (k *kit) syncTests(p *plugin.Plugin) {
	ctx := context.Background()
	k.t.Run("sync/ok", func(t *testing.T) {
		snap, err := p.Sync(ctx, k.opts.Config)
		if err != nil {
			t.Fatal(err)
		}
		if k.opts.WantSecrets != nil && !equalMaps(snap, k.opts.WantSecrets) {
			t.Fatalf("snapshot keys %v, want %v", keys(snap), keys(k.opts.WantSecrets))
		}
	})
	k.t.Run("sync/bad_key", func(t *testing.T) {
		if k.opts.BadKeyConfig == nil {
			t.Skip("Options.BadKeyConfig not set")
		}
		_, err := p.Sync(ctx, k.opts.BadKeyConfig)
		wantCode(t, err, abi.CodeInvalidKey)
	})
}

func (k *kit) writeTests(p *plugin.Plugin) {
	ctx := context.Background()
	k.t.Run("validate_write/ok", func(t *testing.T) {
		if k.opts.ValidWrite == nil {
			t.Skip("Options.ValidWrite not set")
		}
		if err := p.ValidateWrite(ctx, k.opts.Config, k.opts.ValidWrite); err != nil {
			t.Fatal(err)
		}
	})
	for _, wc := range k.opts.InvalidWrites {
		k.t.Run("validate_write/"+wc.Name, func(t *testing.T) {
			wantCode(t, p.ValidateWrite(ctx, k.opts.Config, wc.Secrets), wc.WantCode)
		})
	}
}

func (k *kit) leaseTests(p *plugin.Plugin) {
	ctx := context.Background()
	cfg := k.opts.Config
	var list []abi.DynamicSecret
	k.t.Run("dynamic_list/ok", func(t *testing.T) {
		var err error
		if list, err = p.ListDynamic(ctx, cfg); err != nil {
			t.Fatal(err)
		}
		for _, s := range list {
			if s.Name == "" {
				t.Errorf("dynamic secret %+v needs a name", s)
			}
		}
	})
	k.t.Run("lease_round_trip", func(t *testing.T) {
		name := k.opts.DynamicSecret
		if name == "" && len(list) > 0 {
			name = list[0].Name
		}
		if name == "" {
			t.Skip("no dynamic secret listed and Options.DynamicSecret not set")
		}
		var fields []string
		for _, s := range list {
			if s.Name == name {
				fields = s.Fields
			}
		}
		lease, err := p.LeaseCreate(ctx, cfg, name)
		if err != nil {
			t.Fatalf("lease_create: %v", err)
		}
		// Without listed fields the keys must carry the name's prefix
		// (ABI.md, dynamic_list).
		prefix, _ := abi.DynamicKeyPrefix(name)
		for key := range lease.Values {
			if len(fields) > 0 && !contains(fields, key) {
				t.Errorf("lease_create: value %q is not a listed field of %q (%v)", key, name, fields)
			}
			if len(fields) == 0 && !strings.HasPrefix(key, prefix+"_") {
				t.Errorf("lease_create: value %q of %q (no listed fields) does not start with %s_", key, name, prefix)
			}
		}
		if _, err := p.LeaseRenew(ctx, cfg, lease.LeaseID); err != nil && lease.Renewable {
			t.Errorf("lease_renew of a renewable lease: %v", err)
		}
		if err := p.LeaseRevoke(ctx, cfg, lease.LeaseID); err != nil {
			t.Fatalf("lease_revoke: %v", err)
		}
		t.Run("lease_revoke/unknown", func(t *testing.T) {
			wantCode(t, p.LeaseRevoke(ctx, cfg, lease.LeaseID), abi.CodeLeaseNotFound)
		})
	})
	k.t.Run("lease_create/unknown_name", func(t *testing.T) {
		_, err := p.LeaseCreate(ctx, cfg, "conformance-no-such-secret")
		wantCode(t, err, abi.CodeCredentialNotFound)
	})
}

// cacheDir is a compilation cache kept between test runs (wazero keys it by
// module content, so a rebuilt plugin never hits a stale entry).
func cacheDir(t *testing.T) string {
	if base, err := os.UserCacheDir(); err == nil {
		dir := filepath.Join(base, "agent-vault", "conformance-wasm-cache")
		if os.MkdirAll(dir, 0o700) == nil {
			return dir
		}
	}
	return t.TempDir()
}

// load creates a runtime (sharing the kit's compilation cache) and loads
// the plugin with the kit's env, overridden by env.
func (k *kit) load(t testing.TB, env map[string]string, timeout time.Duration) *plugin.Plugin {
	t.Helper()
	merged := map[string]string{}
	for n, v := range k.opts.Env {
		merged[n] = v
	}
	for n, v := range env {
		merged[n] = v
	}
	var roots *x509.CertPool
	if len(k.opts.CACertPEM) > 0 {
		if roots, _ = x509.SystemCertPool(); roots == nil {
			roots = x509.NewCertPool()
		}
		if !roots.AppendCertsFromPEM(k.opts.CACertPEM) {
			t.Fatal("Options.CACertPEM holds no PEM certificate")
		}
	}
	rt, err := plugin.NewRuntime(context.Background(), plugin.Config{
		RootCAs:     roots,
		CacheDir:    k.cache,
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		Env:         func(n string) string { return merged[n] },
		CallTimeout: timeout,
		Grants:      k.opts.Grants,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(context.Background()) })
	p, err := rt.Load(context.Background(), "conformance", k.wasm)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return p
}

// checkExports compares the module's exports with abi.Exports: every
// export present has the exact signature, and every export a declared
// feature needs is present.
func (k *kit) checkExports(t *testing.T, features abi.Feature) {
	ctx := context.Background()
	// The interpreter only decodes: no native compilation needed to read
	// the export section.
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer r.Close(ctx)
	c, err := r.CompileModule(ctx, k.wasm)
	if err != nil {
		t.Fatal(err)
	}
	got := c.ExportedFunctions()
	for _, f := range abi.Exports {
		def, ok := got[f.Name]
		if !ok {
			if f.Feature == 0 || features.Has(f.Feature) {
				t.Errorf("missing export %q %s", f.Name, f.Signature)
			}
			continue
		}
		var s abi.Signature
		for _, p := range def.ParamTypes() {
			s.Params = append(s.Params, abi.ValType(p))
		}
		for _, r := range def.ResultTypes() {
			s.Results = append(s.Results, abi.ValType(r))
		}
		if !s.Equal(f.Signature) {
			t.Errorf("export %q has %s, want %s", f.Name, s, f.Signature)
		}
	}
	if _, ok := c.ExportedMemories()[abi.ExportMemory]; !ok {
		t.Errorf("missing export %q", abi.ExportMemory)
	}
}

func checkManifest(t *testing.T, m abi.Manifest) {
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	if m.Description == "" {
		t.Error("manifest: description is empty; operators see it when choosing a store kind")
	}
	for _, e := range m.Env {
		if e.Description == "" {
			t.Errorf("manifest: env %s has no description", e.Name)
		}
	}
	if m.Features&^abi.KnownFeatures != 0 {
		t.Errorf("manifest: unknown feature bits %#x", uint32(m.Features&^abi.KnownFeatures))
	}
}

var propName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// checkSchema checks the config schema's shape: an object schema whose
// properties are snake_case and described by schemas, whose required names
// exist, and which refuses unknown properties (configs decode strictly).
func checkSchema(t *testing.T, raw json.RawMessage) {
	var s struct {
		Type                 string                     `json:"type"`
		Properties           map[string]json.RawMessage `json:"properties"`
		Required             []string                   `json:"required"`
		AdditionalProperties *bool                      `json:"additionalProperties"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("config_schema: %v", err)
	}
	if s.Type != "object" {
		t.Errorf(`config_schema: "type" is %q, want "object"`, s.Type)
	}
	if s.AdditionalProperties == nil || *s.AdditionalProperties {
		t.Error(`config_schema: set "additionalProperties": false (configs are decoded strictly)`)
	}
	for name, prop := range s.Properties {
		if !propName.MatchString(name) {
			t.Errorf("config_schema: property %q is not snake_case", name)
		}
		var p struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(prop, &p); err != nil || p.Type == "" {
			t.Errorf("config_schema: property %q needs a schema with a type", name)
		}
	}
	for _, r := range s.Required {
		if _, ok := s.Properties[r]; !ok {
			t.Errorf("config_schema: required %q is not a property", r)
		}
	}
}

func codeOf(err error) string {
	var e *plugin.Error
	if errors.As(err, &e) {
		return e.Code
	}
	if err == nil {
		return ""
	}
	return fmt.Sprintf("untyped(%v)", err)
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := codeOf(err); got != code {
		t.Fatalf("got code %q (%v), want %q", got, err, code)
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// keys lists map keys: failures name keys, never values.
func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

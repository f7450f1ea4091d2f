package plugin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"runtime"
	"slices"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/sdk/abi"
)

// Load compiles, validates and registers a plugin. name identifies the
// module in errors until its manifest is read (a file name, or the kind of a
// shipped plugin). Validation is strict and fails fast: imports, exports and
// their exact signatures, the ABI version, the manifest, a unique kind. One
// instance is created eagerly, so a plugin that cannot start fails here.
// With Config.IdleRelease set, the compiled code is released once the
// plugin has been idle that long (residency.go).
//
// Load is for the plugins shipped with the product: without an operator
// grant they get what their manifest requests. Third-party plugins load
// through LoadDir, which requires one.
func (rt *Runtime) Load(ctx context.Context, name string, wasm []byte) (*Plugin, error) {
	return rt.load(ctx, name, wasm, true)
}

// loadThirdParty loads a plugin from the plugin directory: only under a
// kind the operator granted with this module's SHA-256, never under a
// shipped kind's name, and never with the grant of a kind other than the
// one its manifest declares.
func (rt *Runtime) loadThirdParty(ctx context.Context, name string, wasm []byte) (*Plugin, error) {
	if slices.Contains(rt.cfg.ReservedKinds, name) {
		return nil, loadErr(name, domain.CodePluginNotGranted, "%q is the kind of a plugin shipped with Agent Vault; a third-party plugin may not take its name", name)
	}
	g, ok := rt.cfg.Grants[name]
	if !ok || g.SHA256 == "" {
		return nil, loadErr(name, domain.CodePluginNotGranted, "not granted: third-party plugins load only when the plugin grants file names them with their sha256 (this module's is %s)", sha256Hex(wasm))
	}
	if got := sha256Hex(wasm); !strings.EqualFold(got, g.SHA256) {
		return nil, loadErr(name, domain.CodePluginNotGranted, "module sha256 is %s, granted %s", got, g.SHA256)
	}
	return rt.load(ctx, name, wasm, false)
}

func (rt *Runtime) load(ctx context.Context, name string, wasm []byte, shipped bool) (*Plugin, error) {
	if err := rt.admit(name, wasm); err != nil {
		return nil, err
	}
	compiled, err := rt.compile(ctx, name, wasm, 0)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Plugin, error) {
		compiled.Close(ctx)
		return nil, err
	}
	p := &Plugin{rt: rt, loadName: name, wasm: wasm, services: unimplementedHostServices{}}
	p.compiled = compiled
	p.pool = p.newPool(compiled)

	inst, err := p.newInstance(ctx, compiled)
	if err != nil {
		return fail(err)
	}
	// abi_version and manifest are part of loading: InitTimeout bounds them.
	cctx, cancel := context.WithTimeout(ctx, rt.cfg.InitTimeout)
	defer cancel()
	m, err := p.readManifest(cctx, inst)
	if err != nil {
		inst.close(ctx)
		return fail(err)
	}
	if err := checkExports(m.Kind, compiled, m.Features); err != nil {
		inst.close(ctx)
		return fail(err)
	}
	if !shipped && m.Kind != name {
		inst.close(ctx)
		return fail(loadErr(name, domain.CodePluginNotGranted, "declares kind %q; a third-party plugin's file must be named after its kind (%s.wasm), the name it is granted under", abi.Truncate(m.Kind, 40), name))
	}
	if err := rt.register(p, *m, shipped); err != nil {
		inst.close(ctx)
		return fail(err)
	}
	// The eager instance becomes the pool's first idle one.
	p.pool.sem <- struct{}{}
	p.pool.put(ctx, inst, true)
	p.mu.Lock()
	p.armIdleRelease()
	p.mu.Unlock()
	rt.cfg.Logger.Info("store plugin loaded", append([]any{"plugin", m.Kind, "version", m.Version, "features", uint32(m.Features)}, p.grant.logAttrs()...)...)
	return p, nil
}

// Register adds a plugin whose manifest is already known, without
// compiling it: the server remembers each shipped plugin's manifest by the
// SHA-256 of its module, so a start need not compile a kind before it is
// used. The first call compiles it and checks its imports and exports
// against the manifest, as Load does; a failure there fails that call.
func (rt *Runtime) Register(name string, wasm []byte, m abi.Manifest) (*Plugin, error) {
	if err := rt.admit(name, wasm); err != nil {
		return nil, err
	}
	if err := m.Validate(); err != nil {
		return nil, loadErr(name, abi.CodePluginInvalid, "%v", err)
	}
	p := &Plugin{rt: rt, loadName: name, wasm: wasm, services: unimplementedHostServices{}}
	if err := rt.register(p, m, true); err != nil {
		return nil, err
	}
	rt.cfg.Logger.Info("store plugin registered; it compiles on first use", append([]any{"plugin", m.Kind, "version", m.Version, "features", uint32(m.Features)}, p.grant.logAttrs()...)...)
	return p, nil
}

// admit applies the checks that need only the module's bytes.
func (rt *Runtime) admit(name string, wasm []byte) error {
	if len(wasm) > rt.cfg.MaxModuleBytes {
		return loadErr(name, abi.CodePluginInvalid, "module is %d bytes; the limit is %d", len(wasm), rt.cfg.MaxModuleBytes)
	}
	return nil
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// compile compiles wasm (from the on-disk cache when it has it) and checks
// its imports, and its exports against features (0: only the required
// ones, before the manifest is known).
func (rt *Runtime) compile(ctx context.Context, name string, wasm []byte, features abi.Feature) (wazero.CompiledModule, error) {
	// A cold compile of a Go guest takes seconds on one core; wazero can
	// compile functions in parallel (a cache hit does not compile at all).
	cctx := experimental.WithCompilationWorkers(ctx, runtime.GOMAXPROCS(0))
	compiled, err := rt.wr.CompileModule(cctx, wasm)
	if err != nil {
		return nil, loadErr(name, abi.CodePluginInvalid, "compile: %v", err)
	}
	if err := checkImports(name, compiled); err != nil {
		compiled.Close(ctx)
		return nil, err
	}
	if err := checkExports(name, compiled, features); err != nil {
		compiled.Close(ctx)
		return nil, err
	}
	return compiled, nil
}

// register fills in what the manifest and the grant decide (the
// environment, files and HTTP origins the plugin is given, the logger) and
// adds p under its kind. shipped: a plugin of the product, which without an
// operator grant gets what its manifest requests.
func (rt *Runtime) register(p *Plugin, m abi.Manifest, shipped bool) error {
	if reserved := reservedRequests(m); len(reserved) > 0 {
		return loadErr(p.loadName, domain.CodePluginNotGranted, "requests %s; %s* variables are the host's own and no plugin may receive them", strings.Join(reserved, ", "), ReservedEnvPrefix)
	}
	var op *Grant
	if g, ok := rt.cfg.Grants[m.Kind]; ok {
		op = &g
	}
	g, err := resolveGrant(m, op, shipped, rt.cfg.Env)
	if err != nil {
		return loadErr(m.Kind, abi.CodePluginInvalid, "%v", err)
	}
	guard, err := rt.cfg.Guard.WithExceptions(g.exempt...)
	if err != nil {
		return loadErr(m.Kind, abi.CodePluginInvalid, "granted origins: %v", err)
	}
	p.manifest = m
	p.grant = g
	p.services = &pluginServices{
		http:   newHTTPCapability(g.origins, guard, rt.cfg.RootCAs),
		logger: rt.cfg.Logger.With("plugin", m.Kind),
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if _, dup := rt.plugins[m.Kind]; dup {
		return loadErr(p.loadName, abi.CodePluginInvalid, "kind %q is already loaded", m.Kind)
	}
	rt.plugins[m.Kind] = p
	return nil
}

// newInstance instantiates compiled and runs _initialize when exported.
func (p *Plugin) newInstance(ctx context.Context, compiled wazero.CompiledModule) (*instance, error) {
	// Instantiation has its own deadline: a call that needs a fresh
	// instance should not lose its budget to the plugin's start-up.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.rt.cfg.InitTimeout)
	defer cancel()
	stderr := &capWriter{}
	cfg := p.rt.modCfg.WithStderr(stderr)
	mod, err := p.rt.wr.InstantiateModule(experimental.WithMemoryAllocator(ctx, guestMemory), compiled, cfg)
	if err != nil {
		return nil, loadErr(p.name(), abi.CodePluginInvalid, "instantiate: %v", firstLine(err.Error(), 300))
	}
	inst := &instance{mod: mod, stderr: stderr, fns: map[string]api.Function{}}
	for _, f := range abi.Exports {
		if fn := mod.ExportedFunction(f.Name); fn != nil {
			inst.fns[f.Name] = fn
		}
	}
	if init := mod.ExportedFunction(abi.ExportInitialize); init != nil {
		if _, err := init.Call(ctx); err != nil {
			e := p.classify(ctx, inst, abi.ExportInitialize, err)
			mod.Close(ctx)
			return nil, e
		}
	}
	return inst, nil
}

// readManifest calls abi_version first, then manifest, on a fresh instance.
func (p *Plugin) readManifest(ctx context.Context, inst *instance) (*abi.Manifest, error) {
	res, err := inst.fns[abi.ExportABIVersion].Call(ctx)
	if err != nil {
		return nil, p.classify(ctx, inst, abi.ExportABIVersion, err)
	}
	if v := int32(res[0]); v != abi.Version {
		return nil, loadErr(p.loadName, abi.CodePluginABIMismatch, "ABI version mismatch: host supports %d, plugin declares %d", abi.Version, v)
	}
	raw, _, err := p.invoke(ctx, inst, abi.ExportManifest, nil)
	if err != nil {
		return nil, err
	}
	m, err := abi.DecodeManifest(raw)
	if err != nil {
		code := abi.CodePluginInvalid
		if strings.Contains(err.Error(), abi.ErrABIMismatch.Error()) {
			code = abi.CodePluginABIMismatch
		}
		return nil, loadErr(p.loadName, code, "%v", err)
	}
	return m, nil
}

var versionedModule = regexp.MustCompile(`^agent_vault_v(\d+)$`)

// checkImports refuses imports from any module but WASI and agent_vault_v1,
// names the ABI major a plugin was built for, and checks host import
// signatures exactly.
func checkImports(name string, c wazero.CompiledModule) error {
	if len(c.ImportedMemories()) > 0 {
		return loadErr(name, abi.CodePluginInvalid, "imports a memory; a plugin must export its own %q", abi.ExportMemory)
	}
	want := map[string]abi.Signature{}
	for _, f := range abi.Imports {
		want[f.Name] = f.Signature
	}
	for _, def := range c.ImportedFunctions() {
		mod, fn, _ := def.Import()
		switch {
		case mod == abi.WASIModuleName:
		case mod == abi.ModuleName:
			w, ok := want[fn]
			if !ok {
				return loadErr(name, abi.CodePluginInvalid, "imports %s.%s, which the host does not provide", mod, fn)
			}
			if got := sigOf(def); !got.Equal(w) {
				return loadErr(name, abi.CodePluginInvalid, "import %q has %s, want %s", fn, got, w)
			}
		case versionedModule.MatchString(mod):
			v := versionedModule.FindStringSubmatch(mod)[1]
			return loadErr(name, abi.CodePluginABIMismatch, "ABI version mismatch: host supports %d, plugin declares %s (imports module %q)", abi.Version, v, mod)
		default:
			return loadErr(name, abi.CodePluginInvalid, "imports module %q; only %q and %q are provided", mod, abi.ModuleName, abi.WASIModuleName)
		}
	}
	return nil
}

// checkExports checks every ABI export the module has, and requires those
// that every plugin needs plus those the features make required.
func checkExports(name string, c wazero.CompiledModule, features abi.Feature) error {
	if _, ok := c.ExportedMemories()[abi.ExportMemory]; !ok {
		return loadErr(name, abi.CodePluginInvalid, "missing export %q (memory)", abi.ExportMemory)
	}
	exports := c.ExportedFunctions()
	if def, ok := exports[abi.ExportInitialize]; ok {
		if got := sigOf(def); len(got.Params)+len(got.Results) != 0 {
			return loadErr(name, abi.CodePluginInvalid, "export %q has %s, want ()->()", abi.ExportInitialize, got)
		}
	}
	for _, f := range abi.Exports {
		def, ok := exports[f.Name]
		if !ok {
			if f.Feature == 0 || features.Has(f.Feature) {
				return loadErr(name, abi.CodePluginInvalid, "missing export %q %s", f.Name, f.Signature)
			}
			continue
		}
		if got := sigOf(def); !got.Equal(f.Signature) {
			return loadErr(name, abi.CodePluginInvalid, "export %q has %s, want %s", f.Name, got, f.Signature)
		}
	}
	return nil
}

func sigOf(def api.FunctionDefinition) abi.Signature {
	conv := func(ts []api.ValueType) []abi.ValType {
		out := make([]abi.ValType, len(ts))
		for i, t := range ts {
			out[i] = abi.ValType(t)
		}
		return out
	}
	return abi.Signature{Params: conv(def.ParamTypes()), Results: conv(def.ResultTypes())}
}

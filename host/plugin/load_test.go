package plugin

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/sdk/abi"
)

func TestLoad_rejects(t *testing.T) {
	tests := []struct {
		name    string
		guest   string
		wantErr string
	}{
		{name: "abi-version-2", guest: "error/abi_v2",
			wantErr: `plugin_abi_mismatch|load|plugin "abi_v2": ABI version mismatch: host supports 1, plugin declares 2`},
		{name: "imports-v2-module", guest: "error/import_v2",
			wantErr: `plugin_abi_mismatch|load|plugin "import_v2": ABI version mismatch: host supports 1, plugin declares 2 (imports module "agent_vault_v2")`},
		{name: "manifest-v2", guest: "error/manifest_v2",
			wantErr: `plugin_abi_mismatch|load|plugin "manifest_v2": ABI version mismatch: host supports 1, plugin declares 2`},
		{name: "missing-export", guest: "error/missing_export",
			wantErr: `plugin_invalid|load|plugin "missing_export": missing export "probe" (i32,i32)->(i64)`},
		{name: "wrong-signature", guest: "error/wrong_sig",
			wantErr: `plugin_invalid|load|plugin "wrong_sig": export "sync" has (i32,i32)->(i32), want (i32,i32)->(i64)`},
		{name: "feature-without-export", guest: "error/feature_without_export",
			wantErr: `plugin_invalid|load|plugin "needsync": missing export "sync" (i32,i32)->(i64)`},
		{name: "bad-manifest", guest: "error/bad_manifest",
			wantErr: `plugin_invalid|load|plugin "bad_manifest": manifest: kind "Bad Kind" must match ^[a-z][a-z0-9_-]{0,31}$`},
		{name: "unknown-import", guest: "error/unknown_import",
			wantErr: `plugin_invalid|load|plugin "unknown_import": imports agent_vault_v1.exec, which the host does not provide`},
		{name: "import-signature", guest: "error/import_sig",
			wantErr: `plugin_invalid|load|plugin "import_sig": import "log" has (i32,i32)->(), want (i32,i32,i32)->()`},
		{name: "foreign-import", guest: "error/foreign_import",
			wantErr: `plugin_invalid|load|plugin "foreign_import": imports module "env"; only "agent_vault_v1" and "wasi_snapshot_preview1" are provided`},
		{name: "init-loop", guest: "error/init_loop",
			wantErr: `plugin_timeout|limit|plugin "init_loop": export "_initialize": did not return within its deadline (300ms)`},
		{name: "init-trap", guest: "error/init_trap",
			wantErr: `plugin_trap|trap|plugin "init_trap": export "_initialize": trapped: wasm error: unreachable`},
	}
	rt := newTestRuntime(t, func(c *Config) { c.InitTimeout = 300 * time.Millisecond })
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := rt.Load(context.Background(), tc.guest[len("error/"):], guest(t, tc.guest))
			if got := errString(err); got != tc.wantErr {
				t.Fatalf("got  %s\nwant %s", got, tc.wantErr)
			}
		})
	}
	// A rejected plugin leaves the runtime serving.
	p := rt.load(t, "ok/store")
	if err := p.Probe(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
}

func TestLoad_notWasm(t *testing.T) {
	rt := newTestRuntime(t, nil)
	_, err := rt.Load(context.Background(), "junk", []byte("not wasm"))
	var e *Error
	if !errors.As(err, &e) || e.Code != abi.CodePluginInvalid || e.Class != ClassLoad || !contains(e.Message, "compile: invalid magic number") {
		t.Fatalf("got %v", errString(err))
	}
	if domain.CodeOf(err) != domain.CodePluginInvalid {
		t.Fatalf("domain code = %s", domain.CodeOf(err))
	}
}

func TestLoad_duplicateKind(t *testing.T) {
	rt := newTestRuntime(t, nil)
	rt.load(t, "ok/store")
	_, err := rt.Load(context.Background(), "again", guest(t, "ok/store"))
	if got, want := errString(err), `plugin_invalid|load|plugin "again": kind "okstore" is already loaded`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestLoad_manifestAndLookup(t *testing.T) {
	rt := newTestRuntime(t, nil)
	rt.load(t, "ok/store")
	rt.load(t, "ok/minimal")
	var kinds []string
	for _, p := range rt.Plugins() {
		kinds = append(kinds, p.Kind())
	}
	if len(kinds) != 2 || kinds[0] != "okstore" || kinds[1] != "readonly" {
		t.Fatalf("kinds = %v", kinds)
	}
	p, err := rt.Plugin("okstore")
	if err != nil {
		t.Fatal(err)
	}
	m := p.Manifest()
	if m.ABIVersion != 1 || m.Features != abi.FeatureWritable|abi.FeaturePolls|abi.FeatureDynamicSecrets || string(m.ConfigSchema) != `{"type":"object"}` {
		t.Fatalf("manifest = %+v", m)
	}
	if _, err := rt.Plugin("nope"); domain.CodeOf(err) != domain.CodePluginNotFound {
		t.Fatalf("Plugin(nope) = %v", err)
	}
}

func TestLoadDir_skipsBadPlugins(t *testing.T) {
	dir := t.TempDir()
	grants := map[string]Grant{}
	for name, src := range map[string]string{"okstore": "ok/store", "b-bad": "error/wrong_sig", "c-junk": "", "d-ungranted": "ok/store"} {
		b := []byte("junk")
		if src != "" {
			b = guest(t, src)
		}
		writeFile(t, dir+"/"+name+".wasm", b)
		if name != "d-ungranted" {
			grants[name] = Grant{SHA256: sha256Hex(b)}
		}
	}
	writeFile(t, dir+"/notes.txt", []byte("ignored"))
	rt := newTestRuntime(t, func(c *Config) { c.PluginDir = dir; c.Grants = grants })
	errs := rt.LoadDir(context.Background())
	if len(errs) != 3 {
		t.Fatalf("errs = %v", errs)
	}
	if got, want := errString(errs[0]), `plugin_invalid|load|plugin "b-bad": export "sync" has (i32,i32)->(i32), want (i32,i32)->(i64)`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	if _, err := rt.Plugin("okstore"); err != nil {
		t.Fatal(err)
	}
	if !contains(rt.logs.String(), `msg="store plugin skipped"`) {
		t.Fatalf("no skip logged: %s", rt.logs)
	}
}

// TestLoadThirdParty_grants: a plugin from the plugin directory loads only
// under a granted kind whose sha256 matches, never under a shipped kind's
// name, and only when its manifest declares the kind it is granted as.
func TestLoadThirdParty_grants(t *testing.T) {
	wasm := guest(t, "ok/store") // kind okstore
	good := sha256Hex(wasm)
	zeros := strings.Repeat("0", 64)
	tests := []struct {
		name, load string
		grants     map[string]Grant
		reserved   []string
		wantErr    string
	}{
		{name: "match", load: "okstore", grants: map[string]Grant{"okstore": {SHA256: good}}},
		{name: "match-upper", load: "okstore", grants: map[string]Grant{"okstore": {SHA256: strings.ToUpper(good)}}},
		{name: "mismatch", load: "okstore", grants: map[string]Grant{"okstore": {SHA256: zeros}},
			wantErr: `plugin_not_granted|load|plugin "okstore": module sha256 is ` + good + `, granted ` + zeros},
		{name: "no-grant", load: "okstore",
			wantErr: `plugin_not_granted|load|plugin "okstore": not granted: third-party plugins load only when the plugin grants file names them with their sha256 (this module's is ` + good + `)`},
		{name: "grant-without-sha", load: "okstore", grants: map[string]Grant{"okstore": {Env: []string{"X"}}},
			wantErr: `plugin_not_granted|load|plugin "okstore": not granted: third-party plugins load only when the plugin grants file names them with their sha256 (this module's is ` + good + `)`},
		{name: "shipped-name", load: "okstore", grants: map[string]Grant{"okstore": {SHA256: good}}, reserved: []string{"okstore"},
			wantErr: `plugin_not_granted|load|plugin "okstore": "okstore" is the kind of a plugin shipped with Agent Vault; a third-party plugin may not take its name`},
		{name: "other-kind", load: "granted", grants: map[string]Grant{"granted": {SHA256: good}},
			wantErr: `plugin_not_granted|load|plugin "granted": declares kind "okstore"; a third-party plugin's file must be named after its kind (granted.wasm), the name it is granted under`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rt := newTestRuntime(t, func(c *Config) { c.Grants = tc.grants; c.ReservedKinds = tc.reserved })
			_, err := rt.loadThirdParty(context.Background(), tc.load, wasm)
			if got := errString(err); got != tc.wantErr {
				t.Fatalf("got  %s\nwant %s", got, tc.wantErr)
			}
		})
	}
}

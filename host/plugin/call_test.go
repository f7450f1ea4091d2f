package plugin

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/sdk/abi"
)

func TestCall_okStore(t *testing.T) {
	rt := newTestRuntime(t, nil)
	p := rt.load(t, "ok/store")
	ctx := context.Background()
	cfg := json.RawMessage(`{"a":1}`)

	if err := p.ValidateConfig(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if err := p.Probe(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if !contains(rt.logs.String(), `level=INFO msg="probing upstream" plugin=okstore source=plugin export=probe`) {
		t.Fatalf("guest log line missing: %s", rt.logs)
	}
	snap, err := p.Sync(ctx, cfg)
	if err != nil || !reflect.DeepEqual(snap, map[string]string{"API_KEY": "v1", "DB_PASSWORD": "v2"}) {
		t.Fatalf("Sync = %v, %v", snap, err)
	}
	if err := p.ValidateWrite(ctx, cfg, map[string]string{"K": "v"}); err != nil {
		t.Fatal(err)
	}
	list, err := p.ListDynamic(ctx, cfg)
	if err != nil || len(list) != 1 || list[0].Name != "db" || !reflect.DeepEqual(list[0].Fields, []string{"DB_USER", "DB_PASS"}) {
		t.Fatalf("ListDynamic = %+v, %v", list, err)
	}
	lease, err := p.LeaseCreate(ctx, cfg, "db")
	if err != nil || lease.LeaseID != "l1" || lease.TTLSeconds != 60 || lease.Values["DB_PASS"] != "p" {
		t.Fatalf("LeaseCreate = %+v, %v", lease, err)
	}
	renewed, err := p.LeaseRenew(ctx, cfg, "l1")
	if err != nil || renewed.TTLSeconds != 120 {
		t.Fatalf("LeaseRenew = %+v, %v", renewed, err)
	}
	if err := p.LeaseRevoke(ctx, cfg, "l1"); err != nil {
		t.Fatal(err)
	}
}

func TestCall_unsupportedFeature(t *testing.T) {
	rt := newTestRuntime(t, nil)
	p := rt.load(t, "ok/minimal")
	ctx := context.Background()
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{name: "sync", call: func() error { _, err := p.Sync(ctx, nil); return err },
			want: `plugin_unsupported|guest|plugin "readonly": export "sync": the plugin's manifest does not declare this capability`},
		{name: "validate-write", call: func() error { return p.ValidateWrite(ctx, nil, map[string]string{"A": "b"}) },
			want: `plugin_unsupported|guest|plugin "readonly": export "validate_write": the plugin's manifest does not declare this capability`},
		{name: "lease-create", call: func() error { _, err := p.LeaseCreate(ctx, nil, "x"); return err },
			want: `plugin_unsupported|guest|plugin "readonly": export "lease_create": the plugin's manifest does not declare this capability`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := errString(tc.call()); got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestCall_guestErrors(t *testing.T) {
	rt := newTestRuntime(t, nil)
	p := rt.load(t, "error/guest")
	ctx := context.Background()
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{name: "code-passes-through", call: func() error { return p.Probe(ctx, nil) },
			want: `external_store_auth_failed|guest|plugin "errstore": export "probe": token rejected`},
		{name: "bad-key-fails-whole-sync", call: func() error { _, err := p.Sync(ctx, nil); return err },
			want: `external_store_invalid_key|guest|plugin "errstore": export "sync": key "bad-key" must match ^[A-Z][A-Z0-9_]*$ (at most 128 characters); nothing was applied`},
		{name: "unknown-code-replaced", call: func() error { return p.ValidateConfig(ctx, nil) },
			want: `plugin_error|guest|plugin "errstore": export "validate_config": returned unknown code "unauthorized": nope`},
		{name: "lease-without-id", call: func() error { _, err := p.LeaseCreate(ctx, nil, "db"); return err },
			want: `plugin_bad_result|trap|plugin "errstore": export "lease_create": lease has no lease_id or a non-positive ttl_seconds`},
		{name: "dynamic-field-bad-key", call: func() error { _, err := p.ListDynamic(ctx, nil); return err },
			want: `external_store_invalid_key|guest|plugin "errstore": export "dynamic_list": dynamic secret "db" has field "lower", which is not a valid credential key`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if got := errString(err); got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
			if domain.CodeOf(err) != err.(*Error).Code {
				t.Fatalf("domain.CodeOf = %s", domain.CodeOf(err))
			}
		})
	}
}

// TestCall_misbehaving runs each misbehaviour, then a well-behaved call on
// the same plugin: the host keeps serving and the pool replaced the instance.
func TestCall_misbehaving(t *testing.T) {
	rt := newTestRuntime(t, func(c *Config) { c.CallTimeout = 200 * time.Millisecond })
	p := rt.load(t, "limits/misbehave")
	ctx := context.Background()
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{name: "infinite-loop", call: func() error { return p.Probe(ctx, nil) },
			want: `plugin_timeout|limit|plugin "misbehave": export "probe": did not return within its deadline (200ms)`},
		{name: "unbounded-memory", call: func() error { _, err := p.Sync(ctx, nil); return err },
			want: `plugin_memory_limit|limit|plugin "misbehave": export "sync": exceeded the memory limit of 16 pages (1 MiB)`},
		{name: "go-style-panic", call: func() error { return p.ValidateWrite(ctx, nil, map[string]string{"A": "b"}) },
			want: `plugin_trap|trap|plugin "misbehave": export "validate_write": trapped: the plugin panicked`},
		{name: "unreachable", call: func() error { return p.LeaseRevoke(ctx, nil, "l") },
			want: `plugin_trap|trap|plugin "misbehave": export "lease_revoke": trapped: wasm error: unreachable`},
		{name: "out-of-range-result", call: func() error { _, err := p.ListDynamic(ctx, nil); return err },
			want: `plugin_bad_result|trap|plugin "misbehave": export "dynamic_list": returned (ptr 2147418112, len 16): range [2147418112, 2147418128) is outside memory of 131072 bytes`},
		{name: "malformed-envelope", call: func() error { _, err := p.LeaseCreate(ctx, nil, "x"); return err },
			want: `plugin_bad_result|trap|plugin "misbehave": export "lease_create": malformed result: envelope: invalid character 'o' in literal null (expecting 'u')`},
		{name: "oversized-result", call: func() error { _, err := p.LeaseRenew(ctx, nil, "l"); return err },
			want: `plugin_output_limit|limit|plugin "misbehave": export "lease_renew": result is 17825792 bytes; the limit is 16777216`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := errString(tc.call()); got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
			if err := p.ValidateConfig(ctx, nil); err != nil {
				t.Fatalf("host stopped serving after %s: %v", tc.name, err)
			}
		})
	}
	if !contains(rt.logs.String(), `stderr="panic: boom"`) {
		t.Fatalf("panic line not logged: %s", rt.logs)
	}
}

func TestCall_importTrap(t *testing.T) {
	rt := newTestRuntime(t, nil)
	p := rt.load(t, "limits/http")
	_, err := p.Sync(context.Background(), nil)
	want := `plugin_trap|trap|plugin "httpguest": export "sync": trapped: log: range [2147483632, 2147483732) is outside memory of 131072 bytes (recovered by wazero)`
	if got := errString(err); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestCall_canceledContext(t *testing.T) {
	rt := newTestRuntime(t, nil)
	p := rt.load(t, "limits/misbehave")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := p.ValidateConfig(ctx, nil)
	if got, want := errString(err), `plugin_timeout|limit|plugin "misbehave": export "validate_config": the call was canceled or past its deadline before it started`; got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestCall_requiredEnv(t *testing.T) {
	rt := newTestRuntime(t, nil)
	p := rt.load(t, "ok/store")
	p.manifest.Env = []abi.EnvVar{{Name: "NEEDED", Required: true}}
	p.grant.env["NEEDED"] = true
	err := p.Probe(context.Background(), nil)
	if got, want := err.Error(), `invalid_store_config: store plugin "okstore" needs the environment variable NEEDED, which is not set`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

// TestCall_inputBufferGrows: inputs larger than the reused buffer replace it.
func TestCall_inputBufferGrows(t *testing.T) {
	rt := newTestRuntime(t, func(c *Config) { c.MaxInstances = 1 })
	p := rt.load(t, "ok/store")
	ctx := context.Background()
	big := map[string]string{"K": strings.Repeat("v", 9000)}
	for i, secrets := range []map[string]string{{"A": "b"}, big, {"A": "b"}} {
		if err := p.ValidateWrite(ctx, nil, secrets); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	inst, _ := p.pool.get(ctx)
	defer p.pool.put(ctx, inst, true)
	if inst.inCap < 9000 {
		t.Fatalf("input buffer is %d bytes after a 9000-byte input", inst.inCap)
	}
}

func TestCall_configNotJSON(t *testing.T) {
	rt := newTestRuntime(t, nil)
	p := rt.load(t, "ok/store")
	err := p.Probe(context.Background(), json.RawMessage(`{`))
	if got, want := errString(err), `invalid_store_config|guest|plugin "okstore": export "probe": config is not valid JSON`; got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	// The instance went back to the pool: the next call works.
	if err := p.Probe(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
}

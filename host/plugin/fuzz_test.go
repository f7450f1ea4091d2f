package plugin

import (
	"context"
	"errors"
	"testing"

	"github.com/tetratelabs/wazero/api"

	"github.com/agent-vault/agent-vault/sdk/abi"
)

// FuzzGuestResult loads the fuzz guest, whose exports return a packed value
// the fuzzer chooses, over memory the fuzzer writes. Whatever comes back,
// the host must fail only that call, with a typed error, and keep serving.
func FuzzGuestResult(f *testing.F) {
	f.Add(abi.Pack(1024, 9), []byte(`{"ok":{}}`))
	f.Add(abi.Pack(1024, 40), []byte(`{"ok":{"secrets":{"A":"b","lower":"c"}}}`))
	f.Add(abi.Pack(1024, 44), []byte(`{"error":{"code":"external_store_not_found","message":"gone"}}`))
	f.Add(abi.Pack(0, 0), []byte{})
	f.Add(abi.Pack(0, 16), []byte("x"))
	f.Add(abi.Pack(131070, 4), []byte("{}"))
	f.Add(uint64(0xffffffffffffffff), []byte("{"))
	f.Add(abi.Pack(1024, abi.MaxResultBytes+1), []byte("{}"))

	rt := newTestRuntime(f, func(c *Config) { c.MaxInstances = 1 })
	p := rt.load(f, "fuzz/fuzz")
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, packed uint64, data []byte) {
		if len(data) > 31<<10 {
			data = data[:31<<10] // stay below the input buffer at 32768
		}
		inst, err := p.pool.get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		inst.mod.Memory().Write(1024, data)
		inst.mod.ExportedGlobal("fuzz_ret").(api.MutableGlobal).Set(packed)
		p.pool.put(ctx, inst, true)

		_, err = p.Sync(ctx, nil)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Plugin != "fuzz" || e.Export != abi.ExportSync || e.Class == ClassLoad {
				t.Fatalf("untyped or misattributed error: %#v", err)
			}
		}
		// The host keeps serving: a fresh or reused instance answers.
		inst, err = p.pool.get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		inst.mod.Memory().Write(1024, []byte(`{"ok":{}}`))
		inst.mod.ExportedGlobal("fuzz_ret").(api.MutableGlobal).Set(abi.Pack(1024, 9))
		p.pool.put(ctx, inst, true)
		if err := p.Probe(ctx, nil); err != nil {
			t.Fatalf("host stopped serving: %v", err)
		}
	})
}

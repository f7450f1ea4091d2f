package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/experimental/logging"

	"github.com/agent-vault/agent-vault/sdk/golden"
)

// TestABITrace pins the sequence of ABI calls for a load and one call of
// each kind: abi_version before manifest, alloc/free around every input,
// free after every result, and the log import. wazero's logging listener is
// experimental, so it is used in tests only.
func TestABITrace(t *testing.T) {
	var buf bytes.Buffer
	ctx := experimental.WithFunctionListenerFactory(context.Background(),
		logging.NewHostLoggingListenerFactory(&buf, logging.LogScopeAll))
	rt, err := NewRuntime(ctx, Config{
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		Env:         func(string) string { return "" },
		CallTimeout: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	p, err := rt.Load(ctx, "store", guest(t, "ok/store"))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Probe(ctx, json.RawMessage(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Sync(ctx, nil); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "trace", buf.Bytes())
}

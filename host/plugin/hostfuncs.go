package plugin

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/agent-vault/agent-vault/sdk/abi"
)

// This file is the ABI layer of host imports: it reads guest memory, decodes,
// and calls hostServices. It knows nothing about pools or compilation.

// hostServices is what the host imports do on a plugin's behalf. Each plugin
// gets its own (its HTTP grants differ).
type hostServices interface {
	// HTTP performs a request the guest described, already decoded; origin
	// is its canonical origin. Failures are returned as codes the guest can
	// handle, never as traps.
	HTTP(ctx context.Context, req *abi.HTTPRequest, origin string) (*abi.HTTPResponse, *abi.Error)
	// Log records one guest log line.
	Log(ctx context.Context, level slog.Level, msg string)
	// Now is the host clock.
	Now() time.Time
}

// unimplementedHostServices denies HTTP and drops logs; tests embed it.
type unimplementedHostServices struct{}

func (unimplementedHostServices) HTTP(context.Context, *abi.HTTPRequest, string) (*abi.HTTPResponse, *abi.Error) {
	return nil, &abi.Error{Code: abi.CodeHTTPOriginDenied, Message: "this host grants no HTTP origins"}
}
func (unimplementedHostServices) Log(context.Context, slog.Level, string) {}
func (unimplementedHostServices) Now() time.Time                          { return time.Now() }

// callState is the per-call state host imports see through the context.
type callState struct {
	services hostServices
	export   string
	logs     int
	pending  []byte // http_request's result, waiting for http_response
	body     []byte // a raw_body response's body, waiting for http_body
}

type callStateKey struct{}

func stateOf(ctx context.Context) *callState {
	if s, ok := ctx.Value(callStateKey{}).(*callState); ok {
		return s
	}
	// Imports called outside an export (e.g. from _initialize) get a state
	// that denies everything.
	return &callState{services: unimplementedHostServices{}, export: abi.ExportInitialize}
}

// importTrap aborts the guest call: host imports trap only for a bad pointer
// or length. wazero turns the panic into the call's error.
type importTrap struct{ msg string }

func (t importTrap) Error() string { return t.msg }

// readGuest copies [ptr, ptr+n) out of guest memory or traps.
func readGuest(mod api.Module, fn string, ptr, n uint32, limit int) []byte {
	mem := mod.Memory()
	if mem == nil {
		panic(importTrap{fn + ": module has no memory"})
	}
	if err := abi.CheckRange(ptr, n, mem.Size()); err != nil {
		panic(importTrap{fmt.Sprintf("%s: %v", fn, err)})
	}
	if int(n) > limit {
		panic(importTrap{fmt.Sprintf("%s: %d bytes; the limit is %d", fn, n, limit)})
	}
	b, _ := mem.Read(ptr, n)
	// Copy: the view detaches if the guest grows its memory later.
	return append([]byte(nil), b...)
}

// registerHostModule instantiates the agent_vault_v1 module in r.
func registerHostModule(ctx context.Context, r wazero.Runtime) error {
	i32, i64 := api.ValueTypeI32, api.ValueTypeI64
	b := r.NewHostModuleBuilder(abi.ModuleName)
	b.NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(hostHTTPRequest), []api.ValueType{i32, i32}, []api.ValueType{i32}).
		WithParameterNames("req", "req_len").Export(abi.ImportHTTPRequest)
	b.NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(hostHTTPResponse), []api.ValueType{i32, i32}, []api.ValueType{i32}).
		WithParameterNames("buf", "buf_limit").Export(abi.ImportHTTPResponse)
	b.NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(hostHTTPBody), []api.ValueType{i32, i32}, []api.ValueType{i32}).
		WithParameterNames("buf", "buf_limit").Export(abi.ImportHTTPBody)
	b.NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(hostLog), []api.ValueType{i32, i32, i32}, nil).
		WithParameterNames("level", "msg", "msg_len").Export(abi.ImportLog)
	b.NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(hostTimeNow), nil, []api.ValueType{i64}).
		Export(abi.ImportTimeNow)
	_, err := b.Instantiate(ctx)
	return err
}

// http_request(req, req_len) -> result_len
func hostHTTPRequest(ctx context.Context, mod api.Module, stack []uint64) {
	st := stateOf(ctx)
	raw := readGuest(mod, abi.ImportHTTPRequest, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), abi.MaxHTTPRequestBytes)
	var env []byte
	st.body = nil
	req, origin, err := abi.DecodeHTTPRequest(raw)
	if err != nil {
		env = abi.EncodeError(abi.CodeHTTPBadRequest, err.Error())
	} else if resp, herr := st.services.HTTP(ctx, req, origin); herr != nil {
		env = abi.EncodeError(herr.Code, herr.Message)
	} else if env, err = abi.EncodeOK(splitBody(st, req, resp)); err != nil {
		env = abi.EncodeError(abi.CodeHTTPFailed, "encoding the response failed")
	}
	st.pending = env
	stack[0] = api.EncodeU32(uint32(len(env)))
}

// http_response(buf, buf_limit) -> result_len
func hostHTTPResponse(ctx context.Context, mod api.Module, stack []uint64) {
	st := stateOf(ctx)
	buf, limit := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
	n := uint32(len(st.pending))
	if n == 0 || limit < n {
		// Nothing pending (0), or a buffer too small: report the length
		// and keep the result so the guest can retry.
		stack[0] = api.EncodeU32(n)
		return
	}
	mem := mod.Memory()
	if err := abi.CheckRange(buf, n, mem.Size()); err != nil {
		panic(importTrap{fmt.Sprintf("%s: %v", abi.ImportHTTPResponse, err)})
	}
	mem.Write(buf, st.pending)
	st.pending = nil
	stack[0] = api.EncodeU32(n)
}

// log(level, msg, msg_len)
func hostLog(ctx context.Context, mod api.Module, stack []uint64) {
	st := stateOf(ctx)
	level := slog.Level(api.DecodeI32(stack[0]))
	ptr, n := api.DecodeU32(stack[1]), api.DecodeU32(stack[2])
	// Validate the range even when the line is dropped, so a bad pointer
	// always traps.
	if err := abi.CheckRange(ptr, n, mod.Memory().Size()); err != nil {
		panic(importTrap{fmt.Sprintf("%s: %v", abi.ImportLog, err)})
	}
	st.logs++
	if st.logs > abi.MaxLogsPerCall {
		return
	}
	if n > abi.MaxLogBytes {
		n = abi.MaxLogBytes
	}
	b, _ := mod.Memory().Read(ptr, n)
	st.services.Log(ctx, level, abi.Truncate(string(b), abi.MaxLogBytes))
}

// time_now() -> unix_nano
func hostTimeNow(ctx context.Context, _ api.Module, stack []uint64) {
	stack[0] = uint64(stateOf(ctx).services.Now().UnixNano())
}

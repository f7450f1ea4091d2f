package plugin

import (
	"context"
	"fmt"

	"github.com/tetratelabs/wazero/api"

	"github.com/agent-vault/agent-vault/sdk/abi"
)

// splitBody keeps a raw_body response's body aside for http_body and returns
// the envelope value without it: the body then crosses the boundary as raw
// bytes instead of base64 inside JSON, which the guest decodes slowly.
func splitBody(st *callState, req *abi.HTTPRequest, resp *abi.HTTPResponse) *abi.HTTPResponse {
	if !req.RawBody {
		return resp
	}
	meta := *resp
	meta.Body, meta.BodyLen = nil, len(resp.Body)
	st.body = resp.Body
	return &meta
}

// http_body(buf, buf_limit) -> body_len
func hostHTTPBody(ctx context.Context, mod api.Module, stack []uint64) {
	st := stateOf(ctx)
	buf, limit := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
	n := uint32(len(st.body))
	if n == 0 || limit < n {
		// Nothing pending (0), or a buffer too small: report the length
		// and keep the body so the guest can retry.
		stack[0] = api.EncodeU32(n)
		return
	}
	mem := mod.Memory()
	if err := abi.CheckRange(buf, n, mem.Size()); err != nil {
		panic(importTrap{fmt.Sprintf("%s: %v", abi.ImportHTTPBody, err)})
	}
	mem.Write(buf, st.body)
	st.body = nil
	stack[0] = api.EncodeU32(n)
}

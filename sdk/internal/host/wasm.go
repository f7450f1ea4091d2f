//go:build wasip1

package host

import (
	"time"
	"unsafe"
)

//go:wasmimport agent_vault_v1 http_request
func importHTTPRequest(req unsafe.Pointer, reqLen uint32) uint32

//go:wasmimport agent_vault_v1 http_response
func importHTTPResponse(buf unsafe.Pointer, bufLimit uint32) uint32

//go:wasmimport agent_vault_v1 http_body
func importHTTPBody(buf unsafe.Pointer, bufLimit uint32) uint32

//go:wasmimport agent_vault_v1 log
func importLog(level int32, msg unsafe.Pointer, msgLen uint32)

//go:wasmimport agent_vault_v1 time_now
func importTimeNow() int64

// HTTP sends a request descriptor to the host and returns the envelope and,
// if the descriptor asked for raw_body, the body the host kept aside.
func HTTP(req []byte) (env, body []byte) {
	n := importHTTPRequest(unsafe.Pointer(unsafe.SliceData(req)), uint32(len(req)))
	if n == 0 {
		return nil, nil
	}
	env = make([]byte, n)
	env = env[:importHTTPResponse(unsafe.Pointer(&env[0]), n)]
	// http_body(0, 0) asks for the length; 0 means no body is pending.
	if n = importHTTPBody(nil, 0); n > 0 {
		body = make([]byte, n)
		body = body[:importHTTPBody(unsafe.Pointer(&body[0]), n)]
	}
	return env, body
}

// Log sends one log line to the host.
func Log(level int32, msg string) {
	if msg == "" {
		return
	}
	importLog(level, unsafe.Pointer(unsafe.StringData(msg)), uint32(len(msg)))
}

// Now reads the host clock.
func Now() time.Time { return time.Unix(0, importTimeNow()) }

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

//go:wasmimport agent_vault_v1 log
func importLog(level int32, msg unsafe.Pointer, msgLen uint32)

//go:wasmimport agent_vault_v1 time_now
func importTimeNow() int64

// HTTP sends a request descriptor to the host and returns the envelope.
func HTTP(req []byte) []byte {
	n := importHTTPRequest(unsafe.Pointer(unsafe.SliceData(req)), uint32(len(req)))
	if n == 0 {
		return nil
	}
	buf := make([]byte, n)
	got := importHTTPResponse(unsafe.Pointer(&buf[0]), n)
	return buf[:got]
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

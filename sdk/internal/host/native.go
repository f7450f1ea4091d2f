//go:build !wasip1

package host

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/agent-vault/agent-vault/sdk/abi"
)

// Native twins of the host imports, so plugin code runs under `go test`.
// hostHTTP performs the request directly (no origin grants: tests point the
// plugin at an httptest server), through the same descriptor and envelope
// encoding the wasm build uses.

var nativeClient = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return nil },
}

// HTTP performs the request directly (native twin of the import).
func HTTP(desc []byte) []byte {
	r, _, err := abi.DecodeHTTPRequest(desc)
	if err != nil {
		return abi.EncodeError(abi.CodeHTTPBadRequest, err.Error())
	}
	req, err := http.NewRequest(r.Method, r.URL, bytes.NewReader(r.Body))
	if err != nil {
		return abi.EncodeError(abi.CodeHTTPBadRequest, err.Error())
	}
	req.Header = r.Header
	resp, err := nativeClient.Do(req)
	if err != nil {
		return abi.EncodeError(abi.CodeHTTPFailed, err.Error())
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, abi.MaxHTTPResponseBody+1))
	if err != nil {
		return abi.EncodeError(abi.CodeHTTPFailed, err.Error())
	}
	if len(body) > abi.MaxHTTPResponseBody {
		return abi.EncodeError(abi.CodeHTTPTooLarge, "response too large")
	}
	out, _ := abi.EncodeOK(abi.HTTPResponse{Status: resp.StatusCode, Header: resp.Header, Body: body})
	return out
}

var nativeLog = slog.New(slog.NewTextHandler(os.Stderr, nil))

// Log writes to stderr (native twin of the import).
func Log(level int32, msg string) { nativeLog.Log(context.Background(), slog.Level(level), msg) }

// Now is time.Now (native twin of the import).
func Now() time.Time { return time.Now() }

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

// HTTP performs the request directly (native twin of the imports
// http_request, http_response and http_body).
func HTTP(desc []byte) (env, body []byte) {
	r, _, err := abi.DecodeHTTPRequest(desc)
	if err != nil {
		return abi.EncodeError(abi.CodeHTTPBadRequest, err.Error()), nil
	}
	req, err := http.NewRequest(r.Method, r.URL, bytes.NewReader(r.Body))
	if err != nil {
		return abi.EncodeError(abi.CodeHTTPBadRequest, err.Error()), nil
	}
	req.Header = r.Header
	resp, err := nativeClient.Do(req)
	if err != nil {
		return abi.EncodeError(abi.CodeHTTPFailed, err.Error()), nil
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, abi.MaxHTTPResponseBody+1))
	if err != nil {
		return abi.EncodeError(abi.CodeHTTPFailed, err.Error()), nil
	}
	if len(body) > abi.MaxHTTPResponseBody {
		return abi.EncodeError(abi.CodeHTTPTooLarge, "response too large"), nil
	}
	if r.RawBody {
		// The same split as the host's: the body travels beside the envelope.
		out, _ := abi.EncodeOK(abi.HTTPResponse{Status: resp.StatusCode, Header: resp.Header, BodyLen: len(body)})
		return out, body
	}
	out, _ := abi.EncodeOK(abi.HTTPResponse{Status: resp.StatusCode, Header: resp.Header, Body: body})
	return out, nil
}

var nativeLog = slog.New(slog.NewTextHandler(os.Stderr, nil))

// Log writes to stderr (native twin of the import).
func Log(level int32, msg string) { nativeLog.Log(context.Background(), slog.Level(level), msg) }

// Now is time.Now (native twin of the import).
func Now() time.Time { return time.Now() }

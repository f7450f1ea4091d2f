// Package sdkhttp gives store plugins an ordinary *http.Client whose
// transport sends each request through the host's scoped HTTP capability.
// It is separate from package sdk so that plugins that make no requests do
// not link net/http (about 4 MB of wasm).
package sdkhttp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/agent-vault/agent-vault/sdk"
	"github.com/agent-vault/agent-vault/sdk/abi"
	"github.com/agent-vault/agent-vault/sdk/internal/host"
)

// Client returns an *http.Client whose transport sends every request
// through the host. Requests honour their context: the SDK gives each
// operation's context the host's call deadline.
func Client() *http.Client {
	return &http.Client{
		Transport: hostTransport{},
		// Redirects are followed by the host, which re-checks each hop.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       60 * time.Second,
	}
}

// hostTransport encodes the request, calls the host import, decodes.
type hostTransport struct{}

func (hostTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		body, err = io.ReadAll(io.LimitReader(req.Body, abi.MaxHTTPRequestBytes+1))
		req.Body.Close()
		if err != nil {
			return nil, err
		}
	}
	// raw_body: the response body comes back as raw bytes beside a small
	// JSON envelope, not base64 inside it (many times faster in wasm).
	desc, err := json.Marshal(abi.HTTPRequest{Method: req.Method, URL: req.URL.String(), Header: req.Header, Body: body, RawBody: true})
	if err != nil {
		return nil, err
	}
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	r, err := decodeResponse(host.HTTP(desc))
	if err != nil {
		return nil, err
	}
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", r.Status, http.StatusText(r.Status)),
		StatusCode:    r.Status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        http.Header(r.Header),
		Body:          io.NopCloser(bytes.NewReader(r.Body)),
		ContentLength: int64(len(r.Body)),
		Request:       req,
	}, nil
}

// decodeResponse turns the host's envelope and raw body into a response
// whose Body holds the bytes. Errors are *sdk.HTTPError.
func decodeResponse(env, raw []byte) (*abi.HTTPResponse, error) {
	ok, herr, err := abi.DecodeEnvelope(env)
	if err != nil {
		return nil, &sdk.HTTPError{Code: abi.CodeHTTPFailed, Message: "host response: " + err.Error()}
	}
	if herr != nil {
		return nil, &sdk.HTTPError{Code: herr.Code, Message: herr.Message}
	}
	var r abi.HTTPResponse
	if err := json.Unmarshal(ok, &r); err != nil {
		return nil, &sdk.HTTPError{Code: abi.CodeHTTPFailed, Message: "host response: " + err.Error()}
	}
	switch {
	case len(r.Body) > 0 && (r.BodyLen > 0 || len(raw) > 0):
		return nil, &sdk.HTTPError{Code: abi.CodeHTTPFailed, Message: "host response: body both inline and raw"}
	case r.BodyLen != len(raw):
		return nil, &sdk.HTTPError{Code: abi.CodeHTTPFailed, Message: fmt.Sprintf("host response: body_len %d, but %d raw bytes", r.BodyLen, len(raw))}
	case len(raw) > 0:
		r.Body, r.BodyLen = raw, 0
	}
	return &r, nil
}

// CheckStatus maps an upstream HTTP status to the store error codes:
// 401 → CodeAuthFailed, 403 → CodeForbidden, 404 → CodeNotFound, other
// non-2xx → CodeUnreachable. It returns nil for 2xx. The message names the
// status only, never the body (which might echo a credential).
func CheckStatus(resp *http.Response) error {
	switch s := resp.StatusCode; {
	case s >= 200 && s < 300:
		return nil
	case s == http.StatusUnauthorized:
		return sdk.Errorf(sdk.CodeAuthFailed, "upstream rejected the credentials (HTTP %d)", s)
	case s == http.StatusForbidden:
		return sdk.Errorf(sdk.CodeForbidden, "upstream refused access (HTTP %d)", s)
	case s == http.StatusNotFound:
		return sdk.Errorf(sdk.CodeNotFound, "upstream has no such resource (HTTP %d)", s)
	default:
		return sdk.Errorf(sdk.CodeUnreachable, "upstream answered HTTP %d", s)
	}
}

// Interface guards
var _ http.RoundTripper = hostTransport{}

// Do sends req through the host, like Client().Do(req) without the
// http.Client machinery (DefaultTransport, TLS, HTTP/2) that makes a plugin
// about 5 MB larger. The host follows redirects, checking each hop.
func Do(req *http.Request) (*http.Response, error) { return hostTransport{}.RoundTrip(req) }

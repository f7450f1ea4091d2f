package sdk

import (
	"context"
	"strconv"
	"strings"

	"github.com/agent-vault/agent-vault/sdk/abi"
	"github.com/agent-vault/agent-vault/sdk/internal/host"
)

// HTTPRequest is one request through the host's HTTP capability.
type HTTPRequest struct {
	// Method is GET (also when empty), HEAD, POST, PUT, PATCH or DELETE.
	Method string
	// URL is an absolute http(s) URL on an origin the host grants the
	// plugin (the manifest's HTTPOrigins and HTTPOriginsEnv).
	URL string
	// Header holds the request headers, named as net/http names them
	// ("Content-Type"). The host sets Host, Content-Length and the other
	// hop-by-hop headers itself and refuses requests that set them.
	Header map[string][]string
	Body   []byte
}

// HTTPResponse is the upstream's answer, after the redirects the host
// followed, with the whole body.
type HTTPResponse struct {
	Status int
	// Header holds the response headers under their canonical names
	// ("Content-Type"); HeaderValue looks one up.
	Header map[string][]string
	Body   []byte
}

// HeaderValue returns the first value of the response header name,
// matched without regard to case, or "".
func (r *HTTPResponse) HeaderValue(name string) string {
	if vs := r.Header[name]; len(vs) > 0 {
		return vs[0]
	}
	for k, vs := range r.Header {
		if len(vs) > 0 && strings.EqualFold(k, name) {
			return vs[0]
		}
	}
	return ""
}

// Fetch sends req through the host's HTTP capability and returns the
// answer with its whole body. A failure of the capability itself (origin
// not granted, internal address, timeout, body over 16 MiB) is an
// *HTTPError, which a Store reports as CodeUnreachable; any HTTP status is
// an answer, not an error (CheckStatus maps it). ctx is checked before
// sending; the host ends the request at the call's deadline.
//
// Fetch is what sdk/sdkhttp's *http.Client runs on. Calling it directly
// keeps net/http out of the plugin: linking http.Client links
// http.Transport, TLS and HTTP/2 with it, several megabytes of wasm that
// the host validates and checksums on every start.
func Fetch(ctx context.Context, req HTTPRequest) (*HTTPResponse, error) {
	if req.Method == "" {
		req.Method = "GET"
	}
	// raw_body: the response body comes back as raw bytes beside a small
	// JSON envelope, not base64 inside it (many times faster in wasm).
	desc := appendHTTPRequest(nil, abi.HTTPRequest{Method: req.Method, URL: req.URL, Header: req.Header, Body: req.Body, RawBody: true})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return decodeHTTPResponse(host.HTTP(desc))
}

// decodeHTTPResponse turns the host's envelope and raw body into a
// response whose Body holds the bytes. Errors are *HTTPError.
func decodeHTTPResponse(env, raw []byte) (*HTTPResponse, error) {
	r, err := decodeHTTPEnvelope(env)
	if err != nil {
		return nil, err
	}
	switch {
	case len(r.Body) > 0 && (r.BodyLen > 0 || len(raw) > 0):
		return nil, hostResponseError("body both inline and raw")
	case r.BodyLen != len(raw):
		return nil, hostResponseError("body_len " + strconv.Itoa(r.BodyLen) + ", but " + strconv.Itoa(len(raw)) + " raw bytes")
	case len(raw) > 0:
		r.Body = raw
	}
	return &HTTPResponse{Status: r.Status, Header: r.Header, Body: r.Body}, nil
}

// CheckStatus maps an upstream HTTP status to the store error codes:
// 401 → CodeAuthFailed, 403 → CodeForbidden, 404 → CodeNotFound, other
// non-2xx → CodeUnreachable. It returns nil for 2xx. The message names the
// status only, never the body (which might echo a credential).
func CheckStatus(status int) error {
	s := strconv.Itoa(status)
	switch {
	case status >= 200 && status < 300:
		return nil
	case status == 401:
		return &Error{Code: CodeAuthFailed, Message: "upstream rejected the credentials (HTTP " + s + ")"}
	case status == 403:
		return &Error{Code: CodeForbidden, Message: "upstream refused access (HTTP " + s + ")"}
	case status == 404:
		return &Error{Code: CodeNotFound, Message: "upstream has no such resource (HTTP " + s + ")"}
	default:
		return &Error{Code: CodeUnreachable, Message: "upstream answered HTTP " + s}
	}
}

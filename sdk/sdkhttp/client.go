// Package sdkhttp gives store plugins an ordinary *http.Client whose
// transport sends each request through the host's scoped HTTP capability,
// for plugin code written against net/http. It is separate from package
// sdk so that plugins that do not use it do not link net/http: sdk.Fetch
// makes the same requests without it, and a plugin that must load fast
// uses that instead (see the SDK's README).
package sdkhttp

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/agent-vault/agent-vault/sdk"
	"github.com/agent-vault/agent-vault/sdk/abi"
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

// hostTransport turns the request into an sdk.HTTPRequest and the answer
// of sdk.Fetch into an *http.Response: the descriptor and the envelope are
// encoded and decoded in one place.
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
	r, err := sdk.Fetch(req.Context(), sdk.HTTPRequest{Method: req.Method, URL: req.URL.String(), Header: req.Header, Body: body})
	if err != nil {
		return nil, err
	}
	return &http.Response{
		Status:        strconv.Itoa(r.Status) + " " + http.StatusText(r.Status),
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

// CheckStatus maps an upstream HTTP status to the store error codes, as
// sdk.CheckStatus does: 401 → CodeAuthFailed, 403 → CodeForbidden, 404 →
// CodeNotFound, other non-2xx → CodeUnreachable; nil for 2xx.
func CheckStatus(resp *http.Response) error { return sdk.CheckStatus(resp.StatusCode) }

// Interface guards
var _ http.RoundTripper = hostTransport{}

// Do sends req through the host, like Client().Do(req) without the
// http.Client machinery (DefaultTransport, TLS, HTTP/2) that it links.
// The host follows redirects, checking each hop.
func Do(req *http.Request) (*http.Response, error) { return hostTransport{}.RoundTrip(req) }

package proxy

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
)

// Codes the proxy answers with, besides the domain codes it passes on.
const (
	CodeProxyAuthRequired = "proxy_auth_required"          // 407: no or unusable Proxy-Authorization
	CodeBadProxyRequest   = "bad_proxy_request"            // 400: origin-form request, bad target
	CodeHTTPSAbsoluteForm = "https_absolute_form"          // 400: absolute-form https:// (use CONNECT)
	CodeBodyTooLarge      = "request_body_too_large"       // 413
	CodeHeadersTooLarge   = "request_headers_too_large"    // 431: request line and headers over 1 MiB
	CodeUpstream          = "upstream_unreachable"         // 502: dial, TLS or protocol failure upstream
	CodeUpstreamTimeout   = "upstream_timeout"             // 504
	CodePlaintextRefused  = "plaintext_credential_refused" // 403: credentials over plain http to a non-local host
)

// HeaderProxyError marks a response the proxy wrote itself, so an agent can
// tell it apart from one the upstream sent.
const HeaderProxyError = "X-Agent-Vault-Proxy-Error"

type errorBody struct {
	Error        string `json:"error"`
	Message      string `json:"message"`
	ProposalHint string `json:"proposal_hint,omitempty"`
	Host         string `json:"host,omitempty"`
	Vault        string `json:"vault,omitempty"`
}

// writeError answers with the broker's JSON error shape. message must never
// contain a credential value.
func writeError(w http.ResponseWriter, status int, body errorBody) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // agents read these messages; keep <token> legible
	enc.Encode(body)         //nolint:errcheck // strings always encode
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	h.Set(HeaderProxyError, "true")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes()) //nolint:errcheck // the client may be gone
}

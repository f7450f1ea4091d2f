package domain

import "net/http"

// Outcomes of a proxied request. Metrics (agent_vault_proxy_requests_total)
// and the overview count requests by these names, so both read the same
// traffic the same way. The set is closed: a new refusal code falls into
// one of them, never into a new label value.
const (
	OutcomeInjected        = "injected"         // forwarded with credentials attached
	OutcomePassthrough     = "passthrough"      // forwarded with nothing attached
	OutcomeDenied          = "denied"           // refused by policy (403): no service, disabled, plaintext, egress
	OutcomeNetguardBlocked = "netguard_blocked" // the destination is a private or metadata address
	OutcomeAuthRequired    = "auth_required"    // 407: no or a bad proxy token
	OutcomeRateLimited     = "rate_limited"     // 429
	OutcomeUpstreamError   = "upstream_error"   // the upstream could not be reached, timed out or sent too much
	OutcomeBadRequest      = "bad_request"      // a malformed request, a body too large, a client gone
	OutcomeError           = "error"            // anything else the proxy failed (missing credential, internal)
)

// Outcomes lists every outcome, in the order dashboards show them.
var Outcomes = []string{
	OutcomeInjected, OutcomePassthrough, OutcomeDenied, OutcomeNetguardBlocked, OutcomeAuthRequired,
	OutcomeRateLimited, OutcomeUpstreamError, OutcomeBadRequest, OutcomeError,
}

// ProxyOutcome classifies a proxied request by the status sent to the
// client, the stable code of the proxy's refusal or failure (empty when it
// forwarded the request) and whether credentials were attached. The codes
// named here are the proxy's (host/proxy) and the network guard's.
func ProxyOutcome(status int, code string, injected bool) string {
	switch {
	case code == "" && status != http.StatusProxyAuthRequired:
		if injected {
			return OutcomeInjected
		}
		return OutcomePassthrough
	case status == http.StatusProxyAuthRequired:
		return OutcomeAuthRequired
	case code == CodeRateLimited || status == http.StatusTooManyRequests:
		return OutcomeRateLimited
	case code == CodeDestinationBlocked:
		return OutcomeNetguardBlocked
	case code == "upstream_unreachable" || code == "upstream_timeout" || code == "response_too_large":
		return OutcomeUpstreamError
	case status == http.StatusForbidden:
		return OutcomeDenied
	case code == "client_closed" || status == http.StatusBadRequest || status == http.StatusRequestEntityTooLarge ||
		status == http.StatusRequestHeaderFieldsTooLarge:
		return OutcomeBadRequest
	}
	return OutcomeError
}

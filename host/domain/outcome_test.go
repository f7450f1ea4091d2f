package domain

import "testing"

func TestProxyOutcome(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		code     string
		injected bool
		want     string
	}{
		{"injected", 200, "", true, OutcomeInjected},
		{"upstream-5xx-is-still-forwarded", 503, "", true, OutcomeInjected},
		{"passthrough", 204, "", false, OutcomePassthrough},
		{"no-service-deny-policy", 403, CodeHostNotAllowed, false, OutcomeDenied},
		{"service-disabled", 403, CodeServiceDisabled, false, OutcomeDenied},
		{"egress-blocked", 403, "secret_egress_blocked", false, OutcomeDenied},
		{"netguard", 403, CodeDestinationBlocked, false, OutcomeNetguardBlocked},
		{"proxy-auth", 407, "proxy_auth_required", false, OutcomeAuthRequired},
		{"bad-token", 407, CodeInvalidCredentials, false, OutcomeAuthRequired},
		{"rate", 429, CodeRateLimited, false, OutcomeRateLimited},
		{"unreachable", 502, "upstream_unreachable", true, OutcomeUpstreamError},
		{"timeout", 504, "upstream_timeout", true, OutcomeUpstreamError},
		{"too-large", 502, "response_too_large", false, OutcomeUpstreamError},
		{"bad-target", 400, "bad_proxy_request", false, OutcomeBadRequest},
		{"body-too-large", 413, "request_body_too_large", false, OutcomeBadRequest},
		{"client-gone", 499, "client_closed", false, OutcomeBadRequest},
		{"missing-credential", 502, CodeCredentialNotFound, false, OutcomeError},
		{"internal", 500, CodeInternal, false, OutcomeError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ProxyOutcome(tc.status, tc.code, tc.injected); got != tc.want {
				t.Fatalf("ProxyOutcome(%d, %q, %v) = %q, want %q", tc.status, tc.code, tc.injected, got, tc.want)
			}
		})
	}
	seen := map[string]bool{}
	for _, tc := range tests {
		seen[tc.want] = true
	}
	for _, o := range Outcomes {
		if !seen[o] {
			t.Errorf("no case yields outcome %q", o)
		}
	}
}

package proxy

import (
	"encoding/base64"
	"strings"
)

// parseProxyAuthorization reads a Proxy-Authorization header value:
//
//	Basic base64(<token>:<vault>)   the form HTTPS_PROXY=http://<token>:<vault>@host:14322 produces
//	Basic base64(<token>:)          or base64(<token>): the vault comes from the token
//	Bearer <token>                  the vault comes from the token
//
// The scheme is case-insensitive. ok is false for anything else, including an
// empty token.
func parseProxyAuthorization(h string) (token, vault string, ok bool) {
	scheme, rest, found := strings.Cut(strings.TrimSpace(h), " ")
	if !found {
		return "", "", false
	}
	rest = strings.TrimSpace(rest)
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		token = rest
	case strings.EqualFold(scheme, "Basic"):
		raw, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return "", "", false
		}
		token, vault, _ = strings.Cut(string(raw), ":")
	default:
		return "", "", false
	}
	if token == "" || len(token) > 4096 || strings.ContainsAny(token, " \t\r\n:") || strings.ContainsAny(vault, "\r\n") {
		return "", "", false
	}
	return token, vault, true
}

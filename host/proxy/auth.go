package proxy

import (
	"encoding/base64"
	"net/http"
	"strings"
	"time"
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

// DefaultTunnelMaxLifetime is how long a CONNECT tunnel stays open at most.
const DefaultTunnelMaxLifetime = time.Hour

// Revalidator is implemented by an Authenticator whose principals can go
// stale (a revoked, expired or downgraded token). Inside a CONNECT tunnel
// the client sends its token once, on the CONNECT; before every request in
// the tunnel the proxy asks Current, and when it answers false it calls
// AuthenticateProxy again with the tunnel's token. Current is on the hot
// path: it must cost about one atomic load. Without a Revalidator the proxy
// authenticates every request in a tunnel.
type Revalidator interface {
	Current(p *Principal) bool
}

// tunnelAuth is what a tunnel keeps to authorise each of its requests.
type tunnelAuth struct {
	token, vault string
}

// reauthorize makes sure the tunnel's principal still stands before a
// request inside it is served. When the token no longer passes, it
// answers 407 or 403 (with Connection: close) and reports false.
func (p *Proxy) reauthorize(w http.ResponseWriter, r *http.Request, tc *tunnelConn) bool {
	if rv, ok := p.cfg.Auth.(Revalidator); ok && rv.Current(&tc.principal) {
		return true
	}
	pr, err := p.cfg.Auth.AuthenticateProxy(r.Context(), tc.auth.token, tc.auth.vault)
	if err != nil {
		w.Header().Set("Connection", "close")
		p.authFailed(w, r, tc.host, err)
		return false
	}
	tc.principal = pr
	return true
}

package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/agent-vault/agent-vault/sdk"
	"github.com/agent-vault/agent-vault/sdk/sdkjson"
)

// session is the cached token of one instance, keyed by a fingerprint of
// the env that produced it, so a changed address or credential logs in
// again.
type session struct {
	key       string
	method    authMethod
	token     string
	ttl       time.Duration // 0: never expires
	renewable bool
	fetched   time.Time // last login or renewal
}

var (
	sessMu sync.Mutex
	sess   *session
	// announced remembers the fingerprint whose method choice was logged.
	announced string
)

// refreshMargin is how long before expiry a token is renewed: a quarter of
// its lifetime, at most a minute.
func refreshMargin(life time.Duration) time.Duration { return min(time.Minute, life/4) }

// authInfo is what a login or renewal grants (wire doc §3.2), or what
// lookup-self says of a given token (§3.3).
type authInfo struct {
	token     string
	ttl       int64
	renewable bool
}

// loginNamespace is where the auth mounts and the token live.
func loginNamespace(env map[string]string) string {
	return strings.Trim(strings.TrimSpace(env[envNamespace]), "/")
}

// token returns a usable token: the cached one, a renewal of it, or a new
// login. fresh forces a new login (after a 403).
func token(ctx context.Context, env map[string]string, fresh bool) (string, error) {
	base, err := addr(env)
	if err != nil {
		return "", err
	}
	method, ignored, err := chooseMethod(env)
	if err != nil {
		return "", err
	}
	key := fingerprint(base, method, env)
	sessMu.Lock()
	defer sessMu.Unlock()
	if announced != key {
		announced = key
		sdk.Log(sdk.LevelInfo, "openbao auth method chosen", "method", string(method), "addr", base)
		if len(ignored) > 0 {
			names := make([]string, len(ignored))
			for i, m := range ignored {
				names[i] = string(m)
			}
			sdk.Log(sdk.LevelWarn, "several OpenBao auth methods are configured; using the first", "method", string(method), "ignored", strings.Join(names, ","))
		}
	}
	now := clock()
	s := sess
	if s != nil && s.key == key && !fresh {
		if s.ttl == 0 || now.Before(s.fetched.Add(s.ttl-refreshMargin(s.ttl))) {
			return s.token, nil
		}
		if s.renewable {
			a, err := renewSelf(ctx, env, s.token)
			// A renewal that no longer grows the TTL means the max TTL
			// is near: log in again instead (wire doc §3.3).
			if err == nil && (time.Duration(a.ttl)*time.Second > refreshMargin(s.ttl) || method == methodToken) {
				s.ttl, s.fetched = time.Duration(a.ttl)*time.Second, now
				if a.token != "" {
					s.token = a.token
				}
				return s.token, nil
			}
		}
		if method == methodToken && now.Before(s.fetched.Add(s.ttl)) {
			// A given token cannot be replaced: use it while it lives.
			return s.token, nil
		}
	}
	a, err := login(ctx, env, method)
	if err != nil {
		sess = nil
		return "", err
	}
	sess = &session{key: key, method: method, token: a.token, ttl: time.Duration(a.ttl) * time.Second, renewable: a.renewable, fetched: now}
	return sess.token, nil
}

// forget drops the cached token if it is still tok.
func forget(tok string) {
	sessMu.Lock()
	defer sessMu.Unlock()
	if sess != nil && sess.token == tok {
		sess = nil
	}
}

// fingerprint hashes what a session depends on; secrets never leave it.
func fingerprint(base string, method authMethod, env map[string]string) string {
	h := sha256.New()
	h.Write([]byte(base + "\x00" + string(method)))
	for _, e := range envVars {
		h.Write([]byte("\x00" + e.Name + "=" + env[e.Name]))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// login gets a token with the chosen method (wire doc §3.1). For a given
// token it asks lookup-self, which proves the token alive and tells its TTL.
func login(ctx context.Context, env map[string]string, method authMethod) (authInfo, error) {
	ns := loginNamespace(env)
	var path string
	var body []byte
	switch method {
	case methodToken:
		tok := strings.TrimSpace(env[envToken])
		a, err := lookupSelf(ctx, env, tok)
		if ue, ok := err.(*upstreamError); ok {
			return a, loginError(method, ue)
		}
		a.token = tok
		return a, err
	case methodAppRole:
		path = "auth/" + escapePath(mountOf(env, envAppRoleAt, "approle")) + "/login"
		if set(env, envSecretID) {
			body = jsonBody("role_id", strings.TrimSpace(env[envRoleID]), "secret_id", strings.TrimSpace(env[envSecretID]))
		} else {
			body = jsonBody("role_id", strings.TrimSpace(env[envRoleID]))
		}
	case methodKubernetes:
		jwt, ok := env[envK8sToken]
		if !ok || strings.TrimSpace(jwt) == "" {
			return authInfo{}, sdk.Errorf(sdk.CodeAuthFailed, "kubernetes login: the service-account token (%s, default %s) could not be read by the host", envK8sToken, defaultK8sTokenPath)
		}
		path = "auth/" + escapePath(mountOf(env, envK8sAt, "kubernetes")) + "/login"
		body = jsonBody("role", strings.TrimSpace(env[envK8sRole]), "jwt", strings.TrimSpace(jwt))
	case methodJWT:
		jwt := strings.TrimSpace(env[envJWTPath])
		if jwt == "" {
			return authInfo{}, sdk.Errorf(sdk.CodeAuthFailed, "jwt login: the JWT file (%s) could not be read by the host", envJWTPath)
		}
		path = "auth/" + escapePath(mountOf(env, envJWTAt, "jwt")) + "/login"
		if r := strings.TrimSpace(env[envJWTRole]); r != "" {
			body = jsonBody("jwt", jwt, "role", r)
		} else {
			body = jsonBody("jwt", jwt)
		}
	}
	what := string(method) + " login"
	raw, err := send(ctx, env, call{method: "POST", path: path, namespace: ns, body: body, what: what})
	if ue, ok := err.(*upstreamError); ok {
		return authInfo{}, loginError(method, ue)
	}
	if err != nil {
		return authInfo{}, err
	}
	a, err := decodeAuth(raw)
	if err != nil {
		return a, malformed(what, err)
	}
	if a.token == "" {
		return a, sdk.Errorf(sdk.CodeUnreachable, "%s: OpenBao answered without a client token", what)
	}
	return a, nil
}

// loginError maps a refused login: server trouble is unreachable, any
// other refusal (400 invalid role or secret ID, 403) auth_failed.
func loginError(method authMethod, ue *upstreamError) error {
	if ue.status >= 500 || ue.status == 429 || ue.status == 412 {
		return sdk.Errorf(sdk.CodeUnreachable, "%s login: %s", method, ue.describe())
	}
	return sdk.Errorf(sdk.CodeAuthFailed, "%s login failed: %s", method, ue.describe())
}

// renewSelf extends the token's TTL (wire doc §3.3).
func renewSelf(ctx context.Context, env map[string]string, tok string) (authInfo, error) {
	body := []byte("{}")
	if n, err := strconv.ParseInt(strings.TrimSpace(env[envTokenRenew]), 10, 64); err == nil && n > 0 {
		body = jsonBody("increment", n)
	}
	raw, err := send(ctx, env, call{method: "POST", path: "auth/token/renew-self", token: tok, namespace: loginNamespace(env), body: body, what: "renewing the token"})
	if err != nil {
		return authInfo{}, err
	}
	return decodeAuth(raw)
}

// lookupSelf asks what the server knows of tok (wire doc §3.3): its TTL
// and whether it is renewable. A 403 means the token is dead.
func lookupSelf(ctx context.Context, env map[string]string, tok string) (authInfo, error) {
	raw, err := send(ctx, env, call{method: "GET", path: "auth/token/lookup-self", token: tok, namespace: loginNamespace(env), what: "looking up the token"})
	if err != nil {
		return authInfo{}, err
	}
	var a authInfo
	err = decodeEnvelope(raw, func(r *sdkjson.Reader, key string) error {
		if key != "data" || r.Null() {
			return r.Skip()
		}
		return r.Object(func(k []byte) error {
			switch string(k) {
			case "ttl":
				return readInt(r, &a.ttl)
			case "renewable":
				return readBool(r, &a.renewable)
			}
			return r.Skip()
		})
	})
	if err != nil {
		return a, malformed("looking up the token", err)
	}
	return a, nil
}

// decodeAuth reads the auth block of a login or renewal (wire doc §3.2).
func decodeAuth(raw []byte) (authInfo, error) {
	var a authInfo
	err := decodeEnvelope(raw, func(r *sdkjson.Reader, key string) error {
		if key != "auth" || r.Null() {
			return r.Skip()
		}
		return r.Object(func(k []byte) error {
			switch string(k) {
			case "client_token":
				return readStr(r, &a.token)
			case "lease_duration":
				return readInt(r, &a.ttl)
			case "renewable":
				return readBool(r, &a.renewable)
			}
			return r.Skip()
		})
	})
	return a, err
}

// authed sends a data call with the cached token. On a 403 it logs in
// again once and retries: an expired or revoked token answers 403 like a
// policy denial (wire doc §3.4). A 403 that survives the fresh login is
// told apart with lookup-self: a dead token is auth_failed, a live one
// was denied by policy (forbidden).
func authed(ctx context.Context, env map[string]string, c call) ([]byte, error) {
	if c.namespace == "" {
		c.namespace = loginNamespace(env)
	}
	for attempt := 0; ; attempt++ {
		tok, err := token(ctx, env, attempt > 0)
		if err != nil {
			return nil, err
		}
		c.token = tok
		body, err := send(ctx, env, c)
		ue, ok := err.(*upstreamError)
		if !ok || ue.status != 403 {
			return body, err
		}
		if attempt == 0 {
			forget(tok)
			continue
		}
		if _, lerr := lookupSelf(ctx, env, tok); lerr != nil {
			if lue, ok := lerr.(*upstreamError); ok && lue.status == 403 {
				return nil, sdk.Errorf(sdk.CodeAuthFailed, "%s: %s (the token was refused after a fresh login)", c.what, ue.describe())
			}
		}
		return nil, sdk.Errorf(sdk.CodeForbidden, "%s: %s (the token's policies do not allow this path)", c.what, ue.describe())
	}
}

// mapError turns the remaining upstream errors of a data call into store
// codes.
func mapError(err error, what string) error {
	ue, ok := err.(*upstreamError)
	if !ok {
		return err
	}
	msg := what + ": " + ue.describe()
	switch {
	case ue.status == 404:
		return sdk.Errorf(sdk.CodeNotFound, "%s", msg)
	case ue.status == 400 && ue.says("unknown role"):
		return sdk.Errorf(sdk.CodeCredentialNotFound, "%s", msg)
	default:
		return sdk.Errorf(sdk.CodeUnreachable, "%s", msg)
	}
}

package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"sync"
	"time"

	"github.com/agent-vault/agent-vault/sdk"
	"github.com/agent-vault/agent-vault/sdk/sdkjson"
)

// loginAnswer is the login and renew response (wire doc §1.1).
type loginAnswer struct {
	AccessToken       string
	ExpiresIn         int64
	AccessTokenMaxTTL int64
	TokenType         string
}

func (a *loginAnswer) decode(body []byte) error {
	return decodeAnswer(body, members{
		{"accessToken", str(&a.AccessToken)}, {"expiresIn", integer(&a.ExpiresIn)},
		{"accessTokenMaxTTL", integer(&a.AccessTokenMaxTTL)}, {"tokenType", str(&a.TokenType)},
	})
}

// session is the cached access token of one instance. It is keyed by a
// fingerprint of the env that produced it, so a changed URL or credential
// logs in again.
type session struct {
	key       string
	method    authMethod
	token     string
	expiresIn time.Duration // 0: never expires
	maxTTL    time.Duration // 0: no cap
	fetched   time.Time     // last login or renew
	loggedIn  time.Time     // last full login
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

// token returns a usable access token: the cached one, a renewal of it, or
// a new login. fresh forces a new login (after a token error).
func token(ctx context.Context, env map[string]string, fresh bool) (string, error) {
	base, err := apiBase(env)
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
		sdk.Log(sdk.LevelInfo, "infisical auth method chosen", "method", string(method), "url", base)
		if len(ignored) > 0 {
			names := make([]string, len(ignored))
			for i, m := range ignored {
				names[i] = string(m)
			}
			sdk.Log(sdk.LevelWarn, "several Infisical auth methods are configured; using the first", "method", string(method), "ignored", strings.Join(names, ","))
		}
	}
	now := clock()
	s := sess
	if s != nil && s.key == key && !fresh {
		if s.expiresIn == 0 || now.Before(s.fetched.Add(s.expiresIn-refreshMargin(s.expiresIn))) {
			return s.token, nil
		}
		// Near expiry: renew unless the max TTL would cut the renewed
		// token short, then log in again (the SDK's rule, wire doc §1.10).
		if s.maxTTL == 0 || s.maxTTL-now.Sub(s.loggedIn) >= s.expiresIn {
			if a, err := renew(ctx, base, s.token); err == nil && a.AccessToken != "" {
				s.token, s.fetched = a.AccessToken, now
				s.expiresIn = time.Duration(a.ExpiresIn) * time.Second
				return s.token, nil
			}
		}
	}
	a, err := login(ctx, base, method, env)
	if err != nil {
		sess = nil
		return "", err
	}
	sess = &session{key: key, method: method, token: a.AccessToken, fetched: now, loggedIn: now,
		expiresIn: time.Duration(a.ExpiresIn) * time.Second, maxTTL: time.Duration(a.AccessTokenMaxTTL) * time.Second}
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

func renew(ctx context.Context, base, tok string) (loginAnswer, error) {
	var a loginAnswer
	err := send(ctx, "POST", base+"/v1/auth/token/renew", "", sdkjson.AppendStringMap(nil, map[string]string{"accessToken": tok}), a.decode, "renewing the access token")
	return a, err
}

// login performs the chosen method's login (wire doc §1.2–1.6).
func login(ctx context.Context, base string, method authMethod, env map[string]string) (loginAnswer, error) {
	var path string
	body := map[string]string{}
	switch method {
	case methodUniversal:
		path = "/v1/auth/universal-auth/login"
		body["clientId"], body["clientSecret"] = strings.TrimSpace(env[envUniversalID]), strings.TrimSpace(env[envUniversalSecret])
	case methodKubernetes:
		path = "/v1/auth/kubernetes-auth/login"
		jwt, ok := env[envK8sToken]
		if !ok || strings.TrimSpace(jwt) == "" {
			return loginAnswer{}, sdk.Errorf(sdk.CodeAuthFailed, "kubernetes-auth: the service-account token (%s, default %s) could not be read by the host", envK8sToken, defaultK8sTokenPath)
		}
		body["identityId"], body["jwt"] = strings.TrimSpace(env[envK8sIdentity]), strings.TrimSpace(jwt)
	case methodAWSIAM:
		path = "/v1/auth/aws-auth/login"
		for k, v := range awsLoginBody(env, clock()) {
			body[k] = v
		}
	case methodGCPIAM:
		path = "/v1/auth/gcp-auth/login"
		jwt, err := gcpIAMJWT(env, clock())
		if err != nil {
			return loginAnswer{}, err
		}
		body["identityId"], body["jwt"] = strings.TrimSpace(env[envGCPIdentity]), jwt
	case methodGCPIDToken:
		path = "/v1/auth/gcp-auth/login"
		jwt, err := gcpIDToken(ctx, env)
		if err != nil {
			return loginAnswer{}, err
		}
		body["identityId"], body["jwt"] = strings.TrimSpace(env[envGCPIdentity]), jwt
	case methodLDAP:
		path = "/v1/auth/ldap-auth/login"
		body["identityId"], body["username"], body["password"] = strings.TrimSpace(env[envLDAPIdentity]), env[envLDAPUser], env[envLDAPPassword]
	}
	if org := strings.TrimSpace(env[envOrgSlug]); org != "" {
		body["organizationSlug"] = org
	}
	var a loginAnswer
	err := send(ctx, "POST", base+path, "", sdkjson.AppendStringMap(nil, body), a.decode, string(method)+" login")
	if ue, ok := err.(*upstreamError); ok {
		if ue.status >= 500 || ue.status == 429 {
			return a, sdk.Errorf(sdk.CodeUnreachable, "%s login: %s", method, ue.describe())
		}
		return a, sdk.Errorf(sdk.CodeAuthFailed, "%s login failed: %s", method, ue.describe())
	}
	if err != nil {
		return a, err
	}
	if a.AccessToken == "" {
		return a, sdk.Errorf(sdk.CodeUnreachable, "%s login: Infisical answered without an access token", method)
	}
	return a, nil
}

// gcpIDToken fetches the instance's ID token for the identity from the GCP
// metadata server (wire doc §1.5).
func gcpIDToken(ctx context.Context, env map[string]string) (string, error) {
	base := strings.TrimRight(strings.TrimSpace(env[envGCPMetadata]), "/")
	if base == "" {
		base = defaultGCPMetadataURL
	}
	if !httpURL(base) {
		return "", sdk.Errorf(sdk.CodeAuthFailed, "gcp-id-token-auth: %s must be an absolute http(s) URL", envGCPMetadata)
	}
	u := base + "/computeMetadata/v1/instance/service-accounts/default/identity?audience=" +
		queryEscape(strings.TrimSpace(env[envGCPIdentity])) + "&format=full"
	resp, err := sdk.Fetch(ctx, sdk.HTTPRequest{URL: u, Header: map[string][]string{"Metadata-Flavor": {"Google"}, "User-Agent": {userAgent}}})
	if err != nil {
		return "", sdk.Errorf(sdk.CodeUnreachable, "gcp-id-token-auth: the GCP metadata server is unreachable: %v", err)
	}
	if resp.Status != 200 {
		return "", sdk.Errorf(sdk.CodeAuthFailed, "gcp-id-token-auth: the GCP metadata server answered HTTP %d", resp.Status)
	}
	return strings.TrimSpace(string(resp.Body)), nil
}

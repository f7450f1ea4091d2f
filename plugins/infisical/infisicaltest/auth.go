package infisicaltest

import (
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// tokenKey signs the emulator's JWT-shaped access tokens. Nothing verifies
// the signature (the SDK never decodes tokens); a fixed key keeps golden
// files reproducible.
var tokenKey = []byte("infisicaltest")

type tokenRecord struct {
	id            string
	identityID    string
	method        AuthMethod
	createdAt     time.Time
	lastRenewedAt time.Time
	ttl, maxTTL   time.Duration // 0: none
	period        time.Duration
	usesLimit     int
	uses          int
	revoked       bool
}

// issuedToken is one token string. Renewing issues a new string for the
// same record; older strings keep working until their own expiry.
type issuedToken struct {
	rec *tokenRecord
	exp time.Time // zero: never
}

// AddIdentity adds a machine identity or replaces the one with the same ID.
func (e *Emulator) AddIdentity(id Identity) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.identities[id.ID] = &identity{Identity: id, failures: map[AuthMethod]int{}, lockedUntil: map[AuthMethod]time.Time{}}
}

// SetAccess restricts what an identity may do in a project.
func (e *Emulator) SetAccess(identityID, projectID string, a Access) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.access[[2]string{identityID, projectID}] = a
}

// SetExpiredTokenStatus chooses how an expired access token is refused:
// 403 TokenError (the current server, the default) or 401
// UnauthorizedError (newer variants).
func (e *Emulator) SetExpiredTokenStatus(status int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.expiredTokenStatus = status
}

// ExpireTokens makes every token string issued to the identity expire now.
func (e *Emulator) ExpireTokens(identityID string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.clock.Now()
	for _, it := range e.tokens {
		if it.rec.identityID == identityID {
			it.exp = now
		}
	}
}

// ExpireToken makes one token string expire now. It reports whether the
// token was known.
func (e *Emulator) ExpireToken(token string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	it := e.tokens[token]
	if it != nil {
		it.exp = e.clock.Now()
	}
	return it != nil
}

// RevokeTokens revokes every token of the identity server-side; using one
// then answers 401 "No identity access token found".
func (e *Emulator) RevokeTokens(identityID string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, it := range e.tokens {
		if it.rec.identityID == identityID {
			it.rec.revoked = true
		}
	}
}

// IssueToken issues an access token for the identity without a login
// request (no counter moves), for tests that only need a token.
func (e *Emulator) IssueToken(identityID string) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	id := e.identities[identityID]
	if id == nil {
		return "", fmt.Errorf("no identity %q", identityID)
	}
	return e.issueLocked(id, AuthUniversal).AccessToken, nil
}

func resolveTTL(d time.Duration) time.Duration {
	switch {
	case d == 0:
		return defaultTokenTTL
	case d < 0:
		return 0
	}
	return d
}

func (e *Emulator) issueLocked(id *identity, method AuthMethod) wireLogin {
	now := e.clock.Now()
	rec := &tokenRecord{
		id: e.nextID(), identityID: id.ID, method: method, createdAt: now,
		ttl: resolveTTL(id.TTL), maxTTL: resolveTTL(id.MaxTTL), period: id.Period, usesLimit: id.NumUsesLimit,
	}
	tok := e.signLocked(rec, now)
	out := wireLogin{AccessToken: tok, ExpiresIn: int64(rec.ttl / time.Second), AccessTokenMaxTTL: int64(rec.maxTTL / time.Second), TokenType: "Bearer"}
	if rec.period > 0 {
		out.ExpiresIn, out.AccessTokenMaxTTL = int64(rec.period/time.Second), periodicMaxTTL
	}
	return out
}

// signLocked issues a new JWT-shaped string for rec, valid for one TTL (or
// period) from now.
func (e *Emulator) signLocked(rec *tokenRecord, now time.Time) string {
	life := rec.ttl
	if rec.period > 0 {
		life = rec.period
	}
	e.tokenSeq++
	claims := map[string]any{
		"identityId": rec.identityID, "identityAccessTokenId": rec.id,
		"authTokenType": "identityAccessToken", "iat": now.Unix(), "jti": fmt.Sprint(e.tokenSeq),
	}
	it := &issuedToken{rec: rec}
	if life > 0 {
		it.exp = now.Add(life)
		claims["exp"] = it.exp.Unix()
	}
	enc := base64.RawURLEncoding
	unsigned := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString(marshal(claims))
	mac := hmac.New(sha256.New, tokenKey)
	mac.Write([]byte(unsigned))
	tok := unsigned + "." + enc.EncodeToString(mac.Sum(nil))
	e.tokens[tok] = it
	return tok
}

// lookupTokenLocked applies the checks every use of a token goes through
// (wire doc 1.9), without counting a use.
func (e *Emulator) lookupTokenLocked(token string) (*issuedToken, *apiError) {
	it := e.tokens[token]
	if it == nil {
		if strings.Count(token, ".") != 2 {
			return nil, newAPIError(403, ErrNameToken, MsgTokenMalformed)
		}
		return nil, newAPIError(403, ErrNameToken, "invalid signature")
	}
	if !it.exp.IsZero() && !e.clock.Now().Before(it.exp) {
		if e.expiredTokenStatus == http.StatusUnauthorized {
			return nil, newAPIError(401, ErrNameUnauthorized, MsgTokenExpired)
		}
		return nil, newAPIError(403, ErrNameToken, MsgTokenExpired)
	}
	if it.rec.revoked {
		return nil, newAPIError(401, ErrNameUnauthorized, MsgTokenNotFound)
	}
	if it.rec.usesLimit > 0 && it.rec.uses >= it.rec.usesLimit {
		return nil, newAPIError(401, ErrNameUnauthorized, MsgUsesLimitReached)
	}
	return it, nil
}

// authenticate checks the bearer token of an authenticated route and
// counts one use of it (once per request, however often it is called).
func (e *Emulator) authenticate(c *call) *apiError {
	if c.tok != nil {
		return nil
	}
	if c.token == "" {
		return newAPIError(401, ErrNameUnauthorized, MsgTokenMissing)
	}
	it, err := e.lookupTokenLocked(c.token)
	if err != nil {
		return err
	}
	it.rec.uses++
	c.tok = it
	return nil
}

// decodeBody decodes a JSON request body the way Fastify and zod would
// answer a bad one: 400 for unparsable JSON, 422 for a wrong type.
func decodeBody(c *call, v any) *apiError {
	if len(c.body) == 0 {
		return newAPIError(400, "FST_ERR_CTP_EMPTY_JSON_BODY", "Body cannot be empty when content-type is set to 'application/json'")
	}
	// Which keys were sent at all, to tell "Required" from "too short".
	c.bodyKeys = map[string]bool{}
	var keys map[string]json.RawMessage
	if json.Unmarshal(c.body, &keys) == nil {
		for k, raw := range keys {
			c.bodyKeys[k] = string(raw) != "null"
		}
	}
	if err := json.Unmarshal(c.body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return validationError(zodIssue{Code: "invalid_type", Expected: te.Type.String(), Received: te.Value, Path: []string{te.Field}, Message: "Expected " + te.Type.String() + ", received " + te.Value})
		}
		return newAPIError(400, ErrNameBadRequest, "Body is not valid JSON but content-type is set to 'application/json'")
	}
	return nil
}

// required reports a 422 naming every missing ("Required") or empty (too
// short) field, in the order given, as zod does. Fields are {name, value}.
func (c *call) required(fields ...[2]string) *apiError {
	var issues []zodIssue
	for _, f := range fields {
		switch {
		case !c.present(f[0]):
			issues = append(issues, issueRequired(f[0]))
		case f[1] == "":
			issues = append(issues, issueTooShort(f[0]))
		}
	}
	if issues != nil {
		return validationError(issues...)
	}
	return nil
}

// present reports whether a field was sent: in the JSON body once one was
// decoded, else in the query.
func (c *call) present(name string) bool {
	if c.bodyKeys != nil {
		return c.bodyKeys[name]
	}
	_, ok := c.r.URL.Query()[name]
	return ok
}

// loginLocked finishes a login attempt for an identity: lockout, then the
// credential check result, then a token.
func (e *Emulator) loginLocked(id *identity, method AuthMethod, good bool, denied *apiError) (*response, *apiError) {
	now := e.clock.Now()
	if until, ok := id.lockedUntil[method]; ok && now.Before(until) {
		e.counts.LoginFailures++
		return nil, newAPIError(401, ErrNameUnauthorized, MsgAuthMethodLocked)
	}
	if !good {
		e.counts.LoginFailures++
		id.failures[method]++
		if id.LockoutAfter > 0 && id.failures[method] >= id.LockoutAfter {
			lock := id.LockoutFor
			if lock == 0 {
				lock = 300 * time.Second
			}
			id.lockedUntil[method] = now.Add(lock)
			id.failures[method] = 0
		}
		return nil, denied
	}
	id.failures[method] = 0
	delete(id.lockedUntil, method)
	e.counts.Logins[method]++
	return ok(e.issueLocked(id, method)), nil
}

func methodNotConfigured(kind string) *apiError {
	return newAPIError(404, ErrNameNotFound, kind+" auth method not found for identity, did you configure "+kind+" auth?")
}

func (e *Emulator) handleUniversalLogin(c *call) (*response, *apiError) {
	var req struct {
		ClientID         string `json:"clientId"`
		ClientSecret     string `json:"clientSecret"`
		OrganizationSlug string `json:"organizationSlug"`
	}
	if err := decodeBody(c, &req); err != nil {
		return nil, err
	}
	if err := c.required([2]string{"clientId", req.ClientID}, [2]string{"clientSecret", req.ClientSecret}); err != nil {
		return nil, err
	}
	invalid := newAPIError(401, ErrNameUnauthorized, MsgInvalidCredentials)
	for _, id := range e.identities {
		if id.Universal != nil && id.Universal.ClientID == req.ClientID {
			good := hmac.Equal([]byte(id.Universal.ClientSecret), []byte(req.ClientSecret))
			return e.loginLocked(id, AuthUniversal, good, invalid)
		}
	}
	e.counts.LoginFailures++
	return nil, invalid
}

// jwtLogin is the body shared by the Kubernetes and GCP logins.
type jwtLogin struct {
	IdentityID       string `json:"identityId"`
	JWT              string `json:"jwt"`
	OrganizationSlug string `json:"organizationSlug"`
}

func (e *Emulator) decodeJWTLogin(c *call) (jwtLogin, *apiError) {
	var req jwtLogin
	if err := decodeBody(c, &req); err != nil {
		return req, err
	}
	return req, c.required([2]string{"identityId", req.IdentityID}, [2]string{"jwt", req.JWT})
}

func (e *Emulator) handleKubernetesLogin(c *call) (*response, *apiError) {
	req, err := e.decodeJWTLogin(c)
	if err != nil {
		return nil, err
	}
	id := e.identities[req.IdentityID]
	if id == nil || id.Kubernetes == nil {
		e.counts.LoginFailures++
		return nil, methodNotConfigured("Kubernetes")
	}
	good := hmac.Equal([]byte(id.Kubernetes.JWT), []byte(req.JWT))
	return e.loginLocked(id, AuthKubernetes, good, newAPIError(401, ErrNameUnauthorized, "Access denied: failed to validate Kubernetes service account token"))
}

func (e *Emulator) handleGCPLogin(c *call) (*response, *apiError) {
	req, err := e.decodeJWTLogin(c)
	if err != nil {
		return nil, err
	}
	id := e.identities[req.IdentityID]
	if id == nil || id.GCP == nil {
		e.counts.LoginFailures++
		return nil, methodNotConfigured("GCP")
	}
	method, good := AuthGCPIDToken, false
	switch {
	case id.GCP.IDToken != "" && hmac.Equal([]byte(id.GCP.IDToken), []byte(req.JWT)):
		good = true
	case id.GCP.IAMJWT != "" && hmac.Equal([]byte(id.GCP.IAMJWT), []byte(req.JWT)):
		method, good = AuthGCPIAM, true
	case id.GCP.ServiceAccountEmail != "":
		method = AuthGCPIAM
		claims, cerr := jwtClaims(req.JWT)
		good = cerr == nil && claims.Sub == id.GCP.ServiceAccountEmail && claims.Aud == id.ID
		if good && id.GCP.ServiceAccountPublicKeyPEM != "" {
			good = verifyRS256(req.JWT, id.GCP.ServiceAccountPublicKeyPEM) == nil &&
				(claims.Exp == 0 || e.clock.Now().Unix() < claims.Exp)
		}
	}
	return e.loginLocked(id, method, good, newAPIError(401, ErrNameUnauthorized, "Access denied: failed to validate GCP identity token"))
}

func (e *Emulator) handleLDAPLogin(c *call) (*response, *apiError) {
	var req struct {
		IdentityID       string `json:"identityId"`
		Username         string `json:"username"`
		Password         string `json:"password"`
		OrganizationSlug string `json:"organizationSlug"`
	}
	if err := decodeBody(c, &req); err != nil {
		return nil, err
	}
	if err := c.required([2]string{"identityId", req.IdentityID}, [2]string{"username", req.Username}, [2]string{"password", req.Password}); err != nil {
		return nil, err
	}
	id := e.identities[req.IdentityID]
	if id == nil || id.LDAP == nil {
		e.counts.LoginFailures++
		return nil, methodNotConfigured("LDAP")
	}
	good := id.LDAP.Username == req.Username && hmac.Equal([]byte(id.LDAP.Password), []byte(req.Password))
	return e.loginLocked(id, AuthLDAP, good, newAPIError(401, ErrNameUnauthorized, MsgInvalidCredentials))
}

func (e *Emulator) handleAWSLogin(c *call) (*response, *apiError) {
	var req awsLogin
	if err := decodeBody(c, &req); err != nil {
		return nil, err
	}
	if err := c.required([2]string{"identityId", req.IdentityID}, [2]string{"iamHttpRequestMethod", req.Method},
		[2]string{"iamRequestBody", req.Body}, [2]string{"iamRequestHeaders", req.Headers}); err != nil {
		return nil, err
	}
	id := e.identities[req.IdentityID]
	if id == nil || id.AWS == nil {
		e.counts.LoginFailures++
		return nil, methodNotConfigured("AWS")
	}
	verr := verifyAWSLogin(req, *id.AWS)
	denied := (*apiError)(nil)
	if verr != nil {
		denied = newAPIError(401, ErrNameUnauthorized, "Access denied: "+verr.Error())
	}
	return e.loginLocked(id, AuthAWSIAM, verr == nil, denied)
}

func (e *Emulator) handleRenew(c *call) (*response, *apiError) {
	var req struct {
		AccessToken string `json:"accessToken"`
	}
	if err := decodeBody(c, &req); err != nil {
		return nil, err
	}
	if err := c.required([2]string{"accessToken", req.AccessToken}); err != nil {
		return nil, err
	}
	it, aerr := e.lookupTokenLocked(req.AccessToken)
	if aerr != nil {
		return nil, aerr
	}
	rec, now := it.rec, e.clock.Now()
	life := rec.ttl
	if rec.period > 0 {
		life = rec.period
	}
	last := rec.createdAt
	if !rec.lastRenewedAt.IsZero() {
		last = rec.lastRenewedAt
	}
	if life > 0 && now.After(last.Add(life)) {
		return nil, newAPIError(401, ErrNameUnauthorized, MsgRenewTTLExpired)
	}
	if rec.period == 0 && rec.maxTTL > 0 {
		end := rec.createdAt.Add(rec.maxTTL)
		if now.After(end) {
			rec.revoked = true // the server deletes the token row
			return nil, newAPIError(401, ErrNameUnauthorized, MsgRenewMaxTTLExpired)
		}
		if now.Add(life).After(end) {
			rec.revoked = true
			return nil, newAPIError(401, ErrNameUnauthorized, MsgRenewPastMaxTTL)
		}
	}
	rec.lastRenewedAt = now
	e.counts.TokenRenews++
	out := wireLogin{AccessToken: e.signLocked(rec, now), ExpiresIn: int64(life / time.Second), AccessTokenMaxTTL: int64(rec.maxTTL / time.Second), TokenType: "Bearer"}
	if rec.period > 0 {
		out.AccessTokenMaxTTL = periodicMaxTTL
	}
	return ok(out), nil
}

func (e *Emulator) handleRevoke(c *call) (*response, *apiError) {
	if err := e.authenticate(c); err != nil {
		return nil, err
	}
	var req struct {
		AccessToken string `json:"accessToken"`
	}
	if err := decodeBody(c, &req); err != nil {
		return nil, err
	}
	if err := c.required([2]string{"accessToken", req.AccessToken}); err != nil {
		return nil, err
	}
	it, aerr := e.lookupTokenLocked(req.AccessToken)
	if aerr != nil {
		return nil, aerr
	}
	it.rec.revoked = true
	e.counts.TokenRevokes++
	return ok(map[string]string{"message": MsgTokenRevoked}), nil
}

// handleGCPMetadata stands in for the GCP metadata server's identity
// endpoint: it hands out the ID token of the identity named by audience.
func (e *Emulator) handleGCPMetadata(c *call) (*response, *apiError) {
	if c.r.Header.Get("Metadata-Flavor") != "Google" {
		return &response{status: 403, raw: []byte("Missing Metadata-Flavor:Google header.\n"), header: http.Header{"Content-Type": {"text/html; charset=UTF-8"}}}, nil
	}
	aud := c.r.URL.Query().Get("audience")
	tok := ""
	if id := e.identities[aud]; id != nil && id.GCP != nil {
		tok = id.GCP.IDToken
	}
	if tok == "" {
		// A token for an audience nobody configured: well formed, never accepted.
		enc := base64.RawURLEncoding
		tok = enc.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc.EncodeToString(marshal(map[string]string{"aud": aud})) + ".unsigned"
	}
	return &response{status: 200, raw: []byte(tok), header: http.Header{"Content-Type": {"application/text"}}}, nil
}

type jwtClaimSet struct {
	Sub string `json:"sub"`
	Aud string `json:"aud"`
	Exp int64  `json:"exp"`
}

// verifyRS256 checks a JWT's RS256 signature against a PEM public key or
// certificate.
func verifyRS256(tok, keyPEM string) error {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return errors.New("not a JWT")
	}
	var header struct {
		Alg string `json:"alg"`
	}
	rawHeader, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil || json.Unmarshal(rawHeader, &header) != nil || header.Alg != "RS256" {
		return errors.New("JWT header is not RS256")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return errors.New("JWT signature is not base64url")
	}
	block, _ := pem.Decode([]byte(keyPEM))
	if block == nil {
		return errors.New("no PEM block in the service account key")
	}
	var pub any
	if block.Type == "CERTIFICATE" {
		cert, cerr := x509.ParseCertificate(block.Bytes)
		if cerr != nil {
			return cerr
		}
		pub = cert.PublicKey
	} else if pub, err = x509.ParsePKIXPublicKey(block.Bytes); err != nil {
		return err
	}
	rsaKey, ok := pub.(*rsa.PublicKey)
	if !ok {
		return errors.New("the service account key is not RSA")
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	return rsa.VerifyPKCS1v15(rsaKey, crypto.SHA256, digest[:], sig)
}

// jwtClaims decodes a JWT's claims without verifying it.
func jwtClaims(tok string) (jwtClaimSet, error) {
	var cl jwtClaimSet
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return cl, errors.New("not a JWT")
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return cl, fmt.Errorf("JWT claims: %w", err)
	}
	if err := json.Unmarshal(raw, &cl); err != nil {
		return cl, fmt.Errorf("JWT claims: %w", err)
	}
	return cl, nil
}

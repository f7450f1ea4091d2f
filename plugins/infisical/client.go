package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/agent-vault/agent-vault/sdk"
	"github.com/agent-vault/agent-vault/sdk/sdkjson"
)

const userAgent = "agent-vault-infisical"

// apiBase is INFISICAL_URL with "/api" appended unless it already ends
// with it, as the Infisical SDK does.
func apiBase(env map[string]string) (string, error) {
	raw := strings.TrimRight(strings.TrimSpace(env[envURL]), "/")
	if !httpURL(raw) {
		return "", sdk.Errorf(sdk.CodeInvalidStoreConfig, "%s must be an absolute http(s) URL", envURL)
	}
	if strings.HasSuffix(raw, "/api") {
		return raw, nil
	}
	return raw + "/api", nil
}

// apiError reads Infisical's error body (wire doc §0.2): its "error" and,
// when it is a string, its "message" (an array on 422). A body that is not
// such an object gives neither.
func apiError(body []byte) (name, message string) {
	var msg []byte
	err := decodeAnswer(body, members{
		{"error", str(&name)},
		{"message", func(r *sdkjson.Reader) (err error) { msg, err = r.Raw(); return err }},
	})
	if err != nil {
		return "", ""
	}
	if r := sdkjson.NewReader(msg); r.Next() == sdkjson.String {
		message, _ = r.String()
	}
	return name, message
}

// upstreamError is a non-2xx answer from Infisical.
type upstreamError struct {
	status  int
	name    string // the body's "error"
	message string // the body's "message" when it is a string
}

func (e *upstreamError) Error() string {
	return fmt.Sprintf("HTTP %d %s: %s", e.status, e.name, e.message)
}

// tokenError reports whether the answer means the access token itself was
// refused (expired, malformed, revoked): a fresh login may fix it.
func (e *upstreamError) tokenError() bool {
	return e.status == 401 || (e.status == 403 && e.name == "TokenError")
}

// describe is a short text for users: the status and Infisical's own
// explanation (which never carries a secret value), truncated.
func (e *upstreamError) describe() string {
	text := e.message
	// Some errors put the distinguishing text in "error" and a generic
	// one in "message" (wire doc §0.2).
	if e.name != "" && strings.Contains(e.name, " ") {
		text = e.name
	}
	if len(text) > 300 {
		text = text[:300] + "…"
	}
	if text == "" {
		return fmt.Sprintf("HTTP %d", e.status)
	}
	return fmt.Sprintf("HTTP %d: %s", e.status, text)
}

// send makes one request with an optional JSON body and hands a 2xx JSON
// answer to decode (when not nil). Non-2xx answers come back as
// *upstreamError; transport failures, non-JSON and malformed answers as
// CodeUnreachable errors. what names the operation in messages ("listing
// secrets").
//
// It uses sdk.Fetch, not net/http: linking http.Client (and with it
// http.Transport, TLS and x509) made the plugin megabytes larger, and the
// host pays for every byte of it on every start.
func send(ctx context.Context, method, u, token string, body []byte, decode func([]byte) error, what string) error {
	header := map[string][]string{"User-Agent": {userAgent}}
	if body != nil {
		header["Content-Type"] = []string{"application/json"}
	}
	if token != "" {
		header["Authorization"] = []string{"Bearer " + token}
	}
	resp, err := sdk.Fetch(ctx, sdk.HTTPRequest{Method: method, URL: u, Header: header, Body: body})
	if err != nil {
		// The host's message names the origin and the failure, never a body.
		return sdk.Errorf(sdk.CodeUnreachable, "%s: Infisical is unreachable: %v", what, err)
	}
	if resp.Status < 200 || resp.Status > 299 {
		ue := &upstreamError{status: resp.Status}
		ue.name, ue.message = apiError(resp.Body)
		return ue
	}
	if decode == nil {
		return nil
	}
	if ct := mediaType(resp.HeaderValue("Content-Type")); ct != "application/json" && !strings.HasSuffix(ct, "+json") {
		return sdk.Errorf(sdk.CodeUnreachable, "%s: Infisical answered HTTP %d with %q instead of JSON", what, resp.Status, ct)
	}
	if err := decode(resp.Body); err != nil {
		// The reader's messages name a position or a field, never content.
		return sdk.Errorf(sdk.CodeUnreachable, "%s: malformed answer from Infisical: %v", what, err)
	}
	return nil
}

// mediaType is the lower-cased "type/subtype" of a Content-Type value
// without its parameters, or "" when it is not of that form (what
// mime.ParseMediaType gives, without linking package mime).
func mediaType(v string) string {
	if i := strings.IndexByte(v, ';'); i >= 0 {
		v = v[:i]
	}
	v = strings.ToLower(strings.TrimSpace(v))
	typ, sub, ok := strings.Cut(v, "/")
	if !ok || !isToken(typ) || !isToken(sub) {
		return ""
	}
	return v
}

// isToken reports whether s is an RFC 9110 token.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return s != ""
}

// mapAPIError turns an upstream error of a data call (not a login) into a
// store code. Token errors reaching here survived one fresh login.
func mapAPIError(err error, what string) error {
	ue, ok := err.(*upstreamError)
	if !ok {
		return err
	}
	msg := what + ": " + ue.describe()
	switch {
	case ue.tokenError():
		return sdk.Errorf(sdk.CodeAuthFailed, "%s (the access token was refused after a fresh login)", msg)
	case ue.status == 403:
		return sdk.Errorf(sdk.CodeForbidden, "%s (the machine identity may not read this)", msg)
	case ue.status == 404:
		return sdk.Errorf(sdk.CodeNotFound, "%s", msg)
	case ue.status == 400 && strings.Contains(ue.message, "Invalid secret path"),
		ue.status == 400 && strings.Contains(ue.message, "Invalid folder name"):
		return sdk.Errorf(sdk.CodeInvalidStoreConfig, "%s", msg)
	default:
		return sdk.Errorf(sdk.CodeUnreachable, "%s", msg)
	}
}

// authed sends a data call with the cached token. On a token error it logs
// in again once and retries (expired tokens answer 403 TokenError, wire doc
// §1.9). Upstream errors are mapped to store codes.
func authed(ctx context.Context, env map[string]string, method, path string, body []byte, decode func([]byte) error, what string) error {
	return mapAPIError(authedRaw(ctx, env, method, path, body, decode, what), what)
}

// authedRaw is authed without the mapping: upstream answers come back as
// *upstreamError.
func authedRaw(ctx context.Context, env map[string]string, method, path string, body []byte, decode func([]byte) error, what string) error {
	base, err := apiBase(env)
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		tok, err := token(ctx, env, attempt > 0)
		if err != nil {
			return err
		}
		err = send(ctx, method, base+path, tok, body, decode, what)
		if ue, ok := err.(*upstreamError); ok && ue.tokenError() && attempt == 0 {
			forget(tok)
			continue
		}
		return err
	}
}

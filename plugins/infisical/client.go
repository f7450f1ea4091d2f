package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/agent-vault/agent-vault/sdk"
)

const userAgent = "agent-vault-infisical"

// apiBase is INFISICAL_URL with "/api" appended unless it already ends
// with it, as the Infisical SDK does.
func apiBase(env map[string]string) (string, error) {
	raw := strings.TrimRight(strings.TrimSpace(env[envURL]), "/")
	u, err := url.Parse(raw)
	if raw == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", sdk.Errorf(sdk.CodeInvalidStoreConfig, "%s must be an absolute http(s) URL", envURL)
	}
	if strings.HasSuffix(raw, "/api") {
		return raw, nil
	}
	return raw + "/api", nil
}

// apiError is Infisical's error body (wire doc §0.2). message is a string
// except on 422, where it is an array.
type apiError struct {
	Message json.RawMessage `json:"message"`
	Error   string          `json:"error"`
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

// send makes one request and decodes a 2xx JSON answer into out. Non-2xx
// answers come back as *upstreamError; transport failures, non-JSON and
// malformed answers as CodeUnreachable errors. what names the operation in
// messages ("listing secrets").
//
// It uses sdk.Fetch, not net/http: linking http.Client (and with it
// http.Transport, TLS and x509) made the plugin megabytes larger, and the
// host pays for every byte of it on every start.
func send(ctx context.Context, method, u, token string, in, out any, what string) error {
	if _, err := url.Parse(u); err != nil {
		return sdk.Errorf(sdk.CodeInvalidStoreConfig, "%s: %v", what, err)
	}
	header := map[string][]string{"User-Agent": {userAgent}}
	var body []byte
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return sdk.Errorf(sdk.CodeExternalStore, "%s: encoding the request: %v", what, err)
		}
		body = b
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
	raw := resp.Body
	if resp.Status < 200 || resp.Status > 299 {
		ue := &upstreamError{status: resp.Status}
		var ae apiError
		if json.Unmarshal(raw, &ae) == nil {
			ue.name = ae.Error
			_ = json.Unmarshal(ae.Message, &ue.message)
		}
		return ue
	}
	if out == nil {
		return nil
	}
	if ct := mediaType(resp.HeaderValue("Content-Type")); ct != "application/json" && !strings.HasSuffix(ct, "+json") {
		return sdk.Errorf(sdk.CodeUnreachable, "%s: Infisical answered HTTP %d with %q instead of JSON", what, resp.Status, ct)
	}
	if rb, ok := out.(*rawBody); ok {
		*rb = raw
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return sdk.Errorf(sdk.CodeUnreachable, "%s: malformed answer from Infisical: %v", what, jsonProblem(err))
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

// rawBody as send's out keeps a 2xx JSON answer undecoded.
type rawBody []byte

// jsonProblem describes a decoding error without quoting the input.
func jsonProblem(err error) string {
	switch e := err.(type) {
	case *json.SyntaxError:
		return fmt.Sprintf("invalid JSON at byte %d", e.Offset)
	case *json.UnmarshalTypeError:
		return fmt.Sprintf("field %q has the wrong type (%s)", e.Field, e.Value)
	}
	return "invalid JSON"
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
func authed(ctx context.Context, env map[string]string, method, path string, in, out any, what string) error {
	return mapAPIError(authedRaw(ctx, env, method, path, in, out, what), what)
}

// authedRaw is authed without the mapping: upstream answers come back as
// *upstreamError.
func authedRaw(ctx context.Context, env map[string]string, method, path string, in, out any, what string) error {
	base, err := apiBase(env)
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		tok, err := token(ctx, env, attempt > 0)
		if err != nil {
			return err
		}
		err = send(ctx, method, base+path, tok, in, out, what)
		if ue, ok := err.(*upstreamError); ok && ue.tokenError() && attempt == 0 {
			forget(tok)
			continue
		}
		return err
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/agent-vault/agent-vault/sdk"
	"github.com/agent-vault/agent-vault/sdk/sdkhttp"
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
	return e.status == http.StatusUnauthorized || (e.status == http.StatusForbidden && e.name == "TokenError")
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
func send(ctx context.Context, method, u, token string, header http.Header, in, out any, what string) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return sdk.Errorf(sdk.CodeExternalStore, "%s: encoding the request: %v", what, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return sdk.Errorf(sdk.CodeInvalidStoreConfig, "%s: %v", what, err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("User-Agent", userAgent)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := sdkhttp.Do(req)
	if err != nil {
		// The host's message names the origin and the failure, never a body.
		return sdk.Errorf(sdk.CodeUnreachable, "%s: Infisical is unreachable: %v", what, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return sdk.Errorf(sdk.CodeUnreachable, "%s: reading the answer: %v", what, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		ue := &upstreamError{status: resp.StatusCode}
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
	if ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); ct != "application/json" && !strings.HasSuffix(ct, "+json") {
		return sdk.Errorf(sdk.CodeUnreachable, "%s: Infisical answered HTTP %d with %q instead of JSON", what, resp.StatusCode, ct)
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
	case ue.status == http.StatusForbidden:
		return sdk.Errorf(sdk.CodeForbidden, "%s (the machine identity may not read this)", msg)
	case ue.status == http.StatusNotFound:
		return sdk.Errorf(sdk.CodeNotFound, "%s", msg)
	case ue.status == http.StatusBadRequest && strings.Contains(ue.message, "Invalid secret path"),
		ue.status == http.StatusBadRequest && strings.Contains(ue.message, "Invalid folder name"):
		return sdk.Errorf(sdk.CodeInvalidStoreConfig, "%s", msg)
	default:
		return sdk.Errorf(sdk.CodeUnreachable, "%s", msg)
	}
}

type rawAnswer struct {
	status int
	body   []byte
}

// doRaw sends req through the host and reads the whole answer.
func doRaw(req *http.Request) (rawAnswer, error) {
	req.Header.Set("User-Agent", userAgent)
	resp, err := sdkhttp.Do(req)
	if err != nil {
		return rawAnswer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return rawAnswer{status: resp.StatusCode, body: b}, err
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
		err = send(ctx, method, base+path, tok, nil, in, out, what)
		if ue, ok := err.(*upstreamError); ok && ue.tokenError() && attempt == 0 {
			forget(tok)
			continue
		}
		return err
	}
}

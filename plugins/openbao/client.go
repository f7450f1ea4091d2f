package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/agent-vault/agent-vault/sdk"
	"github.com/agent-vault/agent-vault/sdk/sdkjson"
)

const userAgent = "agent-vault-openbao"

// addr is OPENBAO_ADDR without a trailing slash.
func addr(env map[string]string) (string, error) {
	raw := strings.TrimRight(strings.TrimSpace(env[envAddr]), "/")
	if !httpURL(raw) {
		return "", sdk.Errorf(sdk.CodeInvalidStoreConfig, "%s must be an absolute http(s) URL", envAddr)
	}
	return raw, nil
}

func httpURL(s string) bool {
	rest, ok := strings.CutPrefix(s, "https://")
	if !ok {
		rest, ok = strings.CutPrefix(s, "http://")
	}
	return ok && rest != "" && !strings.ContainsAny(rest, " \t\r\n?#")
}

// upstreamError is a non-2xx answer from OpenBao (wire doc §1.3).
type upstreamError struct {
	status int
	errors []string // the body's "errors"
	// envelope is set when a 404 carried a success envelope instead
	// (a deleted KV v2 version, or a v1 path on a v2 mount).
	envelope bool
}

func (e *upstreamError) Error() string { return e.describe() }

// describe is a short text for users: the status and OpenBao's own
// messages (which never carry a secret value), truncated.
func (e *upstreamError) describe() string {
	text := strings.Join(e.errors, "; ")
	// Go multierror form: "1 error occurred:\n\t* permission denied\n\n".
	text = strings.Join(strings.Fields(strings.ReplaceAll(text, "\t* ", " ")), " ")
	if len(text) > 300 {
		text = text[:300] + "…"
	}
	if text == "" {
		return fmt.Sprintf("HTTP %d", e.status)
	}
	return fmt.Sprintf("HTTP %d: %s", e.status, text)
}

// says reports whether any error message contains substr.
func (e *upstreamError) says(substr string) bool {
	for _, m := range e.errors {
		if strings.Contains(m, substr) {
			return true
		}
	}
	return false
}

// call is one request to OpenBao.
type call struct {
	method    string
	path      string // after /v1/, e.g. "secret/data/app"
	token     string
	namespace string
	body      []byte
	what      string // names the operation in messages
}

// send makes one request and returns the 2xx body (nil for 204). Non-2xx
// answers come back as *upstreamError; transport failures as
// CodeUnreachable errors.
//
// It uses sdk.Fetch, not net/http: linking http.Client (and with it TLS
// and x509) makes the plugin megabytes larger, and the host pays for
// every byte on every start.
func send(ctx context.Context, env map[string]string, c call) ([]byte, error) {
	base, err := addr(env)
	if err != nil {
		return nil, err
	}
	header := map[string][]string{"User-Agent": {userAgent}, "X-Vault-Request": {"true"}}
	if c.body != nil {
		header["Content-Type"] = []string{"application/json"}
	}
	if c.token != "" {
		header["X-Vault-Token"] = []string{c.token}
	}
	if c.namespace != "" {
		header["X-Vault-Namespace"] = []string{c.namespace + "/"}
	}
	resp, err := sdk.Fetch(ctx, sdk.HTTPRequest{Method: c.method, URL: base + "/v1/" + c.path, Header: header, Body: c.body})
	if err != nil {
		// The host's message names the origin and the failure, never a body.
		return nil, sdk.Errorf(sdk.CodeUnreachable, "%s: OpenBao is unreachable: %v", c.what, err)
	}
	if resp.Status >= 200 && resp.Status <= 299 {
		return resp.Body, nil
	}
	ue := &upstreamError{status: resp.Status}
	ue.errors, ue.envelope = errorBody(resp.Body)
	return nil, ue
}

// errorBody reads {"errors": [...]}; envelope reports a body that is a
// success envelope instead (it has "data" or "warnings" and no "errors").
func errorBody(body []byte) (msgs []string, envelope bool) {
	hasErrors := false
	r := sdkjson.NewReader(body)
	if r.Next() != sdkjson.Object {
		return nil, false
	}
	err := r.Object(func(key []byte) error {
		switch string(key) {
		case "errors":
			hasErrors = true
			if r.Null() {
				return nil
			}
			return r.Array(func() error {
				if r.Next() != sdkjson.String {
					return r.Skip()
				}
				s, err := r.String()
				msgs = append(msgs, s)
				return err
			})
		case "data", "warnings":
			envelope = true
		}
		return r.Skip()
	})
	if err != nil {
		return nil, false
	}
	return msgs, envelope && !hasErrors
}

// malformed is the error for a 2xx answer that is not what the API
// documents. The reader's messages name a position, never content.
func malformed(what string, err error) error {
	return sdk.Errorf(sdk.CodeUnreachable, "%s: malformed answer from OpenBao: %v", what, err)
}

// jsonBody writes a flat object of string and integer members.
func jsonBody(kv ...any) []byte {
	b := []byte{'{'}
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b = append(b, ',')
		}
		b = sdkjson.AppendString(b, kv[i].(string))
		b = append(b, ':')
		switch v := kv[i+1].(type) {
		case string:
			b = sdkjson.AppendString(b, v)
		case int64:
			b = strconv.AppendInt(b, v, 10)
		case bool:
			b = strconv.AppendBool(b, v)
		}
	}
	return append(b, '}')
}

// escapePath escapes each segment of a slash-separated path for a URL.
func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = escapeSegment(s)
	}
	return strings.Join(segs, "/")
}

// escapeSegment is url.PathEscape without linking net/url.
func escapeSegment(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~!$&'()*+,;=:@", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

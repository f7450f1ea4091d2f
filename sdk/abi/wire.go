package abi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/agent-vault/agent-vault/sdk/sdkjson"
)

// Error is the error half of an envelope: a stable code and a message that
// is safe to show (it never contains a credential value).
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Envelope is what every export and the http_response import return: exactly
// one of OK (the JSON result) or Error.
type Envelope struct {
	OK    json.RawMessage `json:"ok,omitempty"`
	Error *Error          `json:"error,omitempty"`
}

// Request is the single input of every export that takes (ptr, len). Fields
// that an export does not use are omitted. Env holds only the variables the
// manifest declares, read by the host at call time.
type Request struct {
	Config json.RawMessage   `json:"config,omitempty"`
	Env    map[string]string `json:"env,omitempty"`
	// DeadlineUnixNano is the call's deadline, so the guest can give its own
	// context (and so its HTTP requests) the same deadline.
	DeadlineUnixNano int64 `json:"deadline_unix_nano,omitempty"`
	// Secrets: validate_write's proposed key → value changes.
	Secrets map[string]string `json:"secrets,omitempty"`
	// Name: lease_create's dynamic secret name.
	Name string `json:"name,omitempty"`
	// LeaseID: lease_renew's and lease_revoke's lease.
	LeaseID string `json:"lease_id,omitempty"`
}

// CheckResult is check's OK value: one display-safe line for the host's
// log, such as which identity or method the store logged in with.
type CheckResult struct {
	Summary string `json:"summary"`
}

// SyncResult is sync's OK value: the full snapshot of the store.
type SyncResult struct {
	Secrets map[string]string `json:"secrets"`
}

// DynamicSecret describes one dynamic secret a store can mint.
type DynamicSecret struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Fields are the credential keys a lease of this secret provides.
	Fields     []string `json:"fields"`
	TTLSeconds int64    `json:"ttl_seconds,omitempty"`
	Renewable  bool     `json:"renewable,omitempty"`
}

// DynamicListResult is dynamic_list's OK value.
type DynamicListResult struct {
	Secrets []DynamicSecret `json:"secrets"`
}

// Lease is lease_create's and lease_renew's OK value. lease_renew may leave
// Values empty: the values of a lease do not change when it is renewed.
type Lease struct {
	LeaseID    string            `json:"lease_id"`
	Values     map[string]string `json:"values,omitempty"`
	TTLSeconds int64             `json:"ttl_seconds"`
	Renewable  bool              `json:"renewable,omitempty"`
}

// Empty is the OK value of probe, validate_config, validate_write and
// lease_revoke.
type Empty struct{}

// EnvVar is an instance-level environment variable a plugin needs.
type EnvVar struct {
	Name        string `json:"name"`
	Required    bool   `json:"required,omitempty"`
	Description string `json:"description,omitempty"`
	// Default is used when the variable is unset or empty.
	Default string `json:"default,omitempty"`
	// File: the value is a path on the host; the host reads the file (at
	// most MaxEnvFileBytes) and passes its content instead, because plugins
	// have no file system. A path that was set but cannot be read is
	// passed as "" (so the plugin can tell it from unset) and the host logs
	// why; an unreadable Default path is passed as if unset.
	File bool `json:"file,omitempty"`
	// Fallback lists other names for the same setting, read in order when
	// Name is unset or empty (e.g. VAULT_ADDR for OPENBAO_ADDR). The value
	// reaches the plugin under Name. Each is requested like Name: the
	// operator grants it by its own name.
	Fallback []string `json:"fallback,omitempty"`
}

// Names returns Name followed by the Fallback names, in lookup order.
func (e EnvVar) Names() []string {
	return append([]string{e.Name}, e.Fallback...)
}

// Lookup returns the first non-empty value among e's names, in order, and
// the name it came from; readable(name) false skips a name (one the
// plugin was not granted). It returns "", "" when none is set.
func (e EnvVar) Lookup(getenv func(string) string, readable func(string) bool) (value, from string) {
	for _, n := range e.Names() {
		if readable != nil && !readable(n) {
			continue
		}
		if v := getenv(n); v != "" {
			return v, n
		}
	}
	return "", ""
}

// Manifest describes a plugin. The host reads it once at load.
type Manifest struct {
	Kind        string  `json:"kind"`
	ABIVersion  int     `json:"abi_version"`
	Version     string  `json:"version,omitempty"`
	Description string  `json:"description,omitempty"`
	Features    Feature `json:"features"`
	// ConfigSchema is the JSON Schema (an object schema) of the per-vault
	// configuration.
	ConfigSchema json.RawMessage `json:"config_schema"`
	// Env lists the instance-level environment variables the plugin may
	// receive. The host passes these, and no others, at call time.
	Env []EnvVar `json:"env,omitempty"`
	// HTTPOrigins are origins (scheme://host[:port]) the plugin may reach.
	HTTPOrigins []string `json:"http_origins,omitempty"`
	// HTTPOriginsEnv names a declared env var whose value (a comma-separated
	// list of origins or URLs) the operator sets; its origins are granted
	// too, and are exempt from the private-range guard.
	HTTPOriginsEnv string `json:"http_origins_env,omitempty"`
}

// HTTPRequest is the descriptor the guest passes to http_request.
type HTTPRequest struct {
	Method string              `json:"method"`
	URL    string              `json:"url"`
	Header map[string][]string `json:"header,omitempty"`
	Body   []byte              `json:"body,omitempty"`
	// RawBody asks the host to keep the response body out of the
	// envelope: the envelope carries BodyLen and the guest reads the bytes
	// with http_body. It spares the guest decoding megabytes of base64
	// inside JSON.
	RawBody bool `json:"raw_body,omitempty"`
}

// HTTPResponse is the OK value of the http_response envelope.
type HTTPResponse struct {
	Status int                 `json:"status"`
	Header map[string][]string `json:"header,omitempty"`
	Body   []byte              `json:"body,omitempty"`
	// BodyLen is the length of the body waiting for http_body, set (and
	// Body left empty) when the request asked for RawBody.
	BodyLen int `json:"body_len,omitempty"`
}

// decodeStrict decodes exactly one JSON value into v, refusing unknown
// fields and trailing data.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after JSON value")
	}
	return nil
}

// DecodeEnvelope decodes an export result. It returns the OK payload, or the
// guest's error, or a decoding error when the envelope is malformed (not
// exactly one of ok/error, a malformed code, invalid UTF-8). Messages longer
// than MaxMessageBytes are cut.
func DecodeEnvelope(data []byte) (ok json.RawMessage, guestErr *Error, err error) {
	if !utf8.Valid(data) {
		return nil, nil, errors.New("envelope is not valid UTF-8")
	}
	var env Envelope
	if err := decodeStrict(data, &env); err != nil {
		return nil, nil, fmt.Errorf("envelope: %w", err)
	}
	switch {
	case env.OK != nil && env.Error != nil:
		return nil, nil, errors.New("envelope has both ok and error")
	case env.Error != nil:
		if !ValidCode(env.Error.Code) {
			return nil, nil, fmt.Errorf("envelope error code %q must match %s", truncate(env.Error.Code, 80), codePattern)
		}
		env.Error.Message = truncate(env.Error.Message, MaxMessageBytes)
		return nil, env.Error, nil
	case env.OK != nil:
		return env.OK, nil, nil
	}
	return nil, nil, errors.New("envelope has neither ok nor error")
}

// EncodeOK encodes v as an OK envelope.
func EncodeOK(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return json.Marshal(Envelope{OK: raw})
}

// EncodeError encodes an error envelope. It cannot fail. It writes what
// json.Marshal writes, without reflection: guests call it, and a guest
// that does not link encoding/json is a megabyte smaller.
func EncodeError(code, message string) []byte {
	message = truncate(message, MaxMessageBytes)
	b := make([]byte, 0, len(code)+len(message)+40)
	b = append(b, `{"error":{"code":`...)
	b = sdkjson.AppendString(b, code)
	b = append(b, `,"message":`...)
	b = sdkjson.AppendString(b, message)
	return append(b, "}}"...)
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// Truncate cuts s to at most n bytes without splitting a rune.
func Truncate(s string, n int) string { return truncate(s, n) }

// DecodeManifest decodes and validates a manifest strictly. A manifest
// declaring another ABI version is refused with an error wrapping
// ErrABIMismatch.
func DecodeManifest(data []byte) (*Manifest, error) {
	if len(data) > MaxManifestBytes {
		return nil, fmt.Errorf("manifest is %d bytes; the limit is %d", len(data), MaxManifestBytes)
	}
	var m Manifest
	if err := decodeStrict(data, &m); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// ErrABIMismatch marks an ABI major version mismatch.
var ErrABIMismatch = errors.New("ABI version mismatch")

// Validate checks every manifest rule that ABI.md states.
func (m *Manifest) Validate() error {
	if !validKind(m.Kind) {
		return fmt.Errorf("manifest: kind %q must match %s", truncate(m.Kind, 80), kindPattern)
	}
	if m.ABIVersion != Version {
		return fmt.Errorf("%w: host supports %d, plugin declares %d", ErrABIMismatch, Version, m.ABIVersion)
	}
	if len(m.ConfigSchema) == 0 {
		return errors.New("manifest: config_schema is required")
	}
	var schema map[string]json.RawMessage
	if err := json.Unmarshal(m.ConfigSchema, &schema); err != nil || schema == nil {
		return errors.New("manifest: config_schema must be a JSON object")
	}
	if string(schema["type"]) != `"object"` {
		return errors.New(`manifest: config_schema must have "type": "object"`)
	}
	seen := map[string]bool{}
	for _, e := range m.Env {
		if !validEnvName(e.Name) {
			return fmt.Errorf("manifest: env name %q must match %s", truncate(e.Name, 80), envPattern)
		}
		if seen[e.Name] {
			return fmt.Errorf("manifest: env %q declared twice", e.Name)
		}
		seen[e.Name] = true
	}
	// Fallback names after every Name, so a fallback that is also an
	// entry's Name is caught whatever the order.
	fallback := map[string]bool{}
	for _, e := range m.Env {
		for _, f := range e.Fallback {
			if !validEnvName(f) {
				return fmt.Errorf("manifest: env %s: fallback name %q must match %s", e.Name, truncate(f, 80), envPattern)
			}
			if seen[f] || fallback[f] {
				return fmt.Errorf("manifest: env %s: fallback %q is declared twice", e.Name, f)
			}
			fallback[f] = true
		}
	}
	for _, o := range m.HTTPOrigins {
		if _, err := ParseOrigin(o); err != nil {
			return fmt.Errorf("manifest: http_origins: %w", err)
		}
	}
	if m.HTTPOriginsEnv != "" && !seen[m.HTTPOriginsEnv] {
		return fmt.Errorf("manifest: http_origins_env %q is not declared in env", m.HTTPOriginsEnv)
	}
	return nil
}

// ParseOrigin parses "scheme://host[:port]" (a trailing "/" or a path is
// tolerated and dropped, so an operator may set a base URL) and returns the
// canonical origin "scheme://host:port" with the default port made explicit
// and the host lower-cased.
func ParseOrigin(s string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return "", fmt.Errorf("origin %q: %v", truncate(s, 200), err)
	}
	return OriginOf(u)
}

// OriginOf returns the canonical origin of an absolute http(s) URL.
func OriginOf(u *url.URL) (string, error) {
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", fmt.Errorf("origin %q: scheme must be http or https", truncate(u.String(), 200))
	}
	if u.User != nil {
		return "", fmt.Errorf("origin %q: user info is not allowed", u.Redacted())
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return "", fmt.Errorf("origin %q: host is required", truncate(u.String(), 200))
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[scheme]
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return scheme + "://" + host + ":" + port, nil
}

var methods = map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true}

// forbiddenHeaders are set by the host's HTTP client only.
var forbiddenHeaders = map[string]bool{"host": true, "content-length": true, "transfer-encoding": true, "connection": true, "upgrade": true, "proxy-authorization": true, "te": true, "trailer": true}

// DecodeHTTPRequest decodes and validates a guest's HTTP request descriptor.
// It returns the request and its canonical origin.
func DecodeHTTPRequest(data []byte) (*HTTPRequest, string, error) {
	if len(data) > MaxHTTPRequestBytes {
		return nil, "", fmt.Errorf("request descriptor is %d bytes; the limit is %d", len(data), MaxHTTPRequestBytes)
	}
	var r HTTPRequest
	if err := decodeStrict(data, &r); err != nil {
		return nil, "", fmt.Errorf("request descriptor: %w", err)
	}
	if !methods[r.Method] {
		return nil, "", fmt.Errorf("method %q is not one of GET, HEAD, POST, PUT, PATCH, DELETE", truncate(r.Method, 40))
	}
	u, err := url.Parse(r.URL)
	if err != nil {
		return nil, "", fmt.Errorf("url: %v", err)
	}
	if !u.IsAbs() {
		return nil, "", errors.New("url must be absolute")
	}
	origin, err := OriginOf(u)
	if err != nil {
		return nil, "", err
	}
	n := 0
	for k, vs := range r.Header {
		if !validToken(k) {
			return nil, "", fmt.Errorf("header name %q is not a token", truncate(k, 80))
		}
		if forbiddenHeaders[strings.ToLower(k)] {
			return nil, "", fmt.Errorf("header %q is set by the host", k)
		}
		for _, v := range vs {
			if strings.ContainsAny(v, "\r\n\x00") {
				return nil, "", fmt.Errorf("header %q has a control character", k)
			}
		}
		n += len(vs)
	}
	if n > MaxHTTPHeaders {
		return nil, "", fmt.Errorf("%d header values; the limit is %d", n, MaxHTTPHeaders)
	}
	return &r, origin, nil
}

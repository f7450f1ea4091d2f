// Package sdk is the guest library for Agent Vault store plugins.
//
// A plugin is a `package main` with an empty main that registers a Store in
// init and is built with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -o kind.wasm .
//
// The SDK emits every export of sdk/ABI.md and turns them into calls on the
// registered Store. Optional capabilities are separate interfaces (Syncer,
// Writer, DynamicSecrets) found by type assertion and declared in the
// manifest as feature bits. Plugin code makes HTTP requests through the
// host, which decides which origins are reachable: with the ordinary
// *http.Client from sdkhttp.Client, or with Fetch, which keeps net/http
// out of the plugin so that it stays small and loads fast.
//
// Outside wasm (GOOS != wasip1) the same API works natively, so plugin logic
// can be unit-tested with `go test`: Fetch (and so sdkhttp.Client) then
// sends requests directly and logs go to stderr.
package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"

	"github.com/agent-vault/agent-vault/sdk/abi"
	"github.com/agent-vault/agent-vault/sdk/sdkjson"
)

// Store is what every plugin implements.
type Store interface {
	// Manifest describes the plugin. The SDK fills in the ABI version and
	// the feature bits from the optional interfaces the Store implements.
	Manifest() Manifest
	// ValidateConfig checks a per-vault config without any I/O. Return
	// an error with CodeInvalidStoreConfig (DecodeConfig does) when invalid.
	ValidateConfig(ctx context.Context, config json.RawMessage) error
	// Probe checks that the store is reachable with this config and env:
	// return CodeUnreachable, CodeAuthFailed, CodeForbidden, CodeNotFound or
	// CodeInvalidStoreConfig errors.
	Probe(ctx context.Context, req Request) error
}

// Checker is implemented by stores that can verify their instance-level
// settings without a vault (feature "check"): the host calls Check once at
// start and logs the summary, or the error, which never stops the server.
type Checker interface {
	Check(ctx context.Context, req Request) (summary string, err error)
}

// Syncer is implemented by external stores the host polls (feature "polls").
type Syncer interface {
	// Sync returns the full snapshot of key → value. The host validates
	// every key (^[A-Z][A-Z0-9_]*$); one bad key fails the whole sync.
	Sync(ctx context.Context, req Request) (map[string]string, error)
}

// Writer is implemented by stores that accept local writes (feature
// "writable"). The host holds and seals the values; the plugin only judges.
type Writer interface {
	ValidateWrite(ctx context.Context, req Request, secrets map[string]string) error
}

// DynamicSecrets is implemented by stores that mint short-lived credentials
// (feature "dynamic_secrets").
type DynamicSecrets interface {
	ListDynamic(ctx context.Context, req Request) ([]DynamicSecret, error)
	LeaseCreate(ctx context.Context, req Request, name string) (Lease, error)
	LeaseRenew(ctx context.Context, req Request, leaseID string) (Lease, error)
	// LeaseRevoke returns CodeLeaseNotFound for an unknown lease.
	LeaseRevoke(ctx context.Context, req Request, leaseID string) error
}

// Request is the input of a store operation: the vault's config and the
// instance-level environment variables the manifest declares, as set when
// the host made the call.
type Request struct {
	Config json.RawMessage
	Env    map[string]string
}

// Manifest is what a plugin declares about itself.
type Manifest struct {
	Kind         string          // ^[a-z][a-z0-9_-]{0,31}$
	Version      string          // the plugin's own version, free-form
	Description  string          // one line, shown to operators
	ConfigSchema json.RawMessage // JSON Schema of the per-vault config; "type": "object"
	Env          []EnvVar        // instance-level environment variables it needs
	HTTPOrigins  []string        // fixed origins it may reach
	// HTTPOriginsEnv names an Env entry whose value (comma-separated origins
	// or base URLs, set by the operator) grants more origins.
	HTTPOriginsEnv string
}

// Types shared with the host.
type (
	EnvVar        = abi.EnvVar
	DynamicSecret = abi.DynamicSecret
	Lease         = abi.Lease
)

// Error codes a plugin returns; the host passes them through to the API.
const (
	CodeInvalidStoreConfig = abi.CodeInvalidStoreConfig
	CodeUnreachable        = abi.CodeUnreachable
	CodeAuthFailed         = abi.CodeAuthFailed
	CodeNotFound           = abi.CodeNotFound
	CodeForbidden          = abi.CodeForbidden
	CodeInvalidKey         = abi.CodeInvalidKey
	CodeExternalStore      = abi.CodeExternalStore
	CodeInvalidCredKey     = abi.CodeInvalidCredKey
	CodeValueTooLarge      = abi.CodeValueTooLarge
	CodeCredentialNotFound = abi.CodeCredentialNotFound
	CodeLeaseNotFound      = abi.CodeLeaseNotFound
	CodeNotImplemented     = abi.CodeNotImplemented
)

// Error is a failure with a stable code. Its message is shown to users:
// never put a credential value in it.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf builds an *Error.
func Errorf(code, format string, args ...any) error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// DecodeConfig decodes a per-vault config strictly (unknown fields are
// errors) into v, returning CodeInvalidStoreConfig errors.
func DecodeConfig(raw json.RawMessage, v any) error {
	if len(raw) == 0 {
		raw = json.RawMessage("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return Errorf(CodeInvalidStoreConfig, "config: %v", err)
	}
	if dec.More() {
		return Errorf(CodeInvalidStoreConfig, "config: trailing data")
	}
	return nil
}

// DecodeStringConfig decodes a per-vault config that is a JSON object of
// string fields, strictly (an unknown field is an error), into the strings
// that fields names, returning CodeInvalidStoreConfig errors. Keys match
// field names regardless of case and null leaves a field alone, as with
// DecodeConfig; an empty config is {}.
//
// Unlike DecodeConfig it needs no reflection, so a plugin that uses it and
// not encoding/json does not link encoding/json (about a megabyte of wasm
// that the host loads on every start).
func DecodeStringConfig(raw json.RawMessage, fields map[string]*string) error {
	if len(raw) == 0 {
		return nil
	}
	r := sdkjson.NewReader(raw)
	if r.Null() {
		return configError(r.End())
	}
	if r.Next() != sdkjson.Object {
		if err := r.Skip(); err != nil {
			return configError(err)
		}
		return &Error{Code: CodeInvalidStoreConfig, Message: "config: must be a JSON object"}
	}
	err := r.Object(func(key []byte) error {
		name, p := string(key), fields[string(key)]
		if p == nil { // as encoding/json: an exact match first, then folded
			for n, q := range fields {
				if sdkjson.EqualFold(key, n) {
					name, p = n, q
					break
				}
			}
		}
		if p == nil {
			return &Error{Code: CodeInvalidStoreConfig, Message: "config: unknown field " + strconv.Quote(sdkjson.Text(key))}
		}
		if k := r.Next(); k != sdkjson.String && k != sdkjson.Null {
			if err := r.Skip(); err != nil {
				return err
			}
			return &Error{Code: CodeInvalidStoreConfig, Message: "config: " + name + " must be a string"}
		}
		v, err := r.StringOrNull(*p)
		*p = v
		return err
	})
	if err == nil {
		err = r.End()
	}
	return configError(err)
}

// configError gives a config decoding failure CodeInvalidStoreConfig.
func configError(err error) error {
	if _, ok := err.(*Error); ok || err == nil {
		return err
	}
	return &Error{Code: CodeInvalidStoreConfig, Message: "config: " + err.Error()}
}

var (
	regMu      sync.Mutex
	registered Store
)

// Register installs the plugin's Store. Call it once, from init.
func Register(s Store) {
	regMu.Lock()
	defer regMu.Unlock()
	if registered != nil {
		panic("sdk.Register called twice")
	}
	registered = s
}

func store() Store {
	regMu.Lock()
	defer regMu.Unlock()
	return registered
}

// features derives the manifest's feature bits from the Store's type.
func features(s Store) abi.Feature {
	var f abi.Feature
	if _, ok := s.(Writer); ok {
		f |= abi.FeatureWritable
	}
	if _, ok := s.(Syncer); ok {
		f |= abi.FeaturePolls
	}
	if _, ok := s.(DynamicSecrets); ok {
		f |= abi.FeatureDynamicSecrets
	}
	if _, ok := s.(Checker); ok {
		f |= abi.FeatureCheck
	}
	return f
}

// errorEnvelope encodes err, keeping its code when it has one the host
// accepts; HTTP-capability failures become CodeUnreachable.
func errorEnvelope(err error) []byte {
	if e, ok := find[*Error](err); ok && abi.IsGuestCode(e.Code) {
		return abi.EncodeError(e.Code, e.Message)
	}
	if _, ok := find[*HTTPError](err); ok {
		return abi.EncodeError(CodeUnreachable, err.Error())
	}
	return abi.EncodeError(CodeExternalStore, err.Error())
}

// find is errors.As for one concrete error type, without the reflection
// errors.As uses (internal/reflectlite is some 35 KB of wasm): the first
// error in err's tree that is a T, or whose As method takes a *T.
func find[T error](err error) (T, bool) {
	var zero T
	for err != nil {
		if t, ok := err.(T); ok {
			return t, true
		}
		if x, ok := err.(interface{ As(any) bool }); ok {
			var t T
			if x.As(&t) {
				return t, true
			}
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if t, ok := find[T](e); ok {
					return t, true
				}
			}
			return zero, false
		default:
			return zero, false
		}
	}
	return zero, false
}

// StrictConfig implements Store.ValidateConfig by decoding the config
// strictly into a T. Embed it: `type store struct{ sdk.StrictConfig[config] }`.
type StrictConfig[T any] struct{}

// ValidateConfig decodes raw into a T with DecodeConfig.
func (StrictConfig[T]) ValidateConfig(_ context.Context, raw json.RawMessage) error {
	var v T
	return DecodeConfig(raw, &v)
}

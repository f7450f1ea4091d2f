package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/sdk/abi"
	"github.com/agent-vault/agent-vault/sdk/golden"
)

// fakeStore implements every optional interface; err, when set, is what
// each operation returns.
type fakeStore struct{ err error }

func (fakeStore) Manifest() Manifest {
	return Manifest{Kind: "fake", Version: "1.2.3", Description: "test store",
		ConfigSchema: json.RawMessage(`{"type":"object","properties":{"url":{"type":"string"}},"additionalProperties":false}`),
		Env:          []EnvVar{{Name: "FAKE_URL", Required: true, Description: "where"}}, HTTPOriginsEnv: "FAKE_URL"}
}

type fakeConfig struct {
	URL string `json:"url"`
}

func (fakeStore) ValidateConfig(_ context.Context, raw json.RawMessage) error {
	return DecodeConfig(raw, &fakeConfig{})
}
func (s fakeStore) Probe(ctx context.Context, req Request) error {
	if _, ok := ctx.Deadline(); !ok {
		return errors.New("no deadline")
	}
	return s.err
}
func (s fakeStore) Sync(_ context.Context, req Request) (map[string]string, error) {
	return map[string]string{"URL": req.Env["FAKE_URL"]}, s.err
}
func (s fakeStore) ValidateWrite(context.Context, Request, map[string]string) error { return s.err }
func (s fakeStore) ListDynamic(context.Context, Request) ([]DynamicSecret, error) {
	return nil, s.err
}
func (s fakeStore) LeaseCreate(_ context.Context, _ Request, name string) (Lease, error) {
	return Lease{LeaseID: "l-" + name, Values: map[string]string{"U": "v"}, TTLSeconds: 30}, s.err
}
func (s fakeStore) LeaseRenew(_ context.Context, _ Request, id string) (Lease, error) {
	return Lease{LeaseID: id, TTLSeconds: 60}, s.err
}
func (s fakeStore) LeaseRevoke(context.Context, Request, string) error { return s.err }
func (s fakeStore) Check(_ context.Context, req Request) (string, error) {
	return "reached " + req.Env["FAKE_URL"], s.err
}

// minimalStore implements only Store.
type minimalStore struct{}

func (minimalStore) Manifest() Manifest { return Manifest{Kind: "min"} }
func (minimalStore) ValidateConfig(context.Context, json.RawMessage) error {
	return nil
}
func (minimalStore) Probe(context.Context, Request) error { return nil }

func withStore(t *testing.T, s Store) {
	regMu.Lock()
	old := registered
	registered = s
	regMu.Unlock()
	t.Cleanup(func() { regMu.Lock(); registered = old; regMu.Unlock() })
}

func TestHandle(t *testing.T) {
	in := `{"config":{"url":"x"},"env":{"FAKE_URL":"https://a"},"deadline_unix_nano":4102444800000000000,"name":"db","lease_id":"l-1"}`
	tests := []struct {
		name   string
		store  Store
		export string
		in     string
		want   string
	}{
		{name: "validate-config-ok", store: fakeStore{}, export: abi.ExportValidateConfig, in: in, want: `{"ok":{}}`},
		{name: "validate-config-unknown-field", store: fakeStore{}, export: abi.ExportValidateConfig, in: `{"config":{"nope":1}}`,
			want: `{"error":{"code":"invalid_store_config","message":"config: json: unknown field \"nope\""}}`},
		{name: "probe-sees-deadline", store: fakeStore{}, export: abi.ExportProbe, in: in, want: `{"ok":{}}`},
		{name: "check-ok", store: fakeStore{}, export: abi.ExportCheck, in: `{"env":{"FAKE_URL":"https://a"}}`, want: `{"ok":{"summary":"reached https://a"}}`},
		{name: "check-error", store: fakeStore{err: Errorf(CodeAuthFailed, "login refused")}, export: abi.ExportCheck, in: in,
			want: `{"error":{"code":"external_store_auth_failed","message":"login refused"}}`},
		{name: "coded-error", store: fakeStore{err: Errorf(CodeAuthFailed, "token rejected")}, export: abi.ExportProbe, in: in,
			want: `{"error":{"code":"external_store_auth_failed","message":"token rejected"}}`},
		{name: "uncoded-error", store: fakeStore{err: errors.New("boom")}, export: abi.ExportSync, in: in,
			want: `{"error":{"code":"external_credential_store","message":"boom"}}`},
		{name: "code-not-for-guests", store: fakeStore{err: Errorf("unauthorized", "x")}, export: abi.ExportSync, in: in,
			want: `{"error":{"code":"external_credential_store","message":"unauthorized: x"}}`},
		{name: "http-error", store: fakeStore{err: &HTTPError{Code: abi.CodeHTTPOriginDenied, Message: "origin https://x:443 is not granted"}}, export: abi.ExportSync, in: in,
			want: `{"error":{"code":"external_store_unreachable","message":"http_origin_denied: origin https://x:443 is not granted"}}`},
		{name: "sync", store: fakeStore{}, export: abi.ExportSync, in: in, want: `{"ok":{"secrets":{"URL":"https://a"}}}`},
		{name: "dynamic-list-empty", store: fakeStore{}, export: abi.ExportDynamicList, in: in, want: `{"ok":{"secrets":[]}}`},
		{name: "lease-create", store: fakeStore{}, export: abi.ExportLeaseCreate, in: in, want: `{"ok":{"lease_id":"l-db","values":{"U":"v"},"ttl_seconds":30}}`},
		{name: "lease-renew", store: fakeStore{}, export: abi.ExportLeaseRenew, in: in, want: `{"ok":{"lease_id":"l-1","ttl_seconds":60}}`},
		{name: "lease-revoke", store: fakeStore{}, export: abi.ExportLeaseRevoke, in: in, want: `{"ok":{}}`},
		{name: "validate-write", store: fakeStore{}, export: abi.ExportValidateWrite, in: in, want: `{"ok":{}}`},
		{name: "sync-not-implemented", store: minimalStore{}, export: abi.ExportSync, in: in,
			want: `{"error":{"code":"not_implemented","message":"this plugin does not implement sync"}}`},
		{name: "lease-not-implemented", store: minimalStore{}, export: abi.ExportLeaseCreate, in: in,
			want: `{"error":{"code":"not_implemented","message":"this plugin does not implement lease_create"}}`},
		{name: "bad-request", store: fakeStore{}, export: abi.ExportProbe, in: `{`,
			want: `{"error":{"code":"invalid_store_config","message":"request: invalid JSON at byte 1: unexpected end"}}`},
		{name: "no-store", store: nil, export: abi.ExportProbe, in: in,
			want: `{"error":{"code":"not_implemented","message":"no store registered"}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			withStore(t, tc.store)
			if got := string(handle(tc.export, []byte(tc.in))); got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestManifestEnvelope(t *testing.T) {
	withStore(t, fakeStore{})
	b := manifestEnvelope()
	ok, gerr, err := abi.DecodeEnvelope(b)
	if err != nil || gerr != nil {
		t.Fatal(err, gerr)
	}
	m, err := abi.DecodeManifest(ok)
	if err != nil {
		t.Fatal(err)
	}
	if m.Features != abi.KnownFeatures {
		t.Fatalf("features = %#x, want every bit", uint32(m.Features))
	}
	golden.Check(t, "manifest", append(b, '\n'))
}

func TestFeatures(t *testing.T) {
	if got := features(minimalStore{}); got != 0 {
		t.Fatalf("minimal: %#x", uint32(got))
	}
	if got := features(fakeStore{}); got != abi.FeatureWritable|abi.FeaturePolls|abi.FeatureDynamicSecrets|abi.FeatureCheck {
		t.Fatalf("fake: %#x", uint32(got))
	}
}

func TestLazyDeadline(t *testing.T) {
	past := &lazyDeadline{Context: context.Background(), deadline: time.Unix(1, 0)}
	if d, ok := past.Deadline(); !ok || !d.Equal(time.Unix(1, 0)) {
		t.Fatalf("Deadline = %v, %v", d, ok)
	}
	<-past.Done() // already past: closed once armed
	if !errors.Is(past.Err(), context.DeadlineExceeded) {
		t.Fatalf("Err = %v", past.Err())
	}
	past.cancel()

	// Err needs no timer.
	expired := &lazyDeadline{Context: context.Background(), deadline: time.Now().Add(-time.Second)}
	if !errors.Is(expired.Err(), context.DeadlineExceeded) || expired.stop != nil {
		t.Fatalf("expired: Err = %v, armed %v", expired.Err(), expired.stop != nil)
	}
	live := &lazyDeadline{Context: context.Background(), deadline: time.Now().Add(time.Hour)}
	if live.Err() != nil || live.stop != nil {
		t.Fatalf("live: Err = %v, armed %v", live.Err(), live.stop != nil)
	}

	unused := &lazyDeadline{Context: context.Background(), deadline: time.Now().Add(time.Hour)}
	unused.cancel()
	if unused.stop != nil {
		t.Fatal("a context nobody waited on armed a timer")
	}
}

func TestRegisterTwicePanics(t *testing.T) {
	withStore(t, nil)
	Register(minimalStore{})
	defer func() {
		if r := recover(); r != "sdk.Register called twice" {
			t.Fatalf("recover = %v", r)
		}
	}()
	Register(minimalStore{})
}

// asHTTPError claims to be an *HTTPError through its As method.
type asHTTPError struct{}

func (asHTTPError) Error() string { return "as" }
func (asHTTPError) As(target any) bool {
	if p, ok := target.(**HTTPError); ok {
		*p = &HTTPError{Code: "http_failed", Message: "via As"}
		return true
	}
	return false
}

// find agrees with errors.As on every shape of error tree.
func TestFind(t *testing.T) {
	coded := &Error{Code: CodeAuthFailed, Message: "m"}
	tests := []error{
		nil,
		errors.New("plain"),
		coded,
		fmt.Errorf("wrapped: %w", coded),
		fmt.Errorf("twice: %w", fmt.Errorf("once: %w", coded)),
		errors.Join(errors.New("a"), fmt.Errorf("b: %w", coded)),
		fmt.Errorf("multi: %w %w", errors.New("x"), &HTTPError{Code: "http_timeout"}),
		asHTTPError{},
		fmt.Errorf("wrapped: %w", asHTTPError{}),
	}
	for _, err := range tests {
		var want *Error
		wantOK := errors.As(err, &want)
		got, ok := find[*Error](err)
		if ok != wantOK || got != want {
			t.Errorf("find[*Error](%v) = %v, %v; errors.As %v, %v", err, got, ok, want, wantOK)
		}
		var wantH *HTTPError
		wantHOK := errors.As(err, &wantH)
		gotH, okH := find[*HTTPError](err)
		if okH != wantHOK || (gotH == nil) != (wantH == nil) || gotH != nil && *gotH != *wantH {
			t.Errorf("find[*HTTPError](%v) = %v, %v; errors.As %v, %v", err, gotH, okH, wantH, wantHOK)
		}
	}
}

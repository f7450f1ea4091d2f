// Command httpjson is the example third-party store plugin, the template to
// copy. It reads credentials from a small JSON HTTP API with a bearer token:
//
//	GET    {base_url}/secrets             → {"KEY": "value", ...}
//	GET    {base_url}/dynamic             → [{"name", "fields", "ttl_seconds", "renewable"}]
//	POST   {base_url}/leases {"name"}     → {"lease_id", "values", "ttl_seconds", "renewable"}
//	POST   {base_url}/leases/{id}/renew   → {"lease_id", "ttl_seconds", "renewable"}
//	DELETE {base_url}/leases/{id}         → 204
//
// It is read-only and polled (Syncer) and mints dynamic secrets
// (DynamicSecrets). The operator grants its origins with HTTPJSON_ORIGINS
// and sets the token in HTTPJSON_TOKEN; both reach the plugin at call time.
package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/agent-vault/agent-vault/sdk"
	"github.com/agent-vault/agent-vault/sdk/sdkhttp"
)

func main() {}

func init() { sdk.Register(store{}) }

type store struct{}

type config struct {
	BaseURL string `json:"base_url"`
}

func (store) Manifest() sdk.Manifest {
	return sdk.Manifest{
		Kind:        "httpjson",
		Version:     "0.1.0",
		Description: "Example: credentials from a JSON HTTP API with a bearer token.",
		ConfigSchema: json.RawMessage(`{"type":"object","required":["base_url"],"additionalProperties":false,
			"properties":{"base_url":{"type":"string","format":"uri","description":"Base URL of the API, e.g. https://secrets.example.com/v1"}}}`),
		Env: []sdk.EnvVar{
			{Name: "HTTPJSON_ORIGINS", Required: true, Description: "Comma-separated origins the plugin may reach."},
			{Name: "HTTPJSON_TOKEN", Description: "Bearer token sent to the API."},
		},
		HTTPOriginsEnv: "HTTPJSON_ORIGINS",
	}
}

func (store) ValidateConfig(_ context.Context, raw json.RawMessage) error {
	_, err := parseConfig(raw)
	return err
}

func parseConfig(raw json.RawMessage) (config, error) {
	var c config
	if err := sdk.DecodeConfig(raw, &c); err != nil {
		return c, err
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return c, sdk.Errorf(sdk.CodeInvalidStoreConfig, "base_url must be an absolute http(s) URL")
	}
	c.BaseURL = strings.TrimSuffix(c.BaseURL, "/")
	return c, nil
}

func (s store) Probe(ctx context.Context, req sdk.Request) error {
	return s.do(ctx, req, http.MethodGet, "/secrets", nil, nil)
}

func (s store) Sync(ctx context.Context, req sdk.Request) (map[string]string, error) {
	var out map[string]string
	return out, s.do(ctx, req, http.MethodGet, "/secrets", nil, &out)
}

func (s store) ListDynamic(ctx context.Context, req sdk.Request) ([]sdk.DynamicSecret, error) {
	var out []sdk.DynamicSecret
	return out, s.do(ctx, req, http.MethodGet, "/dynamic", nil, &out)
}

func (s store) LeaseCreate(ctx context.Context, req sdk.Request, name string) (sdk.Lease, error) {
	var out sdk.Lease
	err := s.do(ctx, req, http.MethodPost, "/leases", map[string]string{"name": name}, &out)
	if e, ok := err.(*sdk.Error); ok && e.Code == sdk.CodeNotFound {
		return out, sdk.Errorf(sdk.CodeCredentialNotFound, "no dynamic secret %q", name)
	}
	return out, err
}

func (s store) LeaseRenew(ctx context.Context, req sdk.Request, id string) (sdk.Lease, error) {
	var out sdk.Lease
	err := s.do(ctx, req, http.MethodPost, "/leases/"+url.PathEscape(id)+"/renew", nil, &out)
	if e, ok := err.(*sdk.Error); ok && e.Code == sdk.CodeNotFound {
		return out, sdk.Errorf(sdk.CodeLeaseNotFound, "lease %q does not exist", id)
	}
	return out, err
}

func (s store) LeaseRevoke(ctx context.Context, req sdk.Request, id string) error {
	err := s.do(ctx, req, http.MethodDelete, "/leases/"+url.PathEscape(id), nil, nil)
	if e, ok := err.(*sdk.Error); ok && e.Code == sdk.CodeNotFound {
		return sdk.Errorf(sdk.CodeLeaseNotFound, "lease %q does not exist", id)
	}
	return err
}

// do sends one request and decodes a JSON answer into out (when non-nil).
// Errors carry store codes; messages never include the token or a body.
func (s store) do(ctx context.Context, req sdk.Request, method, path string, in, out any) error {
	c, err := parseConfig(req.Config)
	if err != nil {
		return err
	}
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = strings.NewReader(string(b))
	}
	hreq, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, body)
	if err != nil {
		return sdk.Errorf(sdk.CodeInvalidStoreConfig, "base_url: %v", err)
	}
	if tok := req.Env["HTTPJSON_TOKEN"]; tok != "" {
		hreq.Header.Set("Authorization", "Bearer "+tok)
	}
	hreq.Header.Set("Accept", "application/json")
	// sdkhttp.Do instead of sdkhttp.Client().Do keeps the module ~5 MB
	// smaller; both go through the host's scoped HTTP capability. A plugin
	// that must load fast calls sdk.Fetch, without net/http (4.0 MB for
	// this one; see the SDK's README, "Loading fast").
	resp, err := sdkhttp.Do(hreq)
	if err != nil {
		return sdk.Errorf(sdk.CodeUnreachable, "%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if err := sdkhttp.CheckStatus(resp); err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return sdk.Errorf(sdk.CodeExternalStore, "%s %s: malformed JSON answer", method, path)
	}
	return nil
}

// Interface guards
var (
	_ sdk.Store          = store{}
	_ sdk.Syncer         = store{}
	_ sdk.DynamicSecrets = store{}
)

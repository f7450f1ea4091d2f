package plugin

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// TestHTTPBody_throughGuest drives http_body from a WAT guest: probe returns
// the raw body the host kept aside (the upstream serves an envelope, so the
// guest's result shows which bytes arrived).
func TestHTTPBody_throughGuest(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(r.URL.Query().Get("b")))
	}))
	t.Cleanup(up.Close)
	rt := newTestRuntime(t, func(c *Config) {
		c.Env = envMap(map[string]string{"HTTPBODY_ORIGINS": up.URL})
	})
	p := rt.load(t, "limits/httpbody")
	ctx := context.Background()
	notFound := `{"error":{"code":"external_store_not_found","message":"raw bytes arrived"}}`
	tests := []struct {
		name, body string
		raw        bool
		want       string
	}{
		{name: "raw", body: notFound, raw: true,
			want: `external_store_not_found|guest|plugin "httpbody": export "probe": raw bytes arrived`},
		{name: "raw-empty", body: "", raw: true},
		// Without raw_body the body stays in the envelope: nothing pending.
		{name: "inline", body: notFound, raw: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			desc, _ := json.Marshal(map[string]any{"method": "GET", "url": up.URL + "/?b=" + urlQuery(tc.body), "raw_body": tc.raw})
			if got := errString(p.Probe(ctx, desc)); got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// TestHTTPBody_badPointer: a pending body copied to an out-of-range pointer
// traps that call, naming the import, and the plugin keeps serving.
func TestHTTPBody_badPointer(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"ok":{}}`)) }))
	t.Cleanup(up.Close)
	rt := newTestRuntime(t, func(c *Config) {
		c.Env = envMap(map[string]string{"HTTPBODY_ORIGINS": up.URL})
	})
	p := rt.load(t, "limits/httpbody")
	desc := json.RawMessage(`{"method":"GET","url":"` + up.URL + `/","raw_body":true}`)
	err := p.ValidateConfig(context.Background(), desc)
	want := `plugin_trap|trap|plugin "httpbody": export "validate_config": trapped: http_body: range [2147483632, 2147483641) is outside memory of 131072 bytes (recovered by wazero)`
	if got := errString(err); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if err := p.Probe(context.Background(), desc); err != nil {
		t.Fatalf("after the trap: %v", err)
	}
}

func urlQuery(s string) string {
	return (&url.URL{RawQuery: url.Values{"b": {s}}.Encode()}).RawQuery[2:]
}

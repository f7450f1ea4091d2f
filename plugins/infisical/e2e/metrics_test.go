package e2e

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/agent-vault/agent-vault/plugins/infisical/infisicaltest"
)

// TestMetrics drives a scripted mix through the real binary (proxied
// requests injected, passed through and refused, CONNECT tunnels, a
// dynamic-secret lease, manual syncs that succeed and fail, a failed
// sign-in), then scrapes GET /metrics on the API port and on
// --metrics-addr and checks exact values, and that no label or sample
// carries a path, a token or a credential value.
func TestMetrics(t *testing.T) {
	emu := infisicaltest.New(t)
	emu.AddIdentity(infisicaltest.Identity{ID: "id-1", Universal: &infisicaltest.UniversalAuth{ClientID: "cid", ClientSecret: "csecret"}})
	const staticValue = "static-value-3f9a1c"
	emu.SetSecrets("p-1", "dev", "/billing", map[string]string{"API_KEY": staticValue})
	emu.AddDynamicSecret("p-1", "dev", "/billing", infisicaltest.DynamicSecret{Name: "db-postgres", DefaultTTL: time.Hour,
		Template: map[string]any{"username": "leaseuser-{seq}", "password": "leasepass-{seq}"}})

	u := newUpstream(t)     // credentials go here
	other := newUpstream(t) // no service: passed through
	tlsUp := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "tls ok") }))
	t.Cleanup(tlsUp.Close)
	dir := newDataDir(t)
	caFile := filepath.Join(t.TempDir(), "upstream-ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsUp.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(infisicalEnv(emu), "AGENT_VAULT_UPSTREAM_CA_FILE="+caFile, "AGENT_VAULT_METRICS_ADDR=127.0.0.1:0")
	srv := startServer(t, dir, env)
	c := register(t, srv)
	c.Must("POST", "/v1/vaults", map[string]any{"name": "billing", "credential_store": storeSpec("p-1", "dev", "/billing", 3600)}, 201, nil)
	c.Must("PUT", "/v1/vaults/billing/services", map[string]any{"services": []map[string]any{
		{"name": "api", "host": u.Host() + "/api*", "auth": map[string]string{"type": "bearer", "token": "API_KEY"}},
		{"name": "db", "host": u.Host() + "/db*", "auth": map[string]string{"type": "basic", "username": "DB_POSTGRES_USERNAME", "password": "DB_POSTGRES_PASSWORD"}},
	}}, 200, nil)

	a := newAgent(t, c, srv, "billing", u)
	const secretPath = "/api/charges/ch_secretpath_77"
	for _, p := range []string{secretPath, "/api/b", "/api/c", "/db/1", "/db/2"} {
		a.Target = u.Srv.URL + p
		a.MustGet()
	}
	a.Target = other.Srv.URL + "/passthrough/path"
	a.MustGet()
	// A bad proxy token: 407, counted without a vault.
	badURL, _ := url.Parse("http://av_scp_not-a-token:billing@" + srv.Proxy)
	bad := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(badURL)}, Timeout: 30 * time.Second}
	resp, err := bad.Get(u.Srv.URL + "/api/x")
	if err != nil || resp.StatusCode != http.StatusProxyAuthRequired {
		t.Fatalf("bad token: %v %v", resp, err)
	}
	resp.Body.Close()
	// Two CONNECT tunnels to one TLS host: one leaf minted, one served
	// from the cache.
	status, caPEM := c.Do("GET", "/v1/mitm/ca.pem", nil)
	if status != 200 {
		t.Fatalf("CA: %d", status)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	proxyURL := a.Client.Transport.(*http.Transport).Proxy
	for range 2 {
		tc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{Proxy: proxyURL, DisableKeepAlives: true,
			TLSClientConfig: &tls.Config{RootCAs: roots}}}
		resp, err := tc.Get(tlsUp.URL + "/tls")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "tls ok" {
			t.Fatalf("through a tunnel: %d %q", resp.StatusCode, b)
		}
	}
	// One good manual sync, one failed.
	c.Must("POST", "/v1/vaults/billing/sync", nil, 200, nil)
	emu.Inject(infisicaltest.RouteListSecrets, infisicaltest.Status(500).OnQuery("secretPath", "/billing"))
	if p := c.Problem("POST", "/v1/vaults/billing/sync", nil); p.Status < 400 {
		t.Fatalf("sync under a fault: %+v", p)
	}
	emu.ClearFaults()
	// A failed sign-in.
	if p := (&client{T: t, API: srv.API}).Problem("POST", "/v1/auth/login", map[string]string{"email": "owner@example.com", "password": "wrong-password"}); p.Status != 401 {
		t.Fatalf("wrong password: %+v", p)
	}

	status, body := c.Do("GET", "/metrics", nil)
	if status != 200 {
		t.Fatalf("GET /metrics as the owner: %d %s", status, body)
	}
	fams := parseExposition(t, body)
	exact := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"agent_vault_proxy_requests_total", map[string]string{"vault": "billing", "service": "api", "method": "read", "status_class": "2xx", "outcome": "injected"}, 3},
		{"agent_vault_proxy_requests_total", map[string]string{"vault": "billing", "service": "db", "method": "read", "status_class": "2xx", "outcome": "injected"}, 2},
		{"agent_vault_proxy_requests_total", map[string]string{"vault": "billing", "service": "", "method": "read", "status_class": "2xx", "outcome": "passthrough"}, 3},
		{"agent_vault_proxy_requests_total", map[string]string{"vault": "", "service": "", "method": "read", "status_class": "4xx", "outcome": "auth_required"}, 1},
		{"agent_vault_proxy_request_duration_seconds", map[string]string{"vault": "billing"}, 8},
		{"agent_vault_proxy_added_duration_seconds", map[string]string{"vault": "billing"}, 8},
		{"agent_vault_tls_leaf_mints_total", nil, 1},
		{"agent_vault_tls_leaf_cache_hits_total", nil, 1},
		{"agent_vault_store_syncs_total", map[string]string{"vault": "billing", "kind": "infisical", "outcome": "ok"}, 1},
		{"agent_vault_store_syncs_total", map[string]string{"vault": "billing", "kind": "infisical", "outcome": "error"}, 1},
		{"agent_vault_store_sync_duration_seconds", map[string]string{"kind": "infisical"}, 2},
		{"agent_vault_store_lease_events_total", map[string]string{"vault": "billing", "kind": "infisical", "event": "minted"}, 1},
		{"agent_vault_store_leases_active", map[string]string{"vault": "billing"}, 1},
		{"agent_vault_plugin_calls_total", map[string]string{"plugin": "infisical", "export": "lease_create", "result": "ok"}, 1},
		{"agent_vault_plugin_calls_total", map[string]string{"plugin": "infisical", "export": "sync", "result": "error"}, 1},
		{"agent_vault_login_failures_total", nil, 1},
		{"agent_vault_request_log_dropped_total", nil, 0},
	}
	for _, e := range exact {
		if got := sample(fams, e.name, e.labels); got != e.want {
			t.Errorf("%s%v = %v, want %v", e.name, e.labels, got, e.want)
		}
	}
	// Every forwarded request went on a dialled or a pooled connection.
	dials, reused := sample(fams, "agent_vault_proxy_upstream_dials_total", nil), sample(fams, "agent_vault_proxy_upstream_reused_total", nil)
	if dials < 3 || dials+reused != 8 {
		t.Errorf("upstream dials %v + reused %v, want 8 requests on at least 3 connections (three upstreams)", dials, reused)
	}
	if age := sample(fams, "agent_vault_store_last_good_sync_age_seconds", map[string]string{"vault": "billing", "kind": "infisical"}); age < 0 || age > 600 {
		t.Errorf("last good sync age %v s", age)
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "agent_vault_build_info"} {
		if sample(fams, name, nil) <= 0 {
			t.Errorf("%s missing", name)
		}
	}

	t.Run("no-path-token-or-value-in-labels", func(t *testing.T) {
		var sess struct {
			Token string `json:"token"`
		}
		c.Must("POST", "/v1/sessions", map[string]string{"vault": "billing"}, 201, &sess)
		forbidden := []string{staticValue, "leaseuser-1", "leasepass-1", "owner-password", "wrong-password", "csecret",
			c.Token, sess.Token, proxyToken(t, a), secretPath, "ch_secretpath_77", "/passthrough/path", u.Host(), other.Host()}
		for _, f := range forbidden {
			if f != "" && bytes.Contains(body, []byte(f)) {
				t.Errorf("the exposition contains %q", f)
			}
		}
		tokenish := regexp.MustCompile(`av_[a-z]+_`)
		for _, mf := range fams {
			if !strings.HasPrefix(mf.GetName(), "agent_vault_") {
				continue
			}
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					v := l.GetValue()
					if strings.ContainsAny(v, "/:@?") || tokenish.MatchString(v) {
						t.Errorf("%s{%s=%q}: a label value that looks like a path, address or token", mf.GetName(), l.GetName(), v)
					}
				}
			}
		}
	})

	t.Run("metrics-addr-without-auth", func(t *testing.T) {
		m := regexp.MustCompile(`serving metrics without authentication.*address=(http://\S+/metrics)`).FindStringSubmatch(srv.Logs.String())
		if m == nil {
			t.Fatalf("no metrics address logged:\n%s", srv.Logs)
		}
		resp, err := http.Get(m[1])
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || sample(parseExposition(t, b), "agent_vault_store_syncs_total", map[string]string{"vault": "billing", "outcome": "ok"}) != 1 {
			t.Fatalf("metrics address: %d\n%.500s", resp.StatusCode, b)
		}
	})

	t.Run("api-port-needs-an-owner", func(t *testing.T) {
		if status, _ := (&client{T: t, API: srv.API}).Do("GET", "/metrics", nil); status != 401 {
			t.Fatalf("without a token: %d", status)
		}
		var sess struct {
			Token string `json:"token"`
		}
		c.Must("POST", "/v1/sessions", map[string]string{"vault": "billing"}, 201, &sess)
		if status, _ := (&client{T: t, API: srv.API, Token: sess.Token}).Do("GET", "/metrics", nil); status != 403 {
			t.Fatalf("with a scoped session: %d", status)
		}
	})
}

// proxyToken is the scoped session token in the agent's proxy URL.
func proxyToken(t *testing.T, a *agent) string {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://example.test/", nil)
	u, err := a.Client.Transport.(*http.Transport).Proxy(req)
	if err != nil || u.User == nil || u.User.Username() == "" {
		t.Fatalf("agent proxy URL: %v %v", u, err)
	}
	return u.User.Username()
}

func parseExposition(t *testing.T, b []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("parsing the exposition: %v\n%.2000s", err, b)
	}
	return fams
}

// sample is the value of name's sample whose labels include want (a
// histogram's count); -1 when there is none.
func sample(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	mf := fams[name]
	if mf == nil {
		return -1
	}
	for _, m := range mf.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		ok := true
		for k, v := range want {
			ok = ok && got[k] == v
		}
		if !ok {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		case m.Untyped != nil:
			return m.Untyped.GetValue()
		}
	}
	return -1
}

//go:build !wasip1

package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/agent-vault/agent-vault/host/plugin"
	"github.com/agent-vault/agent-vault/sdk/conformance"
)

// fakeAPI is the JSON API the example reads. The first path segment picks
// a behaviour: /ok, /badkeys, /slow, /forbidden (403), /missing (404).
type fakeAPI struct {
	mu     sync.Mutex
	leases map[string]bool
	next   int
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer t0k" {
		http.Error(w, "bad token", http.StatusUnauthorized)
		return
	}
	mode, path, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	path = "/" + path
	switch mode {
	case "slow":
		<-r.Context().Done()
		return
	case "forbidden":
		http.Error(w, "no", http.StatusForbidden)
		return
	case "missing":
		http.NotFound(w, r)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case path == "/secrets" && mode == "badkeys":
		fmt.Fprint(w, `{"GOOD":"x","bad-key":"y"}`)
	case path == "/secrets":
		fmt.Fprint(w, `{"API_KEY":"k1","DB_PASSWORD":"p1"}`)
	case path == "/dynamic":
		fmt.Fprint(w, `[{"name":"db","fields":["DB_USER","DB_PASS"],"ttl_seconds":60,"renewable":true}]`)
	case path == "/leases" && r.Method == http.MethodPost:
		var in struct{ Name string }
		json.NewDecoder(r.Body).Decode(&in)
		if in.Name != "db" {
			http.NotFound(w, r)
			return
		}
		f.next++
		id := fmt.Sprintf("lease-%d", f.next)
		f.leases[id] = true
		fmt.Fprintf(w, `{"lease_id":%q,"values":{"DB_USER":"u","DB_PASS":"p"},"ttl_seconds":60,"renewable":true}`, id)
	case strings.HasSuffix(path, "/renew") && r.Method == http.MethodPost:
		id := strings.TrimSuffix(strings.TrimPrefix(path, "/leases/"), "/renew")
		if !f.leases[id] {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, `{"lease_id":%q,"ttl_seconds":120,"renewable":true}`, id)
	case strings.HasPrefix(path, "/leases/") && r.Method == http.MethodDelete:
		id := strings.TrimPrefix(path, "/leases/")
		if !f.leases[id] {
			http.NotFound(w, r)
			return
		}
		delete(f.leases, id)
		w.WriteHeader(http.StatusNoContent)
	default:
		http.NotFound(w, r)
	}
}

func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the plugin")
	}
	api := httptest.NewServer(&fakeAPI{leases: map[string]bool{}})
	defer api.Close()
	cfg := func(mode string) json.RawMessage {
		return json.RawMessage(`{"base_url":"` + api.URL + "/" + mode + `"}`)
	}
	conformance.Run(t, conformance.Build(t, "."), conformance.Options{
		Env:    map[string]string{"HTTPJSON_ORIGINS": api.URL, "HTTPJSON_TOKEN": "t0k"},
		Config: cfg("ok"),
		InvalidConfigs: map[string]json.RawMessage{
			"missing_base_url": json.RawMessage(`{}`),
			"not_http":         json.RawMessage(`{"base_url":"ftp://x"}`),
		},
		ProbeErrors: []conformance.ProbeCase{
			{Name: "auth_failed", Env: map[string]string{"HTTPJSON_TOKEN": "wrong"}, WantCode: "external_store_auth_failed"},
			{Name: "forbidden", Config: cfg("forbidden"), WantCode: "external_store_forbidden"},
			{Name: "not_found", Config: cfg("missing"), WantCode: "external_store_not_found"},
			{Name: "origin_not_granted", Config: json.RawMessage(`{"base_url":"https://example.invalid"}`), WantCode: "external_store_unreachable"},
		},
		WantSecrets:  map[string]string{"API_KEY": "k1", "DB_PASSWORD": "p1"},
		BadKeyConfig: cfg("badkeys"),
		SlowConfig:   cfg("slow"),
		// What an operator writes in the grants file for this plugin.
		Grants: map[string]plugin.Grant{"httpjson": {
			Env:         []string{"HTTPJSON_ORIGINS", "HTTPJSON_TOKEN"},
			HTTPOrigins: []string{api.URL},
		}},
	})
}

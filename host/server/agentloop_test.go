package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/host/proxy"
	"github.com/agent-vault/agent-vault/host/store"
)

// startHarnessIn is startHarness with a data directory the test keeps, so
// it can read the database after the server stopped (the request-log
// writer drains on shutdown).
func startHarnessIn(t *testing.T, dataDir string) (*harness, func() string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &lockedWriter{w: &strings.Builder{}}
	ready := make(chan [2]string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{
			Host: "127.0.0.1", Port: 0, MITMPort: AnyPort, DataDir: dataDir, AllowPrivateRanges: true,
			Getenv: func(string) string { return "" },
			Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
			Ready:  func(a, p string) { ready <- [2]string{a, p} },
			// The request-log load test sends thousands of requests a
			// second through one token, more than the default rate limits
			// allow; those are tested in host/proxy.
			ProxyRateLimits: proxy.RateLimits{PerActor: -1, PerVault: -1},
		})
	}()
	var addrs [2]string
	select {
	case addrs = <-ready:
	case err := <-done:
		t.Fatalf("server stopped: %v", err)
	case <-time.After(90 * time.Second): // the first start compiles the store plugins
		t.Fatal("server did not start")
	}
	h := &harness{t: t, api: "http://" + addrs[0], proxy: addrs[1]}
	var once sync.Once
	h.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("server: %v", err)
			}
		})
	}
	t.Cleanup(h.stop)
	var reg struct{ Token string }
	h.call("POST", "/v1/auth/register", map[string]string{"email": "o@example.com", "password": "password1"}, &reg)
	h.token = reg.Token
	return h, func() string {
		logs.mu.Lock()
		defer logs.mu.Unlock()
		return logs.w.(*strings.Builder).String()
	}
}

// as runs fn with the harness calling the API as token.
func (h *harness) as(token string, fn func()) {
	saved := h.token
	h.token = token
	defer func() { h.token = saved }()
	fn()
}

// agentSetup creates a vault with the given unmatched-host policy and an
// agent holding the member role in it, and returns the agent's token.
func agentSetup(h *harness, vault, policy, agent string) string {
	h.call("POST", "/v1/vaults", map[string]string{"name": vault}, nil)
	h.call("PATCH", "/v1/vaults/"+vault+"/settings", map[string]string{"unmatched_host_policy": policy}, nil)
	var a struct{ Token string }
	h.call("POST", "/v1/agents", map[string]any{"name": agent, "vaults": []any{map[string]string{"vault": vault, "role": "member"}}}, &a)
	return a.Token
}

// TestAgentLoopOnTheServer runs one real server (starting one is slow on a
// loaded machine: it compiles the store plugins) for the end-to-end agent
// loop and the request-log load test, then checks the log rows of both
// after shutdown, which drains the writer.
func TestAgentLoopOnTheServer(t *testing.T) {
	dataDir := t.TempDir()
	h, logText := startHarnessIn(t, dataDir)
	checkE2E := agentLoopEndToEnd(t, h)
	checkLoad := requestLogUnderProxyLoad(t, h)
	h.stop()
	if t.Failed() {
		return
	}
	st, err := store.Open(context.Background(), dataDir+"/"+store.FileName)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	checkE2E(st)
	checkLoad(st)
	if strings.Contains(logText(), "itm-s3cr3t") {
		t.Fatal("the credential reached the server log")
	}
	if strings.Contains(logText(), "events dropped") {
		t.Fatalf("the request-log writer dropped events: %s", logText())
	}
}

// TestAgentLoopEndToEnd plays an agent against the real server: a request
// to an unknown host in a deny vault gets 403 with a proposal_hint; the
// agent discovers, proposes a service and a credential slot; a human
// approves with a value; the agent's next request is injected; both
// requests are in the vault's log.
func agentLoopEndToEnd(t *testing.T, h *harness) func(*store.Store) {
	var seen atomic.Value
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.Header.Get("Authorization"))
		io.WriteString(w, "ok")
	}))
	defer upstream.Close()
	host := strings.TrimPrefix(upstream.URL, "http://")
	agentToken := agentSetup(h, "shop", "deny", "robot")
	client := h.proxyClient(agentToken, "shop")

	// 1. Refused, with a hint.
	res, err := client.Get(upstream.URL + "/v1/items")
	if err != nil {
		t.Fatal(err)
	}
	var refusal struct {
		Error        string `json:"error"`
		ProposalHint string `json:"proposal_hint"`
	}
	json.NewDecoder(res.Body).Decode(&refusal)
	res.Body.Close()
	if res.StatusCode != 403 || refusal.Error != "host_not_allowed" || !strings.Contains(refusal.ProposalHint, `Propose a service for host "127.0.0.1"`) {
		t.Fatalf("first request: %d %+v", res.StatusCode, refusal)
	}

	// 2. Discover and propose.
	var proposal struct {
		ID          string
		Status      string
		ApprovalURL string `json:"approval_url"`
	}
	h.as(agentToken, func() {
		var disc struct {
			Vault                string
			AvailableCredentials []string `json:"available_credentials"`
		}
		h.call("GET", "/discover", nil, &disc)
		if disc.Vault != "shop" || len(disc.AvailableCredentials) != 0 {
			t.Fatalf("discover: %+v", disc)
		}
		h.call("POST", "/v1/proposals", map[string]any{
			"message":     "need the items API",
			"services":    []any{map[string]any{"action": "set", "name": "items", "host": host, "auth": map[string]any{"type": "bearer", "token": "ITEMS_TOKEN"}}},
			"credentials": []any{map[string]any{"action": "set", "key": "ITEMS_TOKEN", "description": "items API token"}},
		}, &proposal)
	})
	if proposal.Status != "pending" || !strings.HasPrefix(proposal.ApprovalURL, h.api+"/vaults/shop/proposals/") {
		t.Fatalf("proposal: %+v", proposal)
	}

	// 3. A human approves with the value.
	h.call("POST", "/v1/admin/proposals/"+proposal.ID+"/approve", map[string]any{"vault": "shop", "credentials": map[string]string{"ITEMS_TOKEN": "itm-s3cr3t"}}, nil)
	h.as(agentToken, func() { h.call("GET", "/v1/proposals/"+proposal.ID, nil, &proposal) })
	if proposal.Status != "approved" {
		t.Fatalf("after approval: %+v", proposal)
	}

	// 4. The agent's next request is injected.
	res, err = client.Get(upstream.URL + "/v1/items")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(body) != "ok" || seen.Load() != "Bearer itm-s3cr3t" {
		t.Fatalf("second request: %d %s, upstream saw %v", res.StatusCode, body, seen.Load())
	}

	// 5. Both requests are in the log, newest first.
	return func(st *store.Store) {
		v, _ := st.VaultByName(context.Background(), "shop")
		rows, _, err := st.RequestLogs(context.Background(), store.RequestLogQuery{VaultID: v.ID, Limit: 10})
		if err != nil || len(rows) != 2 {
			t.Fatalf("%d log rows (%v)", len(rows), err)
		}
		if r := rows[0]; r.Status != 200 || r.Service != "items" || strings.Join(r.Keys, ",") != "ITEMS_TOKEN" || r.ActorKind != "agent" {
			t.Fatalf("newest row %+v", r)
		}
		if r := rows[1]; r.Status != 403 || r.Error != "host_not_allowed" || r.Service != "" {
			t.Fatalf("older row %+v", r)
		}
	}
}

// TestRequestLogUnderProxyLoad sends requests through the real proxy from 8
// clients and checks, after shutdown, that every one is a row and nothing
// was dropped. AGENT_VAULT_LOAD_REQUESTS sets the count (default 10 000;
// 1 000 under -short).
func requestLogUnderProxyLoad(t *testing.T, h *harness) func(*store.Store) {
	total := 10000
	if testing.Short() {
		total = 1000
	}
	if v, err := strconv.Atoi(os.Getenv("AGENT_VAULT_LOAD_REQUESTS")); err == nil && v > 0 {
		total = v
	}
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer upstream.Close()
	agentToken := agentSetup(h, "load", "passthrough", "loader")
	client := h.proxyClient(agentToken, "load")
	client.Transport.(*http.Transport).MaxIdleConnsPerHost = 8

	const clients = 8
	start := time.Now()
	var wg sync.WaitGroup
	var failures atomic.Int64
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := c; i < total; i += clients {
				res, err := client.Get(fmt.Sprintf("%s/item/%d", upstream.URL, i))
				if err != nil {
					failures.Add(1)
					continue
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					failures.Add(1)
				}
			}
		}(c)
	}
	wg.Wait()
	elapsed := time.Since(start)
	if failures.Load() != 0 {
		t.Errorf("%d requests failed", failures.Load())
	}
	return func(st *store.Store) {
		v, _ := st.VaultByName(context.Background(), "load")
		n, err := st.CountRequestLogs(context.Background(), v.ID)
		if err != nil || n != total {
			t.Fatalf("%d log rows (%v) for %d requests", n, err, total)
		}
		t.Logf("%d proxied requests in %v (%.0f req/s), %d log rows, none dropped", total, elapsed, float64(total)/elapsed.Seconds(), n)
	}
}

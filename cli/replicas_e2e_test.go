package cli_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/host/store/pgtest"
)

// startReplicas runs n real servers on one PostgreSQL database, each with
// its own data directory and proxy.
func startReplicas(t *testing.T, n int) []*runningServer {
	t.Helper()
	db := pgtest.URL(t)
	var out []*runningServer
	for range n {
		out = append(out, startServerWith(t, newDataDir(t), []string{"--mitm-port=-1", "--allow-private-ranges", "--database-url", db}))
	}
	return out
}

// proxyClient sends plain-HTTP requests through a replica's proxy as the
// holder of token; keepAlive reuses one connection for every request.
func proxyClient(s *runningServer, token, vault string, keepAlive bool) *http.Client {
	u := &url.URL{Scheme: "http", Host: s.Proxy, User: url.UserPassword(token, vault)}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(u), DisableKeepAlives: !keepAlive}}
}

func get(c *http.Client, target string) (int, string) {
	res, err := c.Get(target)
	if err != nil {
		return 0, err.Error()
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// within polls until ok holds, for at most d, and reports how long it took.
func within(t *testing.T, d time.Duration, what string, ok func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !ok() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// Proofs 1–3: what is created through replica A serves through replica B;
// a rotation and a revocation on A apply on B within a second, on new
// connections and on one already open.
func reversed(s string) string {
	b := []byte(s)
	slices.Reverse(b)
	return string(b)
}

func TestReplicasShareChanges(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Reversed: the proxy scrubs the injected value from responses
		// in every encoding it knows, and this one it does not.
		fmt.Fprintf(w, "auth=%s", reversed(r.Header.Get("Authorization")))
	}))
	defer upstream.Close()
	rs := startReplicas(t, 2)
	a, b := rs[0], rs[1]
	o := newOperator(t, a.URL)
	agentToken := setUpProxying(t, o, upstream.URL)
	for _, r := range rs {
		within(t, 5*time.Second, "replica ready", func() bool {
			res, err := http.Get(r.URL + "/ready")
			if err != nil {
				return false
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			return res.StatusCode == 200 && strings.Contains(string(body), `"caches":"current"`)
		})
	}
	fresh := proxyClient(b, agentToken, "my-app", false)
	open := proxyClient(b, agentToken, "my-app", true)
	for _, c := range []*http.Client{fresh, open} {
		if code, body := get(c, upstream.URL+"/"); code != 200 || body != "auth="+reversed("Bearer secret-1") {
			t.Fatalf("through replica B: %d %q", code, body)
		}
	}

	if _, stderr, code := o.run(nil, "secret-2\n", nil, "vault", "creds", "set", "--vault=my-app", "UPSTREAM_TOKEN=-"); code != 0 {
		t.Fatalf("rotating on A: %s", stderr)
	}
	took := within(t, time.Second, "B injects the rotated credential", func() bool {
		_, body := get(fresh, upstream.URL+"/")
		return body == "auth="+reversed("Bearer secret-2")
	})
	t.Logf("rotation on A reached B after %v", took)

	if _, stderr, code := o.run(nil, "", nil, "agent", "revoke", "bot"); code != 0 {
		t.Fatalf("revoking on A: %s", stderr)
	}
	for name, c := range map[string]*http.Client{"new connection": fresh, "open connection": open} {
		took := within(t, time.Second, "B refuses the revoked agent on a "+name, func() bool {
			code, _ := get(c, upstream.URL+"/")
			return code == http.StatusProxyAuthRequired || code == http.StatusForbidden
		})
		t.Logf("revocation on A refused by B (%s) after %v", name, took)
	}
}

// setUpProxying creates, through o's server, vault my-app with credential
// UPSTREAM_TOKEN=secret-1 injected as a bearer token for the upstream, and
// an agent with proxy access; it returns the agent's token.
func setUpProxying(t *testing.T, o *operator, upstreamURL string) string {
	t.Helper()
	host := strings.TrimPrefix(upstreamURL, "http://")
	var agentToken string
	for _, step := range []struct {
		args  []string
		stdin string
	}{
		{[]string{"register", "--email", "owner@example.com", "--password-stdin"}, "password1\n"},
		{[]string{"vault", "create", "my-app"}, ""},
		{[]string{"vault", "creds", "set", "--vault=my-app", "UPSTREAM_TOKEN=-"}, "secret-1\n"},
		{[]string{"service", "set", "up", "--vault=my-app", "--host=" + host, "--auth=bearer", "--token=UPSTREAM_TOKEN"}, ""},
		{[]string{"agent", "create", "bot", "--grant", "my-app=proxy", "--json"}, ""},
	} {
		stdout, stderr, code := o.run(nil, step.stdin, nil, step.args...)
		if code != 0 {
			t.Fatalf("%v on replica A: exit %d\n%s", step.args, code, stderr)
		}
		if step.args[0] == "agent" {
			var out struct{ Token string }
			if err := json.Unmarshal([]byte(stdout), &out); err != nil || out.Token == "" {
				t.Fatalf("agent token: %v in %s", err, stdout)
			}
			agentToken = out.Token
		}
	}
	return agentToken
}

// Proof 7: an instance copied from SQLite into PostgreSQL by migrate-db
// serves the same proxied requests and the same API answers.
func TestMigrateDBThenServe(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "auth=%s", reversed(r.Header.Get("Authorization"))) // reversed: the proxy scrubs the value itself
	}))
	defer upstream.Close()
	dir := newDataDir(t)
	flags := []string{"--mitm-port=-1", "--allow-private-ranges"}
	s := startServerWith(t, dir, flags)
	o := newOperator(t, s.URL)
	token := setUpProxying(t, o, upstream.URL)
	if code, body := get(proxyClient(s, token, "my-app", false), upstream.URL+"/"); code != 200 || body != "auth="+reversed("Bearer secret-1") {
		t.Fatalf("before: %d %q", code, body)
	}
	var saved struct{ Token string }
	if b, err := os.ReadFile(filepath.Join(o.home, ".agent-vault", "session.json")); err != nil || json.Unmarshal(b, &saved) != nil || saved.Token == "" {
		t.Fatalf("reading the session: %v", err)
	}
	list := func() string { // the owner's login session moves with the instance
		out, stderr, code := o.run(nil, "", []string{"AGENT_VAULT_TOKEN=" + saved.Token}, "vault", "creds", "list", "--vault=my-app", "--json")
		if code != 0 {
			t.Fatalf("creds list: %s", stderr)
		}
		return out
	}
	before := list()
	s.stop(t)

	db := pgtest.URL(t)
	out, stderr, code := o.run(nil, "", nil, "migrate-db", "--from", dir, "--to", db)
	if code != 0 || !strings.Contains(out, "Copied and verified") {
		t.Fatalf("migrate-db: exit %d\n%s%s", code, out, stderr)
	}
	if _, stderr, code := o.run(nil, "", nil, "migrate-db", "--from", dir, "--to", db); code == 0 || !strings.Contains(stderr, "not empty") {
		t.Fatalf("a second migrate-db into the same database: exit %d\n%s", code, stderr)
	}

	pg := startServerWith(t, newDataDir(t), append(flags, "--database-url", db))
	o.addr = pg.URL
	if code, body := get(proxyClient(pg, token, "my-app", false), upstream.URL+"/"); code != 200 || body != "auth="+reversed("Bearer secret-1") {
		t.Fatalf("after: %d %q", code, body)
	}
	if after := list(); after != before {
		t.Fatalf("the API answers differently after the copy:\nbefore %s\nafter  %s", before, after)
	}
}

// TestMeasureRevocationAcrossReplicas measures, over 100 trials, the time
// from an agent's revocation answered by replica A to the first refusal
// by replica B (polled every millisecond on new connections). It prints
// p50/p99 and runs only with AGENT_VAULT_MEASURE=1.
func TestMeasureRevocationAcrossReplicas(t *testing.T) {
	if os.Getenv("AGENT_VAULT_MEASURE") != "1" {
		t.Skip("a measurement: set AGENT_VAULT_MEASURE=1")
	}
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer upstream.Close()
	rs := startReplicas(t, 2)
	a, b := rs[0], rs[1]
	o := newOperator(t, a.URL)
	setUpProxying(t, o, upstream.URL)
	var saved struct{ Token string }
	if raw, err := os.ReadFile(filepath.Join(o.home, ".agent-vault", "session.json")); err != nil || json.Unmarshal(raw, &saved) != nil {
		t.Fatalf("reading the session: %v", err)
	}
	var took []time.Duration
	for range 100 {
		code, body := post(t, a.URL+"/v1/agents/bot/rotate", saved.Token, `{}`)
		m := tokenField.FindStringSubmatch(body)
		if code != 200 || m == nil {
			t.Fatalf("rotate: %d %s", code, body)
		}
		c := proxyClient(b, m[1], "my-app", false)
		within(t, 5*time.Second, "B serves the rotated token", func() bool { code, _ := get(c, upstream.URL+"/"); return code == 200 })
		if code, body := post(t, a.URL+"/v1/agents/bot/revoke", saved.Token, `{}`); code/100 != 2 {
			t.Fatalf("revoke: %d %s", code, body)
		}
		start := time.Now()
		for {
			if code, _ := get(c, upstream.URL+"/"); code == http.StatusProxyAuthRequired || code == http.StatusForbidden {
				break
			}
			if time.Since(start) > 5*time.Second {
				t.Fatal("B never refused")
			}
			time.Sleep(time.Millisecond)
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	t.Logf("revocation on A to refusal on B over %d trials: p50 %v, p99 %v, max %v", len(took), took[len(took)/2], took[len(took)*99/100-1], took[len(took)-1])
}

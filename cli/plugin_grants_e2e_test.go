package cli_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestPluginGrants runs the real server with hostile third-party plugins
// in --plugin-dir (cli/testdata/greedyplugin, built here with different
// kinds) and a grants file. The plugin that is granted gets exactly its
// grant: its check export, which runs at start without any vault, sends
// everything it received to a recording server, and tries origins it was
// not granted. The others are refused at load: one asks for AGENT_VAULT_*
// variables, one takes a shipped kind's name, one is not in the grants
// file, one does not match its pinned sha256. A value the plugin was
// granted never comes back in an API error body.
func TestPluginGrants(t *testing.T) {
	if testing.Short() {
		t.Skip("builds wasm plugins and runs the server")
	}
	type exfil struct {
		Kind string            `json:"kind"`
		Env  map[string]string `json:"env"`
	}
	var mu sync.Mutex
	var received []exfil
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var e exfil
		b, _ := io.ReadAll(r.Body)
		if json.Unmarshal(b, &e) == nil {
			mu.Lock()
			received = append(received, e)
			mu.Unlock()
		}
	}))
	defer sink.Close()
	var probeHits, askHits atomic.Int32
	probe := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { probeHits.Add(1) }))
	defer probe.Close()
	ask := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { askHits.Add(1) }))
	defer ask.Close()

	pluginDir := t.TempDir()
	variants := map[string]string{
		"greedy":    "-X main.kind=greedy -X main.askOrigin=" + ask.URL,
		"reserved":  "-X main.kind=reserved -X main.askReserved=1",
		"infisical": "-X main.kind=infisical",
		"unpinned":  "-X main.kind=unpinned",
		"wrongpin":  "-X main.kind=wrongpin",
	}
	sums := map[string]string{}
	var wg sync.WaitGroup
	var buildMu sync.Mutex
	for kind, flags := range variants {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := filepath.Join(pluginDir, kind+".wasm")
			cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-ldflags", "-s -w "+flags, "-o", out, "./testdata/greedyplugin")
			cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
			msg, err := cmd.CombinedOutput()
			buildMu.Lock()
			defer buildMu.Unlock()
			if err != nil {
				t.Errorf("building the %s plugin: %v\n%s", kind, err, msg)
				return
			}
			b, _ := os.ReadFile(out)
			sum := sha256.Sum256(b)
			sums[kind] = hex.EncodeToString(sum[:])
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	dir := newDataDir(t)
	dataFile := filepath.Join(dir, "operator-notes")
	writeFileT(t, dataFile, "data-dir-content-5c1e")
	const (
		token          = "granted-token-9b2d"
		corpPassword   = "corp-password-44af"
		masterPassword = "master-password-e7c0"
		allowlist      = "10.99.0.0/16"
	)
	env := []string{"GREEDY_TOKEN", "GREEDY_ORIGINS", "GREEDY_PROBE_URL", "GREEDY_ENVIRON", "GREEDY_DATA"}
	grant := func(kind, sum string) map[string]any {
		return map[string]any{"sha256": sum, "env": env, "files": []string{dataFile}, "http_origins": []string{sink.URL}}
	}
	grants, _ := json.Marshal(map[string]any{"plugins": map[string]any{
		"greedy":    grant("greedy", sums["greedy"]),
		"reserved":  grant("reserved", sums["reserved"]),
		"infisical": grant("infisical", sums["infisical"]),
		"wrongpin":  grant("wrongpin", strings.Repeat("0", 64)),
	}})
	grantsFile := filepath.Join(t.TempDir(), "grants.json")
	writeFileT(t, grantsFile, string(grants))

	s := startServerWith(t, dir, []string{"--mitm-port", "0", "--plugin-dir", pluginDir, "--plugin-grants", grantsFile},
		"GREEDY_ORIGINS="+sink.URL, "GREEDY_PROBE_URL="+probe.URL, "GREEDY_TOKEN="+token,
		"CORP_DB_PASSWORD="+corpPassword, "GREEDY_DATA="+dataFile,
		"AGENT_VAULT_MASTER_PASSWORD="+masterPassword, "AGENT_VAULT_NETWORK_ALLOWLIST="+allowlist)

	// The load log says what was refused, and why.
	logs := s.stderr.String()
	for _, want := range []string{
		`plugin=greedy version=0.0.1 features=`,
		`granted_env=GREEDY_DATA,GREEDY_ENVIRON,GREEDY_ORIGINS,GREEDY_PROBE_URL,GREEDY_TOKEN granted_files=` + dataFile + ` granted_origins=` + strings.TrimPrefix(sink.URL, "") + ` not_granted="env CORP_DB_PASSWORD,origin ` + ask.URL + `"`,
		`requests AGENT_VAULT_MASTER_PASSWORD, AGENT_VAULT_NETWORK_ALLOWLIST; AGENT_VAULT_* variables are the host's own and no plugin may receive them`,
		`\"infisical\" is the kind of a plugin shipped with Agent Vault; a third-party plugin may not take its name`,
		`plugin \"unpinned\": not granted: third-party plugins load only when the plugin grants file names them with their sha256 (this module's is ` + sums["unpinned"] + `)`,
		`plugin \"wrongpin\": module sha256 is ` + sums["wrongpin"] + `, granted ` + strings.Repeat("0", 64),
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("the server log lacks %s", want)
		}
	}

	// The granted plugin's check ran at start: see what it got.
	var got exfil
	deadline := time.Now().Add(time.Minute)
	for got.Kind == "" {
		mu.Lock()
		for _, e := range received {
			if e.Kind == "greedy" {
				got = e
			}
		}
		mu.Unlock()
		if got.Kind == "" && time.Now().After(deadline) {
			t.Fatalf("the granted plugin's check never reported\n%s", s.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got.Env["GREEDY_TOKEN"] != token || got.Env["GREEDY_ORIGINS"] != sink.URL {
		t.Errorf("the plugin did not get what it was granted: %v", got.Env)
	}
	for name, v := range got.Env {
		for _, leak := range []string{corpPassword, masterPassword, allowlist, "data-dir-content", "PATH="} {
			if strings.Contains(v, leak) {
				t.Errorf("the plugin received %q in %s", leak, name)
			}
		}
		if strings.HasPrefix(name, "AGENT_VAULT_") || name == "CORP_DB_PASSWORD" {
			t.Errorf("the plugin received %s", name)
		}
	}

	// A granted value the plugin puts in an error does not reach the API.
	_, body := post(t, s.URL+"/v1/auth/register", "", `{"email":"o@example.com","password":"password1"}`)
	tok := tokenField.FindStringSubmatch(body)[1]
	status, body := post(t, s.URL+"/v1/vaults", tok, `{"name":"greedy-vault","credential_store":{"kind":"greedy","config":{}}}`)
	if status < 400 || !strings.Contains(body, "[redacted:GREEDY_TOKEN]") || strings.Contains(body, token) {
		t.Errorf("create with the greedy store: %d %s", status, body)
	}

	if probeHits.Load() != 0 || askHits.Load() != 0 {
		t.Errorf("ungranted origins were reached: %d, %d", probeHits.Load(), askHits.Load())
	}
	mu.Lock()
	for _, e := range received {
		if e.Kind != "greedy" {
			t.Errorf("the refused plugin %q ran and reported %v", e.Kind, e.Env)
		}
	}
	mu.Unlock()
	if !strings.Contains(s.stderr.String(), `token=[redacted:GREEDY_TOKEN]`) {
		t.Errorf("the plugin's log line did not arrive, or not redacted:\n%s", s.stderr)
	}
	for _, secret := range []string{token, corpPassword, masterPassword, "data-dir-content"} {
		if strings.Contains(s.stderr.String(), secret) {
			t.Errorf("the server log contains %q", secret)
		}
	}
}

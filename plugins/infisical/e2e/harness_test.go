// Package e2e proves the Infisical credential store end to end: the real
// agent-vault binary (with the real wasm plugin embedded), the Infisical
// emulator and an upstream HTTP server, all on loopback.
package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/plugins/infisical/infisicaltest"
)

var (
	binary    string // the agent-vault binary built for this run
	wasmCache string // compilation cache shared by every server's data dir
)

func TestMain(m *testing.M) {
	flag.Parse()
	// -short skips this package (startServer skips each test): building
	// the binary and running servers takes a minute or more.
	if f := flag.Lookup("test.fuzzworker"); testing.Short() || (f != nil && f.Value.String() == "true") {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "agent-vault-infisical-e2e")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "agent-vault")
	// wazero keys its cache by module content, so a cache kept between runs
	// never serves a stale plugin and saves the cold compile.
	wasmCache = filepath.Join(dir, "wasm-cache")
	if base, err := os.UserCacheDir(); err == nil {
		wasmCache = filepath.Join(base, "agent-vault", "e2e-wasm-cache")
	}
	// The plugin is built the way plugins.mk builds it, into the directory
	// the binary embeds, so the server runs this tree's plugin.
	steps := [][]string{
		{"go", "build", "-buildmode=c-shared", "-trimpath", "-ldflags=-s -w", "-o", "../../dist/infisical.wasm", ".."},
		{"go", "build", "-o", binary, "../../.."},
	}
	for i, s := range steps {
		cmd := exec.Command(s[0], s[1:]...)
		cmd.Stderr = os.Stderr
		if i == 0 {
			cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		}
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building:", strings.Join(s, " "), err)
			os.Exit(1)
		}
	}
	code := m.Run()
	closeShared()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is one agent-vault server process.
type server struct {
	t       testing.TB
	cmd     *exec.Cmd
	api     string
	proxy   string
	dataDir string
	logs    *syncBuffer
	done    chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var servingLine = regexp.MustCompile(`msg="agent vault is serving" api=(http://\S+) proxy=(\S+)`)

// newDataDir is a fresh data directory sharing the compilation cache.
func newDataDir(t testing.TB) string {
	if binary == "" {
		t.Skip("end-to-end tests are skipped with -short")
	}
	dir, err := os.MkdirTemp("", "av-data")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.MkdirAll(wasmCache, 0o700)
	if err := os.Symlink(wasmCache, filepath.Join(dir, "wasm-cache")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// infisicalEnv is the instance environment pointing at emu with universal
// auth for identity "id-1".
func infisicalEnv(emu *infisicaltest.Emulator) []string {
	return []string{"INFISICAL_URL=" + emu.URL(), "INFISICAL_UNIVERSAL_AUTH_CLIENT_ID=cid", "INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET=csecret"}
}

// startServer runs the binary on loopback and waits until it serves. The
// caller stops it (stop or kill); cleanup kills what is left.
func startServer(t testing.TB, dataDir string, env []string) *server {
	t.Helper()
	if binary == "" {
		t.Skip("end-to-end tests are skipped with -short")
	}
	cmd := exec.Command(binary, "server", "--data-dir", dataDir, "--port", "0", "--mitm-port=-1", "--allow-private-ranges")
	cmd.Env = append([]string{"HOME=" + dataDir, "PATH=" + os.Getenv("PATH")}, env...)
	pr, pw := io.Pipe()
	s := &server{t: t, cmd: cmd, dataDir: dataDir, logs: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- cmd.Wait(); pw.Close() }()
	found := make(chan [2]string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			s.logs.Write([]byte(line + "\n"))
			if m := servingLine.FindStringSubmatch(line); m != nil {
				found <- [2]string{m[1], m[2]}
			}
		}
	}()
	select {
	case a := <-found:
		s.api, s.proxy = a[0], a[1]
	case err := <-s.done:
		t.Fatalf("server exited before serving: %v\n%s", err, s.logs)
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("server did not start:\n%s", s.logs)
	}
	t.Cleanup(func() { s.kill() })
	return s
}

// waitForLog waits until the server has logged a line containing substr.
func (s *server) waitForLog(substr string) {
	s.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(s.logs.String(), substr) {
		if time.Now().After(deadline) || s.exited() {
			s.t.Fatalf("the server never logged %q:\n%s", substr, s.logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (s *server) stop() {
	if s.exited() {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		s.done <- err
		if err != nil {
			s.t.Errorf("server did not exit cleanly: %v\n%s", err, s.logs)
		}
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		s.t.Errorf("server did not stop on SIGTERM\n%s", s.logs)
	}
}

// kill sends SIGKILL and waits for the process to go.
func (s *server) kill() {
	if s.exited() {
		return
	}
	s.cmd.Process.Signal(syscall.SIGKILL)
	err := <-s.done
	s.done <- err
}

func (s *server) exited() bool {
	select {
	case err := <-s.done:
		s.done <- err
		return true
	default:
		return false
	}
}

// client calls the API with a bearer token.
type client struct {
	t     testing.TB
	api   string
	token string
}

// register makes the first user, the instance owner.
func register(t testing.TB, s *server) *client {
	t.Helper()
	c := &client{t: t, api: s.api}
	var out struct {
		Token string `json:"token"`
	}
	c.must("POST", "/v1/auth/register", map[string]string{"email": "owner@example.com", "password": "owner-password"}, 201, &out)
	c.token = out.Token
	return c
}

// login signs the owner in again (after a restart).
func login(t testing.TB, s *server) *client {
	t.Helper()
	c := &client{t: t, api: s.api}
	var out struct {
		Token string `json:"token"`
	}
	c.must("POST", "/v1/auth/login", map[string]string{"email": "owner@example.com", "password": "owner-password"}, 200, &out)
	c.token = out.Token
	return c
}

// do sends a JSON request and returns the status and body.
func (c *client) do(method, path string, body any) (int, []byte) {
	c.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.api+path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// must sends a request, checks the status and decodes the answer into out.
func (c *client) must(method, path string, body any, want int, out any) {
	c.t.Helper()
	status, b := c.do(method, path, body)
	if status != want {
		c.t.Fatalf("%s %s: status %d, want %d: %s", method, path, status, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
}

// problem is an RFC 9457 error body with the stable code.
type problem struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

func (c *client) problem(method, path string, body any) problem {
	c.t.Helper()
	status, b := c.do(method, path, body)
	var p problem
	json.Unmarshal(b, &p)
	if p.Status == 0 {
		p.Status = status
	}
	return p
}

// storeSpec is the credential_store body of a create or connect.
func storeSpec(project, env, path string, poll int) map[string]any {
	return map[string]any{"kind": "infisical", "config": map[string]string{"project_id": project, "environment": env, "secret_path": path}, "poll_interval_seconds": poll}
}

// summary is the credential_store summary.
type summary struct {
	Kind                string          `json:"kind"`
	ReadOnly            bool            `json:"read_only"`
	Config              json.RawMessage `json:"config"`
	PollIntervalSeconds int             `json:"poll_interval_seconds"`
	LastSyncStatus      string          `json:"last_sync_status"`
	LastSyncedAt        *time.Time      `json:"last_synced_at"`
	LastSyncError       string          `json:"last_sync_error"`
	NextSyncAt          *time.Time      `json:"next_sync_at"`
	CredentialCount     int             `json:"credential_count"`
}

func (c *client) storeOf(vault string) summary {
	c.t.Helper()
	var s summary
	c.must("GET", "/v1/vaults/"+vault+"/credential-store", nil, 200, &s)
	return s
}

type credRow struct {
	Key         string `json:"key"`
	Type        string `json:"type"`
	Source      string `json:"source"`
	Secret      string `json:"secret"`
	Unavailable bool   `json:"unavailable"`
}

func (c *client) credentials(vault string) []credRow {
	c.t.Helper()
	var out struct {
		Credentials []credRow `json:"credentials"`
	}
	c.must("GET", "/v1/credentials?vault="+vault, nil, 200, &out)
	return out.Credentials
}

// keys lists a vault's credential keys of one type, sorted as the API does.
func (c *client) keys(vault, typ string) []string {
	var ks []string
	for _, r := range c.credentials(vault) {
		if r.Type == typ {
			ks = append(ks, r.Key)
		}
	}
	return ks
}

// upstream records what the proxy injected: it answers each request with
// the Authorization header it received.
type upstream struct {
	srv *httptest.Server
}

func newUpstream(t testing.TB) *upstream {
	u := &upstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Header.Get("Authorization"))
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstream) host() string { return strings.TrimPrefix(u.srv.URL, "http://") }

// bearerService injects key as a bearer token towards the upstream.
func bearerService(u *upstream, key string) map[string]any {
	return map[string]any{"services": []map[string]any{{"name": "up", "host": u.host(), "auth": map[string]string{"type": "bearer", "token": key}}}}
}

// agent proxies requests through a vault with a scoped session.
type agent struct {
	t      testing.TB
	client *http.Client
	target string
}

func newAgent(t testing.TB, c *client, s *server, vault string, u *upstream) *agent {
	t.Helper()
	var sess struct {
		Token string `json:"token"`
	}
	c.must("POST", "/v1/sessions", map[string]string{"vault": vault}, 201, &sess)
	proxyURL, _ := url.Parse("http://" + url.PathEscape(sess.Token) + ":" + vault + "@" + s.proxy)
	return &agent{t: t, target: u.srv.URL + "/x", client: &http.Client{
		Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL), MaxIdleConnsPerHost: 64},
		Timeout:   30 * time.Second,
	}}
}

// get sends one request through the proxy and returns the status and what
// the upstream saw in Authorization.
func (a *agent) get() (int, string, error) {
	resp, err := a.client.Get(a.target)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// mustGet expects a 200 and returns the injected Authorization value.
func (a *agent) mustGet() string {
	a.t.Helper()
	status, body, err := a.get()
	if err != nil || status != 200 {
		a.t.Fatalf("proxied request: status %d, err %v, body %q", status, err, body)
	}
	return body
}

// Package storee2e is the end-to-end harness of the credential-store
// plugins: it builds the real agent-vault binary with this tree's plugins
// embedded, runs it on loopback with a real SQLite file, and drives it
// through its HTTP API and proxy. Suite runs the behaviours every external
// store kind must show (credential-stores.txt) against a Fixture, so a new
// kind gets the same proofs by writing one.
package storee2e

import (
	"bufio"
	"bytes"
	"encoding/base32"
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
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/host/store/pgtest"
)

var (
	binary    string // the agent-vault binary built for this run
	wasmCache string // compilation cache shared by every server's data dir
)

// Binary is the agent-vault binary Main built ("" with -short).
func Binary() string { return binary }

// Main is a test package's TestMain: it builds the given shipped plugin
// kinds the way plugins.mk builds them, into plugins/dist where the binary
// embeds them, then the binary, runs the tests, calls atExit (when not
// nil) and cleans up. With -short it builds nothing and every test that
// needs a server skips.
func Main(m *testing.M, atExit func(), kinds ...string) {
	flag.Parse()
	if f := flag.Lookup("test.fuzzworker"); testing.Short() || (f != nil && f.Value.String() == "true") {
		os.Exit(m.Run())
	}
	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "finding the module root:", err)
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "agent-vault-store-e2e")
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
	type step struct {
		args []string
		wasm bool
	}
	var steps []step
	for _, k := range kinds {
		steps = append(steps, step{[]string{"go", "build", "-buildmode=c-shared", "-trimpath", "-ldflags=-s -w", "-o", "plugins/dist/" + k + ".wasm", "./plugins/" + k}, true})
	}
	steps = append(steps, step{[]string{"go", "build", "-o", binary, "."}, false})
	for _, s := range steps {
		cmd := exec.Command(s.args[0], s.args[1:]...)
		cmd.Dir = root
		cmd.Stderr = os.Stderr
		if s.wasm {
			cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		}
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building:", strings.Join(s.args, " "), err)
			os.Exit(1)
		}
	}
	code := m.Run()
	if atExit != nil {
		atExit()
	}
	pgtest.Stop() // the PostgreSQL server of OnPostgres and replica tests, if started
	os.RemoveAll(dir)
	os.Exit(code)
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", err
	}
	return filepath.Dir(strings.TrimSpace(string(out))), nil
}

// Server is one agent-vault server process.
type Server struct {
	T       testing.TB
	Cmd     *exec.Cmd
	API     string // http://127.0.0.1:port
	Proxy   string // 127.0.0.1:port
	DataDir string
	Logs    *SyncBuffer // everything the server wrote to stderr
	done    chan error
}

type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var servingLine = regexp.MustCompile(`msg="agent vault is serving" api=(http://\S+) proxy=(\S+)`)

// NewDataDir is a fresh data directory sharing the compilation cache.
func NewDataDir(t testing.TB) string {
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

// StartServer runs the binary on loopback and waits until it serves. The
// caller stops it (stop or kill); cleanup kills what is left.
func StartServer(t testing.TB, dataDir string, env []string) *Server {
	t.Helper()
	if binary == "" {
		t.Skip("end-to-end tests are skipped with -short")
	}
	cmd := exec.Command(binary, "server", "--data-dir", dataDir, "--port", "0", "--mitm-port=-1", "--allow-private-ranges")
	cmd.Env = append(append([]string{"HOME=" + dataDir, "PATH=" + os.Getenv("PATH")}, databaseEnv(t, dataDir)...), env...)
	pr, pw := io.Pipe()
	s := &Server{T: t, Cmd: cmd, DataDir: dataDir, Logs: &SyncBuffer{}, done: make(chan error, 1)}
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
			s.Logs.Write([]byte(line + "\n"))
			if m := servingLine.FindStringSubmatch(line); m != nil {
				found <- [2]string{m[1], m[2]}
			}
		}
	}()
	select {
	case a := <-found:
		s.API, s.Proxy = a[0], a[1]
	case err := <-s.done:
		t.Fatalf("server exited before serving: %v\n%s", err, s.Logs)
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("server did not start:\n%s", s.Logs)
	}
	t.Cleanup(func() { s.Kill() })
	return s
}

// OnPostgres reports whether the servers keep their data in PostgreSQL:
// AGENT_VAULT_TEST_DATABASE=postgres runs the suites on a real PostgreSQL
// server (host/store/pgtest) instead of a SQLite file in the data
// directory.
func OnPostgres() bool { return os.Getenv("AGENT_VAULT_TEST_DATABASE") == "postgres" }

var (
	databasesMu sync.Mutex
	databases   = map[string]string{} // data directory → its PostgreSQL schema
)

// databaseEnv points the server of dataDir at its own PostgreSQL schema
// when OnPostgres, the same one on every start (a restart finds its data);
// an explicit AGENT_VAULT_DATABASE_URL in a test's env overrides it.
func databaseEnv(t testing.TB, dataDir string) []string {
	if !OnPostgres() {
		return nil
	}
	databasesMu.Lock()
	defer databasesMu.Unlock()
	url, ok := databases[dataDir]
	if !ok {
		url = pgtest.URL(t)
		databases[dataDir] = url
	}
	return []string{"AGENT_VAULT_DATABASE_URL=" + url}
}

// WaitForLog waits until the server has logged a line containing substr.
func (s *Server) WaitForLog(substr string) {
	s.T.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(s.Logs.String(), substr) {
		if time.Now().After(deadline) || s.Exited() {
			s.T.Fatalf("the server never logged %q:\n%s", substr, s.Logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Stop sends SIGTERM and waits for a clean exit.
func (s *Server) Stop() {
	if s.Exited() {
		return
	}
	s.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		s.done <- err
		if err != nil {
			s.T.Errorf("server did not exit cleanly: %v\n%s", err, s.Logs)
		}
	case <-time.After(20 * time.Second):
		s.Cmd.Process.Kill()
		s.T.Errorf("server did not stop on SIGTERM\n%s", s.Logs)
	}
}

// Kill sends SIGKILL and waits for the process to go.
func (s *Server) Kill() {
	if s.Exited() {
		return
	}
	s.Cmd.Process.Signal(syscall.SIGKILL)
	err := <-s.done
	s.done <- err
}

func (s *Server) Exited() bool {
	select {
	case err := <-s.done:
		s.done <- err
		return true
	default:
		return false
	}
}

// Client calls the API with a bearer token.
type Client struct {
	T     testing.TB
	API   string
	Token string
}

// Register makes the first user, the instance owner.
func Register(t testing.TB, s *Server) *Client {
	t.Helper()
	c := &Client{T: t, API: s.API}
	var out struct {
		Token string `json:"token"`
	}
	c.Must("POST", "/v1/auth/register", map[string]string{"email": "owner@example.com", "password": "owner-password"}, 201, &out)
	c.Token = out.Token
	return c
}

// Login signs the owner in again (after a restart).
func Login(t testing.TB, s *Server) *Client {
	t.Helper()
	c := &Client{T: t, API: s.API}
	var out struct {
		Token string `json:"token"`
	}
	c.Must("POST", "/v1/auth/login", map[string]string{"email": "owner@example.com", "password": "owner-password"}, 200, &out)
	c.Token = out.Token
	return c
}

// Do sends a JSON request and returns the status and body.
func (c *Client) Do(method, path string, body any) (int, []byte) {
	c.T.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.API+path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.T.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// Must sends a request, checks the status and decodes the answer into out.
func (c *Client) Must(method, path string, body any, want int, out any) {
	c.T.Helper()
	status, b := c.Do(method, path, body)
	if status != want {
		c.T.Fatalf("%s %s: status %d, want %d: %s", method, path, status, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.T.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
}

// Problem is an RFC 9457 error body with the stable code.
type Problem struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

func (c *Client) Problem(method, path string, body any) Problem {
	c.T.Helper()
	status, b := c.Do(method, path, body)
	var p Problem
	json.Unmarshal(b, &p)
	if p.Status == 0 {
		p.Status = status
	}
	return p
}

// Summary is the credential_store summary.
type Summary struct {
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

func (c *Client) StoreOf(vault string) Summary {
	c.T.Helper()
	var s Summary
	c.Must("GET", "/v1/vaults/"+vault+"/credential-store", nil, 200, &s)
	return s
}

type CredRow struct {
	Key         string `json:"key"`
	Type        string `json:"type"`
	Source      string `json:"source"`
	Secret      string `json:"secret"`
	Unavailable bool   `json:"unavailable"`
}

func (c *Client) Credentials(vault string) []CredRow {
	c.T.Helper()
	var out struct {
		Credentials []CredRow `json:"credentials"`
	}
	c.Must("GET", "/v1/credentials?vault="+vault, nil, 200, &out)
	return out.Credentials
}

// Keys lists a vault's credential keys of one type, sorted as the API does.
func (c *Client) Keys(vault, typ string) []string {
	var ks []string
	for _, r := range c.Credentials(vault) {
		if r.Type == typ {
			ks = append(ks, r.Key)
		}
	}
	return ks
}

// Upstream records what the proxy injected: it answers each request with
// the Authorization header it received, wrapped in base32 (an encoding the
// proxy does not scrub, since it scrubs the values it injected from every
// response); Get unwraps it.
type Upstream struct {
	Srv *httptest.Server
}

func NewUpstream(t testing.TB) *Upstream {
	u := &Upstream{}
	u.Srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, base32.StdEncoding.EncodeToString([]byte(r.Header.Get("Authorization"))))
	}))
	t.Cleanup(u.Srv.Close)
	return u
}

func (u *Upstream) Host() string { return strings.TrimPrefix(u.Srv.URL, "http://") }

// BearerService injects key as a bearer token towards the upstream.
func BearerService(u *Upstream, key string) map[string]any {
	return map[string]any{"services": []map[string]any{{"name": "up", "host": u.Host(), "auth": map[string]string{"type": "bearer", "token": key}}}}
}

// Agent proxies requests through a vault with a scoped session.
type Agent struct {
	T      testing.TB
	Client *http.Client
	Target string
}

func NewAgent(t testing.TB, c *Client, s *Server, vault string, u *Upstream) *Agent {
	t.Helper()
	var sess struct {
		Token string `json:"token"`
	}
	c.Must("POST", "/v1/sessions", map[string]string{"vault": vault}, 201, &sess)
	proxyURL, _ := url.Parse("http://" + url.PathEscape(sess.Token) + ":" + vault + "@" + s.Proxy)
	return &Agent{T: t, Target: u.Srv.URL + "/x", Client: &http.Client{
		Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL), MaxIdleConnsPerHost: 64},
		Timeout:   30 * time.Second,
	}}
}

// Get sends one request through the proxy and returns the status and what
// the upstream saw in Authorization.
func (a *Agent) Get() (int, string, error) {
	resp, err := a.Client.Get(a.Target)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, string(b), nil
	}
	auth, err := base32.StdEncoding.DecodeString(string(b))
	if err != nil {
		return resp.StatusCode, string(b), fmt.Errorf("upstream answer %q is not base32: %w", b, err)
	}
	return resp.StatusCode, string(auth), nil
}

// MustGet expects a 200 and returns the injected Authorization value.
func (a *Agent) MustGet() string {
	a.T.Helper()
	status, body, err := a.Get()
	if err != nil || status != 200 {
		a.T.Fatalf("proxied request: status %d, err %v, body %q", status, err, body)
	}
	return body
}

// PeakRSS reads a process's peak resident set size, VmHWM (Linux); 0 when
// it cannot.
func PeakRSS(pid int) int64 { return procStatusBytes(pid, "VmHWM:") }

// RSS reads a process's current resident set size, VmRSS (Linux); 0 when
// it cannot.
func RSS(pid int) int64 { return procStatusBytes(pid, "VmRSS:") }

// procStatusBytes reads one "NAME: N kB" line of /proc/PID/status.
func procStatusBytes(pid int, field string) int64 {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(st), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

package cli_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/host/store/pgtest"
)

// binary is the real agent-vault, built once for these tests.
var binary string

// wasmCache is one plugin compilation cache shared by the servers of
// newDataDir, so only the first pays for compiling the store plugins.
var wasmCache string

// newDataDir is a fresh data directory whose compilation cache is shared.
func newDataDir(t testing.TB) string {
	dir := t.TempDir()
	if err := os.MkdirAll(wasmCache, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(wasmCache, filepath.Join(dir, "wasm-cache")); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestMain(m *testing.M) {
	flag.Parse()
	// Fuzz workers run only in-process fuzz targets: skip the build.
	if f := flag.Lookup("test.fuzzworker"); f != nil && f.Value.String() == "true" {
		os.Exit(m.Run())
	}
	// So are helper processes a test starts from its own binary.
	if os.Getenv(helperEnv) != "" {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "agent-vault-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "agent-vault")
	wasmCache = filepath.Join(dir, "wasm-cache")
	build := exec.Command("go", "build", "-o", binary, "../")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building agent-vault:", err)
		os.Exit(1)
	}
	code := pgtest.Main(m) // stops the PostgreSQL server of the replica tests
	os.RemoveAll(dir)
	os.Exit(code)
}

// runningServer is a real `agent-vault server` process on loopback.
type runningServer struct {
	cmd    *exec.Cmd
	URL    string
	Proxy  string // host:port of the proxy; empty when disabled
	stderr *bytes.Buffer
	done   chan error
}

var servingLine = regexp.MustCompile(`msg="agent vault is serving" api=(http://\S+)(?: proxy=(\S*))?`)

// startServer runs the binary with a temp data dir and waits until it
// serves. env entries are added to a minimal environment.
func startServer(t testing.TB, dataDir string, env ...string) *runningServer {
	t.Helper()
	return startServerWith(t, dataDir, []string{"--mitm-port", "0"}, env...)
}

// startServerWith is startServer with extra server flags.
func startServerWith(t testing.TB, dataDir string, flags []string, env ...string) *runningServer {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"server", "--data-dir", dataDir, "--port", "0"}, flags...)...)
	cmd.Env = append([]string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}, env...)
	return startServerCmd(t, cmd)
}

// startServerCmd starts a prepared `agent-vault server` command and waits
// until it serves.
func startServerCmd(t testing.TB, cmd *exec.Cmd) *runningServer {
	t.Helper()
	pr, pw := io.Pipe()
	s := &runningServer{cmd: cmd, stderr: &bytes.Buffer{}, done: make(chan error, 1)}
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- cmd.Wait(); pw.Close() }()
	found := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			s.stderr.WriteString(line + "\n")
			if m := servingLine.FindStringSubmatch(line); m != nil {
				found <- m[1:]
			}
		}
	}()
	select {
	case m := <-found:
		s.URL, s.Proxy = m[0], m[1]
	case err := <-s.done:
		t.Fatalf("server exited before serving: %v\n%s", err, s.stderr)
	case <-time.After(2 * time.Minute):
		// Generous: the first server of a run compiles the store plugins,
		// which takes tens of seconds on a loaded 2-core machine.
		cmd.Process.Kill()
		t.Fatalf("server did not start:\n%s", s.stderr)
	}
	t.Cleanup(func() { s.stop(t) })
	return s
}

// stop sends SIGTERM and waits for a clean exit.
func (s *runningServer) stop(t testing.TB) {
	if s.cmd.ProcessState != nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("server did not exit cleanly: %v\n%s", err, s.stderr)
		}
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		t.Errorf("server did not stop on SIGTERM")
	}
}

func post(t *testing.T, url, token, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

var tokenField = regexp.MustCompile(`"token":"([^"]+)"`)

func TestServerServesAndStopsGracefully(t *testing.T) {
	s := startServer(t, newDataDir(t))
	res, err := http.Get(s.URL + "/health")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(b), `"ok"`) {
		t.Fatalf("health: %d %s", res.StatusCode, b)
	}
	if !strings.Contains(s.stderr.String(), "RUNNING WITHOUT A MASTER PASSWORD") {
		t.Errorf("passwordless mode must warn loudly; log:\n%s", s.stderr)
	}
	res, err = http.Get(s.URL + "/openapi.json")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("openapi.json: %v %v", err, res)
	}
	res.Body.Close()
	s.stop(t)
}

func TestDatabaseFileIsPrivate(t *testing.T) {
	dir := newDataDir(t)
	s := startServer(t, dir)
	post(t, s.URL+"/v1/auth/register", "", `{"email":"o@example.com","password":"password1"}`)
	for _, name := range []string{"agent-vault.db", "agent-vault.db-wal"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", name, fi.Mode().Perm())
		}
	}
}

// fileHashes fingerprints every file in dir.
func fileHashes(t *testing.T, dir string) map[string][32]byte {
	out := map[string][32]byte{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		// Directories and the shared compilation cache's link are not data.
		if !e.Type().IsRegular() || e.Name() == "lock" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = sha256.Sum256(b)
	}
	return out
}

func TestWrongMasterPasswordChangesNothing(t *testing.T) {
	dir := newDataDir(t)
	s := startServer(t, dir, "AGENT_VAULT_MASTER_PASSWORD=correct horse battery")
	_, body := post(t, s.URL+"/v1/auth/register", "", `{"email":"o@example.com","password":"password1"}`)
	tok := tokenField.FindStringSubmatch(body)[1]
	if status, body := post(t, s.URL+"/v1/credentials", tok, `{"vault":"default","credentials":{"API_KEY":"v"}}`); status != 200 {
		t.Fatalf("write: %d %s", status, body)
	}
	s.stop(t)
	before := fileHashes(t, dir)

	for _, env := range [][]string{{"AGENT_VAULT_MASTER_PASSWORD=wrong password"}, {}} {
		cmd := exec.Command(binary, "server", "--data-dir", dir, "--port", "0", "--mitm-port", "0")
		cmd.Env = append([]string{"HOME=" + t.TempDir()}, env...)
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if err == nil || !errorAs(err, &exit) || exit.ExitCode() == 0 {
			t.Fatalf("server with %v: want non-zero exit, got %v\n%s", env, err, out)
		}
		if !strings.Contains(string(out), "master password") {
			t.Errorf("server with %v: message should name the master password:\n%s", env, out)
		}
	}
	after := fileHashes(t, dir)
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Fatalf("a refused start changed the data directory:\nbefore %x\nafter  %x", before, after)
	}

	// The right password still works and the credential is still there.
	s = startServer(t, dir, "AGENT_VAULT_MASTER_PASSWORD=correct horse battery")
	_, body = post(t, s.URL+"/v1/auth/login", "", `{"email":"o@example.com","password":"password1"}`)
	if tokenField.FindStringSubmatch(body) == nil {
		t.Fatalf("login after refused starts: %s", body)
	}
}

func errorAs(err error, target **exec.ExitError) bool {
	e, ok := err.(*exec.ExitError)
	*target = e
	return ok
}

func TestMasterPasswordLifecycle(t *testing.T) {
	dir := newDataDir(t)
	s := startServer(t, dir)
	post(t, s.URL+"/v1/auth/register", "", `{"email":"o@example.com","password":"password1"}`)
	s.stop(t)

	run := func(stdin string, env []string, args ...string) (string, error) {
		cmd := exec.Command(binary, append(args, "--data-dir", dir)...)
		cmd.Env = append([]string{"HOME=" + t.TempDir()}, env...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	steps := []struct {
		name    string
		stdin   string
		env     []string
		args    []string
		wantErr string
	}{
		{"set", "first-password\n", nil, []string{"master-password", "set", "--password-stdin"}, ""},
		{"set-again-refused", "x-password\n", nil, []string{"master-password", "set", "--password-stdin"}, "already set"},
		{"change-wrong-current", "nope-nope\nsecond-password\n", nil, []string{"master-password", "change", "--password-stdin"}, "master password"},
		{"change", "first-password\nsecond-password\n", nil, []string{"master-password", "change", "--password-stdin"}, ""},
		{"remove-with-env", "", []string{"AGENT_VAULT_MASTER_PASSWORD=second-password"}, []string{"master-password", "remove", "--password-stdin"}, ""},
		{"change-without-password", "a\nb\n", nil, []string{"master-password", "change", "--password-stdin"}, "no master password is set"},
	}
	for _, st := range steps {
		out, err := run(st.stdin, st.env, st.args...)
		if st.wantErr == "" && err != nil {
			t.Fatalf("%s: %v\n%s", st.name, err, out)
		}
		if st.wantErr != "" && (err == nil || !strings.Contains(out, st.wantErr)) {
			t.Fatalf("%s: want error containing %q, got %v\n%s", st.name, st.wantErr, err, out)
		}
		if strings.Contains(out, "password\n") && strings.Contains(out, "second-password") {
			t.Fatalf("%s: a password was printed:\n%s", st.name, out)
		}
	}
	// Each change is in the audit trail, done at the machine.
	// Each says what changed: the seal mode, and a changed password without
	// any value.
	wantLocalAuditSummaries(t, dir, []string{"master-password-set", "master-password-change", "master-password-remove"}, []string{
		`{"changes":[{"field":"seal_mode","before":"none","after":"password"}]}`,
		`{"changes":[{"field":"master_password","withheld":true}]}`,
		`{"changes":[{"field":"seal_mode","before":"password","after":"none"}]}`,
	})
	// Passwordless again: the server starts without a password and the
	// owner can still sign in (the DEK never changed).
	s = startServer(t, dir)
	if status, body := post(t, s.URL+"/v1/auth/login", "", `{"email":"o@example.com","password":"password1"}`); status != 200 {
		t.Fatalf("login: %d %s", status, body)
	}

	// While the server runs, maintenance is refused.
	out, err := run("p-password\n", nil, "master-password", "set", "--password-stdin")
	if err == nil || !strings.Contains(out, "in use by a running agent-vault server") {
		t.Fatalf("master-password set while serving: %v\n%s", err, out)
	}
}

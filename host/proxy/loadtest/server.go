package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// serverProc is a running `agent-vault server`.
type serverProc struct {
	cmd      *exec.Cmd
	api      string // http://127.0.0.1:port
	proxy    string // 127.0.0.1:port
	out      *tailBuffer
	exited   chan struct{}
	exitErr  error
	startDur time.Duration // from exec to the serving line
	leaks    atomic.Int64  // output lines holding the credential value (must stay 0)
}

// servingLine is the server's "ready" log line (slog text format):
//
//	time=… level=INFO msg="agent vault is serving" api=http://127.0.0.1:40911 proxy=127.0.0.1:35117 data_dir=…
var servingLine = regexp.MustCompile(`msg="agent vault is serving" api=(\S+) proxy=(\S*)`)

// parseServingLine returns the API base URL and the proxy address of a
// serving line; proxy is empty when the server runs without a proxy.
func parseServingLine(line string) (api, proxy string, ok bool) {
	m := servingLine.FindStringSubmatch(line)
	if m == nil || !strings.HasPrefix(m[1], "http://") {
		return "", "", false
	}
	if m[2] == `""` {
		m[2] = ""
	}
	return m[1], m[2], true
}

// startServer runs bin (with extraEnv on top of a cleaned environment) on
// a free API port and a free proxy port, and waits for its serving line.
// Every output line is checked for secret, the credential value.
// logTo, when not nil, receives a copy of the output.
func startServer(ctx context.Context, bin string, extraEnv []string, dataDir, upstreamCA, secret string, logTo io.Writer) (*serverProc, error) {
	cmd := exec.Command(bin, "server", "--data-dir", dataDir, "--port=0", "--mitm-port=-1",
		"--allow-private-ranges", "--upstream-ca-file", upstreamCA)
	cmd.Env = append(append(cleanEnv(os.Environ()), unthrottled...), extraEnv...)
	setChildAttrs(cmd)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	s := &serverProc{cmd: cmd, out: &tailBuffer{max: 64 << 10}, exited: make(chan struct{})}
	begin := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	go func() {
		s.exitErr = cmd.Wait()
		pw.Close()
		close(s.exited)
	}()
	ready := make(chan [2]string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		found := false
		for sc.Scan() {
			line := sc.Text()
			if strings.Contains(line, secret) {
				s.leaks.Add(1)
				line = "(a line holding the credential value, withheld)"
			}
			s.out.write(line + "\n")
			if logTo != nil {
				io.WriteString(logTo, line+"\n") //nolint:errcheck // best effort
			}
			if !found {
				if api, proxy, ok := parseServingLine(line); ok {
					found = true
					ready <- [2]string{api, proxy}
				}
			}
		}
		io.Copy(io.Discard, pr) //nolint:errcheck // drain after an over-long line
	}()
	select {
	case addrs := <-ready:
		s.api, s.proxy, s.startDur = addrs[0], addrs[1], time.Since(begin)
		if s.proxy == "" {
			s.stop()
			return nil, errors.New("the server started without a proxy listener")
		}
		return s, nil
	case <-s.exited:
		return nil, fmt.Errorf("the server exited before serving (%v); its output:\n%s", s.exitErr, s.out.String())
	case <-ctx.Done():
		s.stop()
		return nil, fmt.Errorf("the server did not report serving: %w; its output:\n%s", ctx.Err(), s.out.String())
	}
}

// stop asks the server to shut down (SIGINT, as Ctrl-C would) and kills it
// when it has not exited after 15 s.
func (s *serverProc) stop() {
	s.cmd.Process.Signal(os.Interrupt) //nolint:errcheck // it may have exited
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill() //nolint:errcheck
		<-s.exited
	}
}

func (s *serverProc) pid() int { return s.cmd.Process.Pid }

// unthrottled raises the proxy's per-token and per-vault rate limits far
// beyond what the harness sends through its one token: the rate check
// still runs on every request (its cost is part of the figures), but it
// never refuses one.
var unthrottled = []string{"AGENT_VAULT_PROXY_RATE_PER_AGENT=1000000000", "AGENT_VAULT_PROXY_RATE_PER_VAULT=1000000000"}

// cleanEnv drops the settings the server reads from the environment, so
// the run is configured by its flags alone, and any proxy settings.
func cleanEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		switch up := strings.ToUpper(name); {
		case strings.HasPrefix(up, "AGENT_VAULT_"), up == "PORT", up == "HTTP_PROXY", up == "HTTPS_PROXY", up == "ALL_PROXY", up == "NO_PROXY":
			continue
		}
		out = append(out, kv)
	}
	return out
}

// tailBuffer keeps the last max bytes written (the server's output, for
// error reports and the no-credential-in-logs check).
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
	all int64 // bytes ever written
}

func (t *tailBuffer) write(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.all += int64(len(s))
	t.buf = append(t.buf, s...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// apiClient provisions the server through its HTTP API.
type apiClient struct {
	base  string
	token string
	hc    *http.Client
}

func (a *apiClient) call(ctx context.Context, method, path string, body, out any) error {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, r)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	res, err := a.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if res.StatusCode >= 300 {
		return fmt.Errorf("%s %s: status %d: %s", method, path, res.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return nil
}

// setup is what provisioning leaves behind for the load cells.
type setup struct {
	sessionToken string
	mitmCAPEM    []byte
}

// provision registers the owner, creates a vault with one credential (and
// extra filler credentials) and bearer services for the plain and the TLS
// upstream (each twice: under noScrubPath, scrubbing is off), mints a
// scoped session for the vault and fetches the interception CA.
func provision(ctx context.Context, api string, up *upstream, credential string, extra int) (setup, error) {
	a := &apiClient{base: api, hc: &http.Client{Timeout: 30 * time.Second}}
	var reg struct{ Token string }
	if err := a.call(ctx, "POST", "/v1/auth/register", map[string]string{"email": "owner@loadtest.invalid", "password": "loadtest-password-1"}, &reg); err != nil {
		return setup{}, err
	}
	a.token = reg.Token
	steps := []struct {
		method, path string
		body         any
	}{
		{"POST", "/v1/vaults", map[string]string{"name": vaultName}},
		{"POST", "/v1/credentials", map[string]any{"vault": vaultName, "credentials": map[string]string{credentialKey: credential}}},
		{"PUT", "/v1/vaults/" + vaultName + "/services", map[string]any{"services": []any{
			map[string]any{"name": "plain-noscrub", "host": up.plain.Addr().String() + noScrubPath + "*", "scrub_responses": false,
				"auth": map[string]any{"type": "bearer", "token": credentialKey}},
			map[string]any{"name": "secure-noscrub", "host": up.tls.Addr().String() + noScrubPath + "*", "scrub_responses": false,
				"auth": map[string]any{"type": "bearer", "token": credentialKey}},
			map[string]any{"name": "plain", "host": up.plain.Addr().String(), "auth": map[string]any{"type": "bearer", "token": credentialKey}},
			map[string]any{"name": "secure", "host": up.tls.Addr().String(), "auth": map[string]any{"type": "bearer", "token": credentialKey}},
		}}},
	}
	for _, s := range steps {
		if err := a.call(ctx, s.method, s.path, s.body, nil); err != nil {
			return setup{}, err
		}
	}
	// Filler credentials, in batches the API accepts.
	for i := 0; i < extra; i += 500 {
		batch := map[string]string{}
		for j := i; j < min(extra, i+500); j++ {
			batch[fmt.Sprintf("FILLER_%d", j)] = randomHex(20)
		}
		if err := a.call(ctx, "POST", "/v1/credentials", map[string]any{"vault": vaultName, "credentials": batch}, nil); err != nil {
			return setup{}, err
		}
	}
	var sess struct{ Token string }
	if err := a.call(ctx, "POST", "/v1/sessions", map[string]any{"vault": vaultName, "ttl_seconds": 3600}, &sess); err != nil {
		return setup{}, err
	}
	req, err := http.NewRequestWithContext(ctx, "GET", api+"/v1/mitm/ca.pem", nil)
	if err != nil {
		return setup{}, err
	}
	res, err := a.hc.Do(req)
	if err != nil {
		return setup{}, err
	}
	defer res.Body.Close()
	ca, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil || res.StatusCode != 200 || !bytes.Contains(ca, []byte("BEGIN CERTIFICATE")) {
		return setup{}, fmt.Errorf("GET /v1/mitm/ca.pem: status %d, %v", res.StatusCode, err)
	}
	return setup{sessionToken: sess.Token, mitmCAPEM: ca}, nil
}

const (
	vaultName     = "loadtest"
	credentialKey = "UPSTREAM_TOKEN"
	noScrubPath   = "/noscrub/" // services under it opt out of response scrubbing
)

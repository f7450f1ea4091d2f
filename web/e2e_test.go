package web_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The browser tests need Debian's chromium, node and web/node_modules. On a
// developer machine without them they skip with the reason; under CI=true
// (set by .ci/run) a missing piece fails instead, so CI never passes by
// skipping.
func require(t *testing.T) (chromium, node string) {
	t.Helper()
	missing := func(what string) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s (CI=true: the browser tests must run)", what)
		}
		t.Skipf("skipping the browser tests: %s", what)
	}
	var err error
	if node, err = exec.LookPath("node"); err != nil {
		missing("node is not installed")
	}
	if _, err := os.Stat("node_modules/playwright-core/package.json"); err != nil {
		missing("web/node_modules is missing: run `npm ci` in web/ (make web)")
	}
	chromium = os.Getenv("CHROMIUM")
	for _, c := range []string{"chromium", "chromium-browser"} {
		if chromium != "" {
			break
		}
		chromium, _ = exec.LookPath(c)
	}
	if chromium == "" {
		missing("chromium is not installed (apt-get install -y chromium)")
	}
	return chromium, node
}

// TestAPITypesMatchSpec fails when the committed TypeScript API types
// drift from openapi/openapi.json.
func TestAPITypesMatchSpec(t *testing.T) {
	_, node := require(t)
	out, err := exec.Command(node, "scripts/check-api-types.mjs").CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}

var servingLine = regexp.MustCompile(`msg="agent vault is serving" api=(http://\S+) proxy=(\S+)`)

// TestBrowser drives the real UI in chromium against the real binary and
// the Infisical emulator; e2e/run.mjs holds the steps.
func TestBrowser(t *testing.T) {
	chromium, node, bin := requireBrowser(t)

	emu := start(t, exec.Command(filepath.Join(bin, "infisical-emulator"), "-addr", "127.0.0.1:0", "-state", "testdata/infisical-state.json"),
		regexp.MustCompile(`^INFISICAL_URL=(\S+)`), true)
	infisicalURL := emu.match[1]
	bao := start(t, exec.Command(filepath.Join(bin, "openbao-emulator"), "-role-id", "ui-role-id", "-secret-id", "ui-secret-id"),
		regexp.MustCompile(`^OPENBAO_ADDR=(\S+)`), true)

	srvCmd := exec.Command(filepath.Join(bin, "agent-vault"), "server", "--data-dir", dataDir(t), "--port", "0",
		"--mitm-port=-1", "--allow-private-ranges")
	srvCmd.Env = []string{
		"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH"),
		"INFISICAL_URL=" + infisicalURL,
		"INFISICAL_UNIVERSAL_AUTH_CLIENT_ID=ui-client-id",
		"INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET=ui-client-secret",
		"OPENBAO_ADDR=" + bao.match[1], "OPENBAO_ROLE_ID=ui-role-id", "OPENBAO_SECRET_ID=ui-secret-id",
		// A catalog API's name on loopback: the discovered-hosts step reaches it.
		"AGENT_VAULT_RESOLVE=api.github.com:127.0.0.1",
	}
	srv := start(t, srvCmd, servingLine, false)

	runScript(t, node, "e2e/run.mjs", 4*time.Minute, srv, "",
		"AV_PROXY="+srv.match[2], "INFISICAL_URL="+infisicalURL, "CHROMIUM="+chromium)
	// The credential values typed into the UI never reach the server log.
	for _, v := range []string{"sk_live_ui_e2e_value", "emulated-api-key", "emulated-openbao-key", "ui-secret-id"} {
		if strings.Contains(srv.log(), v) {
			t.Errorf("server log contains the credential value %q", v)
		}
	}
}

// TestLayout visits every route of src/router.ts at 390 and 1280 px wide
// against the real server filled with data, and fails on sideways
// overflow, unreachable tabs and misaligned form controls; e2e/layout.mjs
// holds the checks. Screenshots of every page land in
// <artifacts>/layout/<width>/.
func TestLayout(t *testing.T) {
	chromium, node, bin := requireBrowser(t)
	srvCmd := exec.Command(filepath.Join(bin, "agent-vault"), "server", "--data-dir", dataDir(t), "--port", "0",
		"--mitm-port=-1", "--allow-private-ranges")
	srvCmd.Env = []string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}
	srv := start(t, srvCmd, servingLine, false)

	runScript(t, node, "e2e/layout.mjs", 4*time.Minute, srv, "layout",
		"AV_PROXY="+srv.match[2], "CHROMIUM="+chromium)
}

// TestBrowserTeam drives the team pages (invite acceptance through
// /invite/<token>, password change, revoking another session, People and
// Agents, instance settings) in chromium against the real binary;
// e2e/team.mjs holds the steps. Screenshots at 1280 and 390 px land in
// <artifacts>/team/.
func TestBrowserTeam(t *testing.T) {
	chromium, node, bin := requireBrowser(t)
	srvCmd := exec.Command(filepath.Join(bin, "agent-vault"), "server", "--data-dir", dataDir(t), "--port", "0", "--mitm-port=-1")
	srvCmd.Env = []string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}
	srv := start(t, srvCmd, servingLine, false)

	runScript(t, node, "e2e/team.mjs", 3*time.Minute, srv, "team", "CHROMIUM="+chromium)
	for _, pw := range []string{"alice-password-1", "alice-password-2", "correct horse battery"} {
		if strings.Contains(srv.log(), pw) {
			t.Errorf("server log contains the password %q", pw)
		}
	}
}

// requireBrowser skips (or, under CI=true, fails) a browser test that
// cannot run here, and returns chromium, node and the built binaries.
func requireBrowser(t *testing.T) (chromium, node, bin string) {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping the browser tests in -short mode")
	}
	chromium, node = require(t)
	if _, err := os.Stat("dist/index.html"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("web/dist is not built (make web); CI=true: the browser tests must run")
		}
		t.Skip("skipping the browser tests: the UI is not built (run `make web`)")
	}
	return chromium, node, binaries(t)
}

// runScript runs a browser script of e2e/ against srv with env added,
// screenshots going to artifactsDir(sub), and fails the test when it fails.
func runScript(t *testing.T, node, script string, timeout time.Duration, srv *proc, sub string, env ...string) {
	t.Helper()
	artifacts := artifactsDir(sub)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	run := exec.CommandContext(ctx, node, script)
	stopGently(run)
	run.Env = append(append(os.Environ(), "AV_URL="+srv.match[1], "ARTIFACTS="+artifacts), env...)
	out, err := run.CombinedOutput()
	t.Logf("%s:\n%s", script, out)
	if err != nil {
		t.Fatalf("%s failed: %v (screenshots in %s)\nserver log:\n%s", script, err, artifacts, srv.log())
	}
}

// stopGently makes a timed-out browser script get SIGTERM, on which it stops
// its chromium, and SIGKILL only if it has not exited 10 s later.
func stopGently(cmd *exec.Cmd) {
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
}

// artifactsDir is where screenshots go: $AV_E2E_ARTIFACTS, else
// web/e2e/artifacts (gitignored), plus sub.
func artifactsDir(sub string) string {
	dir := os.Getenv("AV_E2E_ARTIFACTS")
	if dir == "" {
		dir, _ = filepath.Abs("e2e/artifacts")
	}
	return filepath.Join(dir, sub)
}

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds the server and the store emulators once for all browser
// tests of the run.
func binaries(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if binDir, buildErr = os.MkdirTemp("", "av-web-e2e-bin-"); buildErr != nil {
			return
		}
		for _, b := range []struct{ out, pkg string }{
			{"agent-vault", ".."},
			{"infisical-emulator", "../plugins/infisical/infisicaltest/cmd/infisical-emulator"},
			{"openbao-emulator", "../plugins/openbao/openbaotest/cmd/openbao-emulator"},
		} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(binDir, b.out), b.pkg)
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", b.pkg, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

// TestMain removes the shared binaries after the run.
func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

type proc struct {
	cmd   *exec.Cmd
	match []string
	mu    sync.Mutex
	out   bytes.Buffer
	done  chan error
}

func (p *proc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// start runs cmd, waits for a line matching re on stdout or stderr, and
// stops the process at cleanup.
func start(t *testing.T, cmd *exec.Cmd, re *regexp.Regexp, stdout bool) *proc {
	t.Helper()
	pr, pw := io.Pipe()
	if stdout {
		cmd.Stdout = pw
	} else {
		cmd.Stderr = pw
	}
	p := &proc{cmd: cmd, done: make(chan error, 1)}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait(); pw.Close() }()
	found := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.out.WriteString(line + "\n")
			p.mu.Unlock()
			if m := re.FindStringSubmatch(line); m != nil {
				select {
				case found <- m:
				default:
				}
			}
		}
	}()
	select {
	case p.match = <-found:
	case err := <-p.done:
		t.Fatalf("%s exited before serving: %v\n%s", cmd.Path, err, p.log())
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("%s did not start:\n%s", cmd.Path, p.log())
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// dataDir is a fresh data directory whose plugin compilation cache is kept
// in the user's cache directory between runs: compiling the store plugins
// takes seconds on a small machine, and the cache is keyed by the module's
// content and the runtime version, so reuse is safe.
func dataDir(t *testing.T) string {
	dir := t.TempDir()
	base, err := os.UserCacheDir()
	if err != nil {
		return dir
	}
	cache := filepath.Join(base, "agent-vault-web-e2e", "wasm-cache")
	// Each plugin build adds entries; start over once they pass a bound.
	if dirSize(cache) > 256<<20 {
		os.RemoveAll(cache)
	}
	if os.MkdirAll(cache, 0o700) == nil {
		os.Symlink(cache, filepath.Join(dir, "wasm-cache"))
	}
	return dir
}

func dirSize(dir string) (n int64) {
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

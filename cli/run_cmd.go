package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	client "github.com/agent-vault/agent-vault/openapi/client/go"
)

// runCmd starts a program whose HTTP(S) traffic goes through the proxy
// with a short-lived scoped session, so the program never holds a real
// credential (nor the caller's own token).
type runCmd struct {
	authFlag
	vaultFlag
	TTL     time.Duration `name:"ttl" default:"1h" help:"Lifetime of the scoped session the program gets (5m to 168h); it is revoked when the program exits."`
	Canary  []string      `name:"canary" placeholder:"NAME" help:"Put a new canary credential into the program's environment as NAME (repeatable): a request or response that carries it is blocked and the session revoked."`
	Command []string      `arg:"" passthrough:"partial" name:"command" help:"The program and its arguments, after --."`
}

func (runCmd) Help() string {
	return `The program gets HTTPS_PROXY and HTTP_PROXY pointing at the proxy with a new
scoped session for --vault, and SSL_CERT_FILE, CURL_CA_BUNDLE,
REQUESTS_CA_BUNDLE, GIT_SSL_CAINFO and NODE_EXTRA_CA_CERTS trusting the
proxy's interception CA. For clients that read other variables it also sets
NODE_USE_ENV_PROXY=1 and a NODE_OPTIONS preload (Node.js fetch), WGETRC
(wget), DENO_CERT (Deno) and JAVA_TOOL_OPTIONS (Java's trust store and proxy
host; a Java program supplies the proxy credentials with an Authenticator).
NO_PROXY keeps its entries and adds the Agent Vault API's host:port.
AGENT_VAULT_TOKEN is not passed on. The exit code is the program's.

--canary NAME mints a canary for the vault and sets NAME to it: a value
shaped like a real credential that nothing ever injects. If the program
sends it anywhere (an agent exfiltrating its environment), the proxy
refuses the request, revokes the session and logs an alert.

Example:
  agent-vault run --vault=my-app -- curl https://api.stripe.com/v1/charges`
}

// childExit carries the program's exit code out of Run, so Main exits
// with it and prints nothing.
type childExit struct{ code int }

func (e *childExit) Error() string { return fmt.Sprintf("the program exited with code %d", e.code) }

// systemBundles are where distributions keep their trusted roots; the
// first one found is combined with the proxy's CA.
var systemBundles = []string{
	"/etc/ssl/certs/ca-certificates.crt", // Debian, Ubuntu, Alpine
	"/etc/pki/tls/certs/ca-bundle.crt",   // Fedora, RHEL
	"/etc/ssl/cert.pem",                  // macOS, OpenBSD
	"/etc/ssl/ca-bundle.pem",             // openSUSE
}

// proxyEnv are the variables run sets; any inherited value is replaced.
var proxyEnv = append([]string{tokenEnv, "AGENT_VAULT_VAULT"}, clientEnvNames...)

func (r *runCmd) Run(e *env, c *apiClient) error {
	if len(r.Command) > 0 && r.Command[0] == "--" {
		r.Command = r.Command[1:]
	}
	if len(r.Command) == 0 {
		return usageErrorf("no program to run: agent-vault run --vault=NAME -- PROGRAM [ARGS…]")
	}
	switch r.vaultSource {
	case sourceDefault:
		// The default vault is easy to use by accident: say so, on stderr,
		// where the program's own output is not.
		fmt.Fprintf(e.Stderr, "agent-vault: using vault %q (choose another with --vault=NAME, AGENT_VAULT_VAULT or 'agent-vault vault use NAME')\n", r.Vault)
	case sourceFile:
		fmt.Fprintf(e.Stderr, "agent-vault: using vault %q from %s\n", r.Vault, r.vaultFile)
	}
	ca, port, err := fetchCA(c)
	if err != nil {
		return err
	}
	var canaryEnv []string
	for _, name := range r.Canary {
		cn, err := decode[client.CreateCanaryOutputBody](c.api.CreateCanary(c.ctx, r.Vault, client.CreateCanaryJSONRequestBody{Name: name}))
		if err != nil {
			return err
		}
		canaryEnv = append(canaryEnv, name+"="+cn.Value)
	}
	secs := int64(r.TTL / time.Second)
	sess, err := decode[client.CreateSessionOutputBody](c.api.CreateSession(c.ctx, client.CreateSessionJSONRequestBody{Vault: r.Vault, TtlSeconds: &secs}))
	if err != nil {
		return err
	}
	// Revoke even after Ctrl-C, so the token dies with the program.
	defer endSession(e, c, r.Vault, sess)
	dir, err := os.MkdirTemp("", "agent-vault-run-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	caFile, bundleFile, err := writeTrust(dir, ca)
	if err != nil {
		return err
	}
	api, err := url.Parse(c.addr)
	if err != nil {
		return err
	}
	proxy := &url.URL{Scheme: "http", User: url.UserPassword(sess.Token, r.Vault), Host: net.JoinHostPort(api.Hostname(), port)}
	environ := os.Environ()
	clients, err := clientEnv(runTrust{dir: dir, caFile: caFile, bundleFile: bundleFile}, proxy, apiHostPort(api), environ)
	if err != nil {
		return err
	}

	cmd := exec.Command(r.Command[0], r.Command[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = e.Stdin, e.Stdout, e.Stderr
	cmd.Env = append(withoutEnv(environ, append(slices.Clone(proxyEnv), r.Canary...)), "AGENT_VAULT_VAULT="+r.Vault)
	cmd.Env = append(append(cmd.Env, clients...), canaryEnv...)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", r.Command[0], err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-c.ctx.Done():
		// A terminal's Ctrl-C reaches the program itself; SIGTERM sent to
		// us alone is passed on. Either way, wait for it to finish.
		_ = cmd.Process.Signal(syscall.SIGTERM)
		err = <-done
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code := exit.ExitCode()
		if code < 0 {
			code = 128 + int(syscall.SIGTERM)
		}
		return &childExit{code: code}
	}
	return err
}

// endSession revokes the program's scoped session (the minter may always
// revoke its own, whatever its role is now), then checks that the token no
// longer authenticates. When either fails it says so on stderr, with what
// to do; the exit code stays the program's.
func endSession(e *env, c *apiClient, vault string, sess *client.CreateSessionOutputBody) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, revokeErr := decode[struct{}](c.api.RevokeMySession(ctx, sess.Id))
	res, err := c.api.GetMe(ctx, func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+sess.Token)
		return nil
	})
	status := 0
	if err == nil {
		status = res.StatusCode
		res.Body.Close()
	}
	if status == http.StatusUnauthorized {
		return // the token is dead: revoked now, or ended with its creator's access
	}
	check := fmt.Sprintf("the server answered %d", status)
	if err != nil {
		check = err.Error()
	}
	if revokeErr != nil {
		fmt.Fprintf(e.Stderr, "warning: could not revoke the scoped session %s (%v); it stays valid until %s.\n"+
			"Revoke it with: agent-vault vault session revoke --vault=%s %s\n", sess.Id, revokeErr, when(sess.ExpiresAt), vault, sess.Id)
		return
	}
	fmt.Fprintf(e.Stderr, "warning: revoked the scoped session %s, but could not confirm that its token is refused (%s).\n"+
		"Check with: agent-vault vault session list --vault=%s\n", sess.Id, check, vault)
}

// fetchCA gets the proxy's root certificate and port from the server.
func fetchCA(c *apiClient) (pem []byte, port string, err error) {
	res, err := c.api.GetMitmCa(c.ctx)
	if err != nil {
		_, err = decode[struct{}](res, err)
		return nil, "", err
	}
	if res.StatusCode != http.StatusOK {
		_, err = decode[struct{}](res, nil)
		return nil, "", err
	}
	defer res.Body.Close()
	pem, err = io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return nil, "", err
	}
	port = res.Header.Get("X-MITM-Port")
	if port == "" || !strings.Contains(string(pem), "BEGIN CERTIFICATE") {
		return nil, "", fmt.Errorf("the server at %s did not return the proxy's certificate and port", c.addr)
	}
	return pem, port, nil
}

// writeTrust writes the proxy CA alone (for NODE_EXTRA_CA_CERTS, which
// adds to Node's roots) and a bundle of the system roots plus the CA (for
// the variables that replace the roots).
func writeTrust(dir string, ca []byte) (caFile, bundleFile string, err error) {
	caFile = filepath.Join(dir, "agent-vault-ca.pem")
	if err := os.WriteFile(caFile, ca, 0o600); err != nil {
		return "", "", err
	}
	var bundle []byte
	candidates := systemBundles
	if f := os.Getenv("SSL_CERT_FILE"); f != "" {
		candidates = append([]string{f}, candidates...)
	}
	for _, p := range candidates {
		if b, err := os.ReadFile(p); err == nil {
			bundle = append(b, '\n')
			break
		}
	}
	bundleFile = filepath.Join(dir, "ca-bundle.pem")
	return caFile, bundleFile, os.WriteFile(bundleFile, append(bundle, ca...), 0o600)
}

// withoutEnv drops the named variables from an environment list.
func withoutEnv(environ, names []string) []string {
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		drop := false
		for _, n := range names {
			drop = drop || k == n
		}
		if !drop {
			out = append(out, kv)
		}
	}
	return out
}

// Interface guards
var _ error = (*childExit)(nil)

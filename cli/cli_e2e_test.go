package cli_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/plugins/infisical/infisicaltest"
	"github.com/agent-vault/agent-vault/sdk/golden"
	"github.com/creack/pty"
)

// operator runs the real binary as one person: own HOME (so own session
// file), talking to one server.
type operator struct {
	t    testing.TB
	home string
	addr string
	dir  string // working directory; empty means home
}

func newOperator(t testing.TB, addr string) *operator {
	return &operator{t: t, home: t.TempDir(), addr: addr}
}

// follow starts the binary with args, a command that keeps printing (such
// as `vault logs --follow`), and returns its stdout lines as they come and
// a stop that kills it.
func (o *operator) follow(args ...string) (lines <-chan string, stop func()) {
	o.t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = []string{"HOME=" + o.home, "PATH=" + os.Getenv("PATH"), "AGENT_VAULT_ADDR=" + o.addr}
	out, err := cmd.StdoutPipe()
	if err != nil {
		o.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		o.t.Fatal(err)
	}
	ch := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			ch <- sc.Text()
		}
		close(ch)
	}()
	return ch, func() { cmd.Process.Kill(); cmd.Wait() }
}

// run executes the binary with stdin and extra environment entries and
// returns its output and exit code.
func (o *operator) run(stdin *os.File, input string, env []string, args ...string) (stdout, stderr string, code int) {
	o.t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = o.home
	if o.dir != "" {
		cmd.Dir = o.dir
	}
	cmd.Env = append([]string{"HOME=" + o.home, "PATH=" + os.Getenv("PATH"), "AGENT_VAULT_ADDR=" + o.addr, "COLUMNS=80"}, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != nil {
		cmd.Stdin = stdin
	} else {
		cmd.Stdin = strings.NewReader(input)
	}
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		o.t.Fatalf("running %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// normalizers make a transcript independent of ports, ids, clocks and
// random tokens, keeping column widths so tables stay aligned.
var normalizers = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`http://127\.0\.0\.1:\d+`), "http://127.0.0.1:PORT0"},
	{regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`), "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"},
	{regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`), "YYYY-MM-DDThh:mm:ssZ"},
	{regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d`), "YYYY-MM-DD hh:mm"},
	{regexp.MustCompile(`\b(av_[a-z]+_)[A-Za-z0-9_-]{16,}`), "${1}TOKEN"},
}

func normalize(s string) string {
	for _, n := range normalizers {
		s = n.re.ReplaceAllString(s, n.with)
	}
	return s
}

// step is one command of a scripted session. args may hold {name}
// placeholders filled from values captured by earlier steps.
type step struct {
	name     string
	as       string // operator; "" is the owner
	stdin    string
	env      []string
	args     []string
	wantExit int
	quiet    bool // only the exit code goes into the transcript
	before   func(t *testing.T, vars map[string]string)
	capture  func(stdout string, vars map[string]string)
}

// propose posts a proposal as the agent, the way an agent would (the CLI
// is the reviewer's side), and keeps its id in vars[name].
func propose(url, name, body string) func(*testing.T, map[string]string) {
	return func(t *testing.T, vars map[string]string) {
		status, res := post(t, url+"/v1/proposals", vars["agent_token"], body)
		if status != http.StatusCreated {
			t.Fatalf("proposal: %d %s", status, res)
		}
		var p struct{ ID string }
		json.Unmarshal([]byte(res), &p)
		vars[name] = p.ID
	}
}

func jsonField(field string) func(string, map[string]string) {
	return func(stdout string, vars map[string]string) {
		var m map[string]any
		if err := json.Unmarshal([]byte(stdout), &m); err == nil {
			if s, ok := m[field].(string); ok {
				vars[field] = s
			}
		}
	}
}

// TestCLI drives every command through the built binary against one real
// server (loopback, temp data dir). The whole session, normalised, is the
// golden testdata/e2e/session.golden: human and --json output, error
// messages and exit codes.
func TestCLI(t *testing.T) {
	s := startServer(t, newDataDir(t))
	owner := newOperator(t, s.URL)
	ops := map[string]*operator{"": owner, "member": newOperator(t, s.URL)}
	if err := os.WriteFile(filepath.Join(owner.home, "services.yaml"), []byte(`services:
  - name: github
    host: api.github.com
    auth: {type: bearer, token: GITHUB_TOKEN}
  - name: legacy
    host: "*.legacy.internal"
    auth:
      type: custom
      headers: {X-Auth: "Key {{ A_KEY }}"}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(owner.home, "proposal.yaml"), []byte(`message: Need to post to Slack
services:
  - {action: set, name: slack, host: slack.com, auth: {type: bearer, token: SLACK_TOKEN}}
credentials:
  - {action: set, key: SLACK_TOKEN, description: Slack bot token}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(owner.home, "bad.yaml"), []byte("services:\n  - name: x\n    host: h.com\n    colour: red\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	steps := []step{
		{name: "status-before-register", args: []string{"status"}},
		{name: "status-json", args: []string{"status", "--json"}},
		{name: "whoami-signed-out", args: []string{"whoami"}, wantExit: 6},
		{name: "register", stdin: "password1\n", args: []string{"register", "--email", "owner@example.com", "--password-stdin"}},
		{name: "register-again", stdin: "password2\n", args: []string{"register", "--email", "x@example.com", "--password-stdin"}, wantExit: 4},
		{name: "whoami", args: []string{"whoami"}},
		{name: "whoami-json", args: []string{"whoami", "--json"}},
		{name: "logout", args: []string{"logout"}},
		{name: "whoami-after-logout", args: []string{"whoami"}, wantExit: 6},
		{name: "login-wrong-password", stdin: "password9\n", args: []string{"login", "--email", "owner@example.com", "--password-stdin"}, wantExit: 6},
		{name: "login-no-terminal", args: []string{"login", "--email", "owner@example.com"}, wantExit: 2},
		{name: "login", stdin: "password1\n", args: []string{"login", "--email", "owner@example.com", "--password-stdin", "--json"}},

		{name: "vault-create", args: []string{"vault", "create", "my-app"}},
		{name: "vault-create-json", args: []string{"vault", "create", "other", "--json"}},
		{name: "vault-create-bad-name", args: []string{"vault", "create", "BAD"}, wantExit: 1},
		{name: "vault-create-exists", args: []string{"vault", "create", "my-app"}, wantExit: 4},
		{name: "vault-create-missing-arg", args: []string{"vault", "create"}, wantExit: 2},
		{name: "vault-list", args: []string{"vault", "list"}},
		{name: "vault-list-json", args: []string{"vault", "ls", "--json"}},
		{name: "vault-show-json", args: []string{"vault", "show", "my-app", "--json"}},
		{name: "vault-show-missing", args: []string{"vault", "show", "nope"}, wantExit: 3},
		{name: "vault-rename", args: []string{"vault", "rename", "other", "other-two"}},
		{name: "vault-settings-get", args: []string{"vault", "settings", "get", "my-app"}},
		{name: "vault-settings-set-json", args: []string{"vault", "settings", "set", "my-app", "--unmatched-host-policy", "deny", "--json"}},
		{name: "vault-settings-set-nothing", args: []string{"vault", "settings", "set", "my-app"}, wantExit: 2},
		{name: "vault-settings-set-bad-enum", args: []string{"vault", "settings", "set", "my-app", "--unmatched-host-policy", "maybe"}, wantExit: 2},

		{name: "creds-set", stdin: "from-stdin-value\n", args: []string{"vault", "credential", "set", "--vault", "my-app", "A_KEY=inline-value", "B_KEY=-"}},
		{name: "creds-set-two-stdin-json", stdin: "u-value\np-value\n", args: []string{"vault", "creds", "set", "--vault=my-app", "DB_POSTGRES_USERNAME=-", "DB_POSTGRES_PASSWORD=-", "--json"}},
		{name: "creds-set-bad-key", args: []string{"vault", "creds", "set", "--vault", "my-app", "lower=secret-value"}, wantExit: 1},
		{name: "creds-set-not-a-pair", args: []string{"vault", "creds", "set", "--vault", "my-app", "secret-value"}, wantExit: 2},
		{name: "creds-set-empty-stdin", stdin: "", args: []string{"vault", "credential", "set", "--vault", "my-app", "EMPTY_KEY=-"}, wantExit: 1},
		{name: "creds-set-empty-inline-json", args: []string{"vault", "credential", "set", "--vault", "my-app", "EMPTY_KEY=", "--json"}, wantExit: 1},
		{name: "creds-set-empty-allowed", stdin: "", args: []string{"vault", "credential", "set", "--vault", "my-app", "EMPTY_KEY=-", "--allow-empty"}},
		{name: "creds-delete-empty", args: []string{"vault", "creds", "delete", "--vault", "my-app", "EMPTY_KEY"}},
		{name: "creds-list", args: []string{"vault", "creds", "list", "--vault", "my-app"}},
		{name: "creds-list-json", env: []string{"AGENT_VAULT_VAULT=my-app"}, args: []string{"vault", "creds", "ls", "--json"}},
		{name: "creds-list-empty-default", args: []string{"vault", "creds", "list"}},
		{name: "creds-list-missing-vault", args: []string{"vault", "creds", "list", "--vault", "nope"}, wantExit: 3},
		{name: "creds-delete-json", args: []string{"vault", "creds", "delete", "--vault", "my-app", "B_KEY", "--json"}},
		{name: "creds-delete-missing", args: []string{"vault", "creds", "rm", "--vault", "my-app", "NOPE"}, wantExit: 3},

		{name: "store-kinds", args: []string{"vault", "credential-store", "kinds"}},
		{name: "store-kinds-json", args: []string{"vault", "credential-store", "kinds", "--json"}},
		{name: "store-show", args: []string{"vault", "credential-store", "show", "my-app"}},
		{name: "store-show-json", args: []string{"vault", "credential-store", "show", "my-app", "--json"}},
		{name: "store-show-missing", args: []string{"vault", "credential-store", "show", "nope"}, wantExit: 3},
		{name: "store-sync-builtin", args: []string{"vault", "credential-store", "sync", "my-app"}, wantExit: 4},
		{name: "store-set-no-terminal", args: []string{"vault", "credential-store", "set", "my-app", "--kind=builtin"}, wantExit: 2},
		{name: "store-set-builtin-yes-json", args: []string{"vault", "credential-store", "set", "my-app", "--kind=builtin", "--yes", "--json"}},
		{name: "store-set-infisical-not-configured", args: []string{"vault", "credential-store", "set", "my-app", "--kind=infisical", "--infisical-project-id=abc123", "--infisical-environment=dev", "--infisical-path=/stripe", "--poll-interval-seconds=60", "--yes"}, wantExit: 1},
		{name: "store-set-infisical-missing-flags", args: []string{"vault", "credential-store", "set", "my-app", "--kind=infisical", "--yes"}, wantExit: 2},
		{name: "store-set-missing-kind", args: []string{"vault", "credential-store", "set", "my-app"}, wantExit: 2},
		{name: "vault-create-infisical-missing-flags", args: []string{"vault", "create", "x-app", "--credential-store=infisical"}, wantExit: 2},

		{name: "service-set-issue-line", args: []string{"service", "set", "my-db", "--vault=my-app", "--host=db.internal", "--auth=basic", "--username=DB_POSTGRES_USERNAME", "--password=DB_POSTGRES_PASSWORD"}},
		{name: "service-add-exists", args: []string{"service", "add", "my-db", "--vault=my-app", "--host=db.internal", "--auth=passthrough"}, wantExit: 4},
		{name: "service-add-api-key-json", args: []string{"vault", "service", "add", "stripe", "--vault=my-app", "--host=api.stripe.com", "--auth=api-key", "--key=A_KEY", "--header=Authorization", "--prefix=Bearer ", "--json"}},
		{name: "service-set-custom", args: []string{"vault", "service", "set", "hooks", "--vault=my-app", "--host=hooks.example.com", "--auth=custom", "--custom-header=X-Key={{ A_KEY }}", "--custom-header=X-User={{ DB_POSTGRES_USERNAME }}", "--disabled"}},
		{name: "service-set-missing-auth", args: []string{"vault", "service", "set", "x", "--vault=my-app", "--host=x.com"}, wantExit: 2},
		{name: "service-set-bad-host", args: []string{"vault", "service", "set", "x", "--vault=my-app", "--host=http://x.com/", "--auth=passthrough"}, wantExit: 1},
		{name: "service-set-file", args: []string{"vault", "service", "set", "-f", "services.yaml", "--vault=my-app"}},
		{name: "service-set-bad-file", args: []string{"vault", "service", "set", "-f", "bad.yaml", "--vault=my-app"}, wantExit: 1},
		{name: "service-list", args: []string{"vault", "service", "list", "--vault=my-app"}},
		{name: "service-list-json", args: []string{"service", "ls", "--vault=my-app", "--json"}},
		{name: "service-export", args: []string{"service", "export", "--vault=my-app"}},
		{name: "service-disable-json", args: []string{"service", "disable", "stripe", "--vault=my-app", "--json"}},
		{name: "service-enable", args: []string{"service", "enable", "hooks", "--vault=my-app"}},
		{name: "service-remove", args: []string{"service", "remove", "legacy", "--vault=my-app"}},
		{name: "service-remove-missing", args: []string{"service", "rm", "legacy", "--vault=my-app"}, wantExit: 3},

		{name: "agent-create-json", args: []string{"agent", "create", "bot", "--grant", "my-app=proxy", "--json"}, capture: func(out string, vars map[string]string) {
			jsonField("token")(out, vars)
			vars["agent_token"] = vars["token"]
		}},
		{name: "agent-create", args: []string{"agent", "create", "helper"}},
		{name: "agent-create-bad-grant", args: []string{"agent", "create", "x", "--grant", "my-app"}, wantExit: 2},
		{name: "agent-list", args: []string{"agent", "list"}},
		{name: "agent-list-json", args: []string{"agent", "ls", "--json"}},
		{name: "agent-token-whoami", env: []string{"AGENT_VAULT_TOKEN={agent_token}"}, args: []string{"whoami"}},
		{name: "agent-token-forbidden", env: []string{"AGENT_VAULT_TOKEN={agent_token}"}, args: []string{"vault", "creds", "set", "--vault=my-app", "X_KEY=secret-value"}, wantExit: 5},
		{name: "agent-token-flag-forbidden", args: []string{"agent", "list", "--token", "{agent_token}"}, wantExit: 5},
		{name: "discover-as-agent", env: []string{"AGENT_VAULT_TOKEN={agent_token}"}, args: []string{"discover"}},
		{name: "discover-as-agent-json", env: []string{"AGENT_VAULT_TOKEN={agent_token}"}, args: []string{"discover", "--json"}},
		{name: "proposal-list-empty", args: []string{"vault", "proposal", "list", "--vault=my-app"}},
		{name: "proposal-list", before: propose(s.URL, "p1", `{"vault":"my-app","message":"Need read access to Stripe charges","user_message":"Report last month's charges",
			"services":[{"action":"set","name":"stripe-api","host":"api.stripe.com","auth":{"type":"bearer","token":"STRIPE_SECRET"}}],
			"credentials":[{"action":"set","key":"STRIPE_SECRET","description":"Stripe secret key","obtain":"https://dashboard.stripe.com/apikeys"}]}`),
			args: []string{"vault", "proposal", "list", "--vault=my-app"}},
		{name: "proposal-show", args: []string{"vault", "proposal", "show", "{p1}", "--vault=my-app"}},
		{name: "proposal-approve-missing-value", args: []string{"vault", "proposal", "approve", "{p1}", "--vault=my-app"}, wantExit: 1},
		{name: "proposal-approve-json", stdin: "sk-approved-value\n", args: []string{"vault", "proposal", "approve", "{p1}", "--vault=my-app", "STRIPE_SECRET=-", "--json"}},
		{name: "proposal-approve-again", stdin: "sk-approved-value\n", args: []string{"vault", "proposal", "approve", "{p1}", "--vault=my-app", "STRIPE_SECRET=-"}, wantExit: 4},
		{name: "proposal-reject", before: propose(s.URL, "p2", `{"vault":"my-app","message":"Need GitHub","services":[{"action":"set","name":"gh","host":"api.github.com","auth":{"type":"passthrough"}}]}`),
			args: []string{"vault", "proposal", "reject", "{p2}", "--vault=my-app", "--reason", "Use the existing github service"}},
		{name: "proposal-list-pending", args: []string{"vault", "proposal", "ls", "--vault=my-app", "--status=pending"}},
		{name: "proposal-show-missing", args: []string{"vault", "proposal", "show", "nope", "--vault=my-app"}, wantExit: 3},
		{name: "explain-disabled-service", args: []string{"vault", "explain", "https://api.stripe.com/v1/charges", "--vault=my-app"}},
		{name: "explain-refuse-json", args: []string{"vault", "explain", "https://unknown.example.com/", "--vault=my-app", "--method=POST", "--json"}},
		{name: "explain-bad-url", args: []string{"vault", "explain", "ftp://x", "--vault=my-app"}, wantExit: 1},
		{name: "logs-empty", args: []string{"vault", "logs", "--vault=my-app"}},
		{name: "agent-proposal-create-json", env: []string{"AGENT_VAULT_TOKEN={agent_token}"}, args: []string{"proposal", "create", "-f", "proposal.yaml", "--json"}, capture: jsonField("id")},
		{name: "agent-proposal-create-bad", env: []string{"AGENT_VAULT_TOKEN={agent_token}"}, args: []string{"proposal", "create", "-f", "bad.yaml"}, wantExit: 2},
		{name: "agent-proposal-list", env: []string{"AGENT_VAULT_TOKEN={agent_token}"}, args: []string{"proposal", "list", "--status=pending"}},
		{name: "agent-proposal-show", env: []string{"AGENT_VAULT_TOKEN={agent_token}"}, args: []string{"proposal", "show", "{id}"}},
		{name: "agent-guide", quiet: true, env: []string{"AGENT_VAULT_TOKEN={agent_token}"}, args: []string{"guide"}},
		{name: "agent-rotate", args: []string{"agent", "rotate", "bot"}},
		{name: "agent-old-token", env: []string{"AGENT_VAULT_TOKEN={agent_token}"}, args: []string{"whoami"}, wantExit: 6},
		{name: "agent-revoke-json", args: []string{"agent", "revoke", "helper", "--json"}},
		{name: "agent-delete-missing", args: []string{"agent", "delete", "nobody"}, wantExit: 3},

		{name: "vault-agent-add", args: []string{"vault", "agent", "add", "helper", "--vault=my-app"}},
		{name: "vault-agent-set-role", args: []string{"vault", "agent", "set-role", "helper", "member", "--vault=my-app"}},
		{name: "vault-agent-list", args: []string{"vault", "agent", "list", "--vault=my-app"}},
		{name: "vault-agent-remove", args: []string{"vault", "agent", "remove", "helper", "--vault=my-app"}},
		{name: "agent-delete", args: []string{"agent", "delete", "helper"}},

		{name: "invite-create-json", args: []string{"invite", "create", "--email", "member@example.com", "--json"}, capture: jsonField("token")},
		{name: "invite-accept", as: "member", stdin: "password3\n", args: []string{"invite", "accept", "{token}", "--email", "member@example.com", "--password-stdin"}},
		{name: "invite-accept-again", as: "member", stdin: "password3\n", args: []string{"invite", "accept", "{token}", "--email", "member@example.com", "--password-stdin"}, wantExit: 1},
		{name: "member-whoami", as: "member", args: []string{"whoami"}},
		{name: "member-cannot-see-vault", as: "member", args: []string{"vault", "creds", "list", "--vault=my-app"}, wantExit: 5},
		{name: "vault-user-add", args: []string{"vault", "user", "add", "member@example.com", "--vault=my-app"}},
		{name: "vault-user-set-role", args: []string{"vault", "user", "set-role", "member@example.com", "admin", "--vault=my-app"}},
		{name: "vault-user-list-json", args: []string{"vault", "user", "list", "--vault=my-app", "--json"}},
		{name: "member-sees-vault", as: "member", args: []string{"vault", "creds", "list", "--vault=my-app"}},
		{name: "vault-user-remove", args: []string{"vault", "user", "remove", "member@example.com", "--vault=my-app"}},
		{name: "user-list", args: []string{"user", "list"}},
		{name: "user-set-role", args: []string{"user", "set-role", "member@example.com", "no-access"}},
		{name: "user-set-role-missing", args: []string{"user", "set-role", "nobody@example.com", "member"}, wantExit: 3},
		{name: "user-delete", args: []string{"user", "delete", "member@example.com"}},

		{name: "vault-session-create-json", args: []string{"vault", "session", "create", "--vault=my-app", "--ttl=1h", "--json"}, capture: jsonField("id")},
		{name: "vault-session-create-bad-ttl", args: []string{"vault", "session", "create", "--vault=my-app", "--ttl=1m"}, wantExit: 1},
		{name: "vault-session-list", args: []string{"vault", "session", "list", "--vault=my-app"}},
		{name: "vault-session-revoke", args: []string{"vault", "session", "revoke", "{id}", "--vault=my-app"}},

		{name: "vault-join-json", args: []string{"vault", "join", "other-two", "--json"}},
		{name: "service-replace-from-file", args: []string{"service", "set", "-f", "services.yaml", "--replace", "--vault=my-app"}},
		{name: "service-list-after-replace", args: []string{"service", "list", "--vault=my-app"}},
		{name: "service-replace-without-file", args: []string{"service", "set", "x", "--replace", "--vault=my-app"}, wantExit: 2},
		{name: "service-remove-all-no-terminal", args: []string{"service", "remove", "--all", "--vault=my-app"}, wantExit: 2},
		{name: "service-remove-all-yes", args: []string{"service", "remove", "--all", "--yes", "--vault=my-app"}},
		{name: "service-remove-nothing", args: []string{"service", "remove", "--vault=my-app"}, wantExit: 2},
		{name: "service-list-after-remove-all", args: []string{"service", "list", "--vault=my-app"}},
		{name: "vault-delete-missing", args: []string{"vault", "delete", "nope", "--yes"}, wantExit: 3},
		{name: "vault-delete-no-terminal", args: []string{"vault", "delete", "other-two"}, wantExit: 2},
		{name: "vault-delete-yes-json", args: []string{"vault", "delete", "other-two", "--yes", "--json"}},
		{name: "vault-delete-default", args: []string{"vault", "delete", "default", "--yes"}, wantExit: 4},

		{name: "run-proxy-disabled", args: []string{"run", "--vault=my-app", "--", "true"}, wantExit: 3},
		{name: "unreachable", args: []string{"status", "--addr", "http://127.0.0.1:9"}, wantExit: 1},
		{name: "bad-addr", args: []string{"status", "--addr", "ftp://x"}, wantExit: 2},
		{name: "unknown-command", args: []string{"vault", "frobnicate"}, wantExit: 2},
		{name: "unknown-command-json", args: []string{"vault", "frobnicate", "--json"}, wantExit: 2},
		{name: "unknown-flag-after-alias", args: []string{"vault", "ls", "--bogus"}, wantExit: 2},
		{name: "missing-vault-json", args: []string{"vault", "show", "nope", "--json"}, wantExit: 3},
		{name: "service-private-host", args: []string{"service", "set", "local", "--vault=my-app", "--host=10.0.0.1", "--auth=bearer", "--token=A_KEY"}, wantExit: 1},
		{name: "run-unknown-flag", args: []string{"run", "--vault=my-app", "--no-such-flag", "--", "true"}, wantExit: 2},
		{name: "bare", args: []string{}, quiet: true},
		{name: "version", args: []string{"version"}},
		{name: "version-json", args: []string{"version", "--json"}},
		{name: "completion-fish", args: []string{"completion", "fish"}},
		{name: "complete-words", args: []string{"__complete", "vault", "service"}},
	}

	transcript := runSteps(t, ops, steps, []string{"inline-value", "from-stdin-value", "u-value", "p-value", "secret-value", "password1", "password3", "sk-approved-value"})
	got := strings.ReplaceAll(transcript, owner.home, "$HOME")
	golden.Check(t, "e2e/session", []byte(normalize(got)))

	t.Run("confirm", func(t *testing.T) { testConfirm(t, owner) })
	t.Run("login-prompts", func(t *testing.T) { testLoginPrompts(t, newOperator(t, s.URL)) })
}

// runSteps runs a scripted session through the real binary, checks exit
// codes and that no secret shows, and returns the transcript.
func runSteps(t *testing.T, ops map[string]*operator, steps []step, secrets []string) string {
	t.Helper()
	owner := ops[""]
	vars := map[string]string{}
	var transcript strings.Builder
	for _, st := range steps {
		expand := func(s string) string {
			for k, v := range vars {
				s = strings.ReplaceAll(s, "{"+k+"}", v)
			}
			return s
		}
		if st.before != nil {
			st.before(t, vars)
		}
		args := make([]string, len(st.args))
		for i, a := range st.args {
			args[i] = expand(a)
		}
		env := make([]string, len(st.env))
		for i, e := range st.env {
			env[i] = expand(e)
		}
		stdout, stderr, code := ops[st.as].run(nil, st.stdin, env, args...)
		if code != st.wantExit {
			t.Errorf("%s: exit %d, want %d\nstdout: %s\nstderr: %s", st.name, code, st.wantExit, stdout, stderr)
		}
		if st.capture != nil {
			st.capture(stdout, vars)
		}
		for _, secret := range secrets {
			if strings.Contains(stdout+stderr, secret) {
				t.Errorf("%s: output shows the secret %q", st.name, secret)
			}
		}
		who := ""
		if st.as != "" {
			who = "(" + st.as + ") "
		}
		transcript.WriteString("### " + st.name + "\n" + who + "$ agent-vault " + strings.Join(st.args, " ") + "\n")
		if st.quiet {
			if stdout == "" {
				t.Errorf("%s: no output", st.name)
			}
		} else {
			transcript.WriteString(stdout)
			if stderr != "" {
				transcript.WriteString("[stderr]\n" + stderr)
			}
		}
		transcript.WriteString("[exit " + strconv.Itoa(code) + "]\n\n")

		if st.name == "register" {
			fi, err := os.Stat(filepath.Join(owner.home, ".agent-vault", "session.json"))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("session.json has mode %v, want 0600", fi.Mode().Perm())
			}
		}
	}
	return transcript.String()
}

// vaultExists asks the server through the CLI.
func vaultExists(t *testing.T, o *operator, name string) bool {
	t.Helper()
	stdout, stderr, code := o.run(nil, "", nil, "vault", "list", "--json")
	if code != 0 {
		t.Fatalf("vault list: %d %s", code, stderr)
	}
	return strings.Contains(stdout, `"name": "`+name+`"`)
}

// withTerminal runs the binary with a pseudo-terminal as stdin and the
// typed input already queued on it.
func withTerminal(t *testing.T, o *operator, typed string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	defer tty.Close()
	// Drain the echo so the terminal never blocks on a full buffer.
	go func() { _, _ = bytes.NewBuffer(nil).ReadFrom(ptmx) }()
	if _, err := ptmx.Write([]byte(typed)); err != nil {
		t.Fatal(err)
	}
	return o.run(tty, "", nil, args...)
}

// testConfirm answers the typed confirmations (vault delete, credential-
// store set) right and wrong on a terminal; "absent" (no terminal, no
// --yes) is in the script.
func testConfirm(t *testing.T, owner *operator) {
	if _, stderr, code := owner.run(nil, "", nil, "vault", "create", "doomed"); code != 0 {
		t.Fatalf("create: %s", stderr)
	}
	const deletePrompt = "Deleting vault \"doomed\" removes its credentials, services and grants for good.\nType the vault name (doomed) to confirm: "
	const storePrompt = "Vault \"doomed\" stays on the built-in store.\nType the vault name (doomed) to confirm: "
	tests := []struct {
		name       string
		args       []string
		typed      string
		wantExit   int
		wantStderr string
		wantStdout string
		wantExists bool
	}{
		{"store-set-wrong", []string{"vault", "credential-store", "set", "doomed", "--kind=builtin"}, "my-app\n", 1,
			storePrompt + "error: the confirmation did not match \"doomed\"; nothing was changed\n", "", true},
		{"store-set-right", []string{"vault", "credential-store", "set", "doomed", "--kind=builtin"}, "doomed\n", 0,
			storePrompt, "Vault doomed now uses the builtin credential store.\n", true},
		{"delete-wrong", []string{"vault", "delete", "doomed"}, "my-app\n", 1,
			deletePrompt + "error: the confirmation did not match \"doomed\"; nothing was changed\n", "", true},
		{"delete-empty", []string{"vault", "delete", "doomed"}, "\n", 1,
			deletePrompt + "error: the confirmation did not match \"doomed\"; nothing was changed\n", "", true},
		{"delete-right", []string{"vault", "delete", "doomed"}, "doomed\n", 0, deletePrompt, "Deleted vault doomed.\n", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := withTerminal(t, owner, tc.typed, tc.args...)
			if code != tc.wantExit {
				t.Fatalf("exit %d, want %d\n%s%s", code, tc.wantExit, stdout, stderr)
			}
			if stderr != tc.wantStderr {
				t.Errorf("stderr %q\nwant   %q", stderr, tc.wantStderr)
			}
			if !strings.HasPrefix(stdout, tc.wantStdout) || (tc.wantStdout == "" && stdout != "") {
				t.Errorf("stdout %q, want prefix %q", stdout, tc.wantStdout)
			}
			if got := vaultExists(t, owner, "doomed"); got != tc.wantExists {
				t.Errorf("vault exists = %v, want %v", got, tc.wantExists)
			}
		})
	}
}

// TestRegisterPrompts chooses the first password on a terminal: the rule
// is said before the prompt, a short one is refused before it is repeated,
// two different ones are refused, and two equal ones register.
func TestRegisterPrompts(t *testing.T) {
	s := startServer(t, newDataDir(t))
	o := newOperator(t, s.URL)
	const rule = "Email: Choose a password of at least 8 characters.\nPassword: \n"
	tests := []struct {
		name, typed, wantStderr string
		wantExit                int
	}{
		{"too-short", "you@example.com\nshort\n", rule + "error: weak_password: the password has 5 characters; it needs at least 8\n", 1},
		{"mismatch", "you@example.com\npassword1\npassword2\n", rule + "Repeat the password: \nerror: password_mismatch: the two passwords differ; nothing was changed\n", 1},
		{"ok", "you@example.com\npassword1\npassword1\n", rule + "Repeat the password: \n", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := withTerminal(t, o, tc.typed, "register")
			if code != tc.wantExit || stderr != tc.wantStderr {
				t.Fatalf("exit %d (want %d)\nstderr %q\nwant   %q\nstdout %s", code, tc.wantExit, stderr, tc.wantStderr, stdout)
			}
		})
	}
}

// testLoginPrompts signs in by answering the email and password prompts.
func testLoginPrompts(t *testing.T, o *operator) {
	stdout, stderr, code := withTerminal(t, o, "owner@example.com\npassword1\n", "login")
	if code != 0 {
		t.Fatalf("login: exit %d\n%s%s", code, stdout, stderr)
	}
	if stderr != "Email: Password: \n" {
		t.Errorf("prompts: %q", stderr)
	}
	if want := "Signed in as owner@example.com on "; !strings.HasPrefix(stdout, want) {
		t.Errorf("stdout %q, want prefix %q", stdout, want)
	}
	if _, stderr, code := o.run(nil, "", nil, "whoami"); code != 0 {
		t.Errorf("whoami after prompted login: %d %s", code, stderr)
	}
}

// TestBashCompletion loads the generated script in a real bash and asks it
// to complete partial command lines.
func TestBashCompletion(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not installed")
	}
	tests := []struct {
		name  string
		words string
		want  string
	}{
		{"top", "agent-vault v", "vault version"},
		{"nested", "agent-vault vault cr", "create credential credential-store creds"},
		{"alias", "agent-vault vault creds s", "set"},
		{"flags", "agent-vault vault delete --y", "--yes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			script := `source <(agent-vault completion bash)
COMP_WORDS=(` + tc.words + `)
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
_agent_vault
echo "${COMPREPLY[@]}"`
			cmd := exec.Command(bash, "--noprofile", "--norc", "-c", script)
			cmd.Env = []string{"PATH=" + filepath.Dir(binary) + ":" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if got := strings.TrimSpace(string(out)); got != tc.want {
				t.Errorf("completing %q: got %q, want %q", tc.words, got, tc.want)
			}
		})
	}
}

// TestRun sends a real program's HTTPS request through the proxy: the
// upstream sees the vault's credential, the program never does.
func TestRun(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not installed")
	}
	upstream := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer upstream-secret" {
			io.WriteString(w, "authorized\n")
			return
		}
		http.Error(w, "no credential", http.StatusUnauthorized)
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
		stdin := map[string]string{"register": "password1\n", "vault": "upstream-secret\n"}[args[0]]
		if _, stderr, code := o.run(nil, stdin, nil, args...); code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, stderr)
		}
	}
	var saved struct{ Token string }
	if b, err := os.ReadFile(filepath.Join(o.home, ".agent-vault", "session.json")); err != nil || json.Unmarshal(b, &saved) != nil || saved.Token == "" {
		t.Fatalf("reading the session: %v", err)
	}
	callerToken := saved.Token

	tests := []struct {
		name       string
		env        []string
		args       []string
		wantExit   int
		wantStdout string
	}{
		{"curl-through-proxy", nil, []string{"run", "--vault=my-app", "--", curl, "-sS", upstream.URL + "/"}, 0, "authorized\n"},
		{"vault-run", nil, []string{"vault", "run", "--vault=my-app", "--", curl, "-sS", upstream.URL + "/"}, 0, "authorized\n"},
		{"exit-code-passes-through", nil, []string{"run", "--vault=my-app", "--", "sh", "-c", "exit 7"}, 7, ""},
		{"caller-token-not-inherited", []string{"AGENT_VAULT_TOKEN=" + callerToken}, []string{"run", "--vault=my-app", "--", "sh", "-c", `echo "token=[$AGENT_VAULT_TOKEN]"`}, 0, "token=[]\n"},
		{"env", nil, []string{"run", "--vault=my-app", "--", "sh", "-c", `echo "token=[$AGENT_VAULT_TOKEN] vault=$AGENT_VAULT_VAULT proxy=${HTTPS_PROXY%%://*}"; test -s "$SSL_CERT_FILE" && test -s "$NODE_EXTRA_CA_CERTS"`}, 0, "token=[] vault=my-app proxy=http\n"},
		{"missing-vault", nil, []string{"run", "--vault=nope", "--", "true"}, 3, ""},
		{"no-program", nil, []string{"run", "--vault=my-app"}, 2, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := o.run(nil, "", tc.env, tc.args...)
			if code != tc.wantExit || stdout != tc.wantStdout {
				t.Fatalf("exit %d (want %d), stdout %q (want %q)\nstderr: %s", code, tc.wantExit, stdout, tc.wantStdout, stderr)
			}
			if strings.Contains(stdout+stderr, "upstream-secret") {
				t.Fatal("the credential reached the program's output")
			}
		})
	}
	// The log shows the proxied requests, with the injected key's name
	// only. Rows reach the database up to half a second after their
	// request (the request log's linger), so the test polls.
	var logs struct {
		Logs []struct {
			Host    string
			Service string
			Keys    []string
			Status  int
		}
	}
	for deadline := time.Now().Add(5 * time.Second); ; {
		stdout, stderr, code := o.run(nil, "", nil, "vault", "logs", "--vault=my-app", "--json")
		if code != 0 || json.Unmarshal([]byte(stdout), &logs) != nil || len(logs.Logs) > 2 {
			t.Fatalf("vault logs: exit %d\n%s%s", code, stdout, stderr)
		}
		if len(logs.Logs) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("vault logs: %d rows after 5s, want 2\n%s", len(logs.Logs), stdout)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The host keeps the upstream's port, which is not 443.
	upstreamHost := strings.TrimPrefix(upstream.URL, "https://")
	for _, l := range logs.Logs {
		if l.Host != upstreamHost || l.Service != "up" || strings.Join(l.Keys, ",") != "UPSTREAM_TOKEN" || l.Status != 200 {
			t.Errorf("log entry %+v, want host %s", l, upstreamHost)
		}
	}
	// The table names the actor by kind and a short session id.
	if stdout, _, _ := o.run(nil, "", nil, "vault", "logs", "--vault=my-app"); !regexp.MustCompile(`(?m)^\S+ \S+  session [0-9a-f-]{4}…  GET     ` + regexp.QuoteMeta(upstreamHost) + ` `).MatchString(stdout) {
		t.Errorf("vault logs table:\n%s", stdout)
	}
	// The same two requests in the traffic aggregates: the vault's and the
	// instance's, as JSON and as text.
	for _, args := range [][]string{{"vault", "activity", "--vault=my-app"}, {"overview", "--window=day"}} {
		stdout, stderr, code := o.run(nil, "", nil, append(args, "--json")...)
		var a struct {
			Requests    int
			Outcomes    map[string]int
			TopServices []struct{ Vault, Service string } `json:"top_services"`
		}
		if code != 0 || json.Unmarshal([]byte(stdout), &a) != nil || a.Requests != 2 || a.Outcomes["injected"] != 2 ||
			len(a.TopServices) != 1 || a.TopServices[0].Vault != "my-app" || a.TopServices[0].Service != "up" {
			t.Errorf("%v --json: exit %d, %+v\n%s%s", args, code, a, stdout, stderr)
		}
		stdout, stderr, code = o.run(nil, "", nil, args...)
		if code != 0 || !strings.Contains(stdout, "requests       2\n") || !strings.Contains(stdout, "outcomes       injected 2\n") ||
			!regexp.MustCompile(`(?m)^my-app\s+up\s+2\s+0$`).MatchString(stdout) {
			t.Errorf("%v: exit %d\n%s%s", args, code, stdout, stderr)
		}
	}
	testFollow(t, o, curl, upstream.URL)
	// Without --vault (flag or AGENT_VAULT_VAULT), run says which vault it used.
	if _, stderr, code := o.run(nil, "", nil, "run", "--", "true"); code != 0 || !strings.Contains(stderr, `agent-vault: using vault "default"`) {
		t.Errorf("run without --vault: exit %d, stderr %q", code, stderr)
	}
	stdout, _, code := o.run(nil, "", nil, "vault", "explain", upstream.URL+"/x", "--vault=my-app")
	if code != 0 || !strings.Contains(stdout, "decision               inject\n") || !strings.Contains(stdout, "credential             UPSTREAM_TOKEN (static)\n") {
		t.Errorf("explain: exit %d\n%s", code, stdout)
	}
	// Every scoped session run created was revoked when its program ended.
	stdout, stderr, code := o.run(nil, "", nil, "vault", "session", "list", "--vault=my-app")
	if code != 0 || stdout != "No scoped sessions in vault my-app.\n" {
		t.Fatalf("sessions after run: exit %d\n%s%s", code, stdout, stderr)
	}
}

// testFollow starts `vault logs --follow` and checks that a request made
// after it shows up as a new line. How soon it does is reported, not
// asserted (timings belong to benchmarks): the follower long-polls, and the
// request-log writer lingers only briefly while someone follows.
func testFollow(t *testing.T, o *operator, curl, url string) {
	t.Helper()
	lines, stop := o.follow("vault", "logs", "--vault=my-app", "--follow", "--json", "--limit=1")
	defer stop()
	// The follower first prints the newest entry: wait for it, so what
	// comes next is new.
	for line := range lines {
		if line == "}" {
			break
		}
	}
	if _, stderr, code := o.run(nil, "", nil, "run", "--vault=my-app", "--", curl, "-sS", url+"/followed"); code != 0 {
		t.Fatalf("run: %d %s", code, stderr)
	}
	sent := time.Now()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatal("vault logs --follow ended")
			}
			if strings.Contains(line, `"path": "/followed"`) {
				t.Logf("the followed row arrived %v after `run` returned (it was shown before)", time.Since(sent))
				return
			}
		case <-timeout:
			t.Fatal("vault logs --follow did not show the new request within 10s")
		}
	}
}

// TestInfisicalSeedLines runs the command lines verbatim against a
// server whose infisical store talks to the Infisical emulator. The
// credential-store switch is confirmed on a pseudo-terminal, as a person
// would; the transcript is testdata/e2e/infisical.golden.
func TestInfisicalSeedLines(t *testing.T) {
	if _, err := os.Stat("../plugins/dist/infisical.wasm"); err != nil {
		t.Skip("the infisical plugin is not built (make plugins)")
	}
	emu := infisicaltest.New(t)
	emu.AddIdentity(infisicaltest.Identity{ID: "id-1", Universal: &infisicaltest.UniversalAuth{ClientID: "client-1", ClientSecret: "client-secret-1"}})
	emu.AddProject(infisicaltest.Project{ID: "abc123", Environments: []string{"dev"}})
	emu.SetSecrets("abc123", "dev", "/stripe", map[string]string{"STRIPE_KEY": "sk_test_from_infisical", "DB_POSTGRES_USERNAME": "app", "DB_POSTGRES_PASSWORD": "pg-secret"})
	s := startServer(t, newDataDir(t),
		"INFISICAL_URL="+emu.URL(),
		"INFISICAL_UNIVERSAL_AUTH_CLIENT_ID=client-1",
		"INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET=client-secret-1",
		"AGENT_VAULT_ALLOW_PRIVATE_RANGES=true")
	o := newOperator(t, s.URL)

	steps := []struct {
		line     string // as a person types it
		stdin    string
		typed    string // answered on a terminal
		before   func()
		wantExit int
	}{
		{line: "agent-vault register --email owner@example.com --password-stdin", stdin: "password1\n"},
		{line: "agent-vault vault create my-app"},
		{line: "agent-vault vault credential set --vault=my-app LOCAL_ONLY=-", stdin: "local-value\n"},
		{line: "agent-vault vault credential-store set my-app --kind=infisical --infisical-project-id=abc123 --infisical-environment=dev --infisical-path=/stripe --poll-interval-seconds=60", typed: "my-app\n"},
		{line: "agent-vault vault credential-store show my-app"},
		{line: "agent-vault vault credential list --vault=my-app"},
		{line: "agent-vault service set my-db --vault=my-app --host=db.internal --auth=basic --username=DB_POSTGRES_USERNAME --password=DB_POSTGRES_PASSWORD"},
		{line: "agent-vault vault credential set --vault=my-app LOCAL_ONLY=x", wantExit: 4},
		{line: "agent-vault vault credential-store sync my-app", before: func() {
			emu.SetSecrets("abc123", "dev", "/stripe", map[string]string{"STRIPE_KEY": "sk_test_rotated", "DB_POSTGRES_USERNAME": "app", "DB_POSTGRES_PASSWORD": "pg-secret", "NEW_KEY": "n"})
		}},
		{line: "agent-vault vault credential-store sync my-app --json", before: func() {
			emu.SetSecrets("abc123", "dev", "/stripe", map[string]string{"database-url": "postgres://x", "STRIPE_KEY": "sk_test_rotated"})
		}, wantExit: 1},
		{line: "agent-vault vault credential list --vault=my-app"},
		{line: "agent-vault vault create other-app --credential-store=infisical --infisical-project-id=abc123 --infisical-environment=prod", wantExit: 1},
		{line: "agent-vault vault credential-store set my-app --kind=builtin --yes"},
		{line: "agent-vault vault credential set --vault=my-app LOCAL_ONLY=-", stdin: "local-value-2\n"},
	}
	var transcript strings.Builder
	for _, st := range steps {
		if st.before != nil {
			st.before()
		}
		args := strings.Fields(st.line)[1:]
		var stdout, stderr string
		var code int
		if st.typed != "" {
			stdout, stderr, code = withTerminal(t, o, st.typed, args...)
		} else {
			stdout, stderr, code = o.run(nil, st.stdin, nil, args...)
		}
		if code != st.wantExit {
			t.Errorf("%s: exit %d, want %d\n%s%s", st.line, code, st.wantExit, stdout, stderr)
		}
		for _, secret := range []string{"sk_test_", "pg-secret", "postgres://", "local-value", "client-secret-1"} {
			if strings.Contains(stdout+stderr, secret) {
				t.Errorf("%s: output shows a secret (%s…)", st.line, secret)
			}
		}
		transcript.WriteString("$ " + st.line + "\n" + stdout)
		if stderr != "" {
			transcript.WriteString("[stderr]\n" + stderr)
		}
		transcript.WriteString("[exit " + strconv.Itoa(code) + "]\n\n")
	}
	golden.Check(t, "e2e/infisical", []byte(normalize(transcript.String())))

	// The audit trail says what each store switch and manual sync changed:
	// the kind, the per-vault config and poll interval, the sync status and
	// the credential count; no value, no server-side secret.
	var trail []string
	for _, op := range []string{"set-credential-store", "sync-vault"} {
		stdout, stderr, code := o.run(nil, "", nil, "audit", "list", "--operation", op, "--json")
		var page struct {
			Entries []struct {
				Outcome string
				Summary json.RawMessage
			}
		}
		if code != 0 || json.Unmarshal([]byte(stdout), &page) != nil {
			t.Fatalf("audit list --operation %s: exit %d\n%s%s", op, code, stdout, stderr)
		}
		for _, e := range page.Entries {
			var compact bytes.Buffer
			json.Compact(&compact, e.Summary)
			trail = append(trail, op+" "+e.Outcome+" "+compact.String())
		}
	}
	wantTrail := []string{
		`set-credential-store ok {"changes":[{"field":"credential_store.kind","before":"infisical","after":"builtin"},` +
			`{"field":"credential_store.config","before":{"environment":"dev","project_id":"abc123","secret_path":"/stripe"}},` +
			`{"field":"credential_store.poll_interval_seconds","before":60,"after":0}]}`,
		`set-credential-store ok {"changes":[{"field":"credential_store.kind","before":"builtin","after":"infisical"},` +
			`{"field":"credential_store.config","after":{"environment":"dev","project_id":"abc123","secret_path":"/stripe"}},` +
			`{"field":"credential_store.poll_interval_seconds","before":0,"after":60}]}`,
		`sync-vault external_store_invalid_key {"changes":[{"field":"credential_store.last_sync_status","before":"ok","after":"error"}]}`,
		`sync-vault ok {"changes":[{"field":"credential_store.credential_count","before":3,"after":4}]}`,
	}
	if got := strings.Join(trail, "\n"); got != strings.Join(wantTrail, "\n") {
		t.Errorf("audit trail of the store switches and syncs:\n%s\nwant\n%s", got, strings.Join(wantTrail, "\n"))
	}
	for _, secret := range []string{"sk_test_", "pg-secret", "postgres://", "local-value", "client-secret-1", "client-1"} {
		if strings.Contains(strings.Join(trail, ""), secret) {
			t.Errorf("the audit trail holds a secret (%s…)", secret)
		}
	}

	// On a terminal a sync shows a progress line, then clears it; piped (the
	// transcript above) it prints nothing on stderr.
	emu.SetSecrets("abc123", "dev", "/stripe", map[string]string{"STRIPE_KEY": "sk_test_3", "DB_POSTGRES_USERNAME": "app", "DB_POSTGRES_PASSWORD": "pg-secret", "NEW_KEY": "n"})
	if _, stderr, code := o.run(nil, "", nil, "vault", "credential-store", "set", "my-app", "--kind=infisical", "--infisical-project-id=abc123",
		"--infisical-environment=dev", "--infisical-path=/stripe", "--yes"); code != 0 {
		t.Fatalf("reconnect: %s", stderr)
	}
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	screen := make(chan string, 1)
	go func() { b, _ := io.ReadAll(ptmx); screen <- string(b) }()
	cmd := exec.Command(binary, "vault", "credential-store", "sync", "my-app")
	cmd.Env = []string{"HOME=" + o.home, "AGENT_VAULT_ADDR=" + o.addr}
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, tty
	if err := cmd.Run(); err != nil {
		t.Fatalf("sync on a terminal: %v\n%s", err, stdout.String())
	}
	tty.Close()
	got := <-screen
	if !strings.Contains(got, "| Syncing vault my-app… 0s") || !strings.HasSuffix(got, "\r\x1b[K") {
		t.Errorf("terminal shows %q, want a progress line that is cleared at the end", got)
	}
	if !strings.HasPrefix(stdout.String(), "Synced vault my-app: 4 credentials from infisical.\n") {
		t.Errorf("stdout %q", stdout.String())
	}
}

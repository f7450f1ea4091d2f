package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/agent-vault/agent-vault/sdk/golden"
)

// TestProjectBinding drives `vault use` and `vault current` through the
// built binary, and shows that commands run in a bound directory (or below
// it) use the bound vault, that --vault and AGENT_VAULT_VAULT still win,
// and that the server's public URL is the base of the links it hands out.
// The transcript is the golden testdata/e2e/binding.golden.
func TestProjectBinding(t *testing.T) {
	s := startServerWith(t, newDataDir(t), []string{"--mitm-port=-1"}, "AGENT_VAULT_PUBLIC_URL=https://vault.example.test/")
	o := newOperator(t, s.URL)
	project := filepath.Join(o.home, "project")
	deep := filepath.Join(project, "src", "pkg")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name, dir string
		env       []string
		args      []string
		wantExit  int
	}{
		{name: "register", args: []string{"register", "--email", "owner@example.com", "--password-stdin"}},
		{name: "vault-create", args: []string{"vault", "create", "my-app"}},
		{name: "current-unbound", dir: project, args: []string{"vault", "current"}},
		{name: "use-missing-vault", dir: project, args: []string{"vault", "use", "nope"}, wantExit: 3},
		{name: "use-bad-name", dir: project, args: []string{"vault", "use", "BAD"}, wantExit: 1},
		{name: "use", dir: project, args: []string{"vault", "use", "my-app"}},
		{name: "current-bound", dir: project, args: []string{"vault", "current"}},
		{name: "current-subdirectory-json", dir: deep, args: []string{"vault", "current", "--json"}},
		{name: "current-env-wins", dir: deep, env: []string{"AGENT_VAULT_VAULT=default"}, args: []string{"vault", "current"}},
		{name: "current-flag-wins", dir: deep, env: []string{"AGENT_VAULT_VAULT=default"}, args: []string{"vault", "current", "--vault", "other"}},
		{name: "creds-set-bound", dir: deep, args: []string{"vault", "credential", "set", "BOUND_KEY=bound-secret-value"}},
		{name: "creds-list-bound", dir: deep, args: []string{"vault", "credential", "list"}},
		{name: "creds-list-outside", args: []string{"vault", "credential", "list"}},
		{name: "service-add-bound", dir: deep, args: []string{"service", "add", "stripe", "--host=api.stripe.com", "--auth=bearer", "--token=BOUND_KEY"}},
		{name: "service-list-flag-wins", dir: deep, args: []string{"service", "list", "--vault=default"}},
		{name: "run-bound", dir: deep, args: []string{"run", "--", "sh", "-c", "echo program sees vault $AGENT_VAULT_VAULT"}},
		{name: "invite-link-uses-public-url", args: []string{"invite", "create", "--email", "new@example.com", "--json"}},
	}
	var transcript strings.Builder
	for _, st := range steps {
		stdin := ""
		if st.name == "register" {
			stdin = "password1\n"
		}
		in := *o // HOME stays; only the working directory moves
		in.dir = st.dir
		stdout, stderr, code := in.run(nil, stdin, st.env, st.args...)
		if code != st.wantExit {
			t.Errorf("%s: exit %d, want %d\nstdout: %s\nstderr: %s", st.name, code, st.wantExit, stdout, stderr)
		}
		if strings.Contains(stdout+stderr, "bound-secret-value") {
			t.Errorf("%s: output shows the credential value", st.name)
		}
		if st.name == "invite-link-uses-public-url" {
			var inv struct {
				InviteURL string `json:"invite_url"`
			}
			if err := json.Unmarshal([]byte(stdout), &inv); err != nil || !strings.HasPrefix(inv.InviteURL, "https://vault.example.test/invite/") {
				t.Errorf("invite_url %q does not start with the public URL (%v)", inv.InviteURL, err)
			}
			continue // the token is random; the transcript does not need it
		}
		dir := ""
		if st.dir != "" {
			dir = "(in " + strings.TrimPrefix(st.dir, o.home+"/") + ") "
		}
		transcript.WriteString("### " + st.name + "\n" + dir + "$ " + strings.Join(append(st.env, append([]string{"agent-vault"}, st.args...)...), " ") + "\n")
		transcript.WriteString(stdout)
		if stderr != "" {
			transcript.WriteString("[stderr]\n" + stderr)
		}
		transcript.WriteString("[exit " + strconv.Itoa(code) + "]\n\n")
	}
	b, err := os.ReadFile(filepath.Join(project, "agent-vault.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(b); got != "{\n  \"vault\": \"my-app\"\n}\n" {
		t.Errorf("binding file is %q", got)
	}
	got := strings.ReplaceAll(transcript.String(), o.home, "$HOME")
	golden.Check(t, "e2e/binding", []byte(normalize(got)))
}

package cli_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestProposalReplacementInCLI: an agent's proposal that reuses an
// existing service's name with another host and an existing credential's
// key is shown as a replacement by 'vault proposal show' and 'list', and
// 'approve' refuses it until each replacement is confirmed with --confirm.
func TestProposalReplacementInCLI(t *testing.T) {
	s := startServer(t, newDataDir(t))
	human := newOperator(t, s.URL)
	run := func(wantExit int, args ...string) (string, string) {
		t.Helper()
		stdout, stderr, code := human.run(nil, "password1\n", nil, args...)
		if code != wantExit {
			t.Fatalf("%v: exit %d, want %d\n%s%s", args, code, wantExit, stdout, stderr)
		}
		return stdout, stderr
	}
	run(0, "register", "--email", "owner@example.com", "--password-stdin")
	run(0, "vault", "create", "shop")
	run(0, "vault", "credential", "set", "--vault=shop", "GITHUB_TOKEN=the-real-token")
	run(0, "vault", "service", "set", "github", "--vault=shop", "--host=api.github.com", "--auth=bearer", "--token=GITHUB_TOKEN")
	var sess struct{ Token string }
	out, _ := run(0, "vault", "session", "create", "--vault=shop", "--json")
	if err := json.Unmarshal([]byte(out), &sess); err != nil || sess.Token == "" {
		t.Fatalf("session: %v", err)
	}
	status, body := post(t, s.URL+"/v1/proposals", sess.Token, `{"vault":"shop","message":"Fix the GitHub service",
		"services":[{"action":"set","name":"github","host":"evil.example.com","auth":{"type":"bearer","token":"GITHUB_TOKEN"}}],
		"credentials":[{"action":"set","key":"GITHUB_TOKEN","value":"agent-chosen-token"}]}`)
	if status != http.StatusCreated {
		t.Fatalf("proposal: %d %s", status, body)
	}
	var p struct{ ID string }
	json.Unmarshal([]byte(body), &p)

	show, _ := run(0, "vault", "proposal", "show", p.ID, "--vault=shop")
	for _, want := range []string{"WARNING: this proposal changes what the vault already holds:", "REPLACE service github",
		"host: api.github.com -> evil.example.com", "approving needs --confirm service:github",
		"OVERWRITE credential GITHUB_TOKEN", "approving needs --confirm credential:GITHUB_TOKEN"} {
		if !strings.Contains(show, want) {
			t.Errorf("proposal show lacks %q:\n%s", want, show)
		}
	}
	if list, _ := run(0, "vault", "proposal", "list", "--vault=shop"); !strings.Contains(list, "YES (2)") {
		t.Errorf("proposal list does not flag the replacements:\n%s", list)
	}

	// Without every confirmation: refused (exit 4, conflict), nothing changes.
	for _, args := range [][]string{{}, {"--confirm", "service:github"}} {
		_, stderr := run(4, append([]string{"vault", "proposal", "approve", p.ID, "--vault=shop"}, args...)...)
		if !strings.Contains(stderr, "proposal_change_unconfirmed") || !strings.Contains(stderr, "--confirm credential:GITHUB_TOKEN") {
			t.Fatalf("approve %v: %s", args, stderr)
		}
	}
	if svcs, _ := run(0, "vault", "service", "list", "--vault=shop"); !strings.Contains(svcs, "api.github.com") || strings.Contains(svcs, "evil.example.com") {
		t.Fatalf("the service moved without confirmation:\n%s", svcs)
	}
	run(0, "vault", "proposal", "approve", p.ID, "--vault=shop", "--confirm", "service:github", "--confirm", "credential:GITHUB_TOKEN")
	if svcs, _ := run(0, "vault", "service", "list", "--vault=shop"); !strings.Contains(svcs, "evil.example.com") {
		t.Fatalf("the confirmed replacement was not applied:\n%s", svcs)
	}
}

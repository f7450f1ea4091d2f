package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/store"
)

func svcSet(name, host, token string) map[string]any {
	return map[string]any{"action": "set", "name": name, "host": host, "auth": map[string]any{"type": "bearer", "token": token}}
}

func slot(key string) map[string]any {
	return map[string]any{"action": "set", "key": key, "description": "the key", "obtain": "https://example.com/keys"}
}

// TestProposalValidation: every refused proposal gets an exact status, code
// and field, and nothing is stored.
func TestProposalValidation(t *testing.T) {
	l := newLoopEnv(t)
	body := func(services, creds []any) map[string]any {
		return map[string]any{"message": "why", "services": services, "credentials": creds}
	}
	many := func(n int, f func(i int) any) []any {
		out := make([]any, n)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	tests := []struct {
		name       string
		body       any
		wantStatus int
		wantCode   string
		wantField  string
	}{
		{"empty", body(nil, nil), 400, domain.CodeInvalidProposal, "body.services"},
		{"no-message", map[string]any{"services": []any{svcSet("a", "api.a.com", "GITHUB_TOKEN")}}, 422, "invalid_input", "body"},
		{"too-many-services", body(many(21, func(i int) any { return svcSet(fmt.Sprintf("s%d", i), "api.a.com", "GITHUB_TOKEN") }), nil), 422, "invalid_input", "body.services"},
		{"too-many-credentials", body(nil, many(21, func(i int) any { return slot(fmt.Sprintf("K%d", i)) })), 422, "invalid_input", "body.credentials"},
		{"message-too-long", map[string]any{"message": strings.Repeat("m", 2001), "services": []any{svcSet("a", "api.a.com", "GITHUB_TOKEN")}}, 422, "invalid_input", "body.message"},
		{"description-too-long", body(nil, []any{map[string]any{"action": "set", "key": "K", "description": strings.Repeat("d", 501)}}), 422, "invalid_input", "body.credentials[0].description"},
		{"bad-action", body([]any{map[string]any{"action": "add", "name": "a"}}, nil), 422, "invalid_input", "body.services[0].action"},
		{"unknown-key-reference", body([]any{svcSet("stripe", "api.stripe.com", "STRIPE_KEY")}, nil), 400, domain.CodeInvalidProposal, "body.services[0]"},
		{"key-deleted-in-same-proposal", body([]any{svcSet("gh2", "api2.github.com", "GITHUB_TOKEN")}, []any{map[string]any{"action": "delete", "key": "GITHUB_TOKEN"}}), 400, domain.CodeInvalidProposal, "body.services[0]"},
		{"bad-key", body(nil, []any{slot("stripe-key")}), 400, domain.CodeInvalidKey, "body.credentials[0].key"},
		{"duplicate-key", body(nil, []any{slot("K"), slot("K")}), 400, domain.CodeInvalidProposal, "body.credentials[1].key"},
		{"duplicate-service", body([]any{svcSet("a", "api.a.com", "GITHUB_TOKEN"), svcSet("a", "api.b.com", "GITHUB_TOKEN")}, nil), 400, domain.CodeInvalidProposal, "body.services[1].name"},
		{"invalid-host", body([]any{svcSet("a", "bad host", "GITHUB_TOKEN")}, nil), 400, domain.CodeInvalidService, "body.services[0].host"},
		{"loopback-host", body([]any{svcSet("a", "127.0.0.1:8080", "GITHUB_TOKEN")}, nil), 400, domain.CodeInvalidService, "body.services[0].host"},
		{"missing-auth", body([]any{map[string]any{"action": "set", "name": "a", "host": "api.a.com"}}, nil), 400, domain.CodeInvalidProposal, "body.services[0].auth"},
		{"delete-unknown-service", body([]any{map[string]any{"action": "delete", "name": "nope"}}, nil), 400, domain.CodeInvalidProposal, "body.services[0].name"},
		{"delete-with-host", body([]any{map[string]any{"action": "delete", "name": "github", "host": "x.com"}}, nil), 400, domain.CodeInvalidProposal, "body.services[0]"},
		{"delete-unknown-key", body(nil, []any{map[string]any{"action": "delete", "key": "NOPE"}}), 400, domain.CodeInvalidProposal, "body.credentials[0].key"},
		{"delete-with-value", body(nil, []any{map[string]any{"action": "delete", "key": "GITHUB_TOKEN", "value": "x"}}), 400, domain.CodeInvalidProposal, "body.credentials[0].value"},
		{"value-too-large", body(nil, []any{map[string]any{"action": "set", "key": "BIG", "value": strings.Repeat("v", domain.MaxValueBytes+1)}}), 400, domain.CodeValueTooLarge, "body.credentials[0].value"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, resp := l.do("POST", "/v1/proposals", l.agent, tc.body)
			if status != tc.wantStatus || code(resp) != tc.wantCode {
				t.Fatalf("got %d %q, want %d %q: %s", status, code(resp), tc.wantStatus, tc.wantCode, resp)
			}
			var p struct {
				Errors []struct{ Location string }
			}
			json.Unmarshal(resp, &p)
			if len(p.Errors) == 0 || p.Errors[0].Location != tc.wantField {
				t.Fatalf("errors %+v, want location %q: %s", p.Errors, tc.wantField, resp)
			}
		})
	}
	if list, _ := l.st.ListProposals(context.Background(), l.shop.ID, "", 100); len(list) != 0 {
		t.Fatalf("%d proposals stored by refused requests", len(list))
	}
}

// TestProposalPendingLimit: the 21st pending proposal of a vault gets 429;
// deciding one makes room.
func TestProposalPendingLimit(t *testing.T) {
	l := newLoopEnv(t)
	var first string
	for i := 0; i < 20; i++ {
		status, body := l.do("POST", "/v1/proposals", l.agent, proposalBodyFor("s"+fmt.Sprint(i)))
		if status != 201 {
			t.Fatalf("proposal %d: %d %s", i, status, body)
		}
		if i == 0 {
			first = id(body)
		}
	}
	status, body := l.do("POST", "/v1/proposals", l.agent, proposalBodyFor("s20"))
	if status != 429 || code(body) != domain.CodeTooManyProposals ||
		!strings.Contains(string(body), "this vault already has 20 pending proposals (the limit)") {
		t.Fatalf("21st: %d %s", status, body)
	}
	if status, body := l.do("POST", "/v1/admin/proposals/"+first+"/reject", l.admin, map[string]any{"vault": "shop", "reason": "no"}); status != 200 {
		t.Fatalf("reject: %d %s", status, body)
	}
	if status, body := l.do("POST", "/v1/proposals", l.agent, proposalBodyFor("s20")); status != 201 {
		t.Fatalf("after a rejection: %d %s", status, body)
	}
}

func proposalBodyFor(name string) map[string]any {
	return map[string]any{"message": "why", "services": []any{svcSet(name, name+".example.com", "GITHUB_TOKEN")}}
}

func id(body []byte) string {
	var v struct{ ID string }
	json.Unmarshal(body, &v)
	return v.ID
}

// TestProposalExternalStore: credential slots are refused on a vault backed
// by an external store; services-only proposals are accepted and may use
// its dynamic keys.
func TestProposalExternalStore(t *testing.T) {
	l := newLoopEnv(t)
	tests := []struct {
		name       string
		body       map[string]any
		wantStatus int
		wantCode   string
	}{
		{"credential-slot", map[string]any{"message": "m", "credentials": []any{slot("NEW_KEY")}}, 409, domain.CodeExternalStore},
		{"service-with-slot", map[string]any{"message": "m", "services": []any{svcSet("db", "db.example.com", "NEW_KEY")}, "credentials": []any{slot("NEW_KEY")}}, 409, domain.CodeExternalStore},
		{"services-only-dynamic-key", map[string]any{"message": "m", "services": []any{svcSet("db", "db.example.com", "DB_PASSWORD")}}, 201, ""},
		{"services-only-missing-key", map[string]any{"message": "m", "services": []any{svcSet("db2", "db2.example.com", "NOPE")}}, 400, domain.CodeInvalidProposal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.body["vault"] = "external"
			status, body := l.do("POST", "/v1/proposals", l.twoVaults, tc.body)
			if status != tc.wantStatus || code(body) != tc.wantCode {
				t.Fatalf("got %d %q, want %d %q: %s", status, code(body), tc.wantStatus, tc.wantCode, body)
			}
		})
	}
	// Approving the services-only proposal needs no stored row for the dynamic key.
	list, _ := l.st.ListProposals(context.Background(), l.ext.ID, domain.ProposalPending, 10)
	if len(list) != 1 {
		t.Fatalf("%d pending", len(list))
	}
	if status, body := l.do("POST", "/v1/admin/proposals/"+list[0].ID+"/approve", l.admin, map[string]any{"vault": "external"}); status != 200 {
		t.Fatalf("approve: %d %s", status, body)
	}
}

// TestProposalApproval plays the loop over the API: an agent proposes a
// service and two credential slots (one with its own value), polls, and a
// human approves with a value that overrides nothing but fills the empty
// slot; everything lands in one step and no value ever leaves.
func TestProposalApproval(t *testing.T) {
	l := newLoopEnv(t)
	const agentValue, humanValue, humanOverride = "MARKER_agent_value_1", "MARKER_human_value_2", "MARKER_human_override_3"
	status, body := l.do("POST", "/v1/proposals", l.session, map[string]any{
		"message": "need stripe", "user_message": "report my charges",
		"services": []any{map[string]any{"action": "set", "name": "stripe", "host": "api.stripe.com",
			"auth": map[string]any{"type": "basic", "username": "STRIPE_USER", "password": "STRIPE_PASS"}}},
		"credentials": []any{
			map[string]any{"action": "set", "key": "STRIPE_USER", "value": agentValue},
			map[string]any{"action": "set", "key": "STRIPE_PASS", "description": "secret key", "obtain": "dashboard"},
			map[string]any{"action": "set", "key": "OVERRIDDEN", "value": "MARKER_agent_overridden"},
		},
	})
	if status != 201 {
		t.Fatalf("create: %d %s", status, body)
	}
	pid := id(body)
	var view struct {
		Status      string
		ApprovalURL string `json:"approval_url"`
		Credentials []struct {
			Key      string
			HasValue bool `json:"has_value"`
		}
		CreatedBy struct{ Kind string } `json:"created_by"`
	}
	json.Unmarshal(body, &view)
	if view.Status != "pending" || view.ApprovalURL != "http://agent-vault.test/vaults/shop/proposals/"+pid || view.CreatedBy.Kind != "session" ||
		len(view.Credentials) != 3 || !view.Credentials[0].HasValue || view.Credentials[1].HasValue {
		t.Fatalf("view %s", body)
	}

	// The agent polls; a proxy-role user cannot review.
	if status, body := l.do("GET", "/v1/proposals/"+pid, l.agent, nil); status != 200 || !strings.Contains(string(body), `"status":"pending"`) {
		t.Fatalf("poll: %d %s", status, body)
	}
	if status, _ := l.do("POST", "/v1/admin/proposals/"+pid+"/approve", l.agent, map[string]any{"vault": "shop"}); status != 403 {
		t.Fatalf("agent approving: %d", status)
	}

	approve := func(creds map[string]string) (int, []byte) {
		return l.do("POST", "/v1/admin/proposals/"+pid+"/approve", l.admin, map[string]any{"vault": "shop", "credentials": creds})
	}
	tests := []struct {
		name       string
		creds      map[string]string
		wantStatus int
		wantCode   string
	}{
		{"missing-value", nil, 400, domain.CodeInvalidProposal},
		{"not-a-slot", map[string]string{"STRIPE_PASS": "x", "OTHER": "y"}, 400, domain.CodeInvalidProposal},
		{"too-large", map[string]string{"STRIPE_PASS": strings.Repeat("v", domain.MaxValueBytes+1)}, 400, domain.CodeValueTooLarge},
		{"ok", map[string]string{"STRIPE_PASS": humanValue, "OVERRIDDEN": humanOverride}, 200, ""},
		{"twice", map[string]string{"STRIPE_PASS": humanValue}, 409, domain.CodeProposalNotPending},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := approve(tc.creds)
			if status != tc.wantStatus || code(body) != tc.wantCode {
				t.Fatalf("got %d %q, want %d %q: %s", status, code(body), tc.wantStatus, tc.wantCode, body)
			}
			if tc.name == "missing-value" && !strings.Contains(string(body), `credential \"STRIPE_PASS\" needs a value`) {
				t.Fatalf("message: %s", body)
			}
		})
	}
	for key, want := range map[string]string{"STRIPE_USER": agentValue, "STRIPE_PASS": humanValue, "OVERRIDDEN": humanOverride} {
		if got := l.credential(l.shop.ID, key); got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	svcs, _ := l.st.ListServices(context.Background(), l.shop.ID)
	if len(svcs) != 2 || svcs[1].Name != "stripe" {
		t.Fatalf("services %+v", svcs)
	}
	status, body = l.do("GET", "/v1/proposals/"+pid, l.agent, nil)
	if !strings.Contains(string(body), `"status":"approved"`) || !strings.Contains(string(body), `"decided_by":"owner@example.com"`) {
		t.Fatalf("after approval: %d %s", status, body)
	}
	if vals, _ := l.st.ProposalValues(context.Background(), pid); len(vals) != 0 {
		t.Fatal("agent values kept after approval")
	}

	// Reject with a reason the agent reads; the admin list filters by status.
	status, body = l.do("POST", "/v1/proposals", l.agent, proposalBodyFor("other"))
	rid := id(body)
	if status, body := l.do("POST", "/v1/admin/proposals/"+rid+"/reject", l.admin, map[string]any{"vault": "shop", "reason": "use the github service"}); status != 200 ||
		!strings.Contains(string(body), `"reason":"use the github service"`) {
		t.Fatalf("reject: %d %s", status, body)
	}
	for status, want := range map[string]int{"approved": 1, "rejected": 1, "pending": 0, "": 2} {
		_, body := l.do("GET", "/v1/admin/proposals?vault=shop&status="+status, l.admin, nil)
		var list struct{ Proposals []struct{ ID string } }
		json.Unmarshal(body, &list)
		if len(list.Proposals) != want {
			t.Errorf("status %q: %d proposals, want %d", status, len(list.Proposals), want)
		}
	}

	// No value in any response, the log, or the database bytes.
	places := map[string][]byte{"responses": []byte(l.seen.String()), "log": []byte(l.logs.String())}
	for _, suffix := range []string{"", "-wal"} {
		if b, err := os.ReadFile(l.dbPath + suffix); err == nil {
			places["db"+suffix] = b
		}
	}
	for where, b := range places {
		if i := bytes.Index(b, []byte("MARKER")); i >= 0 {
			t.Errorf("a value appears in the %s near %q", where, b[max(0, i-40):min(len(b), i+40)])
		}
	}
}

// TestProposalExpiry: the scheduled job expires pending proposals after
// seven days; an expired proposal cannot be approved.
func TestProposalExpiry(t *testing.T) {
	l := newLoopEnv(t)
	_, body := l.do("POST", "/v1/proposals", l.agent, proposalBodyFor("late"))
	pid := id(body)
	got, _ := l.st.ProposalByID(context.Background(), l.shop.ID, pid)
	// The API and the store each read the clock once (millisecond rows).
	if d := got.ExpiresAt.Sub(got.CreatedAt) - 7*24*time.Hour; d < -time.Second || d > time.Second {
		t.Fatalf("expires %v off seven days", d)
	}
	l.st.SetClock(func() time.Time { return got.ExpiresAt })
	if n, err := l.st.ExpireProposals(context.Background()); n != 1 || err != nil {
		t.Fatalf("expired %d, %v", n, err)
	}
	l.st.SetClock(time.Now) // sessions must stay valid for the calls below
	status, body := l.do("POST", "/v1/admin/proposals/"+pid+"/approve", l.admin, map[string]any{"vault": "shop"})
	if status != 409 || code(body) != domain.CodeProposalNotPending || !strings.Contains(string(body), "is expired, not pending") {
		t.Fatalf("approve expired: %d %s", status, body)
	}
	_, body = l.do("GET", "/v1/proposals/"+pid, l.agent, nil)
	if !strings.Contains(string(body), `"status":"expired"`) {
		t.Fatalf("poll: %s", body)
	}
}

// TestProposalApproveHammer: concurrent approvals of one proposal apply it
// exactly once; every other caller gets proposal_not_pending.
func TestProposalApproveHammer(t *testing.T) {
	l := newLoopEnv(t)
	_, body := l.do("POST", "/v1/proposals", l.agent, map[string]any{"message": "m",
		"services":    []any{svcSet("race", "race.example.com", "RACE_KEY")},
		"credentials": []any{slot("RACE_KEY")}})
	pid := id(body)
	p := 8
	if testing.Short() {
		p = 4
	}
	start := make(chan struct{})
	results := make(chan string, p)
	for i := 0; i < p; i++ {
		go func(i int) {
			<-start
			status, body := l.do("POST", "/v1/admin/proposals/"+pid+"/approve", l.admin,
				map[string]any{"vault": "shop", "credentials": map[string]string{"RACE_KEY": fmt.Sprintf("value-%d", i)}})
			results <- fmt.Sprintf("%d %s", status, code(body))
		}(i)
	}
	close(start)
	counts := map[string]int{}
	for i := 0; i < p; i++ {
		counts[<-results]++
	}
	if counts["200 "] != 1 || counts["409 "+domain.CodeProposalNotPending] != p-1 {
		t.Fatalf("outcomes %v", counts)
	}
	svcs, _ := l.st.ListServices(context.Background(), l.shop.ID)
	if len(svcs) != 2 || !strings.HasPrefix(l.credential(l.shop.ID, "RACE_KEY"), "value-") {
		t.Fatalf("services %d, credential %q", len(svcs), l.credential(l.shop.ID, "RACE_KEY"))
	}
}

// TestProposalReplacementNeedsConfirmation: a proposal that reuses an
// existing service's name (moving its credential to another host) or an
// existing credential's key (overwriting the real value) says so in its
// view, and is refused with proposal_change_unconfirmed until the approver
// lists each replacement in confirm_changes; nothing changes meanwhile.
func TestProposalReplacementNeedsConfirmation(t *testing.T) {
	l := newLoopEnv(t)
	ctx := context.Background()
	type change struct {
		Target, Name, Action, Confirm string
		Fields                        []struct{ Field, Before, After string }
	}
	propose := func(body map[string]any) (string, []change) {
		t.Helper()
		status, resp := l.do("POST", "/v1/proposals", l.agent, body)
		if status != 201 {
			t.Fatalf("create: %d %s", status, resp)
		}
		var v struct{ Changes []change }
		json.Unmarshal(resp, &v)
		return id(resp), v.Changes
	}
	approve := func(pid string, body map[string]any) (int, []byte) {
		body["vault"] = "shop"
		return l.do("POST", "/v1/admin/proposals/"+pid+"/approve", l.admin, body)
	}
	githubHost := func() string {
		svcs, _ := l.st.ListServices(ctx, l.shop.ID)
		for _, r := range svcs {
			if r.Name == "github" {
				var svc domain.Service
				json.Unmarshal(r.Spec, &svc)
				return svc.Host
			}
		}
		return ""
	}

	t.Run("service-host", func(t *testing.T) {
		pid, changes := propose(map[string]any{"message": "update github", "services": []any{svcSet("github", "evil.example.com", "GITHUB_TOKEN")}})
		if len(changes) != 1 || changes[0].Target != "service" || changes[0].Name != "github" || changes[0].Action != "replace" ||
			changes[0].Confirm != "service:github" || len(changes[0].Fields) != 1 ||
			changes[0].Fields[0] != (struct{ Field, Before, After string }{"host", "api.github.com", "evil.example.com"}) {
			t.Fatalf("changes %+v", changes)
		}
		for _, body := range []map[string]any{{}, {"confirm_changes": []string{"credential:GITHUB_TOKEN"}}} {
			status, resp := approve(pid, body)
			if status != 409 || code(resp) != domain.CodeProposalChangeUnconfirmed ||
				!strings.Contains(string(resp), `service:github (host \"api.github.com\" -> \"evil.example.com\")`) {
				t.Fatalf("approve without confirmation: %d %s", status, resp)
			}
		}
		if h := githubHost(); h != "api.github.com" {
			t.Fatalf("host changed to %q without confirmation", h)
		}
		if status, resp := approve(pid, map[string]any{"confirm_changes": []string{"service:github"}}); status != 200 {
			t.Fatalf("approve confirmed: %d %s", status, resp)
		}
		if h := githubHost(); h != "evil.example.com" {
			t.Fatalf("host %q after a confirmed approval", h)
		}
	})

	t.Run("credential-value", func(t *testing.T) {
		pid, changes := propose(map[string]any{"message": "rotate", "credentials": []any{
			map[string]any{"action": "set", "key": "GITHUB_TOKEN", "value": "agent-chosen-value"}}})
		if len(changes) != 1 || changes[0].Target != "credential" || changes[0].Action != "overwrite" || changes[0].Confirm != "credential:GITHUB_TOKEN" {
			t.Fatalf("changes %+v", changes)
		}
		for _, body := range []map[string]any{{}, {"credentials": map[string]string{"GITHUB_TOKEN": "human-value"}}} {
			if status, resp := approve(pid, body); status != 409 || code(resp) != domain.CodeProposalChangeUnconfirmed {
				t.Fatalf("approve without confirmation: %d %s", status, resp)
			}
		}
		if got := l.credential(l.shop.ID, "GITHUB_TOKEN"); got != "gh-value" {
			t.Fatalf("value overwritten without confirmation: %q", got)
		}
		if status, resp := approve(pid, map[string]any{"confirm_changes": []string{"credential:GITHUB_TOKEN"}}); status != 200 {
			t.Fatalf("approve confirmed: %d %s", status, resp)
		}
		if got := l.credential(l.shop.ID, "GITHUB_TOKEN"); got != "agent-chosen-value" {
			t.Fatalf("value %q after a confirmed approval", got)
		}
	})

	t.Run("new-and-unchanged-need-nothing", func(t *testing.T) {
		pid, changes := propose(map[string]any{"message": "same", "services": []any{svcSet("github", "evil.example.com", "GITHUB_TOKEN"), svcSet("fresh", "fresh.example.com", "GITHUB_TOKEN")}})
		if len(changes) != 0 {
			t.Fatalf("an identical service and a new one are no changes: %+v", changes)
		}
		if status, resp := approve(pid, map[string]any{}); status != 200 {
			t.Fatalf("approve: %d %s", status, resp)
		}
	})

	t.Run("created-after-review", func(t *testing.T) {
		pid, changes := propose(map[string]any{"message": "new", "services": []any{svcSet("late", "late.example.com", "GITHUB_TOKEN")}})
		if len(changes) != 0 {
			t.Fatalf("changes %+v", changes)
		}
		spec, _ := json.Marshal(domain.Service{Name: "late", Host: "api.late.example.com", Auth: domain.Auth{Type: "passthrough"}})
		l.st.UpsertServices(ctx, l.shop.ID, []store.ServiceRow{{Name: "late", Spec: spec}})
		if status, resp := approve(pid, map[string]any{}); status != 409 || code(resp) != domain.CodeProposalChangeUnconfirmed {
			t.Fatalf("approve after the service appeared: %d %s", status, resp)
		}
		// The store holds the line too, for a row created between the check and the transaction.
		err := l.st.ApproveProposal(ctx, l.shop.ID, pid, "owner@example.com", store.ProposalChanges{NewServices: []string{"late"}})
		if domain.CodeOf(err) != domain.CodeProposalChangeUnconfirmed {
			t.Fatalf("store: %v", err)
		}
		if p, _ := l.st.ProposalByID(ctx, l.shop.ID, pid); p.Status != domain.ProposalPending {
			t.Fatalf("status %q after a refused approval", p.Status)
		}
	})
}

package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/host/domain"
)

type auditList struct {
	Entries []struct {
		Seq       int64           `json:"seq"`
		Time      time.Time       `json:"time"`
		ActorKind string          `json:"actor_kind"`
		ActorName string          `json:"actor_name"`
		Operation string          `json:"operation"`
		Vault     string          `json:"vault"`
		Target    string          `json:"target"`
		Outcome   string          `json:"outcome"`
		Summary   json.RawMessage `json:"summary"`
	} `json:"entries"`
	HasMore    bool  `json:"has_more"`
	NextBefore int64 `json:"next_before"`
	NextAfter  int64 `json:"next_after"`
}

func (l auditList) seqs() string {
	var s []string
	for _, e := range l.Entries {
		s = append(s, fmt.Sprint(e.Seq))
	}
	return strings.Join(s, ",")
}

// GET /v1/audit filters by actor, vault, operation and time and pages
// with cursors both ways; entries name keys, never values.
func TestListAuditEntries(t *testing.T) {
	e := newEnv(t)
	_, owner := e.user("owner@example.com", domain.InstanceOwner)
	_, member := e.user("member@example.com", domain.InstanceMember)
	start := time.Now().Add(-time.Second)
	calls := []struct {
		token, method, path string
		body                any
	}{
		{owner, "POST", "/v1/vaults", map[string]any{"name": "alpha"}},                                                               // 1
		{owner, "POST", "/v1/credentials", map[string]any{"vault": "alpha", "credentials": map[string]string{"K1": "v-one-secret"}}}, // 2
		{member, "POST", "/v1/vaults", map[string]any{"name": "beta"}},                                                               // 3
		{member, "POST", "/v1/credentials", map[string]any{"vault": "beta", "credentials": map[string]string{"K2": "v-two-secret"}}}, // 4
		{owner, "PATCH", "/v1/vaults/alpha", map[string]any{"name": "alpha-2"}},                                                      // 5
		{member, "DELETE", "/v1/vaults/alpha-2", nil},                                                                                // 6: refused
	}
	for _, c := range calls {
		e.do(c.method, c.path, c.token, c.body)
	}
	list := func(query string) auditList {
		t.Helper()
		status, body := e.do("GET", "/v1/audit?"+query, owner, nil)
		if status != http.StatusOK {
			t.Fatalf("GET /v1/audit?%s: %d %s", query, status, body)
		}
		if strings.Contains(string(body), "secret") {
			t.Fatalf("the audit trail holds a credential value: %s", body)
		}
		var l auditList
		json.Unmarshal(body, &l)
		return l
	}
	tests := []struct {
		name, query, want string
	}{
		{"newest-first", "", "6,5,4,3,2,1"},
		{"by-actor-email", "actor=member@example.com", "6,4,3"},
		{"by-vault", "vault=beta", "4,3"},
		{"by-operation", "operation=set-credentials", "4,2"},
		{"by-operation-and-actor", "operation=set-credentials&actor=owner@example.com", "2"},
		{"since", "since=" + url.QueryEscape(start.UTC().Format(time.RFC3339Nano)), "6,5,4,3,2,1"},
		{"until-before-all", "until=" + url.QueryEscape(start.UTC().Format(time.RFC3339Nano)), ""},
		{"page-1", "limit=2", "6,5"},
		{"page-2", "limit=2&before=5", "4,3"},
		{"after", "after=4", "5,6"},
		{"oldest", "oldest=true&limit=3", "1,2,3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := list(tc.query).seqs(); got != tc.want {
				t.Fatalf("seqs %q, want %q", got, tc.want)
			}
		})
	}
	page := list("limit=2")
	if !page.HasMore || page.NextBefore != 5 || page.NextAfter != 6 {
		t.Errorf("cursors: %+v", page)
	}
	all := list("")
	refused := all.Entries[0]
	if refused.Operation != "delete-vault" || refused.Outcome != domain.CodeForbidden || refused.ActorName != "member@example.com" {
		t.Errorf("the refused delete is recorded as %+v", refused)
	}
	if set := all.Entries[4]; set.Target != "credentials K1" || !strings.HasPrefix(string(set.Summary), `{"keys":["K1"],"value_macs":{"K1":"`) || set.Vault != "alpha" {
		t.Errorf("set-credentials entry: %+v %s", set, set.Summary)
	}
	if status, body := e.do("GET", "/v1/audit", member, nil); status != http.StatusForbidden {
		t.Errorf("a member reads the trail: %d %s", status, body)
	}
	status, body := e.do("GET", "/v1/audit/verify", owner, nil)
	if status != http.StatusOK || !strings.Contains(string(body), `"ok":true`) || !strings.Contains(string(body), `"checked":6`) {
		t.Errorf("verify: %d %s", status, body)
	}
}

// Setting the same value twice, under other keys and vaults, gives equal
// value MACs; another value a different one; the value never shows.
func TestAuditValueMACs(t *testing.T) {
	e := newEnv(t)
	_, owner := e.user("owner@example.com", domain.InstanceOwner)
	e.do("POST", "/v1/vaults", owner, map[string]any{"name": "alpha"})
	for _, c := range []map[string]any{
		{"vault": "alpha", "credentials": map[string]string{"A": "same-value-123", "B": "other-value-456"}},
		{"vault": "default", "credentials": map[string]string{"C": "same-value-123"}},
	} {
		if status, body := e.do("POST", "/v1/credentials", owner, c); status != http.StatusOK {
			t.Fatalf("set: %d %s", status, body)
		}
	}
	_, body := e.do("GET", "/v1/audit?operation=set-credentials", owner, nil)
	if strings.Contains(string(body), "value-") {
		t.Fatalf("a value is in the trail: %s", body)
	}
	var l struct {
		Entries []struct {
			Summary struct {
				MACs map[string]string `json:"value_macs"`
			} `json:"summary"`
		} `json:"entries"`
	}
	json.Unmarshal(body, &l)
	if len(l.Entries) != 2 {
		t.Fatalf("entries: %s", body)
	}
	c, a, b := l.Entries[0].Summary.MACs["C"], l.Entries[1].Summary.MACs["A"], l.Entries[1].Summary.MACs["B"]
	if len(a) != 32 || a != c || a == b {
		t.Fatalf("MACs A=%q B=%q C=%q: want A = C != B", a, b, c)
	}
}

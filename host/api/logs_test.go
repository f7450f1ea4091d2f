package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/store"
)

type logsPage struct {
	Vault string
	Logs  []struct {
		ID      int64
		Status  int
		Service string
		ActorID string `json:"actor_id"`
		Keys    []string
	}
	HasMore    bool   `json:"has_more"`
	NextBefore int64  `json:"next_before"`
	LatestID   int64  `json:"latest_id"`
	Dropped    uint64 `json:"dropped"`
}

// TestRequestLogAPI walks 3 000 rows through the API: every page newest
// first, each row once; filters combine; the tail mode returns only newer
// rows; a proxy-role caller is refused; dropped events are shown.
func TestRequestLogAPI(t *testing.T) {
	l := newLoopEnv(t)
	ctx := context.Background()
	const n = 3000
	rows := make([]store.RequestLog, n)
	for i := range rows {
		rows[i] = store.RequestLog{VaultID: l.shop.ID, At: time.Now(), ActorKind: "agent", ActorID: fmt.Sprintf("a%d", i%3),
			Method: "GET", Host: "api.github.com", Path: "/p", Service: []string{"github", "other"}[i%2], Keys: []string{"GITHUB_TOKEN"},
			Status: []int{200, 403, 502, 304}[i%4]}
	}
	if err := l.st.InsertRequestLogs(ctx, rows); err != nil {
		t.Fatal(err)
	}
	l.dropped = 7
	get := func(query string) logsPage {
		t.Helper()
		status, body := l.do("GET", "/v1/vaults/shop/logs?"+query, l.admin, nil)
		if status != 200 {
			t.Fatalf("%s: %d %s", query, status, body)
		}
		var p logsPage
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatal(err)
		}
		return p
	}

	seen, pages, before := map[int64]bool{}, 0, int64(0)
	var newest int64
	for {
		q := "limit=200"
		if before > 0 {
			q += fmt.Sprintf("&before=%d", before)
		}
		p := get(q)
		if pages == 0 {
			newest = p.LatestID
		}
		pages++
		for i, r := range p.Logs {
			if seen[r.ID] || (i > 0 && r.ID >= p.Logs[i-1].ID) {
				t.Fatalf("page %d: row %d repeated or out of order", pages, r.ID)
			}
			seen[r.ID] = true
		}
		if !p.HasMore {
			if p.NextBefore != 0 {
				t.Fatalf("last page has next_before %d", p.NextBefore)
			}
			break
		}
		before = p.NextBefore
	}
	if len(seen) != n || pages != n/200 || newest != int64(n) {
		t.Fatalf("%d rows in %d pages, newest %d", len(seen), pages, newest)
	}

	tests := []struct {
		name     string
		query    string
		wantLen  int
		wantMore bool
		check    func(status int, service, actor string) bool
	}{
		{"default-limit", "", 50, true, nil},
		{"status-4xx", "status_bucket=4xx&limit=200", 200, true, func(s int, _, _ string) bool { return s == 403 }},
		{"status-3xx-other", "status_bucket=3xx&service=other&limit=200", 200, true, func(s int, svc, _ string) bool { return s == 304 && svc == "other" }},
		{"status-5xx-other-none", "status_bucket=5xx&service=other&before=3001&limit=200", 0, false, nil},
		{"status-5xx-github-last-page", "status_bucket=5xx&service=github&before=200&limit=200", 50, false, func(s int, svc, _ string) bool { return s == 502 && svc == "github" }},
		{"actor", "actor=a2&limit=200", 200, true, func(_ int, _, a string) bool { return a == "a2" }},
		{"tail-nothing-new", fmt.Sprintf("after=%d", n), 0, false, nil},
		{"tail-window", fmt.Sprintf("after=%d&limit=5", n-10), 5, true, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := get(tc.query)
			if len(p.Logs) != tc.wantLen || p.HasMore != tc.wantMore || p.Dropped != 7 {
				t.Fatalf("%d rows more=%v dropped=%d, want %d more=%v", len(p.Logs), p.HasMore, p.Dropped, tc.wantLen, tc.wantMore)
			}
			for _, r := range p.Logs {
				if tc.check != nil && !tc.check(r.Status, r.Service, r.ActorID) {
					t.Fatalf("row %+v does not match the filter", r)
				}
			}
		})
	}
	// Tail: the window is the rows right after the cursor, newest first, and
	// latest_id moves on; an empty poll keeps the cursor.
	if p := get(fmt.Sprintf("after=%d&limit=5", n-10)); p.Logs[0].ID != n-5 || p.Logs[4].ID != n-9 || p.LatestID != n-5 {
		t.Fatalf("tail window %d..%d latest %d", p.Logs[4].ID, p.Logs[0].ID, p.LatestID)
	}
	if p := get(fmt.Sprintf("after=%d", n)); p.LatestID != n {
		t.Fatalf("empty poll moved latest_id to %d", p.LatestID)
	}

	bad := []struct {
		name, query string
		token       string
		wantStatus  int
		wantCode    string
	}{
		{"limit-too-large", "limit=201", l.admin, 422, "invalid_input"},
		{"bad-bucket", "status_bucket=6xx", l.admin, 422, "invalid_input"},
		{"negative-cursor", "before=-1", l.admin, 422, "invalid_input"},
		{"agent-refused", "", l.agent, 403, domain.CodeForbidden},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			status, body := l.do("GET", "/v1/vaults/shop/logs?"+tc.query, tc.token, nil)
			if status != tc.wantStatus || code(body) != tc.wantCode {
				t.Fatalf("got %d %q, want %d %q: %s", status, code(body), tc.wantStatus, tc.wantCode, body)
			}
		})
	}
}

func TestExplain(t *testing.T) {
	l := newLoopEnv(t)
	ctx := context.Background()
	disabled := false
	var rows []store.ServiceRow
	for _, svc := range []domain.Service{
		{Name: "github", Host: "api.github.com", Auth: domain.Auth{Type: "bearer", Token: "GITHUB_TOKEN"}},
		{Name: "stripe", Host: "api.stripe.com", Auth: domain.Auth{Type: "basic", Username: "STRIPE_USER", Password: "STRIPE_PASS"}},
		{Name: "off", Host: "off.example.com", Enabled: &disabled, Auth: domain.Auth{Type: "passthrough"}},
		{Name: "scoped", Host: "api.example.test/v1/*", Auth: domain.Auth{Type: "bearer", Token: "GITHUB_TOKEN"}},
	} {
		b, _ := json.Marshal(svc)
		rows = append(rows, store.ServiceRow{Name: svc.Name, Spec: b})
	}
	l.st.ReplaceServices(ctx, l.shop.ID, rows)
	l.info.dynamic[l.shop.ID] = []string{"STRIPE_USER"}

	tests := []struct {
		name string
		url  string
		want string
	}{
		{"inject-static", "https://api.github.com/user/repos?token=x",
			`{"method":"GET","host":"api.github.com","port":"443","path":"/user/repos","decision":"inject","reason":"service \"github\" matches; its bearer auth is injected","service":{"name":"github","host":"api.github.com","enabled":true,"auth_type":"bearer"},"credentials":[{"key":"GITHUB_TOKEN","source":"static"}],"unmatched_host_policy":"deny"}`},
		{"missing-key", "https://api.stripe.com/v1/charges",
			`{"method":"GET","host":"api.stripe.com","port":"443","path":"/v1/charges","decision":"refuse","code":"credential_not_found","reason":"service \"stripe\" matches but the vault holds no credential \"STRIPE_PASS\" (502)","service":{"name":"stripe","host":"api.stripe.com","enabled":true,"auth_type":"basic"},"credentials":[{"key":"STRIPE_USER","source":"dynamic"},{"key":"STRIPE_PASS","source":"missing"}],"unmatched_host_policy":"deny"}`},
		{"disabled", "http://off.example.com:8080/",
			`{"method":"GET","host":"off.example.com","port":"8080","path":"/","decision":"refuse","code":"service_disabled","reason":"service \"off\" matches but is disabled (403)","service":{"name":"off","host":"off.example.com","enabled":false,"auth_type":"passthrough"},"credentials":[],"unmatched_host_policy":"deny"}`},
		{"ambiguous-path", "https://api.example.test/v1%2Fadmin",
			`{"method":"GET","host":"api.example.test","port":"443","path":"/v1%2Fadmin","decision":"refuse","code":"ambiguous_path","reason":"the path \"/v1%2Fadmin\" is ambiguous for service \"scoped\", which covers only part of this host: an encoded character (such as %2F) decides whether it is under the service's path; no credential is attached. Send the path in plain form (400)","credentials":[],"unmatched_host_policy":"deny"}`},
		{"deny-unmatched", "https://unknown.example.com",
			`{"method":"GET","host":"unknown.example.com","port":"443","path":"/","decision":"refuse","code":"host_not_allowed","reason":"no service of vault \"shop\" matches unknown.example.com:443/ and the vault refuses other hosts (403; the agent gets a proposal_hint)","credentials":[],"unmatched_host_policy":"deny"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := l.do("GET", "/v1/vaults/shop/explain?url="+url.QueryEscape(tc.url), l.admin, nil)
			// The leak-defence fields are checked on their own; the rest
			// must be exactly the want.
			var got, want map[string]any
			if status != 200 || json.Unmarshal(body, &got) != nil || json.Unmarshal([]byte(tc.want), &want) != nil {
				t.Fatalf("got %d\n%s", status, body)
			}
			scrubbing, _ := got["response_scrubbing"].(string)
			egress, _ := got["egress_check"].(string)
			recent, _ := got["recent"].([]any)
			wantScrub := map[string]string{"inject-static": "the values of GITHUB_TOKEN and their encodings are replaced",
				"missing-key": "the values of STRIPE_USER, STRIPE_PASS and their encodings are replaced"}[tc.name]
			if wantScrub == "" {
				wantScrub = "nothing is injected, so nothing is scrubbed"
			}
			if !strings.Contains(scrubbing, wantScrub) || !strings.Contains(egress, "secret_egress_blocked") || recent == nil || len(recent) != 0 {
				t.Fatalf("leak fields: %q %q %v", scrubbing, egress, got["recent"])
			}
			delete(got, "response_scrubbing")
			delete(got, "egress_check")
			delete(got, "recent")
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got %d\n%s\nwant\n%s", status, body, tc.want)
			}
		})
	}
	l.st.SetUnmatchedHostPolicy(ctx, l.shop.ID, domain.PolicyPassthrough)
	_, body := l.do("GET", "/v1/vaults/shop/explain?method=POST&url="+url.QueryEscape("https://unknown.example.com/x"), l.admin, nil)
	if !strings.Contains(string(body), `"decision":"forward"`) || !strings.Contains(string(body), `"method":"POST"`) {
		t.Fatalf("passthrough: %s", body)
	}

	bad := []struct {
		name, query string
		wantStatus  int
		wantCode    string
	}{
		{"no-url", "", 422, "invalid_input"},
		{"relative", "url=/v1/x", 400, domain.CodeInvalidInput},
		{"ftp", "url=" + url.QueryEscape("ftp://x.com/"), 400, domain.CodeInvalidInput},
		{"bad-port", "url=" + url.QueryEscape("https://x.com:99999/"), 400, domain.CodeInvalidInput},
		{"bad-method", "method=get&url=" + url.QueryEscape("https://x.com/"), 422, "invalid_input"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			status, body := l.do("GET", "/v1/vaults/shop/explain?"+tc.query, l.admin, nil)
			if status != tc.wantStatus || code(body) != tc.wantCode {
				t.Fatalf("got %d %q, want %d %q: %s", status, code(body), tc.wantStatus, tc.wantCode, body)
			}
		})
	}
}

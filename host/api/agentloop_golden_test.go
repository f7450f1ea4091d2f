package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/host/store"
	"github.com/agent-vault/agent-vault/sdk/golden"
)

var (
	uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	timeRE = regexp.MustCompile(`"\d{4}-\d\d-\d\dT[0-9:.]+Z"`)
)

// normalized indents a JSON body and replaces ids and times, which differ
// per run, so the wire shape can be compared byte for byte.
func normalized(t *testing.T, body []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, body, "", "  "); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	out := uuidRE.ReplaceAll(buf.Bytes(), []byte("<id>"))
	return timeRE.ReplaceAll(out, []byte(`"<time>"`))
}

// TestAgentLoopWireGolden pins the JSON agents and the UI read: a proposal
// as polled, and a page of the request log.
func TestAgentLoopWireGolden(t *testing.T) {
	l := newLoopEnv(t)
	status, body := l.do("POST", "/v1/proposals", l.agent, map[string]any{
		"message": "need stripe", "user_message": "report my charges",
		"services": []any{map[string]any{"action": "set", "name": "stripe", "host": "api.stripe.com",
			"auth":          map[string]any{"type": "bearer", "token": "STRIPE_KEY"},
			"substitutions": []any{map[string]any{"key": "STRIPE_ACCOUNT", "placeholder": "__ACCOUNT__", "in": []string{"path"}}}}},
		"credentials": []any{
			map[string]any{"action": "set", "key": "STRIPE_KEY", "description": "secret key", "obtain": "https://dashboard.stripe.com/apikeys"},
			map[string]any{"action": "set", "key": "STRIPE_ACCOUNT", "value": "acct_123"},
		},
	})
	if status != 201 {
		t.Fatalf("%d %s", status, body)
	}
	_, body = l.do("GET", "/v1/proposals/"+id(body), l.agent, nil)
	golden.Check(t, "proposal", normalized(t, body))

	robot, err := l.st.AgentByName(context.Background(), "robot")
	if err != nil {
		t.Fatal(err)
	}
	err = l.st.InsertRequestLogs(context.Background(), []store.RequestLog{
		{VaultID: l.shop.ID, At: time.Now(), ActorKind: "session", ActorID: "0123456789abcdef", Method: "GET", Host: "unknown.example.com", Path: "/", Status: 403, Error: "host_not_allowed"},
		{VaultID: l.shop.ID, At: time.Now(), ActorKind: "agent", ActorID: robot.ID, Method: "POST", Host: "api.github.com", Path: "/repos", Service: "github", Keys: []string{"GITHUB_TOKEN"}, Status: 201, LatencyMS: 42},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, body = l.do("GET", "/v1/vaults/shop/logs", l.admin, nil)
	golden.Check(t, "request_logs", normalized(t, body))
}

package api_test

import (
	"context"
	"encoding/json"
	"io"
	"mime/quotedprintable"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/host/api"
	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/mail"
	"github.com/agent-vault/agent-vault/host/mail/mailtest"
	"github.com/agent-vault/agent-vault/host/notify"
	"github.com/agent-vault/agent-vault/host/seal"
	"github.com/agent-vault/agent-vault/host/store"
)

// hookReceiver is a loopback webhook endpoint: it answers the first fail
// posts 503, holds each post while hold is set, and keeps the bodies.
type hookReceiver struct {
	mu     sync.Mutex
	bodies [][]byte
	fail   int
	posts  int
	hold   chan struct{}
	got    chan struct{}
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.hold != nil {
		<-h.hold
	}
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	h.posts++
	if h.fail > 0 {
		h.fail--
		h.mu.Unlock()
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	if r.Header.Get("Content-Type") != "application/json" {
		h.mu.Unlock()
		http.Error(w, "want JSON", http.StatusUnsupportedMediaType)
		return
	}
	h.bodies = append(h.bodies, b)
	h.mu.Unlock()
	h.got <- struct{}{}
}

func (h *hookReceiver) wait(t *testing.T) []byte {
	t.Helper()
	select {
	case <-h.got:
	case <-time.After(20 * time.Second):
		t.Fatal("no webhook arrived")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.bodies[len(h.bodies)-1]
}

type notifyEnv struct {
	*testEnv
	smtp  *mailtest.Server
	hook  *hookReceiver
	agent string
	owner string
}

// newNotifyEnv is the API with notifications to a real SMTP server and a
// webhook receiver on loopback, a vault "shop" with two admins (one of
// them disabled), a member, and an agent.
func newNotifyEnv(t *testing.T, format string, hook *hookReceiver) *notifyEnv {
	t.Helper()
	smtpSrv := mailtest.Start(t, mailtest.Options{TLS: mail.TLSStartTLS, User: "relay", Password: "relay-password"})
	sender, err := mail.New(smtpSrv.Config("Agent Vault <vault@example.com>"))
	if err != nil {
		t.Fatal(err)
	}
	if hook.got == nil {
		hook.got = make(chan struct{}, 16)
	}
	hookSrv := httptest.NewServer(hook)
	t.Cleanup(hookSrv.Close)
	n, err := notify.New(notify.Config{Mail: sender, WebhookURL: hookSrv.URL + "/hooks/T000/secret-path", WebhookFormat: format,
		Backoff: 10 * time.Millisecond, Attempts: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	e := newEnv(t, func(d *api.Deps) { d.Notifier = n })
	ne := &notifyEnv{testEnv: e, smtp: smtpSrv, hook: hook}
	_, ne.owner = e.user("owner@example.com", domain.InstanceOwner)
	if status, body := e.do("POST", "/v1/vaults", ne.owner, map[string]any{"name": "shop"}); status != http.StatusCreated {
		t.Fatalf("%d %s", status, body)
	}
	ctx := context.Background()
	v, _ := e.st.VaultByName(ctx, "shop")
	adminID, _ := e.user("second-admin@example.com", domain.InstanceMember)
	e.grant(v.ID, store.PrincipalUser, adminID, domain.VaultAdmin)
	memberID, _ := e.user("member@example.com", domain.InstanceMember)
	e.grant(v.ID, store.PrincipalUser, memberID, domain.VaultMember)
	goneID, _ := e.user("disabled-admin@example.com", domain.InstanceNoAccess)
	e.grant(v.ID, store.PrincipalUser, goneID, domain.VaultAdmin)
	tok, hash := seal.NewToken(seal.PrefixAgent)
	if _, err := e.st.CreateAgent(ctx, store.Agent{Name: "robot", Role: domain.InstanceMember}, hash,
		[]store.AgentGrant{{VaultID: v.ID, Role: domain.VaultProxy}}); err != nil {
		t.Fatal(err)
	}
	ne.agent = tok
	return ne
}

const proposedValue = "MARKER_proposed_secret_value"

func (ne *notifyEnv) propose(t *testing.T, message string) string {
	t.Helper()
	status, body := ne.do("POST", "/v1/proposals", ne.agent, map[string]any{"vault": "shop", "message": message,
		"services":    []any{svcSet("stripe", "api.stripe.com", "STRIPE_KEY")},
		"credentials": []any{map[string]any{"action": "set", "key": "STRIPE_KEY", "value": proposedValue}}})
	if status != http.StatusCreated {
		t.Fatalf("%d %s", status, body)
	}
	return id(body)
}

// TestProposalNotifications: an agent's proposal reaches the vault's
// admins (and only they) by email over STARTTLS with AUTH, and the JSON
// webhook; both link to the proposal's review page and carry key names,
// never the proposed value.
func TestProposalNotifications(t *testing.T) {
	ne := newNotifyEnv(t, notify.FormatJSON, &hookReceiver{})
	pid := ne.propose(t, "Need Stripe for the monthly report")
	review := "http://agent-vault.test/vaults/shop/proposals/" + pid

	m := ne.smtp.Wait(t, 1, 20*time.Second)[0]
	to := append([]string(nil), m.To...)
	sort.Strings(to)
	if strings.Join(to, ",") != "owner@example.com,second-admin@example.com" || !m.TLS || m.User != "relay" {
		t.Errorf("mailed to %v (tls %v, user %q), want the two enabled admins over TLS as relay", m.To, m.TLS, m.User)
	}
	raw := string(m.Data)
	text, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(raw[strings.Index(raw, "\r\n\r\n")+4:])))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Subject: [Agent Vault] agent robot proposes changes to vault shop\r\n"} {
		if !strings.Contains(raw, want) {
			t.Errorf("headers lack %q:\n%s", want, raw)
		}
	}
	for _, want := range []string{"Review it: " + review + "\r\n", "Need Stripe for the monthly report", "set stripe api.stripe.com", "set STRIPE_KEY"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("email text lacks %q:\n%s", want, text)
		}
	}

	var ev map[string]any
	body := ne.hook.wait(t)
	if err := json.Unmarshal(body, &ev); err != nil {
		t.Fatal(err)
	}
	if ev["type"] != "proposal.created" || ev["vault"] != "shop" || ev["proposal_id"] != pid || ev["review_url"] != review {
		t.Errorf("webhook body %s", body)
	}
	if actor, _ := ev["actor"].(map[string]any); actor["kind"] != "agent" || actor["name"] != "robot" {
		t.Errorf("actor %v", ev["actor"])
	}
	if _, ok := ev["admins"]; ok {
		t.Error("the webhook got the admins' addresses")
	}
	for _, b := range [][]byte{m.Data, text, body} {
		if strings.Contains(string(b), proposedValue) {
			t.Fatalf("a notification carries the proposed credential value:\n%s", b)
		}
	}
}

// The Slack format is {"text": …} with a link to the review page, and the
// agent's text cannot become Slack markup (a mention, a link).
func TestProposalNotificationSlackFormat(t *testing.T) {
	ne := newNotifyEnv(t, notify.FormatSlack, &hookReceiver{})
	pid := ne.propose(t, "urgent <!channel> see <https://evil.example|here>")
	var msg struct {
		Text string `json:"text"`
	}
	body := ne.hook.wait(t)
	if err := json.Unmarshal(body, &msg); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"agent *robot* filed a proposal for vault *shop*: <http://agent-vault.test/vaults/shop/proposals/" + pid + "|review it>",
		"&lt;!channel&gt;", "&lt;https://evil.example|here&gt;", "• credential set `STRIPE_KEY`"} {
		if !strings.Contains(msg.Text, want) {
			t.Errorf("slack text lacks %q:\n%s", want, msg.Text)
		}
	}
	if strings.Contains(msg.Text, "<!channel>") || strings.Contains(string(body), proposedValue) {
		t.Errorf("slack text %q", msg.Text)
	}
}

// Transient failures are retried: the relay says 451 twice and the
// webhook 503 twice, and each message still arrives exactly once.
func TestProposalNotificationRetries(t *testing.T) {
	hook := &hookReceiver{fail: 2}
	ne := newNotifyEnv(t, notify.FormatJSON, hook)
	ne.smtp.FailNext(2)
	ne.propose(t, "retry me")
	ne.smtp.Wait(t, 1, 20*time.Second)
	ne.hook.wait(t)
	hook.mu.Lock()
	posts := hook.posts
	hook.mu.Unlock()
	if posts != 3 || len(ne.smtp.Messages()) != 1 {
		t.Errorf("%d webhook posts (want 3), %d emails (want 1)", posts, len(ne.smtp.Messages()))
	}
}

// Sending never holds up the request: with the webhook stuck, the agent's
// proposal is answered, and the notification follows once it unsticks.
func TestProposalNotificationDoesNotBlock(t *testing.T) {
	hook := &hookReceiver{hold: make(chan struct{})}
	ne := newNotifyEnv(t, notify.FormatJSON, hook)
	done := make(chan string, 1)
	go func() { done <- ne.propose(t, "while the webhook hangs") }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		close(hook.hold)
		t.Fatal("creating a proposal waited for the webhook")
	}
	close(hook.hold)
	ne.hook.wait(t)
}

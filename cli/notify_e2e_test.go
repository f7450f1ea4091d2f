package cli_test

import (
	"encoding/json"
	"io"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/host/mail"
	"github.com/agent-vault/agent-vault/host/mail/mailtest"
)

// TestProposalNotificationsEndToEnd runs the real server with its SMTP
// and webhook settings pointing at a real SMTP server and a webhook
// receiver on loopback: an agent's proposal reaches the vault's admin by
// email and the webhook, both linking to the review page under the public
// URL, and neither carries the value the agent proposed.
func TestProposalNotificationsEndToEnd(t *testing.T) {
	smtpSrv := mailtest.Start(t, mailtest.Options{TLS: mail.TLSNone})
	_, smtpPort, _ := net.SplitHostPort(smtpSrv.Addr())
	hooks := make(chan []byte, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		hooks <- b
	}))
	defer hook.Close()
	s := startServer(t, newDataDir(t),
		"AGENT_VAULT_PUBLIC_URL=https://vault.example.test",
		"AGENT_VAULT_SMTP_HOST=127.0.0.1", "AGENT_VAULT_SMTP_PORT="+smtpPort, "AGENT_VAULT_SMTP_TLS=none",
		"AGENT_VAULT_SMTP_FROM=Agent Vault <vault@example.test>",
		"AGENT_VAULT_NOTIFY_WEBHOOK_URL="+hook.URL+"/hook", "AGENT_VAULT_NOTIFY_WEBHOOK_FORMAT=json")
	o := newOperator(t, s.URL)
	for _, args := range [][]string{
		{"register", "--email", "owner@example.com", "--password-stdin"},
		{"vault", "create", "my-app"},
	} {
		if _, stderr, code := o.run(nil, "password1\n", nil, args...); code != 0 {
			t.Fatalf("%v: %d %s", args, code, stderr)
		}
	}
	stdout, stderr, code := o.run(nil, "", nil, "agent", "create", "bot", "--grant", "my-app=proxy", "--json")
	if code != 0 {
		t.Fatalf("agent create: %d %s", code, stderr)
	}
	var agent struct{ Token string }
	json.Unmarshal([]byte(stdout), &agent)
	const value = "proposed-secret-value-e2e"
	status, body := post(t, s.URL+"/v1/proposals", agent.Token, `{"vault":"my-app","message":"Need Stripe",
		"services":[{"action":"set","name":"stripe","host":"api.stripe.com","auth":{"type":"bearer","token":"STRIPE_KEY"}}],
		"credentials":[{"action":"set","key":"STRIPE_KEY","value":"`+value+`"}]}`)
	if status != http.StatusCreated {
		t.Fatalf("proposal: %d %s", status, body)
	}
	var p struct{ ID string }
	json.Unmarshal([]byte(body), &p)
	review := "https://vault.example.test/vaults/my-app/proposals/" + p.ID

	m := smtpSrv.Wait(t, 1, time.Minute)[0]
	raw := string(m.Data)
	text, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(raw[strings.Index(raw, "\r\n\r\n")+4:])))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(m.To, ",") != "owner@example.com" || !strings.Contains(string(text), "Review it: "+review+"\r\n") {
		t.Errorf("email to %v:\n%s", m.To, text)
	}
	select {
	case b := <-hooks:
		if !strings.Contains(string(b), `"review_url":"`+review+`"`) || strings.Contains(string(b), value) {
			t.Errorf("webhook body %s", b)
		}
	case <-time.After(time.Minute):
		t.Fatal("no webhook arrived")
	}
	if strings.Contains(raw+string(text), value) {
		t.Errorf("the email carries the proposed value")
	}
}

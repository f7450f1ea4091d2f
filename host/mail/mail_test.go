package mail_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/host/mail"
	"github.com/agent-vault/agent-vault/host/mail/mailtest"
)

// Each TLS mode delivers through a real SMTP server on loopback, with and
// without AUTH, and the message arrives as composed.
func TestSend(t *testing.T) {
	tests := []struct {
		name      string
		opts      mailtest.Options
		wantTLS   bool
		wantUser  string
		breakAuth bool
		wantErr   string
	}{
		{name: "none", opts: mailtest.Options{TLS: mail.TLSNone}},
		{name: "none-auth-loopback", opts: mailtest.Options{TLS: mail.TLSNone, User: "relay", Password: "relay-password"}, wantUser: "relay"},
		{name: "starttls-auth", opts: mailtest.Options{TLS: mail.TLSStartTLS, User: "relay", Password: "relay-password"}, wantTLS: true, wantUser: "relay"},
		{name: "tls-auth", opts: mailtest.Options{TLS: mail.TLSImplicit, User: "relay", Password: "relay-password"}, wantTLS: true, wantUser: "relay"},
		{name: "wrong-password", opts: mailtest.Options{TLS: mail.TLSStartTLS, User: "relay", Password: "relay-password"}, breakAuth: true, wantErr: "mail: AUTH as relay"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := mailtest.Start(t, tc.opts)
			cfg := srv.Config("Agent Vault <vault@example.com>")
			if tc.breakAuth {
				cfg.Password = "not-the-password"
			}
			s, err := mail.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			err = s.Send(context.Background(), mail.Message{To: []string{"Ada <ada@example.com>", "bob@example.com"},
				Subject: "Proposal für my-app", Text: "Line one\nA link: https://vault.example.com/vaults/my-app/proposals/p1\n"})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), cfg.Password) {
					t.Fatalf("err = %v, want %q without the password", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := srv.Wait(t, 1, 10*time.Second)[0]
			if got.From != "vault@example.com" || strings.Join(got.To, ",") != "ada@example.com,bob@example.com" {
				t.Errorf("envelope from %q to %v", got.From, got.To)
			}
			if got.TLS != tc.wantTLS || got.User != tc.wantUser {
				t.Errorf("tls %v user %q, want %v %q", got.TLS, got.User, tc.wantTLS, tc.wantUser)
			}
			data := string(got.Data)
			for _, want := range []string{"From: Agent Vault <vault@example.com>\r\n", "To: ada@example.com, bob@example.com\r\n",
				"Subject: =?utf-8?q?Proposal_f=C3=BCr_my-app?=\r\n", "Content-Type: text/plain; charset=\"utf-8\"\r\n",
				"\r\n\r\nLine one\r\nA link: https://vault.example.com/vaults/my-app/proposals/p1\r\n"} {
				if !strings.Contains(data, want) {
					t.Errorf("message lacks %q:\n%s", want, data)
				}
			}
		})
	}
}

// STARTTLS is required, never opportunistic: a relay that does not offer
// it gets no message (and no password).
func TestStartTLSRequired(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{TLS: mail.TLSNone})
	cfg := srv.Config("vault@example.com")
	cfg.TLS = mail.TLSStartTLS
	s, err := mail.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Send(context.Background(), mail.Message{To: []string{"a@example.com"}, Subject: "x", Text: "y"})
	if err == nil || !strings.Contains(err.Error(), "does not offer STARTTLS") {
		t.Fatalf("err = %v", err)
	}
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("%d messages were delivered in clear text", n)
	}
}

func TestFromEnv(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		wantNil  bool
		wantPort int
		wantErr  string
	}{
		{name: "off", env: map[string]string{}, wantNil: true},
		{name: "defaults", env: map[string]string{"AGENT_VAULT_SMTP_HOST": "smtp.example.com", "AGENT_VAULT_SMTP_FROM": "v@example.com"}, wantPort: 587},
		{name: "tls-port", env: map[string]string{"AGENT_VAULT_SMTP_HOST": "smtp.example.com", "AGENT_VAULT_SMTP_FROM": "v@example.com", "AGENT_VAULT_SMTP_TLS": "tls"}, wantPort: 465},
		{name: "explicit-port", env: map[string]string{"AGENT_VAULT_SMTP_HOST": "h", "AGENT_VAULT_SMTP_FROM": "v@example.com", "AGENT_VAULT_SMTP_PORT": "2525"}, wantPort: 2525},
		{name: "bad-tls", env: map[string]string{"AGENT_VAULT_SMTP_HOST": "h", "AGENT_VAULT_SMTP_FROM": "v@example.com", "AGENT_VAULT_SMTP_TLS": "ssl"}, wantErr: "must be none, starttls or tls"},
		{name: "bad-port", env: map[string]string{"AGENT_VAULT_SMTP_HOST": "h", "AGENT_VAULT_SMTP_FROM": "v@example.com", "AGENT_VAULT_SMTP_PORT": "99999"}, wantErr: "is not a port number"},
		{name: "no-from", env: map[string]string{"AGENT_VAULT_SMTP_HOST": "h"}, wantErr: "AGENT_VAULT_SMTP_FROM is required"},
		{name: "bad-from", env: map[string]string{"AGENT_VAULT_SMTP_HOST": "h", "AGENT_VAULT_SMTP_FROM": "not an address"}, wantErr: "is not an email address"},
		{name: "user-without-password", env: map[string]string{"AGENT_VAULT_SMTP_HOST": "h", "AGENT_VAULT_SMTP_FROM": "v@example.com", "AGENT_VAULT_SMTP_USER": "u"}, wantErr: "go together"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := mail.FromEnv(func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (c == nil) != tc.wantNil || (c != nil && c.Port != tc.wantPort) {
				t.Fatalf("config %+v", c)
			}
		})
	}
}

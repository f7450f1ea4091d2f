package notify

import (
	"fmt"
	"net/textproto"
	"strings"
	"testing"
)

func TestFromEnv(t *testing.T) {
	tests := []struct {
		name        string
		env         map[string]string
		wantEnabled bool
		wantErr     string
	}{
		{name: "nothing", env: map[string]string{}},
		{name: "webhook", env: map[string]string{"AGENT_VAULT_NOTIFY_WEBHOOK_URL": "https://hooks.example.com/x"}, wantEnabled: true},
		{name: "slack", env: map[string]string{"AGENT_VAULT_NOTIFY_WEBHOOK_URL": "https://hooks.slack.com/services/T/B/X", "AGENT_VAULT_NOTIFY_WEBHOOK_FORMAT": "slack"}, wantEnabled: true},
		{name: "smtp", env: map[string]string{"AGENT_VAULT_SMTP_HOST": "smtp.example.com", "AGENT_VAULT_SMTP_FROM": "vault@example.com"}, wantEnabled: true},
		{name: "bad-format", env: map[string]string{"AGENT_VAULT_NOTIFY_WEBHOOK_URL": "https://h.example.com", "AGENT_VAULT_NOTIFY_WEBHOOK_FORMAT": "teams"}, wantErr: "must be json or slack"},
		{name: "bad-url", env: map[string]string{"AGENT_VAULT_NOTIFY_WEBHOOK_URL": "hooks.example.com/x"}, wantErr: "must be an http(s) URL"},
		{name: "bad-smtp", env: map[string]string{"AGENT_VAULT_SMTP_HOST": "smtp.example.com"}, wantErr: "AGENT_VAULT_SMTP_FROM is required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := FromEnv(func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			n, err := New(c)
			if err != nil {
				t.Fatal(err)
			}
			defer n.Close()
			if n.Enabled() != tc.wantEnabled {
				t.Errorf("enabled %v", n.Enabled())
			}
		})
	}
}

// A webhook URL's path is a secret for Slack: errors show only its origin.
func TestRedactURL(t *testing.T) {
	raw := "https://hooks.slack.com/services/T0/B0/secret-token"
	err := redactURL(errString(`Post "`+raw+`": dial tcp: timeout`), raw)
	if strings.Contains(err.Error(), "secret-token") || !strings.Contains(err.Error(), "https://hooks.slack.com/…") {
		t.Fatalf("err = %v", err)
	}
}

func TestRetryableMail(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("mail: the relay refused the message: %w", &textproto.Error{Code: 451, Msg: "try later"}), true},
		{fmt.Errorf("mail: RCPT TO x: %w", &textproto.Error{Code: 550, Msg: "no such user"}), false},
		{errString("mail: connecting to h:25: connection refused"), true},
	}
	for _, tc := range tests {
		if got := retryableMail(tc.err); got != tc.want {
			t.Errorf("retryableMail(%v) = %v", tc.err, got)
		}
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func TestOneLine(t *testing.T) {
	if got := oneLine("a\r\nb\x00c", 10); got != "a  b c" {
		t.Errorf("%q", got)
	}
	if got := oneLine("ééééé", 3); got != "ééé…" {
		t.Errorf("%q", got)
	}
}

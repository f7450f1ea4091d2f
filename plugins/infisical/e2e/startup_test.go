package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/plugins/infisical/infisicaltest"
)

// TestStartupLogin: with no vault at all, the server logs in to Infisical
// at start and says with which method; a failing login is logged with its
// reason and the server keeps serving.
func TestStartupLogin(t *testing.T) {
	emu := infisicaltest.New(t)
	emu.AddIdentity(infisicaltest.Identity{ID: "u-1", Universal: &infisicaltest.UniversalAuth{ClientID: "cid", ClientSecret: "startup-secret"}})
	tests := []struct {
		name, secret, want string
	}{
		{"ok", "startup-secret", `msg="credential store ready" kind=infisical check="logged in to ` + emu.URL() + `/api with universal-auth"`},
		{"bad-secret", "wrong-secret", `msg="credential store unavailable until its settings work" kind=infisical code=external_store_auth_failed`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, newDataDir(t), []string{"INFISICAL_URL=" + emu.URL(),
				"INFISICAL_UNIVERSAL_AUTH_CLIENT_ID=cid", "INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET=" + tc.secret})
			deadline := time.Now().Add(30 * time.Second)
			for !strings.Contains(s.Logs.String(), tc.want) {
				if time.Now().After(deadline) {
					t.Fatalf("log lacks %s:\n%s", tc.want, s.Logs)
				}
				time.Sleep(20 * time.Millisecond)
			}
			if strings.Contains(s.Logs.String(), "startup-secret") || strings.Contains(s.Logs.String(), "wrong-secret") {
				t.Fatal("the client secret reached the log")
			}
			c := register(t, s)
			if status, body := c.Do("GET", "/v1/instance/credential-stores", nil); status != 200 {
				t.Fatalf("the server stopped serving: %d %s", status, body)
			}
			s.Stop()
		})
	}
}

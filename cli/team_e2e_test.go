package cli_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/agent-vault/agent-vault/sdk/golden"
)

// jsonAs keeps a string field of a JSON answer as vars[name].
func jsonAs(field, name string) func(string, map[string]string) {
	return func(stdout string, vars map[string]string) {
		var m map[string]any
		if err := json.Unmarshal([]byte(stdout), &m); err == nil {
			if s, ok := m[field].(string); ok {
				vars[name] = s
			}
		}
	}
}

// TestTeamCLI drives the team commands (instance settings, invitations,
// sign-ins, passwords, account deletion, vault leave, agent lifetimes)
// through the built binary against a real server, as an owner and two
// colleagues would. The normalised session is testdata/e2e/team.golden.
func TestTeamCLI(t *testing.T) {
	s := startServer(t, newDataDir(t))
	ops := map[string]*operator{"": newOperator(t, s.URL), "alice": newOperator(t, s.URL), "alice-phone": newOperator(t, s.URL)}
	steps := []step{
		{name: "register", stdin: "password1\n", args: []string{"register", "--email", "owner@example.com", "--password-stdin"}},
		{name: "settings-get", args: []string{"instance", "settings", "get"}},
		{name: "settings-set", args: []string{"instance", "settings", "set", "--invite-policy", "members", "--session-ttl", "12h", "--idle-timeout", "30m", "--allowed-email-domains", "example.com"}},
		{name: "settings-set-bad-idle", args: []string{"instance", "settings", "set", "--idle-timeout", "1m"}, wantExit: 1},
		{name: "settings-set-bad-duration", args: []string{"instance", "settings", "set", "--session-ttl", "soon"}, wantExit: 2},
		{name: "settings-set-nothing", args: []string{"instance", "settings", "set"}, wantExit: 2},
		{name: "settings-get-json", args: []string{"instance", "settings", "get", "--json"}},
		{name: "vault-create", args: []string{"vault", "create", "shop"}},

		{name: "invite-other-domain", args: []string{"invite", "create", "--email", "eve@elsewhere.org"}, wantExit: 1},
		{name: "invite-create-json", args: []string{"invite", "create", "--email", "alice@example.com", "--vault", "shop:member", "--vault", "default:proxy", "--json"},
			capture: func(out string, vars map[string]string) {
				jsonAs("id", "invite")(out, vars)
				jsonAs("token", "first")(out, vars)
			}},
		{name: "invite-bad-vault-flag", args: []string{"invite", "create", "--vault", "shop"}, wantExit: 2},
		{name: "invite-missing-vault", args: []string{"invite", "create", "--email", "bob@example.com", "--vault", "nope:member"}, wantExit: 3},
		{name: "invite-list", args: []string{"invite", "list"}},
		{name: "invite-resend-json", args: []string{"invite", "resend", "{invite}", "--json"}, capture: jsonAs("token", "renewed")},
		{name: "invite-show", as: "alice", args: []string{"invite", "show", "{renewed}"}},
		{name: "invite-accept-old-link", as: "alice", stdin: "password3\n", args: []string{"invite", "accept", "{first}", "--email", "alice@example.com", "--password-stdin"}, wantExit: 1},
		{name: "invite-accept", as: "alice", stdin: "password3\n", args: []string{"invite", "accept", "{renewed}", "--email", "alice@example.com", "--password-stdin"}},
		{name: "alice-sees-shop", as: "alice", args: []string{"vault", "creds", "list", "--vault=shop"}},
		{name: "invite-create-to-revoke-json", args: []string{"invite", "create", "--email", "bob@example.com", "--json"}, capture: jsonAs("id", "bob")},
		{name: "invite-revoke", args: []string{"invite", "revoke", "{bob}"}},
		{name: "invite-revoke-again", args: []string{"invite", "revoke", "{bob}"}, wantExit: 3},
		{name: "invite-show-used", as: "alice", args: []string{"invite", "show", "{renewed}"}, wantExit: 1},
		{name: "invite-list-empty", args: []string{"invite", "list"}},

		{name: "alice-login-phone", as: "alice-phone", stdin: "password3\n", args: []string{"login", "--email", "alice@example.com", "--password-stdin"}},
		{name: "alice-sessions", as: "alice", args: []string{"account", "sessions"}},
		{name: "alice-revoke-others", as: "alice", args: []string{"account", "sessions", "revoke-others"}},
		{name: "alice-phone-signed-out", as: "alice-phone", args: []string{"whoami"}, wantExit: 6},
		{name: "alice-revoke-missing", as: "alice", args: []string{"account", "sessions", "revoke", "nope"}, wantExit: 3},
		{name: "alice-password-wrong-current", as: "alice", stdin: "password9\npassword4\n", args: []string{"account", "password", "--password-stdin"}, wantExit: 6},
		{name: "alice-password", as: "alice", stdin: "password3\npassword4\n", args: []string{"account", "password", "--password-stdin"}},
		{name: "alice-still-signed-in", as: "alice", args: []string{"whoami"}},

		{name: "user-list", args: []string{"user", "list"}},
		{name: "user-sessions", args: []string{"user", "sessions", "alice@example.com"}},
		{name: "user-revoke-sessions", args: []string{"user", "revoke-sessions", "alice@example.com"}},
		{name: "alice-signed-out", as: "alice", args: []string{"whoami"}, wantExit: 6},
		{name: "user-reset-password-json", args: []string{"user", "reset-password", "alice@example.com", "--json"}, capture: jsonAs("reset_url", "reset")},
		{name: "alice-reset", as: "alice", stdin: "password5\n", args: []string{"account", "reset", "{reset}", "--password-stdin"}},
		{name: "alice-reset-again", as: "alice", stdin: "password6\n", args: []string{"account", "reset", "{reset}", "--password-stdin"}, wantExit: 1},
		{name: "member-cannot-reset", as: "alice", args: []string{"user", "reset-password", "owner@example.com"}, wantExit: 5},

		{name: "alice-leave", as: "alice", args: []string{"vault", "leave", "shop"}},
		{name: "alice-leave-again", as: "alice", args: []string{"vault", "leave", "shop"}, wantExit: 5},
		{name: "owner-leave-last-admin", args: []string{"vault", "leave", "shop"}, wantExit: 4},

		{name: "agent-create-ttl", args: []string{"agent", "create", "bot", "--ttl", "1h", "--grant", "shop=proxy"}},
		{name: "agent-create-bad-ttl", args: []string{"agent", "create", "bot2", "--ttl", "forever"}, wantExit: 2},
		{name: "agent-show", args: []string{"agent", "show", "bot"}},
		{name: "agent-rename", args: []string{"agent", "rename", "bot", "robot"}},
		{name: "agent-rename-missing", args: []string{"agent", "rename", "bot", "robot2"}, wantExit: 3},
		{name: "agent-set-role", args: []string{"agent", "set-role", "robot", "no-access"}},
		{name: "agent-rotate-overlap", args: []string{"agent", "rotate", "robot", "--overlap", "10m", "--ttl", "7d"}},
		{name: "agent-show-json", quiet: true, args: []string{"agent", "show", "robot", "--json"}},
		{name: "agent-rotate-keeps-lifetime", args: []string{"agent", "rotate", "robot"}},
		{name: "agent-show-lifetime", args: []string{"agent", "show", "robot"}},
		{name: "agent-rotate-never", args: []string{"agent", "rotate", "robot", "--ttl", "0"}},
		{name: "agent-show-never", args: []string{"agent", "show", "robot"}},
		{name: "agent-list", args: []string{"agent", "list"}},

		{name: "alice-delete-no-terminal", as: "alice", stdin: "password5\n", args: []string{"account", "delete", "--password-stdin"}, wantExit: 2},
		{name: "alice-delete", as: "alice", stdin: "password5\n", args: []string{"account", "delete", "--yes", "--password-stdin"}},
		{name: "owner-delete-last-owner", stdin: "password1\n", args: []string{"account", "delete", "--yes", "--password-stdin"}, wantExit: 4},
		{name: "user-list-after", args: []string{"user", "list"}},
	}
	transcript := runSteps(t, ops, steps, []string{"password1", "password3", "password4", "password5", "password9"})
	for name, o := range ops {
		transcript = strings.ReplaceAll(transcript, o.home, "$HOME("+name+")")
	}
	golden.Check(t, "e2e/team", []byte(normalize(transcript)))
}

package authz

import (
	"testing"

	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/sdk/golden"
)

func TestDecide(t *testing.T) {
	owner := Actor{Kind: User, Role: domain.InstanceOwner}
	member := Actor{Kind: User, Role: domain.InstanceMember}
	disabled := Actor{Kind: User, Role: domain.InstanceNoAccess}
	agent := Actor{Kind: Agent, Role: domain.InstanceMember}
	session := Actor{Kind: Session}
	tests := []struct {
		name     string
		op       string
		actor    Actor
		role     domain.VaultRole
		wantCode string // "" means allowed
	}{
		{"public-needs-no-token", "login", Actor{Kind: Anonymous}, "", ""},
		{"anonymous-refused", "list-vaults", Actor{Kind: Anonymous}, "", domain.CodeUnauthorized},
		{"unknown-op-refused", "no-such-op", owner, domain.VaultAdmin, domain.CodeForbidden},
		{"member-creates-vault", "create-vault", member, "", ""},
		{"no-access-cannot-create-vault", "create-vault", disabled, "", domain.CodeForbidden},
		{"no-access-with-grant-still-refused", "list-credentials", disabled, domain.VaultAdmin, domain.CodeForbidden},
		{"agent-cannot-create-vault", "create-vault", agent, "", domain.CodeForbidden},
		{"owner-manages-without-joining", "delete-vault", owner, "", ""},
		{"owner-reads-contents-only-after-joining", "list-credentials", owner, "", domain.CodeForbidden},
		{"owner-after-joining", "list-credentials", owner, domain.VaultAdmin, ""},
		{"proxy-lists-keys", "list-credentials", member, domain.VaultProxy, ""},
		{"proxy-cannot-write", "set-credentials", member, domain.VaultProxy, domain.CodeForbidden},
		{"vault-member-writes", "set-credentials", member, domain.VaultMember, ""},
		{"agent-never-writes-credentials", "set-credentials", agent, domain.VaultAdmin, domain.CodeForbidden},
		{"session-lists-services", "list-services", session, domain.VaultProxy, ""},
		{"session-outside-its-vault", "list-services", session, "", domain.CodeForbidden},
		{"session-cannot-mint-sessions", "create-session", session, domain.VaultProxy, domain.CodeForbidden},
		{"member-cannot-reset-passwords", "create-password-reset", member, "", domain.CodeForbidden},
		{"vault-member-cannot-grant", "set-vault-user", member, domain.VaultMember, domain.CodeForbidden},
		{"vault-admin-grants", "set-vault-user", member, domain.VaultAdmin, ""},
		{"delete-all-services-needs-admin", "delete-services", member, domain.VaultMember, domain.CodeForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Decide(tc.op, tc.actor, tc.role)
			if got := codeOrEmpty(err); got != tc.wantCode {
				t.Fatalf("Decide(%s) = %v, want code %q", tc.op, err, tc.wantCode)
			}
		})
	}
}

func codeOrEmpty(err error) string {
	if err == nil {
		return ""
	}
	return domain.CodeOf(err)
}

// The published matrix is generated from the table; it must not drift.
func TestPermissionsDocument(t *testing.T) {
	golden.CheckFile(t, "PERMISSIONS.md", []byte(Markdown()))
}

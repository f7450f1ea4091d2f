package authz

import (
	"testing"

	"github.com/agent-vault/agent-vault/host/domain"
)

func TestSessionRole(t *testing.T) {
	live := Creator{Kind: Agent, Exists: true, Role: domain.InstanceMember, VaultRole: domain.VaultMember}
	with := func(f func(*Creator)) Creator { c := live; f(&c); return c }
	tests := []struct {
		name     string
		minted   domain.VaultRole
		creator  Creator
		wantRole domain.VaultRole // "" means refused with unauthorized
	}{
		{"creator-holds-more", domain.VaultProxy, live, domain.VaultProxy},
		{"creator-holds-exactly", domain.VaultProxy, with(func(c *Creator) { c.VaultRole = domain.VaultProxy }), domain.VaultProxy},
		{"capped-by-creator", domain.VaultMember, with(func(c *Creator) { c.VaultRole = domain.VaultProxy }), domain.VaultProxy},
		{"creator-deleted", domain.VaultProxy, Creator{Kind: Agent}, ""},
		{"creator-revoked", domain.VaultProxy, with(func(c *Creator) { c.Revoked = true }), ""},
		{"creator-disabled", domain.VaultProxy, with(func(c *Creator) { c.Role = domain.InstanceNoAccess }), ""},
		{"creator-unknown-role", domain.VaultProxy, with(func(c *Creator) { c.Role = "" }), ""},
		{"creator-lost-grant", domain.VaultProxy, with(func(c *Creator) { c.VaultRole = "" }), ""},
		{"owner-without-grant", domain.VaultProxy, Creator{Kind: User, Exists: true, Role: domain.InstanceOwner}, ""},
		{"user-member", domain.VaultProxy, Creator{Kind: User, Exists: true, Role: domain.InstanceMember, VaultRole: domain.VaultAdmin}, domain.VaultProxy},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SessionRole(tc.minted, tc.creator)
			if tc.wantRole == "" {
				if got != "" || domain.CodeOf(err) != domain.CodeUnauthorized {
					t.Fatalf("got %q, %v; want refused with unauthorized", got, err)
				}
				return
			}
			if err != nil || got != tc.wantRole {
				t.Fatalf("got %q, %v; want %q", got, err, tc.wantRole)
			}
		})
	}
}

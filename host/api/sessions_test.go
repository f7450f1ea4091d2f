package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/store"
)

// A scoped session a user minted ends with that user's access to its
// vault, whichever way the owner takes it away; the user can still list
// and revoke their own sessions while they keep it.
func TestUserSessionFollowsItsCreator(t *testing.T) {
	tests := []struct {
		name           string
		method, path   string // the owner's change; %s is the user id
		body           any
		wantMeAfter    int
		wantListedMine int
	}{
		{"unchanged", "", "", nil, http.StatusOK, 1},
		{"disabled", http.MethodPatch, "/v1/users/{id}", map[string]any{"role": "no-access"}, http.StatusUnauthorized, 0},
		{"deleted", http.MethodDelete, "/v1/users/{id}", nil, http.StatusUnauthorized, -1},
		{"removed-from-vault", http.MethodDelete, "/v1/vaults/app/users/creator@example.com", nil, http.StatusUnauthorized, 0},
		{"downgraded-to-proxy", http.MethodPost, "/v1/vaults/app/users", map[string]any{"email": "creator@example.com", "role": "proxy"}, http.StatusOK, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			ownerID, ownerTok := e.user("owner@example.com", domain.InstanceOwner)
			v, err := e.st.CreateVault(context.Background(), "app", &store.Grant{Kind: store.PrincipalUser, PrincipalID: ownerID, Role: domain.VaultAdmin}, nil)
			if err != nil {
				t.Fatal(err)
			}
			id, tok := e.user("creator@example.com", domain.InstanceMember)
			e.grant(v.ID, store.PrincipalUser, id, domain.VaultMember)
			status, body := e.do(http.MethodPost, "/v1/sessions", tok, map[string]any{"vault": "app"})
			var sess struct{ ID, Token string }
			if json.Unmarshal(body, &sess); status != http.StatusCreated || sess.Token == "" {
				t.Fatalf("mint: %d %s", status, body)
			}
			if tc.method != "" {
				path := tc.path
				if path == "/v1/users/{id}" {
					path = "/v1/users/" + id
				}
				if status, body := e.do(tc.method, path, ownerTok, tc.body); status >= 300 {
					t.Fatalf("change: %d %s", status, body)
				}
			}
			if status, body := e.do(http.MethodGet, "/v1/auth/me", sess.Token, nil); status != tc.wantMeAfter {
				t.Fatalf("me with the session: %d %s, want %d", status, body, tc.wantMeAfter)
			}
			if tc.wantListedMine < 0 {
				return // the user is gone
			}
			status, body = e.do(http.MethodGet, "/v1/sessions", tok, nil)
			var mine struct{ Sessions []struct{ ID string } }
			if json.Unmarshal(body, &mine); status != http.StatusOK || len(mine.Sessions) != tc.wantListedMine {
				t.Fatalf("list mine: %d %s, want %d sessions", status, body, tc.wantListedMine)
			}
			// The minter revokes it, whatever its role now; then it is gone.
			if status, body := e.do(http.MethodDelete, "/v1/sessions/"+sess.ID, tok, nil); status != http.StatusOK {
				t.Fatalf("revoke mine: %d %s", status, body)
			}
			if status, _ := e.do(http.MethodDelete, "/v1/sessions/"+sess.ID, tok, nil); status != http.StatusNotFound {
				t.Fatalf("revoking twice: %d, want 404", status)
			}
		})
	}
}

// Nobody revokes another caller's session through the minter's route.
func TestRevokeMySessionIsOnlyMine(t *testing.T) {
	e := newEnv(t)
	ownerID, ownerTok := e.user("owner@example.com", domain.InstanceOwner)
	v, err := e.st.CreateVault(context.Background(), "app", &store.Grant{Kind: store.PrincipalUser, PrincipalID: ownerID, Role: domain.VaultAdmin}, nil)
	if err != nil {
		t.Fatal(err)
	}
	id, tok := e.user("other@example.com", domain.InstanceMember)
	e.grant(v.ID, store.PrincipalUser, id, domain.VaultMember)
	_, body := e.do(http.MethodPost, "/v1/sessions", ownerTok, map[string]any{"vault": "app"})
	var sess struct{ ID, Token string }
	json.Unmarshal(body, &sess)
	if status, body := e.do(http.MethodDelete, "/v1/sessions/"+sess.ID, tok, nil); status != http.StatusNotFound || code(body) != domain.CodeNotFound {
		t.Fatalf("another user's session: %d %s, want 404", status, body)
	}
	if status, _ := e.do(http.MethodGet, "/v1/auth/me", sess.Token, nil); status != http.StatusOK {
		t.Fatal("the session was revoked by someone else")
	}
	// A session may end itself.
	if status, body := e.do(http.MethodDelete, "/v1/sessions/"+sess.ID, sess.Token, nil); status != http.StatusOK {
		t.Fatalf("a session revoking itself: %d %s", status, body)
	}
	if status, _ := e.do(http.MethodGet, "/v1/auth/me", sess.Token, nil); status != http.StatusUnauthorized {
		t.Fatalf("after revoking itself: %d, want 401", status)
	}
}

package api

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/agent-vault/agent-vault/host/authz"
	"github.com/agent-vault/agent-vault/host/credstore"
	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/store"
	"github.com/danielgtaylor/huma/v2"
)

// CredentialStoreSpec chooses a vault's credential store.
type CredentialStoreSpec struct {
	Kind                string          `json:"kind" maxLength:"64" doc:"builtin, or an external kind listed by GET /v1/instance/credential-stores"`
	Config              json.RawMessage `json:"config,omitempty" doc:"The kind's per-vault config, e.g. {\"project_id\":…,\"environment\":…,\"secret_path\":\"/…\"} for infisical"`
	PollIntervalSeconds int             `json:"poll_interval_seconds,omitempty" minimum:"0" maximum:"86400" doc:"Sync cadence (default 60, minimum 10)"`
}

type CredentialStoreOutput struct {
	Body credstore.Summary
}

type SetCredentialStoreInput struct {
	Name string `path:"name" maxLength:"64"`
	Body CredentialStoreSpec
}

type ListStoreKindsOutput struct {
	Body struct {
		Kinds []credstore.KindInfo `json:"kinds"`
	}
}

func (s *server) registerCredentialStores(api huma.API) {
	huma.Register(api, op("list-credential-store-kinds", http.MethodGet, "/v1/instance/credential-stores", "The credential-store kinds the caller may create vaults with", "credential-stores"),
		func(ctx context.Context, in *struct{}) (*ListStoreKindsOutput, error) {
			c, err := s.access(ctx, "")
			if err != nil {
				return nil, err
			}
			out := &ListStoreKindsOutput{}
			for _, k := range s.Stores.Kinds() {
				// External stores are created by instance owners only: the
				// broker's identity, not the caller's, reads upstream.
				if k.Kind == credstore.BuiltinKind || c.Actor.Role == domain.InstanceOwner {
					out.Body.Kinds = append(out.Body.Kinds, k)
				}
			}
			return out, nil
		})

	huma.Register(api, op("get-credential-store", http.MethodGet, "/v1/vaults/{name}/credential-store", "Where a vault's credentials come from, and its sync state", "credential-stores", http.StatusNotFound),
		func(ctx context.Context, in *VaultNameInput) (*CredentialStoreOutput, error) {
			c, err := s.access(ctx, in.Name)
			if err != nil {
				return nil, err
			}
			sum, err := s.Stores.Summarize(ctx, c.Vault.ID, privileged(c))
			if err != nil {
				return nil, s.problem(ctx, err)
			}
			return &CredentialStoreOutput{Body: sum}, nil
		})

	huma.Register(api, op("set-credential-store", http.MethodPatch, "/v1/vaults/{name}/credential-store", "Switch a vault's credential store (connect or disconnect)", "credential-stores",
		http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusBadGateway, http.StatusServiceUnavailable),
		func(ctx context.Context, in *SetCredentialStoreInput) (*CredentialStoreOutput, error) {
			c, err := s.access(ctx, in.Name)
			if err != nil {
				return nil, err
			}
			defer s.auditStore(ctx, c.Vault.ID, func(sum credstore.Summary) any {
				return storeAudit{Kind: sum.Kind, Config: sum.Config, PollIntervalSeconds: sum.PollIntervalSeconds}
			})()
			if in.Body.Kind == credstore.BuiltinKind {
				external, err := s.Stores.IsExternal(ctx, c.Vault.ID)
				if err != nil {
					return nil, s.problem(ctx, err)
				}
				if external {
					if err := s.Stores.Disconnect(ctx, c.Vault); err != nil {
						return nil, s.problem(ctx, err)
					}
				}
			} else {
				if err := ownerOnly(c.Actor, "connecting a vault to an external store"); err != nil {
					return nil, s.problem(ctx, err)
				}
				if err := s.Stores.Connect(ctx, c.Vault, specOf(in.Body)); err != nil {
					return nil, s.problem(ctx, err)
				}
			}
			sum, err := s.Stores.Summarize(ctx, c.Vault.ID, true)
			if err != nil {
				return nil, s.problem(ctx, err)
			}
			return &CredentialStoreOutput{Body: sum}, nil
		})

	huma.Register(api, op("sync-vault", http.MethodPost, "/v1/vaults/{name}/sync", "Refresh a vault from its external store now", "credential-stores",
		http.StatusNotFound, http.StatusConflict, http.StatusBadGateway, http.StatusServiceUnavailable),
		func(ctx context.Context, in *VaultNameInput) (*CredentialStoreOutput, error) {
			c, err := s.access(ctx, in.Name)
			if err != nil {
				return nil, err
			}
			defer s.auditStore(ctx, c.Vault.ID, func(sum credstore.Summary) any {
				return syncAudit{LastSyncStatus: sum.LastSyncStatus, CredentialCount: sum.CredentialCount}
			})()
			if err := s.Stores.Sync(ctx, c.Vault.ID); err != nil {
				return nil, s.problem(ctx, err)
			}
			sum, err := s.Stores.Summarize(ctx, c.Vault.ID, privileged(c))
			if err != nil {
				return nil, s.problem(ctx, err)
			}
			return &CredentialStoreOutput{Body: sum}, nil
		})
}

// storeAudit is what the audit trail records of a vault's store when it
// is switched: its kind, its per-vault config (names of a project, a path:
// a store's secrets come from the server's environment, never from here)
// and its poll interval.
type storeAudit struct {
	Kind                string          `json:"kind"`
	Config              json.RawMessage `json:"config"`
	PollIntervalSeconds int             `json:"poll_interval_seconds"`
}

// syncAudit is what a sync changes that the trail records.
type syncAudit struct {
	LastSyncStatus  string `json:"last_sync_status"`
	CredentialCount int    `json:"credential_count"`
}

// auditStore notes a view of a vault's store now; the function it returns,
// run when the call ends, records the view's fields that changed since.
func (s *server) auditStore(ctx context.Context, vaultID string, view func(credstore.Summary) any) func() {
	if noteFrom(ctx) == nil {
		return func() {}
	}
	before, err := s.Stores.Summarize(ctx, vaultID, true)
	if err != nil {
		return func() {}
	}
	return func() {
		if after, err := s.Stores.Summarize(ctx, vaultID, true); err == nil {
			noteDiff(ctx, "credential_store", view(before), view(after))
		}
	}
}

// privileged callers see a store's config and sync errors: vault admins and
// instance owners.
func privileged(c call) bool {
	return c.Role == domain.VaultAdmin || c.Actor.Kind == authz.User && c.Actor.Role == domain.InstanceOwner
}

func ownerOnly(a authz.Actor, what string) error {
	if a.Kind == authz.User && a.Role == domain.InstanceOwner {
		return nil
	}
	return domain.Errorf(domain.CodeForbidden, "%s is for instance owners: the server's identity, not yours, reads the external store", what)
}

func specOf(b CredentialStoreSpec) credstore.Spec {
	return credstore.Spec{Kind: b.Kind, Config: b.Config, PollIntervalSeconds: b.PollIntervalSeconds}
}

// createExternalVault creates a vault on an external store (instance owners).
func (s *server) createExternalVault(ctx context.Context, c call, name string, spec CredentialStoreSpec) (store.Vault, error) {
	if err := ownerOnly(c.Actor, "creating a vault on an external store"); err != nil {
		return store.Vault{}, err
	}
	return s.Stores.CreateVault(ctx, name, &store.Grant{Kind: store.PrincipalUser, PrincipalID: c.Actor.ID, Role: domain.VaultAdmin}, specOf(spec))
}

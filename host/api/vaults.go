package api

import (
	"context"
	"net/http"
	"time"

	"github.com/agent-vault/agent-vault/host/authz"
	"github.com/agent-vault/agent-vault/host/credstore"
	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/store"
	"github.com/danielgtaylor/huma/v2"
)

// VaultView is a vault as listings show it, with the caller's role.
type VaultView struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Role      string    `json:"role,omitempty" enum:"admin,member,proxy" doc:"The caller's role; empty for an owner who has not joined"`
	CreatedAt time.Time `json:"created_at"`
	// Set in listings, so a vault list can say what each vault holds.
	StoreKind   string `json:"store_kind,omitempty" doc:"Where the vault's credentials come from: builtin or an external kind (listings only)"`
	Credentials *int   `json:"credentials,omitempty" doc:"How many credentials the vault holds (listings, for principals with a role in the vault)"`
	Services    *int   `json:"services,omitempty" doc:"How many services the vault has (listings, for principals with a role in the vault)"`
}

// CredentialStoreView summarises where a vault's credentials come from.
type VaultNameInput struct {
	Name string `path:"name" maxLength:"64"`
}

type CreateVaultInput struct {
	Body struct {
		Name            string               `json:"name" maxLength:"64" doc:"3-64 characters of a-z, 0-9 and single inner hyphens"`
		CredentialStore *CredentialStoreSpec `json:"credential_store,omitempty" doc:"Where the vault's credentials come from; built-in when absent"`
	}
}

type VaultOutput struct {
	Body VaultView
}

type ListVaultsOutput struct {
	Body struct {
		Vaults []VaultView `json:"vaults"`
	}
}

type RenameVaultInput struct {
	Name string `path:"name" maxLength:"64"`
	Body struct {
		Name string `json:"name" maxLength:"64" doc:"The new name"`
	}
}

type VaultContextOutput struct {
	Body struct {
		Vault           VaultView         `json:"vault"`
		Role            string            `json:"role,omitempty" doc:"The caller's role in this vault"`
		CredentialStore credstore.Summary `json:"credential_store"`
	}
}

// VaultSettings are a vault's proxy behaviours.
type VaultSettings struct {
	UnmatchedHostPolicy string `json:"unmatched_host_policy" enum:"passthrough,deny" doc:"What the proxy does with requests that match no service"`
	RevokeOnEgressBlock bool   `json:"revoke_on_egress_block" doc:"Revoke the scoped session whose request carried a secret bound to another host (a canary always revokes)"`
}

func vaultSettings(v store.Vault) VaultSettings {
	return VaultSettings{UnmatchedHostPolicy: v.UnmatchedHostPolicy, RevokeOnEgressBlock: v.RevokeOnEgressBlock}
}

type VaultSettingsOutput struct {
	Body VaultSettings
}

type UpdateVaultSettingsInput struct {
	Name string `path:"name" maxLength:"64"`
	Body struct {
		UnmatchedHostPolicy string `json:"unmatched_host_policy,omitempty" enum:"passthrough,deny"`
		RevokeOnEgressBlock *bool  `json:"revoke_on_egress_block,omitempty"`
	}
}

func (s *server) registerVaults(api huma.API) {
	huma.Register(api, created(op("create-vault", http.MethodPost, "/v1/vaults", "Create a vault", "vaults", http.StatusBadRequest, http.StatusConflict)),
		func(ctx context.Context, in *CreateVaultInput) (*VaultOutput, error) {
			c, err := s.access(ctx, "")
			if err != nil {
				return nil, err
			}
			noteVault(ctx, in.Body.Name)
			if err := domain.CheckVaultName(in.Body.Name); err != nil {
				return nil, s.problem(ctx, err)
			}
			var v store.Vault
			if cs := in.Body.CredentialStore; cs != nil && cs.Kind != credstore.BuiltinKind {
				v, err = s.createExternalVault(ctx, c, in.Body.Name, *cs)
			} else {
				v, err = s.Store.CreateVault(ctx, in.Body.Name, &store.Grant{Kind: store.PrincipalUser, PrincipalID: c.Actor.ID, Role: domain.VaultAdmin}, nil)
			}
			if err != nil {
				return nil, s.problem(ctx, err)
			}
			noteChange(ctx, "name", nil, v.Name)
			if cs := in.Body.CredentialStore; cs != nil {
				noteChange(ctx, "credential_store", nil, cs.Kind)
			}
			return &VaultOutput{Body: vaultView(v, domain.VaultAdmin)}, nil
		})

	huma.Register(api, op("list-vaults", http.MethodGet, "/v1/vaults", "List the vaults the caller can see", "vaults"),
		func(ctx context.Context, in *struct{}) (*ListVaultsOutput, error) {
			c, err := s.access(ctx, "")
			if err != nil {
				return nil, err
			}
			out := &ListVaultsOutput{}
			out.Body.Vaults = []VaultView{}
			if c.Actor.Kind == authz.Session {
				v, err := s.Store.VaultByID(ctx, c.Actor.VaultID)
				if err != nil {
					return nil, s.problem(ctx, err)
				}
				view, err := s.listedVault(ctx, v, domain.VaultProxy)
				if err != nil {
					return nil, s.problem(ctx, err)
				}
				out.Body.Vaults = append(out.Body.Vaults, view)
				return out, nil
			}
			kind := store.PrincipalUser
			if c.Actor.Kind == authz.Agent {
				kind = store.PrincipalAgent
			}
			isOwner := c.Actor.Kind == authz.User && c.Actor.Role == domain.InstanceOwner
			list, err := s.Store.ListVaults(ctx, kind, c.Actor.ID, isOwner)
			if err != nil {
				return nil, s.problem(ctx, err)
			}
			for _, v := range list {
				if c.Actor.Role == domain.InstanceNoAccess {
					break // a disabled account sees nothing
				}
				view, err := s.listedVault(ctx, v.Vault, v.Role)
				if err != nil {
					return nil, s.problem(ctx, err)
				}
				out.Body.Vaults = append(out.Body.Vaults, view)
			}
			return out, nil
		})

	huma.Register(api, op("delete-vault", http.MethodDelete, "/v1/vaults/{name}", "Delete a vault and everything in it", "vaults", http.StatusNotFound, http.StatusConflict),
		func(ctx context.Context, in *VaultNameInput) (*struct{}, error) {
			c, err := s.access(ctx, in.Name)
			if err != nil {
				return nil, err
			}
			if c.Vault.Name == domain.DefaultVault {
				return nil, s.problem(ctx, domain.Errorf(domain.CodeDefaultVault, "the default vault cannot be deleted"))
			}
			s.Stores.BeforeDeleteVault(ctx, c.Vault.ID)
			if err := s.Store.DeleteVault(ctx, c.Vault.ID); err != nil {
				return nil, s.problem(ctx, err)
			}
			noteChange(ctx, "name", c.Vault.Name, nil)
			s.changed("")
			return nil, nil
		})

	huma.Register(api, op("rename-vault", http.MethodPatch, "/v1/vaults/{name}", "Rename a vault", "vaults", http.StatusBadRequest, http.StatusNotFound, http.StatusConflict),
		func(ctx context.Context, in *RenameVaultInput) (*VaultOutput, error) {
			c, err := s.access(ctx, in.Name)
			if err != nil {
				return nil, err
			}
			if c.Vault.Name == domain.DefaultVault {
				return nil, s.problem(ctx, domain.Errorf(domain.CodeDefaultVault, "the default vault cannot be renamed"))
			}
			if err := domain.CheckVaultName(in.Body.Name); err != nil {
				return nil, s.problem(ctx, err)
			}
			if err := s.Store.RenameVault(ctx, c.Vault.ID, in.Body.Name); err != nil {
				return nil, s.problem(ctx, err)
			}
			noteChange(ctx, "name", c.Vault.Name, in.Body.Name)
			c.Vault.Name = in.Body.Name
			s.changed("")
			return &VaultOutput{Body: vaultView(c.Vault, c.Role)}, nil
		})

	huma.Register(api, op("get-vault-context", http.MethodGet, "/v1/vaults/{name}/context", "The caller's role and the vault's credential store", "vaults", http.StatusNotFound),
		func(ctx context.Context, in *VaultNameInput) (*VaultContextOutput, error) {
			c, err := s.access(ctx, in.Name)
			if err != nil {
				return nil, err
			}
			sum, err := s.Stores.Summarize(ctx, c.Vault.ID, privileged(c))
			if err != nil {
				return nil, s.problem(ctx, err)
			}
			out := &VaultContextOutput{}
			out.Body.Vault, out.Body.Role = vaultView(c.Vault, c.Role), string(c.Role)
			out.Body.CredentialStore = sum
			return out, nil
		})

	huma.Register(api, op("get-vault-settings", http.MethodGet, "/v1/vaults/{name}/settings", "A vault's proxy settings", "vaults", http.StatusNotFound),
		func(ctx context.Context, in *VaultNameInput) (*VaultSettingsOutput, error) {
			c, err := s.access(ctx, in.Name)
			if err != nil {
				return nil, err
			}
			return &VaultSettingsOutput{Body: vaultSettings(c.Vault)}, nil
		})

	huma.Register(api, op("update-vault-settings", http.MethodPatch, "/v1/vaults/{name}/settings", "Change a vault's proxy settings", "vaults", http.StatusNotFound),
		func(ctx context.Context, in *UpdateVaultSettingsInput) (*VaultSettingsOutput, error) {
			c, err := s.access(ctx, in.Name)
			if err != nil {
				return nil, err
			}
			before := vaultSettings(c.Vault)
			defer func() { noteDiff(ctx, "", before, vaultSettings(c.Vault)) }()
			if p := in.Body.UnmatchedHostPolicy; p != "" {
				if err := s.Store.SetUnmatchedHostPolicy(ctx, c.Vault.ID, p); err != nil {
					return nil, s.problem(ctx, err)
				}
				c.Vault.UnmatchedHostPolicy = p
				s.changed(c.Vault.ID)
			}
			if r := in.Body.RevokeOnEgressBlock; r != nil {
				if err := s.Store.SetRevokeOnEgressBlock(ctx, c.Vault.ID, *r); err != nil {
					return nil, s.problem(ctx, err)
				}
				c.Vault.RevokeOnEgressBlock = *r
				s.changed(c.Vault.ID)
			}
			return &VaultSettingsOutput{Body: vaultSettings(c.Vault)}, nil
		})

	huma.Register(api, op("join-vault", http.MethodPost, "/v1/vaults/{name}/join", "Join a vault as admin (instance owners)", "vaults", http.StatusNotFound),
		func(ctx context.Context, in *VaultNameInput) (*VaultOutput, error) {
			c, err := s.access(ctx, in.Name)
			if err != nil {
				return nil, err
			}
			if err := s.auditGrant(ctx, c.Vault, store.PrincipalUser, c.Actor.ID, c.Actor.Name, func() error {
				return s.identitiesChanged(ctx, s.Store.SetGrant(ctx, c.Vault.ID, store.Grant{Kind: store.PrincipalUser, PrincipalID: c.Actor.ID, Role: domain.VaultAdmin}))
			}); err != nil {
				return nil, err
			}
			return &VaultOutput{Body: vaultView(c.Vault, domain.VaultAdmin)}, nil
		})

	huma.Register(api, op("leave-vault", http.MethodPost, "/v1/vaults/{name}/leave", "Give up your own role in a vault (its last admin cannot)", "vaults", http.StatusNotFound, http.StatusConflict),
		func(ctx context.Context, in *VaultNameInput) (*struct{}, error) {
			c, err := s.access(ctx, in.Name)
			if err != nil {
				return nil, err
			}
			return nil, s.auditGrant(ctx, c.Vault, store.PrincipalUser, c.Actor.ID, c.Actor.Name, func() error {
				return s.identitiesChanged(ctx, s.Store.RemoveGrant(ctx, c.Vault.ID, store.PrincipalUser, c.Actor.ID))
			})
		})
}

func vaultView(v store.Vault, role domain.VaultRole) VaultView {
	return VaultView{ID: v.ID, Name: v.Name, Role: string(role), CreatedAt: v.CreatedAt}
}

// listedVault is a vault as the vault list shows it: with its store kind,
// and with its counts when the caller has a role in it (an owner who has
// not joined sees the kind only).
func (s *server) listedVault(ctx context.Context, v store.Vault, role domain.VaultRole) (VaultView, error) {
	view := vaultView(v, role)
	sum, err := s.Stores.Summarize(ctx, v.ID, false)
	if err != nil {
		return view, err
	}
	view.StoreKind = sum.Kind
	if role == "" {
		return view, nil
	}
	svcs, err := s.Store.ListServices(ctx, v.ID)
	if err != nil {
		return view, err
	}
	creds, nsvcs := sum.CredentialCount, len(svcs)
	view.Credentials, view.Services = &creds, &nsvcs
	return view, nil
}

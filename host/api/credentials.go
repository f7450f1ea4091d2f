package api

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"sort"
	"time"

	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/seal"
	"github.com/danielgtaylor/huma/v2"
)

// maxCredentialsPerWrite bounds one write call.
const maxCredentialsPerWrite = 500

// CredentialView is one credential as listings show it: never its value.
type CredentialView struct {
	Key       string     `json:"key"`
	Type      string     `json:"type" enum:"static,dynamic" doc:"static values are stored; dynamic ones are leased on use"`
	Source    string     `json:"source" doc:"builtin, or the external store kind the value comes from"`
	UpdatedAt *time.Time `json:"updated_at,omitempty"`
	// Secret names the dynamic secret behind a dynamic key.
	Secret string `json:"secret,omitempty" doc:"The dynamic secret that provides this key"`
	// Unavailable marks a dynamic secret whose lease could not be minted.
	Unavailable bool `json:"unavailable,omitempty" doc:"The dynamic secret could not be leased just now"`
}

type ListCredentialsInput struct {
	Vault string `query:"vault" required:"true" maxLength:"64"`
}

type ListCredentialsOutput struct {
	Body struct {
		Vault       string           `json:"vault"`
		Credentials []CredentialView `json:"credentials"`
	}
}

type SetCredentialsInput struct {
	Body struct {
		Vault       string            `json:"vault" maxLength:"64"`
		Credentials map[string]string `json:"credentials" minProperties:"1" maxProperties:"500" doc:"KEY: value. Keys match ^[A-Z][A-Z0-9_]*$"`
		AllowEmpty  bool              `json:"allow_empty,omitempty" doc:"Store empty values as given; without it an empty value is refused with empty_credential_value"`
	}
}

type DeleteCredentialsInput struct {
	Body struct {
		Vault string   `json:"vault" maxLength:"64"`
		Keys  []string `json:"keys" minItems:"1" maxItems:"500"`
	}
}

// KeysOutput names the keys an operation touched.
type KeysOutput struct {
	Body struct {
		Vault string   `json:"vault"`
		Keys  []string `json:"keys"`
	}
}

func (s *server) registerCredentials(api huma.API) {
	huma.Register(api, op("list-credentials", http.MethodGet, "/v1/credentials", "List a vault's credential keys (never values)", "credentials", http.StatusNotFound),
		func(ctx context.Context, in *ListCredentialsInput) (*ListCredentialsOutput, error) {
			c, err := s.access(ctx, in.Vault)
			if err != nil {
				return nil, err
			}
			list, err := s.Store.ListCredentials(ctx, c.Vault.ID)
			if err != nil {
				return nil, s.problem(ctx, err)
			}
			sum, err := s.Stores.Summarize(ctx, c.Vault.ID, false)
			if err != nil {
				return nil, s.problem(ctx, err)
			}
			out := &ListCredentialsOutput{}
			out.Body.Vault, out.Body.Credentials = c.Vault.Name, []CredentialView{}
			for _, cr := range list {
				at := cr.UpdatedAt
				out.Body.Credentials = append(out.Body.Credentials, CredentialView{Key: cr.Key, Type: "static", Source: sum.Kind, UpdatedAt: &at})
			}
			// Enumerating dynamic fields mints leases (real upstream
			// resources): only vault members and admins trigger that.
			mint := c.Role.AtLeast(domain.VaultMember)
			for _, d := range s.Stores.DynamicKeys(ctx, c.Vault.ID, mint) {
				out.Body.Credentials = append(out.Body.Credentials, CredentialView{Key: d.Key, Type: "dynamic", Source: sum.Kind, Secret: d.Secret, Unavailable: d.Unavailable})
			}
			return out, nil
		})

	huma.Register(api, op("set-credentials", http.MethodPost, "/v1/credentials", "Add or replace credentials in a built-in vault", "credentials", http.StatusBadRequest, http.StatusNotFound, http.StatusConflict),
		func(ctx context.Context, in *SetCredentialsInput) (*KeysOutput, error) {
			c, err := s.access(ctx, in.Body.Vault)
			if err != nil {
				return nil, err
			}
			for _, k := range slices.Sorted(maps.Keys(in.Body.Credentials)) {
				if err := domain.CheckNotEmpty(k, in.Body.Credentials[k], in.Body.AllowEmpty); err != nil {
					return nil, s.problem(ctx, err)
				}
			}
			if err := s.Stores.ValidateWrite(ctx, c.Vault.ID, in.Body.Credentials); err != nil {
				return nil, s.problem(ctx, err)
			}
			// The store plugin decided; the host checks the same rules again
			// before anything is sealed, so a plugin can only be stricter.
			keys := make([]string, 0, len(in.Body.Credentials))
			for k, v := range in.Body.Credentials {
				if err := domain.CheckKey(k); err != nil {
					return nil, s.problem(ctx, err)
				}
				if err := domain.CheckValue(k, v); err != nil {
					return nil, s.problem(ctx, err)
				}
				keys = append(keys, k)
			}
			sort.Strings(keys)
			noteKeys(ctx, keys)
			s.noteValueMACs(ctx, in.Body.Credentials)
			sealed := make(map[string][]byte, len(keys))
			for _, k := range keys {
				b, err := s.Keyring.Seal([]byte(in.Body.Credentials[k]), seal.CredentialAAD(c.Vault.ID, k))
				if err != nil {
					return nil, s.problem(ctx, err)
				}
				sealed[k] = b
			}
			if err := s.Store.PutCredentials(ctx, c.Vault.ID, sealed); err != nil {
				return nil, s.problem(ctx, err)
			}
			s.changed(c.Vault.ID)
			return keysOutput(c.Vault.Name, keys), nil
		})

	huma.Register(api, op("delete-credentials", http.MethodDelete, "/v1/credentials", "Delete credentials from a built-in vault (all or none)", "credentials", http.StatusNotFound, http.StatusConflict),
		func(ctx context.Context, in *DeleteCredentialsInput) (*KeysOutput, error) {
			c, err := s.access(ctx, in.Body.Vault)
			if err != nil {
				return nil, err
			}
			if err := s.Stores.ValidateWrite(ctx, c.Vault.ID, nil); err != nil {
				return nil, s.problem(ctx, err)
			}
			noteKeys(ctx, in.Body.Keys)
			if err := s.refuseDynamic(ctx, c.Vault.ID, in.Body.Keys); err != nil {
				return nil, s.problem(ctx, err)
			}
			if err := s.Store.DeleteCredentials(ctx, c.Vault.ID, in.Body.Keys); err != nil {
				return nil, s.problem(ctx, err)
			}
			s.changed(c.Vault.ID)
			return keysOutput(c.Vault.Name, in.Body.Keys), nil
		})
}

// refuseDynamic refuses to delete keys that dynamic secrets provide: their
// source is the external store.
func (s *server) refuseDynamic(ctx context.Context, vaultID string, keys []string) error {
	for _, d := range s.Stores.DynamicKeys(ctx, vaultID, false) {
		for _, k := range keys {
			if k == d.Key {
				return domain.Errorf(domain.CodeDynamicReadOnly, "%s is a dynamic credential of %s; it cannot be edited or deleted here", k, d.Secret)
			}
		}
	}
	return nil
}

func keysOutput(vault string, keys []string) *KeysOutput {
	out := &KeysOutput{}
	out.Body.Vault, out.Body.Keys = vault, keys
	return out
}

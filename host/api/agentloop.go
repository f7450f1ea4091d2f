package api

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strings"

	"github.com/agent-vault/agent-vault/host/authz"
	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/store"
	"github.com/danielgtaylor/huma/v2"
)

// StoreInfo answers what the agent loop needs to know about a vault's
// credential store. The credential-store lifecycle implements it; a nil
// StoreInfo means every vault uses the built-in store and has no dynamic
// secrets.
type StoreInfo interface {
	// IsExternal reports whether the vault's credentials come from an
	// external store (read-only here: proposals may not carry credential
	// slots). An unknown vault id returns false, nil.
	IsExternal(ctx context.Context, vaultID string) (bool, error)
	// DynamicKeys lists the keys the vault's dynamic secrets provide,
	// without minting a lease. Nil when it has none.
	DynamicKeys(ctx context.Context, vaultID string) ([]string, error)
}

func (s *server) isExternal(ctx context.Context, vaultID string) (bool, error) {
	if s.StoreInfo == nil {
		return false, nil
	}
	return s.StoreInfo.IsExternal(ctx, vaultID)
}

func (s *server) dynamicKeys(ctx context.Context, vaultID string) ([]string, error) {
	if s.StoreInfo == nil {
		return nil, nil
	}
	return s.StoreInfo.DynamicKeys(ctx, vaultID)
}

// staticKeys returns the set of a vault's stored credential keys.
func (s *server) staticKeys(ctx context.Context, vaultID string) (map[string]bool, error) {
	list, err := s.Store.ListCredentials(ctx, vaultID)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(list))
	for _, c := range list {
		out[c.Key] = true
	}
	return out, nil
}

// callerVault names the vault an agent-facing call is about: the one the
// request names (X-Vault header or a vault field), else a scoped session's
// own vault, else the token's only vault. A token with several vaults must
// name one (vault_required). An empty answer lets access refuse the call.
func (s *server) callerVault(ctx context.Context, named ...string) (string, error) {
	for _, n := range named {
		if n != "" {
			return n, nil
		}
	}
	a := actorFrom(ctx)
	var names []string
	switch a.Kind {
	case authz.Session:
		v, err := s.Store.VaultByID(ctx, a.VaultID)
		if err != nil {
			return "", err
		}
		return v.Name, nil
	case authz.Agent:
		grants, err := s.Store.AgentGrants(ctx, a.ID)
		if err != nil {
			return "", err
		}
		for _, g := range grants {
			names = append(names, g.VaultName)
		}
	case authz.User:
		list, err := s.Store.ListVaults(ctx, store.PrincipalUser, a.ID, false)
		if err != nil {
			return "", err
		}
		for _, v := range list {
			names = append(names, v.Name)
		}
	}
	switch len(names) {
	case 0:
		return "", nil
	case 1:
		return names[0], nil
	}
	sort.Strings(names)
	return "", domain.Errorf(domain.CodeVaultRequired, "this token reaches %d vaults (%s); name one with the X-Vault header",
		len(names), strings.Join(names, ", "))
}

// loopProblem is problem for the agent loop's own codes, whose statuses
// the shared mapping does not know.
func (s *server) loopProblem(ctx context.Context, err error) error {
	var de *domain.Error
	if errors.As(err, &de) {
		status := 0
		switch de.Code {
		case domain.CodeTooManyProposals:
			status = http.StatusTooManyRequests
		case domain.CodeProposalNotPending, domain.CodeProposalChangeUnconfirmed:
			status = http.StatusConflict
		case domain.CodeInvalidProposal, domain.CodeVaultRequired:
			status = http.StatusBadRequest
		}
		if status != 0 {
			p := &Problem{Status: status, Title: http.StatusText(status), Detail: de.Message, Code: de.Code}
			if de.Field != "" {
				p.Errors = append(p.Errors, &huma.ErrorDetail{Message: de.Message, Location: "body." + de.Field})
			}
			return p
		}
	}
	return s.problem(ctx, err)
}

// registerAgentLoop adds the agent's side: discovery, the agent guide,
// proposals and their review, the request log and explain.
func (s *server) registerAgentLoop(api huma.API) {
	s.registerDiscover(api)
	s.registerSkills(api)
	s.registerProposals(api)
	s.registerLogs(api)
	s.registerExplain(api)
	s.registerCanaries(api)
}

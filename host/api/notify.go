package api

import (
	"context"

	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/notify"
	"github.com/agent-vault/agent-vault/host/store"
)

// notifyProposal queues the new proposal's notification for the vault's
// admins; delivery happens in the background and never fails the request.
// The view carries key names only (HasValue, never a value).
func (s *server) notifyProposal(ctx context.Context, c call, p ProposalView) {
	if !s.Notifier.Enabled() {
		return
	}
	e := notify.Event{Vault: p.Vault, ProposalID: p.ID, ReviewURL: p.ApprovalURL, Message: p.Message, CreatedAt: p.CreatedAt,
		Actor: notify.Actor{Kind: p.CreatedBy.Kind, Name: p.CreatedBy.Name}, Services: []notify.Service{}, Credentials: []notify.Credential{}}
	for _, svc := range p.Services {
		e.Services = append(e.Services, notify.Service{Action: svc.Action, Name: svc.Name, Host: svc.Host})
	}
	for _, cr := range p.Credentials {
		e.Credentials = append(e.Credentials, notify.Credential{Action: cr.Action, Key: cr.Key})
	}
	members, err := s.Store.ListMembers(ctx, c.Vault.ID, store.PrincipalUser)
	if err != nil {
		s.Logger.Warn("listing the vault's admins for a proposal notification", "vault", p.Vault, "err", err)
	}
	for _, m := range members {
		if m.Role != domain.VaultAdmin {
			continue
		}
		// A disabled account is not told about the vault any more.
		if u, err := s.Store.UserByID(ctx, m.ID); err != nil || u.Role == domain.InstanceNoAccess {
			continue
		}
		e.Admins = append(e.Admins, m.Name)
	}
	s.Notifier.Proposal(e)
}

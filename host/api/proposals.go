package api

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/seal"
	"github.com/agent-vault/agent-vault/host/store"
	"github.com/danielgtaylor/huma/v2"
)

// Proposal limits. Counts and lengths are also declared on the input types,
// so huma refuses oversized input before a handler runs.
const (
	maxProposalItems     = 20
	maxPendingProposals  = 20
	proposalTTL          = 7 * 24 * time.Hour
	maxProposalsListed   = 200
	proposalValuePurpose = "proposal_value"
)

// ProposedService is one service change: set adds or replaces the service
// by name, delete removes it.
type ProposedService struct {
	Action         string                `json:"action" enum:"set,delete"`
	Name           string                `json:"name" maxLength:"64"`
	Host           string                `json:"host,omitempty" maxLength:"512" doc:"set: the host pattern"`
	Auth           *domain.Auth          `json:"auth,omitempty" doc:"set: how credentials are injected"`
	Substitutions  []domain.Substitution `json:"substitutions,omitempty" maxItems:"20"`
	AllowSetCookie bool                  `json:"allow_set_cookie,omitempty"`
}

// ProposedCredential is one credential slot: set asks for a value, delete
// asks to remove the key.
type ProposedCredential struct {
	Action      string `json:"action" enum:"set,delete"`
	Key         string `json:"key" maxLength:"128"`
	Description string `json:"description,omitempty" maxLength:"500" doc:"What the credential is for"`
	Obtain      string `json:"obtain,omitempty" maxLength:"1000" doc:"Where a human gets the value: a URL or short instructions"`
	// Value is write-only: sealed at once, never returned or logged.
	Value *string `json:"value,omitempty" doc:"set: a value the agent already holds (write-only; sealed at once, never returned)"`
}

// ProposedCredentialView is a credential slot as responses show it.
type ProposedCredentialView struct {
	Action      string `json:"action" enum:"set,delete"`
	Key         string `json:"key"`
	Description string `json:"description,omitempty"`
	Obtain      string `json:"obtain,omitempty"`
	HasValue    bool   `json:"has_value" doc:"The agent supplied a value (a human's value at approval overrides it)"`
}

// ProposalActor is who created a proposal.
type ProposalActor struct {
	Kind string `json:"kind" enum:"user,agent,session"`
	ID   string `json:"id"`
	Name string `json:"name"`
}

// ProposalView is a proposal as every response shows it: no values.
type ProposalView struct {
	ID          string                   `json:"id"`
	Vault       string                   `json:"vault"`
	Status      string                   `json:"status" enum:"pending,approved,rejected,expired"`
	Services    []ProposedService        `json:"services"`
	Credentials []ProposedCredentialView `json:"credentials"`
	Changes     []ProposalChange         `json:"changes" doc:"What this proposal would replace, overwrite or delete in the vault as it is now (pending proposals only); each change with confirm set must be listed in confirm_changes to approve"`
	Message     string                   `json:"message"`
	UserMessage string                   `json:"user_message,omitempty"`
	CreatedBy   ProposalActor            `json:"created_by"`
	CreatedAt   time.Time                `json:"created_at"`
	ExpiresAt   time.Time                `json:"expires_at"`
	DecidedAt   *time.Time               `json:"decided_at,omitempty"`
	DecidedBy   string                   `json:"decided_by,omitempty"`
	Reason      string                   `json:"reason,omitempty"`
	ApprovalURL string                   `json:"approval_url" doc:"The page where a human reviews this proposal"`
}

// proposalSpec is what the proposals table keeps: the change set without values.
type proposalSpec struct {
	Services    []ProposedService        `json:"services"`
	Credentials []ProposedCredentialView `json:"credentials"`
}

type CreateProposalInput struct {
	XVault string `header:"X-Vault" maxLength:"64" doc:"The vault, when the token reaches several"`
	Body   struct {
		Vault       string               `json:"vault,omitempty" maxLength:"64" doc:"The vault (else X-Vault, else the token's only vault)"`
		Services    []ProposedService    `json:"services,omitempty" maxItems:"20"`
		Credentials []ProposedCredential `json:"credentials,omitempty" maxItems:"20"`
		Message     string               `json:"message" minLength:"1" maxLength:"2000" doc:"For the reviewer: what the agent needs and why"`
		UserMessage string               `json:"user_message,omitempty" maxLength:"2000" doc:"What the agent's user asked for, quoted, for context"`
	}
}

type ProposalOutput struct {
	Body ProposalView
}

type ListProposalsInput struct {
	XVault string `header:"X-Vault" maxLength:"64" doc:"The vault, when the token reaches several"`
	Vault  string `query:"vault" maxLength:"64"`
	Status string `query:"status" enum:"pending,approved,rejected,expired"`
}

type ProposalListOutput struct {
	Body struct {
		Vault     string         `json:"vault"`
		Proposals []ProposalView `json:"proposals" doc:"Newest first, at most 200"`
	}
}

type GetProposalInput struct {
	ID     string `path:"id" maxLength:"64"`
	XVault string `header:"X-Vault" maxLength:"64" doc:"The vault, when the token reaches several"`
	Vault  string `query:"vault" maxLength:"64"`
}

type AdminListProposalsInput struct {
	Vault  string `query:"vault" required:"true" maxLength:"64"`
	Status string `query:"status" enum:"pending,approved,rejected,expired"`
}

type ApproveProposalInput struct {
	ID   string `path:"id" maxLength:"64"`
	Body struct {
		Vault          string            `json:"vault" maxLength:"64"`
		Credentials    map[string]string `json:"credentials,omitempty" maxProperties:"20" doc:"KEY: value for the proposal's credential slots; overrides a value the agent supplied (write-only)"`
		ConfirmChanges []string          `json:"confirm_changes,omitempty" maxItems:"40" doc:"The confirm string of every change the approver accepts (see changes): replacing an existing service or overwriting an existing credential is refused with proposal_change_unconfirmed unless listed here"`
	}
}

type RejectProposalInput struct {
	ID   string `path:"id" maxLength:"64"`
	Body struct {
		Vault  string `json:"vault" maxLength:"64"`
		Reason string `json:"reason,omitempty" maxLength:"2000" doc:"Shown to the agent"`
	}
}

func (s *server) registerProposals(api huma.API) {
	huma.Register(api, created(op("create-proposal", http.MethodPost, "/v1/proposals", "Propose services and credential slots for a human to approve", "proposals",
		http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusTooManyRequests)),
		func(ctx context.Context, in *CreateProposalInput) (*ProposalOutput, error) {
			name, err := s.callerVault(ctx, in.Body.Vault, in.XVault)
			if err != nil {
				return nil, s.loopProblem(ctx, err)
			}
			c, err := s.access(ctx, name)
			if err != nil {
				return nil, err
			}
			p, err := s.createProposal(ctx, c, in)
			if err != nil {
				return nil, s.loopProblem(ctx, err)
			}
			noteProposal(ctx, p.ID, in.Body.Services, in.Body.Credentials)
			out, err := s.proposalOutput(ctx, c, p.ID)
			if err == nil {
				s.notifyProposal(ctx, c, out.Body)
			}
			return out, err
		})

	huma.Register(api, op("list-proposals", http.MethodGet, "/v1/proposals", "List the vault's proposals, newest first", "proposals",
		http.StatusBadRequest, http.StatusNotFound),
		func(ctx context.Context, in *ListProposalsInput) (*ProposalListOutput, error) {
			name, err := s.callerVault(ctx, in.Vault, in.XVault)
			if err != nil {
				return nil, s.loopProblem(ctx, err)
			}
			return s.listProposals(ctx, name, in.Status)
		})

	huma.Register(api, op("get-proposal", http.MethodGet, "/v1/proposals/{id}", "One proposal: poll it for the decision", "proposals",
		http.StatusBadRequest, http.StatusNotFound),
		func(ctx context.Context, in *GetProposalInput) (*ProposalOutput, error) {
			name, err := s.callerVault(ctx, in.Vault, in.XVault)
			if err != nil {
				return nil, s.loopProblem(ctx, err)
			}
			c, err := s.access(ctx, name)
			if err != nil {
				return nil, err
			}
			return s.proposalOutput(ctx, c, in.ID)
		})

	huma.Register(api, op("admin-list-proposals", http.MethodGet, "/v1/admin/proposals", "Review: list a vault's proposals", "proposals",
		http.StatusNotFound),
		func(ctx context.Context, in *AdminListProposalsInput) (*ProposalListOutput, error) {
			return s.listProposals(ctx, in.Vault, in.Status)
		})

	huma.Register(api, op("approve-proposal", http.MethodPost, "/v1/admin/proposals/{id}/approve", "Approve a proposal: apply its services and credentials in one transaction", "proposals",
		http.StatusBadRequest, http.StatusNotFound, http.StatusConflict),
		func(ctx context.Context, in *ApproveProposalInput) (*ProposalOutput, error) {
			c, err := s.access(ctx, in.Body.Vault)
			if err != nil {
				return nil, err
			}
			done := s.auditServices(ctx, c.Vault.ID)
			if err := s.approveProposal(ctx, c, in.ID, in.Body.Credentials, in.Body.ConfirmChanges); err != nil {
				return nil, s.loopProblem(ctx, err)
			}
			noteChange(ctx, "status", "pending", "approved")
			done()
			if n := noteFrom(ctx); n != nil && len(in.Body.Credentials) > 0 {
				n.summary.Keys = slices.Sorted(maps.Keys(in.Body.Credentials))
				s.noteValueMACs(ctx, in.Body.Credentials)
			}
			s.changed(c.Vault.ID)
			return s.proposalOutput(ctx, c, in.ID)
		})

	huma.Register(api, op("reject-proposal", http.MethodPost, "/v1/admin/proposals/{id}/reject", "Reject a proposal with a reason the agent reads", "proposals",
		http.StatusNotFound, http.StatusConflict),
		func(ctx context.Context, in *RejectProposalInput) (*ProposalOutput, error) {
			c, err := s.access(ctx, in.Body.Vault)
			if err != nil {
				return nil, err
			}
			if err := s.Store.RejectProposal(ctx, c.Vault.ID, in.ID, c.Actor.Name, in.Body.Reason); err != nil {
				return nil, s.loopProblem(ctx, err)
			}
			noteChange(ctx, "status", "pending", "rejected")
			return s.proposalOutput(ctx, c, in.ID)
		})
}

func (s *server) listProposals(ctx context.Context, vaultName, status string) (*ProposalListOutput, error) {
	c, err := s.access(ctx, vaultName)
	if err != nil {
		return nil, err
	}
	list, err := s.Store.ListProposals(ctx, c.Vault.ID, status, maxProposalsListed)
	if err != nil {
		return nil, s.problem(ctx, err)
	}
	basis, err := s.vaultBasis(ctx, c.Vault.ID)
	if err != nil {
		return nil, s.problem(ctx, err)
	}
	out := &ProposalListOutput{}
	out.Body.Vault, out.Body.Proposals = c.Vault.Name, make([]ProposalView, 0, len(list))
	for _, p := range list {
		out.Body.Proposals = append(out.Body.Proposals, s.proposalView(p, c.Vault.Name, basis))
	}
	return out, nil
}

func (s *server) proposalOutput(ctx context.Context, c call, id string) (*ProposalOutput, error) {
	p, err := s.Store.ProposalByID(ctx, c.Vault.ID, id)
	if err != nil {
		return nil, s.problem(ctx, err)
	}
	basis, err := s.vaultBasis(ctx, c.Vault.ID)
	if err != nil {
		return nil, s.problem(ctx, err)
	}
	return &ProposalOutput{Body: s.proposalView(p, c.Vault.Name, basis)}, nil
}

// proposalView shows a stored proposal; a pending one lists what it would
// replace in the vault as basis describes it now.
func (s *server) proposalView(p store.Proposal, vaultName string, basis *vaultBasis) ProposalView {
	var spec proposalSpec
	json.Unmarshal(p.Spec, &spec) //nolint:errcheck // written by createProposal; an empty view beats a 500
	if spec.Services == nil {
		spec.Services = []ProposedService{}
	}
	if spec.Credentials == nil {
		spec.Credentials = []ProposedCredentialView{}
	}
	changes := []ProposalChange{}
	if p.Status == domain.ProposalPending && basis != nil {
		changes = basis.changes(spec)
	}
	return ProposalView{
		ID: p.ID, Vault: vaultName, Status: p.Status, Services: spec.Services, Credentials: spec.Credentials, Changes: changes,
		Message: p.Message, UserMessage: p.UserMessage,
		CreatedBy: ProposalActor{Kind: p.CreatorKind, ID: p.CreatorID, Name: p.CreatorName},
		CreatedAt: p.CreatedAt, ExpiresAt: p.ExpiresAt, DecidedAt: p.DecidedAt, DecidedBy: p.DecidedBy, Reason: p.Reason,
		ApprovalURL: s.PublicURL + "/vaults/" + url.PathEscape(vaultName) + "/proposals/" + url.PathEscape(p.ID),
	}
}

func proposalAAD(proposalID, key string) []byte {
	return seal.AAD(proposalValuePurpose, proposalID, key)
}

func invalid(field, format string, args ...any) error {
	return domain.FieldError(domain.CodeInvalidProposal, field, format, args...)
}

// createProposal validates the change set against the vault, seals the
// agent's values and stores the proposal.
func (s *server) createProposal(ctx context.Context, c call, in *CreateProposalInput) (store.Proposal, error) {
	b := in.Body
	if len(b.Services) == 0 && len(b.Credentials) == 0 {
		return store.Proposal{}, invalid("services", "a proposal needs at least one service or credential")
	}
	if len(b.Credentials) > 0 {
		ext, err := s.isExternal(ctx, c.Vault.ID)
		if err != nil {
			return store.Proposal{}, err
		}
		if ext {
			return store.Proposal{}, domain.FieldError(domain.CodeExternalStore, "credentials",
				"vault %q gets its credentials from an external store; propose services only and ask a human to add the credential there", c.Vault.Name)
		}
	}
	static, err := s.staticKeys(ctx, c.Vault.ID)
	if err != nil {
		return store.Proposal{}, err
	}
	dynamic, err := s.dynamicKeys(ctx, c.Vault.ID)
	if err != nil {
		return store.Proposal{}, err
	}
	existing, err := s.services(ctx, c.Vault.ID)
	if err != nil {
		return store.Proposal{}, err
	}
	if err := s.checkProposal(b.Services, b.Credentials, static, dynamic, existing); err != nil {
		return store.Proposal{}, err
	}

	p := store.Proposal{ID: store.NewID(), VaultID: c.Vault.ID, CreatorKind: string(c.Actor.Kind), CreatorID: c.Actor.ID,
		CreatorName: c.Actor.Name, Message: b.Message, UserMessage: b.UserMessage, ExpiresAt: s.Now().Add(proposalTTL)}
	spec := proposalSpec{Services: b.Services, Credentials: make([]ProposedCredentialView, 0, len(b.Credentials))}
	values := map[string][]byte{}
	for _, cr := range b.Credentials {
		spec.Credentials = append(spec.Credentials, ProposedCredentialView{Action: cr.Action, Key: cr.Key,
			Description: cr.Description, Obtain: cr.Obtain, HasValue: cr.Value != nil})
		if cr.Value != nil {
			sealed, err := s.Keyring.Seal([]byte(*cr.Value), proposalAAD(p.ID, cr.Key))
			if err != nil {
				return store.Proposal{}, err
			}
			values[cr.Key] = sealed
		}
	}
	if spec.Services == nil {
		spec.Services = []ProposedService{}
	}
	if p.Spec, err = json.Marshal(spec); err != nil {
		return store.Proposal{}, err
	}
	return s.Store.CreateProposal(ctx, p, values, maxPendingProposals)
}

// noteProposal records what a new proposal asks for: each service change
// ("set github", "delete old") and the credential keys of its slots (never
// a value the agent supplied).
func noteProposal(ctx context.Context, id string, services []ProposedService, creds []ProposedCredential) {
	n := noteFrom(ctx)
	if n == nil {
		return
	}
	n.target = "proposals/" + id
	n.summary.Set("status", nil, string(domain.ProposalPending))
	var svcs []string
	for _, sv := range services {
		svcs = append(svcs, sv.Action+" "+sv.Name)
	}
	if len(svcs) > 0 {
		n.summary.Set("services", nil, svcs)
	}
	for _, cr := range creds {
		n.summary.Keys = append(n.summary.Keys, cr.Key)
	}
}

// checkProposal validates a change set against what the vault holds: each
// service and key once, services valid, deletions of things that exist,
// and every key a set service references provided by the vault or by a
// set slot of the same proposal (and not deleted by it).
func (s *server) checkProposal(svcs []ProposedService, creds []ProposedCredential, static map[string]bool, dynamic []string, existing []domain.Service) error {
	have := map[string]bool{}
	for k := range static {
		have[k] = true
	}
	isDynamic := map[string]bool{}
	for _, k := range dynamic {
		have[k], isDynamic[k] = true, true
	}
	slots := map[string]int{}
	for i, cr := range creds {
		at := fmt.Sprintf("credentials[%d]", i)
		if err := domain.CheckKey(cr.Key); err != nil {
			return domain.FieldError(domain.CodeInvalidKey, at+".key", "%s", err.(*domain.Error).Message)
		}
		if j, dup := slots[cr.Key]; dup {
			return invalid(at+".key", "credential %q is already in credentials[%d]", cr.Key, j)
		}
		slots[cr.Key] = i
		switch cr.Action {
		case "set":
			if isDynamic[cr.Key] {
				return invalid(at+".key", "credential %q comes from a dynamic secret and cannot be set", cr.Key)
			}
			if cr.Value != nil {
				if err := domain.CheckValue(cr.Key, *cr.Value); err != nil {
					return domain.FieldError(domain.CodeValueTooLarge, at+".value", "%s", err.(*domain.Error).Message)
				}
				// A proposal has no way to say an empty value is meant:
				// leave the value out and the approver supplies one.
				if err := domain.CheckNotEmpty(cr.Key, *cr.Value, false); err != nil {
					return domain.FieldError(domain.CodeEmptyValue, at+".value", "credential %q has an empty value; leave value out and the approver supplies one", cr.Key)
				}
			}
			have[cr.Key] = true
		case "delete":
			if cr.Value != nil {
				return invalid(at+".value", "a delete carries no value")
			}
			if !static[cr.Key] {
				return invalid(at+".key", "credential %q is not in this vault", cr.Key)
			}
		}
	}
	for _, cr := range creds {
		if cr.Action == "delete" {
			delete(have, cr.Key)
		}
	}
	exists := map[string]bool{}
	for _, e := range existing {
		exists[e.Name] = true
	}
	names := map[string]int{}
	for i, ps := range svcs {
		at := fmt.Sprintf("services[%d]", i)
		if j, dup := names[ps.Name]; dup {
			return invalid(at+".name", "service %q is already in services[%d]", ps.Name, j)
		}
		names[ps.Name] = i
		if ps.Action == "delete" {
			if ps.Host != "" || ps.Auth != nil || len(ps.Substitutions) > 0 || ps.AllowSetCookie {
				return invalid(at, "a delete names the service only")
			}
			if !exists[ps.Name] {
				return invalid(at+".name", "service %q is not in this vault", ps.Name)
			}
			continue
		}
		if ps.Auth == nil {
			return invalid(at+".auth", "a service needs auth (use {\"type\": \"passthrough\"} to inject nothing)")
		}
		svc := ps.service()
		if err := domain.ValidateServices([]domain.Service{svc}); err != nil {
			return reindex(err, at)
		}
		if err := domain.CheckServiceHosts([]domain.Service{svc}, s.AllowPrivateRanges); err != nil {
			return reindex(err, at)
		}
		for _, k := range svc.Keys() {
			if !have[k] {
				return invalid(at, "service %q needs credential %q, which the vault does not hold; add a credential slot for it", ps.Name, k)
			}
		}
	}
	return nil
}

// reindex points a single-service validation error at its place in the proposal.
func reindex(err error, at string) error {
	if de, ok := err.(*domain.Error); ok && strings.HasPrefix(de.Field, "services[0]") {
		return &domain.Error{Code: de.Code, Message: de.Message, Field: at + strings.TrimPrefix(de.Field, "services[0]")}
	}
	return err
}

func (ps ProposedService) service() domain.Service {
	svc := domain.Service{Name: ps.Name, Host: ps.Host, Substitutions: ps.Substitutions, AllowSetCookie: ps.AllowSetCookie}
	if ps.Auth != nil {
		svc.Auth = *ps.Auth
	}
	return svc
}

// approveProposal turns a pending proposal into one store transaction. A
// replacement of an existing service or credential must be in confirmed.
func (s *server) approveProposal(ctx context.Context, c call, id string, human map[string]string, confirmed []string) error {
	p, err := s.Store.ProposalByID(ctx, c.Vault.ID, id)
	if err != nil {
		return err
	}
	if p.Status != domain.ProposalPending {
		return domain.Errorf(domain.CodeProposalNotPending, "proposal %q is %s, not pending", id, p.Status)
	}
	var spec proposalSpec
	if err := json.Unmarshal(p.Spec, &spec); err != nil {
		return fmt.Errorf("proposal %s: stored spec does not decode: %w", id, err)
	}
	basis, err := s.vaultBasis(ctx, c.Vault.ID)
	if err != nil {
		return err
	}
	changes := basis.changes(spec)
	if missing := unconfirmed(changes, confirmed); len(missing) > 0 {
		// A concurrent approval of this proposal may have applied it since
		// the status was read: its services now look like replacements.
		if now, err := s.Store.ProposalByID(ctx, c.Vault.ID, id); err == nil && now.Status != domain.ProposalPending {
			return domain.Errorf(domain.CodeProposalNotPending, "proposal %q is %s, not pending", id, now.Status)
		}
		return unconfirmedError(changes, missing)
	}
	slots := map[string]bool{}
	var ch store.ProposalChanges
	for _, cr := range spec.Credentials {
		if cr.Action == "delete" {
			ch.DeleteCredentials = append(ch.DeleteCredentials, cr.Key)
		} else {
			slots[cr.Key] = true
		}
	}
	if len(spec.Credentials) > 0 {
		ext, err := s.isExternal(ctx, c.Vault.ID)
		if err != nil {
			return err
		}
		if ext {
			return domain.Errorf(domain.CodeExternalStore, "vault %q now gets its credentials from an external store; reject this proposal", c.Vault.Name)
		}
	}
	for _, k := range sortedMapKeys(human) {
		if !slots[k] {
			return domain.FieldError(domain.CodeInvalidProposal, "credentials."+k, "%q is not a credential slot of this proposal", k)
		}
		if err := domain.CheckValue(k, human[k]); err != nil {
			return err
		}
		if err := domain.CheckNotEmpty(k, human[k], false); err != nil {
			return err
		}
	}
	agent, err := s.Store.ProposalValues(ctx, id)
	if err != nil {
		return err
	}
	ch.PutCredentials = map[string][]byte{}
	for _, k := range sortedMapKeys(slots) {
		var plain []byte
		if v, ok := human[k]; ok {
			plain = []byte(v)
		} else if sealed, ok := agent[k]; ok {
			if plain, err = s.Keyring.Open(sealed, proposalAAD(id, k)); err != nil {
				return fmt.Errorf("opening the proposed value of %s: %w", k, err)
			}
		} else {
			return domain.FieldError(domain.CodeInvalidProposal, "credentials."+k, "credential %q needs a value", k)
		}
		if ch.PutCredentials[k], err = s.Keyring.Seal(plain, seal.CredentialAAD(c.Vault.ID, k)); err != nil {
			return err
		}
	}
	dynamic, err := s.dynamicKeys(ctx, c.Vault.ID)
	if err != nil {
		return err
	}
	isDynamic := map[string]bool{}
	for _, k := range dynamic {
		isDynamic[k] = true
	}
	required := map[string]bool{}
	for _, ps := range spec.Services {
		if ps.Action == "delete" {
			ch.DeleteServices = append(ch.DeleteServices, ps.Name)
			continue
		}
		svc := ps.service()
		if err := domain.CheckServiceHosts([]domain.Service{svc}, s.AllowPrivateRanges); err != nil {
			return err
		}
		row, err := serviceRow(svc)
		if err != nil {
			return err
		}
		ch.UpsertServices = append(ch.UpsertServices, row)
		for _, k := range svc.Keys() {
			if !isDynamic[k] {
				required[k] = true
			}
		}
	}
	ch.RequireKeys = sortedMapKeys(required)
	// What was new when checked must still be new when applied: a service
	// or key created meanwhile would be replaced without confirmation.
	for _, ps := range spec.Services {
		if _, ok := basis.services[ps.Name]; !ok && ps.Action == "set" {
			ch.NewServices = append(ch.NewServices, ps.Name)
		}
	}
	for _, k := range sortedMapKeys(slots) {
		if !basis.static[k] {
			ch.NewCredentials = append(ch.NewCredentials, k)
		}
	}
	return s.Store.ApproveProposal(ctx, c.Vault.ID, id, c.Actor.Name, ch)
}

func sortedMapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

package domain

// Codes of the agent loop: proposals, discovery and the request log.
const (
	// CodeTooManyProposals: the vault already holds the most pending
	// proposals it accepts (429); a human must decide some first.
	CodeTooManyProposals = "too_many_pending_proposals"
	// CodeProposalNotPending: the proposal was already approved, rejected
	// or expired (409).
	CodeProposalNotPending = "proposal_not_pending"
	// CodeInvalidProposal: the proposal's change set does not hold together
	// (a service needs a key nobody provides, a value is missing, …) (400).
	CodeInvalidProposal = "invalid_proposal"
	// CodeVaultRequired: the token reaches several vaults and the request
	// did not name one (400).
	CodeVaultRequired = "vault_required"
	// CodeProposalChangeUnconfirmed: approving would replace an existing
	// service or overwrite an existing credential and the approver did not
	// confirm that replacement (409).
	CodeProposalChangeUnconfirmed = "proposal_change_unconfirmed"
)

// Proposal statuses.
const (
	ProposalPending  = "pending"
	ProposalApproved = "approved"
	ProposalRejected = "rejected"
	ProposalExpired  = "expired"
)

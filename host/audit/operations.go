package audit

// Class says whether an API operation writes an audit entry.
type Class int

const (
	// ReadOnly operations change nothing and write no entry.
	ReadOnly Class = iota + 1
	// Audited operations write one entry per call, whatever the outcome
	// (refusals included), except calls without a token to an operation
	// that needs one: nobody acted, and an anonymous flood must not grow
	// the trail.
	Audited
)

// Operations is the one table that decides which API operations are
// audited, keyed by operation id like authz.Policy. A test walks every
// registered operation: each must have a row here, an audited one must
// write an entry when called, and a read-only one must change no table.
var Operations = map[string]Class{
	"get-health":         ReadOnly,
	"get-ready":          ReadOnly,
	"get-status":         ReadOnly,
	"get-mitm-ca":        ReadOnly,
	"get-cli-skill":      ReadOnly,
	"get-metrics":        ReadOnly,
	"get-overview":       ReadOnly,
	"get-vault-activity": ReadOnly,

	// Accounts: sign-ins (successes and failures) and sign-outs.
	"register":      Audited,
	"login":         Audited,
	"logout":        Audited,
	"accept-invite": Audited,
	"get-me":        ReadOnly,

	// A person's own account and sign-ins; password resets.
	"change-password":             Audited,
	"delete-my-account":           Audited,
	"list-login-sessions":         ReadOnly,
	"revoke-login-session":        Audited,
	"revoke-other-login-sessions": Audited,
	"get-password-reset":          ReadOnly,
	"complete-password-reset":     Audited,
	"leave-vault":                 Audited,

	// People and agents.
	"list-users":    ReadOnly,
	"create-invite": Audited,
	"update-user":   Audited,
	"delete-user":   Audited,
	"list-agents":   ReadOnly,
	"get-agent":     ReadOnly,
	"update-agent":  Audited,

	"list-user-sessions":       ReadOnly,
	"revoke-user-session":      Audited,
	"revoke-user-sessions":     Audited,
	"create-password-reset":    Audited,
	"get-instance-settings":    ReadOnly,
	"update-instance-settings": Audited,
	"list-invites":             ReadOnly,
	"get-invite":               ReadOnly,
	"revoke-invite":            Audited,
	"resend-invite":            Audited,
	"create-agent":             Audited,
	"rotate-agent":             Audited,
	"revoke-agent":             Audited,
	"delete-agent":             Audited,

	// Vaults, their settings and grants.
	"list-vaults":           ReadOnly,
	"create-vault":          Audited,
	"delete-vault":          Audited,
	"rename-vault":          Audited,
	"get-vault-context":     ReadOnly,
	"get-vault-settings":    ReadOnly,
	"update-vault-settings": Audited,
	"join-vault":            Audited,
	"list-vault-users":      ReadOnly,
	"set-vault-user":        Audited,
	"remove-vault-user":     Audited,
	"list-vault-agents":     ReadOnly,
	"set-vault-agent":       Audited,
	"remove-vault-agent":    Audited,

	// Scoped sessions and canaries.
	"create-session":    Audited,
	"list-sessions":     ReadOnly,
	"revoke-session":    Audited,
	"list-my-sessions":  ReadOnly,
	"revoke-my-session": Audited,
	"create-canary":     Audited,
	"list-canaries":     ReadOnly,

	// Credentials (key names only) and services.
	"list-credentials":      ReadOnly,
	"set-credentials":       Audited,
	"delete-credentials":    Audited,
	"list-services":         ReadOnly,
	"list-service-catalog":  ReadOnly,
	"list-discovered-hosts": ReadOnly,
	"upsert-services":       Audited,
	"replace-services":      Audited,
	"update-service":        Audited,
	"delete-service":        Audited,
	"delete-services":       Audited,

	// Credential stores.
	"list-credential-store-kinds": ReadOnly,
	"get-credential-store":        ReadOnly,
	"set-credential-store":        Audited,
	"sync-vault":                  Audited,

	// The agent loop.
	"discover":             ReadOnly,
	"create-proposal":      Audited,
	"list-proposals":       ReadOnly,
	"get-proposal":         ReadOnly,
	"admin-list-proposals": ReadOnly,
	"approve-proposal":     Audited,
	"reject-proposal":      Audited,

	// Operators.
	"list-request-logs": ReadOnly,
	"explain-request":   ReadOnly,

	// The trail itself.
	"list-audit-entries": ReadOnly,
	"verify-audit":       ReadOnly,
}

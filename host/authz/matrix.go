package authz

import (
	"fmt"
	"sort"
	"strings"

	"github.com/agent-vault/agent-vault/host/domain"
)

// MatrixCaller is one column of the permission matrix: a kind of caller and
// its role in the vault an operation targets.
type MatrixCaller struct {
	Name      string
	Actor     Actor
	VaultRole domain.VaultRole
}

// MatrixCallers are the callers the permission matrix (and the test that
// walks every operation) considers.
var MatrixCallers = []MatrixCaller{
	{"anonymous", Actor{Kind: Anonymous}, ""},
	{"owner", Actor{Kind: User, Role: domain.InstanceOwner}, ""},
	{"member", Actor{Kind: User, Role: domain.InstanceMember}, ""},
	{"no-access", Actor{Kind: User, Role: domain.InstanceNoAccess}, ""},
	{"vault admin", Actor{Kind: User, Role: domain.InstanceMember}, domain.VaultAdmin},
	{"vault member", Actor{Kind: User, Role: domain.InstanceMember}, domain.VaultMember},
	{"vault proxy", Actor{Kind: User, Role: domain.InstanceMember}, domain.VaultProxy},
	{"agent", Actor{Kind: Agent, Role: domain.InstanceMember}, domain.VaultMember},
	{"scoped session", Actor{Kind: Session}, domain.VaultProxy},
}

// Markdown renders the permission matrix: one row per operation, one column
// per caller, ✓ where Decide allows. PERMISSIONS.md is this output.
func Markdown() string {
	var b strings.Builder
	b.WriteString("# Permission matrix\n\n")
	b.WriteString("Generated from `host/authz/policy.go` (`UPDATE_GOLDEN=1 go test ./host/authz` rewrites it).\n")
	b.WriteString("Instance roles: owner > member > no-access. Vault roles: admin > member > proxy.\n")
	b.WriteString("The vault columns are instance members holding that role in the target vault;\n")
	b.WriteString("`owner` holds no grant in it (owners manage every vault but read contents only after joining);\n")
	b.WriteString("`agent` holds the member role; a scoped session is fixed to the target vault.\n\n")
	b.WriteString("| operation |")
	for _, c := range MatrixCallers {
		b.WriteString(" " + c.Name + " |")
	}
	b.WriteString("\n|---|" + strings.Repeat(":---:|", len(MatrixCallers)) + "\n")
	ops := make([]string, 0, len(Policy))
	for op := range Policy {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	for _, op := range ops {
		fmt.Fprintf(&b, "| `%s` |", op)
		for _, c := range MatrixCallers {
			mark := " "
			if Decide(op, c.Actor, c.VaultRole) == nil {
				mark = "✓"
			}
			b.WriteString(" " + mark + " |")
		}
		b.WriteString("\n")
	}
	b.WriteString(sessionsSection)
	return b.String()
}

// sessionsSection explains how a scoped session's authority derives from
// its creator (authz.SessionRole, host/store ScopedSessionByToken).
const sessionsSection = `
## Scoped sessions derive from their creator

A scoped session (` + "`av_scp_`" + `, ` + "`POST /v1/sessions`" + `, what ` + "`agent-vault run`" + ` gives its
program) is minted by a user or an agent holding a role in one vault. It is
fixed to that vault and carries the proxy role there. It is only as strong as
its creator *right now*: every time the token is resolved, the store reads the
creator and its grant in the session's vault together with the session row,
and ` + "`SessionRole`" + ` (host/authz/sessions.go) decides:

| the creator now | the session |
|---|---|
| holds a role in the vault, account enabled | carries the proxy role (never more than the creator's role) |
| was deleted | refused (401 on the API, 407 on the proxy); its sessions are also deleted with it |
| is an agent that was revoked | refused |
| is an agent whose token was rotated since it minted the session | refused (sessions are bound to the minting agent token) |
| has instance role no-access (disabled) | refused |
| lost its grant in the vault (removed, or only holds roles elsewhere) | refused |

A user's session is bound to the user, not to the login session that minted
it: logging out does not end it; removing, disabling or deleting the user does.
Expiry and revocation of the session itself apply as before.

The change is seen on the very next request. The API resolves the token on
every call. The proxy answers from memory (host/vaultcache), which every
identity change made through the API invalidates at once; an invalidation
bumps a generation counter, and before each request on a connection that is
already open (keep-alive, CONNECT tunnel, intercepted TLS) the proxy compares
the principal's generation (one atomic load) and the token's expiry, and
authenticates the token again when either moved. A refused token gets 407 or
403 on its next request on any connection. A change made through another
replica reaches this one through the database's change notifications (see the
README's replicas section), which invalidate the same way; the cache re-reads
a token from the database at least every 5 seconds regardless. Tunnels and upgraded (websocket) connections,
which carry no further requests to authorise, close after
` + "`--tunnel-max-lifetime`" + ` (default 1 h).

Whoever mints a session can always list (` + "`list-my-sessions`" + `) and revoke
(` + "`revoke-my-session`" + `) it, whatever their role in the vault is now; a session may
revoke itself. Vault admins list and revoke every session of their vault
(` + "`list-sessions`" + `, ` + "`revoke-session`" + `). ` + "`agent-vault run`" + ` revokes its program's
session when the program exits, checks that the token is refused, and warns on
stderr (keeping the program's exit code) when it is not.
`

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
	return b.String()
}

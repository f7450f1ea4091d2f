package cli

import (
	"strings"
	"time"

	client "github.com/agent-vault/agent-vault/openapi/client/go"
)

type agentCmd struct {
	Create  agentCreateCmd  `cmd:"" help:"Create an agent; prints its token once."`
	List    agentListCmd    `cmd:"" aliases:"ls" help:"List agents and their vaults."`
	Show    agentShowCmd    `cmd:"" help:"Show an agent: role, vaults, token expiry, last use."`
	Rename  agentRenameCmd  `cmd:"" help:"Rename an agent; its tokens keep working."`
	SetRole agentSetRoleCmd `cmd:"" name:"set-role" help:"Change an agent's instance role (no-access disables it)."`
	Rotate  agentRotateCmd  `cmd:"" help:"Replace an agent's token (the old one stops now, or after --overlap). Prints the new token once."`
	Revoke  agentRevokeCmd  `cmd:"" help:"Revoke an agent's token without deleting the agent."`
	Delete  agentDeleteCmd  `cmd:"" aliases:"rm" help:"Delete an agent."`
}

type agentCreateCmd struct {
	authFlag
	Name  string   `arg:"" help:"Agent name: 1-64 characters of a-z, 0-9, _ and -."`
	Role  string   `enum:"member,no-access" default:"member" help:"Instance role: member or no-access."`
	Grant []string `placeholder:"VAULT=ROLE" help:"Give the agent a role (admin, member, proxy) in a vault you administer; repeat for several."`
	TTL   string   `name:"ttl" placeholder:"DURATION" help:"The token expires after this long (e.g. 12h, 30d); default: never."`
}

func (a *agentCreateCmd) Run(c *apiClient, out *printer) error {
	role := client.CreateAgentInputBodyRole(a.Role)
	body := client.CreateAgentJSONRequestBody{Name: a.Name, Role: &role}
	ttl, err := durationSeconds("ttl", a.TTL)
	if err != nil {
		return err
	}
	if ttl > 0 {
		body.TtlSeconds = ptr(int64(ttl))
	}
	if len(a.Grant) > 0 {
		grants := make([]client.VaultGrantView, 0, len(a.Grant))
		for _, g := range a.Grant {
			v, r, ok := strings.Cut(g, "=")
			if !ok || v == "" || r == "" {
				return usageErrorf("--grant %q is not VAULT=ROLE", g)
			}
			grants = append(grants, client.VaultGrantView{Vault: v, Role: client.VaultGrantViewRole(r)})
		}
		body.Vaults = &grants
	}
	res, err := decode[client.AgentTokenOutputBody](c.api.CreateAgent(c.ctx, body))
	if err != nil {
		return err
	}
	return printAgentToken(out, res, "Created agent")
}

func printAgentToken(out *printer, res *client.AgentTokenOutputBody, verb string) error {
	return out.result(res, func() {
		until := ""
		if res.Agent.TokenExpiresAt != nil {
			until = ", valid until " + when(*res.Agent.TokenExpiresAt)
		}
		if res.Agent.PreviousTokenExpiresAt != nil {
			until += "; the previous token works until " + when(*res.Agent.PreviousTokenExpiresAt)
		}
		out.line("%s %s. Its token (shown once%s; give it to the agent as AGENT_VAULT_TOKEN):\n%s", verb, res.Agent.Name, until, res.Token)
	})
}

func grantsText(gs *[]client.VaultGrantView) string {
	var parts []string
	for _, g := range deref(gs) {
		parts = append(parts, g.Vault+"="+string(g.Role))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ",")
}

type agentListCmd struct {
	authFlag
}

func (agentListCmd) Run(c *apiClient, out *printer) error {
	res, err := decode[client.ListAgentsOutputBody](c.api.ListAgents(c.ctx))
	if err != nil {
		return err
	}
	return out.result(res, func() {
		var rows [][]string
		for _, a := range deref(res.Agents) {
			rows = append(rows, []string{a.Name, string(a.Role), grantsText(a.Vaults), yesNo(a.Revoked), whenOr(a.TokenExpiresAt, "never"), whenOr(a.LastUsedAt, "never")})
		}
		out.table("No agents.", []string{"name", "role", "vaults", "revoked", "token expires", "last used"}, rows)
	})
}

func whenOr(t *time.Time, none string) string {
	if t == nil {
		return none
	}
	return when(*t)
}

type agentShowCmd struct {
	authFlag
	Name string `arg:"" help:"Agent name."`
}

func (s *agentShowCmd) Run(c *apiClient, out *printer) error {
	a, err := decode[client.AgentView](c.api.GetAgent(c.ctx, s.Name))
	if err != nil {
		return err
	}
	return out.result(a, func() {
		out.table("", []string{"field", "value"}, [][]string{
			{"name", a.Name}, {"role", string(a.Role)}, {"vaults", grantsText(a.Vaults)}, {"revoked", yesNo(a.Revoked)},
			{"token expires", whenOr(a.TokenExpiresAt, "never")}, {"token lifetime", lifetime(a.TokenTtlSeconds)},
			{"previous token until", whenOr(a.PreviousTokenExpiresAt, "-")},
			{"last used", whenOr(a.LastUsedAt, "never")}, {"created", when(a.CreatedAt)},
		})
	})
}

type agentRenameCmd struct {
	authFlag
	Name    string `arg:"" help:"Agent name."`
	NewName string `arg:"" help:"New name: 1-64 characters of a-z, 0-9, _ and -."`
}

func (r *agentRenameCmd) Run(c *apiClient, out *printer) error {
	a, err := decode[client.AgentView](c.api.UpdateAgent(c.ctx, r.Name, client.UpdateAgentJSONRequestBody{Name: &r.NewName}))
	if err != nil {
		return err
	}
	return out.result(a, func() { out.line("Renamed agent %s to %s.", r.Name, a.Name) })
}

type agentSetRoleCmd struct {
	authFlag
	Name string `arg:"" help:"Agent name."`
	Role string `arg:"" enum:"member,no-access" help:"Instance role: member or no-access."`
}

func (r *agentSetRoleCmd) Run(c *apiClient, out *printer) error {
	role := client.UpdateAgentInputBodyRole(r.Role)
	a, err := decode[client.AgentView](c.api.UpdateAgent(c.ctx, r.Name, client.UpdateAgentJSONRequestBody{Role: &role}))
	if err != nil {
		return err
	}
	return out.result(a, func() { out.line("Agent %s is now %s.", a.Name, a.Role) })
}

// lifetime renders a token lifetime in seconds as the --ttl flags take it.
func lifetime(n int64) string {
	if n == 0 {
		return "never expires"
	}
	return seconds(n)
}

type agentRotateCmd struct {
	authFlag
	Name    string `arg:"" help:"Agent name."`
	Overlap string `placeholder:"DURATION" help:"Keep the old token (and the sessions it minted) working this much longer (e.g. 10m, 1h; at most 7d), so a running agent is not cut off."`
	TTL     string `name:"ttl" placeholder:"DURATION" help:"The new token expires after this long (0: never); default: the current token's lifetime."`
}

func (r *agentRotateCmd) Run(c *apiClient, out *printer) error {
	overlap, err := durationSeconds("overlap", r.Overlap)
	if err != nil {
		return err
	}
	ttl, err := durationSeconds("ttl", r.TTL)
	if err != nil {
		return err
	}
	var body client.RotateAgentJSONRequestBody
	if overlap > 0 {
		body.OverlapSeconds = ptr(int64(overlap))
	}
	if r.TTL != "" {
		body.TtlSeconds = ptr(int64(ttl))
	}
	res, err := decode[client.AgentTokenOutputBody](c.api.RotateAgent(c.ctx, r.Name, body))
	if err != nil {
		return err
	}
	return printAgentToken(out, res, "Rotated the token of agent")
}

type agentRevokeCmd struct {
	authFlag
	Name string `arg:"" help:"Agent name."`
}

func (r *agentRevokeCmd) Run(c *apiClient, out *printer) error {
	if _, err := decode[struct{}](c.api.RevokeAgent(c.ctx, r.Name)); err != nil {
		return err
	}
	return out.result(map[string]any{"agent": r.Name, "revoked": true}, func() {
		out.line("Revoked the token of agent %s; 'agent rotate %s' issues a new one.", r.Name, r.Name)
	})
}

type agentDeleteCmd struct {
	authFlag
	Name string `arg:"" help:"Agent name."`
}

func (d *agentDeleteCmd) Run(c *apiClient, out *printer) error {
	if _, err := decode[struct{}](c.api.DeleteAgent(c.ctx, d.Name)); err != nil {
		return err
	}
	return out.result(map[string]any{"agent": d.Name, "deleted": true}, func() {
		out.line("Deleted agent %s.", d.Name)
	})
}

package cli

import (
	"strings"

	client "github.com/agent-vault/agent-vault/openapi/client/go"
)

type agentCmd struct {
	Create agentCreateCmd `cmd:"" help:"Create an agent; prints its token once."`
	List   agentListCmd   `cmd:"" aliases:"ls" help:"List agents and their vaults."`
	Rotate agentRotateCmd `cmd:"" help:"Replace an agent's token; the old one stops working. Prints the new token once."`
	Revoke agentRevokeCmd `cmd:"" help:"Revoke an agent's token without deleting the agent."`
	Delete agentDeleteCmd `cmd:"" aliases:"rm" help:"Delete an agent."`
}

type agentCreateCmd struct {
	authFlag
	Name  string   `arg:"" help:"Agent name: 1-64 characters of a-z, 0-9, _ and -."`
	Role  string   `enum:"member,no-access" default:"member" help:"Instance role: member or no-access."`
	Grant []string `placeholder:"VAULT=ROLE" help:"Give the agent a role (admin, member, proxy) in a vault you administer; repeat for several."`
}

func (a *agentCreateCmd) Run(c *apiClient, out *printer) error {
	role := client.CreateAgentInputBodyRole(a.Role)
	body := client.CreateAgentJSONRequestBody{Name: a.Name, Role: &role}
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
		out.line("%s %s. Its token (shown once; give it to the agent as AGENT_VAULT_TOKEN):\n%s", verb, res.Agent.Name, res.Token)
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
			rows = append(rows, []string{a.Name, string(a.Role), grantsText(a.Vaults), yesNo(a.Revoked), when(a.CreatedAt)})
		}
		out.table("No agents.", []string{"name", "role", "vaults", "revoked", "created"}, rows)
	})
}

type agentRotateCmd struct {
	authFlag
	Name string `arg:"" help:"Agent name."`
}

func (r *agentRotateCmd) Run(c *apiClient, out *printer) error {
	res, err := decode[client.AgentTokenOutputBody](c.api.RotateAgent(c.ctx, r.Name))
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

package cli

import (
	"time"

	client "github.com/agent-vault/agent-vault/openapi/client/go"
)

const vaultRoleHelp = "Vault role: admin (manage the vault), member (use and edit credentials and services) or proxy (only send traffic through the proxy)."

func printMembers(out *printer, vault, kind string, m *client.ListMembersOutputBody) error {
	return out.result(m, func() {
		var rows [][]string
		for _, x := range deref(m.Members) {
			rows = append(rows, []string{x.Name, string(x.Role), x.Id})
		}
		out.table("No "+kind+"s in vault "+vault+".", []string{kind, "role", "id"}, rows)
	})
}

type vaultUserCmd struct {
	List    vaultUserListCmd    `cmd:"" aliases:"ls" help:"List the users of a vault."`
	Add     vaultUserAddCmd     `cmd:"" help:"Give a user a role in a vault."`
	SetRole vaultUserSetRoleCmd `cmd:"" name:"set-role" help:"Change a user's role in a vault."`
	Remove  vaultUserRemoveCmd  `cmd:"" aliases:"rm" help:"Take a user out of a vault."`
}

type vaultUserListCmd struct {
	authFlag
	vaultFlag
}

func (l *vaultUserListCmd) Run(c *apiClient, out *printer) error {
	m, err := decode[client.ListMembersOutputBody](c.api.ListVaultUsers(c.ctx, l.Vault))
	if err != nil {
		return err
	}
	return printMembers(out, l.Vault, "user", m)
}

type vaultUserAddCmd struct {
	authFlag
	vaultFlag
	Email string `arg:"" help:"The user's email (or id)."`
	Role  string `enum:"admin,member,proxy" default:"member" help:"${vault_role_help}"`
}

func (a *vaultUserAddCmd) Run(c *apiClient, out *printer) error {
	return setVaultUser(c, out, a.Vault, a.Email, a.Role)
}

type vaultUserSetRoleCmd struct {
	authFlag
	vaultFlag
	Email string `arg:"" help:"The user's email (or id)."`
	Role  string `arg:"" enum:"admin,member,proxy" help:"${vault_role_help}"`
}

func (a *vaultUserSetRoleCmd) Run(c *apiClient, out *printer) error {
	return setVaultUser(c, out, a.Vault, a.Email, a.Role)
}

func setVaultUser(c *apiClient, out *printer, vault, email, role string) error {
	body := client.SetVaultUserJSONRequestBody{Email: email, Role: client.SetVaultUserInputBodyRole(role)}
	if _, err := decode[struct{}](c.api.SetVaultUser(c.ctx, vault, body)); err != nil {
		return err
	}
	return out.result(map[string]any{"vault": vault, "user": email, "role": role}, func() {
		out.line("%s is %s of vault %s.", email, role, vault)
	})
}

type vaultUserRemoveCmd struct {
	authFlag
	vaultFlag
	Email string `arg:"" help:"The user's email (or id)."`
}

func (r *vaultUserRemoveCmd) Run(c *apiClient, out *printer) error {
	if _, err := decode[struct{}](c.api.RemoveVaultUser(c.ctx, r.Vault, r.Email)); err != nil {
		return err
	}
	return out.result(map[string]any{"vault": r.Vault, "user": r.Email, "removed": true}, func() {
		out.line("Removed %s from vault %s.", r.Email, r.Vault)
	})
}

type vaultAgentCmd struct {
	List    vaultAgentListCmd    `cmd:"" aliases:"ls" help:"List the agents of a vault."`
	Add     vaultAgentAddCmd     `cmd:"" help:"Give an agent a role in a vault."`
	SetRole vaultAgentSetRoleCmd `cmd:"" name:"set-role" help:"Change an agent's role in a vault."`
	Remove  vaultAgentRemoveCmd  `cmd:"" aliases:"rm" help:"Take an agent out of a vault."`
}

type vaultAgentListCmd struct {
	authFlag
	vaultFlag
}

func (l *vaultAgentListCmd) Run(c *apiClient, out *printer) error {
	m, err := decode[client.ListMembersOutputBody](c.api.ListVaultAgents(c.ctx, l.Vault))
	if err != nil {
		return err
	}
	return printMembers(out, l.Vault, "agent", m)
}

type vaultAgentAddCmd struct {
	authFlag
	vaultFlag
	Agent string `arg:"" help:"Agent name."`
	Role  string `enum:"admin,member,proxy" default:"proxy" help:"${vault_role_help}"`
}

func (a *vaultAgentAddCmd) Run(c *apiClient, out *printer) error {
	return setVaultAgent(c, out, a.Vault, a.Agent, a.Role)
}

type vaultAgentSetRoleCmd struct {
	authFlag
	vaultFlag
	Agent string `arg:"" help:"Agent name."`
	Role  string `arg:"" enum:"admin,member,proxy" help:"${vault_role_help}"`
}

func (a *vaultAgentSetRoleCmd) Run(c *apiClient, out *printer) error {
	return setVaultAgent(c, out, a.Vault, a.Agent, a.Role)
}

func setVaultAgent(c *apiClient, out *printer, vault, agent, role string) error {
	body := client.SetVaultAgentJSONRequestBody{Agent: agent, Role: client.SetVaultAgentInputBodyRole(role)}
	if _, err := decode[struct{}](c.api.SetVaultAgent(c.ctx, vault, body)); err != nil {
		return err
	}
	return out.result(map[string]any{"vault": vault, "agent": agent, "role": role}, func() {
		out.line("Agent %s is %s of vault %s.", agent, role, vault)
	})
}

type vaultAgentRemoveCmd struct {
	authFlag
	vaultFlag
	Agent string `arg:"" help:"Agent name."`
}

func (r *vaultAgentRemoveCmd) Run(c *apiClient, out *printer) error {
	if _, err := decode[struct{}](c.api.RemoveVaultAgent(c.ctx, r.Vault, r.Agent)); err != nil {
		return err
	}
	return out.result(map[string]any{"vault": r.Vault, "agent": r.Agent, "removed": true}, func() {
		out.line("Removed agent %s from vault %s.", r.Agent, r.Vault)
	})
}

type vaultSessionCmd struct {
	Create vaultSessionCreateCmd `cmd:"" help:"Create a scoped session token for one vault; prints the token once."`
	List   vaultSessionListCmd   `cmd:"" aliases:"ls" help:"List a vault's live scoped sessions."`
	Revoke vaultSessionRevokeCmd `cmd:"" help:"Revoke a scoped session by id."`
}

type vaultSessionCreateCmd struct {
	authFlag
	vaultFlag
	TTL time.Duration `name:"ttl" default:"24h" help:"Lifetime, 5m to 168h."`
}

func (s *vaultSessionCreateCmd) Run(c *apiClient, out *printer) error {
	secs := int64(s.TTL / time.Second)
	res, err := decode[client.CreateSessionOutputBody](c.api.CreateSession(c.ctx, client.CreateSessionJSONRequestBody{Vault: s.Vault, TtlSeconds: &secs}))
	if err != nil {
		return err
	}
	return out.result(res, func() {
		out.line("Scoped session %s for vault %s, until %s. Its token (shown once):\n%s", res.Id, res.Vault, when(res.ExpiresAt), res.Token)
	})
}

type vaultSessionListCmd struct {
	authFlag
	vaultFlag
	Mine bool `help:"List the live sessions you minted, in every vault (needs no role in them)."`
}

func (l *vaultSessionListCmd) Run(c *apiClient, out *printer) error {
	if l.Mine {
		res, err := decode[client.ListMySessionsOutputBody](c.api.ListMySessions(c.ctx))
		if err != nil {
			return err
		}
		return out.result(res, func() {
			var rows [][]string
			for _, s := range deref(res.Sessions) {
				rows = append(rows, []string{s.Id, s.Vault, when(s.CreatedAt), when(s.ExpiresAt)})
			}
			out.table("You have no live scoped sessions.", []string{"id", "vault", "created", "expires"}, rows)
		})
	}
	res, err := decode[client.ListSessionsOutputBody](c.api.ListSessions(c.ctx, l.Vault))
	if err != nil {
		return err
	}
	return out.result(res, func() {
		var rows [][]string
		for _, s := range deref(res.Sessions) {
			rows = append(rows, []string{s.Id, s.Creator, when(s.CreatedAt), when(s.ExpiresAt)})
		}
		out.table("No scoped sessions in vault "+l.Vault+".", []string{"id", "creator", "created", "expires"}, rows)
	})
}

type vaultSessionRevokeCmd struct {
	authFlag
	vaultFlag
	ID string `arg:"" name:"id" help:"Session id (from 'vault session list')."`
}

func (r *vaultSessionRevokeCmd) Run(c *apiClient, out *printer) error {
	// The minter of a session may revoke it without any role in the
	// vault; anyone else needs the vault's admin route.
	if _, err := decode[struct{}](c.api.RevokeMySession(c.ctx, r.ID)); err != nil {
		if _, err := decode[struct{}](c.api.RevokeSession(c.ctx, r.Vault, r.ID)); err != nil {
			return err
		}
	}
	return out.result(map[string]any{"vault": r.Vault, "session": r.ID, "revoked": true}, func() {
		out.line("Revoked scoped session %s.", r.ID)
	})
}

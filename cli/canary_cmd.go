package cli

import client "github.com/agent-vault/agent-vault/openapi/client/go"

// vaultCanaryCmd groups the canary commands. Canaries are minted by
// `agent-vault run --canary NAME`.
type vaultCanaryCmd struct {
	List vaultCanaryListCmd `cmd:"" help:"List a vault's canary credentials (names, never values)."`
}

type vaultCanaryListCmd struct {
	authFlag
	vaultFlag
}

func (l *vaultCanaryListCmd) Run(c *apiClient, out *printer) error {
	res, err := decode[client.ListCanariesOutputBody](c.api.ListCanaries(c.ctx, l.Vault))
	if err != nil {
		return err
	}
	return out.result(res, func() {
		var rows [][]string
		for _, cn := range deref(res.Canaries) {
			rows = append(rows, []string{cn.Name, cn.Id, when(cn.CreatedAt)})
		}
		out.table("No canaries. Mint one with: agent-vault run --vault="+l.Vault+" --canary NAME -- PROGRAM", []string{"name", "id", "created"}, rows)
	})
}

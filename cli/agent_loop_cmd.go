package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	client "github.com/agent-vault/agent-vault/openapi/client/go"
	"gopkg.in/yaml.v3"
)

// proposalCmd is the agent's side of proposals: ask a human for services
// and credential slots, then poll for the decision.
type proposalCmd struct {
	Create proposalCreateCmd    `cmd:"" help:"Propose services and credential slots from a file ({message, services, credentials})."`
	List   agentProposalListCmd `cmd:"" aliases:"ls" help:"List the proposals of your vault."`
	Show   agentProposalShowCmd `cmd:"" help:"Show one proposal and its decision."`
}

// agentVaultFlag is optional: an agent token that reaches one vault needs
// no vault name. A project binding (agent-vault.json) names it when the
// flag and the environment do not.
type agentVaultFlag struct {
	Vault string `env:"AGENT_VAULT_VAULT" placeholder:"NAME" help:"The vault, when the token reaches several (default: the project's agent-vault.json)."`
}

// AfterApply takes the vault from the project binding when none was given.
func (f *agentVaultFlag) AfterApply() error {
	if f.Vault != "" {
		return nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return err
	}
	_, f.Vault, err = findBinding(dir)
	return err
}

func (f agentVaultFlag) vault() *string {
	if f.Vault == "" {
		return nil
	}
	return &f.Vault
}

type proposalCreateCmd struct {
	authFlag
	agentVaultFlag
	File string `short:"f" required:"" placeholder:"FILE" help:"JSON or YAML body in the API's shape; - reads standard input."`
}

func (proposalCreateCmd) Help() string {
	return `The file holds what POST /v1/proposals takes, for example:

  message: Need read access to Stripe charges for the monthly report
  services:
    - {action: set, name: stripe, host: api.stripe.com, auth: {type: bearer, token: STRIPE_KEY}}
  credentials:
    - {action: set, key: STRIPE_KEY, description: Stripe secret key}`
}

func (p *proposalCreateCmd) Run(e *env, c *apiClient, out *printer) error {
	var raw []byte
	var err error
	if p.File == "-" {
		raw, err = io.ReadAll(io.LimitReader(e.Stdin, 1<<20))
	} else {
		raw, err = os.ReadFile(p.File)
	}
	if err != nil {
		return err
	}
	body, err := decodeProposal(raw)
	if err != nil {
		return usageErrorf("%s: %v", p.File, err)
	}
	if body.Vault == nil {
		body.Vault = p.vault()
	}
	res, err := decode[client.ProposalView](c.api.CreateProposal(c.ctx, &client.CreateProposalParams{}, body))
	if err != nil {
		return err
	}
	if !out.json {
		out.line("Proposal %s is waiting for a human: %s", res.Id, res.ApprovalUrl)
	}
	return printProposal(out, res)
}

// decodeProposal reads YAML (a superset of JSON) strictly into the API's
// body, through JSON so the generated types' tags apply.
func decodeProposal(raw []byte) (client.CreateProposalInputBody, error) {
	var body client.CreateProposalInputBody
	var doc any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return body, err
	}
	j, err := json.Marshal(doc)
	if err != nil {
		return body, err
	}
	dec := json.NewDecoder(strings.NewReader(string(j)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		return body, err
	}
	return body, nil
}

type agentProposalListCmd struct {
	authFlag
	agentVaultFlag
	Status string `enum:"pending,approved,rejected,expired," default:"" placeholder:"STATUS" help:"Only proposals in this state."`
}

func (l *agentProposalListCmd) Run(c *apiClient, out *printer) error {
	params := &client.ListProposalsParams{Vault: l.vault()}
	if l.Status != "" {
		st := client.ListProposalsParamsStatus(l.Status)
		params.Status = &st
	}
	res, err := decode[client.ProposalListOutputBody](c.api.ListProposals(c.ctx, params))
	if err != nil {
		return err
	}
	return out.result(res, func() {
		var rows [][]string
		for _, p := range deref(res.Proposals) {
			rows = append(rows, []string{p.Id, string(p.Status), when(p.CreatedAt), oneLine(p.Message, 50)})
		}
		out.table("No proposals in vault "+res.Vault+".", []string{"id", "status", "created", "message"}, rows)
	})
}

type agentProposalShowCmd struct {
	authFlag
	agentVaultFlag
	ID string `arg:"" name:"id" help:"Proposal id."`
}

func (s *agentProposalShowCmd) Run(c *apiClient, out *printer) error {
	p, err := decode[client.ProposalView](c.api.GetProposal(c.ctx, s.ID, &client.GetProposalParams{Vault: s.vault()}))
	if err != nil {
		return err
	}
	return printProposal(out, p)
}

// guideCmd prints the agent guide the server publishes.
type guideCmd struct{}

func (guideCmd) Run(c *apiClient, out *printer) error {
	res, err := c.api.GetCliSkill(c.ctx)
	if err != nil {
		_, err = decode[struct{}](res, err)
		return err
	}
	if res.StatusCode != http.StatusOK {
		_, err = decode[struct{}](res, nil)
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return err
	}
	if out.json {
		return out.result(map[string]string{"guide": string(b)}, nil)
	}
	_, err = fmt.Fprint(out.out, safeBlock(string(b)))
	return err
}

package cli

import (
	"fmt"
	"strings"
	"time"

	client "github.com/agent-vault/agent-vault/openapi/client/go"
)

// vaultProposalCmd is the reviewer's side of agents' proposals: services
// and credential slots an agent asked for, applied only when approved.
type vaultProposalCmd struct {
	List    proposalListCmd    `cmd:"" aliases:"ls" help:"List a vault's proposals, newest first."`
	Show    proposalShowCmd    `cmd:"" help:"Show one proposal: what it adds and why."`
	Approve proposalApproveCmd `cmd:"" help:"Approve a proposal, supplying values for its credential slots."`
	Reject  proposalRejectCmd  `cmd:"" help:"Reject a proposal with a reason the agent reads."`
}

type proposalListCmd struct {
	authFlag
	vaultFlag
	Status string `enum:"pending,approved,rejected,expired," default:"" placeholder:"STATUS" help:"Only proposals in this state: pending, approved, rejected or expired."`
}

func (l *proposalListCmd) Run(c *apiClient, out *printer) error {
	params := &client.AdminListProposalsParams{Vault: l.Vault}
	if l.Status != "" {
		st := client.AdminListProposalsParamsStatus(l.Status)
		params.Status = &st
	}
	res, err := decode[client.ProposalListOutputBody](c.api.AdminListProposals(c.ctx, params))
	if err != nil {
		return err
	}
	return printProposals(out, res)
}

func printProposals(out *printer, res *client.ProposalListOutputBody) error {
	return out.result(res, func() {
		var rows [][]string
		for _, p := range deref(res.Proposals) {
			existing := "no"
			if n := len(deref(p.Changes)); n > 0 {
				existing = fmt.Sprintf("YES (%d)", n)
			}
			rows = append(rows, []string{p.Id, string(p.Status), string(p.CreatedBy.Kind) + ":" + p.CreatedBy.Name,
				fmt.Sprint(len(deref(p.Services))), fmt.Sprint(len(deref(p.Credentials))), existing, when(p.CreatedAt), oneLine(p.Message, 40)})
		}
		out.table("No proposals in vault "+res.Vault+".", []string{"id", "status", "from", "services", "credentials", "changes-existing", "created", "message"}, rows)
	})
}

// oneLine shortens text for a table cell.
func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > max {
		return string(r[:max-1]) + "…"
	}
	return s
}

// printChanges puts what a proposal would replace in the vault first, in
// capitals: the reviewer must not mistake a replacement for an addition.
func printChanges(out *printer, changes []client.ProposalChange) {
	if len(changes) == 0 {
		return
	}
	out.line("WARNING: this proposal changes what the vault already holds:")
	for _, ch := range changes {
		out.line("  %s %s %s", strings.ToUpper(string(ch.Action)), string(ch.Target), ch.Name)
		for _, f := range deref(ch.Fields) {
			before, after := f.Before, f.After
			if before == "" {
				before = "(none)"
			}
			if after == "" {
				after = "(none)"
			}
			out.line("      %s: %s -> %s", f.Field, before, after)
		}
		if ch.Confirm != nil && *ch.Confirm != "" {
			out.line("      approving needs --confirm %s", *ch.Confirm)
		}
	}
	out.line("")
}

func printProposal(out *printer, p *client.ProposalView) error {
	return out.result(p, func() {
		printChanges(out, deref(p.Changes))
		verb := map[string]string{}
		for _, ch := range deref(p.Changes) {
			verb[string(ch.Target)+":"+ch.Name] = strings.ToUpper(string(ch.Action))
		}
		rows := [][]string{
			{"id", p.Id}, {"vault", p.Vault}, {"status", string(p.Status)},
			{"from", string(p.CreatedBy.Kind) + ":" + p.CreatedBy.Name},
			{"created", when(p.CreatedAt)}, {"expires", when(p.ExpiresAt)},
			{"message", p.Message},
		}
		if p.UserMessage != nil && *p.UserMessage != "" {
			rows = append(rows, []string{"user-message", *p.UserMessage})
		}
		if p.Reason != nil && *p.Reason != "" {
			rows = append(rows, []string{"reason", *p.Reason})
		}
		if p.DecidedBy != nil && *p.DecidedBy != "" {
			rows = append(rows, []string{"decided-by", *p.DecidedBy})
		}
		for _, s := range deref(p.Services) {
			action := string(s.Action)
			if v := verb["service:"+s.Name]; v != "" {
				action = v
			}
			desc := action + " " + s.Name
			if s.Host != nil {
				desc += " host=" + *s.Host
			}
			if s.Auth != nil {
				desc += " auth=" + string(s.Auth.Type) + " keys=" + authKeys(*s.Auth)
			}
			rows = append(rows, []string{"service", desc})
		}
		for _, cr := range deref(p.Credentials) {
			action := string(cr.Action)
			if v := verb["credential:"+cr.Key]; v != "" {
				action = v
			}
			desc := action + " " + cr.Key
			if cr.HasValue {
				desc += " (agent supplied a value)"
			}
			if cr.Description != nil && *cr.Description != "" {
				desc += ": " + *cr.Description
			}
			if cr.Obtain != nil && *cr.Obtain != "" {
				desc += " [obtain: " + *cr.Obtain + "]"
			}
			rows = append(rows, []string{"credential", desc})
		}
		rows = append(rows, []string{"review", p.ApprovalUrl})
		out.table("", []string{"field", "value"}, rows)
	})
}

type proposalShowCmd struct {
	authFlag
	vaultFlag
	ID string `arg:"" name:"id" help:"Proposal id."`
}

func (s *proposalShowCmd) Run(c *apiClient, out *printer) error {
	p, err := decode[client.ProposalView](c.api.GetProposal(c.ctx, s.ID, &client.GetProposalParams{Vault: &s.Vault}))
	if err != nil {
		return err
	}
	return printProposal(out, p)
}

type proposalApproveCmd struct {
	authFlag
	vaultFlag
	ID      string   `arg:"" name:"id" help:"Proposal id."`
	Values  []string `arg:"" optional:"" name:"KEY=VALUE" help:"Values for the proposal's credential slots; KEY=- reads one from standard input. A value given here replaces one the agent supplied."`
	Confirm []string `placeholder:"CHANGE" help:"Accept one replacement of what the vault holds, as 'proposal show' lists it (service:NAME moves an existing service, credential:KEY overwrites an existing value); repeat for each."`
}

func (a *proposalApproveCmd) Run(e *env, c *apiClient, out *printer) error {
	body := client.ApproveProposalJSONRequestBody{Vault: a.Vault}
	if len(a.Confirm) > 0 {
		body.ConfirmChanges = &a.Confirm
	}
	if len(a.Values) > 0 {
		values, err := parsePairs(e, a.Values)
		if err != nil {
			return err
		}
		body.Credentials = &values
	}
	p, err := decode[client.ProposalView](c.api.ApproveProposal(c.ctx, a.ID, body))
	if err != nil {
		return err
	}
	if !out.json {
		out.line("Approved proposal %s: its services and credentials are in vault %s.", p.Id, p.Vault)
	}
	return printProposal(out, p)
}

type proposalRejectCmd struct {
	authFlag
	vaultFlag
	ID     string `arg:"" name:"id" help:"Proposal id."`
	Reason string `help:"Why, for the agent to read."`
}

func (r *proposalRejectCmd) Run(c *apiClient, out *printer) error {
	body := client.RejectProposalJSONRequestBody{Vault: r.Vault}
	if r.Reason != "" {
		body.Reason = &r.Reason
	}
	p, err := decode[client.ProposalView](c.api.RejectProposal(c.ctx, r.ID, body))
	if err != nil {
		return err
	}
	if !out.json {
		out.line("Rejected proposal %s.", p.Id)
	}
	return printProposal(out, p)
}

// vaultLogsCmd prints the proxy's request log of a vault.
type vaultLogsCmd struct {
	authFlag
	vaultFlag
	Limit   int64         `default:"50" help:"How many entries (newest first)."`
	Status  string        `enum:"1xx,2xx,3xx,4xx,5xx," default:"" placeholder:"CLASS" help:"Only responses of this class: 2xx, 4xx, …"`
	Service string        `help:"Only requests that matched this service."`
	Follow  bool          `short:"f" help:"Keep printing new entries until interrupted."`
	Every   time.Duration `default:"25s" help:"How long each --follow request waits on the server for new entries (they are shown as they arrive)."`
}

func (l *vaultLogsCmd) Run(c *apiClient, out *printer) error {
	params := &client.ListRequestLogsParams{Limit: &l.Limit}
	if l.Status != "" {
		b := client.ListRequestLogsParamsStatusBucket(l.Status)
		params.StatusBucket = &b
	}
	if l.Service != "" {
		params.Service = &l.Service
	}
	res, err := decode[client.ListLogsOutputBody](c.api.ListRequestLogs(c.ctx, l.Vault, params))
	if err != nil {
		return err
	}
	if !l.Follow {
		return printLogs(out, res)
	}
	// Follow: oldest first, then only what is new; one JSON object per line.
	printed := false
	emit := func(entries []client.LogEntry) error {
		for i := len(entries) - 1; i >= 0; i-- {
			if out.json {
				if err := out.result(entries[i], nil); err != nil {
					return err
				}
				continue
			}
			if !printed {
				out.line("%s", strings.Join(logHeaders, "  "))
				printed = true
			}
			printLogLine(out, entries[i])
		}
		return nil
	}
	if err := emit(deref(res.Logs)); err != nil {
		return err
	}
	// Long poll: the server answers as soon as a newer entry is written,
	// and writes entries promptly while someone waits (well within 200ms).
	after := res.LatestId
	wait := int64(min(max(l.Every, time.Second), 30*time.Second) / time.Second)
	for c.ctx.Err() == nil {
		params := &client.ListRequestLogsParams{After: &after, Wait: &wait, StatusBucket: params.StatusBucket, Service: params.Service}
		res, err := decode[client.ListLogsOutputBody](c.api.ListRequestLogs(c.ctx, l.Vault, params))
		if err != nil {
			if c.ctx.Err() != nil {
				return nil
			}
			return err
		}
		if err := emit(deref(res.Logs)); err != nil {
			return err
		}
		if res.LatestId > after {
			after = res.LatestId
		}
	}
	return nil
}

func printLogs(out *printer, res *client.ListLogsOutputBody) error {
	return out.result(res, func() {
		out.table("No requests logged in vault "+res.Vault+".", logHeaders, logRows(deref(res.Logs)))
	})
}

// printLogLine is one entry of --follow.
func printLogLine(out *printer, x client.LogEntry) {
	out.line("%s", strings.Join(logRows([]client.LogEntry{x})[0], "  "))
}

var logHeaders = []string{"TIME", "ACTOR", "METHOD", "HOST", "PATH", "SERVICE", "KEYS", "STATUS", "MS", "ERROR", "GUARD"}

func logRows(entries []client.LogEntry) [][]string {
	rows := make([][]string, 0, len(entries))
	for _, x := range entries {
		rows = append(rows, []string{x.Time.UTC().Format(time.DateTime), logActor(x), safeText(x.Method), safeText(x.Host), oneLine(x.Path, 40), str(x.Service),
			strings.Join(deref(x.Keys), ","), fmt.Sprint(x.Status), fmt.Sprint(x.LatencyMs), str(x.Error), guard(x)})
	}
	return rows
}

// logActor reads "agent bench-agent", "user you@example.com" or
// "session 4f2c…": a session's id is a handle, so four characters tell
// sessions apart on one screen.
func logActor(x client.LogEntry) string {
	name := str(x.ActorName)
	if name == "" || x.ActorKind == "session" {
		name = x.ActorId
		if len(name) > 4 {
			name = name[:4] + "…"
		}
	}
	return safeText(x.ActorKind + " " + name) // an agent's name is the agent's to choose
}

// guard says what the leak defences did to a logged request.
func guard(x client.LogEntry) string {
	var parts []string
	if x.Blocked != nil && *x.Blocked != "" {
		parts = append(parts, "blocked "+*x.Blocked)
	}
	if x.Scrubbed != nil && len(*x.Scrubbed) > 0 {
		var s []string
		for _, c := range *x.Scrubbed {
			s = append(s, fmt.Sprintf("%s×%d", c.Key, c.Count))
		}
		parts = append(parts, "scrubbed "+strings.Join(s, ","))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, "; ")
}

// vaultExplainCmd asks why a request would or would not get credentials.
type vaultExplainCmd struct {
	authFlag
	vaultFlag
	URL    string `arg:"" name:"url" help:"The absolute http:// or https:// URL an agent would request."`
	Method string `default:"GET" help:"The request method."`
}

func (x *vaultExplainCmd) Run(c *apiClient, out *printer) error {
	res, err := decode[client.ExplainOutputBody](c.api.ExplainRequest(c.ctx, x.Vault, &client.ExplainRequestParams{Method: &x.Method, Url: x.URL}))
	if err != nil {
		return err
	}
	return printExplain(out, res)
}

func printExplain(out *printer, res *client.ExplainOutputBody) error {
	return out.result(res, func() {
		rows := [][]string{
			{"request", res.Method + " " + res.Host + ":" + res.Port + res.Path},
			{"decision", string(res.Decision)},
			{"reason", res.Reason},
		}
		if res.Code != nil && *res.Code != "" {
			rows = append(rows, []string{"code", *res.Code})
		}
		if res.Service != nil {
			rows = append(rows, []string{"service", fmt.Sprintf("%s (host %s, auth %s, enabled %s)", res.Service.Name, res.Service.Host, res.Service.AuthType, yesNo(res.Service.Enabled))})
		}
		for _, k := range deref(res.Credentials) {
			rows = append(rows, []string{"credential", k.Key + " (" + string(k.Source) + ")"})
		}
		rows = append(rows, []string{"unmatched-host-policy", string(res.UnmatchedHostPolicy)})
		rows = append(rows, []string{"response-scrubbing", res.ResponseScrubbing}, []string{"egress-check", res.EgressCheck})
		for _, ev := range deref(res.Recent) {
			rows = append(rows, []string{"recent", ev.Time.UTC().Format(time.DateTime) + " " + string(ev.Kind) + " " + ev.Keys})
		}
		out.table("", []string{"field", "value"}, rows)
	})
}

// discoverCmd shows what a vault offers an agent: the same answer the
// agent gets from GET /discover.
type discoverCmd struct {
	authFlag
	agentVaultFlag
}

func (d *discoverCmd) Run(c *apiClient, out *printer) error {
	params := &client.DiscoverParams{}
	if d.Vault != "" {
		params.Vault = &d.Vault
	}
	res, err := decode[client.DiscoverOutputBody](c.api.Discover(c.ctx, params))
	if err != nil {
		return err
	}
	return printDiscover(out, res)
}

func printDiscover(out *printer, res *client.DiscoverOutputBody) error {
	return out.result(res, func() {
		var rows [][]string
		for _, s := range deref(res.Services) {
			rows = append(rows, []string{s.Name, s.Host, yesNo(s.Enabled)})
		}
		out.line("Vault %s", res.Vault)
		out.table("No services.", []string{"service", "host", "enabled"}, rows)
		keys := deref(res.AvailableCredentials)
		if len(keys) == 0 {
			out.line("No credentials.")
		} else {
			out.line("Credentials: %s", strings.Join(keys, ", "))
		}
		out.line("Propose what is missing: POST %s (guide: %s)", res.ProposeUrl, res.GuideUrl)
	})
}

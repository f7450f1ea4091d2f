package cli

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/agent-vault/agent-vault/host/audit"
	client "github.com/agent-vault/agent-vault/openapi/client/go"
)

type auditCmd struct {
	List   auditListCmd   `cmd:"" help:"List audit entries, newest first."`
	Follow auditFollowCmd `cmd:"" help:"Print new audit entries as they are recorded, until interrupted."`
	Export auditExportCmd `cmd:"" help:"Write audit entries, oldest first, as JSON lines or CSV (for a SIEM, or before retention prunes them)."`
	Verify auditVerifyCmd `cmd:"" help:"Check the audit trail's hash chain (the server's, or an exported file) and report the first break."`
}

func (auditCmd) Help() string {
	return `Every administrative action (sign-ins, invites, role and grant changes, vault,
credential and service changes, store syncs, sessions, agents, master-password
changes) is recorded with who, from where, what, the outcome and a summary by
name; never a credential value. Each entry carries the hash of the one before
it, so editing or deleting an entry breaks the chain: 'audit verify' finds it.
Instance owners only.`
}

// auditFilter narrows entries; shared by list, follow and export.
type auditFilter struct {
	Actor     string `help:"Only entries of this actor (id, email or agent name)."`
	Vault     string `name:"vault" placeholder:"NAME" help:"Only entries in this vault."`
	Operation string `placeholder:"ID" help:"Only entries of this operation (an API operation id such as set-credentials)."`
	Since     string `placeholder:"TIME" help:"Only entries at or after this time: RFC 3339, or a duration back from now (24h)."`
	Until     string `placeholder:"TIME" help:"Only entries before this time: RFC 3339, or a duration back from now."`
}

func (f auditFilter) params() (*client.ListAuditEntriesParams, error) {
	p := &client.ListAuditEntriesParams{}
	set := func(dst **string, v string) {
		if v != "" {
			*dst = &v
		}
	}
	set(&p.Actor, f.Actor)
	set(&p.Vault, f.Vault)
	set(&p.Operation, f.Operation)
	for _, t := range []struct {
		flag, v string
		dst     **time.Time
	}{{"--since", f.Since, &p.Since}, {"--until", f.Until, &p.Until}} {
		if t.v == "" {
			continue
		}
		at, err := parseWhen(t.v)
		if err != nil {
			return nil, usageErrorf("%s %q: want an RFC 3339 time (2026-01-31T12:00:00Z) or a duration (24h)", t.flag, t.v)
		}
		*t.dst = &at
	}
	return p, nil
}

func parseWhen(s string) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return time.Now().Add(-d).UTC(), nil
	}
	return time.Parse(time.RFC3339, s)
}

// auditPage is the list answer with each entry's summary kept as the exact
// bytes the server sent, so an export verifies byte for byte.
type auditPage struct {
	Entries    []audit.Entry `json:"entries"`
	HasMore    bool          `json:"has_more"`
	NextBefore int64         `json:"next_before,omitempty"`
	NextAfter  int64         `json:"next_after"`
	AnchorSeq  int64         `json:"anchor_seq"`
	AnchorHash string        `json:"anchor_hash,omitempty"`
}

func (c *apiClient) auditPage(p *client.ListAuditEntriesParams) (*auditPage, error) {
	return decode[auditPage](c.api.ListAuditEntries(c.ctx, p))
}

type auditListCmd struct {
	authFlag
	auditFilter
	Limit  int64 `default:"50" help:"How many entries."`
	Before int64 `placeholder:"SEQ" help:"Entries older than this seq (the next page: the next_before of --json)."`
}

func (l *auditListCmd) Run(c *apiClient, out *printer) error {
	p, err := l.params()
	if err != nil {
		return err
	}
	p.Limit = &l.Limit
	if l.Before > 0 {
		p.Before = &l.Before
	}
	page, err := c.auditPage(p)
	if err != nil {
		return err
	}
	return out.result(page, func() {
		out.table("No audit entries.", auditHeaders, auditRows(page.Entries))
		if page.HasMore {
			fmt.Fprintf(out.err, "More entries: --before %d\n", page.NextBefore)
		}
	})
}

var auditHeaders = []string{"SEQ", "TIME", "ACTOR", "ADDRESS", "OPERATION", "VAULT", "TARGET", "OUTCOME", "SUMMARY"}

func auditRows(entries []audit.Entry) [][]string {
	rows := make([][]string, 0, len(entries))
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	for _, e := range entries {
		actor := e.ActorKind
		if name := e.ActorName; name != "" {
			actor += " " + name
		} else if e.ActorID != "" {
			actor += " " + e.ActorID
		}
		rows = append(rows, []string{strconv.FormatInt(e.Seq, 10), e.Time.UTC().Format(time.DateTime), actor, dash(e.ClientAddr),
			e.Operation, dash(e.Vault), oneLine(dash(e.Target), 48), e.Outcome, oneLine(dash(summaryText(e.Summary)), 100)})
	}
	return rows
}

// summaryText is a summary for people ("role: member → admin"); an entry
// recorded before summaries had one shape shows its JSON.
func summaryText(raw json.RawMessage) string {
	if s, ok := audit.DecodeSummary(raw); ok {
		return s.String()
	}
	return string(raw)
}

type auditFollowCmd struct {
	authFlag
	auditFilter
	Last  int64         `default:"10" help:"Print this many recent entries first."`
	Every time.Duration `default:"2s" help:"How often to ask the server for new entries."`
}

func (f *auditFollowCmd) Run(c *apiClient, out *printer) error {
	p, err := f.params()
	if err != nil {
		return err
	}
	limit := max(f.Last, 1)
	first := *p
	first.Limit = &limit
	page, err := c.auditPage(&first)
	if err != nil {
		return err
	}
	header := false
	emit := func(entries []audit.Entry) error {
		for _, e := range entries {
			if out.json {
				if err := writeJSONLine(out.out, e); err != nil {
					return err
				}
				continue
			}
			if !header {
				out.line("%s", joinCells(auditHeaders))
				header = true
			}
			out.line("%s", joinCells(auditRows([]audit.Entry{e})[0]))
		}
		return nil
	}
	recent := page.Entries[:min(len(page.Entries), int(f.Last))]
	for i, j := 0, len(recent)-1; i < j; i, j = i+1, j-1 {
		recent[i], recent[j] = recent[j], recent[i]
	}
	if err := emit(recent); err != nil {
		return err
	}
	after := page.NextAfter
	tick := time.NewTicker(max(f.Every, 100*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return nil
		case <-tick.C:
		}
		for {
			next := *p
			next.After, next.Limit = &after, ptr(int64(500))
			page, err := c.auditPage(&next)
			if err != nil {
				if c.ctx.Err() != nil {
					return nil
				}
				return err
			}
			if err := emit(page.Entries); err != nil {
				return err
			}
			after = max(after, page.NextAfter)
			if !page.HasMore {
				break
			}
		}
	}
}

func joinCells(cells []string) string {
	s := ""
	for i, c := range cells {
		if i > 0 {
			s += "  "
		}
		s += c
	}
	return s
}

func writeJSONLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(safeJSON(append(b, '\n')))
	return err
}

type auditExportCmd struct {
	authFlag
	auditFilter
	Format string `enum:"jsonl,csv" default:"jsonl" help:"jsonl (one entry per line, verifiable with 'audit verify --file') or csv (the same fields, then the summary in words)."`
	After  int64  `placeholder:"SEQ" help:"Only entries after this seq (continue an earlier export)."`
	Output string `short:"o" placeholder:"FILE" help:"Write to this file instead of standard output (appended to, so exports can continue one archive)."`
}

var auditCSVHeader = []string{"seq", "time", "actor_kind", "actor_id", "actor_name", "client_addr", "operation", "vault", "target",
	"outcome", "status", "summary", "prev_hash", "hash", "summary_text"}

func (x *auditExportCmd) Run(c *apiClient, out *printer) error {
	p, err := x.params()
	if err != nil {
		return err
	}
	w := out.out
	if x.Output != "" {
		f, err := os.OpenFile(x.Output, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriter(w)
	cw := csv.NewWriter(bw)
	if x.Format == "csv" {
		cw.Write(auditCSVHeader)
	}
	after, n := x.After, 0
	for {
		next := *p
		next.After, next.Oldest, next.Limit = &after, ptr(true), ptr(int64(500))
		page, err := c.auditPage(&next)
		if err != nil {
			return err
		}
		for _, e := range page.Entries {
			if x.Format == "csv" {
				cw.Write([]string{strconv.FormatInt(e.Seq, 10), e.Time.UTC().Format(time.RFC3339Nano), e.ActorKind, e.ActorID, e.ActorName,
					e.ClientAddr, e.Operation, e.Vault, e.Target, e.Outcome, strconv.Itoa(e.Status), string(e.Summary), e.PrevHash, e.Hash, summaryText(e.Summary)})
			} else if err := writeJSONLine(bw, e); err != nil {
				return err
			}
			after = e.Seq
			n++
		}
		if !page.HasMore {
			break
		}
	}
	cw.Flush()
	if err := errors.Join(cw.Error(), bw.Flush()); err != nil {
		return err
	}
	if x.Output != "" && !out.json {
		fmt.Fprintf(out.err, "Exported %d entries to %s (last seq %d).\n", n, x.Output, after)
	}
	return nil
}

type auditVerifyCmd struct {
	authFlag
	File string `type:"existingfile" placeholder:"FILE" help:"Verify an export ('audit export --format jsonl') instead of the server's chain; no server needed."`
}

// auditVerifyResult is what verify reports, from the server or a file.
type auditVerifyResult struct {
	OK        bool         `json:"ok"`
	Checked   int64        `json:"checked"`
	HeadSeq   int64        `json:"head_seq"`
	AnchorSeq int64        `json:"anchor_seq"`
	Break     *audit.Break `json:"break,omitempty"`
}

func (v *auditVerifyCmd) Run(c *apiClient, out *printer) error {
	var res *auditVerifyResult
	var err error
	if v.File != "" {
		res, err = verifyAuditFile(v.File)
	} else {
		res, err = decode[auditVerifyResult](c.api.VerifyAudit(c.ctx))
	}
	if err != nil {
		return err
	}
	if perr := out.result(res, func() {
		if res.OK {
			out.line("The audit chain is whole: %d entries verified (seq %d to %d).", res.Checked, res.AnchorSeq+1, res.HeadSeq)
		}
	}); perr != nil {
		return perr
	}
	if res.Break != nil {
		return res.Break
	}
	return nil
}

// verifyAuditFile checks an exported JSON-lines file: consecutive seqs,
// each entry's hash, each link. The file may start anywhere in the chain.
func verifyAuditFile(path string) (*auditVerifyResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	v := audit.NewLooseVerifier()
	res := &auditVerifyResult{OK: true}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	line := 0
	for sc.Scan() {
		line++
		if len(sc.Bytes()) == 0 {
			continue
		}
		var e audit.Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, usageErrorf("%s line %d is not an audit entry: %v", path, line, err)
		}
		if res.Checked == 0 && res.AnchorSeq == 0 {
			res.AnchorSeq = e.Seq - 1
		}
		if b := v.Add(e); b != nil {
			res.OK, res.Break = false, b
			break
		}
		res.Checked, res.HeadSeq = v.Checked(), e.Seq
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return res, nil
}

package api

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"time"

	"github.com/agent-vault/agent-vault/host/audit"
	"github.com/agent-vault/agent-vault/host/store"
	"github.com/danielgtaylor/huma/v2"
)

// AuditEntry is one administrative action in the audit trail: who, from
// where, what, on which target, with what outcome, and a summary of what
// changed by name (keys, roles, fields), never a credential value. The
// hashes chain the entries (see host/audit).
type AuditEntry struct {
	Seq        int64        `json:"seq" doc:"Position in the chain, from 1"`
	Time       time.Time    `json:"time"`
	ActorKind  string       `json:"actor_kind" doc:"user, agent, session, anonymous (a failed sign-in), system (the server itself) or local (a command at the server's machine)"`
	ActorID    string       `json:"actor_id"`
	ActorName  string       `json:"actor_name" doc:"The user's email or the agent's name at the time; for a failed sign-in, the email tried"`
	ClientAddr string       `json:"client_addr" doc:"The client's IP address; empty outside the API"`
	Operation  string       `json:"operation" doc:"The API operation id, or the server-side action (sync-vault-scheduled, revoke-session-on-block, prune-audit, master-password-set, -change, -remove)"`
	Vault      string       `json:"vault" doc:"The vault acted in, when one"`
	Target     string       `json:"target" doc:"What was acted on"`
	Outcome    string       `json:"outcome" doc:"ok, or the stable error code the caller got"`
	Status     int          `json:"status" doc:"The HTTP status the caller got; 0 outside the API"`
	Summary    AuditSummary `json:"summary,omitempty" doc:"What changed, by name: each field before and after, key names; never a value. Sent as recorded, byte for byte (the hash covers it); entries recorded before this shape hold other objects"`
	PrevHash   string       `json:"prev_hash" doc:"The previous entry's hash (the anchor's for the first entry after pruning)"`
	Hash       string       `json:"hash" doc:"SHA-256 over this entry's fields and prev_hash"`
}

func auditEntryOf(e audit.Entry) AuditEntry {
	return AuditEntry{Seq: e.Seq, Time: e.Time, ActorKind: e.ActorKind, ActorID: e.ActorID, ActorName: e.ActorName,
		ClientAddr: e.ClientAddr, Operation: e.Operation, Vault: e.Vault, Target: e.Target, Outcome: e.Outcome,
		Status: e.Status, Summary: AuditSummary(e.Summary), PrevHash: e.PrevHash, Hash: e.Hash}
}

// AuditChanges is audit.Summary under a name of its own in the document.
type AuditChanges audit.Summary

// AuditSummary is an entry's summary as recorded: the exact bytes the hash
// covers, so an export verifies; its schema is audit.Summary's.
type AuditSummary json.RawMessage

func (s AuditSummary) MarshalJSON() ([]byte, error) {
	if len(s) == 0 {
		return []byte("null"), nil
	}
	return s, nil
}

func (s *AuditSummary) UnmarshalJSON(b []byte) error {
	*s = append((*s)[:0], b...)
	return nil
}

// Schema documents the summary as audit.Summary, open to the other fields
// of entries recorded before it.
func (AuditSummary) Schema(r huma.Registry) *huma.Schema {
	sch := r.Schema(reflect.TypeOf(AuditChanges{}), true, "")
	if ref := r.SchemaFromRef(sch.Ref); ref != nil {
		ref.AdditionalProperties = true
	}
	return sch
}

type ListAuditInput struct {
	Actor     string    `query:"actor" maxLength:"254" doc:"Only entries of this actor (id, email or agent name)"`
	Vault     string    `query:"vault" maxLength:"64" doc:"Only entries in this vault"`
	Operation string    `query:"operation" maxLength:"64" doc:"Only entries of this operation id"`
	Since     time.Time `query:"since" doc:"Only entries at or after this time (RFC 3339)"`
	Until     time.Time `query:"until" doc:"Only entries before this time (RFC 3339)"`
	Before    int64     `query:"before" minimum:"0" doc:"Page cursor: entries older than this seq (newest first)"`
	After     int64     `query:"after" minimum:"0" doc:"Entries newer than this seq, oldest first (follow and export)"`
	Oldest    bool      `query:"oldest" doc:"Oldest first (implied by after)"`
	Limit     int       `query:"limit" minimum:"1" maximum:"500" default:"50"`
}

type ListAuditOutput struct {
	Body struct {
		Entries []AuditEntry `json:"entries" doc:"Newest first, or oldest first with after or oldest"`
		HasMore bool         `json:"has_more" doc:"More entries match beyond this page"`
		// Newest first: fetch older with before=next_before.
		NextBefore int64 `json:"next_before,omitempty" doc:"Cursor for the next older page"`
		// Oldest first: fetch newer with after=next_after.
		NextAfter  int64  `json:"next_after" doc:"Pass as after= to read on (follow): the newest seq seen, or the chain's head"`
		AnchorSeq  int64  `json:"anchor_seq" doc:"The last entry retention pruned (0: none); the chain verifies from there"`
		AnchorHash string `json:"anchor_hash,omitempty" doc:"Its hash"`
	}
}

type VerifyAuditOutput struct {
	Body struct {
		OK        bool         `json:"ok" doc:"The chain is whole from its anchor to its head"`
		Checked   int64        `json:"checked" doc:"Entries that verified"`
		HeadSeq   int64        `json:"head_seq" doc:"The newest entry's seq, as recorded"`
		AnchorSeq int64        `json:"anchor_seq" doc:"Where verification starts (the last pruned entry; 0: none)"`
		Break     *audit.Break `json:"break,omitempty" doc:"The first entry that does not verify"`
	}
}

func (s *server) registerAudit(api huma.API) {
	huma.Register(api, op("list-audit-entries", http.MethodGet, "/v1/audit", "The audit trail of administrative actions", "audit"),
		func(ctx context.Context, in *ListAuditInput) (*ListAuditOutput, error) {
			if _, err := s.access(ctx, ""); err != nil {
				return nil, err
			}
			q := store.AuditQuery{Actor: in.Actor, Vault: in.Vault, Operation: in.Operation, Since: in.Since, Until: in.Until,
				Before: in.Before, After: in.After, Oldest: in.Oldest, Limit: in.Limit}
			head, err := s.Store.AuditHead(ctx)
			if err != nil {
				return nil, s.problem(ctx, err)
			}
			rows, more, err := s.Store.ListAudit(ctx, q)
			if err != nil {
				return nil, s.problem(ctx, err)
			}
			out := &ListAuditOutput{}
			out.Body.Entries = make([]AuditEntry, 0, len(rows))
			for _, e := range rows {
				out.Body.Entries = append(out.Body.Entries, auditEntryOf(e))
			}
			out.Body.HasMore, out.Body.AnchorSeq, out.Body.AnchorHash = more, head.AnchorSeq, head.AnchorHash
			ascending := in.After > 0 || in.Oldest
			out.Body.NextAfter = max(in.After, head.Seq)
			if len(rows) > 0 {
				last := rows[len(rows)-1].Seq
				if ascending && more {
					out.Body.NextAfter = last
				}
				if !ascending && more {
					out.Body.NextBefore = last
				}
			}
			return out, nil
		})

	huma.Register(api, op("verify-audit", http.MethodGet, "/v1/audit/verify", "Check the audit trail's hash chain", "audit"),
		func(ctx context.Context, in *struct{}) (*VerifyAuditOutput, error) {
			if _, err := s.access(ctx, ""); err != nil {
				return nil, err
			}
			head, err := s.Store.AuditHead(ctx)
			if err != nil {
				return nil, s.problem(ctx, err)
			}
			n, b, err := s.Store.VerifyAudit(ctx)
			if err != nil {
				return nil, s.problem(ctx, err)
			}
			out := &VerifyAuditOutput{}
			out.Body.OK, out.Body.Checked, out.Body.HeadSeq, out.Body.AnchorSeq, out.Body.Break = b == nil, n, head.Seq, head.AnchorSeq, b
			return out, nil
		})
}

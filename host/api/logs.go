package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/agent-vault/agent-vault/host/store"
	"github.com/danielgtaylor/huma/v2"
)

// LogEntry is one proxied request: key names, never values; the path
// without its query.
type LogEntry struct {
	ID        int64        `json:"id"`
	Time      time.Time    `json:"time"`
	ActorKind string       `json:"actor_kind" doc:"user, agent or session"`
	ActorID   string       `json:"actor_id"`
	ActorName string       `json:"actor_name,omitempty" doc:"The agent's name, the user's email, or session <id prefix>; empty once deleted"`
	Method    string       `json:"method"`
	Host      string       `json:"host"`
	Path      string       `json:"path"`
	Service   string       `json:"service,omitempty" doc:"The matched service; empty when none matched"`
	Keys      []string     `json:"keys" doc:"Credential keys injected"`
	Status    int          `json:"status" doc:"Status sent to the agent (499: the agent went away)"`
	LatencyMS int64        `json:"latency_ms"`
	Error     string       `json:"error,omitempty" doc:"Stable code when the proxy refused or failed the request"`
	Scrubbed  []ScrubCount `json:"scrubbed,omitempty" doc:"Keys whose values (or encodings of them) were replaced in the response, with counts"`
	Blocked   string       `json:"blocked,omitempty" doc:"The key whose value stopped the request or response (canary:NAME for a canary)"`
}

// ScrubCount is how many times a key's value was scrubbed from one
// response. Never a value.
type ScrubCount struct {
	Key   string `json:"key"`
	Count int    `json:"count"`
}

// parseScrubbed reads the log's "KEY:count,…" form.
func parseScrubbed(s string) []ScrubCount {
	if s == "" {
		return nil
	}
	var out []ScrubCount
	for part := range strings.SplitSeq(s, ",") {
		k, n, _ := strings.Cut(part, ":")
		c, _ := strconv.Atoi(n)
		out = append(out, ScrubCount{Key: k, Count: c})
	}
	return out
}

type ListLogsInput struct {
	Name         string `path:"name" maxLength:"64"`
	Before       int64  `query:"before" minimum:"0" doc:"Page cursor: entries older than this id"`
	After        int64  `query:"after" minimum:"0" doc:"Tail mode: entries newer than this id (poll with latest_id)"`
	Limit        int    `query:"limit" minimum:"1" maximum:"200" default:"50"`
	StatusBucket string `query:"status_bucket" enum:"1xx,2xx,3xx,4xx,5xx"`
	Service      string `query:"service" maxLength:"64"`
	Actor        string `query:"actor" maxLength:"128" doc:"An actor id"`
	Wait         int    `query:"wait" minimum:"0" maximum:"30" doc:"Wait up to this many seconds for an entry newer than after (0: any entry) before answering (long poll)"`
}

type ListLogsOutput struct {
	Body struct {
		Vault string     `json:"vault"`
		Logs  []LogEntry `json:"logs" doc:"Newest first"`
		// Without after: more older entries exist (fetch with before=next_before).
		// With after: more newer entries exist (poll again at once).
		HasMore    bool   `json:"has_more"`
		NextBefore int64  `json:"next_before,omitempty" doc:"Cursor for the next older page"`
		LatestID   int64  `json:"latest_id" doc:"Pass as after= to poll for newer entries"`
		Dropped    uint64 `json:"dropped" doc:"Events the request log dropped since the server started (all vaults), because its writer fell behind"`
	}
}

func (s *server) registerLogs(api huma.API) {
	huma.Register(api, op("list-request-logs", http.MethodGet, "/v1/vaults/{name}/logs", "The vault's proxied requests, newest first", "logs", http.StatusNotFound),
		func(ctx context.Context, in *ListLogsInput) (*ListLogsOutput, error) {
			c, err := s.access(ctx, in.Name)
			if err != nil {
				return nil, err
			}
			q := store.RequestLogQuery{VaultID: c.Vault.ID, Before: in.Before, After: in.After, Limit: in.Limit,
				Service: in.Service, Actor: in.Actor}
			if in.StatusBucket != "" {
				q.StatusMin = int(in.StatusBucket[0]-'0') * 100
				q.StatusMax = q.StatusMin + 99
			}
			rows, more, err := s.tailRequestLogs(ctx, q, time.Duration(in.Wait)*time.Second)
			if err != nil {
				return nil, s.problem(ctx, err)
			}
			out := &ListLogsOutput{}
			out.Body.Vault, out.Body.HasMore, out.Body.LatestID = c.Vault.Name, more, in.After
			out.Body.Logs = make([]LogEntry, 0, len(rows))
			for _, r := range rows {
				keys := r.Keys
				if keys == nil {
					keys = []string{}
				}
				out.Body.Logs = append(out.Body.Logs, LogEntry{ID: r.ID, Time: r.At, ActorKind: r.ActorKind, ActorID: r.ActorID,
					Method: r.Method, Host: r.Host, Path: r.Path, Service: r.Service, Keys: keys, Status: r.Status,
					LatencyMS: r.LatencyMS, Error: r.Error, Scrubbed: parseScrubbed(r.Scrubbed), Blocked: r.Blocked})
			}
			s.nameActors(ctx, out.Body.Logs)
			if len(rows) > 0 {
				out.Body.LatestID = max(out.Body.LatestID, rows[0].ID)
				if more && in.After == 0 {
					out.Body.NextBefore = rows[len(rows)-1].ID
				}
			}
			if s.RequestLogDropped != nil {
				out.Body.Dropped = s.RequestLogDropped()
			}
			return out, nil
		})
}

// tailRequestLogs is RequestLogs that, with wait, answers as soon as a newer row exists or wait has passed. It wakes
// on this server's request-log writes, and at least every second for rows
// another replica wrote.
func (s *server) tailRequestLogs(ctx context.Context, q store.RequestLogQuery, wait time.Duration) ([]store.RequestLog, bool, error) {
	if wait <= 0 {
		return s.Store.RequestLogs(ctx, q)
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		var written <-chan struct{}
		release := func() {}
		if s.RequestLogFollow != nil {
			written, release = s.RequestLogFollow() // before the query: no write slips between
		}
		rows, more, err := s.Store.RequestLogs(ctx, q)
		if err != nil || len(rows) > 0 {
			release()
			return rows, more, err
		}
		poll := time.NewTimer(time.Second)
		select {
		case <-written:
		case <-poll.C:
		case <-deadline.C:
			release()
			poll.Stop()
			return rows, more, nil
		case <-ctx.Done(): // the client left or the server is stopping
			release()
			poll.Stop()
			return rows, more, nil
		}
		poll.Stop()
		release()
	}
}

// nameActors fills actor names for a page: a few lookups per distinct
// actor, never per row. An actor that no longer exists keeps an empty name.
func (s *server) nameActors(ctx context.Context, logs []LogEntry) {
	names := map[string]string{}
	var agents map[string]string
	for i := range logs {
		e := &logs[i]
		k := e.ActorKind + ":" + e.ActorID
		name, ok := names[k]
		if !ok {
			switch e.ActorKind {
			case "agent":
				if agents == nil {
					agents = map[string]string{}
					if list, err := s.Store.ListAgents(ctx); err == nil {
						for _, a := range list {
							agents[a.ID] = a.Name
						}
					}
				}
				name = agents[e.ActorID]
			case "user":
				if u, err := s.Store.UserByID(ctx, e.ActorID); err == nil {
					name = u.Email
				}
			case "session":
				if len(e.ActorID) >= 8 {
					name = "session " + e.ActorID[:8]
				}
			}
			names[k] = name
		}
		e.ActorName = name
	}
}

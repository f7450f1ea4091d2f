package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/host/domain"
)

func proposal(vaultID string, expires time.Time) Proposal {
	return Proposal{ID: NewID(), VaultID: vaultID, CreatorKind: "agent", CreatorID: "a1", CreatorName: "robot",
		Spec: []byte(`{}`), ExpiresAt: expires}
}

func TestProposalLifecycle(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d Dialect) {
		ctx := context.Background()
		s := openTest(t, d)
		clock := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
		s.SetClock(func() time.Time { return clock })
		v, err := s.CreateVault(ctx, "shop", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		week := clock.Add(7 * 24 * time.Hour)

		// The pending limit counts only pending proposals of this vault.
		p1, err := s.CreateProposal(ctx, proposal(v.ID, week), map[string][]byte{"API_KEY": []byte("sealed")}, 2)
		if err != nil {
			t.Fatal(err)
		}
		p2, err := s.CreateProposal(ctx, proposal(v.ID, clock.Add(time.Hour)), nil, 2)
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.CreateProposal(ctx, proposal(v.ID, week), nil, 2)
		if got := domain.CodeOf(err); got != domain.CodeTooManyProposals {
			t.Fatalf("third pending: code %q (%v), want %q", got, err, domain.CodeTooManyProposals)
		}
		if vals, _ := s.ProposalValues(ctx, p1.ID); string(vals["API_KEY"]) != "sealed" || len(vals) != 1 {
			t.Fatalf("values = %q", vals)
		}

		// Approving applies the changes and drops the agent's values.
		err = s.ApproveProposal(ctx, v.ID, p1.ID, "user:u1", ProposalChanges{
			UpsertServices: []ServiceRow{{Name: "api", Spec: []byte(`{"name":"api"}`)}},
			PutCredentials: map[string][]byte{"API_KEY": []byte("resealed")},
			RequireKeys:    []string{"API_KEY"},
		})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := s.ProposalByID(ctx, v.ID, p1.ID)
		if got.Status != domain.ProposalApproved || got.DecidedBy != "user:u1" || got.DecidedAt == nil {
			t.Fatalf("after approve: %+v", got)
		}
		if vals, _ := s.ProposalValues(ctx, p1.ID); len(vals) != 0 {
			t.Fatalf("values kept after approval: %d", len(vals))
		}
		if b, _ := s.SealedCredential(ctx, v.ID, "API_KEY"); string(b) != "resealed" {
			t.Fatalf("credential = %q", b)
		}

		tests := []struct {
			name     string
			id       string
			changes  ProposalChanges
			wantCode string
		}{
			{"already-approved", p1.ID, ProposalChanges{}, domain.CodeProposalNotPending},
			{"unknown", "nope", ProposalChanges{}, domain.CodeNotFound},
			{"missing-required-key", p2.ID, ProposalChanges{RequireKeys: []string{"OTHER"}}, domain.CodeInvalidProposal},
			{"delete-gone-service", p2.ID, ProposalChanges{DeleteServices: []string{"gone"}}, domain.CodeInvalidProposal},
			{"delete-gone-credential", p2.ID, ProposalChanges{DeleteCredentials: []string{"GONE"}}, domain.CodeInvalidProposal},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				err := s.ApproveProposal(ctx, v.ID, tc.id, "user:u1", tc.changes)
				if got := domain.CodeOf(err); got != tc.wantCode {
					t.Fatalf("code %q (%v), want %q", got, err, tc.wantCode)
				}
			})
		}
		// A failed approval changed nothing: p2 is still pending.
		if got, _ := s.ProposalByID(ctx, v.ID, p2.ID); got.Status != domain.ProposalPending {
			t.Fatalf("p2 status %q after failed approvals", got.Status)
		}

		// Past its expiry a proposal can no longer be decided, even before the job runs.
		clock = clock.Add(2 * time.Hour)
		err = s.RejectProposal(ctx, v.ID, p2.ID, "user:u1", "no")
		if domain.CodeOf(err) != domain.CodeProposalNotPending || err.Error() != fmt.Sprintf("proposal_not_pending: proposal %q is expired, not pending", p2.ID) {
			t.Fatalf("reject expired: %v", err)
		}
		n, err := s.ExpireProposals(ctx)
		if err != nil || n != 1 {
			t.Fatalf("expired %d, %v; want 1", n, err)
		}
		if got, _ := s.ProposalByID(ctx, v.ID, p2.ID); got.Status != domain.ProposalExpired {
			t.Fatalf("p2 status %q, want expired", got.Status)
		}
		if list, _ := s.ListProposals(ctx, v.ID, domain.ProposalPending, 10); len(list) != 0 {
			t.Fatalf("pending after expiry: %d", len(list))
		}
		if list, _ := s.ListProposals(ctx, v.ID, "", 10); len(list) != 2 {
			t.Fatalf("all: %d", len(list))
		}
	})
}

// seedLogs writes n rows to a vault, alternating statuses, services and actors.
func seedLogs(t testing.TB, s *Store, vaultID string, n int, at time.Time) {
	rows := make([]RequestLog, n)
	for i := range rows {
		rows[i] = RequestLog{VaultID: vaultID, At: at.Add(time.Duration(i) * time.Millisecond), ActorKind: "agent",
			ActorID: fmt.Sprintf("a%d", i%3), Method: "GET", Host: "api.x.com", Path: fmt.Sprintf("/%d", i),
			Service: []string{"x", "y"}[i%2], Keys: []string{"K1", "K2"}, Status: []int{200, 404, 502, 301}[i%4]}
	}
	if err := s.InsertRequestLogs(context.Background(), rows); err != nil {
		t.Fatal(err)
	}
}

func TestRequestLogPagesAndFilters(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d Dialect) {
		ctx := context.Background()
		s := openTest(t, d)
		v, _ := s.CreateVault(ctx, "shop", nil, nil)
		other, _ := s.CreateVault(ctx, "other", nil, nil)
		const n = 3000
		seedLogs(t, s, other.ID, 10, time.Now())
		seedLogs(t, s, v.ID, n, time.Now())

		// Walk every page backwards: each row once, strictly newest first.
		seen, before, pages := 0, int64(0), 0
		last := int64(1 << 62)
		for {
			page, more, err := s.RequestLogs(ctx, RequestLogQuery{VaultID: v.ID, Before: before, Limit: 200})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range page {
				if r.ID >= last || r.VaultID != v.ID {
					t.Fatalf("row %d after %d (vault %s)", r.ID, last, r.VaultID)
				}
				last = r.ID
			}
			seen += len(page)
			pages++
			if !more {
				break
			}
			before = page[len(page)-1].ID
		}
		if seen != n || pages != n/200 {
			t.Fatalf("walked %d rows in %d pages, want %d in %d", seen, pages, n, n/200)
		}

		// Filters combine; the tail mode returns the rows right after the cursor.
		tests := []struct {
			name     string
			q        RequestLogQuery
			wantLen  int
			wantMore bool
		}{
			{"status-5xx", RequestLogQuery{StatusMin: 500, StatusMax: 599, Limit: 200}, 200, true},
			{"status-5xx-all", RequestLogQuery{StatusMin: 500, StatusMax: 599, Limit: 1000}, n / 4, false},
			{"service-y-4xx", RequestLogQuery{Service: "y", StatusMin: 400, StatusMax: 499, Limit: 1000}, n / 4, false},
			{"service-x-4xx", RequestLogQuery{Service: "x", StatusMin: 400, StatusMax: 499, Limit: 1000}, 0, false},
			{"actor", RequestLogQuery{Actor: "a1", Limit: 2000}, n / 3, false},
			{"unknown-service", RequestLogQuery{Service: "nope", Limit: 10}, 0, false},
			{"tail-after-last", RequestLogQuery{After: last + n - 1, Limit: 10}, 0, false},
			{"tail-window", RequestLogQuery{After: last + 99, Limit: 50}, 50, true},
			{"between", RequestLogQuery{After: last + 9, Before: last + 20, Limit: 50}, 10, false},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				tc.q.VaultID = v.ID
				page, more, err := s.RequestLogs(ctx, tc.q)
				if err != nil {
					t.Fatal(err)
				}
				if len(page) != tc.wantLen || more != tc.wantMore {
					t.Fatalf("got %d rows more=%v, want %d more=%v", len(page), more, tc.wantLen, tc.wantMore)
				}
				for i := 1; i < len(page); i++ {
					if page[i].ID >= page[i-1].ID {
						t.Fatal("not newest first")
					}
				}
			})
		}
		page, _, _ := s.RequestLogs(ctx, RequestLogQuery{VaultID: v.ID, After: last + 99, Limit: 50})
		if page[len(page)-1].ID != last+100 || page[0].ID != last+149 {
			t.Fatalf("tail window %d..%d, want %d..%d", page[len(page)-1].ID, page[0].ID, last+100, last+149)
		}
		if r := page[0]; len(r.Keys) != 2 || r.Keys[1] != "K2" || r.Method != "GET" {
			t.Fatalf("row decoded as %+v", r)
		}
	})
}

func TestPruneRequestLogs(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d Dialect) {
		ctx := context.Background()
		s := openTest(t, d)
		a, _ := s.CreateVault(ctx, "aaa", nil, nil)
		b, _ := s.CreateVault(ctx, "bbb", nil, nil)
		gone, _ := s.CreateVault(ctx, "gone", nil, nil)
		now := time.Now()
		seedLogs(t, s, a.ID, 50, now.Add(-10*24*time.Hour)) // too old
		seedLogs(t, s, a.ID, 30, now)
		seedLogs(t, s, b.ID, 120, now)
		seedLogs(t, s, gone.ID, 5, now)
		if err := s.DeleteVault(ctx, gone.ID); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.CountRequestLogs(ctx, gone.ID); got != 0 {
			t.Fatalf("a deleted vault keeps %d log rows until retention", got)
		}
		n, err := s.PruneRequestLogs(ctx, now.Add(-7*24*time.Hour), 100)
		if err != nil {
			t.Fatal(err)
		}
		if n != 50+20 {
			t.Fatalf("pruned %d, want 70", n)
		}
		for _, c := range []struct {
			id   string
			want int
		}{{a.ID, 30}, {b.ID, 100}, {gone.ID, 0}} {
			if got, _ := s.CountRequestLogs(ctx, c.id); got != c.want {
				t.Errorf("vault %s keeps %d rows, want %d", c.id, got, c.want)
			}
		}
		// The newest rows are the ones kept.
		page, _, _ := s.RequestLogs(ctx, RequestLogQuery{VaultID: b.ID, Limit: 1})
		if page[0].Path != "/119" {
			t.Fatalf("newest kept row is %s", page[0].Path)
		}
	})
}

// TestPruneRequestLogsByAgeOutOfOrder: at is when a request started, so a
// long request's row is written after younger rows. Age retention goes by
// at alone, whatever the order of ids.
func TestPruneRequestLogsByAgeOutOfOrder(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d Dialect) {
		ctx := context.Background()
		s := openTest(t, d)
		v, _ := s.CreateVault(ctx, "shop", nil, nil)
		now := time.Now()
		old, young := now.Add(-8*24*time.Hour), now.Add(-time.Hour)
		var rows []RequestLog
		for i, at := range []time.Time{old, young, old, young, young, old, young} {
			rows = append(rows, RequestLog{VaultID: v.ID, At: at, Path: fmt.Sprintf("/%d", i)})
		}
		if err := s.InsertRequestLogs(ctx, rows); err != nil {
			t.Fatal(err)
		}
		n, err := s.PruneRequestLogs(ctx, now.Add(-7*24*time.Hour), 100)
		if err != nil || n != 3 {
			t.Fatalf("pruned %d, %v; want 3", n, err)
		}
		page, _, _ := s.RequestLogs(ctx, RequestLogQuery{VaultID: v.ID, Limit: 10})
		var kept []string
		for _, r := range page {
			kept = append(kept, r.Path)
		}
		if fmt.Sprint(kept) != "[/6 /4 /3 /1]" {
			t.Fatalf("kept %v, want the young rows /6 /4 /3 /1", kept)
		}
		// Nothing older left: a second run deletes nothing.
		if n, err := s.PruneRequestLogs(ctx, now.Add(-7*24*time.Hour), 100); err != nil || n != 0 {
			t.Fatalf("second prune %d, %v", n, err)
		}
	})
}

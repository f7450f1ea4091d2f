package store

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/host/audit"
)

func appendN(t *testing.T, s *Store, n int, at time.Time) {
	t.Helper()
	for i := 0; i < n; i++ {
		if _, err := s.AppendAudit(context.Background(), audit.Entry{Time: at, ActorKind: "user", ActorID: "u1", ActorName: "o@example.com",
			Operation: "set-credentials", Vault: "prod", Target: fmt.Sprintf("credentials K%d", i), Outcome: audit.OutcomeOK, Status: 200,
			Summary: audit.Summary{Keys: []string{fmt.Sprintf("K%d", i)}}.Encode()}); err != nil {
			t.Fatal(err)
		}
	}
}

// The chain verifies as appended; editing, deleting a middle entry or the
// newest one, or forging the head, is found at the right seq.
func TestAuditChainDetectsTampering(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d Dialect) {
		tests := []struct {
			name    string
			tamper  string
			wantSeq int64
			want    string
		}{
			{"edit-target", `UPDATE audit_log SET target = 'credentials OTHER' WHERE seq = 3`, 3, "edited"},
			{"edit-outcome", `UPDATE audit_log SET outcome = 'forbidden' WHERE seq = 1`, 1, "edited"},
			{"edit-and-rehash", `UPDATE audit_log SET hash = 'ff' WHERE seq = 2`, 2, "edited"},
			{"delete-middle", `DELETE FROM audit_log WHERE seq = 3`, 3, "missing"},
			{"delete-newest", `DELETE FROM audit_log WHERE seq = 5`, 5, "missing"},
			{"delete-all", `DELETE FROM audit_log`, 1, "missing"},
			{"rewind-head", `UPDATE audit_head SET seq = 4`, 5, "head"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				ctx := context.Background()
				s := openTest(t, d)
				appendN(t, s, 5, time.Now())
				if n, b, err := s.VerifyAudit(ctx); n != 5 || b != nil || err != nil {
					t.Fatalf("before tampering: %d verified, %v, %v", n, b, err)
				}
				if _, err := s.db.ExecContext(ctx, tc.tamper); err != nil {
					t.Fatal(err)
				}
				_, b, err := s.VerifyAudit(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if b == nil || b.Seq != tc.wantSeq || !strings.Contains(b.Reason, tc.want) {
					t.Fatalf("break %+v, want seq %d mentioning %q", b, tc.wantSeq, tc.want)
				}
			})
		}
	})
}

// Pruning keeps the rest verifiable from the anchor, and pruning again
// with nothing old is a no-op.
func TestAuditPruneKeepsAnchor(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d Dialect) {
		ctx := context.Background()
		s := openTest(t, d)
		old := time.Now().Add(-48 * time.Hour)
		appendN(t, s, 3, old)
		appendN(t, s, 2, time.Now())
		n, err := s.PruneAudit(ctx, time.Now().Add(-24*time.Hour))
		if err != nil || n != 3 {
			t.Fatalf("pruned %d, %v; want 3", n, err)
		}
		h, _ := s.AuditHead(ctx)
		if h.AnchorSeq != 3 || h.Seq != 5 {
			t.Fatalf("head after prune: %+v", h)
		}
		if n, b, err := s.VerifyAudit(ctx); n != 2 || b != nil || err != nil {
			t.Fatalf("after pruning: %d verified, %v, %v", n, b, err)
		}
		if n, err := s.PruneAudit(ctx, time.Now().Add(-24*time.Hour)); n != 0 || err != nil {
			t.Fatalf("second prune: %d, %v", n, err)
		}
		// Removing the first entry after the anchor is still found.
		if _, err := s.db.ExecContext(ctx, `DELETE FROM audit_log WHERE seq = 4`); err != nil {
			t.Fatal(err)
		}
		if _, b, _ := s.VerifyAudit(ctx); b == nil || b.Seq != 4 {
			t.Fatalf("break after deleting past the anchor: %+v", b)
		}
	})
}

// Concurrent appends, through two stores on one database under PostgreSQL
// (two replicas), leave one unforked chain with every entry.
func TestAuditAppendHammer(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d Dialect) {
		ctx := context.Background()
		s := openTest(t, d)
		stores := []*Store{s, s}
		if d == Postgres {
			other, err := OpenPostgres(ctx, s.url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { other.Close() })
			stores[1] = other
		}
		p, n := 8, 20
		if testing.Short() {
			p = 4
		}
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(p / 2))
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, p)
		for g := 0; g < p; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for i := 0; i < n && errs[g] == nil; i++ {
					_, errs[g] = stores[g%2].AppendAudit(ctx, audit.Entry{Time: time.Now(), ActorKind: "user", Operation: "create-vault",
						Target: fmt.Sprintf("g%d-%d", g, i), Outcome: audit.OutcomeOK})
				}
			}()
		}
		close(start)
		wg.Wait()
		for g, err := range errs {
			if err != nil {
				t.Errorf("goroutine %d: %v", g, err)
			}
		}
		if got, b, err := s.VerifyAudit(ctx); got != int64(p*n) || b != nil || err != nil {
			t.Fatalf("%d verified of %d, break %v, %v", got, p*n, b, err)
		}
	})
}

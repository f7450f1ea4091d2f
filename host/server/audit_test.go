package server

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/host/audit"
	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/store"
)

// A scheduled sync is recorded when the vault's sync state changes (its
// first sync, ok to failing, failing to ok), not on every poll.
func TestAuditScheduledSyncRecordsTransitions(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	v, err := st.CreateVault(ctx, "billing", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	hook := auditScheduledSync(st, audit.NewRecorder(st, nil, nil))
	failed := domain.Errorf(domain.CodeExternalUnreachable, "down")
	steps := []struct {
		before string
		err    error
		want   string // outcome recorded; "" for none
	}{
		{"", nil, "ok"},
		{"ok", nil, ""},
		{"ok", failed, domain.CodeExternalUnreachable},
		{"error", failed, ""},
		{"error", nil, "ok"},
	}
	for i, s := range steps {
		head, _ := st.AuditHead(ctx)
		hook(ctx, store.CredentialStore{VaultID: v.ID, Kind: "infisical", LastSyncStatus: s.before}, s.err)
		rows, _, err := st.ListAudit(ctx, store.AuditQuery{After: head.Seq})
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case s.want == "" && len(rows) != 0:
			t.Errorf("step %d: recorded %+v, want nothing", i, rows)
		case s.want != "" && (len(rows) != 1 || rows[0].Outcome != s.want || rows[0].Vault != "billing" ||
			rows[0].Operation != "sync-vault-scheduled" || rows[0].ActorKind != audit.ActorSystem):
			t.Errorf("step %d: recorded %+v, want one entry with outcome %s", i, rows, s.want)
		case s.want != "":
			after := map[bool]string{true: "ok", false: "error"}[s.err == nil]
			want := `{"changes":[{"field":"last_sync_status","before":"` + s.before + `","after":"` + after + `"}],"note":"scheduled sync of the infisical store"}`
			if string(rows[0].Summary) != want {
				t.Errorf("step %d: summary %s, want %s", i, rows[0].Summary, want)
			}
		}
	}
}

// Retention with an archive appends exactly the entries it prunes to the
// file first, as a chain 'audit verify --file' accepts, and the database's
// chain still verifies from the new anchor. A second run adds nothing; an
// archive that cannot be written prunes nothing.
func TestPruneAuditArchivesFirst(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rec := audit.NewRecorder(st, nil, nil)
	old, now := time.Now().Add(-48*time.Hour), time.Now()
	for i, at := range []time.Time{old, old, old, now, now} {
		if _, err := rec.Record(ctx, audit.Entry{Time: at, ActorKind: audit.ActorSystem, Operation: "test", Target: fmt.Sprint(i + 1)}); err != nil {
			t.Fatal(err)
		}
	}
	cutoff := now.Add(-24 * time.Hour)

	// An archive in a directory that does not exist: nothing is pruned.
	bad := filepath.Join(t.TempDir(), "missing", "archive.jsonl")
	if err := pruneAudit(ctx, st, rec, cutoff, 24*time.Hour, bad); err == nil || !strings.Contains(err.Error(), "none pruned") {
		t.Fatalf("unwritable archive: %v", err)
	}
	if h, _ := st.AuditHead(ctx); h.AnchorSeq != 0 || h.Seq != 5 {
		t.Fatalf("pruned without an archive: %+v", h)
	}

	archive := filepath.Join(t.TempDir(), "archive.jsonl")
	for run := 1; run <= 2; run++ {
		if err := pruneAudit(ctx, st, rec, cutoff, 24*time.Hour, archive); err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
	}
	b, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	v := audit.NewLooseVerifier()
	var seqs []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var e audit.Entry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		if br := v.Add(e); br != nil {
			t.Errorf("archive: %v", br)
		}
		seqs = append(seqs, fmt.Sprint(e.Seq))
	}
	if got := strings.Join(seqs, ","); got != "1,2,3" {
		t.Errorf("archived seqs %s, want 1,2,3 (once each)", got)
	}
	h, err := st.AuditHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h.AnchorSeq != 3 || h.Seq != 6 {
		t.Errorf("head %+v, want anchor 3 and the prune-audit entry as 6", h)
	}
	if _, br, err := st.VerifyAudit(ctx); br != nil || err != nil {
		t.Errorf("the chain after pruning: %v %v", br, err)
	}
	rows, _, err := st.ListAudit(ctx, store.AuditQuery{Limit: 1})
	if err != nil || len(rows) != 1 || rows[0].Operation != "prune-audit" || !strings.Contains(string(rows[0].Summary), "archived to "+archive) {
		t.Errorf("prune entry %+v %v", rows, err)
	}

	// A run that archived but did not prune (a crash between the two)
	// continues the archive after its last entry instead of repeating it.
	if _, err := rec.Record(ctx, audit.Entry{Time: old, ActorKind: audit.ActorSystem, Operation: "test", Target: "late"}); err != nil {
		t.Fatal(err)
	}
	if last, err := archiveAudit(ctx, st, archive, 3, cutoff); err != nil || last != 7 {
		t.Fatalf("archive: %d %v", last, err)
	}
	if last, err := archiveAudit(ctx, st, archive, 3, cutoff); err != nil || last != 7 {
		t.Fatalf("archive again: %d %v", last, err)
	}
	if n, err := lastArchivedSeq(archive); n != 7 || err != nil {
		t.Fatalf("last archived %d %v", n, err)
	}
	b, _ = os.ReadFile(archive)
	if got := strings.Count(string(b), "\n"); got != 7 {
		t.Errorf("archive has %d lines, want 7 (1-3, then 4-7 once)", got)
	}
}

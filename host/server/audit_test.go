package server

import (
	"context"
	"path/filepath"
	"testing"

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
		}
	}
}

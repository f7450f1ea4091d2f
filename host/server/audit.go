package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/agent-vault/agent-vault/host/audit"
	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/jobs"
	"github.com/agent-vault/agent-vault/host/plugin"
	"github.com/agent-vault/agent-vault/host/proxy"
	"github.com/agent-vault/agent-vault/host/store"
)

// auditRetentionEvery is how often entries older than --audit-max-age are
// pruned.
const auditRetentionEvery = time.Hour

// startAudit builds the audit recorder, with the --audit-file sink ("-"
// is standard output) when set, and starts retention when --audit-max-age
// is set. Pruning records its own entry (prune-audit) with the anchor it
// left, so the chain stays verifiable and the gap is explained.
func startAudit(ctx context.Context, cfg Config, st *store.Store) (*audit.Recorder, func(), error) {
	var sink io.Writer
	closeSink := func() {}
	switch cfg.AuditFile {
	case "":
	case "-":
		sink = os.Stdout
	default:
		f, err := os.OpenFile(cfg.AuditFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return nil, nil, fmt.Errorf("opening the audit file: %w", err)
		}
		sink, closeSink = f, func() { f.Close() }
	}
	rec := audit.NewRecorder(st, sink, cfg.Logger)
	if cfg.AuditMaxAge <= 0 {
		return rec, closeSink, nil
	}
	stopJobs := jobs.Start(context.WithoutCancel(ctx), cfg.Logger, jobs.Job{Name: "audit-retention", Every: auditRetentionEvery,
		Run: func(ctx context.Context) error {
			before, err := st.AuditHead(ctx)
			if err != nil {
				return err
			}
			n, err := st.PruneAudit(ctx, time.Now().Add(-cfg.AuditMaxAge))
			if err != nil || n == 0 {
				return err
			}
			h, err := st.AuditHead(ctx)
			if err != nil {
				return err
			}
			sum := audit.Summary{Note: fmt.Sprintf("pruned %d entries older than %s", n, cfg.AuditMaxAge)}
			sum.Set("anchor_seq", before.AnchorSeq, h.AnchorSeq)
			sum.Set("anchor_hash", before.AnchorHash, h.AnchorHash)
			_, err = rec.Record(ctx, audit.Entry{ActorKind: audit.ActorSystem, Operation: "prune-audit",
				Target: fmt.Sprintf("audit entries to seq %d", h.AnchorSeq), Summary: sum.Encode()})
			return err
		}})
	return rec, func() { stopJobs(); closeSink() }, nil
}

// auditScheduledSync records a scheduled sync when it changes the vault's
// sync state (its first sync, ok to failing, failing to ok), so a vault
// polled every minute does not write an entry a minute. Manual syncs are
// API operations, recorded there.
func auditScheduledSync(st *store.Store, rec *audit.Recorder) func(context.Context, store.CredentialStore, error) {
	return func(ctx context.Context, before store.CredentialStore, err error) {
		status := "ok"
		if err != nil {
			status = "error"
		}
		if before.LastSyncStatus == status {
			return
		}
		name := vaultName(ctx, st, before.VaultID)
		sum := audit.Summary{Note: "scheduled sync of the " + before.Kind + " store"}
		sum.Set("last_sync_status", before.LastSyncStatus, status)
		rec.Record(ctx, audit.Entry{ActorKind: audit.ActorSystem, Operation: "sync-vault-scheduled", Vault: name,
			Target: "vaults/" + name + "/sync", Outcome: outcomeOf(err), Summary: sum.Encode()})
	}
}

// auditedRevoker records the sessions the proxy revokes by itself (a
// canary tripped, or a secret bound for another host in a vault that asks
// for it).
type auditedRevoker struct {
	next proxy.SessionRevoker
	st   *store.Store
	rec  *audit.Recorder
}

func (r auditedRevoker) RevokeSession(ctx context.Context, vaultID, sessionID string) error {
	err := r.next.RevokeSession(ctx, vaultID, sessionID)
	name := vaultName(ctx, r.st, vaultID)
	r.rec.Record(ctx, audit.Entry{ActorKind: audit.ActorSystem, Operation: "revoke-session-on-block", Vault: name,
		Target: "sessions/" + sessionID, Outcome: outcomeOf(err)})
	return err
}

func vaultName(ctx context.Context, st *store.Store, id string) string {
	if v, err := st.VaultByID(ctx, id); err == nil {
		return v.Name
	}
	return id
}

func outcomeOf(err error) string {
	if err == nil {
		return audit.OutcomeOK
	}
	var pe *plugin.Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	return domain.CodeOf(err)
}

// Interface guards
var _ proxy.SessionRevoker = auditedRevoker{}

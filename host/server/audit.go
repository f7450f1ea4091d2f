package server

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/agent-vault/agent-vault/host/audit"
	"github.com/agent-vault/agent-vault/host/jobs"
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
			n, err := st.PruneAudit(ctx, time.Now().Add(-cfg.AuditMaxAge))
			if err != nil || n == 0 {
				return err
			}
			h, err := st.AuditHead(ctx)
			if err != nil {
				return err
			}
			_, err = rec.Record(ctx, audit.Entry{ActorKind: audit.ActorSystem, Operation: "prune-audit",
				Target: fmt.Sprintf("audit entries to seq %d", h.AnchorSeq),
				Summary: audit.Summarize(map[string]any{"pruned": n, "anchor_seq": h.AnchorSeq, "anchor_hash": h.AnchorHash,
					"max_age": cfg.AuditMaxAge.String()})})
			return err
		}})
	return rec, func() { stopJobs(); closeSink() }, nil
}

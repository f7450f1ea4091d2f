package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
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
			return pruneAudit(ctx, st, rec, time.Now().Add(-cfg.AuditMaxAge), cfg.AuditMaxAge, cfg.AuditArchive)
		}})
	return rec, func() { stopJobs(); closeSink() }, nil
}

// pruneAudit deletes the entries older than cutoff and records that it
// did (prune-audit, with the anchor it left). With archive set, the
// entries go to that file first, appended as JSON lines (the format of
// 'audit export', which 'audit verify --file' checks) and synced to disk;
// exactly the entries archived are pruned, and nothing is when the
// archive cannot be written.
func pruneAudit(ctx context.Context, st *store.Store, rec *audit.Recorder, cutoff time.Time, maxAge time.Duration, archive string) error {
	before, err := st.AuditHead(ctx)
	if err != nil {
		return err
	}
	through := int64(math.MaxInt64)
	if archive != "" {
		if through, err = archiveAudit(ctx, st, archive, before.AnchorSeq, cutoff); err != nil {
			return fmt.Errorf("archiving audit entries before pruning them (none pruned): %w", err)
		}
		if through == before.AnchorSeq {
			return nil // nothing older than the cutoff
		}
	}
	n, err := st.PruneAuditThrough(ctx, cutoff, through)
	if err != nil || n == 0 {
		return err
	}
	h, err := st.AuditHead(ctx)
	if err != nil {
		return err
	}
	sum := audit.Summary{Note: fmt.Sprintf("pruned %d entries older than %s", n, maxAge)}
	if archive != "" {
		sum.Note += ", archived to " + archive
	}
	sum.Set("anchor_seq", before.AnchorSeq, h.AnchorSeq)
	sum.Set("anchor_hash", before.AnchorHash, h.AnchorHash)
	_, err = rec.Record(ctx, audit.Entry{ActorKind: audit.ActorSystem, Operation: "prune-audit",
		Target: fmt.Sprintf("audit entries to seq %d", h.AnchorSeq), Summary: sum.Encode()})
	return err
}

// archiveAudit appends the entries after the anchor that retention would
// prune (through the newest one older than cutoff) to the file at path,
// oldest first, and syncs it. It returns the last seq written (the anchor
// when there was none).
func archiveAudit(ctx context.Context, st *store.Store, path string, anchor int64, cutoff time.Time) (int64, error) {
	last, err := st.AuditSeqBefore(ctx, cutoff)
	if err != nil || last <= anchor {
		return anchor, err
	}
	// A run that archived and then failed to prune has written some of
	// these already: go on after the archive's last entry, so the file
	// stays one chain without repeats.
	after, err := lastArchivedSeq(path)
	if err != nil {
		return anchor, err
	}
	after = max(after, anchor)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return anchor, err
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	for after < last {
		page, _, err := st.ListAudit(ctx, store.AuditQuery{After: after, Oldest: true, Limit: 500})
		if err != nil {
			return anchor, err
		}
		if len(page) == 0 {
			return anchor, fmt.Errorf("entries %d to %d are missing", after+1, last)
		}
		for _, e := range page {
			if e.Seq > last {
				break
			}
			line, err := json.Marshal(e)
			if err != nil {
				return anchor, err
			}
			w.Write(append(line, '\n'))
			after = e.Seq
		}
	}
	if err := w.Flush(); err != nil {
		return anchor, err
	}
	if err := f.Sync(); err != nil {
		return anchor, err
	}
	return last, f.Close()
}

// lastArchivedSeq is the seq of the archive's last entry (0 for no file).
func lastArchivedSeq(path string) (int64, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	// An entry is well under 64 KiB: the last line starts in the tail.
	if size, err := f.Seek(0, io.SeekEnd); err != nil {
		return 0, err
	} else if _, err := f.Seek(max(0, size-64<<10), io.SeekStart); err != nil {
		return 0, err
	}
	tail, err := io.ReadAll(f)
	if err != nil {
		return 0, err
	}
	lines := strings.Split(strings.TrimRight(string(tail), "\n"), "\n")
	var e audit.Entry
	if last := lines[len(lines)-1]; last != "" {
		if err := json.Unmarshal([]byte(last), &e); err != nil {
			return 0, fmt.Errorf("%s: the last line is not an audit entry: %w", path, err)
		}
	}
	return e.Seq, nil
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

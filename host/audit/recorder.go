package audit

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Appender stores an entry at the end of the chain: it sets Seq, PrevHash
// and Hash (Entry.Seal) under the chain's lock and returns the stored entry.
type Appender interface {
	AppendAudit(ctx context.Context, e Entry) (Entry, error)
}

// Recorder appends entries to the database and, when Sink is set, writes
// each stored entry as one JSON line there too (a file or stdout read by a
// SIEM), with the same fields as the API's.
type Recorder struct {
	store Appender
	sink  io.Writer
	log   *slog.Logger
	now   func() time.Time
	mu    sync.Mutex // one line at a time on the sink
}

// NewRecorder returns a recorder; sink and log may be nil.
func NewRecorder(store Appender, sink io.Writer, log *slog.Logger) *Recorder {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Recorder{store: store, sink: sink, log: log, now: time.Now}
}

// Record appends e, stamped with the current time when it has none. The
// action it records has already happened, so a failure to record is
// logged (with the entry's fields) rather than undoing it; the error is
// returned for callers that can still refuse.
func (r *Recorder) Record(ctx context.Context, e Entry) (Entry, error) {
	if r == nil {
		return e, nil
	}
	if e.Time.IsZero() {
		e.Time = r.now()
	}
	if e.Outcome == "" {
		e.Outcome = OutcomeOK
	}
	stored, err := r.store.AppendAudit(context.WithoutCancel(ctx), e)
	if err != nil {
		r.log.ErrorContext(ctx, "audit entry not recorded", "operation", e.Operation, "actor_kind", e.ActorKind,
			"actor_id", e.ActorID, "target", e.Target, "outcome", e.Outcome, "error", err)
		return e, err
	}
	if r.sink != nil {
		line, err := json.Marshal(stored)
		if err == nil {
			r.mu.Lock()
			_, err = r.sink.Write(append(line, '\n'))
			r.mu.Unlock()
		}
		if err != nil {
			r.log.ErrorContext(ctx, "audit sink write failed", "seq", stored.Seq, "error", err)
		}
	}
	return stored, nil
}

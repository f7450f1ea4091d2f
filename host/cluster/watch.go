// Package cluster keeps replicas that share one PostgreSQL database in
// step.
//
// Changes: the database itself announces every committed change to what a
// replica caches (triggers of migration 0070 NOTIFY on the channel
// agent_vault_<schema>, inside the writing transaction, so a notification
// exists if and only if the change committed, whoever made it). A Watcher
// LISTENs on its own connection and invalidates the replica's caches
// within a round trip of the commit. Reconciliation covers what a LISTEN
// cannot: notifications sent while the connection was down are lost, so
// every (re)connection starts by forgetting everything; a connection that
// died silently is found by a ping every PingInterval; while there is no
// connection the caches are forgotten every PingInterval, so no replica
// serves from memory anything older than about a second, and a periodic
// full flush (FlushInterval) bounds the damage of any change a trigger
// does not cover. No cache waits for a TTL to see a revocation.
package cluster

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
)

// Watcher relays the database's change notifications to Invalidate.
type Watcher struct {
	// URL is the PostgreSQL database.
	URL string
	// Invalidate is told a vault id whose cached data changed, or "" when
	// everything must be forgotten.
	Invalidate func(vaultID string)
	// Message, when set, is told every payload sent on the schema's lease
	// channel (LeaseChannel): replicas handing each other leased values.
	Message func(payload string)
	Log     *slog.Logger
	// PingInterval bounds how long a dead connection goes unnoticed, and
	// how often caches are flushed while disconnected (default 1 s).
	PingInterval time.Duration
	// FlushInterval forgets everything periodically, a backstop for
	// changes no trigger announces (default 1 min).
	FlushInterval time.Duration

	current  atomic.Bool
	received atomic.Uint64
}

// Current reports whether the watcher is listening: the replica's caches
// see every change as it commits.
func (w *Watcher) Current() bool { return w.current.Load() }

// Received counts the notifications relayed (tests and metrics).
func (w *Watcher) Received() uint64 { return w.received.Load() }

// ApplicationName names the watcher's connection in pg_stat_activity.
const ApplicationName = "agent-vault-watch"

// Channel is the notification channel of a schema.
func Channel(schema string) string { return "agent_vault_" + schema }

// LeaseChannel is the channel of a schema on which replicas exchange
// lease messages (store.PublishLeaseMessage).
func LeaseChannel(schema string) string { return "av_leases_" + schema }

// Run listens until ctx ends, reconnecting after any failure.
func (w *Watcher) Run(ctx context.Context) {
	ping := w.PingInterval
	if ping <= 0 {
		ping = time.Second
	}
	flush := w.FlushInterval
	if flush <= 0 {
		flush = time.Minute
	}
	for ctx.Err() == nil {
		err := w.listen(ctx, ping, flush)
		w.current.Store(false)
		w.Invalidate("")
		if ctx.Err() != nil {
			return
		}
		w.Log.Warn("cluster: change notifications interrupted; caches are flushed until they resume", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(ping):
		}
	}
}

func (w *Watcher) listen(ctx context.Context, ping, flush time.Duration) error {
	cfg, err := pgx.ParseConfig(w.URL)
	if err != nil {
		return err
	}
	// A timed-out wait must only interrupt the read, not send the server a
	// cancel request over a new connection each time.
	cfg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.DeadlineContextWatcherHandler{Conn: c.Conn()}
	}
	cfg.RuntimeParams["application_name"] = ApplicationName
	connectCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	conn, err := pgx.ConnectConfig(connectCtx, cfg)
	cancel()
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var schema string
	if err := conn.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, `LISTEN `+pgx.Identifier{Channel(schema)}.Sanitize()); err != nil {
		return err
	}
	if w.Message != nil {
		if _, err := conn.Exec(ctx, `LISTEN `+pgx.Identifier{LeaseChannel(schema)}.Sanitize()); err != nil {
			return err
		}
	}
	// Whatever changed while nobody listened is unknown: forget it all.
	w.Invalidate("")
	w.current.Store(true)
	lastFlush := time.Now()
	for {
		waitCtx, cancel := context.WithTimeout(ctx, ping)
		n, err := conn.WaitForNotification(waitCtx)
		cancel()
		switch {
		case err == nil && n.Channel == LeaseChannel(schema):
			w.Message(n.Payload)
			continue
		case err == nil:
			w.received.Add(1)
			w.Invalidate(n.Payload)
			continue
		case ctx.Err() != nil:
			return ctx.Err()
		case waitCtx.Err() == nil:
			return err // the connection failed
		}
		// A quiet interval: make sure the connection is still there.
		pingCtx, cancel := context.WithTimeout(ctx, ping)
		err = conn.Ping(pingCtx)
		cancel()
		if err != nil {
			return err
		}
		if time.Since(lastFlush) >= flush {
			w.Invalidate("")
			lastFlush = time.Now()
		}
	}
}

// Package jobs runs the host's periodic maintenance (proposal expiry,
// request-log retention): each job runs once at start, then on its own
// interval, one run at a time, until stopped. A failing run is logged and
// the job keeps its schedule.
package jobs

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Job is one periodic task.
type Job struct {
	Name  string
	Every time.Duration
	Run   func(ctx context.Context) error
}

// ticker abstracts time.Ticker so tests can drive the schedule.
type ticker func(d time.Duration) (c <-chan time.Time, stop func())

func realTicker(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}

// Start runs jobs in the background; the returned stop cancels them and
// waits for runs in progress to finish.
func Start(ctx context.Context, log *slog.Logger, jobs ...Job) (stop func()) {
	return start(ctx, log, realTicker, jobs...)
}

func start(ctx context.Context, log *slog.Logger, tick ticker, jobs ...Job) func() {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, stopTick := tick(j.Every)
			defer stopTick()
			for {
				if err := j.Run(ctx); err != nil && ctx.Err() == nil {
					log.Error("scheduled job failed", "job", j.Name, "error", err)
				}
				select {
				case <-ctx.Done():
					return
				case <-c:
				}
			}
		}()
	}
	return func() {
		cancel()
		wg.Wait()
	}
}

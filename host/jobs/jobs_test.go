package jobs

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestJobsRunAtStartAndOnEveryTick drives the schedule by hand.
func TestJobsRunAtStartAndOnEveryTick(t *testing.T) {
	ticks := make(chan time.Time)
	var gotEvery time.Duration
	stopped := false
	tick := func(d time.Duration) (<-chan time.Time, func()) {
		gotEvery = d
		return ticks, func() { stopped = true }
	}
	runs := make(chan int, 10)
	n := 0
	var logs bytes.Buffer
	stop := start(context.Background(), slog.New(slog.NewTextHandler(&logs, nil)), tick, Job{
		Name: "count", Every: time.Minute,
		Run: func(ctx context.Context) error {
			n++
			runs <- n
			if n == 2 {
				return errors.New("boom")
			}
			return nil
		},
	})
	if got := <-runs; got != 1 {
		t.Fatalf("first run %d", got)
	}
	for want := 2; want <= 3; want++ {
		ticks <- time.Now()
		if got := <-runs; got != want {
			t.Fatalf("run %d, want %d", got, want)
		}
	}
	stop()
	if gotEvery != time.Minute || !stopped {
		t.Fatalf("ticker every %v, stopped %v", gotEvery, stopped)
	}
	if !strings.Contains(logs.String(), `msg="scheduled job failed" job=count error=boom`) {
		t.Fatalf("log %q", logs.String())
	}
	if strings.Count(logs.String(), "failed") != 1 {
		t.Fatalf("a failing run was reported more than once: %q", logs.String())
	}
}

// TestStopWaitsForRunningJob: stop returns only after the run in progress ends.
func TestStopWaitsForRunningJob(t *testing.T) {
	entered, finished := make(chan struct{}), false
	stop := Start(context.Background(), nil, Job{Name: "slow", Every: time.Hour, Run: func(ctx context.Context) error {
		close(entered)
		<-ctx.Done()
		finished = true
		return ctx.Err()
	}})
	<-entered
	stop()
	if !finished {
		t.Fatal("stop returned before the job ended")
	}
}

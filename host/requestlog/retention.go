package requestlog

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Environment variables that override the retention defaults.
const (
	EnvMaxAge  = "AGENT_VAULT_REQUEST_LOG_MAX_AGE"  // "7d", "36h", "90m"
	EnvMaxRows = "AGENT_VAULT_REQUEST_LOG_MAX_ROWS" // rows kept per vault
)

// Retention is how much of the request log is kept.
type Retention struct {
	MaxAge  time.Duration
	MaxRows int // per vault
}

// DefaultRetention keeps a week, at most 10 000 rows per vault.
var DefaultRetention = Retention{MaxAge: 7 * 24 * time.Hour, MaxRows: 10000}

// RetentionFromEnv reads the overrides; unset variables keep the defaults.
func RetentionFromEnv(getenv func(string) string) (Retention, error) {
	r := DefaultRetention
	if v := getenv(EnvMaxAge); v != "" {
		d, err := ParseAge(v)
		if err != nil {
			return r, fmt.Errorf("%s: %w", EnvMaxAge, err)
		}
		r.MaxAge = d
	}
	if v := getenv(EnvMaxRows); v != "" {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 || n > 100_000_000 {
			return r, fmt.Errorf("%s: %q is not a row count between 1 and 100000000", EnvMaxRows, v)
		}
		r.MaxRows = n
	}
	return r, nil
}

// ParseAge reads a positive age: a whole number of days ("7d") or a Go
// duration ("36h", "90m"), at least one minute and at most ten years.
func ParseAge(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 1 || n > 3650 {
			return 0, fmt.Errorf("%q is not a number of days between 1 and 3650", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("%q is neither a number of days (7d) nor a duration (36h)", s)
		}
	}
	if d < time.Minute || d > 3650*24*time.Hour {
		return 0, fmt.Errorf("%q is outside one minute to ten years", s)
	}
	return d, nil
}

// Pruner deletes request-log rows (*store.Store implements it).
type Pruner interface {
	PruneRequestLogs(ctx context.Context, olderThan time.Time, maxRows int) (int64, error)
}

// Prune enforces r once; the scheduler calls it periodically.
func (r Retention) Prune(ctx context.Context, p Pruner, now time.Time) (int64, error) {
	return p.PruneRequestLogs(ctx, now.Add(-r.MaxAge), r.MaxRows)
}

package requestlog

import (
	"context"
	"testing"
	"time"
)

func TestParseAge(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{"7d", 7 * 24 * time.Hour, ""},
		{" 1d ", 24 * time.Hour, ""},
		{"36h", 36 * time.Hour, ""},
		{"90m", 90 * time.Minute, ""},
		{"0d", 0, `"0d" is not a number of days between 1 and 3650`},
		{"3651d", 0, `"3651d" is not a number of days between 1 and 3650`},
		{"-1d", 0, `"-1d" is not a number of days between 1 and 3650`},
		{"30s", 0, `"30s" is outside one minute to ten years`},
		{"week", 0, `"week" is neither a number of days (7d) nor a duration (36h)`},
		{"", 0, `"" is neither a number of days (7d) nor a duration (36h)`},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseAge(tc.in)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func FuzzParseAge(f *testing.F) {
	for _, s := range []string{"7d", "36h", "90m", "0d", "1h30m", "-5m", "99999999999d", "d", "1.5h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseAge(s)
		if err == nil && (d < time.Minute || d > 3650*24*time.Hour) {
			t.Fatalf("%q accepted as %v", s, d)
		}
	})
}

func TestRetentionFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    Retention
		wantErr string
	}{
		{"defaults", nil, Retention{7 * 24 * time.Hour, 10000}, ""},
		{"overrides", map[string]string{EnvMaxAge: "2d", EnvMaxRows: "500"}, Retention{48 * time.Hour, 500}, ""},
		{"bad-age", map[string]string{EnvMaxAge: "soon"}, Retention{}, `AGENT_VAULT_REQUEST_LOG_MAX_AGE: "soon" is neither a number of days (7d) nor a duration (36h)`},
		{"zero-rows", map[string]string{EnvMaxRows: "0"}, Retention{}, `AGENT_VAULT_REQUEST_LOG_MAX_ROWS: "0" is not a row count between 1 and 100000000`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := RetentionFromEnv(func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestPruneUsesRetention(t *testing.T) {
	st, v := openStore(t)
	ctx := context.Background()
	w := New(st, Options{})
	old := event(v.ID, 0)
	old.Time = time.Now().Add(-48 * time.Hour)
	w.Emit(old)
	for i := 1; i <= 5; i++ {
		w.Emit(event(v.ID, i))
	}
	w.Close()
	n, err := Retention{MaxAge: 24 * time.Hour, MaxRows: 3}.Prune(ctx, st, time.Now())
	if err != nil || n != 3 {
		t.Fatalf("pruned %d (%v), want 3", n, err)
	}
	if got, _ := st.CountRequestLogs(ctx, v.ID); got != 3 {
		t.Fatalf("%d rows left", got)
	}
}

package sdk

import (
	"log/slog"
	"testing"
	"time"
)

// Log writes the line Logger writes for the same pairs.
func TestLogLine(t *testing.T) {
	tests := []struct {
		msg  string
		kv   []string
		want string
	}{
		{"started", nil, "started"},
		{"auth method chosen", []string{"method", "universal-auth", "url", "https://x"}, "auth method chosen method=universal-auth url=https://x"},
		{"odd", []string{"k", "v", "lonely"}, "odd k=v !BADKEY=lonely"},
	}
	for _, tc := range tests {
		if got := logLine(tc.msg, tc.kv); got != tc.want {
			t.Errorf("logLine(%q, %q) = %q, want %q", tc.msg, tc.kv, got, tc.want)
		}
		r := slog.NewRecord(time.Time{}, slog.LevelInfo, tc.msg, 0)
		args := make([]any, len(tc.kv))
		for i, s := range tc.kv {
			args[i] = s
		}
		r.Add(args...)
		if got := (hostHandler{}).line(r); got != tc.want {
			t.Errorf("Logger writes %q, Log writes %q", got, tc.want)
		}
	}
}

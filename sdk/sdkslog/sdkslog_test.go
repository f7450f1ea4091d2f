package sdkslog

import (
	"log/slog"
	"testing"
	"time"
)

// The handler writes the line sdk.Log writes for the same pairs, with the
// logger's own attributes first.
func TestLine(t *testing.T) {
	tests := []struct {
		name  string
		attrs []slog.Attr
		args  []any
		want  string
	}{
		{"bare", nil, nil, "m"},
		{"pairs", nil, []any{"method", "universal-auth", "n", 3}, "m method=universal-auth n=3"},
		{"with", []slog.Attr{slog.String("plugin", "x")}, []any{"k", "v"}, "m plugin=x k=v"},
		{"odd", nil, []any{"k", "v", "lonely"}, "m k=v !BADKEY=lonely"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := slog.NewRecord(time.Time{}, slog.LevelInfo, "m", 0)
			r.Add(tc.args...)
			if got := (handler{attrs: tc.attrs}).line(r); got != tc.want {
				t.Errorf("line = %q, want %q", got, tc.want)
			}
		})
	}
	Logger().Info("the native twin logs to stderr", "k", "v") // must not panic
}

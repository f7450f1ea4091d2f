package cli

import (
	"io"
	"log/slog"
	"math"
	"runtime/debug"
	"strings"
	"testing"
)

func TestApplyMemoryLimit(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tc := range []struct {
		value   string
		want    int64 // the runtime's limit afterwards
		wantErr string
	}{
		{value: "40MiB", want: 40 << 20},
		{value: "1GiB", want: 1 << 30},
		{value: "64MB", want: 64_000_000},
		{value: "0", want: math.MaxInt64}, // off: the runtime's "no limit"
		{value: "forty", wantErr: `--memory-limit "forty" is not a size`},
		{value: "-1MiB", wantErr: "is not a size"},
	} {
		t.Run(tc.value, func(t *testing.T) {
			debug.SetMemoryLimit(math.MaxInt64)
			err := applyMemoryLimit(tc.value, log)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := debug.SetMemoryLimit(-1); got != tc.want {
				t.Fatalf("limit %d, want %d", got, tc.want)
			}
		})
	}
}

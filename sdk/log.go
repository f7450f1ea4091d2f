package sdk

import (
	"time"

	"github.com/agent-vault/agent-vault/sdk/internal/host"
	"github.com/agent-vault/agent-vault/sdk/internal/logline"
)

// Level is a log line's severity, numbered as log/slog's levels.
type Level int

// The levels the host's log knows.
const (
	LevelDebug Level = -4
	LevelInfo  Level = 0
	LevelWarn  Level = 4
	LevelError Level = 8
)

// Log writes one line to the host's log, tagged with the plugin's kind:
// msg followed by " key=value" for each pair of kv. sdkslog.Logger gives a
// *slog.Logger writing the same lines, at the cost of linking log/slog.
// Never log credential values.
func Log(level Level, msg string, kv ...string) { host.Log(int32(level), logline.Format(msg, kv)) }

// Now is the host's clock.
func Now() time.Time { return host.Now() }

package infisicaltest

import (
	"time"

	"github.com/agent-vault/agent-vault/plugins/internal/emuclock"
)

// Clock is the emulator's notion of time, shared by access tokens and
// dynamic-secret leases. Its readings are truncated to milliseconds because
// that is the precision the real server emits.
type Clock = emuclock.Clock

func newClock() *Clock { return emuclock.New(time.Millisecond) }

// timestamp formats t the way the real server serialises a JS Date.
func timestamp(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

package openbaotest

import "github.com/agent-vault/agent-vault/plugins/internal/emuclock"

// Clock is the emulator's notion of time, shared by tokens and leases.
type Clock = emuclock.Clock

func newClock() *Clock { return emuclock.New(0) }

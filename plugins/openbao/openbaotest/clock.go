package openbaotest

import (
	"sync"
	"time"
)

// Clock is the emulator's notion of time, shared by tokens and leases. It
// follows the wall clock unless frozen; Advance moves it.
type Clock struct {
	mu     sync.Mutex
	frozen bool
	at     time.Time
	offset time.Duration
}

func newClock() *Clock { return &Clock{} }

// Now is the emulator time in UTC.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.frozen {
		return c.at
	}
	return time.Now().Add(c.offset).UTC()
}

// Advance moves the clock by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.frozen {
		c.at = c.at.Add(d)
		return
	}
	c.offset += d
}

// Freeze stops the clock at t.
func (c *Clock) Freeze(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.frozen, c.at = true, t.UTC()
}

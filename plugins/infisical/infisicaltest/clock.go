package infisicaltest

import (
	"sync"
	"time"
)

// Clock is the emulator's notion of time, shared by access tokens and
// dynamic-secret leases. By default it follows the wall clock; Advance moves
// it forward, and Freeze stops it at a given instant so that timestamps in
// responses are reproducible.
//
// It is safe for concurrent use.
type Clock struct {
	mu     sync.Mutex
	frozen bool
	at     time.Time     // the instant when frozen
	offset time.Duration // added to the wall clock when not frozen
	wall   func() time.Time
}

func newClock() *Clock { return &Clock{wall: time.Now} }

// Now returns the current emulator time, in UTC, truncated to milliseconds
// because that is the precision the real server emits.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.frozen {
		return c.at
	}
	return c.wall().Add(c.offset).UTC().Truncate(time.Millisecond)
}

// Advance moves the clock forward by d (backwards when d is negative).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.frozen {
		c.at = c.at.Add(d)
		return
	}
	c.offset += d
}

// Freeze stops the clock at t; from then on only Advance moves it.
func (c *Clock) Freeze(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.frozen = true
	c.at = t.UTC().Truncate(time.Millisecond)
}

// timestamp formats t the way the real server serialises a JS Date.
func timestamp(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// Package emuclock is the notion of time the secret-store emulators share
// between their tokens and leases: it follows the wall clock unless frozen,
// and tests move it with Advance instead of waiting.
package emuclock

import (
	"sync"
	"time"
)

// Clock is safe for concurrent use.
type Clock struct {
	precision time.Duration // what the emulated server emits; 0 keeps all
	mu        sync.Mutex
	frozen    bool
	at        time.Time     // the instant when frozen
	offset    time.Duration // added to the wall clock when not frozen
}

// New returns a clock that follows the wall clock, its readings truncated
// to precision (0 for none).
func New(precision time.Duration) *Clock { return &Clock{precision: precision} }

func (c *Clock) trunc(t time.Time) time.Time {
	if c.precision > 0 {
		return t.Truncate(c.precision)
	}
	return t
}

// Now returns the current emulator time in UTC.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.frozen {
		return c.at
	}
	return c.trunc(time.Now().Add(c.offset).UTC())
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
	c.frozen, c.at = true, c.trunc(t.UTC())
}

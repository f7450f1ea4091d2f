// Package loginguard bounds what a caller who holds no token can make the
// server spend on passwords. Argon2id hashes (19 MiB and tens of
// milliseconds each) run in a small pool with a bounded queue, and failed
// sign-ins back off per account and per client address. See RATIONALE.md.
package loginguard

import (
	"context"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/agent-vault/agent-vault/host/domain"
)

// Pool runs password hashes a few at a time, so memory stays bounded
// whatever the number of sign-ins in flight: Size hashes at once, at most
// MaxQueue callers waiting, none waiting longer than MaxWait.
type Pool struct {
	slots    chan struct{}
	waiting  atomic.Int64
	maxQueue int64
	maxWait  time.Duration
}

// PoolConfig sizes a Pool; zero fields take the defaults.
type PoolConfig struct {
	// Size is how many hashes run at once. Default: one less than the
	// CPUs Go uses (at least 1, at most 4), so a core stays free for
	// everything else the server does.
	Size int
	// MaxQueue is how many callers may wait for a slot (default 32, a
	// couple of seconds of hashing); beyond it a sign-in is refused at
	// once with server_busy.
	MaxQueue int
	// MaxWait is the longest a caller waits for a slot (default 5s).
	MaxWait time.Duration
}

// NewPool builds a Pool.
func NewPool(c PoolConfig) *Pool {
	if c.Size <= 0 {
		c.Size = min(max(runtime.GOMAXPROCS(0)-1, 1), 4)
	}
	if c.MaxQueue <= 0 {
		c.MaxQueue = 32
	}
	if c.MaxWait <= 0 {
		c.MaxWait = 5 * time.Second
	}
	return &Pool{slots: make(chan struct{}, c.Size), maxQueue: int64(c.MaxQueue), maxWait: c.MaxWait}
}

// Full reports whether every slot is taken and the queue is full, so a new
// caller would be refused. It lets a server refuse a sign-in before
// spending anything on reading it; Do decides exactly.
func (p *Pool) Full() bool {
	return len(p.slots) == cap(p.slots) && p.waiting.Load() >= p.maxQueue
}

// Busy is the refusal Do returns when the pool is full.
func Busy() error { return busy() }

// busyRetry is the Retry-After of a refusal for a full pool.
const busyRetry = 2 * time.Second

// Do runs fn once a slot is free and returns its error. When the queue is
// full, the wait exceeds MaxWait or ctx ends first, fn does not run and Do
// returns a *Refusal with domain.CodeServerBusy.
func (p *Pool) Do(ctx context.Context, fn func() error) error {
	select {
	case p.slots <- struct{}{}:
	default:
		if p.waiting.Add(1) > p.maxQueue {
			p.waiting.Add(-1)
			return busy()
		}
		t := time.NewTimer(p.maxWait)
		select {
		case p.slots <- struct{}{}: // senders are served in order
		case <-t.C:
			p.waiting.Add(-1)
			return busy()
		case <-ctx.Done():
			t.Stop()
			p.waiting.Add(-1)
			return busy()
		}
		t.Stop()
		p.waiting.Add(-1)
	}
	defer func() { <-p.slots }()
	return fn()
}

func busy() error {
	return &Refusal{Err: domain.Errorf(domain.CodeServerBusy, "the server is busy checking passwords; try again shortly"), RetryAfter: busyRetry}
}

// Refusal is a sign-in refused for now, not for good: the caller may try
// again after RetryAfter.
type Refusal struct {
	Err        *domain.Error
	RetryAfter time.Duration
}

func (r *Refusal) Error() string { return r.Err.Error() }
func (r *Refusal) Unwrap() error { return r.Err }

// RetryAfterSeconds is RetryAfter rounded up to whole seconds, at least 1,
// as the Retry-After header carries it.
func (r *Refusal) RetryAfterSeconds() int {
	return max(1, int((r.RetryAfter+time.Second-1)/time.Second))
}

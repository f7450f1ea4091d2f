package loginguard

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/host/domain"
)

// clock is a settable time source.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestThrottleBacksOff(t *testing.T) {
	type step struct {
		advance   time.Duration
		account   string
		addr      string
		fail      bool // record a failure after the check
		succeed   bool
		wantWait  time.Duration // 0: allowed
		wantStart bool          // Failed reports a back-off
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{name: "free-failures-then-doubling", steps: []step{
			{account: "a@x", addr: "1.2.3.4:1", fail: true},
			{account: "a@x", addr: "1.2.3.4:1", fail: true},
			{account: "a@x", addr: "1.2.3.4:1", fail: true, wantStart: true},                       // 3rd > free 2: 1s
			{account: "A@X", addr: "9.9.9.9:1", wantWait: time.Second},                             // same account, other case and address
			{advance: time.Second, account: "a@x", addr: "1.2.3.4:2", fail: true, wantStart: true}, // now 2s
			{advance: time.Second, account: "a@x", addr: "5.5.5.5:1", wantWait: time.Second},
			{advance: time.Second, account: "a@x", addr: "5.5.5.5:1", fail: true, wantStart: true}, // 4s
			{advance: 3 * time.Second, account: "a@x", addr: "5.5.5.5:1", wantWait: time.Second},
		}},
		{name: "ceiling", steps: []step{
			{account: "c@x", addr: "1.1.1.1:1", fail: true},
			{account: "c@x", addr: "1.1.1.2:1", fail: true},
			{account: "c@x", addr: "1.1.1.3:1", fail: true, wantStart: true},                           // 1s
			{advance: time.Second, account: "c@x", addr: "1.1.1.3:1", fail: true, wantStart: true},     // 2s
			{advance: 2 * time.Second, account: "c@x", addr: "1.1.1.4:1", fail: true, wantStart: true}, // 4s
			{advance: 4 * time.Second, account: "c@x", addr: "1.1.1.4:1", fail: true, wantStart: true}, // 8s
			{advance: 8 * time.Second, account: "c@x", addr: "1.1.1.5:1", fail: true, wantStart: true}, // 16s, capped at 10s
			{account: "c@x", addr: "1.1.1.5:1", wantWait: 10 * time.Second},
		}},
		{name: "success-clears-account-not-address", steps: []step{
			{account: "d@x", addr: "2.2.2.2:1", fail: true},
			{account: "d@x", addr: "2.2.2.2:1", fail: true},
			{account: "d@x", addr: "2.2.2.2:1", fail: true, wantStart: true},
			{advance: 2 * time.Second, account: "d@x", addr: "3.3.3.3:1", succeed: true},
			{account: "d@x", addr: "3.3.3.3:1"},
			// the address has 3 failures of its free 4; one more starts its back-off
			{account: "e@x", addr: "2.2.2.2:9", fail: true},
			{account: "f@x", addr: "2.2.2.2:9", fail: true, wantStart: true},
			{account: "g@x", addr: "2.2.2.2:7", wantWait: time.Second},
		}},
		{name: "forgotten-after-quiet", steps: []step{
			{account: "h@x", addr: "4.4.4.4:1", fail: true},
			{account: "h@x", addr: "4.4.4.4:1", fail: true},
			{advance: 2 * time.Hour, account: "h@x", addr: "4.4.4.4:1", fail: true},
			{account: "h@x", addr: "4.4.4.4:1"},
		}},
		{name: "ipv6-by-64", steps: []step{
			{account: "i1@x", addr: "[2001:db8::1]:1", fail: true},
			{account: "i2@x", addr: "[2001:db8::2]:1", fail: true},
			{account: "i3@x", addr: "[2001:db8::3]:1", fail: true},
			{account: "i4@x", addr: "[2001:db8::4]:1", fail: true},
			{account: "i5@x", addr: "[2001:db8::5]:1", fail: true, wantStart: true},
			{account: "i6@x", addr: "[2001:db8::ffff]:1", wantWait: time.Second},
			{account: "i6@x", addr: "[2001:db8:0:1::1]:1"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &clock{t: time.Unix(1_000_000, 0)}
			th := NewThrottle(ThrottleConfig{AccountFree: 2, AddressFree: 4, AccountMax: 10 * time.Second, AddressMax: time.Minute, Now: c.now})
			for i, s := range tc.steps {
				c.t = c.t.Add(s.advance)
				err := th.Check(s.account, s.addr)
				var r *Refusal
				switch {
				case s.wantWait == 0 && err != nil:
					t.Fatalf("step %d: refused: %v", i, err)
				case s.wantWait != 0 && !errors.As(err, &r):
					t.Fatalf("step %d: allowed, want a wait of %s", i, s.wantWait)
				case s.wantWait != 0 && (r.RetryAfter != s.wantWait || r.Err.Code != domain.CodeLoginThrottled):
					t.Fatalf("step %d: %s after %s, want login_throttled after %s", i, r.Err.Code, r.RetryAfter, s.wantWait)
				}
				if s.fail {
					if got := th.Failed(s.account, s.addr); got != s.wantStart {
						t.Fatalf("step %d: Failed = %v, want %v", i, got, s.wantStart)
					}
				}
				if s.succeed {
					th.Succeeded(s.account)
				}
			}
		})
	}
}

func TestThrottleRemembersBoundedKeys(t *testing.T) {
	th := NewThrottle(ThrottleConfig{AccountFree: 1, MaxKeys: 8})
	for i := range 1000 {
		th.Failed(string(rune('a'+i%26))+time.Duration(i).String(), "10.0.0.1:1")
	}
	if n := th.accounts.Len(); n > 8 {
		t.Fatalf("%d accounts remembered, want at most 8", n)
	}
}

func TestRefusalRetryAfterSeconds(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want int
	}{{0, 1}, {time.Millisecond, 1}, {time.Second, 1}, {1001 * time.Millisecond, 2}, {5 * time.Minute, 300}} {
		if got := (&Refusal{RetryAfter: tc.d}).RetryAfterSeconds(); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.d, got, tc.want)
		}
	}
}

// TestPoolHammer releases many callers together and checks that no more
// than Size run at once, that a full queue is refused with server_busy, and
// that every admitted caller ran.
func TestPoolHammer(t *testing.T) {
	const size, queue, callers = 2, 8, 64
	p := NewPool(PoolConfig{Size: size, MaxQueue: queue, MaxWait: time.Minute})
	var running, peak, ran, busy atomic.Int64
	release := make(chan struct{})
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-release
			err := p.Do(context.Background(), func() error {
				n := running.Add(1)
				for {
					old := peak.Load()
					if n <= old || peak.CompareAndSwap(old, n) {
						break
					}
				}
				<-gate
				running.Add(-1)
				ran.Add(1)
				return nil
			})
			var r *Refusal
			if errors.As(err, &r) && r.Err.Code == domain.CodeServerBusy {
				busy.Add(1)
			} else if err != nil {
				t.Errorf("Do: %v", err)
			}
		}()
	}
	close(release)
	// Every caller either holds a slot, waits, or has been refused.
	deadline := time.Now().Add(30 * time.Second)
	for running.Load()+p.waiting.Load()+busy.Load() < callers {
		if time.Now().After(deadline) {
			t.Fatalf("callers did not settle: running %d waiting %d busy %d", running.Load(), p.waiting.Load(), busy.Load())
		}
		time.Sleep(time.Millisecond)
	}
	close(gate)
	wg.Wait()
	if peak.Load() > size {
		t.Errorf("%d ran at once, want at most %d", peak.Load(), size)
	}
	if got := ran.Load() + busy.Load(); got != callers {
		t.Errorf("ran %d + busy %d != %d callers", ran.Load(), busy.Load(), callers)
	}
	if ran.Load() != size+queue || busy.Load() != callers-size-queue {
		t.Errorf("ran %d, busy %d; want %d and %d", ran.Load(), busy.Load(), size+queue, callers-size-queue)
	}
}

func TestPoolGivesUpAfterMaxWait(t *testing.T) {
	p := NewPool(PoolConfig{Size: 1, MaxWait: 20 * time.Millisecond})
	hold, held := make(chan struct{}), make(chan struct{})
	go p.Do(context.Background(), func() error { close(held); <-hold; return nil })
	<-held
	defer close(hold)
	ran := false
	err := p.Do(context.Background(), func() error { ran = true; return nil })
	var r *Refusal
	if !errors.As(err, &r) || r.Err.Code != domain.CodeServerBusy || r.RetryAfterSeconds() < 1 || ran {
		t.Fatalf("Do = %v (ran %v), want server_busy with a Retry-After, not run", err, ran)
	}
}

package loginguard

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/agent-vault/agent-vault/host/domain"
)

// Throttle counts failed sign-ins per account and per client address.
// After a number of free failures each further one makes that key wait
// before its next attempt, twice as long as the last time, up to a cap.
// A key's count is forgotten after Forget without failures, and a
// successful sign-in clears its account (not its address: one known
// password must not reset an address that is guessing others).
type Throttle struct {
	mu       sync.Mutex
	now      func() time.Time
	cfg      ThrottleConfig
	accounts *simplelru.LRU[string, *record]
	addrs    *simplelru.LRU[string, *record]

	failures, refused atomic.Uint64 // for Stats
}

// ThrottleStats counts sign-ins since start: wrong passwords (or unknown
// emails), and sign-ins refused while backing off.
type ThrottleStats struct {
	Failures uint64
	Refused  uint64
}

// Stats reports the counters; safe to call at any time.
func (t *Throttle) Stats() ThrottleStats {
	return ThrottleStats{Failures: t.failures.Load(), Refused: t.refused.Load()}
}

// ThrottleConfig tunes a Throttle; zero fields take the defaults.
type ThrottleConfig struct {
	AccountFree int           // failures per account before back-off (default 5)
	AddressFree int           // failures per client address before back-off (default 20)
	Base        time.Duration // the first back-off (default 1s)
	AccountMax  time.Duration // the longest back-off of an account (default 5m)
	AddressMax  time.Duration // the longest back-off of an address (default 15m)
	Forget      time.Duration // a key without failures this long starts over (default 1h)
	MaxKeys     int           // keys remembered per kind, least recent dropped (default 10000)
	Now         func() time.Time
}

type record struct {
	failures int
	last     time.Time // the latest failure
	until    time.Time // no attempt before this
}

// NewThrottle builds a Throttle.
func NewThrottle(c ThrottleConfig) *Throttle {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if c.AccountFree <= 0 {
		c.AccountFree = 5
	}
	if c.AddressFree <= 0 {
		c.AddressFree = 20
	}
	def(&c.Base, time.Second)
	def(&c.AccountMax, 5*time.Minute)
	def(&c.AddressMax, 15*time.Minute)
	def(&c.Forget, time.Hour)
	if c.MaxKeys <= 0 {
		c.MaxKeys = 10000
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	accounts, _ := simplelru.NewLRU[string, *record](c.MaxKeys, nil)
	addrs, _ := simplelru.NewLRU[string, *record](c.MaxKeys, nil)
	return &Throttle{now: c.Now, cfg: c, accounts: accounts, addrs: addrs}
}

// Check returns a *Refusal with domain.CodeLoginThrottled while the
// account or the address is backing off, nil otherwise. It costs a map
// lookup: call it before any password work.
func (t *Throttle) Check(account, addr string) error {
	now := t.now()
	t.mu.Lock()
	wait := max(t.waitLocked(t.accounts, accountKey(account), now), t.waitLocked(t.addrs, AddressKey(addr), now))
	t.mu.Unlock()
	return t.refusal(wait)
}

// CheckAddress is Check for the address alone, for a request whose
// account is not known yet (its body not read).
func (t *Throttle) CheckAddress(addr string) error {
	now := t.now()
	t.mu.Lock()
	wait := t.waitLocked(t.addrs, AddressKey(addr), now)
	t.mu.Unlock()
	return t.refusal(wait)
}

func (t *Throttle) refusal(wait time.Duration) error {
	if wait <= 0 {
		return nil
	}
	t.refused.Add(1)
	return &Refusal{
		Err:        domain.Errorf(domain.CodeLoginThrottled, "too many failed sign-ins; try again in %s", roundUp(wait)),
		RetryAfter: wait,
	}
}

func (t *Throttle) waitLocked(l *simplelru.LRU[string, *record], key string, now time.Time) time.Duration {
	r, ok := l.Peek(key)
	if !ok {
		return 0
	}
	return r.until.Sub(now)
}

// Failed records a failed sign-in. It reports whether this failure started
// or lengthened a back-off, so the caller can log it once.
func (t *Throttle) Failed(account, addr string) (backingOff bool) {
	t.failures.Add(1)
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	a := t.failLocked(t.accounts, accountKey(account), now, t.cfg.AccountFree, t.cfg.AccountMax)
	b := t.failLocked(t.addrs, AddressKey(addr), now, t.cfg.AddressFree, t.cfg.AddressMax)
	return a || b
}

func (t *Throttle) failLocked(l *simplelru.LRU[string, *record], key string, now time.Time, free int, ceiling time.Duration) bool {
	r, ok := l.Get(key)
	if !ok || now.Sub(r.last) > t.cfg.Forget {
		r = &record{}
		l.Add(key, r)
	}
	r.failures++
	r.last = now
	over := r.failures - free
	if over <= 0 {
		return false
	}
	wait := ceiling
	if over <= 30 { // 2^30 s is past any ceiling
		wait = min(t.cfg.Base<<(over-1), ceiling)
	}
	r.until = now.Add(wait)
	return true
}

// Succeeded clears the account's failures after a correct password.
func (t *Throttle) Succeeded(account string) {
	t.mu.Lock()
	t.accounts.Remove(accountKey(account))
	t.mu.Unlock()
}

// accountKey folds an email's case: the store compares emails without it.
func accountKey(email string) string { return strings.ToLower(email) }

// AddressKey is the throttling key of a client address ("ip:port" or
// "ip"): the IP for IPv4, the /64 network for IPv6, since one client
// commonly holds a whole /64.
func AddressKey(remote string) string {
	host := remote
	if h, _, err := net.SplitHostPort(remote); err == nil {
		host = h
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

func roundUp(d time.Duration) string {
	s := (d + time.Second - 1) / time.Second
	if s < 60 {
		return fmt.Sprintf("%ds", s)
	}
	return fmt.Sprintf("%dm%02ds", s/60, s%60)
}

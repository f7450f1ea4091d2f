package proxy

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/agent-vault/agent-vault/host/domain"
)

// RateLimits bound the requests the proxy forwards per second for one
// caller (an agent, a user or a scoped session) and for one vault, as
// token buckets. A zero rate means no limit. The burst is how many
// requests may come at once after a quiet spell; zero means twice the
// rate (at least 1).
type RateLimits struct {
	PerActor   float64
	ActorBurst int
	PerVault   float64
	VaultBurst int
}

// DefaultRateLimits are the server's defaults: far above what one agent
// sends in a busy burst (hundreds of requests in a second), low enough that
// a runaway loop cannot take the whole proxy.
var DefaultRateLimits = RateLimits{PerActor: 1000, PerVault: 5000}

// limiters holds one token bucket per key. It checks in a map lookup and
// the bucket's own lock, so the hot path stays cheap; buckets that have
// refilled are dropped when the map grows, so keys of expired sessions do
// not accumulate.
type limiters struct {
	limit rate.Limit
	burst int

	mu sync.RWMutex
	m  map[string]*rate.Limiter
}

// sweepAbove is the map size from which a new key first drops the
// buckets that are full again (idle callers).
const sweepAbove = 4096

func newLimiters(perSecond float64, burst int) *limiters {
	if perSecond <= 0 {
		return nil
	}
	if burst <= 0 {
		burst = max(1, int(math.Ceil(2*perSecond)))
	}
	return &limiters{limit: rate.Limit(perSecond), burst: burst, m: map[string]*rate.Limiter{}}
}

// allow takes a token from key's bucket. When there is none it returns
// false and how long until there is one. A nil *limiters allows all.
func (l *limiters) allow(key string, now time.Time) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	l.mu.RLock()
	lim := l.m[key]
	l.mu.RUnlock()
	if lim == nil {
		lim = l.add(key, now)
	}
	if lim.AllowN(now, 1) {
		return true, 0
	}
	missing := 1 - lim.TokensAt(now)
	return false, time.Duration(missing / float64(l.limit) * float64(time.Second))
}

func (l *limiters) add(key string, now time.Time) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	if lim := l.m[key]; lim != nil {
		return lim
	}
	if len(l.m) >= sweepAbove {
		for k, lim := range l.m {
			if lim.TokensAt(now) >= float64(l.burst) {
				delete(l.m, k)
			}
		}
	}
	lim := rate.NewLimiter(l.limit, l.burst)
	l.m[key] = lim
	return lim
}

// rateLimiter applies RateLimits to a request's principal.
type rateLimiter struct {
	actors, vaults *limiters
}

func newRateLimiter(c RateLimits) rateLimiter {
	return rateLimiter{actors: newLimiters(c.PerActor, c.ActorBurst), vaults: newLimiters(c.PerVault, c.VaultBurst)}
}

// allow reports whether pr may send another request now, and if not,
// what is over its rate ("caller" or "vault") and when to retry.
func (r rateLimiter) allow(pr *Principal) (ok bool, what string, retry time.Duration) {
	if r.actors == nil && r.vaults == nil {
		return true, "", 0
	}
	return r.allowAt(pr, time.Now())
}

func (r rateLimiter) allowAt(pr *Principal, now time.Time) (ok bool, what string, retry time.Duration) {
	if ok, d := r.actors.allow(pr.ActorID, now); !ok {
		return false, "caller", d
	}
	if ok, d := r.vaults.allow(pr.VaultID, now); !ok {
		return false, "vault", d
	}
	return true, "", 0
}

// refuseOverRate answers 429 with Retry-After when pr is over its rate,
// and reports whether it did.
func (p *Proxy) refuseOverRate(w http.ResponseWriter, pr *Principal, fail func(int, errorBody)) bool {
	ok, what, retry := p.limits.allow(pr)
	if ok {
		return false
	}
	secs := max(1, int(math.Ceil(retry.Seconds())))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	msg := fmt.Sprintf("this token is over its request rate; retry in %ds", secs)
	if what == "vault" {
		msg = fmt.Sprintf("vault %q is over its request rate; retry in %ds", pr.VaultName, secs)
	}
	fail(http.StatusTooManyRequests, errorBody{Error: domain.CodeRateLimited, Message: msg, Vault: pr.VaultName})
	return true
}

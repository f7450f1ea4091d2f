package proxy

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/host/broker"
	"github.com/agent-vault/agent-vault/host/domain"
)

// withLimits sets the rate limits and adds tok3, a second agent of vault v1.
func withLimits(l RateLimits) envOption {
	return func(c *Config) {
		c.RateLimits = l
		auth := fakeAuth{}
		for k, v := range c.Auth.(fakeAuth) {
			auth[k] = v
		}
		auth["tok3"] = Principal{ActorID: "agent-3", ActorKind: ActorAgent, VaultID: "v1", VaultName: "main", VaultRole: domain.VaultProxy}
		c.Auth = auth
	}
}

// wantRateLimited checks a proxy-written 429 with a whole-second Retry-After.
func wantRateLimited(t *testing.T, resp *http.Response, wantMsg string) {
	t.Helper()
	body := errorOf(t, resp)
	ra, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if resp.StatusCode != http.StatusTooManyRequests || body.Error != domain.CodeRateLimited || err != nil || ra < 1 ||
		!strings.Contains(body.Message, wantMsg) {
		t.Fatalf("got %d %+v Retry-After %q, want 429 rate_limited with %q", resp.StatusCode, body, resp.Header.Get("Retry-After"), wantMsg)
	}
}

func get(t *testing.T, c *http.Client, url string) *http.Response {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestRateLimitPerCaller(t *testing.T) {
	// One request per minute after a burst of 3: the 4th is refused, in
	// absolute form and inside a CONNECT tunnel alike, while another caller
	// of the same vault is not affected.
	e := newEnv(t, testServices(), withLimits(RateLimits{PerActor: 1.0 / 60, ActorBurst: 3}))
	one := e.client("tok1:main")
	for i := range 3 {
		resp := get(t, one, "http://api.test/v1/x")
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: %d", i, resp.StatusCode)
		}
	}
	wantRateLimited(t, get(t, one, "http://api.test/v1/x"), "this token is over its request rate")
	wantRateLimited(t, get(t, one, "https://api.test/v1/x"), "this token is over its request rate")
	resp := get(t, e.client("tok3:main"), "http://api.test/v1/x")
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("another agent of the vault: %d", resp.StatusCode)
	}
	events := e.log.all()
	if n := len(slices.DeleteFunc(events, func(ev Event) bool { return ev.Status != 429 || ev.Error != domain.CodeRateLimited })); n != 2 {
		t.Fatalf("%d rate-limited events logged, want 2", n)
	}
}

func TestRateLimitPerVault(t *testing.T) {
	e := newEnv(t, testServices(), withLimits(RateLimits{PerVault: 1.0 / 60, VaultBurst: 2}))
	for _, tok := range []string{"tok1", "tok3"} {
		resp := get(t, e.client(tok+":main"), "http://api.test/v1/x")
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", tok, resp.StatusCode)
		}
	}
	wantRateLimited(t, get(t, e.client("tok3:main"), "http://api.test/v1/x"), `vault "main" is over its request rate`)
}

// TestDefaultRatesAllowBursts: the defaults never refuse what a busy agent
// sends: 1500 requests at one instant, then 800 a second for a minute.
func TestDefaultRatesAllowBursts(t *testing.T) {
	r := newRateLimiter(DefaultRateLimits)
	pr := &Principal{ActorID: "agent", VaultID: "vault"}
	now := time.Now()
	check := func(at time.Time) {
		if ok, what, _ := r.allowAt(pr, at); !ok {
			t.Fatalf("refused (%s) at %s", what, at.Sub(now))
		}
	}
	for range 1500 {
		check(now)
	}
	for i := range 60 * 800 {
		check(now.Add(time.Second + time.Duration(i)*time.Second/800))
	}
}

// TestRateLimitersForgetIdleKeys: buckets of callers that went quiet are
// dropped once the map grows, so expired sessions do not accumulate.
func TestRateLimitersForgetIdleKeys(t *testing.T) {
	l := newLimiters(10, 10)
	now := time.Now()
	for i := range 3 * sweepAbove {
		l.allow(fmt.Sprint("session-", i), now.Add(time.Duration(i)*time.Second))
	}
	if n := len(l.m); n > sweepAbove+1 {
		t.Fatalf("%d buckets kept, want at most %d", n, sweepAbove+1)
	}
}

// TestAbsoluteFormUserinfoRefused: http://user:pass@host/ in the request
// line is refused, not forwarded with the userinfo silently dropped.
func TestAbsoluteFormUserinfoRefused(t *testing.T) {
	e := newEnv(t, testServices())
	c := dialProxy(t, e)
	fmt.Fprintf(c, "GET http://someone:secret@api.test/v1/x HTTP/1.1\r\nHost: api.test\r\nProxy-Authorization: Basic %s\r\n\r\n",
		base64.StdEncoding.EncodeToString([]byte("tok1:main")))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body := errorOf(t, resp)
	if resp.StatusCode != http.StatusBadRequest || body.Error != CodeBadProxyRequest || !strings.Contains(body.Message, "userinfo") {
		t.Fatalf("got %d %+v", resp.StatusCode, body)
	}
	if d := e.dial.dialedAddrs(); len(d) != 0 {
		t.Fatalf("dialled %v", d)
	}
}

// TestPlaintextToPrivateAddressRefused: credentials do not go in clear text
// to a private address (a LAN or VPC host) unless its service allows plain
// http, the same rule as for a public host.
func TestPlaintextToPrivateAddressRefused(t *testing.T) {
	e := newEnv(t, nil)
	svcs := []domain.Service{
		{Name: "lan", Host: "10.1.2.3", Auth: domain.Auth{Type: domain.AuthBearer, Token: "TOKEN"}},
		{Name: "lan-plain", Host: "192.168.7.7", Auth: domain.Auth{Type: domain.AuthBearer, Token: "TOKEN"}, AllowPlainHTTP: true},
	}
	e.vaults.mu.Lock()
	e.vaults.m["v1"] = VaultConfig{Services: svcs, Matcher: broker.NewMatcher(svcs)}
	e.vaults.mu.Unlock()
	e.dial.mu.Lock()
	e.dial.routes["192.168.7.7:80"] = e.plain.Listener.Addr().String()
	e.dial.mu.Unlock()

	resp := get(t, e.client("tok1:main"), "http://10.1.2.3/x")
	body := errorOf(t, resp)
	if resp.StatusCode != http.StatusForbidden || body.Error != CodePlaintextRefused {
		t.Fatalf("got %d %+v", resp.StatusCode, body)
	}
	if slices.Contains(e.dial.dialedAddrs(), "10.1.2.3:80") {
		t.Fatal("the private host was dialled")
	}
	resp = get(t, e.client("tok1:main"), "http://192.168.7.7/x")
	if got := decodeEcho(t, resp); got.Header.Get("Authorization") != "Bearer "+secrets["v1/TOKEN"] {
		t.Fatalf("allow_plain_http service: Authorization %q", got.Header.Get("Authorization"))
	}
}

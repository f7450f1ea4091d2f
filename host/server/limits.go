package server

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/net/netutil"

	"github.com/agent-vault/agent-vault/host/domain"
)

// Connection caps. Each listener holds at most its cap of client
// connections; further clients wait in the kernel's accept queue and use
// no file descriptor of ours, so a flood of idle connections on one port
// cannot starve the other port, the database or the plugins.
const (
	defaultAPIMaxConns   = 1024
	defaultProxyMaxConns = 4096
	// defaultAPIMaxConnsPerAddress is far above what a person's browser
	// and CLI open, and keeps one client from taking all the others'.
	defaultAPIMaxConnsPerAddress = 64
	// reservedFDs are kept for the database, the plugin cache, logs and
	// the listeners themselves.
	reservedFDs = 128
)

// connCaps returns the connection caps to use: the configured ones, or
// defaults that fit the process's file-descriptor limit (a proxied
// connection needs a second descriptor for its upstream).
func connCaps(apiMax, proxyMax int, log *slog.Logger) (api, proxy int) {
	var lim syscall.Rlimit
	fds := 1 << 20
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && lim.Cur < uint64(fds) {
		fds = int(lim.Cur)
	}
	budget := max(fds-reservedFDs, 16)
	api, proxy = apiMax, proxyMax
	if api <= 0 {
		api = max(4, min(defaultAPIMaxConns, budget/4))
	}
	if proxy <= 0 {
		proxy = max(4, min(defaultProxyMaxConns, (budget-api)/2))
	}
	if api+2*proxy > budget {
		log.Warn("connection caps exceed the file-descriptor limit; raise `ulimit -n` or lower the caps",
			"api_max_conns", api, "proxy_max_conns", proxy, "fd_limit", fds)
	}
	return api, proxy
}

// limitListener caps l's open connections at n.
func limitListener(l net.Listener, n int) net.Listener { return netutil.LimitListener(l, n) }

// hostCheck refuses API requests whose Host header names none of the names
// the API serves. A web page on evil.example whose name an attacker
// re-points at 127.0.0.1 (DNS rebinding) reaches the API with
// Host: evil.example; without this check it could read answers and, on a
// fresh instance, register its owner. IP literals, localhost and names
// under .localhost are always served (no DNS answer can make a browser
// send them for another site); other names must be listed in allowed
// (--allowed-hosts), a leading "*." matching any subdomain.
func hostCheck(allowed []string, next http.Handler) http.Handler {
	names := make([]string, 0, len(allowed))
	for _, a := range allowed {
		if a = strings.ToLower(strings.TrimSpace(a)); a != "" {
			names = append(names, strings.TrimSuffix(a, "."))
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hostServed(r.Host, names) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusMisdirectedRequest)
		json.NewEncoder(w).Encode(map[string]any{ //nolint:errcheck // the client may be gone
			"title":  http.StatusText(http.StatusMisdirectedRequest),
			"status": http.StatusMisdirectedRequest,
			"code":   domain.CodeHostNotServed,
			"detail": fmt.Sprintf("this server does not answer to the name %q; the operator can add it with --allowed-hosts (AGENT_VAULT_ALLOWED_HOSTS)", hostOnly(r.Host)),
		})
	})
}

func hostServed(hostHeader string, allowed []string) bool {
	if hostHeader == "" {
		return true // HTTP/1.0 without Host: no browser sends that
	}
	h := strings.TrimSuffix(strings.ToLower(hostOnly(hostHeader)), ".")
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	for _, a := range allowed {
		if suffix, ok := strings.CutPrefix(a, "*."); ok {
			if strings.HasSuffix(h, "."+suffix) {
				return true
			}
		} else if h == a {
			return true
		}
	}
	return false
}

// hostOnly strips the port and IPv6 brackets from a Host header.
func hostOnly(hostHeader string) string {
	if h, _, err := net.SplitHostPort(hostHeader); err == nil {
		return h
	}
	return strings.Trim(hostHeader, "[]")
}

// perAddressListener closes, right after accepting it, a connection from a
// client address that already holds max connections: one client cannot
// take every connection of the listener, and a flood from one address
// costs an accept and a close per surplus connection, not a request
// parsed ahead of everyone else's.
type perAddressListener struct {
	net.Listener
	max int

	mu   sync.Mutex
	open map[netip.Addr]int
}

func limitPerAddress(l net.Listener, max int) net.Listener {
	return &perAddressListener{Listener: l, max: max, open: map[netip.Addr]int{}}
}

func (l *perAddressListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ap, err := netip.ParseAddrPort(c.RemoteAddr().String())
		if err != nil {
			return c, nil
		}
		a := ap.Addr().Unmap()
		l.mu.Lock()
		full := l.open[a] >= l.max
		if !full {
			l.open[a]++
		}
		l.mu.Unlock()
		if full {
			c.Close()
			continue
		}
		return &addressConn{Conn: c, release: func() { l.release(a) }}, nil
	}
}

func (l *perAddressListener) release(a netip.Addr) {
	l.mu.Lock()
	if l.open[a]--; l.open[a] <= 0 {
		delete(l.open, a)
	}
	l.mu.Unlock()
}

type addressConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *addressConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

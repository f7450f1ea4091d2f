// Package broker decides what the proxy does to a request: which of a
// vault's services it matches and how that service's credentials are
// injected. It does no I/O of its own: credential values come through a
// Lookup the caller supplies, so every function here is deterministic and
// fuzzed.
package broker

import (
	"errors"
	"net"
	"strconv"
	"strings"

	"github.com/agent-vault/agent-vault/host/domain"
)

// Match returns the index of the service that governs a request to host,
// port and path, or -1. host is lower-case without IPv6 brackets (see
// SplitTarget); path is the decoded URL path.
//
// Precedence: an exact host beats a wildcard; a port-specific pattern beats
// an any-port one; a longer literal path beats a shorter one (an exact path
// beats a prefix of the same length); then declaration order. Disabled
// services take part, so the caller can answer service_disabled instead of
// silently applying the unmatched-host policy. Services whose host does not
// parse are skipped (ValidateServices keeps them out).
func Match(services []domain.Service, host, port, path string) int {
	return NewMatcher(services).Match(host, port, path)
}

// Matcher is Match over services whose host patterns were parsed once: the
// proxy keeps one per vault and matches every request against it.
type Matcher struct {
	patterns []domain.HostPattern
	valid    []bool // false for a pattern that does not parse
}

// NewMatcher parses the services' host patterns, in declaration order.
func NewMatcher(services []domain.Service) *Matcher {
	m := &Matcher{patterns: make([]domain.HostPattern, len(services)), valid: make([]bool, len(services))}
	for i := range services {
		p, err := domain.ParseHostPattern(services[i].Host)
		m.patterns[i], m.valid[i] = p, err == nil
	}
	return m
}

// Match is Match for the services the Matcher was made from.
func (m *Matcher) Match(host, port, path string) int {
	best, bestRank := -1, rank{}
	dots := hasDotSegment(path)
	for i := range m.patterns {
		if !m.valid[i] {
			continue
		}
		p := &m.patterns[i]
		// "/v1/../admin" must not borrow the credential of a /v1/ service:
		// the upstream may resolve the dots after we matched.
		if dots && p.Path != "" {
			continue
		}
		if !p.Matches(host, port, path) {
			continue
		}
		r := rank{exactHost: !p.Wildcard, port: p.Port != "", pathLen: len(p.Path), exactPath: p.Path != "" && !p.Prefix}
		if best < 0 || r.beats(bestRank) {
			best, bestRank = i, r
		}
	}
	return best
}

type rank struct {
	exactHost, port bool
	pathLen         int
	exactPath       bool
}

func (a rank) beats(b rank) bool {
	if a.exactHost != b.exactHost {
		return a.exactHost
	}
	if a.port != b.port {
		return a.port
	}
	if a.pathLen != b.pathLen {
		return a.pathLen > b.pathLen
	}
	if a.exactPath != b.exactPath {
		return a.exactPath
	}
	return false // declaration order: the earlier service keeps its place
}

func hasDotSegment(path string) bool {
	for rest := path; ; {
		seg := rest
		slash := strings.IndexByte(rest, '/')
		if slash >= 0 {
			seg, rest = rest[:slash], rest[slash+1:]
		}
		if seg == "." || seg == ".." {
			return true
		}
		if slash < 0 {
			break
		}
	}
	return strings.IndexByte(path, '\\') >= 0
}

// ErrBadTarget is returned by SplitTarget for an unusable authority.
var ErrBadTarget = errors.New("bad target")

// SplitTarget splits a request authority ("Host:port", "[v6]:port", "host")
// into a lower-case host without brackets and a port, using defaultPort when
// none is given (pass "" to require one, as for CONNECT). It refuses empty
// hosts, userinfo, zones, bad ports and characters that cannot be in a host.
func SplitTarget(authority, defaultPort string) (host, port string, err error) {
	if authority == "" || len(authority) > 300 || strings.ContainsAny(authority, "@/?#%\\ \t\r\n") {
		return "", "", ErrBadTarget
	}
	host, port = authority, defaultPort
	if strings.HasPrefix(authority, "[") {
		end := strings.IndexByte(authority, ']')
		if end < 0 {
			return "", "", ErrBadTarget
		}
		host = authority[1:end]
		switch rest := authority[end+1:]; {
		case rest == "":
		case rest[0] == ':':
			port = rest[1:]
		default:
			return "", "", ErrBadTarget
		}
		if ip := net.ParseIP(host); ip == nil || strings.IndexByte(host, ':') < 0 {
			return "", "", ErrBadTarget
		}
	} else if i := strings.LastIndexByte(authority, ':'); i >= 0 {
		host, port = authority[:i], authority[i+1:]
		if strings.IndexByte(host, ':') >= 0 {
			return "", "", ErrBadTarget // unbracketed IPv6
		}
	}
	if host == "" || port == "" {
		return "", "", ErrBadTarget
	}
	n, perr := strconv.Atoi(port)
	if perr != nil || n < 1 || n > 65535 || port[0] == '0' || port[0] == '+' {
		return "", "", ErrBadTarget
	}
	for i := 0; i < len(host); i++ {
		if c := host[i]; c <= ' ' || c >= 0x7f || strings.IndexByte("<>\"{}|^`[]", c) >= 0 {
			return "", "", ErrBadTarget
		}
	}
	host = strings.ToLower(host)
	if strings.IndexByte(host, ':') >= 0 {
		// Canonical IPv6 text, so "[0:0::1]" and "[::1]" match one service.
		host = net.ParseIP(host).String()
	}
	return host, port, nil
}

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
// port and escapedPath (the path as it came on the wire, URL.EscapedPath),
// or -1, and the canonical escaped path to forward (see path.go): the
// caller sends exactly the form that was matched. host is lower-case
// without IPv6 brackets (see SplitTarget).
//
// When the host has a path-scoped service and the path is ambiguous
// (";" parameters, double encoding, a backslash, dot segments, or an
// encoded character that decides whether the path is under the service's
// prefix), Match returns a *domain.Error with CodeAmbiguousPath instead.
//
// Precedence: an exact host beats a wildcard; a port-specific pattern beats
// an any-port one; a longer literal path beats a shorter one (an exact path
// beats a prefix of the same length); then declaration order. Disabled
// services take part, so the caller can answer service_disabled instead of
// silently applying the unmatched-host policy. Services whose host does not
// parse are skipped (ValidateServices keeps them out).
func Match(services []domain.Service, host, port, escapedPath string) (int, string, error) {
	return NewMatcher(services).Match(host, port, escapedPath)
}

// Matcher is Match over services whose host patterns were parsed once: the
// proxy keeps one per vault and matches every request against it.
type Matcher struct {
	entries []matchEntry // in declaration order
}

type matchEntry struct {
	pattern domain.HostPattern // Path in canonical escaped form
	plain   string             // the pattern's path as written
	name    string
	valid   bool // false for a pattern that does not parse
}

// NewMatcher parses the services' host patterns, in declaration order.
func NewMatcher(services []domain.Service) *Matcher {
	m := &Matcher{entries: make([]matchEntry, len(services))}
	for i := range services {
		p, err := domain.ParseHostPattern(services[i].Host)
		e := &m.entries[i]
		e.plain, e.name, e.valid = p.Path, services[i].Name, err == nil
		p.Path, _ = canonicalPath(p.Path) // a pattern's path has no '%' to get wrong
		e.pattern = p
	}
	return m
}

// Match is Match for the services the Matcher was made from.
func (m *Matcher) Match(host, port, escapedPath string) (int, string, error) {
	canon, wellFormed := canonicalPath(escapedPath)
	if !wellFormed {
		canon = escapedPath
	}
	best, bestRank := -1, rank{}
	checked, decoded := false, ""
	for i := range m.entries {
		e := &m.entries[i]
		if !e.valid {
			continue
		}
		p := &e.pattern
		if p.Path == "" {
			if !p.Matches(host, port, "") {
				continue
			}
		} else {
			anyPath := *p
			anyPath.Path = ""
			if !anyPath.Matches(host, port, "") {
				continue
			}
			if !checked {
				checked = true
				why := "it has a malformed %-escape"
				if wellFormed {
					why = ambiguousPath(canon)
				}
				if why != "" {
					return -1, "", ambiguous(escapedPath, e.name, why)
				}
				decoded = decodedPath(canon)
			}
			inCanon := p.Matches(host, port, canon)
			plain := *p
			plain.Path = e.plain
			if plain.Matches(host, port, decoded) != inCanon {
				return -1, "", ambiguous(escapedPath, e.name, "an encoded character (such as %2F) decides whether it is under the service's path")
			}
			if !inCanon {
				continue
			}
		}
		r := rank{exactHost: !p.Wildcard, port: p.Port != "", pathLen: len(p.Path), exactPath: p.Path != "" && !p.Prefix}
		if best < 0 || r.beats(bestRank) {
			best, bestRank = i, r
		}
	}
	return best, canon, nil
}

func ambiguous(path, service, why string) error {
	return domain.Errorf(domain.CodeAmbiguousPath,
		"the path %q is ambiguous for service %q, which covers only part of this host: %s; no credential is attached. Send the path in plain form", path, service, why)
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

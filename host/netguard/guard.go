// Package netguard decides which addresses Agent Vault may connect to on an
// agent's or a plugin's behalf, and dials only those.
//
// A [Guard] resolves a host once, checks every address it resolved to, and
// dials exactly the checked addresses, so that a name which answers with a
// public address to the check and a private one to the dial (DNS rebinding)
// gets nowhere. Cloud metadata endpoints are always refused; private and
// special-purpose ranges (RFC 1918, loopback, link-local, ULA, CGN,
// multicast, …) are refused unless the operator allows them, by flag, by
// allowlist, or by a per-guard exception for an origin they configured.
//
// Use [Guard.DialContext] as the DialContext of an http.Transport whose
// Proxy is nil; a proxy in between would do its own resolving.
package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/agent-vault/agent-vault/host/domain"
)

// Resolver looks up the addresses of a host name. *net.Resolver implements
// it; network is "ip", "ip4" or "ip6".
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Options configure a [Guard]. The zero value refuses every private and
// special address and resolves with net.DefaultResolver.
type Options struct {
	// AllowPrivate lets connections reach private and special-purpose
	// addresses (AGENT_VAULT_ALLOW_PRIVATE_RANGES=true). Cloud metadata
	// addresses stay blocked.
	AllowPrivate bool
	// AllowNets are ranges that may be reached although they are private
	// (the CIDR and IP entries of AGENT_VAULT_NETWORK_ALLOWLIST).
	AllowNets []netip.Prefix
	// AllowHosts are host names whose addresses may be private (the name
	// entries of AGENT_VAULT_NETWORK_ALLOWLIST). "*.example.com" matches
	// every name below example.com, not example.com itself.
	AllowHosts []string
	// Pins map host names to the addresses used instead of DNS
	// (AGENT_VAULT_RESOLVE). Pinned addresses are checked like resolved
	// ones: pinning decides where a name goes, not whether it may go there.
	Pins map[string][]netip.Addr
	// Resolver resolves names that are not pinned; nil means
	// net.DefaultResolver.
	Resolver Resolver
	// Dialer makes the connections; nil means a zero net.Dialer. Set its
	// Timeout and KeepAlive as needed; its Resolver is never used, since
	// only IP addresses are dialled.
	Dialer *net.Dialer
}

// Guard checks and dials outbound connections. It is immutable and safe for
// concurrent use.
type Guard struct {
	allowPrivate bool
	allowNets    []netip.Prefix
	allowHosts   []string
	pins         map[string][]netip.Addr
	resolver     Resolver
	dial         func(ctx context.Context, network, address string) (net.Conn, error)
	// exceptions are "host:port" origins (normalised host) that may be
	// private; see WithExceptions.
	exceptions map[string]bool
}

// New builds a guard. It normalises the host names in o and fails with
// [domain.CodeInvalidNetworkConfig] on a malformed one.
func New(o Options) (*Guard, error) {
	g := &Guard{
		allowPrivate: o.AllowPrivate,
		resolver:     o.Resolver,
		pins:         map[string][]netip.Addr{},
		exceptions:   map[string]bool{},
	}
	if g.resolver == nil {
		g.resolver = net.DefaultResolver
	}
	d := o.Dialer
	if d == nil {
		d = &net.Dialer{}
	}
	g.dial = d.DialContext
	for _, p := range o.AllowNets {
		if !p.IsValid() {
			return nil, configError("", "allowlist range %v is not valid", p)
		}
		g.allowNets = append(g.allowNets, unmapPrefix(p.Masked()))
	}
	for _, h := range o.AllowHosts {
		n, err := normalizeAllowHost(h)
		if err != nil {
			return nil, err
		}
		g.allowHosts = append(g.allowHosts, n)
	}
	for name, addrs := range o.Pins {
		n, err := normalizePinName(name)
		if err != nil {
			return nil, err
		}
		for _, a := range addrs {
			if !a.IsValid() {
				return nil, configError("", "pinned address for %q is not valid", name)
			}
			g.pins[n] = append(g.pins[n], a.Unmap())
		}
	}
	return g, nil
}

// WithExceptions returns a copy of g that may also reach private addresses
// for the given origins, each "host:port", "[v6]:port" or a URL such as
// "https://infisical.internal" (port defaulting to 80 or 443 by scheme).
// An exception matches a dial to exactly that host and port; the host is
// compared in normalised form, so "127.1:8080" matches "127.0.0.1:8080".
// Metadata addresses stay blocked. The plugin HTTP capability uses this for
// the origins the operator configured, such as INFISICAL_URL.
func (g *Guard) WithExceptions(origins ...string) (*Guard, error) {
	c := *g
	c.exceptions = make(map[string]bool, len(g.exceptions)+len(origins))
	for k := range g.exceptions {
		c.exceptions[k] = true
	}
	for _, o := range origins {
		host, port, err := parseOrigin(o)
		if err != nil {
			return nil, err
		}
		c.exceptions[net.JoinHostPort(host, strconv.Itoa(int(port)))] = true
	}
	return &c, nil
}

// DialContext connects to address ("host:port", port numeric) over network
// ("tcp", "tcp4" or "tcp6") if every address the host resolves to may be
// reached, trying them in order. A refusal is a *domain.Error with
// [domain.CodeDestinationBlocked] (or [domain.CodeInvalidHost] for a
// malformed host); nothing is dialled then.
func (g *Guard) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, domain.Errorf(domain.CodeDestinationBlocked, "network %q is not allowed; only TCP is", network)
	}
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return nil, domain.Errorf(domain.CodeInvalidHost, "address %q is not host:port", address)
	}
	port, err := parsePort(portStr)
	if err != nil {
		return nil, domain.Errorf(domain.CodeInvalidHost, "address %q: %v", address, err)
	}
	addrs, err := g.resolve(ctx, network, host, port)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, a := range addrs {
		conn, err := g.dial(ctx, network, netip.AddrPortFrom(a, port).String())
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

// resolve returns the addresses to dial for host, every one checked. A
// mixed answer (some allowed, some not) is refused whole: it is what a
// rebinding attack looks like, and no legitimate upstream needs it.
func (g *Guard) resolve(ctx context.Context, network, host string, port uint16) ([]netip.Addr, error) {
	norm, err := NormalizeHost(host)
	if err != nil {
		return nil, err
	}
	var addrs []netip.Addr
	if a, ok := ParseIPLiteral(norm); ok {
		addrs = []netip.Addr{a}
	} else if pinned, ok := g.pins[norm]; ok {
		addrs = pinned
	} else {
		ipnet := "ip" + strings.TrimPrefix(network, "tcp") // "ip", "ip4" or "ip6"
		if addrs, err = g.resolver.LookupNetIP(ctx, ipnet, norm); err != nil {
			return nil, err
		}
	}
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		a = a.Unmap()
		if network == "tcp4" && !a.Is4() || network == "tcp6" && !a.Is6() {
			continue
		}
		if err := g.checkAddr(norm, port, a); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	if len(out) == 0 {
		return nil, domain.Errorf(domain.CodeDestinationBlocked, "host %q has no %s address", norm, network)
	}
	return out, nil
}

// CheckHost reports whether host may be named as a destination at all,
// before any DNS: an IP literal is checked as the address it is, a pinned
// name as its pinned addresses, and "localhost" (or a name under
// .localhost) as loopback. Other names pass; their addresses are checked
// when dialled. Exceptions are not consulted, since they name a port.
func (g *Guard) CheckHost(host string) error {
	norm, err := NormalizeHost(host)
	if err != nil {
		return err
	}
	var addrs []netip.Addr
	switch a, ok := ParseIPLiteral(norm); {
	case ok:
		addrs = []netip.Addr{a}
	case g.pins[norm] != nil:
		addrs = g.pins[norm]
	case norm == "localhost" || strings.HasSuffix(norm, ".localhost"):
		addrs = []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1}), netip.IPv6Loopback()}
	}
	for _, a := range addrs {
		if err := g.checkAddr(norm, 0, a); err != nil {
			return err
		}
	}
	return nil
}

// CheckHost is [Guard.CheckHost] for a guard with only AllowPrivate set, for
// validating service definitions: they may name an IP literal or localhost
// in a private range only while private ranges are allowed.
func CheckHost(host string, allowPrivate bool) error {
	g, _ := New(Options{AllowPrivate: allowPrivate})
	return g.CheckHost(host)
}

// checkAddr decides one address that host resolved to; port 0 means "any
// port" and matches no exception.
func (g *Guard) checkAddr(host string, port uint16, a netip.Addr) error {
	a = a.WithZone("").Unmap()
	c, name := classify(a)
	switch {
	case c == classPublic:
		return nil
	case c == classMetadata && !literal(host, a):
		return domain.Errorf(domain.CodeDestinationBlocked, "host %q resolves to an address that is always blocked", host)
	case c == classMetadata:
		return domain.Errorf(domain.CodeDestinationBlocked, "address %s, a cloud metadata endpoint (%s), which is always blocked", host, name)
	case g.allowPrivate || g.allowedHost(host) || slices.ContainsFunc(g.allowNets, func(p netip.Prefix) bool { return p.Contains(a) }):
		return nil
	case port != 0 && g.exceptions[net.JoinHostPort(host, strconv.Itoa(int(port)))]:
		return nil
	}
	if !literal(host, a) {
		// What a name resolves to is not told: the message reaches
		// agents, who could otherwise map an internal network by name.
		return domain.Errorf(domain.CodeDestinationBlocked,
			"host %q resolves to an address that is not public; allow it with AGENT_VAULT_NETWORK_ALLOWLIST or AGENT_VAULT_ALLOW_PRIVATE_RANGES=true", host)
	}
	return domain.Errorf(domain.CodeDestinationBlocked,
		"address %s, in the %s range; allow it with AGENT_VAULT_NETWORK_ALLOWLIST or AGENT_VAULT_ALLOW_PRIVATE_RANGES=true", host, name)
}

// literal reports whether host is the address a itself (with or without
// a zone), so naming it in a message tells the caller nothing new.
func literal(host string, a netip.Addr) bool {
	h, _, _ := strings.Cut(host, "%")
	return h == a.String()
}

func (g *Guard) allowedHost(host string) bool {
	for _, h := range g.allowHosts {
		if suffix, ok := strings.CutPrefix(h, "*"); ok {
			if strings.HasSuffix(host, suffix) {
				return true
			}
		} else if h == host {
			return true
		}
	}
	return false
}

func configError(field, format string, args ...any) error {
	return domain.FieldError(domain.CodeInvalidNetworkConfig, field, format, args...)
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("port %q is not a number from 1 to 65535", s)
	}
	return uint16(n), nil
}

// parseOrigin reads "host:port" or a URL into a normalised host and port.
func parseOrigin(o string) (string, uint16, error) {
	var host, portStr string
	if strings.Contains(o, "://") {
		u, err := url.Parse(o)
		if err != nil || u.Host == "" {
			return "", 0, configError("", "exception %q is not a valid URL", o)
		}
		host, portStr = u.Hostname(), u.Port()
		if portStr == "" {
			switch u.Scheme {
			case "http":
				portStr = "80"
			case "https":
				portStr = "443"
			default:
				return "", 0, configError("", "exception %q has scheme %q and no port", o, u.Scheme)
			}
		}
	} else {
		var err error
		if host, portStr, err = net.SplitHostPort(o); err != nil {
			return "", 0, configError("", "exception %q is not host:port or a URL", o)
		}
	}
	port, err := parsePort(portStr)
	if err != nil {
		return "", 0, configError("", "exception %q: %v", o, err)
	}
	norm, err := NormalizeHost(host)
	if err != nil {
		return "", 0, configError("", "exception %q: %v", o, err)
	}
	return norm, port, nil
}

func normalizeAllowHost(h string) (string, error) {
	wild := strings.HasPrefix(h, "*.")
	n, err := NormalizeHost(strings.TrimPrefix(h, "*."))
	if err != nil {
		return "", configError("", "allowlist entry %q: %v", h, err)
	}
	if _, ok := ParseIPLiteral(n); ok {
		if wild {
			return "", configError("", "allowlist entry %q: a wildcard needs a domain name", h)
		}
		return "", configError("", "allowlist entry %q is an address; list it as a range", h)
	}
	if wild {
		return "*." + n, nil
	}
	return n, nil
}

func normalizePinName(name string) (string, error) {
	n, err := NormalizeHost(name)
	if err != nil {
		return "", configError("", "pinned name %q: %v", name, err)
	}
	if _, ok := ParseIPLiteral(n); ok {
		return "", configError("", "pinned name %q is an address, not a name", name)
	}
	return n, nil
}

func unmapPrefix(p netip.Prefix) netip.Prefix {
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p
}

// Interface guards
var _ Resolver = (*net.Resolver)(nil)

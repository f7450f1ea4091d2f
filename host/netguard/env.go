package netguard

import (
	"net/netip"
	"strconv"
	"strings"
)

// Environment variables read by [FromEnv].
const (
	EnvAllowPrivate = "AGENT_VAULT_ALLOW_PRIVATE_RANGES"
	EnvAllowlist    = "AGENT_VAULT_NETWORK_ALLOWLIST"
	EnvResolve      = "AGENT_VAULT_RESOLVE"
)

// FromEnv reads the guard settings from the environment through getenv
// (os.Getenv in the server, a map in tests):
//
//	AGENT_VAULT_ALLOW_PRIVATE_RANGES=true          (strconv.ParseBool; empty is false)
//	AGENT_VAULT_NETWORK_ALLOWLIST=10.0.0.0/8,192.168.1.7,vault.internal,*.corp.example
//	AGENT_VAULT_RESOLVE=api.example.com:10.0.0.5,api.example.com:[fd00::5]
//
// Entries are comma-separated; blanks around them are ignored. A name may be
// pinned to several addresses by repeating it. Errors carry
// [domain.CodeInvalidNetworkConfig] and name the variable in Field. Resolver
// and Dialer are left nil.
func FromEnv(getenv func(string) string) (Options, error) {
	var o Options
	var err error
	if v := strings.TrimSpace(getenv(EnvAllowPrivate)); v != "" {
		if o.AllowPrivate, err = strconv.ParseBool(v); err != nil {
			return Options{}, configError(EnvAllowPrivate, "%q is not a boolean; use true or false", v)
		}
	}
	if o.AllowNets, o.AllowHosts, err = parseAllowlist(getenv(EnvAllowlist)); err != nil {
		return Options{}, err
	}
	if o.Pins, err = parseResolve(getenv(EnvResolve)); err != nil {
		return Options{}, err
	}
	return o, nil
}

// parseAllowlist splits an AGENT_VAULT_NETWORK_ALLOWLIST value into ranges
// (CIDRs; a bare IP is a one-address range) and normalised host names
// ("*.example.com" wildcards kept). A cloud metadata address listed on its
// own is refused, since it can never be allowed.
func parseAllowlist(s string) ([]netip.Prefix, []string, error) {
	var nets []netip.Prefix
	var hosts []string
	for _, e := range splitList(s) {
		if strings.Contains(e, "/") {
			p, err := netip.ParsePrefix(e)
			if err != nil {
				return nil, nil, configError(EnvAllowlist, "%q is not a CIDR range", e)
			}
			nets = append(nets, unmapPrefix(p.Masked()))
			continue
		}
		if a, ok := ParseIPLiteral(e); ok {
			a = a.WithZone("")
			if c, name := classify(a); c == classMetadata {
				return nil, nil, configError(EnvAllowlist, "%s is a cloud metadata endpoint (%s) and is always blocked", a, name)
			}
			nets = append(nets, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		h, err := normalizeAllowHost(e)
		if err != nil {
			return nil, nil, configError(EnvAllowlist, "%q is not a CIDR range, an address or a host name", e)
		}
		hosts = append(hosts, h)
	}
	return nets, hosts, nil
}

// parseResolve reads an AGENT_VAULT_RESOLVE value: comma-separated
// "name:address" pairs, the address an IP literal (IPv6 may be bracketed).
func parseResolve(s string) (map[string][]netip.Addr, error) {
	pins := map[string][]netip.Addr{}
	for _, e := range splitList(s) {
		name, addr, ok := strings.Cut(e, ":")
		if !ok || name == "" || addr == "" {
			return nil, configError(EnvResolve, "%q is not name:address", e)
		}
		n, err := normalizePinName(name)
		if err != nil {
			return nil, configError(EnvResolve, "%q: the name is not a valid host name", e)
		}
		a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]"))
		if err != nil {
			return nil, configError(EnvResolve, "%q: %q is not an IP address", e, addr)
		}
		pins[n] = append(pins[n], a.Unmap())
	}
	return pins, nil
}

func splitList(s string) []string {
	var out []string
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

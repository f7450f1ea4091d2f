package netguard

import (
	"net/netip"
	"strings"

	"golang.org/x/net/idna"

	"github.com/agent-vault/agent-vault/host/domain"
)

// maxHostLen is the longest DNS name (RFC 1035 §2.3.4).
const maxHostLen = 253

// NormalizeHost returns the one canonical spelling of a host as it may
// appear in a URL, a CONNECT target or a service definition, so that checks
// and dials agree on what it means:
//
//   - IPv4 in any form inet_aton(3) accepts — decimal "2130706433", octal
//     "0177.0.0.1", hex "0x7f.0.0.1" or "0x7f000001", short "127.1" —
//     becomes dotted decimal "127.0.0.1";
//   - IPv6, bracketed or not, with or without a zone ("%eth0" or the
//     URL-escaped "%25eth0"), becomes its RFC 5952 form; an IPv4-mapped
//     address ("::ffff:127.0.0.1", "::ffff:7f00:1") becomes plain IPv4;
//   - a name is lower-cased, loses one trailing dot, and is converted to
//     its ASCII (punycode) form.
//
// As in the WHATWG URL standard, a host whose last label is a number must be
// a valid IPv4 address: "1.2.3.256" and "example.0x1" are errors, not names.
// Errors carry [domain.CodeInvalidHost].
func NormalizeHost(host string) (string, error) {
	if a, ok, err := parseIP(host); err != nil {
		return "", err
	} else if ok {
		return a.String(), nil
	}
	return normalizeName(host)
}

// ParseIPLiteral reports whether host is an IP literal in any of the forms
// [NormalizeHost] accepts and returns the address, IPv4-mapped addresses
// unmapped.
func ParseIPLiteral(host string) (netip.Addr, bool) {
	a, ok, err := parseIP(host)
	return a, ok && err == nil
}

func invalidHost(host, why string) error {
	return domain.Errorf(domain.CodeInvalidHost, "host %q %s", host, why)
}

// parseIP returns ok=false, err=nil when host is a name rather than an IP
// literal.
func parseIP(host string) (netip.Addr, bool, error) {
	if host == "" {
		return netip.Addr{}, false, invalidHost(host, "is empty")
	}
	if len(host) > maxHostLen+2 {
		return netip.Addr{}, false, invalidHost(host[:16]+"…", "is too long")
	}
	s := host
	bracketed := strings.HasPrefix(s, "[")
	if bracketed {
		if !strings.HasSuffix(s, "]") {
			return netip.Addr{}, false, invalidHost(host, "has an unclosed bracket")
		}
		s = s[1 : len(s)-1]
	}
	if bracketed || strings.Contains(s, ":") {
		// URLs escape the zone separator as %25 (RFC 6874).
		if i := strings.Index(s, "%25"); i >= 0 {
			s = s[:i] + "%" + s[i+3:]
		}
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is6() {
			return netip.Addr{}, false, invalidHost(host, "is not a valid IPv6 address")
		}
		if a.Is4In6() {
			a = a.Unmap()
		}
		return a, true, nil
	}
	s = strings.TrimSuffix(s, ".")
	labels := strings.Split(s, ".")
	if !isNumericLabel(labels[len(labels)-1]) {
		return netip.Addr{}, false, nil
	}
	a, ok := parseLegacyIPv4(labels)
	if !ok {
		return netip.Addr{}, false, invalidHost(host, "ends in a number but is not a valid IPv4 address")
	}
	return a, true, nil
}

// isNumericLabel is the WHATWG "ends in a number" test for one label.
func isNumericLabel(l string) bool {
	if l == "" {
		return false
	}
	if strings.HasPrefix(l, "0x") || strings.HasPrefix(l, "0X") {
		return strings.Trim(l[2:], "0123456789abcdefABCDEF") == ""
	}
	return strings.Trim(l, "0123456789") == ""
}

// parseLegacyIPv4 implements inet_aton(3): one to four parts, each decimal,
// octal (leading 0) or hex (leading 0x); the last part fills the remaining
// bytes, so "127.1" is 127.0.0.1 and "2130706433" is 127.0.0.1 too.
func parseLegacyIPv4(parts []string) (netip.Addr, bool) {
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var nums [4]uint64
	for i, p := range parts {
		n, ok := parseIPv4Part(p)
		if !ok {
			return netip.Addr{}, false
		}
		nums[i] = n
	}
	last := len(parts) - 1
	var v uint64
	for i := 0; i < last; i++ {
		if nums[i] > 0xff {
			return netip.Addr{}, false
		}
		v |= nums[i] << (8 * (3 - i))
	}
	if nums[last] >= 1<<(8*(4-last)) {
		return netip.Addr{}, false
	}
	v |= nums[last]
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

func parseIPv4Part(p string) (uint64, bool) {
	base, digits := uint64(10), p
	switch {
	case strings.HasPrefix(p, "0x") || strings.HasPrefix(p, "0X"):
		base, digits = 16, p[2:]
	case len(p) > 1 && p[0] == '0':
		base, digits = 8, p[1:]
	}
	if digits == "" {
		return 0, false
	}
	var n uint64
	for _, c := range []byte(digits) {
		var d uint64
		switch {
		case c >= '0' && c <= '9':
			d = uint64(c - '0')
		case c >= 'a' && c <= 'f':
			d = uint64(c-'a') + 10
		case c >= 'A' && c <= 'F':
			d = uint64(c-'A') + 10
		default:
			return 0, false
		}
		if d >= base {
			return 0, false
		}
		n = n*base + d
		if n > 0xffffffff {
			return 0, false
		}
	}
	return n, true
}

// nameProfile converts internationalised names to ASCII without STD3's ban on
// underscores, which internal host names do use.
var nameProfile = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.StrictDomainName(false))

func normalizeName(host string) (string, error) {
	s := strings.TrimSuffix(host, ".")
	if !isASCII(s) {
		a, err := nameProfile.ToASCII(s)
		if err != nil {
			return "", invalidHost(host, "is not a valid internationalised domain name")
		}
		s = a
	}
	s = strings.ToLower(s)
	if s == "" || len(s) > maxHostLen {
		return "", invalidHost(host, "must be 1 to 253 characters long")
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" || len(l) > 63 {
			return "", invalidHost(host, "has an empty label or one longer than 63 characters")
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return "", invalidHost(host, "has a label that starts or ends with a hyphen")
		}
		for _, c := range []byte(l) {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return "", invalidHost(host, "may contain only letters, digits, hyphens, underscores and dots")
			}
		}
	}
	return s, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

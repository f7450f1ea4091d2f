package broker

import "strings"

// Paths: the matcher and the upstream must read one path the same way, or
// "/v1/..;/admin" borrows the credential of an "api.x.com/v1/*" service and
// lands on /admin. So the proxy matches the path in one canonical escaped
// form and forwards exactly that form, and it refuses a path whose meaning
// depends on how the upstream decodes it, when the host has a path-scoped
// service (for a host-wide service the path does not matter).
//
// The canonical form of an escaped path: "%XX" of an unreserved character
// (RFC 3986: ALPHA DIGIT - . _ ~) is decoded, every other escape is kept
// with upper-case hex, and a raw byte that may not appear in a path is
// escaped. "%2F" stays an escape: it is not a "/" to the matcher.

// canonicalPath returns the canonical form of an escaped path, and whether
// the escapes were all well formed. It returns escaped itself (no copy)
// when that is already canonical, which is the common case.
func canonicalPath(escaped string) (string, bool) {
	i := 0
	for ; i < len(escaped); i++ {
		if c := escaped[i]; c == '%' || !pathByte(c) {
			break
		}
	}
	if i == len(escaped) {
		return escaped, true
	}
	var b strings.Builder
	b.Grow(len(escaped) + 8)
	b.WriteString(escaped[:i])
	for ; i < len(escaped); i++ {
		c := escaped[i]
		switch {
		case c == '%':
			if i+2 >= len(escaped) || !isHex(escaped[i+1]) || !isHex(escaped[i+2]) {
				return "", false
			}
			d := unhex(escaped[i+1])<<4 | unhex(escaped[i+2])
			i += 2
			if unreserved(d) {
				b.WriteByte(d)
			} else {
				writeEscape(&b, d)
			}
		case pathByte(c):
			b.WriteByte(c)
		default:
			writeEscape(&b, c)
		}
	}
	return b.String(), true
}

// ambiguousPath reports why a canonical path could reach an upstream as a
// different path than the one matched, or "" when it cannot.
func ambiguousPath(canon string) string {
	if strings.IndexByte(canon, ';') >= 0 {
		return `it has ";" path parameters, which some servers strip ("/v1/..;/admin")`
	}
	if strings.Contains(canon, "%25") {
		return "it holds an encoded '%' (double encoding such as %252e), which a server that decodes twice reads differently"
	}
	if strings.Contains(canon, "%5C") || strings.IndexByte(canon, '\\') >= 0 {
		return "it holds a backslash, which some servers read as '/'"
	}
	// Dot segments, with "%2F" read as a separator too: an upstream that
	// decodes it before resolving dots climbs out of the matched prefix.
	for rest := canon; rest != ""; {
		seg := rest
		end, next := len(rest), len(rest)
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			end, next = j, j+1
		}
		if j := strings.Index(rest[:end], "%2F"); j >= 0 {
			end, next = j, j+3
		}
		seg, rest = rest[:end], rest[next:]
		if seg == "." || seg == ".." {
			return `it has a "." or ".." segment (plain or encoded)`
		}
	}
	return ""
}

// decodedPath is canon with every escape decoded: what a server that
// decodes "%2F" before routing would see.
func decodedPath(canon string) string {
	if strings.IndexByte(canon, '%') < 0 {
		return canon
	}
	var b strings.Builder
	b.Grow(len(canon))
	for i := 0; i < len(canon); i++ {
		if c := canon[i]; c == '%' && i+2 < len(canon) {
			b.WriteByte(unhex(canon[i+1])<<4 | unhex(canon[i+2]))
			i += 2
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// pathByte reports whether c may appear unescaped in a canonical path:
// unreserved, sub-delims, ':', '@' and '/'.
func pathByte(c byte) bool {
	return unreserved(c) || strings.IndexByte("!$&'()*+,;=:@/", c) >= 0
}

func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	default:
		return c - 'a' + 10
	}
}

func writeEscape(b *strings.Builder, c byte) {
	const hex = "0123456789ABCDEF"
	b.WriteByte('%')
	b.WriteByte(hex[c>>4])
	b.WriteByte(hex[c&15])
}

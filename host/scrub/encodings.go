package scrub

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strings"
)

// MinValueLen is the shortest value that is matched. A shorter value
// (a PIN, "admin") occurs in ordinary traffic too often: scrubbing it
// would mangle responses and blocking it would stop unrelated requests.
const MinValueLen = 8

// MaxPatternLen caps one encoded form. A longer form is matched by its
// first MaxPatternLen bytes, which bounds what a stream holds back; the
// rest of such a value (a PEM key) is not replaced.
const MaxPatternLen = 16 << 10

// Variants returns the forms of v that are matched: the value itself and
// its common encodings, each at least MinValueLen bytes, without
// duplicates. v shorter than MinValueLen has none.
//
//   - standard and URL-safe base64: the characters that depend on v
//     alone, for v starting at each of the three byte offsets of a
//     group, so the value is found inside the base64 of a larger blob
//     too. The one to three characters of a partial last group also
//     depend on what follows v and are not part of the pattern; they are
//     left in place when the rest is replaced;
//   - hexadecimal, lower and upper case;
//   - percent-encoding as a query (space as +) and as a path segment,
//     with upper- and lower-case hex digits;
//   - JSON string escaping, with and without HTML escaping and with "/"
//     escaped as "\/".
//
// The base64 of "user:password" that basic auth sends is a value of its
// own: the caller passes it (see BasicAuth).
func Variants(v string) [][]byte {
	if len(v) < MinValueLen {
		return nil
	}
	var out [][]byte
	add := func(b []byte) {
		if len(b) < MinValueLen {
			return
		}
		if len(b) > MaxPatternLen {
			b = b[:MaxPatternLen]
		}
		for _, have := range out {
			if bytes.Equal(have, b) {
				return
			}
		}
		out = append(out, b)
	}
	raw := []byte(v)
	add(raw)
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		for shift := 0; shift <= 2; shift++ {
			add(shiftedBase64(enc, raw, shift))
		}
	}
	h := hex.EncodeToString(raw)
	add([]byte(h))
	add([]byte(strings.ToUpper(h)))
	for _, p := range []string{url.QueryEscape(v), url.PathEscape(v)} {
		add([]byte(p))
		add([]byte(lowerPercent(p)))
	}
	add(jsonString(v, false))
	js := jsonString(v, true)
	add(js)
	add(bytes.ReplaceAll(js, []byte("/"), []byte(`\/`)))
	return out
}

// BasicAuth is the credential of an HTTP basic Authorization header, whose
// base64 differs from the base64 of either half.
func BasicAuth(user, password string) string { return user + ":" + password }

// shiftedBase64 is the part of the base64 of v that is the same wherever v
// sits, when v starts shift bytes into a 3-byte group: the characters
// that mix in bytes before or after v are dropped.
func shiftedBase64(enc *base64.Encoding, v []byte, shift int) []byte {
	buf := make([]byte, shift+len(v))
	copy(buf[shift:], v)
	s := enc.EncodeToString(buf)
	// The first group mixes in the leading bytes: with shift 1 its first
	// two characters carry them, with shift 2 its first three.
	lead := []int{0, 2, 3}[shift]
	// A partial last group mixes in whatever follows v.
	total := shift + len(v)
	full := total / 3 * 4
	if total%3 != 0 {
		s = s[:full]
	}
	if lead >= len(s) {
		return nil
	}
	return []byte(s[lead:])
}

// lowerPercent lower-cases the hex digits of percent escapes.
func lowerPercent(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1], b[i+2] = lowerHex(b[i+1]), lowerHex(b[i+2])
			i += 2
		}
	}
	return string(b)
}

func lowerHex(c byte) byte {
	if c >= 'A' && c <= 'F' {
		return c + 'a' - 'A'
	}
	return c
}

// jsonString is v as the inside of a JSON string.
func jsonString(v string, escapeHTML bool) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(escapeHTML)
	enc.Encode(v) //nolint:errcheck // a string always encodes
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	return b[1 : len(b)-1]
}

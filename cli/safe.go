package cli

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Text from the server can come from an agent or an upstream: a proposal's
// message, a proposed host, a logged path, an error. Printed raw, "\x1b[8m"
// hides the lines after it, "\r" overwrites a line, and a bidi override
// shows a host backwards. So every renderer prints through the printer,
// which passes each string through safeText (table cells, sentence
// arguments, errors) or safeJSON (--json): what could steer a terminal is
// shown as a visible escape instead.

// safeText returns s with every character that is not plain visible text
// escaped the way Go writes it: control characters ("\x1b", "\r", "\n",
// "\t"), DEL and C1 controls, Unicode format characters (bidi overrides and
// isolates, zero-width characters, tag characters), line and paragraph
// separators, and bytes that are not UTF-8 ("\xff"). s comes back as it is
// when nothing needs escaping.
func safeText(s string) string { return escapeText(s, false) }

// safeBlock is safeText for multi-line text: newlines stay.
func safeBlock(s string) string { return escapeText(s, true) }

func escapeText(s string, block bool) string {
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if unsafeRune(r, n, block) {
			break
		}
		i += n
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !unsafeRune(r, n, block) {
			b.WriteString(s[i : i+n])
			i += n
			continue
		}
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x80:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r <= 0xFFFF:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
		i += n
	}
	return b.String()
}

// unsafeRune reports whether the rune r, n bytes long, must be escaped.
func unsafeRune(r rune, n int, block bool) bool {
	switch {
	case r == utf8.RuneError && n == 1:
		return true // not UTF-8: a lone 0x9b is CSI to an 8-bit terminal
	case r >= 0x20 && r < 0x7f:
		return false
	case block && r == '\n':
		return false
	}
	return unsafeUnicode(r)
}

// unsafeUnicode: controls (C0, DEL, C1), format characters (Cf: bidi,
// zero-width, tags) and the line and paragraph separators.
func unsafeUnicode(r rune) bool {
	return r < 0x20 || (r >= 0x7f && r <= 0x9f) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029'
}

// safeJSON escapes, inside the JSON text b, what encoding/json leaves raw
// but a terminal may act on: DEL, C1 controls and format characters. They
// can only occur inside strings, where "\uXXXX" means the same character,
// so the document still decodes to the same values.
func safeJSON(b []byte) []byte {
	i := 0
	for i < len(b) {
		r, n := utf8.DecodeRune(b[i:])
		if r >= 0x7f && unsafeUnicode(r) {
			break
		}
		i += n
	}
	if i == len(b) {
		return b
	}
	out := append(make([]byte, 0, len(b)+16), b[:i]...)
	for i < len(b) {
		r, n := utf8.DecodeRune(b[i:])
		if r < 0x7f || !unsafeUnicode(r) {
			out = append(out, b[i:i+n]...)
		} else if r <= 0xFFFF {
			out = fmt.Appendf(out, `\u%04x`, r)
		} else {
			r1, r2 := utf16Pair(r)
			out = fmt.Appendf(out, `\u%04x\u%04x`, r1, r2)
		}
		i += n
	}
	return out
}

func utf16Pair(r rune) (rune, rune) {
	r -= 0x10000
	return 0xd800 + (r>>10)&0x3ff, 0xdc00 + r&0x3ff
}

// safeArgs returns a sentence's arguments with their text made safe.
func safeArgs(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case string:
			out[i] = safeText(v)
		case []string:
			s := make([]string, len(v))
			for j := range v {
				s[j] = safeText(v[j])
			}
			out[i] = s
		case error:
			out[i] = safeBlock(v.Error())
		case fmt.Stringer:
			out[i] = safeText(v.String())
		default:
			out[i] = a
		}
	}
	return out
}

package main

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// secretPair is one listed secret's key and value.
type secretPair struct{ key, value string }

// parseSecretList reads the secretKey and secretValue of every entry of
// the "secrets" array of a list-secrets answer and skips everything else.
//
// It exists for speed: encoding/json's reflection and per-byte scanner
// calls are slow in wasm under the host's deadline checks, and a folder
// answers ~490 bytes per secret in one unpaginated response. It accepts
// what encoding/json accepts for this shape (FuzzParseSecretList checks).
func parseSecretList(b []byte) ([]secretPair, error) {
	s := &jscan{b: b}
	var out []secretPair
	err := s.object(func(key []byte) error {
		// encoding/json matches field names case-insensitively; so do we.
		if !equalFold(key, keySecrets) {
			return s.skip()
		}
		if s.null() {
			out = nil
			return nil
		}
		out = out[:0]
		return s.array(func() error {
			var p secretPair
			if s.null() {
				out = append(out, p)
				return nil
			}
			err := s.object(func(field []byte) error {
				var err error
				switch {
				case equalFold(field, keySecretKey):
					p.key, err = s.stringOrNull(p.key)
				case equalFold(field, keySecretValue):
					p.value, err = s.stringOrNull(p.value)
				default:
					err = s.skip()
				}
				return err
			})
			out = append(out, p)
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	s.ws()
	if s.i != len(s.b) {
		return nil, s.fail("trailing data")
	}
	return out, nil
}

var (
	keySecrets     = []byte("secrets")
	keySecretKey   = []byte("secretKey")
	keySecretValue = []byte("secretValue")
)

// equalFold is bytes.EqualFold behind a length check, which rules out most
// keys without a loop. Only ASCII letters and the two non-ASCII runes that
// fold to 's' or 'k' (U+017F, U+212A; 2 and 3 bytes) can match, so a key
// more than 3 bytes per byte of the name cannot.
func equalFold(key, name []byte) bool {
	return len(key) >= len(name) && len(key) <= 3*len(name) && bytes.EqualFold(key, name)
}

// jscan is a minimal JSON reader over a byte slice. Keys and skipped values
// are never turned into Go strings: a folder's answer has ~15 of them per
// secret, and allocating each one made parsing GC-bound in wasm.
//
// In wasm every taken branch of Go code is a wasm loop back-edge, and with
// the host's per-call deadline (wazero's WithCloseOnContextDone) every
// back-edge is a call out to the host's Go code: tens of nanoseconds. A
// byte-at-a-time loop over a 5 MB answer costs ~200 ms there. So the hot
// loops look at eight bytes per iteration.
type jscan struct {
	b     []byte
	i     int
	depth int
}

const maxDepth = 512

func (s *jscan) fail(what string) error {
	if s.i >= len(s.b) {
		what = "unexpected end"
	}
	return fmt.Errorf("invalid JSON at byte %d: %s", s.i, what)
}

func (s *jscan) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek skips whitespace and returns the next byte (0 at the end).
func (s *jscan) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *jscan) expect(c byte) error {
	if s.peek() != c {
		return s.fail(fmt.Sprintf("want %q", c))
	}
	s.i++
	return nil
}

// null consumes a null literal when one is next.
func (s *jscan) null() bool {
	if s.peek() == 'n' && s.literal("null") == nil {
		return true
	}
	return false
}

func (s *jscan) literal(lit string) error {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return s.fail("bad literal")
	}
	s.i += len(lit)
	return nil
}

// object reads {"key": value, ...}, calling field for each key with the
// scanner positioned at the value. The key is only valid during the call.
func (s *jscan) object(field func(key []byte) error) error {
	if err := s.expect('{'); err != nil {
		return err
	}
	if s.depth++; s.depth > maxDepth {
		return s.fail("nested too deeply")
	}
	defer func() { s.depth-- }()
	if s.peek() == '}' {
		s.i++
		return nil
	}
	for {
		if s.peek() != '"' {
			return s.fail("want a key")
		}
		key, err := s.rawStr()
		if err != nil {
			return err
		}
		if err := s.expect(':'); err != nil {
			return err
		}
		s.ws()
		if err := field(key); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return s.fail("want , or }")
		}
	}
}

// array reads [value, ...], calling elem with the scanner at each value.
func (s *jscan) array(elem func() error) error {
	if err := s.expect('['); err != nil {
		return err
	}
	if s.depth++; s.depth > maxDepth {
		return s.fail("nested too deeply")
	}
	defer func() { s.depth-- }()
	if s.peek() == ']' {
		s.i++
		return nil
	}
	for {
		s.ws()
		if err := elem(); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return nil
		default:
			return s.fail("want , or ]")
		}
	}
}

// stringOrNull reads a string; null keeps prev, as encoding/json does.
func (s *jscan) stringOrNull(prev string) (string, error) {
	switch s.peek() {
	case '"':
		return s.str()
	case 'n':
		return prev, s.literal("null")
	}
	return "", s.fail("want a string")
}

// skip reads and discards one value.
func (s *jscan) skip() error {
	switch c := s.peek(); {
	case c == '"':
		_, err := s.rawStr()
		return err
	case c == '{':
		return s.object(func([]byte) error { return s.skip() })
	case c == '[':
		return s.array(s.skip)
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	}
	return s.fail("want a value")
}

// number checks JSON number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *jscan) number() error {
	digits := func() int {
		n := 0
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
			n++
		}
		return n
	}
	if s.b[s.i] == '-' {
		s.i++
	}
	if s.i < len(s.b) && s.b[s.i] == '0' {
		s.i++
	} else if digits() == 0 {
		return s.fail("bad number")
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if digits() == 0 {
			return s.fail("bad number")
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if digits() == 0 {
			return s.fail("bad number")
		}
	}
	return nil
}

var errBadString = errors.New("bad string")

// str reads a string at s.i (which is '"'), unescaping as encoding/json
// does (invalid UTF-8 and lone surrogates become U+FFFD).
func (s *jscan) str() (string, error) {
	raw, err := s.rawStr()
	if err != nil {
		return "", err
	}
	if utf8.Valid(raw) {
		return string(raw), nil
	}
	return string([]rune(string(raw))), nil
}

// rawStr reads a string at s.i (which is '"') and returns its unescaped
// bytes without checking UTF-8: a slice of the input when the string has no
// escapes (no allocation, the common case), else a new buffer.
func (s *jscan) rawStr() ([]byte, error) {
	s.i++
	start := s.i
	s.plainRun()
	// Fast path: no escapes.
	for s.i < len(s.b) {
		c := s.b[s.i]
		if c == '"' {
			raw := s.b[start:s.i:s.i]
			s.i++
			return raw, nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		s.i++
	}
	buf := append([]byte(nil), s.b[start:s.i]...)
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return buf, nil
		case c < 0x20:
			return nil, s.fail("control character in string")
		case c == '\\':
			if s.i+1 >= len(s.b) {
				return nil, s.fail("unfinished escape")
			}
			e := s.b[s.i+1]
			s.i += 2
			switch e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, ok := s.hex4()
				if !ok {
					return nil, s.fail("bad \\u escape")
				}
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if s.i+1 < len(s.b) && s.b[s.i] == '\\' && s.b[s.i+1] == 'u' {
						save := s.i
						s.i += 2
						if v, ok := s.hex4(); ok {
							r2 = v
						} else {
							return nil, s.fail("bad \\u escape")
						}
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							buf = utf8.AppendRune(buf, dec)
							continue
						}
						s.i = save
					}
					r = utf8.RuneError
				}
				buf = utf8.AppendRune(buf, r)
			default:
				return nil, s.fail("bad escape")
			}
		default:
			buf = append(buf, c)
			s.i++
		}
	}
	return nil, s.fail(errBadString.Error())
}

// plainRun advances s.i over string bytes that need no attention (not '"',
// '\\' or a control character), eight at a time: a byte loop costs tens of
// nanoseconds a byte in wasm, and most of a folder's answer is strings.
func (s *jscan) plainRun() {
	for s.i+8 <= len(s.b) {
		// One 8-byte load (i64.load in wasm; encoding/binary would be
		// eight byte loads there). Unaligned loads are fine on wasm and on
		// the native test targets; the test below is byte-order independent.
		x := *(*uint64)(unsafe.Pointer(&s.b[s.i]))
		if special(x) != 0 {
			return
		}
		s.i += 8
	}
}

// special is non-zero iff some byte of x is < 0x20, '"' or '\\' (the
// classic "has a byte less than n" bit trick, exact as a test for any such
// byte, whatever the byte order).
func special(x uint64) uint64 {
	const (
		lo = 0x0101010101010101
		hi = 0x8080808080808080
	)
	q, bs := x^(lo*'"'), x^(lo*'\\')
	return (x-lo*0x20)&^x&hi | (q-lo)&^q&hi | (bs-lo)&^bs&hi
}

func (s *jscan) hex4() (rune, bool) {
	if len(s.b)-s.i < 4 {
		return 0, false
	}
	v, err := strconv.ParseUint(string(s.b[s.i:s.i+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	s.i += 4
	return rune(v), true
}

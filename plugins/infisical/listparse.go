package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
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
	err := s.object(func(key string) error {
		// encoding/json matches field names case-insensitively; so do we.
		if !strings.EqualFold(key, "secrets") {
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
			err := s.object(func(field string) error {
				var err error
				switch {
				case strings.EqualFold(field, "secretKey"):
					p.key, err = s.stringOrNull(p.key)
				case strings.EqualFold(field, "secretValue"):
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

// jscan is a minimal JSON reader over a byte slice.
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
// scanner positioned at the value.
func (s *jscan) object(field func(key string) error) error {
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
		key, err := s.str()
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
		_, err := s.str()
		return err
	case c == '{':
		return s.object(func(string) error { return s.skip() })
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
	s.i++
	start := s.i
	// Fast path: no escapes, ASCII or valid UTF-8.
	for s.i < len(s.b) {
		c := s.b[s.i]
		if c == '"' {
			raw := s.b[start:s.i]
			s.i++
			if utf8.Valid(raw) {
				return string(raw), nil
			}
			return string([]rune(string(raw))), nil
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
			if utf8.Valid(buf) {
				return string(buf), nil
			}
			return string([]rune(string(buf))), nil
		case c < 0x20:
			return "", s.fail("control character in string")
		case c == '\\':
			if s.i+1 >= len(s.b) {
				return "", s.fail("unfinished escape")
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
					return "", s.fail("bad \\u escape")
				}
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if s.i+1 < len(s.b) && s.b[s.i] == '\\' && s.b[s.i+1] == 'u' {
						save := s.i
						s.i += 2
						if v, ok := s.hex4(); ok {
							r2 = v
						} else {
							return "", s.fail("bad \\u escape")
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
				return "", s.fail("bad escape")
			}
		default:
			buf = append(buf, c)
			s.i++
		}
	}
	return "", s.fail(errBadString.Error())
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

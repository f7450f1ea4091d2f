// Package sdkjson reads and writes JSON without reflection, for plugins
// that must load fast.
//
// encoding/json's reflection-driven codec, with the sorting and number
// formatting it brings along, is about a megabyte of a plugin's wasm, and
// the host decodes, validates and checksums every byte of a module each
// time it starts. The SDK's own wire handling (requests, results, the
// manifest, sdk.Fetch) uses this package, so a plugin that uses neither
// encoding/json nor sdk.DecodeConfig does not link encoding/json at all.
//
// A Reader accepts what encoding/json accepts, and gives the same strings
// (invalid UTF-8 and lone surrogates become U+FFFD); EqualFold matches a
// key to a name as encoding/json matches keys to field names. The Append
// functions write the bytes json.Marshal writes for the same values.
package sdkjson

import (
	"bytes"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// Reader reads JSON values from a byte slice, one call per value. Keys and
// skipped values are never turned into Go strings.
//
// Reading is tuned for wasm, where every taken branch of Go code is a loop
// back-edge and, under the host's per-call deadline, each back-edge is a
// call into the host: tens of nanoseconds. A byte-at-a-time loop over a
// 5 MB answer costs ~200 ms there, so the string scan looks at eight bytes
// per iteration.
type Reader struct {
	b     []byte
	i     int
	depth int
}

// maxDepth is encoding/json's nesting limit.
const maxDepth = 10000

// NewReader returns a Reader of data.
func NewReader(data []byte) *Reader { return &Reader{b: data} }

// Offset is the position of the next unread byte.
func (r *Reader) Offset() int { return r.i }

// SyntaxError is input that is not JSON, or not the JSON the caller asked
// for (a number where a string is wanted), at byte Offset.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return "invalid JSON at byte " + strconv.Itoa(e.Offset) + ": " + e.Msg
}

func (r *Reader) fail(msg string) error {
	if r.i >= len(r.b) {
		msg = "unexpected end"
	}
	return &SyntaxError{Offset: r.i, Msg: msg}
}

func (r *Reader) ws() {
	// Compact JSON has no whitespace: return before the loop, whose header
	// alone costs a call into the host in wasm.
	if r.i < len(r.b) && r.b[r.i] > ' ' {
		return
	}
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

// peek skips whitespace and returns the next byte (0 at the end).
func (r *Reader) peek() byte {
	r.ws()
	if r.i < len(r.b) {
		return r.b[r.i]
	}
	return 0
}

// Kind is the kind of a JSON value, named by its first byte.
type Kind byte

const (
	Invalid Kind = 0
	Null    Kind = 'n'
	Bool    Kind = 't'
	Number  Kind = '0'
	String  Kind = '"'
	Array   Kind = '['
	Object  Kind = '{'
)

// Next skips whitespace and reports the kind of the next value, or
// Invalid when none can start there.
func (r *Reader) Next() Kind {
	switch c := r.peek(); {
	case c == '"', c == '{', c == '[', c == 'n':
		return Kind(c)
	case c == 't', c == 'f':
		return Bool
	case c == '-', c >= '0' && c <= '9':
		return Number
	}
	return Invalid
}

func (r *Reader) expect(c byte) error {
	if r.peek() != c {
		return r.fail("want '" + string(rune(c)) + "'")
	}
	r.i++
	return nil
}

func (r *Reader) literal(lit string) error {
	if len(r.b)-r.i < len(lit) || string(r.b[r.i:r.i+len(lit)]) != lit {
		return r.fail("bad literal")
	}
	r.i += len(lit)
	return nil
}

// Null consumes a null when one is next.
func (r *Reader) Null() bool {
	return r.peek() == 'n' && r.literal("null") == nil
}

// Object reads {"key": value, ...}, calling field for each key with the
// Reader at the value, which field must read (or Skip). The key is
// unescaped but may hold invalid UTF-8 (Text converts it as encoding/json
// does), and is only valid during the call.
func (r *Reader) Object(field func(key []byte) error) error {
	if err := r.expect('{'); err != nil {
		return err
	}
	if r.depth++; r.depth > maxDepth {
		return r.fail("nested too deeply")
	}
	defer func() { r.depth-- }()
	if r.peek() == '}' {
		r.i++
		return nil
	}
	for {
		if r.peek() != '"' {
			return r.fail("want a key")
		}
		key, err := r.rawStr()
		if err != nil {
			return err
		}
		if err := r.expect(':'); err != nil {
			return err
		}
		r.ws()
		if err := field(key); err != nil {
			return err
		}
		switch r.peek() {
		case ',':
			r.i++
		case '}':
			r.i++
			return nil
		default:
			return r.fail("want , or }")
		}
	}
}

// Array reads [value, ...], calling elem with the Reader at each value,
// which elem must read (or Skip).
func (r *Reader) Array(elem func() error) error {
	if err := r.expect('['); err != nil {
		return err
	}
	if r.depth++; r.depth > maxDepth {
		return r.fail("nested too deeply")
	}
	defer func() { r.depth-- }()
	if r.peek() == ']' {
		r.i++
		return nil
	}
	for {
		r.ws()
		if err := elem(); err != nil {
			return err
		}
		switch r.peek() {
		case ',':
			r.i++
		case ']':
			r.i++
			return nil
		default:
			return r.fail("want , or ]")
		}
	}
}

// String reads a string.
func (r *Reader) String() (string, error) {
	if r.peek() != '"' {
		return "", r.fail("want a string")
	}
	raw, err := r.rawStr()
	if err != nil {
		return "", err
	}
	return Text(raw), nil
}

// StringOrNull reads a string; a null gives prev, as encoding/json leaves
// a string field alone for null.
func (r *Reader) StringOrNull(prev string) (string, error) {
	if r.Null() {
		return prev, nil
	}
	return r.String()
}

// Text is the string encoding/json makes of unescaped bytes: each byte of
// invalid UTF-8 becomes U+FFFD.
func Text(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return string([]rune(string(b)))
}

// Bool reads true or false.
func (r *Reader) Bool() (bool, error) {
	switch r.peek() {
	case 't':
		return true, r.literal("true")
	case 'f':
		return false, r.literal("false")
	}
	return false, r.fail("want true or false")
}

// Number reads a number and returns its text, which is valid JSON number
// syntax.
func (r *Reader) Number() ([]byte, error) {
	if r.Next() != Number {
		return nil, r.fail("want a number")
	}
	start := r.i
	if err := r.number(); err != nil {
		return nil, err
	}
	return r.b[start:r.i], nil
}

// Int64 reads a number that is an integer in int64's range, as
// encoding/json decodes into an int64 (no fraction, no exponent).
func (r *Reader) Int64() (int64, error) {
	start := r.i
	lit, err := r.Number()
	if err != nil {
		return 0, err
	}
	if len(lit) <= 18 && lit[0] != '-' { // plain digits that cannot overflow: the common case
		var n int64
		for _, c := range lit {
			if c < '0' || c > '9' {
				n = -1
				break
			}
			n = n*10 + int64(c-'0')
		}
		if n >= 0 {
			return n, nil
		}
	}
	n, err := strconv.ParseInt(string(lit), 10, 64)
	if err != nil {
		r.i = start
		r.ws()
		return 0, r.fail("want an integer, not " + string(lit))
	}
	return n, nil
}

// Float64 reads a number as encoding/json decodes it into a float64.
func (r *Reader) Float64() (float64, error) {
	start := r.i
	lit, err := r.Number()
	if err != nil {
		return 0, err
	}
	f, err := strconv.ParseFloat(string(lit), 64)
	if err != nil {
		r.i = start
		r.ws()
		return 0, r.fail("number " + string(lit) + " is out of range")
	}
	return f, nil
}

// Raw reads the next value and returns its bytes, unchanged.
func (r *Reader) Raw() ([]byte, error) {
	r.ws()
	start := r.i
	if err := r.Skip(); err != nil {
		return nil, err
	}
	return r.b[start:r.i], nil
}

// Skip reads and discards the next value.
func (r *Reader) Skip() error {
	switch r.Next() {
	case String:
		_, err := r.rawStr()
		return err
	case Object:
		return r.Object(func([]byte) error { return r.Skip() })
	case Array:
		return r.Array(r.Skip)
	case Bool:
		_, err := r.Bool()
		return err
	case Null:
		return r.literal("null")
	case Number:
		return r.number()
	}
	return r.fail("want a value")
}

// End reports an error unless only whitespace is left.
func (r *Reader) End() error {
	if r.ws(); r.i != len(r.b) {
		return r.fail("trailing data")
	}
	return nil
}

// Valid reports whether data is exactly one JSON value, with optional
// whitespace around it.
func Valid(data []byte) bool {
	r := Reader{b: data}
	return r.Skip() == nil && r.End() == nil
}

// EqualFold reports whether key matches name as encoding/json matches an
// object key to a field name: equal under Unicode simple case folding.
// A length check rules out most keys first: only ASCII letters and the two
// non-ASCII runes that fold to 's' or 'k' (U+017F, U+212A; 2 and 3 bytes)
// can match an ASCII name, so a key more than 3 bytes per byte of the name
// cannot.
func EqualFold(key []byte, name string) bool {
	return len(key) >= len(name) && len(key) <= 3*len(name) && bytes.EqualFold(key, unsafe.Slice(unsafe.StringData(name), len(name)))
}

// number checks the number grammar at r.i:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (r *Reader) number() error {
	digits := func() int {
		n := 0
		for r.i < len(r.b) && r.b[r.i] >= '0' && r.b[r.i] <= '9' {
			r.i++
			n++
		}
		return n
	}
	if r.b[r.i] == '-' {
		r.i++
	}
	if r.i < len(r.b) && r.b[r.i] == '0' {
		r.i++
	} else if digits() == 0 {
		return r.fail("bad number")
	}
	if r.i < len(r.b) && r.b[r.i] == '.' {
		r.i++
		if digits() == 0 {
			return r.fail("bad number")
		}
	}
	if r.i < len(r.b) && (r.b[r.i] == 'e' || r.b[r.i] == 'E') {
		r.i++
		if r.i < len(r.b) && (r.b[r.i] == '+' || r.b[r.i] == '-') {
			r.i++
		}
		if digits() == 0 {
			return r.fail("bad number")
		}
	}
	return nil
}

// rawStr reads the string at r.i (which is '"') and returns its unescaped
// bytes without checking UTF-8: a slice of the input when the string has
// no escapes (no allocation, the common case), else a new buffer.
func (r *Reader) rawStr() ([]byte, error) {
	r.i++
	start := r.i
	r.plainRun()
	// Fast path: no escapes.
	for r.i < len(r.b) {
		c := r.b[r.i]
		if c == '"' {
			raw := r.b[start:r.i:r.i]
			r.i++
			return raw, nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		r.i++
	}
	buf := append([]byte(nil), r.b[start:r.i]...)
	for r.i < len(r.b) {
		c := r.b[r.i]
		switch {
		case c == '"':
			r.i++
			return buf, nil
		case c < 0x20:
			return nil, r.fail("control character in string")
		case c == '\\':
			if r.i+1 >= len(r.b) {
				return nil, r.fail("unfinished escape")
			}
			e := r.b[r.i+1]
			r.i += 2
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
				c, ok := r.hex4()
				if !ok {
					return nil, r.fail("bad \\u escape")
				}
				if utf16.IsSurrogate(c) {
					// A pair makes one rune; a lone half is U+FFFD, and the
					// escape after it is read on its own.
					c2 := rune(-1)
					if r.i+1 < len(r.b) && r.b[r.i] == '\\' && r.b[r.i+1] == 'u' {
						save := r.i
						r.i += 2
						if v, ok := r.hex4(); ok {
							c2 = v
						} else {
							return nil, r.fail("bad \\u escape")
						}
						if dec := utf16.DecodeRune(c, c2); dec != utf8.RuneError {
							buf = utf8.AppendRune(buf, dec)
							continue
						}
						r.i = save
					}
					c = utf8.RuneError
				}
				buf = utf8.AppendRune(buf, c)
			default:
				return nil, r.fail("bad escape")
			}
		default:
			buf = append(buf, c)
			r.i++
		}
	}
	return nil, r.fail("unfinished string")
}

// plainRun advances r.i over string bytes that need no attention (not '"',
// '\\' or a control character), eight at a time.
func (r *Reader) plainRun() {
	for r.i+8 <= len(r.b) {
		// One 8-byte load (i64.load in wasm; encoding/binary would be
		// eight byte loads there). Unaligned loads are fine on wasm and on
		// the native test targets; the test below is byte-order independent.
		x := *(*uint64)(unsafe.Pointer(&r.b[r.i]))
		if special(x) != 0 {
			return
		}
		r.i += 8
	}
}

// Bit tricks on eight bytes at once ("has a byte less than n" and "has a
// byte equal to c"), exact as tests for any such byte in either byte
// order.
const (
	lo = 0x0101010101010101
	hi = 0x8080808080808080
)

// less is non-zero iff some byte of x is below n (n <= 0x80).
func less(x uint64, n byte) uint64 { return (x - lo*uint64(n)) &^ x & hi }

// has is non-zero iff some byte of x is c.
func has(x uint64, c byte) uint64 { y := x ^ (lo * uint64(c)); return (y - lo) &^ y & hi }

// special is non-zero iff some byte of x is < 0x20, '"' or '\\'.
func special(x uint64) uint64 { return less(x, 0x20) | has(x, '"') | has(x, '\\') }

func (r *Reader) hex4() (rune, bool) {
	if len(r.b)-r.i < 4 {
		return 0, false
	}
	var v rune
	for _, c := range r.b[r.i : r.i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		v = v<<4 | rune(c)
	}
	r.i += 4
	return v, true
}

package main

import (
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/agent-vault/agent-vault/sdk/sdkjson"
)

// Infisical's answers are read, and request bodies written, with sdkjson
// rather than encoding/json: its reflection-driven codec is about a
// megabyte of the plugin's wasm, which the host loads on every start. The
// readers decode as encoding/json decodes into the same Go types (member
// names matched regardless of case, null leaving a field alone, unknown
// members skipped, a value of the wrong type an error).

// members lists the member names of an answer object and their readers.
// A slice, not a map: a map literal is a call per member in wasm code.
type members []member

type member struct {
	name string
	read func(r *sdkjson.Reader) error
}

// readObject reads an object, or null, into members.
func readObject(r *sdkjson.Reader, m members) error {
	if r.Null() {
		return nil
	}
	return r.Object(func(key []byte) error {
		for _, f := range m {
			if sdkjson.EqualFold(key, f.name) {
				return f.read(r)
			}
		}
		return r.Skip()
	})
}

// decodeAnswer reads a whole answer body, which must be one object (or
// null).
func decodeAnswer(body []byte, m members) error {
	r := sdkjson.NewReader(body)
	if err := readObject(r, m); err != nil {
		return err
	}
	return r.End()
}

func str(p *string) func(*sdkjson.Reader) error {
	return func(r *sdkjson.Reader) (err error) {
		*p, err = r.StringOrNull(*p)
		return err
	}
}

func integer(p *int64) func(*sdkjson.Reader) error {
	return func(r *sdkjson.Reader) (err error) {
		if !r.Null() {
			*p, err = r.Int64()
		}
		return err
	}
}

// strPtr reads a *string: null makes it nil.
func strPtr(p **string) func(*sdkjson.Reader) error {
	return func(r *sdkjson.Reader) error {
		if r.Null() {
			*p = nil
			return nil
		}
		s, err := r.String()
		*p = &s
		return err
	}
}

// timestamp reads an RFC 3339 time (see parseTime); null leaves it alone,
// as time.Time's UnmarshalJSON does.
func timestamp(p *time.Time, name string) func(*sdkjson.Reader) error {
	return func(r *sdkjson.Reader) error {
		if r.Null() {
			return nil
		}
		bad := errors.New(name + " is not an RFC 3339 time")
		if r.Next() != sdkjson.String {
			if err := r.Skip(); err != nil {
				return err
			}
			return bad
		}
		s, err := r.String()
		if err != nil {
			return err
		}
		t, ok := parseTime(s)
		if !ok {
			return bad
		}
		*p = t
		return nil
	}
}

// object reads a nested object.
func object(m members) func(*sdkjson.Reader) error {
	return func(r *sdkjson.Reader) error { return readObject(r, m) }
}

// array reads an array, or null, into a slice: reset empties the slice
// (encoding/json refills a slice from its start), then elem reads each
// element.
func array(reset func(), elem func(r *sdkjson.Reader) error) func(*sdkjson.Reader) error {
	return func(r *sdkjson.Reader) error {
		reset()
		if r.Null() {
			return nil
		}
		return r.Array(func() error { return elem(r) })
	}
}

// valueTexts reads an object of any values as credential texts (see
// valueText); null leaves *p alone.
func valueTexts(p *map[string]string) func(*sdkjson.Reader) error {
	return func(r *sdkjson.Reader) error {
		if r.Null() {
			*p = nil
			return nil
		}
		if *p == nil {
			*p = map[string]string{}
		}
		return r.Object(func(key []byte) error {
			v, err := valueText(r)
			(*p)[sdkjson.Text(key)] = v
			return err
		})
	}
}

// valueText reads a JSON value as credential text (wire doc §5.4):
// strings as they are, numbers in shortest decimal, booleans as
// true/false, null as "", arrays and objects as compact JSON with object
// keys sorted (what encoding/json gives for the value decoded into an
// any and encoded again).
func valueText(r *sdkjson.Reader) (string, error) {
	switch r.Next() {
	case sdkjson.Null:
		r.Null()
		return "", nil
	case sdkjson.String:
		return r.String()
	case sdkjson.Bool:
		b, err := r.Bool()
		return strconv.FormatBool(b), err
	case sdkjson.Number:
		f, err := r.Float64()
		if math.Abs(f) < 1e21 {
			return strconv.FormatFloat(f, 'f', -1, 64), err
		}
		return strconv.FormatFloat(f, 'g', -1, 64), err
	}
	b, err := appendCanonical(nil, r)
	return string(b), err
}

// appendCanonical re-encodes a value as encoding/json encodes it once
// decoded into an any: numbers as float64, later duplicate keys winning,
// object keys sorted.
func appendCanonical(dst []byte, r *sdkjson.Reader) ([]byte, error) {
	switch r.Next() {
	case sdkjson.String:
		s, err := r.String()
		return sdkjson.AppendString(dst, s), err
	case sdkjson.Number:
		f, err := r.Float64()
		return sdkjson.AppendFloat(dst, f), err
	case sdkjson.Bool:
		b, err := r.Bool()
		return strconv.AppendBool(dst, b), err
	case sdkjson.Array:
		dst = append(dst, '[')
		n := 0
		err := r.Array(func() (err error) {
			if n++; n > 1 {
				dst = append(dst, ',')
			}
			dst, err = appendCanonical(dst, r)
			return err
		})
		return append(dst, ']'), err
	case sdkjson.Object:
		m := map[string][]byte{}
		err := r.Object(func(key []byte) error {
			v, err := appendCanonical(nil, r)
			m[sdkjson.Text(key)] = v
			return err
		})
		dst = append(dst, '{')
		for i, k := range sdkjson.SortedKeys(m) {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = sdkjson.AppendString(dst, k)
			dst = append(dst, ':')
			dst = append(dst, m[k]...)
		}
		return append(dst, '}'), err
	}
	if r.Null() {
		return append(dst, "null"...), nil
	}
	return dst, r.Skip()
}

// jsonObject writes a request body: an object of string, bool and null
// members, keys sorted as json.Marshal sorts a map's.
func jsonObject(m map[string]any) []byte {
	b := []byte{'{'}
	for i, k := range sdkjson.SortedKeys(m) {
		if i > 0 {
			b = append(b, ',')
		}
		b = sdkjson.AppendString(b, k)
		b = append(b, ':')
		switch v := m[k].(type) {
		case string:
			b = sdkjson.AppendString(b, v)
		case bool:
			b = strconv.AppendBool(b, v)
		case int64:
			b = strconv.AppendInt(b, v, 10)
		case nil:
			b = append(b, "null"...)
		default:
			panic("jsonObject: unsupported value type")
		}
	}
	return append(b, '}')
}

// parseTime reads an RFC 3339 timestamp as Infisical writes them
// ("2026-11-28T17:00:00.000Z"; any offset and up to nanosecond precision
// are accepted). time.Time's UnmarshalJSON does the same through
// time.Parse, whose general layout engine is 35 KB of wasm.
func parseTime(s string) (time.Time, bool) {
	ok := true
	num := func(s string, lo, hi int) int {
		n := 0
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				ok = false
				return lo
			}
			n = n*10 + int(s[i]-'0')
		}
		if n < lo || n > hi {
			ok = false
		}
		return n
	}
	if len(s) < len("2006-01-02T15:04:05Z") || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	year, month := num(s[0:4], 0, 9999), num(s[5:7], 1, 12)
	if !ok {
		return time.Time{}, false
	}
	lastDay := time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
	day, hour, minute, sec := num(s[8:10], 1, lastDay), num(s[11:13], 0, 23), num(s[14:16], 0, 59), num(s[17:19], 0, 59)
	s = s[19:]
	nsec := 0
	if len(s) >= 2 && s[0] == '.' {
		n := 1
		for n < len(s) && s[n] >= '0' && s[n] <= '9' {
			if n <= 9 {
				nsec = nsec*10 + int(s[n]-'0')
			}
			n++
		}
		if n == 1 {
			return time.Time{}, false
		}
		for i := n; i <= 9; i++ { // fewer than nine digits: scale up
			nsec *= 10
		}
		s = s[n:]
	}
	offset := 0
	switch {
	case s == "Z":
	case len(s) == len("+07:00") && (s[0] == '+' || s[0] == '-') && s[3] == ':':
		offset = (num(s[1:3], 0, 23)*60 + num(s[4:6], 0, 59)) * 60
		if s[0] == '-' {
			offset = -offset
		}
	default:
		return time.Time{}, false
	}
	if !ok {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	return t.Add(-time.Duration(offset) * time.Second), true
}

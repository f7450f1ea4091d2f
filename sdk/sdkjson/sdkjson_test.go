package sdkjson

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
)

// decodeAny reads any value into what json.Unmarshal gives for an `any`.
func decodeAny(r *Reader) (any, error) {
	switch r.Next() {
	case Null:
		r.Null()
		return nil, nil
	case Bool:
		return r.Bool()
	case Number:
		return r.Float64()
	case String:
		return r.String()
	case Array:
		out := []any{}
		err := r.Array(func() error {
			v, err := decodeAny(r)
			out = append(out, v)
			return err
		})
		return out, err
	case Object:
		out := map[string]any{}
		err := r.Object(func(key []byte) error {
			v, err := decodeAny(r)
			out[Text(key)] = v
			return err
		})
		return out, err
	}
	return nil, r.Skip()
}

func readAll(data []byte) (any, error) {
	r := NewReader(data)
	v, err := decodeAny(r)
	if err == nil {
		err = r.End()
	}
	return v, err
}

var jsonSamples = []string{
	`null`, `true`, `false`, `0`, `-0`, `1.5e3`, `-12.25E-2`, `1e400`, `01`, `1.`, `.5`, `-`, `1e`, `+1`,
	`""`, `"a\"b\\c\/d\b\f\n\r\t"`, `"\u00e9\ud83d\ude00"`, `"\ud800"`, `"\ud800\u0041"`, `"\udc00\ud800"`, `"\u12"`, `"\x"`,
	"\"\xff\xfe\"", "\"caf\xc3\xa9\"", "\"a\x01\"", `"unterminated`,
	`[]`, `[1,2,[3,{}]]`, `[1,]`, `[,1]`, `{}`, `{"a":1,"b":[true,null],"a":2}`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{1:2}`,
	" \t\n\r{ \"k\" : [ 1 , \"v\" ] } \n", `{"k":1} x`, `nul`, `tru`, `fals`, ``, ` `, `[`, `{"\u00e9":1,"K":2}`,
	strings.Repeat("[", 20) + strings.Repeat("]", 20),
}

func TestReaderMatchesEncodingJSON(t *testing.T) {
	for _, s := range jsonSamples {
		compareWithStdlib(t, []byte(s))
	}
}

func compareWithStdlib(t *testing.T, data []byte) {
	t.Helper()
	var want any
	werr := json.Unmarshal(data, &want)
	got, gerr := readAll(data)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%q: Reader error %v, encoding/json error %v", data, gerr, werr)
	}
	if werr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: Reader %#v, encoding/json %#v", data, got, want)
	}
	if Valid(data) != json.Valid(data) {
		t.Fatalf("%q: Valid %v, json.Valid %v", data, Valid(data), json.Valid(data))
	}
}

func FuzzReader(f *testing.F) {
	for _, s := range jsonSamples {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { compareWithStdlib(t, data) })
}

func TestReaderErrors(t *testing.T) {
	tests := []struct {
		in   string
		read func(*Reader) error
		want string
	}{
		{`{"a":1}`, func(r *Reader) error { _, err := r.String(); return err }, "invalid JSON at byte 0: want a string"},
		{`  1.5`, func(r *Reader) error { _, err := r.Int64(); return err }, "invalid JSON at byte 2: want an integer, not 1.5"},
		{`9223372036854775808`, func(r *Reader) error { _, err := r.Int64(); return err }, "invalid JSON at byte 0: want an integer, not 9223372036854775808"},
		{`1e999`, func(r *Reader) error { _, err := r.Float64(); return err }, "invalid JSON at byte 0: number 1e999 is out of range"},
		{`[1 2]`, func(r *Reader) error { return r.Skip() }, "invalid JSON at byte 3: want , or ]"},
		{`{"a":1`, func(r *Reader) error { return r.Skip() }, "invalid JSON at byte 6: unexpected end"},
		{`"a" "b"`, func(r *Reader) error { r.Skip(); return r.End() }, "invalid JSON at byte 4: trailing data"},
		{`x`, func(r *Reader) error { _, err := r.Bool(); return err }, "invalid JSON at byte 0: want true or false"},
	}
	for _, tc := range tests {
		if err := tc.read(NewReader([]byte(tc.in))); err == nil || err.Error() != tc.want {
			t.Errorf("%s: got %v, want %q", tc.in, err, tc.want)
		}
	}
}

func TestInt64(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{{"0", 0}, {"-0", 0}, {"42", 42}, {"-9223372036854775808", math.MinInt64}, {"9223372036854775807", math.MaxInt64}} {
		got, err := NewReader([]byte(tc.in)).Int64()
		if err != nil || got != tc.want {
			t.Errorf("Int64(%s) = %d, %v", tc.in, got, err)
		}
	}
}

func TestRaw(t *testing.T) {
	r := NewReader([]byte(` { "a" : [1, "}"] } , 2`))
	raw, err := r.Raw()
	if err != nil || string(raw) != `{ "a" : [1, "}"] }` {
		t.Fatalf("Raw = %q, %v", raw, err)
	}
}

func TestEqualFold(t *testing.T) {
	tests := []struct {
		key, name string
		want      bool
	}{
		{"secretKey", "secretKey", true},
		{"SECRETKEY", "secretKey", true},
		{"secretkey", "secretKey", true},
		{"\u212a", "k", true}, // KELVIN SIGN folds to k
		{"\u017f", "s", true}, // LATIN SMALL LETTER LONG S folds to s
		{"secretKeys", "secretKey", false},
		{"", "a", false},
		{"a", "", false},
	}
	for _, tc := range tests {
		if got := EqualFold([]byte(tc.key), tc.name); got != tc.want {
			t.Errorf("EqualFold(%q, %q) = %v", tc.key, tc.name, got)
		}
	}
}

var stringSamples = []string{
	"", "plain", "a\"b\\c", "<script>&</script>", "\x00\x01\x1f\x7f", "\b\f\n\r\t", "é😀", "\u2028\u2029", "\xff", "a\xe2\x80",
	"\xed\xa0\x80", strings.Repeat("abcdefgh", 5) + "<", strings.Repeat("x", 7) + "\"" + strings.Repeat("y", 9),
}

func TestAppendString(t *testing.T) {
	for _, s := range stringSamples {
		checkString(t, s)
	}
}

func checkString(t *testing.T, s string) {
	want, _ := json.Marshal(s)
	if got := AppendString(nil, s); string(got) != string(want) {
		t.Fatalf("AppendString(%q) = %s, json.Marshal %s", s, got, want)
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range stringSamples {
		f.Add(s)
	}
	f.Fuzz(checkString)
}

func TestAppendFloat(t *testing.T) {
	for _, v := range []float64{0, math.Copysign(0, -1), 1, -1.5, 1e20, 1e21, 123456789e13, 1e-6, 9.99e-7, 1e-7, 5e-324, math.MaxFloat64, 0.1, 100, 1e-100, -2.5e-10} {
		checkFloat(t, v)
	}
}

func checkFloat(t *testing.T, v float64) {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return
	}
	want, _ := json.Marshal(v)
	if got := AppendFloat(nil, v); string(got) != string(want) {
		t.Fatalf("AppendFloat(%v) = %s, json.Marshal %s", v, got, want)
	}
}

func FuzzAppendFloat(f *testing.F) {
	f.Add(1e21)
	f.Add(1e-7)
	f.Fuzz(checkFloat)
}

func TestAppendStringMap(t *testing.T) {
	for _, m := range []map[string]string{nil, {}, {"B": "2", "A": "1", "a": "<"}, {"\xff": "x", "é": "\u2028"}} {
		want, _ := json.Marshal(m)
		if got := AppendStringMap(nil, m); string(got) != string(want) {
			t.Errorf("AppendStringMap(%v) = %s, json.Marshal %s", m, got, want)
		}
	}
}

var rawSamples = []string{
	`{"type": "object", "properties": {"url": {"type":"string", "pattern": "^\\s*/"}}}`,
	` [ 1 , "<a & b>" , "\u2028 \u2029" ] `, `"\\<"`, "\"\xe2\x80\xa8\"", `null`, ``, `{`, `{} {}`, `"a\"<"`,
}

func TestAppendRaw(t *testing.T) {
	for _, s := range rawSamples {
		checkRaw(t, []byte(s))
	}
	if got, _ := AppendRaw(nil, nil); string(got) != "null" {
		t.Errorf("AppendRaw(nil) = %s", got)
	}
}

func checkRaw(t *testing.T, raw []byte) {
	want, werr := json.Marshal(json.RawMessage(raw))
	got, err := AppendRaw(nil, raw)
	if (err == nil) != (werr == nil) || err == nil && string(got) != string(want) {
		t.Fatalf("AppendRaw(%q) = %s, %v; json.Marshal %s, %v", raw, got, err, want, werr)
	}
}

func FuzzAppendRaw(f *testing.F) {
	for _, s := range rawSamples {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if raw != nil {
			checkRaw(t, raw)
		}
	})
}

// TestPlainRun: the word-at-a-time scan stops at the first '"', '\\' or
// control character wherever it sits in a word, and never skips one.
func TestPlainRun(t *testing.T) {
	for _, stop := range []byte{'"', '\\', 0x00, 0x1f, '\n'} {
		for at := 0; at < 20; at++ {
			b := []byte(strings.Repeat("a", 24))
			b[at] = stop
			r := &Reader{b: b}
			r.plainRun()
			// plainRun may stop early (up to 7 bytes before), never late.
			if r.i > at || at-r.i > 7 {
				t.Fatalf("byte %#x at %d: stopped at %d", stop, at, r.i)
			}
		}
	}
	r := &Reader{b: []byte(strings.Repeat("\x20\x7f\x80\xff", 4))}
	if r.plainRun(); r.i != 16 {
		t.Fatalf("plain bytes: stopped at %d of 16", r.i)
	}
}

// TestEscapes: the word test of AppendString flags every byte that needs a
// look, wherever it sits in a word.
func TestEscapes(t *testing.T) {
	for c := 0; c < 256; c++ {
		needs := c < 0x20 || c >= 0x80 || strings.IndexByte(`"\<>&`, byte(c)) >= 0
		for at := 0; at < 8; at++ {
			w := []byte("aaaaaaaa")
			w[at] = byte(c)
			x := uint64(0)
			for i := 7; i >= 0; i-- {
				x = x<<8 | uint64(w[i])
			}
			if (escapes(x) != 0) != needs {
				t.Fatalf("byte %#x at %d: escapes = %v", c, at, escapes(x) != 0)
			}
		}
	}
}

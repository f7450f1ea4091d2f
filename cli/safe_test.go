package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	client "github.com/agent-vault/agent-vault/openapi/client/go"
)

func TestSafeText(t *testing.T) {
	tests := []struct{ in, want, block string }{
		{"plain text, ünïcode ✓", "plain text, ünïcode ✓", "plain text, ünïcode ✓"},
		{"\x1b[8mhidden", `\x1b[8mhidden`, `\x1b[8mhidden`},
		{"line\r\nnext\tcol", `line\r\nnext\tcol`, "line\\r\nnext\\tcol"},
		{"evil\u202etxt.exe", `evil\u202etxt.exe`, `evil\u202etxt.exe`},
		{"\u2066isolate\u2069", `\u2066isolate\u2069`, `\u2066isolate\u2069`},
		{"csi\xc2\x9b2J", `csi\u009b2J`, `csi\u009b2J`},
		{"raw\x9bbyte\xff", `raw\x9bbyte\xff`, `raw\x9bbyte\xff`},
		{"del\x7f nul\x00", `del\x7f nul\x00`, `del\x7f nul\x00`},
		{"zero\u200bwidth\ufeff", `zero\u200bwidth\ufeff`, `zero\u200bwidth\ufeff`},
		{"tag\U000E0041", `tag\U000e0041`, `tag\U000e0041`},
		{"sep\u2028", `sep\u2028`, `sep\u2028`},
	}
	for _, tc := range tests {
		if got := safeText(tc.in); got != tc.want {
			t.Errorf("safeText(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := safeBlock(tc.in); got != tc.block {
			t.Errorf("safeBlock(%q) = %q, want %q", tc.in, got, tc.block)
		}
	}
}

func TestSafeJSONKeepsValues(t *testing.T) {
	in := map[string]string{"message": "a\u202eb\u0085c\x7fd\U000E0041e ✓"}
	var buf bytes.Buffer
	out := &printer{out: &buf, json: true}
	if err := out.result(in, nil); err != nil {
		t.Fatal(err)
	}
	assertTerminalSafe(t, "json", buf.Bytes(), true)
	var back map[string]string
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil || back["message"] != in["message"] {
		t.Fatalf("%s decodes to %q (%v), want %q", buf.Bytes(), back["message"], err, in["message"])
	}
}

// FuzzRenderers puts arbitrary text in every string field of what the
// server sends, runs each renderer for people and for --json, and checks
// that no control byte, C1 control, format character (bidi, zero-width) or
// non-UTF-8 byte reaches the output; --json must stay valid JSON.
func FuzzRenderers(f *testing.F) {
	for _, s := range []string{"\x1b[8m", "a\rb", "\u202eevil", "\xc2\x9b2J", "\x9b", "x\ty\nz", "\U000E0041", "plain", "\xff\xfe", "\u2028"} {
		f.Add(s, "host.example\x1b]0;title\x07", `{"code":"x\u001b","detail":"d\r","errors":[{"location":"l\u202e","message":"m\u0085"}]}`)
	}
	f.Fuzz(func(t *testing.T, a, b, body string) {
		texts := []string{a, b, a + b}
		renderers := map[string]func(out *printer) error{
			"proposal-show": func(out *printer) error { return printProposal(out, fill[client.ProposalView](texts)) },
			"proposal-list": func(out *printer) error { return printProposals(out, fill[client.ProposalListOutputBody](texts)) },
			"logs":          func(out *printer) error { return printLogs(out, fill[client.ListLogsOutputBody](texts)) },
			"logs-follow": func(out *printer) error {
				printLogLine(out, *fill[client.LogEntry](texts))
				return nil
			},
			"explain":  func(out *printer) error { return printExplain(out, fill[client.ExplainOutputBody](texts)) },
			"discover": func(out *printer) error { return printDiscover(out, fill[client.DiscoverOutputBody](texts)) },
			"line": func(out *printer) error {
				out.line("%s %v %s %v", a, []string{a, b}, errors.New(b), a)
				return nil
			},
			"table": func(out *printer) error {
				out.table(a, []string{"x", "y"}, [][]string{{a, b}, {b, a}})
				return nil
			},
		}
		for name, render := range renderers {
			for _, asJSON := range []bool{false, true} {
				var buf bytes.Buffer
				if err := render(&printer{out: &buf, err: &buf, json: asJSON}); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				humanOnly := name == "logs-follow" || name == "line" || name == "table"
				assertTerminalSafe(t, name, buf.Bytes(), asJSON && !humanOnly)
			}
		}
		// An error from the server, as the command line prints it.
		var stderr bytes.Buffer
		printError(&env{Stderr: &stderr}, problemError(&http.Response{StatusCode: http.StatusBadRequest}, []byte(body)))
		printError(&env{Stderr: &stderr}, errors.New(a))
		assertTerminalSafe(t, "error", stderr.Bytes(), false)
		var jsonErr bytes.Buffer
		writeJSONError(&jsonErr, a, b)
		assertTerminalSafe(t, "error --json", jsonErr.Bytes(), true)
	})
}

// assertTerminalSafe fails when out holds anything a terminal could act
// on; newlines (and, in JSON, nothing else) are the only controls allowed.
func assertTerminalSafe(t *testing.T, name string, out []byte, asJSON bool) {
	t.Helper()
	if !utf8.Valid(out) {
		t.Fatalf("%s: output is not UTF-8: %q", name, out)
	}
	for _, r := range string(out) {
		if r == '\n' {
			continue
		}
		if r < 0x20 || (r >= 0x7f && r <= 0x9f) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029' {
			t.Fatalf("%s: output holds %U: %q", name, r, out)
		}
	}
	if asJSON && !json.Valid(out) {
		t.Fatalf("%s: --json output is not JSON: %s", name, out)
	}
}

// fill returns a T whose every string, *string, []string, map and nested
// struct field holds one of texts.
func fill[T any](texts []string) *T {
	v := new(T)
	n := 0
	next := func() string { n++; return texts[n%len(texts)] }
	fillValue(reflect.ValueOf(v).Elem(), next, 0)
	return v
}

func fillValue(v reflect.Value, next func() string, depth int) {
	if depth > 6 || !v.CanSet() {
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(next())
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fillValue(p.Elem(), next, depth+1)
		v.Set(p)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fillValue(s.Index(i), next, depth+1)
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fillValue(k, next, depth+1)
		fillValue(e, next, depth+1)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Struct:
		if strings.HasPrefix(v.Type().PkgPath(), "time") {
			return
		}
		for i := range v.NumField() {
			fillValue(v.Field(i), next, depth+1)
		}
	}
}

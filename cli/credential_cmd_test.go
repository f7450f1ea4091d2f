package cli

import (
	"regexp"
	"strings"
	"testing"
)

func TestParsePairs(t *testing.T) {
	tests := []struct {
		name    string
		pairs   []string
		stdin   string
		want    map[string]string
		wantErr string
	}{
		{"inline", []string{"A=1", "B=two=2"}, "", map[string]string{"A": "1", "B": "two=2"}, ""},
		{"empty-value", []string{"A="}, "", map[string]string{"A": ""}, ""},
		{"one-from-stdin-keeps-inner-newlines", []string{"A=-"}, "line1\nline2\n", map[string]string{"A": "line1\nline2"}, ""},
		{"one-from-stdin-crlf", []string{"A=-"}, "v\r\n", map[string]string{"A": "v"}, ""},
		{"two-from-stdin-one-line-each", []string{"A=-", "B=x", "C=-"}, "a\nc\n", map[string]string{"A": "a", "B": "x", "C": "c"}, ""},
		{"two-from-stdin-last-line-unterminated", []string{"A=-", "C=-"}, "a\nc", map[string]string{"A": "a", "C": "c"}, ""},
		{"two-from-stdin-short", []string{"A=-", "C=-"}, "a\n", nil, "reading the value of C from standard input: one line per KEY=- is needed"},
		{"no-equals", []string{"A=1", "s3cr3t"}, "", nil, "argument 2 is not KEY=VALUE (use KEY=- to read the value from standard input)"},
		{"no-key", []string{"=s3cr3t"}, "", nil, "argument 1 is not KEY=VALUE (use KEY=- to read the value from standard input)"},
		{"twice", []string{"A=1", "A=2"}, "", nil, "key A is given twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parsePairs(&env{Stdin: strings.NewReader(tc.stdin)}, tc.pairs)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

var (
	errTemplate = regexp.MustCompile(`^argument [12] is not KEY=VALUE \(use KEY=- to read the value from standard input\)$`)
	keyInError  = regexp.MustCompile(`(?s)^(?:key (.*) is given twice|reading the value of (.*) from standard input: .*)$`)
)

// FuzzParsePairs checks that parsing never panics and that an error never
// repeats a value.
func FuzzParsePairs(f *testing.F) {
	f.Add("A=1", "B=-", "value\n")
	f.Add("=x", "", "")
	f.Add("A=-", "B=-", "a\nb")
	f.Add("s3cr3t", "A=1", "")
	f.Fuzz(func(t *testing.T, p1, p2, stdin string) {
		got, err := parsePairs(&env{Stdin: strings.NewReader(stdin)}, []string{p1, p2})
		if err != nil {
			// Every message is one of these, and what it quotes is a key.
			msg := err.Error()
			if errTemplate.MatchString(msg) {
				return
			}
			m := keyInError.FindStringSubmatch(msg)
			if m == nil {
				t.Fatalf("unexpected error %q", msg)
			}
			k1, _, _ := strings.Cut(p1, "=")
			k2, _, _ := strings.Cut(p2, "=")
			quoted := m[1] + m[2]
			if quoted != k1 && quoted != k2 {
				t.Fatalf("error %q quotes %q, which is not a key", msg, quoted)
			}
			return
		}
		for _, p := range []string{p1, p2} {
			k, _, ok := strings.Cut(p, "=")
			if !ok || k == "" {
				t.Fatalf("%q accepted without a key", p)
			}
			if _, ok := got[k]; !ok {
				t.Fatalf("key %q missing from %q", k, got)
			}
		}
	})
}

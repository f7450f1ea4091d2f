//go:build !wasip1

package main

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"testing"
)

// viaStdlib decodes like encoding/json would into listAnswer.
func viaStdlib(b []byte) ([]secretPair, error) {
	var a struct {
		Secrets []struct {
			Key   string `json:"secretKey"`
			Value string `json:"secretValue"`
		} `json:"secrets"`
	}
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, err
	}
	var out []secretPair
	for _, s := range a.Secrets {
		out = append(out, secretPair{s.Key, s.Value})
	}
	return out, nil
}

func TestParseSecretList(t *testing.T) {
	golden := goldenBody(t)
	tests := []struct {
		name    string
		in      string
		want    []secretPair
		wantErr bool
	}{
		{name: "empty", in: `{"secrets":[],"imports":[]}`},
		{name: "two", in: `{"secrets":[{"secretKey":"A","secretValue":"1","x":{"y":[1,2.5e3,true,null]}},{"secretValue":"2","secretKey":"B"}]}`,
			want: []secretPair{{"A", "1"}, {"B", "2"}}},
		{name: "escapes", in: `{"secrets":[{"secretKey":"K","secretValue":"a\"b\\c\/d\n\u00e9\ud83d\ude00\ud800x"}]}`,
			want: []secretPair{{"K", "a\"b\\c/d\né😀\ufffdx"}}},
		{name: "null-value", in: `{"secrets":[{"secretKey":"K","secretValue":null}]}`, want: []secretPair{{"K", ""}}},
		{name: "null-entry", in: `{"secrets":[null]}`, want: []secretPair{{}}},
		{name: "null-secrets", in: `{"secrets":null}`},
		{name: "whitespace", in: " {\n\"secrets\" : [ { \"secretKey\" : \"K\" } ] }\t", want: []secretPair{{"K", ""}}},
		{name: "truncated", in: `{"secrets":[`, wantErr: true},
		{name: "number-key", in: `{"secrets":[{"secretKey":1}]}`, wantErr: true},
		{name: "trailing", in: `{"secrets":[]} x`, wantErr: true},
		{name: "bad-number", in: `{"a":01,"secrets":[]}`, wantErr: true},
		{name: "control-char", in: "{\"secrets\":[{\"secretKey\":\"a\x01\"}]}", wantErr: true},
		{name: "not-object", in: `[]`, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseSecretList([]byte(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v", err)
			}
			if !tc.wantErr && !reflect.DeepEqual(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			std, serr := viaStdlib([]byte(tc.in))
			if (serr != nil) != tc.wantErr || (serr == nil && !equalPairs(std, got)) {
				t.Fatalf("encoding/json disagrees: %q %v", std, serr)
			}
		})
	}
	got, err := parseSecretList(golden)
	std, _ := viaStdlib(golden)
	if err != nil || !equalPairs(got, std) || len(got) == 0 {
		t.Fatalf("golden answer: %q %v, want %q", got, err, std)
	}
}

func equalPairs(a, b []secretPair) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return reflect.DeepEqual(a, b)
}

// FuzzParseSecretList: whatever encoding/json decodes, the fast parser
// decodes to the same pairs; and it never panics.
func FuzzParseSecretList(f *testing.F) {
	f.Add(string(goldenBody(f)))
	for _, s := range []string{`{"secrets":[{"secretKey":"A","secretValue":"\u00e9\ud83d\ude00"}]}`, `{"secrets":null}`, `{"secrets":[null,{}]}`,
		`{"x":[{"y":-0.5e-3}],"secrets":[{"secretKey":"K","secretKey":"L"}]}`, `{"secrets":[{"secretValue":"\ud800\u0041"}]}`, "{\"secrets\":[{\"secretKey\":\"\xff\"}]}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := parseSecretList([]byte(in))
		std, serr := viaStdlib([]byte(in))
		if serr == nil && (err != nil || !equalPairs(got, std)) {
			t.Fatalf("encoding/json gives %q, the parser %q %v", std, got, err)
		}
	})
}

// goldenBody is the body of the emulator's list-secrets golden answer.
func goldenBody(t testing.TB) []byte {
	b, err := os.ReadFile("infisicaltest/testdata/list-secrets.golden")
	if err != nil {
		t.Fatal(err)
	}
	_, body, ok := bytes.Cut(b, []byte("\n\n"))
	if !ok {
		t.Fatal("golden file has no body")
	}
	return body
}

// keyPattern is the key rule validKey implements; the plugin itself does
// not link regexp.
var keyPattern = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

func TestValidKey(t *testing.T) {
	for _, k := range []string{"", "A", "A_1", "a", "1A", "A-B", "AB c", "É", "Z9_", "_A", "A\n", "A\xff"} {
		if got, want := validKey(k), keyPattern.MatchString(k); got != want {
			t.Errorf("validKey(%q) = %v, want %v", k, got, want)
		}
	}
}

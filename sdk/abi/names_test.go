package abi

import (
	"regexp"
	"strings"
	"testing"
)

// The rules are byte loops in the guest; regexp, the language they stand
// for, is the oracle here (tests do not ship in a plugin).
var nameRules = []struct {
	name    string
	pattern string
	valid   func(string) bool
}{
	{"key", KeyPattern, keyShaped},
	{"code", codePattern, ValidCode},
	{"kind", kindPattern, validKind},
	{"env", envPattern, validEnvName},
	{"token", tokenPattern, validToken},
}

// nameSamples hits every boundary the patterns have: first byte, each
// class, lengths at and past each bound, non-ASCII and invalid UTF-8, and
// the newline that `$` must not match before.
func nameSamples() []string {
	s := []string{
		"", "A", "a", "_", "-", "0", "A0_", "a0_", "a-b", "A-B", "AB\n", "ab\n", "\nAB",
		"API_KEY", "api_key", "Api", "aPI", "É", "é", "a\xff", "A\xff", "\xff", "a\x00",
		"Content-Type", "X-Amz-Date", "a b", "a:b", "!#$%&'*+.^_`|~-", "\"", "(", "@", "[", "{", "é-a",
	}
	for _, n := range []int{31, 32, 33, 63, 64, 65, 127, 128, 129, 200} {
		s = append(s, "a"+strings.Repeat("b", n-1), "A"+strings.Repeat("B", n-1), "a"+strings.Repeat("-", n-1))
	}
	return s
}

func TestNameRulesMatchPatterns(t *testing.T) {
	for _, r := range nameRules {
		re := regexp.MustCompile(r.pattern)
		for _, s := range nameSamples() {
			if got, want := r.valid(s), re.MatchString(s); got != want {
				t.Errorf("%s rule on %q = %v, %s says %v", r.name, s, got, r.pattern, want)
			}
		}
	}
}

func TestValidKey(t *testing.T) {
	tests := []struct {
		key  string
		want bool
	}{
		{"API_KEY", true},
		{"A", true},
		{"A1_", true},
		{"K" + strings.Repeat("A", MaxKeyLength-1), true},
		{"K" + strings.Repeat("A", MaxKeyLength), false},
		{"", false},
		{"1A", false},
		{"_A", false},
		{"api_key", false},
		{"A-B", false},
		{"A\n", false},
		{"ÄB", false},
	}
	for _, tc := range tests {
		if got := ValidKey(tc.key); got != tc.want {
			t.Errorf("ValidKey(%q) = %v, want %v", tc.key, got, tc.want)
		}
	}
}

func TestKeyMessages(t *testing.T) {
	if got, want := InvalidKeyMessage("bad\n"), `credential key "bad\n" must match ^[A-Z][A-Z0-9_]*$ (at most 128 characters)`; got != want {
		t.Errorf("InvalidKeyMessage = %q, want %q", got, want)
	}
	if got, want := ValueTooLargeMessage("PEM", 70000), `credential "PEM" is 70000 bytes; the limit is 65536`; got != want {
		t.Errorf("ValueTooLargeMessage = %q, want %q", got, want)
	}
}

// FuzzNameRules checks every rule against its pattern on arbitrary input.
func FuzzNameRules(f *testing.F) {
	for _, s := range nameSamples() {
		f.Add(s)
	}
	res := make([]*regexp.Regexp, len(nameRules))
	for i, r := range nameRules {
		res[i] = regexp.MustCompile(r.pattern)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for i, r := range nameRules {
			if got, want := r.valid(s), res[i].MatchString(s); got != want {
				t.Fatalf("%s rule on %q = %v, %s says %v", r.name, s, got, r.pattern, want)
			}
		}
		if ValidKey(s) != (len(s) <= MaxKeyLength && res[0].MatchString(s)) {
			t.Fatalf("ValidKey(%q) disagrees with the pattern and the length bound", s)
		}
	})
}

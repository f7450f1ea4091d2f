package domain

import (
	"strings"
	"testing"
)

func TestCheckKeyAndValue(t *testing.T) {
	tests := []struct {
		name, key, value, want string
	}{
		{name: "ok", key: "API_KEY", value: "v"},
		{name: "longest-key", key: "K" + strings.Repeat("A", MaxKeyLength-1)},
		{name: "largest-value", key: "PEM", value: strings.Repeat("x", MaxValueBytes)},
		{name: "lower", key: "api_key", want: `invalid_credential_key: credential key "api_key" must match ^[A-Z][A-Z0-9_]*$ (at most 128 characters); did you mean "API_KEY"?`},
		{name: "empty", key: "", want: `invalid_credential_key: credential key "" must match ^[A-Z][A-Z0-9_]*$ (at most 128 characters)`},
		{name: "too-long", key: "K" + strings.Repeat("A", MaxKeyLength), want: `invalid_credential_key: credential key "K` + strings.Repeat("A", MaxKeyLength) + `" must match ^[A-Z][A-Z0-9_]*$ (at most 128 characters)`},
		{name: "control", key: "A\n", want: `invalid_credential_key: credential key "A\n" must match ^[A-Z][A-Z0-9_]*$ (at most 128 characters); did you mean "A"?`},
		{name: "too-large", key: "PEM", value: strings.Repeat("x", MaxValueBytes+1), want: `credential_value_too_large: credential "PEM" is 65537 bytes; the limit is 65536`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckKey(tc.key)
			if err == nil {
				err = CheckValue(tc.key, tc.value)
			}
			got := ""
			if err != nil {
				got = err.Error()
				if CodeOf(err) == CodeInternal {
					t.Errorf("%v carries no code", err)
				}
			}
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			if ValidKey(tc.key) != !strings.HasPrefix(got, CodeInvalidKey) {
				t.Fatalf("ValidKey(%q) disagrees with CheckKey", tc.key)
			}
		})
	}
}

package sdk

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckKeyAndValue(t *testing.T) {
	tests := []struct {
		name, key, value string
		wantCode         string
		wantMsg          string
	}{
		{name: "ok", key: "API_KEY", value: "v"},
		{name: "largest-value", key: "PEM", value: strings.Repeat("x", MaxValueBytes)},
		{name: "lower", key: "api", wantCode: CodeInvalidCredKey, wantMsg: `credential key "api" must match ^[A-Z][A-Z0-9_]*$ (at most 128 characters)`},
		{name: "too-long", key: strings.Repeat("K", 129), wantCode: CodeInvalidCredKey, wantMsg: `credential key "` + strings.Repeat("K", 129) + `" must match ^[A-Z][A-Z0-9_]*$ (at most 128 characters)`},
		{name: "too-large", key: "PEM", value: strings.Repeat("x", MaxValueBytes+1), wantCode: CodeValueTooLarge, wantMsg: `credential "PEM" is 65537 bytes; the limit is 65536`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckKey(tc.key)
			if err == nil {
				err = CheckValue(tc.key, tc.value)
			}
			var e *Error
			if tc.wantCode == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.As(err, &e) || e.Code != tc.wantCode || e.Message != tc.wantMsg {
				t.Fatalf("got %v, want %s: %s", err, tc.wantCode, tc.wantMsg)
			}
		})
	}
}

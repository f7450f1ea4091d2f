package domain

import (
	"strconv"
	"strings"
	"unicode"

	"github.com/agent-vault/agent-vault/sdk/abi"
)

// The credential key rule (^[A-Z][A-Z0-9_]*$, at most MaxKeyLength) is one
// rule for built-in writes, keys fetched from an external store and
// dynamic-secret fields. It lives in sdk/abi, which the plugins share, so
// the built-in store plugin checks exactly what the host checks without
// linking this package (and YAML with it).

// MaxKeyLength bounds a credential key name.
const MaxKeyLength = abi.MaxKeyLength

// MaxValueBytes bounds one credential value (64 KiB holds any PEM bundle or
// service-account JSON a service would need).
const MaxValueBytes = abi.MaxValueBytes

// ValidKey reports whether key is an acceptable credential key name.
func ValidKey(key string) bool { return abi.ValidKey(key) }

// CheckKey returns a CodeInvalidKey error naming key when it is not valid,
// with the fixed form when one is obvious (lower_case → LOWER_CASE).
func CheckKey(key string) error {
	if !ValidKey(key) {
		msg := abi.InvalidKeyMessage(key)
		if s := SuggestKey(key); s != "" {
			msg += "; did you mean " + strconv.Quote(s) + "?"
		}
		return &Error{Code: CodeInvalidKey, Message: msg}
	}
	return nil
}

// SuggestKey returns the valid key a person most likely meant by key:
// upper-cased, with '-', '.' and spaces as '_'. It returns "" when that is
// still not a valid key (a leading digit, other characters, too long).
func SuggestKey(key string) string {
	s := strings.Map(func(r rune) rune {
		switch r {
		case '-', '.', ' ':
			return '_'
		}
		return unicode.ToUpper(r)
	}, strings.TrimSpace(key))
	if s == key || !ValidKey(s) {
		return ""
	}
	return s
}

// CheckNotEmpty returns CodeEmptyValue for an empty value unless allowEmpty
// says one is intended: an empty value is almost always an unset shell
// variable, and the proxy would send it as a blank credential.
func CheckNotEmpty(key, value string, allowEmpty bool) error {
	if value == "" && !allowEmpty {
		return &Error{Code: CodeEmptyValue, Message: "credential " + strconv.Quote(key) +
			" has an empty value (an unset variable?); nothing was stored. Pass allow_empty (CLI: --allow-empty) if an empty value is intended"}
	}
	return nil
}

// CheckValue returns CodeValueTooLarge when value exceeds MaxValueBytes. The
// message names the key, never the value.
func CheckValue(key, value string) error {
	if len(value) > MaxValueBytes {
		return &Error{Code: CodeValueTooLarge, Message: abi.ValueTooLargeMessage(key, len(value))}
	}
	return nil
}

// DefaultVault is the vault that always exists and cannot be deleted.
const DefaultVault = "default"

// CheckVaultName enforces the vault slug rule: 3–64 characters of [a-z0-9-],
// no leading, trailing or doubled hyphen.
func CheckVaultName(name string) error {
	bad := func(why string) error {
		return Errorf(CodeInvalidVaultName, "vault name %q %s", name, why)
	}
	if len(name) < 3 || len(name) > 64 {
		return bad("must be 3 to 64 characters long")
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return bad("may contain only lower-case letters, digits and hyphens")
		}
	}
	if strings.HasPrefix(name, "-") || strings.HasSuffix(name, "-") || strings.Contains(name, "--") {
		return bad("may not start or end with a hyphen or contain two in a row")
	}
	return nil
}

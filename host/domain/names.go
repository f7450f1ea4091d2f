package domain

import (
	"regexp"
	"strings"
)

// keyPattern is the one rule for credential key names, for built-in writes,
// for keys fetched from an external store, and for dynamic-secret fields.
var keyPattern = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

// MaxKeyLength bounds a credential key name.
const MaxKeyLength = 128

// MaxValueBytes bounds one credential value (64 KiB holds any PEM bundle or
// service-account JSON a service would need).
const MaxValueBytes = 64 << 10

// ValidKey reports whether key is an acceptable credential key name.
func ValidKey(key string) bool {
	return len(key) <= MaxKeyLength && keyPattern.MatchString(key)
}

// CheckKey returns a CodeInvalidKey error naming key when it is not valid.
func CheckKey(key string) error {
	if !ValidKey(key) {
		return Errorf(CodeInvalidKey, "credential key %q must match ^[A-Z][A-Z0-9_]*$ (at most %d characters)", key, MaxKeyLength)
	}
	return nil
}

// CheckValue returns CodeValueTooLarge when value exceeds MaxValueBytes. The
// message names the key, never the value.
func CheckValue(key, value string) error {
	if len(value) > MaxValueBytes {
		return Errorf(CodeValueTooLarge, "credential %q is %d bytes; the limit is %d", key, len(value), MaxValueBytes)
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

package abi

import "strconv"

// The name rules of the ABI are byte loops, not regular expressions:
// package regexp is about 260 KB of a plugin's wasm, and the host decodes,
// validates and checksums every byte of a module on each start. Each
// rule's pattern is kept as text, for messages and for the tests, which
// check the loops against package regexp.
const (
	// KeyPattern is the credential key rule, for built-in writes, keys
	// from an external store and dynamic-secret fields. Keys are also
	// bounded by MaxKeyLength.
	KeyPattern = `^[A-Z][A-Z0-9_]*$`

	codePattern      = `^[a-z][a-z0-9_]{0,63}$`
	kindPattern      = `^[a-z][a-z0-9_-]{0,31}$`
	envPattern       = `^[A-Z][A-Z0-9_]{0,127}$`
	tokenPattern     = "^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$"
	tokenPunctuation = "!#$%&'*+.^_`|~-"
)

// MaxKeyLength bounds a credential key name, in bytes (a valid key is
// ASCII, so also in characters).
const MaxKeyLength = 128

// MaxValueBytes bounds one credential value: 64 KiB holds any PEM bundle
// or service-account JSON a service would need.
const MaxValueBytes = 64 << 10

// ValidKey reports whether key matches KeyPattern and is at most
// MaxKeyLength bytes long.
func ValidKey(key string) bool { return len(key) <= MaxKeyLength && keyShaped(key) }

// InvalidKeyMessage is the message for a key that ValidKey refuses.
func InvalidKeyMessage(key string) string {
	return "credential key " + strconv.Quote(key) + " must match " + KeyPattern + " (at most " + strconv.Itoa(MaxKeyLength) + " characters)"
}

// ValueTooLargeMessage is the message for a value of size bytes, over
// MaxValueBytes. It names the key, never the value.
func ValueTooLargeMessage(key string, size int) string {
	return "credential " + strconv.Quote(key) + " is " + strconv.Itoa(size) + " bytes; the limit is " + strconv.Itoa(MaxValueBytes)
}

func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }
func isLower(c byte) bool { return 'a' <= c && c <= 'z' }
func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// keyShaped reports whether s matches KeyPattern, at any length.
func keyShaped(s string) bool {
	if s == "" || !isUpper(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isUpper(c) && !isDigit(c) && c != '_' {
			return false
		}
	}
	return true
}

// validEnvName matches envPattern.
func validEnvName(s string) bool { return len(s) <= 128 && keyShaped(s) }

// lowerName reports whether s is a lower-case letter followed by at most
// maxRest lower-case letters, digits, '_' or (with dash) '-'.
func lowerName(s string, maxRest int, dash bool) bool {
	if s == "" || !isLower(s[0]) || len(s)-1 > maxRest {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isLower(c) && !isDigit(c) && c != '_' && !(dash && c == '-') {
			return false
		}
	}
	return true
}

// ValidCode reports whether s has the shape of an error code on the wire
// (^[a-z][a-z0-9_]{0,63}$).
func ValidCode(s string) bool { return lowerName(s, 63, false) }

// validKind matches kindPattern.
func validKind(s string) bool { return lowerName(s, 31, true) }

// validToken matches tokenPattern: an HTTP header name (RFC 9110 token).
func validToken(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isUpper(c) && !isLower(c) && !isDigit(c) && !containsByte(tokenPunctuation, c) {
			return false
		}
	}
	return true
}

func containsByte(s string, c byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return true
		}
	}
	return false
}

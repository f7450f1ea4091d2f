package abi

import "strings"

// DynamicKeyPrefix is the credential-key prefix of a dynamic secret's name:
// trimmed, upper-cased, with '-', ' ', '.' and '/' as '_'. A dynamic
// secret that lists no fields (they are unknown until a lease is minted)
// provides the keys "<prefix>_<FIELD>"; the host maps a key to the secret
// whose prefix is the longest match. ok is false when the prefix is not a
// valid key: such a secret provides no keys.
func DynamicKeyPrefix(name string) (prefix string, ok bool) {
	b := []byte(strings.ToUpper(strings.TrimSpace(name)))
	for i, c := range b {
		if c == '-' || c == ' ' || c == '.' || c == '/' {
			b[i] = '_'
		}
	}
	p := string(b)
	return p, keyShaped(p)
}

package abi

import "strings"

// DynamicKeyPrefix is the credential-key prefix of a dynamic secret's name:
// trimmed, upper-cased, with '-', ' ', '.' and '/' as '_'. A dynamic
// secret that lists no fields (they are unknown until a lease is minted)
// provides the keys "<prefix>_<FIELD>"; the host maps a key to the secret
// whose prefix is the longest match. ok is false when the prefix is not a
// valid key: such a secret provides no keys.
func DynamicKeyPrefix(name string) (prefix string, ok bool) {
	p := strings.ToUpper(strings.TrimSpace(name))
	p = strings.NewReplacer("-", "_", " ", "_", ".", "_", "/", "_").Replace(p)
	return p, keyShaped(p)
}

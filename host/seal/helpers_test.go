package seal

import "golang.org/x/crypto/argon2"

func mustIDKey(pw, salt string, t, m uint32, p uint8) []byte {
	return argon2.IDKey([]byte(pw), []byte(salt), t, m, p, 32)
}

package seal

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
)

// Token prefixes name what a token is for, so a leaked token is recognisable
// by secret scanners and a token of one kind is never mistaken for another.
const (
	PrefixSession = "av_sess_"
	PrefixAgent   = "av_agt_"
	PrefixInvite  = "av_inv_"
	PrefixReset   = "av_rst_"
)

// tokenBytes is the entropy of every token: 256 bits.
const tokenBytes = 32

// NewToken returns prefix followed by 256 random bits in unpadded base64url
// (43 characters), and the token's SHA-256. Store only the hash and hand the
// token to its holder once.
func NewToken(prefix string) (token string, hash []byte) {
	b := make([]byte, tokenBytes)
	rand.Read(b)
	token = prefix + base64.RawURLEncoding.EncodeToString(b)
	return token, HashToken(token)
}

// HashToken returns the SHA-256 of token, the form in which tokens are stored
// and looked up. The token has 256 bits of entropy, so a fast hash suffices.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

package seal

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"

	"github.com/agent-vault/agent-vault/host/domain"
)

// User-password hashing parameters: Argon2id with m=19 MiB, t=2, p=1, the
// OWASP Password Storage Cheat Sheet's first Argon2id configuration. A login
// costs one such hash, so these stay interactive (tens of milliseconds) while
// making offline guessing expensive. They are written into every hash, so
// raising them later only affects new hashes (see [NeedsRehash]).
const (
	pwMemoryKiB = 19 * 1024
	pwTime      = 2
	pwThreads   = 1
	pwSaltLen   = 16
	pwKeyLen    = 32
)

// Bounds accepted when verifying a stored hash, so that a tampered row cannot
// turn a login into a denial of service.
const (
	maxPHCLen    = 256
	maxPWKeyLen  = 64
	minPWKeyLen  = 16
	minPWSaltLen = 8
)

var b64 = base64.RawStdEncoding

// HashPassword returns pw hashed with Argon2id in the PHC string format:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>
//
// with the salt and hash in unpadded standard base64. The string describes
// itself, so VerifyPassword needs nothing else.
func HashPassword(pw string) (string, error) {
	salt := make([]byte, pwSaltLen)
	rand.Read(salt)
	p := phc{memoryKiB: pwMemoryKiB, time: pwTime, threads: pwThreads, salt: salt}
	p.hash = argon2.IDKey([]byte(pw), p.salt, p.time, p.memoryKiB, p.threads, pwKeyLen)
	return p.String(), nil
}

// VerifyPassword reports whether pw matches encoded, comparing in constant
// time. A malformed encoded string fails with
// [domain.CodePasswordHashInvalid]; a mismatch is (false, nil).
func VerifyPassword(encoded, pw string) (bool, error) {
	p, err := parsePHC(encoded)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(pw), p.salt, p.time, p.memoryKiB, p.threads, uint32(len(p.hash)))
	return subtle.ConstantTimeCompare(got, p.hash) == 1, nil
}

// NeedsRehash reports whether encoded was made with parameters other than the
// current ones, so the caller can re-hash the password after a successful
// login. A malformed string needs a rehash too.
func NeedsRehash(encoded string) bool {
	p, err := parsePHC(encoded)
	return err != nil || p.memoryKiB != pwMemoryKiB || p.time != pwTime || p.threads != pwThreads ||
		len(p.salt) != pwSaltLen || len(p.hash) != pwKeyLen
}

type phc struct {
	memoryKiB, time uint32
	threads         uint8
	salt, hash      []byte
}

func (p phc) String() string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.memoryKiB, p.time, p.threads, b64.EncodeToString(p.salt), b64.EncodeToString(p.hash))
}

func parsePHC(s string) (phc, error) {
	bad := func(why string) (phc, error) {
		return phc{}, domain.Errorf(domain.CodePasswordHashInvalid, "stored password hash is invalid: %s", why)
	}
	if len(s) > maxPHCLen {
		return bad("too long")
	}
	f := strings.Split(s, "$")
	if len(f) != 6 || f[0] != "" {
		return bad("want $argon2id$v=…$m=…,t=…,p=…$salt$hash")
	}
	if f[1] != "argon2id" {
		return bad("algorithm is not argon2id")
	}
	if f[2] != "v="+strconv.Itoa(argon2.Version) {
		return bad("unsupported argon2 version")
	}
	var p phc
	params := strings.Split(f[3], ",")
	if len(params) != 3 {
		return bad("want parameters m, t and p")
	}
	for i, name := range []string{"m", "t", "p"} {
		v, ok := strings.CutPrefix(params[i], name+"=")
		if !ok {
			return bad("want parameters m, t and p in that order")
		}
		// Decimal digits only: strconv also accepts signs and underscores.
		if v == "" || len(v) > 10 || strings.Trim(v, "0123456789") != "" || (len(v) > 1 && v[0] == '0') {
			return bad("parameter " + name + " is not a decimal number")
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return bad("parameter " + name + " is out of range")
		}
		switch name {
		case "m":
			p.memoryKiB = uint32(n)
		case "t":
			p.time = uint32(n)
		case "p":
			if n > 255 {
				return bad("parameter p is out of range")
			}
			p.threads = uint8(n)
		}
	}
	switch {
	case p.time < 1 || p.time > maxKDFTime:
		return bad("parameter t out of bounds")
	case p.threads < 1 || p.threads > maxKDFThreads:
		return bad("parameter p out of bounds")
	case p.memoryKiB < 8*uint32(p.threads) || p.memoryKiB > maxKDFMemoryKiB:
		return bad("parameter m out of bounds")
	}
	var err error
	if p.salt, err = b64.Strict().DecodeString(f[4]); err != nil || len(p.salt) < minPWSaltLen || len(p.salt) > maxSaltLen {
		return bad("salt is not valid base64 of 8 to 64 bytes")
	}
	if p.hash, err = b64.Strict().DecodeString(f[5]); err != nil || len(p.hash) < minPWKeyLen || len(p.hash) > maxPWKeyLen {
		return bad("hash is not valid base64 of 16 to 64 bytes")
	}
	return p, nil
}

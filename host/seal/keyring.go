// Package seal encrypts every secret Agent Vault keeps at rest.
//
// One random 256-bit data-encryption key (DEK) seals every value with
// AES-256-GCM under a fresh random nonce. The DEK is persisted only inside an
// [Envelope]: wrapped by a key derived from the master password with
// Argon2id, or, when the operator runs without a master password, stored in
// the clear (the server warns loudly about that). Changing the master
// password re-wraps the DEK and never touches a sealed value.
//
// The package also hashes user passwords ([HashPassword]) and mints API
// tokens of which only the SHA-256 is stored ([NewToken]).
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"io"

	"github.com/agent-vault/agent-vault/host/domain"
)

// Layout of a sealed value: version byte, GCM nonce, ciphertext with tag.
const (
	sealVersion1 byte = 1
	dekLen            = 32 // AES-256
	nonceLen          = 12 // the GCM standard nonce
	tagLen            = 16
	// Overhead is how many bytes Seal adds to a plaintext.
	Overhead = 1 + nonceLen + tagLen
)

// Keyring holds the DEK in memory and seals and opens values with it. It is
// safe for concurrent use. Obtain one from [Create], [Unlock] or
// [ChangePassword]; it is never serialised.
type Keyring struct {
	aead cipher.AEAD
	// dek is kept for re-wrapping under a new master password.
	dek []byte
}

// newKeyring builds a keyring around a 32-byte DEK; the slice is copied.
func newKeyring(dek []byte) (*Keyring, error) {
	aead, err := newGCM(dek)
	if err != nil {
		return nil, err
	}
	return &Keyring{aead: aead, dek: append([]byte(nil), dek...)}, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	if len(key) != dekLen {
		return nil, domain.Errorf(domain.CodeSealEnvelopeInvalid, "key is %d bytes, want %d", len(key), dekLen)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Seal encrypts plaintext and binds it to aad (see [CredentialAAD]). The
// result is a version byte, a random nonce and the ciphertext with its tag;
// it is len(plaintext)+[Overhead] bytes long.
func (k *Keyring) Seal(plaintext, aad []byte) ([]byte, error) {
	return sealWith(k.aead, rand.Reader, plaintext, aad)
}

// Open decrypts a value made by Seal with the same aad. A value that is
// malformed, was tampered with, or was sealed with other additional data (it
// was moved to another row) fails with [domain.CodeSealedValueInvalid]; the
// error never contains plaintext.
func (k *Keyring) Open(sealed, aad []byte) ([]byte, error) {
	return openWith(k.aead, sealed, aad)
}

func sealWith(aead cipher.AEAD, rnd io.Reader, plaintext, aad []byte) ([]byte, error) {
	out := make([]byte, 1+nonceLen, 1+nonceLen+len(plaintext)+tagLen)
	out[0] = sealVersion1
	if _, err := io.ReadFull(rnd, out[1:]); err != nil {
		return nil, err
	}
	return aead.Seal(out, out[1:1+nonceLen], plaintext, versionedAAD(sealVersion1, aad)), nil
}

func openWith(aead cipher.AEAD, sealed, aad []byte) ([]byte, error) {
	if len(sealed) < Overhead {
		return nil, domain.Errorf(domain.CodeSealedValueInvalid, "sealed value is %d bytes, shorter than the %d-byte minimum", len(sealed), Overhead)
	}
	if sealed[0] != sealVersion1 {
		return nil, domain.Errorf(domain.CodeSealedValueInvalid, "sealed value has unknown version %d", sealed[0])
	}
	pt, err := aead.Open(nil, sealed[1:1+nonceLen], sealed[1+nonceLen:], versionedAAD(sealed[0], aad))
	if err != nil {
		return nil, domain.Errorf(domain.CodeSealedValueInvalid, "sealed value failed authentication (tampered, or sealed for another place)")
	}
	return pt, nil
}

// versionedAAD binds the format version into the authenticated data, so a
// future format cannot be confused with this one by flipping the first byte.
func versionedAAD(v byte, aad []byte) []byte {
	out := make([]byte, 0, 1+len(aad))
	return append(append(out, v), aad...)
}

// AAD encodes a purpose and the parts that identify where a sealed value
// lives as additional data. Every element is length-prefixed, so no two
// different lists encode alike ("ab","c" differs from "a","bc"). Use one
// fixed purpose per kind of value ("credential", "ca_key", …).
func AAD(purpose string, parts ...string) []byte {
	n := binary.MaxVarintLen64 + len(purpose)
	for _, p := range parts {
		n += binary.MaxVarintLen64 + len(p)
	}
	out := make([]byte, 0, n)
	out = binary.AppendUvarint(out, uint64(len(purpose)))
	out = append(out, purpose...)
	for _, p := range parts {
		out = binary.AppendUvarint(out, uint64(len(p)))
		out = append(out, p...)
	}
	return out
}

// CredentialAAD is the additional data for the value of credential key in
// the vault with id vaultID. A sealed credential copied to another vault or
// key no longer opens.
func CredentialAAD(vaultID, key string) []byte {
	return AAD("credential", vaultID, key)
}

// CanaryAAD is the additional data for the value of canary id in a vault.
func CanaryAAD(vaultID, id string) []byte {
	return AAD("canary", vaultID, id)
}

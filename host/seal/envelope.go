package seal

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"golang.org/x/crypto/argon2"

	"github.com/agent-vault/agent-vault/host/domain"
)

// Mode says how the DEK is kept in an [Envelope].
type Mode string

const (
	// ModePassword: the DEK is wrapped by a key derived from the master
	// password.
	ModePassword Mode = "password"
	// ModeNone: no master password; the DEK is stored unwrapped. Anyone who
	// can read the database can decrypt it.
	ModeNone Mode = "none"
)

// EnvelopeVersion is the only envelope format this package writes and reads.
const EnvelopeVersion = 1

// KDFArgon2id is the only key-derivation algorithm an envelope may name.
const KDFArgon2id = "argon2id"

// Master-password KDF parameters for new envelopes: Argon2id with t=3,
// m=64 MiB, p=4 (RFC 9106's second recommended option). Unlocking runs once
// per server start and per password change, so it can afford to be slow.
const (
	masterTime      = 3
	masterMemoryKiB = 64 * 1024
	masterThreads   = 4
	saltLen         = 16
)

// Bounds accepted when reading an envelope. They keep a tampered envelope
// from making the server allocate gigabytes or spin for minutes.
const (
	maxKDFTime      = 64
	maxKDFMemoryKiB = 1 << 20 // 1 GiB
	maxKDFThreads   = 64
	maxSaltLen      = 64
	maxEnvelopeSize = 4 << 10
)

// sentinelPlaintext is sealed with the DEK in every envelope; opening it
// proves that the unwrapped DEK is the one the data was sealed with.
var sentinelPlaintext = []byte("agent-vault seal sentinel v1")

// KDFParams are the Argon2id parameters and salt that derive the
// key-encryption key from the master password. They are stored with the
// envelope so that the defaults can change without locking anyone out.
type KDFParams struct {
	Algorithm string `json:"algorithm"`
	Time      uint32 `json:"time"`
	MemoryKiB uint32 `json:"memory_kib"`
	Threads   uint8  `json:"threads"`
	Salt      []byte `json:"salt"`
}

// Envelope is the persisted form of the DEK. It is JSON-serialisable with
// encoding/json; read it back with [DecodeEnvelope]. It holds no plaintext
// secret except in [ModeNone], where DEK is the key itself.
type Envelope struct {
	Version int        `json:"version"`
	Mode    Mode       `json:"mode"`
	KDF     *KDFParams `json:"kdf,omitempty"`
	// WrappedDEK is the DEK sealed with the password-derived key (ModePassword).
	WrappedDEK []byte `json:"wrapped_dek,omitempty"`
	// DEK is the unwrapped key (ModeNone only).
	DEK []byte `json:"dek,omitempty"`
	// Sentinel is a known plaintext sealed with the DEK.
	Sentinel []byte `json:"sentinel"`
}

// Create makes a fresh random DEK and its envelope. A non-empty password
// selects [ModePassword]; an empty one selects [ModeNone].
func Create(password string) (*Envelope, *Keyring, error) {
	dek := make([]byte, dekLen)
	rand.Read(dek)
	kr, err := newKeyring(dek)
	if err != nil {
		return nil, nil, err
	}
	env, err := kr.wrap(password, newKDF(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	return env, kr, nil
}

// newKDF gives the parameters for new envelopes; tests swap it for cheap
// ones so that the suite stays fast.
var newKDF = defaultKDF

func defaultKDF() KDFParams {
	return KDFParams{Algorithm: KDFArgon2id, Time: masterTime, MemoryKiB: masterMemoryKiB, Threads: masterThreads}
}

// Unlock returns the keyring an envelope protects. Its errors carry these
// codes:
//   - [domain.CodeMasterPasswordRequired]: the envelope is password-protected
//     and password is empty;
//   - [domain.CodeWrongMasterPassword]: password does not unwrap the DEK;
//   - [domain.CodeMasterPasswordNotSet]: password is non-empty but the
//     envelope has no master password;
//   - [domain.CodeSealEnvelopeInvalid]: the envelope is malformed or its
//     sentinel does not open.
func Unlock(env *Envelope, password string) (*Keyring, error) {
	if err := env.validate(); err != nil {
		return nil, err
	}
	var dek []byte
	switch env.Mode {
	case ModeNone:
		if password != "" {
			return nil, domain.Errorf(domain.CodeMasterPasswordNotSet, "a master password was given, but this instance has none set")
		}
		dek = env.DEK
	case ModePassword:
		if password == "" {
			return nil, domain.Errorf(domain.CodeMasterPasswordRequired, "this instance is protected by a master password; set AGENT_VAULT_MASTER_PASSWORD")
		}
		kek, err := newGCM(deriveKEK(password, env.KDF))
		if err != nil {
			return nil, err
		}
		dek, err = openWith(kek, env.WrappedDEK, wrapAAD(env.Mode, env.KDF))
		if err != nil {
			return nil, domain.Errorf(domain.CodeWrongMasterPassword, "the master password is wrong")
		}
	}
	kr, err := newKeyring(dek)
	if err != nil {
		return nil, err
	}
	if pt, err := kr.Open(env.Sentinel, sentinelAAD()); err != nil || !bytes.Equal(pt, sentinelPlaintext) {
		return nil, domain.Errorf(domain.CodeSealEnvelopeInvalid, "the envelope's sentinel does not open with its key")
	}
	return kr, nil
}

// ChangePassword unlocks env with oldPassword and returns a new envelope that
// holds the same DEK under newPassword: set (old empty), change, or remove
// (new empty) the master password. Sealed values stay valid, since the DEK
// does not change. env is not modified; on error nothing has changed and the
// codes are those of [Unlock].
func ChangePassword(env *Envelope, oldPassword, newPassword string) (*Envelope, error) {
	kr, err := Unlock(env, oldPassword)
	if err != nil {
		return nil, err
	}
	return kr.wrap(newPassword, newKDF(), rand.Reader)
}

// wrap builds an envelope for the keyring's DEK. kdf.Salt is replaced by a
// fresh salt read from rnd, as are every nonce.
func (k *Keyring) wrap(password string, kdf KDFParams, rnd io.Reader) (*Envelope, error) {
	env := &Envelope{Version: EnvelopeVersion}
	sentinel, err := sealWith(k.aead, rnd, sentinelPlaintext, sentinelAAD())
	if err != nil {
		return nil, err
	}
	env.Sentinel = sentinel
	if password == "" {
		env.Mode = ModeNone
		env.DEK = append([]byte(nil), k.dek...)
		return env, nil
	}
	env.Mode = ModePassword
	kdf.Salt = make([]byte, saltLen)
	if _, err := io.ReadFull(rnd, kdf.Salt); err != nil {
		return nil, err
	}
	env.KDF = &kdf
	kek, err := newGCM(deriveKEK(password, env.KDF))
	if err != nil {
		return nil, err
	}
	if env.WrappedDEK, err = sealWith(kek, rnd, k.dek, wrapAAD(env.Mode, env.KDF)); err != nil {
		return nil, err
	}
	return env, nil
}

func deriveKEK(password string, p *KDFParams) []byte {
	return argon2.IDKey([]byte(password), p.Salt, p.Time, p.MemoryKiB, p.Threads, dekLen)
}

// wrapAAD binds the wrapped DEK to the parameters that derived its wrapping
// key, so they cannot be edited without the unwrap failing.
func wrapAAD(m Mode, p *KDFParams) []byte {
	return AAD("dek_wrap", string(m), p.Algorithm,
		strconv.FormatUint(uint64(p.Time), 10),
		strconv.FormatUint(uint64(p.MemoryKiB), 10),
		strconv.FormatUint(uint64(p.Threads), 10),
		string(p.Salt))
}

func sentinelAAD() []byte { return AAD("sentinel") }

// DecodeEnvelope parses and checks a persisted envelope. Unknown fields,
// unknown versions or modes, and KDF parameters outside sane bounds fail
// with [domain.CodeSealEnvelopeInvalid].
func DecodeEnvelope(data []byte) (*Envelope, error) {
	if len(data) > maxEnvelopeSize {
		return nil, domain.Errorf(domain.CodeSealEnvelopeInvalid, "envelope is %d bytes, over the %d-byte limit", len(data), maxEnvelopeSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var env Envelope
	if err := dec.Decode(&env); err != nil {
		return nil, domain.Errorf(domain.CodeSealEnvelopeInvalid, "envelope is not valid JSON: %v", err)
	}
	if dec.More() {
		return nil, domain.Errorf(domain.CodeSealEnvelopeInvalid, "envelope has trailing data")
	}
	if err := env.validate(); err != nil {
		return nil, err
	}
	return &env, nil
}

func (e *Envelope) validate() error {
	bad := func(format string, args ...any) error {
		return domain.Errorf(domain.CodeSealEnvelopeInvalid, "envelope: %s", fmt.Sprintf(format, args...))
	}
	if e == nil {
		return bad("missing")
	}
	if e.Version != EnvelopeVersion {
		return bad("unsupported version %d (this build reads %d)", e.Version, EnvelopeVersion)
	}
	if len(e.Sentinel) != Overhead+len(sentinelPlaintext) {
		return bad("sentinel is %d bytes, want %d", len(e.Sentinel), Overhead+len(sentinelPlaintext))
	}
	switch e.Mode {
	case ModeNone:
		if len(e.DEK) != dekLen {
			return bad("dek is %d bytes, want %d", len(e.DEK), dekLen)
		}
		if e.KDF != nil || e.WrappedDEK != nil {
			return bad("mode %q carries no kdf or wrapped_dek", e.Mode)
		}
	case ModePassword:
		if e.DEK != nil {
			return bad("mode %q must not carry a plain dek", e.Mode)
		}
		if len(e.WrappedDEK) != Overhead+dekLen {
			return bad("wrapped_dek is %d bytes, want %d", len(e.WrappedDEK), Overhead+dekLen)
		}
		return e.KDF.validate()
	default:
		return bad("unknown mode %q", e.Mode)
	}
	return nil
}

func (p *KDFParams) validate() error {
	bad := func(format string, args ...any) error {
		return domain.Errorf(domain.CodeSealEnvelopeInvalid, "envelope kdf: %s", fmt.Sprintf(format, args...))
	}
	switch {
	case p == nil:
		return bad("missing")
	case p.Algorithm != KDFArgon2id:
		return bad("unknown algorithm %q", p.Algorithm)
	case p.Time < 1 || p.Time > maxKDFTime:
		return bad("time %d outside 1..%d", p.Time, maxKDFTime)
	case p.Threads < 1 || p.Threads > maxKDFThreads:
		return bad("threads %d outside 1..%d", p.Threads, maxKDFThreads)
	case p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > maxKDFMemoryKiB:
		return bad("memory_kib %d outside %d..%d", p.MemoryKiB, 8*uint32(p.Threads), maxKDFMemoryKiB)
	case len(p.Salt) < saltLen || len(p.Salt) > maxSaltLen:
		return bad("salt is %d bytes, want %d..%d", len(p.Salt), saltLen, maxSaltLen)
	}
	return nil
}

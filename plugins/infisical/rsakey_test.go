//go:build !wasip1

package main

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"os"
	"strings"
	"sync"
	"testing"
)

// pkcs1Key is RSAPrivateKey for encoding/asn1, to build malformed keys.
type pkcs1Key struct {
	Version          int
	N                *big.Int
	E                int
	D                *big.Int
	P                *big.Int
	Q                *big.Int
	Dp               *big.Int        `asn1:"optional"`
	Dq               *big.Int        `asn1:"optional"`
	Qinv             *big.Int        `asn1:"optional"`
	AdditionalPrimes []asn1.RawValue `asn1:"optional,omitempty"`
}

// testRSAKey is a fixed key, a test fixture only: generating one takes
// seconds in an instrumented fuzz worker.
var testRSAKey = sync.OnceValue(func() *rsa.PrivateKey {
	b, err := os.ReadFile("testdata/test-rsa-key.pem")
	if err != nil {
		panic(err)
	}
	block, _ := pem.Decode(b)
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		panic(err)
	}
	return k.(*rsa.PrivateKey)
})

// TestParseRSAPrivateKey: keys written by crypto/x509 parse to the same
// key and sign; everything else is refused with a reason.
func TestParseRSAPrivateKey(t *testing.T) {
	key := testRSAKey()
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs1 := x509.MarshalPKCS1PrivateKey(key)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecPKCS8, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	edPKCS8, _ := x509.MarshalPKCS8PrivateKey(edKey)
	//lint:ignore SA1019 a multi-prime key is what must be refused
	multi, err := rsa.GenerateMultiPrimeKey(rand.Reader, 3, 1024) //nolint:staticcheck
	if err != nil {
		t.Fatal(err)
	}
	// remarshal re-encodes the PKCS #1 form of key after change.
	remarshal := func(change func(*pkcs1Key)) []byte {
		var k pkcs1Key
		if _, err := asn1.Unmarshal(pkcs1, &k); err != nil {
			t.Fatal(err)
		}
		change(&k)
		b, err := asn1.Marshal(k)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name    string
		der     []byte
		wantErr string // substring; "" means the key parses
	}{
		{name: "pkcs8", der: pkcs8},
		{name: "pkcs1", der: pkcs1},
		{name: "pkcs1-without-crt", der: remarshal(func(k *pkcs1Key) { k.Dp, k.Dq, k.Qinv = nil, nil, nil })},
		{name: "empty", der: nil, wantErr: "neither a PKCS #8 nor a PKCS #1 key"},
		{name: "garbage", der: []byte("not a key at all"), wantErr: "neither a PKCS #8 nor a PKCS #1 key"},
		{name: "truncated-pkcs8", der: pkcs8[:len(pkcs8)-10], wantErr: "neither a PKCS #8 nor a PKCS #1 key"},
		{name: "truncated-pkcs1", der: pkcs1[:len(pkcs1)/2], wantErr: "neither a PKCS #8 nor a PKCS #1 key"},
		{name: "trailing-pkcs8", der: append(bytes.Clone(pkcs8), 0x05, 0x00), wantErr: "trailing data after the PKCS #8 key"},
		{name: "trailing-pkcs1", der: append(bytes.Clone(pkcs1), 0x05, 0x00), wantErr: "trailing data after the PKCS #1 key"},
		{name: "ecdsa", der: ecPKCS8, wantErr: "not an RSA key"},
		{name: "ed25519", der: edPKCS8, wantErr: "not an RSA key"},
		{name: "multi-prime", der: x509.MarshalPKCS1PrivateKey(multi), wantErr: "only two-prime RSA keys"},
		{name: "version-1-two-primes", der: remarshal(func(k *pkcs1Key) { k.Version = 1 })},
		{name: "version-2", der: remarshal(func(k *pkcs1Key) { k.Version = 2 }), wantErr: "unsupported PKCS #1 key version"},
		{name: "zero-d", der: remarshal(func(k *pkcs1Key) { k.D = big.NewInt(0) }), wantErr: "zero or negative"},
		{name: "negative-dp", der: remarshal(func(k *pkcs1Key) { k.Dp = big.NewInt(-3) }), wantErr: "zero or negative"},
		{name: "wrong-modulus", der: remarshal(func(k *pkcs1Key) { k.N = new(big.Int).Add(k.N, big.NewInt(2)) }), wantErr: "crypto/rsa"},
		{name: "wrong-crt", der: remarshal(func(k *pkcs1Key) { k.Qinv = new(big.Int).Add(k.Qinv, big.NewInt(1)) }), wantErr: "crypto/rsa"},
		{name: "exponent-1", der: remarshal(func(k *pkcs1Key) { k.E = 1 }), wantErr: "crypto/rsa"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseRSAPrivateKey(tc.der)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(key) {
				t.Fatal("parsed key differs from the original")
			}
			digest := sha256.Sum256([]byte("header.claims"))
			sig, err := rsa.SignPKCS1v15(rand.Reader, got, crypto.SHA256, digest[:])
			if err != nil {
				t.Fatal(err)
			}
			if err := rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, digest[:], sig); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// FuzzParseRSAPrivateKey: the parser never panics, accepts only what
// crypto/x509 accepts (the same key), and accepts every two-prime RSA key
// crypto/x509 does.
func FuzzParseRSAPrivateKey(f *testing.F) {
	key := testRSAKey()
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(key)
	f.Add(pkcs8)
	f.Add(x509.MarshalPKCS1PrivateKey(key))
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, der []byte) {
		got, err := parseRSAPrivateKey(der)
		var want *rsa.PrivateKey
		if k, xerr := x509.ParsePKCS8PrivateKey(der); xerr == nil {
			want, _ = k.(*rsa.PrivateKey)
			if rest, _ := asn1.Unmarshal(der, &asn1.RawValue{}); len(rest) > 0 {
				want = nil // x509 ignores trailing data here; we refuse it
			}
		} else if k, xerr := x509.ParsePKCS1PrivateKey(der); xerr == nil {
			want = k
		}
		if want != nil && len(want.Primes) != 2 {
			want = nil
		}
		switch {
		case err == nil && want == nil:
			t.Fatalf("accepted a key crypto/x509 refuses: %x", der)
		case err != nil && want != nil:
			t.Fatalf("refused a key crypto/x509 accepts: %v", err)
		case err == nil && !got.Equal(want):
			t.Fatal("parsed a different key than crypto/x509")
		}
	})
}

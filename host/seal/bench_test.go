package seal

import (
	"bytes"
	"strconv"
	"testing"
)

func BenchmarkSeal(b *testing.B) {
	kr := mustKeyring(b)
	aad := CredentialAAD("vault-1", "API_KEY")
	for _, n := range []int{64, 4 << 10} {
		pt := bytes.Repeat([]byte("x"), n)
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				if _, err := kr.Seal(pt, aad); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkOpen is the proxy hot path's cost per static credential.
func BenchmarkOpen(b *testing.B) {
	kr := mustKeyring(b)
	aad := CredentialAAD("vault-1", "API_KEY")
	for _, n := range []int{64, 4 << 10} {
		sealed, _ := kr.Seal(bytes.Repeat([]byte("x"), n), aad)
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				if _, err := kr.Open(sealed, aad); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkHashPassword is the cost of one login.
func BenchmarkHashPassword(b *testing.B) {
	for b.Loop() {
		if _, err := HashPassword("correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUnlock is the cost of unlocking with the real master-password
// parameters, paid once per server start.
func BenchmarkUnlock(b *testing.B) {
	newKDF = defaultKDF
	defer func() { newKDF = cheapKDF }()
	env, _, err := Create("pw")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Unlock(env, "pw"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNewToken(b *testing.B) {
	for b.Loop() {
		NewToken(PrefixSession)
	}
}

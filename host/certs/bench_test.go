package certs

import (
	"crypto/tls"
	"strconv"
	"testing"
)

// BenchmarkLeaf compares a cache miss (a fresh mint: key generation and
// signing) with a cache hit, the cost of every later handshake to a host.
func BenchmarkLeaf(b *testing.B) {
	b.Run("mint", func(b *testing.B) {
		a, _, _ := newAuthority(b, WithCacheSize(1))
		i := 0
		for b.Loop() {
			i++
			if _, err := a.Leaf("h" + strconv.Itoa(i) + ".example"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		a, _, _ := newAuthority(b)
		a.Leaf("api.example.com")
		for b.Loop() {
			if _, err := a.Leaf("api.example.com"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached-parallel", func(b *testing.B) {
		a, _, _ := newAuthority(b)
		hello := &tls.ClientHelloInfo{ServerName: "api.example.com"}
		a.GetCertificate(hello)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := a.GetCertificate(hello); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

package netguard

import (
	"context"
	"net/netip"
	"testing"
)

func BenchmarkNormalizeHost(b *testing.B) {
	for _, h := range []string{"api.example.com", "0x7f.1", "[::ffff:7f00:1]"} {
		b.Run(h, func(b *testing.B) {
			for b.Loop() {
				if _, err := NormalizeHost(h); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkResolve is the guard's own cost per dial (normalise, pinned
// lookup, classify), without DNS or the connect.
func BenchmarkResolve(b *testing.B) {
	g, err := New(Options{Pins: map[string][]netip.Addr{"api.example.com": {netip.MustParseAddr("93.184.215.14")}}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for b.Loop() {
		if _, err := g.resolve(ctx, "tcp", "api.example.com", 443); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFromEnv(b *testing.B) {
	env := map[string]string{EnvAllowPrivate: "true", EnvAllowlist: "10.0.0.0/8,vault.internal,*.corp.example", EnvResolve: "api.example.com:10.0.0.5"}
	for b.Loop() {
		o, err := FromEnv(func(k string) string { return env[k] })
		if err != nil {
			b.Fatal(err)
		}
		if _, err := New(o); err != nil {
			b.Fatal(err)
		}
	}
}

package scrub

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
)

// benchValues makes n random 40-character credentials.
func benchValues(n int) []Value {
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
	out := make([]Value, n)
	for i := range out {
		b := make([]byte, 40)
		for j := range b {
			b[j] = alphabet[rng.IntN(len(alphabet))]
		}
		out[i] = Value{Owner{Vault: "v", Key: fmt.Sprintf("KEY_%d", i)}, string(b)}
	}
	return out
}

// benchBody is JSON-ish text of size n with no value in it.
func benchBody(n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, `{"id":"ch_%08d","object":"charge","amount":%d,"currency":"usd","status":"succeeded"},`, i, i*37)
	}
	return b.Bytes()[:n]
}

func BenchmarkReader(b *testing.B) {
	body := benchBody(64 << 10)
	for _, n := range []int{1, 10, 1000} {
		s := NewSet(benchValues(n))
		b.Run(fmt.Sprintf("values=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			buf := make([]byte, 32<<10)
			for b.Loop() {
				r := NewReader(bytes.NewReader(body), s, ReplaceAll)
				io.CopyBuffer(io.Discard, r, buf)
			}
		})
	}
}

func BenchmarkApplyHeader(b *testing.B) {
	v := []byte("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36")
	for _, n := range []int{10, 1000} {
		s := NewSet(benchValues(n))
		b.Run(fmt.Sprintf("values=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s.Apply(v, ReplaceAll)
			}
		})
	}
}

func BenchmarkNewSet(b *testing.B) {
	for _, n := range []int{10, 1000} {
		vals := benchValues(n)
		b.Run(fmt.Sprintf("values=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			var s *Set
			for b.Loop() {
				s = NewSet(vals)
			}
			b.ReportMetric(float64(s.ac.states()), "states")
		})
	}
}

package scrub

import (
	"bytes"
	"encoding/hex"
	"math/rand/v2"
	"strings"
	"testing"
)

// streamAll pushes body through a Stream in the given pieces and flushes.
func streamAll(s *Stream, parts [][]byte) ([]byte, error) {
	var out []byte
	for _, p := range parts {
		var err error
		if out, err = s.Append(out, p); err != nil {
			return out, err
		}
	}
	return s.Flush(out), nil
}

func TestStreamSplitAtEveryOffset(t *testing.T) {
	s := testSet(t)
	for name, enc := range encodings(stripe) {
		if name == "basic" {
			continue
		}
		body := []byte(`{"echo":"` + enc + `","again":"` + stripe + `"}`)
		want, _ := s.Apply(body, ReplaceAll)
		for cut := 0; cut <= len(body); cut++ {
			for _, second := range []int{cut, min(len(body), cut+3)} {
				got, err := streamAll(NewStream(s, ReplaceAll), [][]byte{body[:cut], body[cut:second], body[second:]})
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("%s cut at %d,%d: got %q, want %q", name, cut, second, got, want)
				}
			}
		}
	}
}

func TestStreamHoldsBackOnlyAPrefix(t *testing.T) {
	s := testSet(t)
	st := NewStream(s, ReplaceAll)
	out, err := st.Append(nil, []byte("hello sk_live_4eC"))
	if err != nil || string(out) != "hello " {
		t.Fatalf("got %q, %v; want the text before the possible match", out, err)
	}
	out, err = st.Append(nil, []byte("39HqLyjWDarjtT1zdp7dc tail"))
	if err != nil || string(out) != "[agent-vault:redacted:STRIPE_KEY] tail" {
		t.Fatalf("got %q, %v", out, err)
	}
	// A long run of prefixes never holds back more than the longest pattern.
	for range 1000 {
		st.Append(nil, []byte("sk_live_"))
		if len(st.carry) > s.MaxLen() {
			t.Fatalf("held back %d bytes", len(st.carry))
		}
	}
	// Flush hands over the held-back bytes and starts afresh.
	st.Reset()
	out, _ = st.Append(nil, []byte("x sk_live_4eC"))
	if out = st.Flush(out); string(out) != "x sk_live_4eC" {
		t.Fatalf("flush gave %q", out)
	}
}

func TestStreamBlock(t *testing.T) {
	s := testSet(t)
	decide := func(o int) Action {
		if s.Owner(o).Canary {
			return Block
		}
		return Replace
	}
	body := []byte("aaaa AKIAIOSFODNN7CANARY1 bbbb")
	for cut := 0; cut <= len(body); cut++ {
		got, err := streamAll(NewStream(s, decide), [][]byte{body[:cut], body[cut:]})
		if be := AsBlocked(err); be == nil || be.Owner.Key != "BAIT" {
			t.Fatalf("cut %d: err %v", cut, err)
		}
		if bytes.Contains(got, []byte("AKIAIOSFODNN7CANARY1")) {
			t.Fatalf("cut %d: the canary passed before the block", cut)
		}
		// Check finds it too, at every cut, without output.
		c := NewStream(s, decide)
		err1 := c.Check(body[:cut])
		err2 := c.Check(body[cut:])
		if AsBlocked(err1) == nil && AsBlocked(err2) == nil {
			t.Fatalf("cut %d: Check missed the canary", cut)
		}
	}
	// Keep lets a value through Check.
	if err := NewStream(s, func(int) Action { return Keep }).Check([]byte(stripe)); err != nil {
		t.Fatal(err)
	}
}

func TestStreamNilSet(t *testing.T) {
	var st Stream
	out, err := st.Append([]byte("a"), []byte(stripe))
	if err != nil || string(st.Flush(out)) != "a"+stripe {
		t.Fatalf("got %q %v", out, err)
	}
	if err := st.Check([]byte(stripe)); err != nil {
		t.Fatal(err)
	}
}

// FuzzStreamChunking: however a body is cut into pieces, the Stream gives
// what Apply gives on the whole, and no value comes through.
func FuzzStreamChunking(f *testing.F) {
	f.Add([]byte("hello"), uint64(1), uint8(3))
	f.Add([]byte(stripe), uint64(7), uint8(0))
	s := testSet(f)
	values := []string{stripe, github, odd}
	f.Fuzz(func(t *testing.T, filler []byte, seed uint64, which uint8) {
		rng := rand.New(rand.NewPCG(seed, seed>>7))
		v := values[int(which)%len(values)]
		enc := []string{v, hex.EncodeToString([]byte(v)), strings.ToUpper(hex.EncodeToString([]byte(v)))}[rng.IntN(3)]
		at := 0
		if len(filler) > 0 {
			at = rng.IntN(len(filler) + 1)
		}
		body := append(append(append([]byte(nil), filler[:at]...), enc...), filler[at:]...)
		want, _ := s.Apply(body, ReplaceAll)
		var parts [][]byte
		for rest := body; len(rest) > 0; {
			n := rng.IntN(min(len(rest), 64) + 1)
			parts = append(parts, rest[:n])
			rest = rest[n:]
		}
		got, err := streamAll(NewStream(s, ReplaceAll), parts)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("stream %q (%v) != whole %q", got, err, want)
		}
		for _, p := range Variants(v) {
			if bytes.Contains(got, p) {
				t.Fatalf("a form of the value came through: %q", p)
			}
		}
	})
}

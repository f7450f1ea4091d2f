package scrub

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"
	"testing/iotest"
)

const (
	stripe = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"
	github = "ghp_16C7e42F292c6912E7710c838347Ae178B4a"
	odd    = `p@ss/w0rd+"<&>"` // characters every encoding treats differently
)

func testSet(t testing.TB) *Set {
	t.Helper()
	s := NewSet([]Value{
		{Owner{Vault: "v1", Key: "STRIPE_KEY"}, stripe},
		{Owner{Vault: "v1", Key: "GITHUB_TOKEN"}, github},
		{Owner{Vault: "v1", Key: "ODD"}, odd},
		{Owner{Vault: "v1", Key: "BAIT", Canary: true}, "AKIAIOSFODNN7CANARY1"},
		{Owner{Vault: "v1", Key: "SHORT"}, "admin"},
	})
	if s == nil {
		t.Fatal("empty set")
	}
	return s
}

// encodings lists every form of v a reflected response may carry.
func encodings(v string) map[string]string {
	jsonEsc := func(html bool) string {
		var b bytes.Buffer
		e := json.NewEncoder(&b)
		e.SetEscapeHTML(html)
		e.Encode(v)
		s := strings.TrimSpace(b.String())
		return s[1 : len(s)-1]
	}
	return map[string]string{
		"raw":           v,
		"base64":        base64.StdEncoding.EncodeToString([]byte(v)),
		"base64-raw":    base64.RawStdEncoding.EncodeToString([]byte(v)),
		"base64url":     base64.URLEncoding.EncodeToString([]byte(v)),
		"base64url-raw": base64.RawURLEncoding.EncodeToString([]byte(v)),
		"base64-shift1": base64.StdEncoding.EncodeToString([]byte("x" + v + "tail")),
		"base64-shift2": base64.StdEncoding.EncodeToString([]byte("xy" + v + "tail")),
		"basic":         base64.StdEncoding.EncodeToString([]byte("user:" + v)), // the password half: covered by BasicAuth below
		"hex":           hex.EncodeToString([]byte(v)),
		"hex-upper":     strings.ToUpper(hex.EncodeToString([]byte(v))),
		"query":         url.QueryEscape(v),
		"path":          url.PathEscape(v),
		"json":          jsonEsc(false),
		"json-html":     jsonEsc(true),
		"json-slash":    strings.ReplaceAll(jsonEsc(true), "/", `\/`),
	}
}

func TestApplyReplacesEveryEncoding(t *testing.T) {
	for _, v := range []string{stripe, github, odd} {
		s := NewSet([]Value{{Owner{Key: "K"}, v}, {Owner{Key: "BASIC"}, BasicAuth("user", v)}})
		for name, enc := range encodings(v) {
			t.Run(name+"/"+v[:4], func(t *testing.T) {
				in := []byte(`{"echo":"` + enc + `","n":1}`)
				out, err := s.Apply(in, ReplaceAll)
				if err != nil {
					t.Fatal(err)
				}
				if bytes.Contains(out, []byte(enc)) {
					t.Fatalf("%s form survived: %s", name, out)
				}
				if !bytes.Contains(out, []byte("[agent-vault:redacted:")) {
					t.Fatalf("no marker in %s", out)
				}
			})
		}
	}
}

func TestApply(t *testing.T) {
	s := testSet(t)
	tests := []struct {
		name, in, want, wantBlocked string
	}{
		{name: "none", in: "hello world", want: "hello world"},
		{name: "raw", in: "key=" + stripe + ";", want: "key=[agent-vault:redacted:STRIPE_KEY];"},
		{name: "twice-adjacent", in: stripe + stripe, want: "[agent-vault:redacted:STRIPE_KEY][agent-vault:redacted:STRIPE_KEY]"},
		{name: "two-keys", in: github + " " + stripe, want: "[agent-vault:redacted:GITHUB_TOKEN] [agent-vault:redacted:STRIPE_KEY]"},
		{name: "short-value-ignored", in: "admin admin", want: "admin admin"},
		{name: "prefix-only", in: stripe[:20], want: stripe[:20]},
		{name: "canary-blocks", in: "x AKIAIOSFODNN7CANARY1 y", wantBlocked: "BAIT"},
	}
	decide := func(o int) Action {
		if s.Owner(o).Canary {
			return Block
		}
		return Replace
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := s.Apply([]byte(tc.in), decide)
			if tc.wantBlocked != "" {
				be := AsBlocked(err)
				if be == nil || be.Owner.Key != tc.wantBlocked {
					t.Fatalf("err = %v, want blocked %s", err, tc.wantBlocked)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tc.want {
				t.Fatalf("got %q, want %q", out, tc.want)
			}
		})
	}
}

func TestApplyNoCopyWithoutMatch(t *testing.T) {
	s := testSet(t)
	in := []byte("nothing to see here, only text")
	out, _ := s.Apply(in, ReplaceAll)
	if &out[0] != &in[0] {
		t.Fatal("Apply copied a body with no match")
	}
}

func TestKeepLetsThrough(t *testing.T) {
	s := testSet(t)
	in := "a " + stripe + " b " + github
	// The injected key is allowed, the other blocked: the block is found
	// after the kept match.
	_, err := s.Apply([]byte(in), func(o int) Action {
		if s.Owner(o).Key == "STRIPE_KEY" {
			return Keep
		}
		return Block
	})
	if be := AsBlocked(err); be == nil || be.Owner.Key != "GITHUB_TOKEN" {
		t.Fatalf("err = %v", err)
	}
}

func TestSameValueTwoOwners(t *testing.T) {
	s := NewSet([]Value{{Owner{Vault: "a", Key: "X"}, stripe}, {Owner{Vault: "b", Key: "Y"}, stripe}})
	var seen []string
	s.Apply([]byte(stripe), func(o int) Action { seen = append(seen, s.Owner(o).Vault+"/"+s.Owner(o).Key); return Keep })
	if strings.Join(seen, ",") != "a/X,b/Y" {
		t.Fatalf("owners seen: %v", seen)
	}
}

// readAll reads r with reads of the given sizes, cycling.
func readAll(t testing.TB, r io.Reader, sizes []int) ([]byte, error) {
	var out []byte
	for i := 0; ; i++ {
		n := 1 << 15
		if len(sizes) > 0 {
			n = sizes[i%len(sizes)]
		}
		buf := make([]byte, n)
		k, err := r.Read(buf)
		out = append(out, buf[:k]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if i > 1<<22 {
			t.Fatal("reader made no progress")
		}
	}
}

// chunks is a source that returns body in the given pieces.
type chunks struct{ parts [][]byte }

func (c *chunks) Read(p []byte) (int, error) {
	if len(c.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.parts[0])
	c.parts[0] = c.parts[0][n:]
	if len(c.parts[0]) == 0 {
		c.parts = c.parts[1:]
	}
	return n, nil
}

func TestReaderSplitAtEveryOffset(t *testing.T) {
	s := testSet(t)
	for name, enc := range encodings(stripe) {
		if name == "basic" {
			continue
		}
		body := []byte("data: {\"echo\":\"" + enc + "\"}\n\n")
		want, _ := s.Apply(body, ReplaceAll)
		for cut := 1; cut < len(body); cut++ {
			src := &chunks{parts: [][]byte{append([]byte(nil), body[:cut]...), append([]byte(nil), body[cut:]...)}}
			got, err := readAll(t, NewReader(src, s, ReplaceAll), nil)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%s cut at %d: got %q, want %q", name, cut, got, want)
			}
			if bytes.Contains(got, []byte(enc)) {
				t.Fatalf("%s cut at %d leaked", name, cut)
			}
		}
	}
}

func TestReaderOneByteAtATime(t *testing.T) {
	s := testSet(t)
	body := []byte(strings.Repeat("x", 100) + stripe + "middle" + hex.EncodeToString([]byte(github)) + "end")
	want, _ := s.Apply(body, ReplaceAll)
	got, err := io.ReadAll(NewReader(iotest.OneByteReader(bytes.NewReader(body)), s, ReplaceAll))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("got %q, %v; want %q", got, err, want)
	}
	// And one byte at a time out of the Reader.
	got, err = readAll(t, NewReader(bytes.NewReader(body), s, ReplaceAll), []int{1})
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("1-byte reads: got %q, %v", got, err)
	}
}

func TestReaderBlockStopsBeforeLastByte(t *testing.T) {
	s := testSet(t)
	body := []byte(strings.Repeat("a", 5000) + "AKIAIOSFODNN7CANARY1" + strings.Repeat("b", 5000))
	decide := func(o int) Action {
		if s.Owner(o).Canary {
			return Block
		}
		return Replace
	}
	for _, sizes := range [][]int{nil, {1}, {7, 13}, {5010}} {
		got, err := readAll(t, NewReader(&chunks{parts: [][]byte{append([]byte(nil), body...)}}, s, decide), sizes)
		if be := AsBlocked(err); be == nil || be.Owner.Key != "BAIT" {
			t.Fatalf("sizes %v: err = %v", sizes, err)
		}
		if bytes.Contains(got, []byte("AKIAIOSFODNN7CANARY1")) {
			t.Fatalf("sizes %v: the canary passed before the block", sizes)
		}
	}
}

func TestReaderSourceError(t *testing.T) {
	s := testSet(t)
	boom := errors.New("boom")
	r := NewReader(io.MultiReader(strings.NewReader("abc"), iotest.ErrReader(boom)), s, ReplaceAll)
	got, err := readAll(t, r, nil)
	// Held-back bytes are dropped with a broken stream: it ends in error.
	if !errors.Is(err, boom) || !strings.HasPrefix("abc", string(got)) {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestReaderNilSetPassesThrough(t *testing.T) {
	got, err := io.ReadAll(NewReader(strings.NewReader(stripe), nil, ReplaceAll))
	if err != nil || string(got) != stripe {
		t.Fatalf("got %q, %v", got, err)
	}
	if NewSet([]Value{{Owner{Key: "S"}, "short"}}) != nil {
		t.Fatal("a set of only short values is not empty")
	}
}

func TestReaderMemoryBounded(t *testing.T) {
	s := testSet(t)
	// A long run of a pattern's prefix never holds back more than the
	// longest pattern.
	r := NewReader(strings.NewReader(strings.Repeat("sk_live_", 100000)), s, ReplaceAll)
	buf := make([]byte, 1<<15)
	for {
		_, err := r.Read(buf)
		if cap(r.cbuf) > s.MaxLen() || len(r.buf) > s.MaxLen()+readSize {
			t.Fatalf("held %d bytes, more than the longest pattern (%d)", cap(r.cbuf), s.MaxLen())
		}
		if err != nil {
			break
		}
	}
}

func TestVariantsDeterministicAndBounded(t *testing.T) {
	long := strings.Repeat("k", MaxPatternLen*2)
	for _, v := range Variants(long) {
		if len(v) > MaxPatternLen {
			t.Fatalf("variant of %d bytes", len(v))
		}
	}
	if got := Variants("short"); got != nil {
		t.Fatalf("short value has variants: %q", got)
	}
	a, b := Variants(odd), Variants(odd)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatal("variants are not deterministic")
	}
}

// FuzzReaderChunking checks that however a body is cut into reads, the
// stream gives exactly what Apply gives on the whole body, and no value
// or encoding of one comes through.
func FuzzReaderChunking(f *testing.F) {
	f.Add([]byte("hello"), uint64(1), uint8(3))
	f.Add([]byte(stripe), uint64(7), uint8(0))
	f.Add([]byte("sk_live_sk_live_4eC"), uint64(42), uint8(1))
	s := testSet(f)
	values := []string{stripe, github, odd}
	f.Fuzz(func(t *testing.T, filler []byte, seed uint64, which uint8) {
		rng := rand.New(rand.NewPCG(seed, seed>>7))
		v := values[int(which)%len(values)]
		encs := encodings(v)
		names := []string{"raw", "base64", "hex", "json", "query", "base64-shift1"}
		enc := encs[names[rng.IntN(len(names))]]
		at := 0
		if len(filler) > 0 {
			at = rng.IntN(len(filler) + 1)
		}
		body := append(append(append([]byte(nil), filler[:at]...), enc...), filler[at:]...)
		want, _ := s.Apply(body, ReplaceAll)
		var parts [][]byte
		for rest := body; len(rest) > 0; {
			n := 1 + rng.IntN(min(len(rest), 64))
			parts = append(parts, append([]byte(nil), rest[:n]...))
			rest = rest[n:]
		}
		sizes := []int{1 + rng.IntN(40), 1 + rng.IntN(4000)}
		got, err := readAll(t, NewReader(&chunks{parts: parts}, s, ReplaceAll), sizes)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("stream %q != whole %q", got, want)
		}
		for _, p := range Variants(v) {
			if bytes.Contains(got, p) {
				t.Fatalf("a form of the value came through: %q in %q", p, got)
			}
		}
	})
}

package audit

import (
	"strings"
	"testing"
	"time"
)

func entry() Entry {
	return Entry{Time: time.UnixMilli(1765000000123), ActorKind: "user", ActorID: "u1", ActorName: "o@example.com",
		ClientAddr: "127.0.0.1", Operation: "set-credentials", Vault: "prod", Target: "credentials STRIPE_KEY",
		Outcome: OutcomeOK, Status: 200, Summary: Summary{Keys: []string{"STRIPE_KEY"}}.Encode()}
}

// The hash is a wire format: exports are verified by other programs, so
// its value for a fixed entry never changes.
func TestComputeHashIsStable(t *testing.T) {
	e := entry()
	e.Seal(41, "abc")
	const want = "3e9e3d338d555dc557f6cfff9a4fb4e69507793aea8968c6f4995198b94a6878"
	if e.Seq != 42 || e.PrevHash != "abc" || e.Hash != want {
		t.Fatalf("sealed entry: seq %d prev %q hash %s, want 42 abc %s", e.Seq, e.PrevHash, e.Hash, want)
	}
}

// Length prefixes keep fields apart: moving text from one field to its
// neighbour changes the hash.
func TestComputeHashSeparatesFields(t *testing.T) {
	a, b := entry(), entry()
	a.Vault, a.Target = "prod", "x"
	b.Vault, b.Target = "prodx", ""
	if a.ComputeHash() == b.ComputeHash() {
		t.Fatal("fields run together")
	}
}

func TestVerifier(t *testing.T) {
	chain := func(n int) []Entry {
		var out []Entry
		prevSeq, prev := int64(0), ""
		for i := 0; i < n; i++ {
			e := entry()
			e.Seal(prevSeq, prev)
			prevSeq, prev = e.Seq, e.Hash
			out = append(out, e)
		}
		return out
	}
	tests := []struct {
		name    string
		change  func([]Entry) []Entry
		loose   bool
		wantSeq int64
		want    string
	}{
		{"whole", func(c []Entry) []Entry { return c }, false, 0, ""},
		{"edited", func(c []Entry) []Entry { c[1].Outcome = "forbidden"; return c }, false, 2, "edited"},
		{"removed", func(c []Entry) []Entry { return append(c[:1], c[2:]...) }, false, 2, "missing"},
		{"rehashed", func(c []Entry) []Entry { c[1].Target = "x"; c[1].Hash = c[1].ComputeHash(); return c }, false, 3, "previous-entry hash"},
		{"tail-only-loose", func(c []Entry) []Entry { return c[1:] }, true, 0, ""},
		{"tail-only-strict", func(c []Entry) []Entry { return c[1:] }, false, 1, "missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.change(chain(3))
			v := NewVerifier(0, "")
			if tc.loose {
				v = NewLooseVerifier()
			}
			var got *Break
			for _, e := range c {
				if got = v.Add(e); got != nil {
					break
				}
			}
			switch {
			case tc.want == "" && got != nil:
				t.Fatalf("unexpected break %v", got)
			case tc.want != "" && (got == nil || got.Seq != tc.wantSeq || !strings.Contains(got.Reason, tc.want)):
				t.Fatalf("break %+v, want seq %d mentioning %q", got, tc.wantSeq, tc.want)
			}
		})
	}
}

package audit

import "fmt"

// Break is where a chain stops verifying: the first entry that was edited,
// or the place where entries are missing.
type Break struct {
	Seq    int64  `json:"seq"`
	Reason string `json:"reason"`
}

func (b *Break) Error() string {
	return fmt.Sprintf("audit chain broken at seq %d: %s", b.Seq, b.Reason)
}

// Verifier checks entries in ascending seq order, one at a time, so a chain
// of any length is verified in constant memory.
type Verifier struct {
	prevSeq  int64
	prevHash string
	// loose accepts the first entry's PrevHash as given (an export that
	// does not start at the chain's anchor).
	loose   bool
	checked int64
}

// NewVerifier starts at the anchor: the seq and hash of the last pruned
// entry (0 and "" when nothing was pruned).
func NewVerifier(anchorSeq int64, anchorHash string) *Verifier {
	return &Verifier{prevSeq: anchorSeq, prevHash: anchorHash}
}

// NewLooseVerifier trusts the first entry's seq and PrevHash (a file that
// holds a part of the chain) and checks everything after it.
func NewLooseVerifier() *Verifier { return &Verifier{loose: true} }

// Checked is how many entries passed.
func (v *Verifier) Checked() int64 { return v.checked }

// Add checks the next entry.
func (v *Verifier) Add(e Entry) *Break {
	if v.loose {
		v.loose = false
		v.prevSeq, v.prevHash = e.Seq-1, e.PrevHash
	}
	switch {
	case e.Seq != v.prevSeq+1:
		return &Break{Seq: v.prevSeq + 1, Reason: missing(v.prevSeq+1, e.Seq-1) + fmt.Sprintf(" (the next entry present is %d)", e.Seq)}
	case e.PrevHash != v.prevHash:
		return &Break{Seq: e.Seq, Reason: "its previous-entry hash does not match the entry before it (an entry before it was changed or removed)"}
	case e.Hash != e.ComputeHash():
		return &Break{Seq: e.Seq, Reason: "its contents do not match its hash (the entry was edited)"}
	}
	v.prevSeq, v.prevHash = e.Seq, e.Hash
	v.checked++
	return nil
}

// End checks that the chain reaches the recorded head, so removing the
// newest entries is detected too.
func (v *Verifier) End(headSeq int64, headHash string) *Break {
	if v.prevSeq < headSeq {
		return &Break{Seq: v.prevSeq + 1, Reason: missing(v.prevSeq+1, headSeq) + fmt.Sprintf(" (the chain's head is %d)", headSeq)}
	}
	if v.prevSeq > headSeq || v.prevHash != headHash {
		return &Break{Seq: v.prevSeq, Reason: "the newest entry does not match the chain's recorded head"}
	}
	return nil
}

func missing(from, to int64) string {
	if from == to {
		return fmt.Sprintf("entry %d is missing", from)
	}
	return fmt.Sprintf("entries %d to %d are missing", from, to)
}

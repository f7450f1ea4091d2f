// Package scrub finds known secret values, and their common encodings, in
// bytes and streams in one pass, and replaces or reports them. The proxy
// uses it twice: responses are scrubbed of the values it injected
// (Reader with Replace), and requests are checked for values bound to
// other hosts before they leave (Reader and Apply with Block).
//
// A Set is built once from every value in play (an Aho–Corasick automaton
// over all variants of all values) and shared by every stream; a Reader
// holds back only the bytes that could still become a match, so memory per
// stream is bounded by the longest pattern and streamed answers (server-
// sent events) are delayed only while a partial match is pending.
package scrub

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
)

// Owner says whose a value is. It never holds the value.
type Owner struct {
	Vault  string // vault id
	Key    string // credential key (a canary's name for a canary)
	Canary bool   // a bait value that is never injected
}

// Value is one secret value to look for.
type Value struct {
	Owner
	Value string
}

// Action is what a Decide function wants done with a match.
type Action uint8

const (
	Keep    Action = iota // let it through and keep scanning
	Replace               // replace it with the owner's marker
	Block                 // stop: the stream ends with a *BlockedError
)

// Decide chooses the action for a match of owner (an index for Set.Owner).
type Decide func(owner int) Action

// BlockedError reports a match that Decide blocked.
type BlockedError struct {
	Owner Owner
}

func (e *BlockedError) Error() string {
	if e.Owner.Canary {
		return fmt.Sprintf("canary %q found", e.Owner.Key)
	}
	return fmt.Sprintf("the value of %q found", e.Owner.Key)
}

// AsBlocked returns the *BlockedError in err's chain, or nil.
func AsBlocked(err error) *BlockedError {
	var be *BlockedError
	if errors.As(err, &be) {
		return be
	}
	return nil
}

// Marker is the text a replaced value becomes.
func Marker(key string) string { return "[agent-vault:redacted:" + key + "]" }

// Set is an immutable collection of values to look for; safe for
// concurrent use. The zero of *Set (nil) finds nothing.
type Set struct {
	ac        *automaton
	owners    []Owner
	markers   [][]byte
	patOwners [][]int32 // pattern id → owner indexes
	patLen    []int32
	maxLen    int
}

// NewSet builds the set of values and their Variants. Values shorter than
// MinValueLen are left out. It returns nil when nothing is left.
func NewSet(values []Value) *Set {
	s := &Set{}
	index := map[string]int32{} // pattern bytes → pattern id
	ownerIndex := map[Owner]int32{}
	var patterns [][]byte
	for _, v := range values {
		vars := Variants(v.Value)
		if len(vars) == 0 {
			continue
		}
		oi, ok := ownerIndex[v.Owner]
		if !ok {
			oi = int32(len(s.owners))
			ownerIndex[v.Owner] = oi
			s.owners = append(s.owners, v.Owner)
			s.markers = append(s.markers, []byte(Marker(v.Key)))
		}
		for _, p := range vars {
			id, ok := index[string(p)]
			if !ok {
				id = int32(len(patterns))
				index[string(p)] = id
				patterns = append(patterns, p)
				s.patOwners = append(s.patOwners, nil)
				s.patLen = append(s.patLen, int32(len(p)))
				s.maxLen = max(s.maxLen, len(p))
			}
			if !containsInt32(s.patOwners[id], oi) {
				s.patOwners[id] = append(s.patOwners[id], oi)
			}
		}
	}
	if len(patterns) == 0 {
		return nil
	}
	s.ac = newAutomaton(patterns)
	return s
}

func containsInt32(list []int32, v int32) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// Owner returns the owner of index i, as passed to Decide.
func (s *Set) Owner(i int) Owner { return s.owners[i] }

// Owners reports how many distinct owners the set has.
func (s *Set) Owners() int {
	if s == nil {
		return 0
	}
	return len(s.owners)
}

// Patterns reports how many distinct byte patterns the set matches.
func (s *Set) Patterns() int {
	if s == nil {
		return 0
	}
	return len(s.patLen)
}

// MaxLen is the longest pattern: the most a Reader holds back.
func (s *Set) MaxLen() int {
	if s == nil {
		return 0
	}
	return s.maxLen
}

// match is what decide made of the patterns ending at one state.
type match struct {
	owner  int32 // the owner to replace with, or the blocked one
	length int32 // bytes to replace; 0: keep
	block  bool
}

// at asks decide about every pattern ending at state t, longest first. A
// Block wins at once; otherwise the longest pattern decided Replace is
// replaced.
func (s *Set) at(t int32, decide Decide) match {
	a := s.ac
	st := t
	if a.own[st] < 0 {
		st = a.dict[st]
	}
	var m match
	for ; st >= 0; st = a.dict[st] {
		pid := a.own[st]
		for _, o := range s.patOwners[pid] {
			switch decide(int(o)) {
			case Block:
				return match{owner: o, block: true}
			case Replace:
				if m.length == 0 {
					m = match{owner: o, length: s.patLen[pid]}
				}
			}
		}
	}
	return m
}

// Apply scans b whole. It returns b itself when nothing was replaced (no
// copy), else a new slice with the replacements; a Block stops the scan
// and is returned as a *BlockedError.
func (s *Set) Apply(b []byte, decide Decide) ([]byte, error) {
	if s == nil {
		return b, nil
	}
	var out []byte
	emitFrom := 0
	a := s.ac
	st := int32(0)
	for i := 0; i < len(b); i++ {
		c := b[i]
		if st == 0 {
			st = a.root[c]
		} else {
			st = a.step(st, c)
		}
		if a.out[st] < 0 {
			continue
		}
		m := s.at(st, decide)
		if m.block {
			return nil, &BlockedError{Owner: s.owners[m.owner]}
		}
		if m.length == 0 {
			continue
		}
		begin := i + 1 - int(m.length)
		out = append(out, b[emitFrom:begin]...)
		out = append(out, s.markers[m.owner]...)
		emitFrom, st = i+1, 0
	}
	if out == nil {
		return b, nil
	}
	return append(out, b[emitFrom:]...), nil
}

// ApplyString is Apply for a string.
func (s *Set) ApplyString(v string, decide Decide) (string, error) {
	if s == nil {
		return v, nil
	}
	out, err := s.Apply([]byte(v), decide)
	if err != nil {
		return "", err
	}
	return string(out), nil
}

// ReplaceAll is a Decide that replaces every match.
func ReplaceAll(int) Action { return Replace }

// Key is the text used in logs for an owner: the key, marked when it is
// a canary.
func (o Owner) String() string {
	if o.Canary {
		return "canary:" + o.Key
	}
	return o.Key
}

// JoinKeys lists owners' keys for a log line, each once, in order.
func JoinKeys(owners []Owner) string {
	var b strings.Builder
	for i, o := range owners {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(o.String())
	}
	return b.String()
}

// Reader streams src with every match decided: Keep passes it, Replace
// puts the owner's marker in its place, Block ends the stream with a
// *BlockedError before the match's last byte is returned. It holds back
// only the bytes that are a prefix of some pattern, at most MaxLen.
type Reader struct {
	src    io.Reader
	set    *Set
	decide Decide

	state   int32
	buf     []byte // carry (processed, held back) followed by fresh input
	carry   int    // held-back bytes at the front of buf while scanning
	cbuf    []byte // held-back bytes between chunks
	rbuf    []byte // output when something was replaced
	pending []byte // output not yet returned
	err     error  // the source's error, returned once pending is drained
}

// readSize is how much a Reader asks its source for at a time.
const readSize = 32 << 10

// NewReader wraps src. A nil set passes src through unchanged.
func NewReader(src io.Reader, set *Set, decide Decide) *Reader {
	return &Reader{src: src, set: set, decide: decide}
}

func (r *Reader) Read(p []byte) (int, error) {
	if r.set == nil {
		return r.src.Read(p)
	}
	for {
		if len(r.pending) > 0 {
			n := copy(p, r.pending)
			r.pending = r.pending[n:]
			return n, nil
		}
		if r.err != nil {
			r.release()
			return 0, r.err
		}
		if r.buf == nil {
			r.buf = (*bufPool.Get().(*[]byte))[:r.set.maxLen+readSize]
		}
		r.carry = copy(r.buf, r.cbuf)
		r.cbuf = r.cbuf[:0]
		n, err := r.src.Read(r.buf[r.carry : r.carry+readSize])
		if n > 0 {
			if perr := r.process(r.buf[:r.carry+n], r.carry); perr != nil {
				r.pending, r.err = nil, perr
				return 0, perr
			}
		} else {
			r.cbuf = append(r.cbuf, r.buf[:r.carry]...)
		}
		if err != nil {
			if err == io.EOF && len(r.cbuf) > 0 {
				// No match can complete: the held-back bytes go out.
				r.pending = append(r.pending[:len(r.pending):len(r.pending)], r.cbuf...)
				r.cbuf = r.cbuf[:0]
			}
			r.err = err
		}
	}
}

// process scans work[from:] (work[:from] is the carry, already scanned)
// and sets pending to what may be returned and cbuf to what is held back.
func (r *Reader) process(work []byte, from int) error {
	s, a := r.set, r.set.ac
	st := r.state
	emitFrom := 0
	replaced := false
	r.rbuf = r.rbuf[:0]
	for i := from; i < len(work); i++ {
		c := work[i]
		if st == 0 {
			st = a.root[c]
		} else {
			st = a.step(st, c)
		}
		if a.out[st] < 0 {
			continue
		}
		m := s.at(st, r.decide)
		if m.block {
			return &BlockedError{Owner: s.owners[m.owner]}
		}
		if m.length == 0 {
			continue
		}
		begin := i + 1 - int(m.length)
		r.rbuf = append(r.rbuf, work[emitFrom:begin]...)
		r.rbuf = append(r.rbuf, s.markers[m.owner]...)
		emitFrom, st, replaced = i+1, 0, true
	}
	r.state = st
	keepFrom := max(emitFrom, len(work)-int(a.depth[st]))
	if replaced {
		r.pending = append(r.rbuf, work[emitFrom:keepFrom]...)
		r.rbuf = r.pending[:0]
	} else {
		r.pending = work[emitFrom:keepFrom] // no copy: returned before buf is refilled
	}
	// The carry waits aside until pending is drained, then goes to the
	// front of buf.
	r.cbuf = append(r.cbuf[:0], work[keepFrom:]...)
	r.carry = 0
	return nil
}

// bufPool recycles Readers' buffers: one per stream otherwise costs a
// 48 KiB allocation per proxied response.
var bufPool = sync.Pool{New: func() any { b := make([]byte, MaxPatternLen+readSize); return &b }}

// release returns the buffer once nothing points into it.
func (r *Reader) release() {
	if r.buf != nil {
		b := r.buf[:cap(r.buf)]
		r.buf, r.pending = nil, nil
		bufPool.Put(&b)
	}
}

// Close closes src when it is an io.Closer.
func (r *Reader) Close() error {
	r.release()
	if c, ok := r.src.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// scanString runs the automaton over v and calls onMatch at every state
// with an output, with the index of v's last byte of the match; onMatch
// returns false to stop. It allocates nothing.
func (s *Set) scanString(v string, onMatch func(st int32, end int) bool) {
	a := s.ac
	st := int32(0)
	for i := 0; i < len(v); i++ {
		c := v[i]
		if st == 0 {
			st = a.root[c]
		} else {
			st = a.step(st, c)
		}
		if a.out[st] >= 0 && !onMatch(st, i) {
			return
		}
	}
}

// CheckString reports the first match in v that decide blocks, as a
// *BlockedError; nil when none. Matches decided Keep or Replace are
// passed over. It allocates nothing unless it blocks.
func (s *Set) CheckString(v string, decide Decide) error {
	if s == nil {
		return nil
	}
	var err error
	s.scanString(v, func(st int32, _ int) bool {
		if m := s.at(st, decide); m.block {
			err = &BlockedError{Owner: s.owners[m.owner]}
			return false
		}
		return true
	})
	return err
}

// ReplaceString is ApplyString that allocates only when v holds a match.
func (s *Set) ReplaceString(v string, decide Decide) (string, error) {
	if s == nil {
		return v, nil
	}
	found := false
	s.scanString(v, func(int32, int) bool { found = true; return false })
	if !found {
		return v, nil
	}
	return s.ApplyString(v, decide)
}

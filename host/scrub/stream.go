package scrub

// Stream is the push form of Reader, for protocols that hand over their
// data in pieces of their own (websocket frames): each piece is scanned
// with the state the previous one left, what may go out is appended to
// the caller's buffer, and only a possible partial match is held back
// (at most MaxLen bytes) until the next piece or Flush. The zero Stream
// of a nil set passes everything through.
type Stream struct {
	set    *Set
	decide Decide
	state  int32
	carry  []byte // held back: a prefix of some pattern
	work   []byte // carry followed by the new piece, while scanning
}

// NewStream returns a Stream that decides matches of set with decide.
func NewStream(set *Set, decide Decide) *Stream { return &Stream{set: set, decide: decide} }

// Append scans p and appends to dst what may be passed on: p with its
// matches replaced, less the held-back tail. A Block returns a
// *BlockedError and appends nothing of p.
func (s *Stream) Append(dst, p []byte) ([]byte, error) {
	if s.set == nil {
		return append(dst, p...), nil
	}
	from := len(s.carry)
	s.work = append(append(s.work[:0], s.carry...), p...)
	work := s.work
	a := s.set.ac
	st := s.state
	emitFrom := 0
	start := len(dst)
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
		m := s.set.at(st, s.decide)
		if m.block {
			return dst[:start], &BlockedError{Owner: s.set.owners[m.owner]}
		}
		if m.length == 0 {
			continue
		}
		begin := i + 1 - int(m.length)
		dst = append(dst, work[emitFrom:begin]...)
		dst = append(dst, s.set.markers[m.owner]...)
		emitFrom, st = i+1, 0
	}
	s.state = st
	keepFrom := max(emitFrom, len(work)-int(a.depth[st]))
	dst = append(dst, work[emitFrom:keepFrom]...)
	s.carry = append(s.carry[:0], work[keepFrom:]...)
	return dst, nil
}

// Flush appends the held-back bytes (no match can complete: the stream,
// or the message, has ended) and starts afresh.
func (s *Stream) Flush(dst []byte) []byte {
	dst = append(dst, s.carry...)
	s.Reset()
	return dst
}

// Reset drops any held-back bytes and partial match.
func (s *Stream) Reset() {
	s.state = 0
	s.carry = s.carry[:0]
}

// Check scans p for a blocked match, carrying the state to the next call,
// without producing output: for a stream that is passed on as it is and
// only ever refused. It allocates nothing unless it blocks.
func (s *Stream) Check(p []byte) error {
	if s.set == nil {
		return nil
	}
	a := s.set.ac
	st := s.state
	for _, c := range p {
		if st == 0 {
			st = a.root[c]
		} else {
			st = a.step(st, c)
		}
		if a.out[st] < 0 {
			continue
		}
		if m := s.set.at(st, s.decide); m.block {
			s.state = 0
			return &BlockedError{Owner: s.set.owners[m.owner]}
		}
	}
	s.state = st
	return nil
}

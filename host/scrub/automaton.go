package scrub

// automaton is an Aho–Corasick automaton over byte patterns whose state
// can be carried from one chunk of a stream to the next: Step takes one
// byte and the current state and returns the next. The root has a dense
// table (most bytes of ordinary text leave it at once); every other state
// keeps its edges sorted in one shared array, so a thousand credentials
// in a dozen encodings each cost a few megabytes, not a table of 256
// entries per state.
type automaton struct {
	root   [256]int32
	start  []int32 // state s's edges are labels/next[start[s]:start[s+1]]
	labels []byte
	next   []int32
	fail   []int32
	depth  []int32
	// out is the longest pattern ending at the state (its own or through
	// its failure chain), -1 when none; dict is the next state down the
	// failure chain with an output, for the shorter patterns ending there.
	out  []int32
	own  []int32 // the pattern that is the state's whole string, -1 when none
	dict []int32
}

// newAutomaton builds the automaton for patterns; pattern i is reported
// as i. Empty patterns are ignored.
func newAutomaton(patterns [][]byte) *automaton {
	// The trie keeps each state's edges as a slice sorted by label; they
	// are compacted into the shared arrays afterwards.
	type edge struct {
		label byte
		to    int32
	}
	type node struct {
		edges []edge
		out   int32
	}
	nodes := []node{{out: -1}}
	for id, p := range patterns {
		if len(p) == 0 {
			continue
		}
		s := int32(0)
		for _, b := range p {
			es := nodes[s].edges
			i := 0
			for i < len(es) && es[i].label < b {
				i++
			}
			if i < len(es) && es[i].label == b {
				s = es[i].to
				continue
			}
			t := int32(len(nodes))
			nodes = append(nodes, node{out: -1})
			es = append(es, edge{})
			copy(es[i+1:], es[i:])
			es[i] = edge{label: b, to: t}
			nodes[s].edges = es
			s = t
		}
		if nodes[s].out < 0 {
			nodes[s].out = int32(id)
		}
	}
	n := len(nodes)
	a := &automaton{
		start: make([]int32, n+1), fail: make([]int32, n), depth: make([]int32, n),
		out: make([]int32, n), own: make([]int32, n), dict: make([]int32, n),
		labels: make([]byte, 0, n), next: make([]int32, 0, n),
	}
	for s := range nodes {
		a.start[s] = int32(len(a.labels))
		for _, e := range nodes[s].edges {
			a.labels = append(a.labels, e.label)
			a.next = append(a.next, e.to)
		}
		nodes[s].edges = nil
	}
	a.start[n] = int32(len(a.labels))
	// Breadth-first: failure links, depths, outputs.
	queue := make([]int32, 0, n)
	for i := range a.out {
		a.out[i], a.own[i], a.dict[i] = nodes[i].out, nodes[i].out, -1
	}
	for i := a.start[0]; i < a.start[1]; i++ {
		t := a.next[i]
		a.root[a.labels[i]] = t
		a.depth[t] = 1
		queue = append(queue, t)
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for i := a.start[s]; i < a.start[s+1]; i++ {
			b, t := a.labels[i], a.next[i]
			a.depth[t] = a.depth[s] + 1
			f := a.fail[s]
			for {
				if g := a.edge(f, b); g >= 0 {
					a.fail[t] = g
					break
				}
				if f == 0 {
					a.fail[t] = 0
					break
				}
				f = a.fail[f]
			}
			ft := a.fail[t]
			if a.own[ft] >= 0 {
				a.dict[t] = ft
			} else {
				a.dict[t] = a.dict[ft]
			}
			if a.out[t] < 0 {
				a.out[t] = a.out[ft] // the longest output is the own one, else the chain's
			}
			queue = append(queue, t)
		}
	}
	return a
}

// edge returns the goto target of s on b, or -1.
func (a *automaton) edge(s int32, b byte) int32 {
	if s == 0 {
		if t := a.root[b]; t != 0 {
			return t
		}
		return -1
	}
	lo, hi := a.start[s], a.start[s+1]
	if hi-lo <= 8 {
		for i := lo; i < hi; i++ {
			if a.labels[i] == b {
				return a.next[i]
			}
		}
		return -1
	}
	for lo < hi {
		m := int32(uint32(lo+hi) >> 1)
		switch l := a.labels[m]; {
		case l == b:
			return a.next[m]
		case l < b:
			lo = m + 1
		default:
			hi = m
		}
	}
	return -1
}

// step moves from state s on byte b.
func (a *automaton) step(s int32, b byte) int32 {
	for s != 0 {
		if t := a.edge(s, b); t >= 0 {
			return t
		}
		s = a.fail[s]
	}
	return a.root[b]
}

// states reports the automaton's size (tests and benchmarks).
func (a *automaton) states() int { return len(a.fail) }

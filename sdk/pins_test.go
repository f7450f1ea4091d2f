package sdk

import (
	"strings"
	"testing"
)

// TestPinTable runs one sequence of host operations and checks which
// buffers are pinned after each step.
func TestPinTable(t *testing.T) {
	var pt pinTable
	bufs := map[uint32][]byte{1: []byte("a"), 2: []byte("bb"), 3: []byte("ccc")}
	steps := []struct {
		name string
		op   func()
		want string // the contents found at 1, 2, 3 ("-" for none)
	}{
		{name: "empty", op: func() {}, want: "-,-,-"},
		{name: "add-1", op: func() { pt.add(1, bufs[1]) }, want: "a,-,-"},
		{name: "add-2-3", op: func() { pt.add(2, bufs[2]); pt.add(3, bufs[3]) }, want: "a,bb,ccc"},
		{name: "remove-middle", op: func() { pt.remove(2) }, want: "a,-,ccc"},
		{name: "remove-unknown", op: func() { pt.remove(9) }, want: "a,-,ccc"},
		{name: "remove-twice", op: func() { pt.remove(2) }, want: "a,-,ccc"},
		{name: "remove-first", op: func() { pt.remove(1) }, want: "-,-,ccc"},
		{name: "re-add", op: func() { pt.add(1, bufs[1]) }, want: "a,-,ccc"},
		{name: "remove-all", op: func() { pt.remove(1); pt.remove(3) }, want: "-,-,-"},
	}
	for _, s := range steps {
		s.op()
		var got []string
		for ptr := uint32(1); ptr <= 3; ptr++ {
			if b := pt.get(ptr); b != nil {
				got = append(got, string(b))
			} else {
				got = append(got, "-")
			}
		}
		if g := strings.Join(got, ","); g != s.want {
			t.Errorf("after %s: got %s, want %s", s.name, g, s.want)
		}
	}
	if len(pt.bufs) != 0 || cap(pt.bufs) == 0 {
		t.Fatalf("table keeps %d entries after removing all", len(pt.bufs))
	}
	if pt.bufs[:1][0].b != nil {
		t.Fatal("a removed entry still references its buffer")
	}
}

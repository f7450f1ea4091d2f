package sdk

// pinTable holds the buffers the host owns until it calls free (ABI.md,
// "Memory ownership"), keyed by their address in linear memory. At most a
// few are pinned at once (the host's input buffer and one result), so a
// slice searched linearly is used rather than a map: in wasm every hashed
// byte and every call costs a trip through the host's deadline check, and a
// map insert plus delete was several microseconds of a small call.
type pinTable struct{ bufs []pinned }

type pinned struct {
	ptr uint32
	b   []byte
}

// add pins b under ptr.
func (t *pinTable) add(ptr uint32, b []byte) { t.bufs = append(t.bufs, pinned{ptr, b}) }

// get returns the buffer pinned at ptr, or nil.
func (t *pinTable) get(ptr uint32) []byte {
	for i := range t.bufs {
		if t.bufs[i].ptr == ptr {
			return t.bufs[i].b
		}
	}
	return nil
}

// remove unpins ptr; an unknown ptr is ignored, as free(0) is.
func (t *pinTable) remove(ptr uint32) {
	for i := range t.bufs {
		if t.bufs[i].ptr == ptr {
			last := len(t.bufs) - 1
			t.bufs[i] = t.bufs[last]
			t.bufs[last] = pinned{} // let the GC have the buffer
			t.bufs = t.bufs[:last]
			return
		}
	}
}

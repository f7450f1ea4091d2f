package plugin

import (
	"context"
	"sync"

	"github.com/tetratelabs/wazero/api"
)

// instance is one instantiated plugin module. It serves one call at a time.
type instance struct {
	mod    api.Module
	fns    map[string]api.Function
	stderr *capWriter
	// inPtr/inCap is the input buffer the host allocated in this instance
	// and reuses across calls (ABI.md, "Memory ownership"): it saves an
	// alloc and a free per call, which matter in a Go guest.
	inPtr, inCap uint32
}

func (i *instance) close(ctx context.Context) { i.mod.Close(ctx) }

// pool hands out instances, creating them on demand up to max live ones.
// Healthy instances go back to the idle list; failed ones are closed, and
// the next get creates a fresh one, so one bad call never poisons the next.
type pool struct {
	sem     chan struct{} // one token per live (idle or busy) instance
	idle    chan *instance
	newInst func(ctx context.Context) (*instance, error)

	mu     sync.Mutex
	closed bool
}

func newPool(max int, newInst func(context.Context) (*instance, error)) *pool {
	return &pool{sem: make(chan struct{}, max), idle: make(chan *instance, max), newInst: newInst}
}

// get returns an idle instance or a new one; it waits while max instances
// are busy and gives up when ctx is done.
func (p *pool) get(ctx context.Context) (*instance, error) {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case inst := <-p.idle:
		return inst, nil
	default:
	}
	inst, err := p.newInst(ctx)
	if err != nil {
		<-p.sem
		return nil, err
	}
	return inst, nil
}

// put returns inst after a call; unhealthy instances are discarded.
func (p *pool) put(ctx context.Context, inst *instance, healthy bool) {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if healthy && !closed {
		p.idle <- inst // never blocks: idle holds at most max instances
	} else {
		inst.close(ctx)
	}
	<-p.sem
}

func (p *pool) close(ctx context.Context) {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	for {
		select {
		case inst := <-p.idle:
			inst.close(ctx)
		default:
			return
		}
	}
}

// capWriter keeps the first 4 KiB a guest writes to stderr, so a Go
// panic's or runtime fatal error's first line can be classified and logged.
type capWriter struct {
	mu  sync.Mutex
	buf []byte
}

func (w *capWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if room := 4096 - len(w.buf); room > 0 {
		if len(b) < room {
			room = len(b)
		}
		w.buf = append(w.buf, b[:room]...)
	}
	return len(b), nil
}

func (w *capWriter) reset() {
	w.mu.Lock()
	w.buf = w.buf[:0]
	w.mu.Unlock()
}

func (w *capWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.buf)
}

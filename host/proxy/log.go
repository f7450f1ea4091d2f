package proxy

import (
	"sync"
	"sync/atomic"
	"time"
)

// Event records one proxied request. It holds key names, never values, and
// the path without its query (queries may carry substituted values).
type Event struct {
	Time      time.Time
	VaultID   string
	VaultName string
	ActorID   string
	ActorKind ActorKind
	Method    string
	Host      string
	Path      string
	Service   string   // matched service; empty when none matched
	Keys      []string // credential keys injected
	Status    int      // status sent to the client (499: client went away)
	Latency   time.Duration
	Error     string // stable code when the proxy refused or failed the request
	// Scrubbed counts, by key, the values replaced in the response.
	Scrubbed map[string]int
	// Blocked names the key whose value stopped the request or response
	// ("canary:NAME" for a canary).
	Blocked string
}

// Sink receives request events. Emit is called on the request path and must
// never block.
type Sink interface {
	Emit(Event)
}

type discardSink struct{}

// Tee is a Sink that hands every event to each of its sinks in order; each
// must not block, like any Sink.
type Tee []Sink

// Emit passes e to every sink.
func (t Tee) Emit(e Event) {
	for _, s := range t {
		s.Emit(e)
	}
}

func (discardSink) Emit(Event) {}

// AsyncSink delivers events to a handler on its own goroutine through a
// bounded queue. When the queue is full, events are dropped and counted,
// so a slow log writer never slows the proxy.
type AsyncSink struct {
	ch      chan Event
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
	dropped atomic.Uint64
}

// NewAsyncSink starts a sink with room for capacity queued events; handle
// runs on one goroutine, in order.
func NewAsyncSink(capacity int, handle func(Event)) *AsyncSink {
	s := &AsyncSink{ch: make(chan Event, capacity), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			select {
			case e := <-s.ch:
				handle(e)
			case <-s.stop:
				for {
					select {
					case e := <-s.ch:
						handle(e)
					default:
						return
					}
				}
			}
		}
	}()
	return s
}

// Emit queues e or drops it when the queue is full or the sink is closed.
func (s *AsyncSink) Emit(e Event) {
	select {
	case <-s.stop:
		s.dropped.Add(1)
		return
	default:
	}
	select {
	case s.ch <- e:
	default:
		s.dropped.Add(1)
	}
}

// Dropped reports how many events were lost to a full queue or after Close.
func (s *AsyncSink) Dropped() uint64 { return s.dropped.Load() }

// Close stops accepting events, delivers the queued ones and waits for the
// handler to finish.
func (s *AsyncSink) Close() {
	s.once.Do(func() { close(s.stop) })
	<-s.done
}

// Interface guards
var (
	_ Sink = (*AsyncSink)(nil)
	_ Sink = discardSink{}
	_ Sink = Tee(nil)
)

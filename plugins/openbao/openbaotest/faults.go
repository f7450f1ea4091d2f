package openbaotest

import (
	"strings"
	"time"
)

type faultKind int

const (
	faultStatus faultKind = iota + 1
	faultHang
	faultDelay
	faultMalformed
)

// Fault is a misbehaviour injected on a route with Emulator.Inject.
// Handlers run first, so state changes (a minted lease) happen as they
// would on a server whose answer got lost or mangled on the way.
type Fault struct {
	kind     faultKind
	status   int
	messages []string
	delay    time.Duration
	times    int    // 0: every matching call until cleared
	onPath   string // only paths containing this
	used     int
}

// Status answers code with {"errors": [http status text]}; 503 carries
// "Vault is sealed" as the sealed server does.
func Status(code int) Fault {
	msg := []string{}
	switch code {
	case 503:
		msg = []string{"Vault is sealed"}
	case 500:
		msg = []string{"internal error"}
	case 429:
		msg = []string{"rate limit quota exceeded"}
	}
	return Fault{kind: faultStatus, status: code, messages: msg}
}

// Errors answers code with {"errors": messages}.
func Errors(code int, messages ...string) Fault {
	return Fault{kind: faultStatus, status: code, messages: messages}
}

// Hang never answers: the request is held until the client gives up or
// the emulator stops.
func Hang() Fault { return Fault{kind: faultHang} }

// Delay answers normally after d.
func Delay(d time.Duration) Fault { return Fault{kind: faultDelay, delay: d} }

// Malformed answers 200 with a JSON body cut short.
func Malformed() Fault { return Fault{kind: faultMalformed} }

// Times limits the fault to the next n matching calls.
func (f Fault) Times(n int) Fault { f.times = n; return f }

// OnPath narrows the fault to request paths containing s (e.g. one secret).
func (f Fault) OnPath(s string) Fault { f.onPath = s; return f }

// Inject adds a fault to route.
func (e *Emulator) Inject(route Route, f Fault) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults[route] = append(e.faults[route], &f)
}

// ClearFaults removes every injected fault.
func (e *Emulator) ClearFaults() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = map[Route][]*Fault{}
}

// fault picks the first live fault of route matching path, counting its use.
func (e *Emulator) fault(route Route, path string) *Fault {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, f := range e.faults[route] {
		if f.times > 0 && f.used >= f.times {
			continue
		}
		if f.onPath != "" && !strings.Contains(path, f.onPath) {
			continue
		}
		f.used++
		c := *f
		return &c
	}
	return nil
}

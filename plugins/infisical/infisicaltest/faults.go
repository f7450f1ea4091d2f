package infisicaltest

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"
)

type faultKind int

const (
	faultDelay faultKind = iota + 1
	faultHang
	faultStatus
	faultRaw
	faultClose
	faultReset
	faultNonJSON
	faultMalformedJSON
	faultSlowBody
	faultRevokeFailed
)

// Fault is a misbehaviour injected on a route with Emulator.Inject. Build
// one with the constructors below and narrow it with Times and After.
type Fault struct {
	kind          faultKind
	status        int
	name          string
	message       any
	contentType   string
	body          []byte
	delay         time.Duration
	statusDetails string

	times int               // 0: every matching call until cleared
	after int               // matching calls let through before the fault starts
	query map[string]string // only calls whose query has these values
	route Route
	seen  int
	used  int
}

// Times limits the fault to the next n matching calls.
func (f Fault) Times(n int) Fault { f.times = n; return f }

// After lets n matching calls through unharmed before the fault applies.
func (f Fault) After(n int) Fault { f.after = n; return f }

// OnQuery narrows the fault to calls whose query parameter name has value
// (e.g. one secretPath), so one emulator can serve a healthy and a faulty
// folder at once. Calls that do not match neither count nor are harmed.
func (f Fault) OnQuery(name, value string) Fault {
	q := map[string]string{name: value}
	for k, v := range f.query {
		q[k] = v
	}
	f.query = q
	return f
}

// Delayed waits d before the fault (or, for Delay, the normal answer).
func (f Fault) Delayed(d time.Duration) Fault { f.delay = d; return f }

// Status answers code with the standard error body and the default error
// name and message for that status.
func Status(code int) Fault {
	return Error(code, defaultErrorName(code), defaultErrorMessage(code))
}

// Error answers code with the standard error body carrying name (the
// `error` member) and message. For 422 the message becomes a one-issue
// array, as the real validation errors are.
func Error(code int, name, message string) Fault {
	var msg any = message
	if code == http.StatusUnprocessableEntity {
		msg = []zodIssue{issueCustom("", message)}
	}
	return Fault{kind: faultStatus, status: code, name: name, message: msg}
}

// TokenExpired answers 403 TokenError "Your token has expired...", what the
// real server says for an expired access token.
func TokenExpired() Fault { return Error(http.StatusForbidden, ErrNameToken, MsgTokenExpired) }

// Delay holds the answer for d, then answers normally.
func Delay(d time.Duration) Fault { return Fault{kind: faultDelay, delay: d} }

// Hang never answers: the request is held until the client gives up, the
// emulator stops, or ReleaseHangs is called (then it answers 504).
func Hang() Fault { return Fault{kind: faultHang} }

// Raw answers code with the given content type and body.
func Raw(code int, contentType, body string) Fault {
	return Fault{kind: faultRaw, status: code, contentType: contentType, body: []byte(body)}
}

// HTMLError answers code with an HTML page, as a load balancer in front of
// the server does; the SDK's error message is then empty.
func HTMLError(code int) Fault {
	page := fmt.Sprintf("<html><head><title>%d %s</title></head><body><center><h1>%d %s</h1></center></body></html>\n",
		code, http.StatusText(code), code, http.StatusText(code))
	return Raw(code, "text/html", page)
}

// NoContent answers 204 with no body.
func NoContent() Fault { return Fault{kind: faultRaw, status: http.StatusNoContent} }

// NonJSON answers normally but labels the body text/plain, so the SDK
// silently returns zero values.
func NonJSON() Fault { return Fault{kind: faultNonJSON} }

// MalformedJSON answers normally but cuts the body in half, keeping the
// JSON content type; the SDK returns a RequestError.
func MalformedJSON() Fault { return Fault{kind: faultMalformedJSON} }

// SlowBody sends headers at once, then the body 16 bytes at a time with
// pause between pieces.
func SlowBody(pause time.Duration) Fault { return Fault{kind: faultSlowBody, delay: pause} }

// CloseConnection drops the connection without answering.
func CloseConnection() Fault { return Fault{kind: faultClose} }

// ResetConnection drops the connection with a TCP reset.
func ResetConnection() Fault { return Fault{kind: faultReset} }

// RevokeFailed makes a lease revoke fail at the provider: the real server
// still answers 200, keeps the lease and marks it status "Failed to delete"
// with details. Only meaningful on RouteRevokeLease.
func RevokeFailed(details string) Fault {
	return Fault{kind: faultRevokeFailed, statusDetails: details}
}

// Inject adds a fault to a route (AllRoutes for every route). Faults apply
// in the order injected; the first one that matches a call wins.
func (e *Emulator) Inject(route Route, f Fault) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f.route = route
	f.seen, f.used = 0, 0
	e.faults = append(e.faults, &f)
}

// ClearFaults removes every injected fault.
func (e *Emulator) ClearFaults() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = nil
}

// takeFaultLocked returns the fault to apply to a call on route, if any,
// and retires faults whose count is used up.
func (e *Emulator) takeFaultLocked(route Route, query url.Values) *Fault {
	if route == "" {
		return nil
	}
	var hit *Fault
	kept := e.faults[:0]
	for _, f := range e.faults {
		if (f.route == route || (f.route == AllRoutes && route != RouteGCPMetadata)) && queryMatches(f.query, query) {
			f.seen++
			if hit == nil && f.seen > f.after {
				hit = f
				f.used++
			}
		}
		if f.times == 0 || f.used < f.times {
			kept = append(kept, f)
		}
	}
	e.faults = kept
	if hit == nil {
		return nil
	}
	cp := *hit
	return &cp
}

func queryMatches(want map[string]string, q url.Values) bool {
	for k, v := range want {
		if q.Get(k) != v {
			return false
		}
	}
	return true
}

// applyPreFault applies the part of a fault that happens before the
// handler runs. It reports whether the answer is complete.
func (e *Emulator) applyPreFault(w *statusRecorder, c *call, f *Fault) bool {
	if f.delay > 0 && f.kind != faultSlowBody {
		if !e.wait(c.r.Context(), f.delay) {
			return true
		}
	}
	switch f.kind {
	case faultHang:
		select {
		case <-c.r.Context().Done():
			return true
		case <-e.releaseChan():
		}
		writeJSON(w, http.StatusGatewayTimeout, errorBody{ReqID: c.reqID, StatusCode: 504, Message: "emulator released a hanging request", Error: "GatewayTimeout"})
		return true
	case faultStatus:
		writeJSON(w, f.status, errorBody{ReqID: c.reqID, StatusCode: f.status, Message: f.message, Error: f.name})
		return true
	case faultRaw:
		if f.contentType != "" {
			w.Header().Set("Content-Type", f.contentType)
		}
		w.WriteHeader(f.status)
		_, _ = w.Write(f.body)
		return true
	case faultClose, faultReset:
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(http.ErrAbortHandler) // drops the connection anyway
		}
		if tc, ok := conn.(*net.TCPConn); ok && f.kind == faultReset {
			_ = tc.SetLinger(0) // close sends RST instead of FIN
		}
		_ = conn.Close()
		return true
	}
	return false
}

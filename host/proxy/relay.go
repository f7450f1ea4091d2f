package proxy

import (
	"maps"
	"mime"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"slices"
	"strings"
)

// relay sends a prepared request upstream and streams the answer to the
// client. An ordinary request (see inline) goes straight through the
// upstream client: the request is sent as it is, not copied, and the
// upstream's header map becomes the client's, which spares the copies the
// ReverseProxy makes of both. Everything else (websocket upgrades,
// Expect: 100-continue, large or streamed uploads) goes through the
// ReverseProxy, which reads and writes at once where those need it.
func (p *Proxy) relay(w *recorder, r *http.Request, st *reqState) {
	if !inline(r) {
		p.rp.ServeHTTP(w, r)
		st.scrub.endWebSocket(&st.ev)
		return
	}
	if r.ContentLength == 0 {
		r.Body = nil // an empty body is sent as none, not as chunked
	}
	if _, ok := r.Header["User-Agent"]; !ok {
		r.Header["User-Agent"] = []string{""} // no Go default: the upstream sees what the agent sent
	}
	r.Close = false
	resp, err := p.rp.Transport.RoundTrip(r) // the upstream client
	if err == nil && resp.Body == nil {
		resp.Body = http.NoBody
	}
	if err != nil {
		p.upstreamError(w, r, err)
		return
	}
	if err := p.modifyResponse(resp); err != nil {
		resp.Body.Close()
		p.upstreamError(w, r, err)
		return
	}
	removeHopHeaders(resp.Header, false)
	announced := len(resp.Trailer)
	if announced > 0 {
		resp.Header["Trailer"] = []string{strings.Join(slices.Sorted(maps.Keys(resp.Trailer)), ", ")}
	}
	// The upstream's header map becomes the client's: the connection
	// loop's response adopts it whole; another writer gets the values.
	if a, ok := w.ResponseWriter.(headerAdopter); !ok || !a.adoptHeader(resp.Header) {
		h := w.Header()
		for k, v := range resp.Header {
			h[k] = v
		}
	}
	w.WriteHeader(resp.StatusCode)

	// Like the ReverseProxy: server-sent events and bodies of unknown
	// length are flushed after every write, so streamed answers arrive as
	// sent. A body of known length is flushed by upBody before any read
	// that would wait.
	flushEach := resp.ContentLength < 0 || eventStream(resp.Header)
	buf := copyBuffers.Get().(*[]byte)
	for {
		n, rerr := resp.Body.Read(*buf)
		if n > 0 {
			if _, werr := w.Write((*buf)[:n]); werr != nil {
				break // the client is gone; its connection closes
			}
			if flushEach {
				w.Flush()
			}
		}
		if rerr != nil {
			break // a failure is on st.body, and forward aborts the response
		}
	}
	copyBuffers.Put(buf)
	resp.Body.Close()
	if len(resp.Trailer) > 0 {
		h := w.Header()
		for k, v := range resp.Trailer {
			if len(resp.Trailer) != announced {
				k = http.TrailerPrefix + k // trailers the upstream did not announce
			}
			h[k] = v
		}
	}
}

// headerAdopter is a ResponseWriter that can take a header map as its own.
type headerAdopter interface {
	adoptHeader(http.Header) bool
}

// eventStream reports whether a response is server-sent events.
func eventStream(h http.Header) bool {
	// Most responses are not: skip parsing (which allocates) unless the
	// type starts as an event stream's does.
	const sse = "text/event-stream"
	v := strings.TrimSpace(h.Get("Content-Type"))
	if len(v) < len(sse) || !strings.EqualFold(v[:len(sse)], sse) {
		return false
	}
	ct, _, _ := mime.ParseMediaType(v)
	return ct == sse
}

// informational passes a 1xx response on to the client: through the
// ReverseProxy's trace when it sent the request, else straight to the
// client's response.
func informational(req *http.Request, code int, header http.Header) error {
	ctx := req.Context()
	if t := httptrace.ContextClientTrace(ctx); t != nil && t.Got1xxResponse != nil {
		return t.Got1xxResponse(code, textproto.MIMEHeader(header))
	}
	if st, _ := ctx.Value(stateKey{}).(*reqState); st != nil && st.rec.ResponseWriter != nil {
		h := st.rec.Header()
		for k, v := range header {
			h[k] = v
		}
		st.rec.WriteHeader(code)
		clear(h) // a 1xx's headers are its own
	}
	return nil
}

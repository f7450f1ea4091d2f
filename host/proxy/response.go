package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// This file holds the two halves of a request on the connection loop
// (serve.go): the body the handler reads and the response it writes.

// requestBody wraps a request's body: it sends 100 Continue on the first
// read when the client asked for it, marks the request as waiting once the
// body has been read in full, and serialises reads with the drain after
// the handler (a transport may still read it from another goroutine).
type requestBody struct {
	c              *serverConn
	w              *response
	r              io.ReadCloser
	mu             sync.Mutex
	expectContinue bool
	eof, closed    bool
	broken         bool // a read failed: malformed framing, or the client stopped sending
}

func (b *requestBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	if b.expectContinue {
		b.expectContinue = false
		b.w.writeContinue()
	}
	n, err := b.r.Read(p)
	switch {
	case err == io.EOF && !b.eof:
		b.eof = true
		b.c.startWaiting()
	case err != nil && err != io.EOF:
		b.broken = true
	}
	return n, err
}

// failed reports whether reading the body failed on the client's side.
func (b *requestBody) failed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.broken
}

// Close ends reading; finish decides what happens to the rest.
func (b *requestBody) Close() error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	return nil
}

// finish reads and discards what the handler left of the body, up to
// maxDrainBytes, and reports whether the connection is still in step with
// the client. A client that was never told to continue has sent no body.
func (b *requestBody) finish() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	if b.eof {
		return true
	}
	if b.expectContinue {
		return false
	}
	n, err := io.CopyN(io.Discard, b.r, maxDrainBytes+1)
	return err == io.EOF && n <= maxDrainBytes
}

// response is the http.ResponseWriter of one request on a serverConn. It
// writes the status line and headers at WriteHeader, frames the body with
// the Content-Length the handler set or else chunked (close-delimited for
// an HTTP/1.0 client), and flushes at Flush and at the end.
type response struct {
	c      *serverConn
	req    *http.Request
	header http.Header

	wmu           sync.Mutex // serialises 100 Continue with the headers
	status        int        // final status once the headers are written
	wroteHeader   bool
	head          bool // HEAD: headers only
	bodyless      bool // no body may follow (HEAD, 204, 304)
	chunked       bool
	contentLength int64 // declared length; -1 when none
	written       int64
	trailers      []string // names the handler announced in Trailer
	closeAfter    bool
	hijacked      bool
	err           error    // the first write error; the connection is done
	chunkSize     [16]byte // room for a chunk's hexadecimal size

	state reqState // the proxy's per-request state, allocated with the response
}

// Header returns the response's header map, made on first use: a relayed
// response adopts the upstream's instead (adoptHeader).
func (w *response) Header() http.Header {
	if w.header == nil {
		w.header = make(http.Header, 8)
	}
	return w.header
}

// adoptHeader makes h the response's header map, when the handler has set
// no header of its own yet.
func (w *response) adoptHeader(h http.Header) bool {
	if w.header != nil || w.wroteHeader {
		return false
	}
	w.header = h
	return true
}

// WriteHeader sends an informational (1xx) status at once; a final one
// is written to the buffer with the headers, framed as described above.
func (w *response) WriteHeader(code int) {
	if w.hijacked || w.wroteHeader {
		return
	}
	if code < 100 || code > 999 {
		panic("invalid WriteHeader code " + strconv.Itoa(code))
	}
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if code < 200 && code != http.StatusSwitchingProtocols {
		w.writeStatus(code, w.Header())
		w.flush()
		return
	}
	w.status, w.wroteHeader = code, true
	h := w.Header()
	if code < 200 || code == http.StatusNoContent || code == http.StatusNotModified || w.head {
		w.bodyless = true
	}
	if code < 200 || code == http.StatusNoContent {
		delete(h, "Content-Length")
	}
	delete(h, "Transfer-Encoding") // the framing is this writer's
	if cl := h.Get("Content-Length"); cl != "" {
		n, err := strconv.ParseInt(cl, 10, 64)
		if err != nil || n < 0 {
			delete(h, "Content-Length")
		} else {
			w.contentLength = n
		}
	}
	if !w.bodyless && w.contentLength < 0 {
		if w.req.ProtoAtLeast(1, 1) {
			w.chunked = true
			h.Set("Transfer-Encoding", "chunked")
		} else {
			w.closeAfter = true // an HTTP/1.0 body ends when the connection does
		}
	}
	if w.chunked {
		for _, v := range h["Trailer"] {
			for name := range strings.SplitSeq(v, ",") {
				if name = strings.TrimSpace(name); name != "" {
					w.trailers = append(w.trailers, http.CanonicalHeaderKey(name))
				}
			}
		}
	}
	for _, v := range h["Connection"] {
		if strings.EqualFold(strings.TrimSpace(v), "close") {
			w.closeAfter = true
		}
	}
	if w.closeAfter {
		h.Set("Connection", "close")
	}
	if _, ok := h["Date"]; !ok {
		h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	}
	w.writeStatus(code, h)
}

// writeStatus writes a status line and headers to the buffer. Header.Write
// turns CR and LF inside values into spaces, so no value can add a line.
func (w *response) writeStatus(code int, h http.Header) {
	bw := w.c.bw
	bw.WriteString("HTTP/1.1 ")
	bw.WriteString(strconv.Itoa(code))
	bw.WriteByte(' ')
	if text := http.StatusText(code); text != "" {
		bw.WriteString(text)
	} else {
		bw.WriteString("status code " + strconv.Itoa(code))
	}
	bw.WriteString("\r\n")
	h.Write(bw) //nolint:errcheck // bufio keeps the error for Flush
	bw.WriteString("\r\n")
}

// writeContinue answers Expect: 100-continue when the handler first reads
// the body, unless the final status has already gone out.
func (w *response) writeContinue() {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if w.wroteHeader || w.hijacked {
		return
	}
	// A failure here shows up on the response's own writes.
	w.c.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
	w.c.bw.Flush() //nolint:errcheck
}

func (w *response) Write(b []byte) (int, error) {
	if w.hijacked {
		return 0, http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.err != nil {
		return 0, w.err
	}
	if w.bodyless {
		if w.head {
			return len(b), nil
		}
		return 0, http.ErrBodyNotAllowed
	}
	var tooLong error
	if w.contentLength >= 0 && w.written+int64(len(b)) > w.contentLength {
		// More than the handler declared would run into the next
		// response: write what fits, then close.
		b, tooLong = b[:w.contentLength-w.written], http.ErrContentLength
		w.closeAfter = true
	}
	if len(b) == 0 {
		return 0, tooLong // an empty chunk would end a chunked body
	}
	bw := w.c.bw
	if w.chunked {
		bw.Write(strconv.AppendInt(w.chunkSize[:0], int64(len(b)), 16)) //nolint:errcheck // checked below
		bw.WriteString("\r\n")
	}
	bw.Write(b) //nolint:errcheck // checked below
	if w.chunked {
		bw.WriteString("\r\n")
	}
	// bufio keeps the first write error and reports it on every later
	// Write, an empty one included.
	if _, err := bw.Write(nil); err != nil {
		w.err = err
		return 0, err
	}
	w.written += int64(len(b))
	return len(b), tooLong
}

// Flush sends what is buffered, writing the headers first if needed.
func (w *response) Flush() { w.FlushError() } //nolint:errcheck // Flush cannot report

// FlushError is Flush for http.ResponseController, with the error.
func (w *response) FlushError() error {
	if w.hijacked {
		return http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	w.flush()
	return w.err
}

func (w *response) flush() {
	if w.err == nil {
		if err := w.c.bw.Flush(); err != nil {
			w.err = err
		}
	}
}

// Hijack hands the connection and its buffers to the handler (CONNECT
// tunnels, websocket upgrades). Anything buffered is sent first.
func (w *response) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.hijacked {
		return nil, nil, http.ErrHijacked
	}
	w.c.stopWaiting()
	w.flush()
	if w.err != nil {
		return nil, nil, w.err
	}
	w.wmu.Lock()
	w.hijacked = true
	w.wmu.Unlock()
	w.c.srv.untrack(w.c) // shutdown no longer waits for it
	// The reader still hands out first a byte a hang-up watcher caught.
	return w.c.rwc, bufio.NewReadWriter(w.c.br, w.c.bw), nil
}

// finish ends the response after the handler: the headers if none were
// written (an empty 200), the last chunk and trailers, a flush. A body
// shorter than its Content-Length leaves the client waiting for bytes that
// will never come, so the connection closes.
func (w *response) finish() {
	if w.hijacked {
		return
	}
	if !w.wroteHeader {
		if _, ok := w.header["Content-Length"]; !ok {
			w.Header().Set("Content-Length", "0")
		}
		w.WriteHeader(http.StatusOK)
	}
	if w.chunked && w.err == nil {
		bw := w.c.bw
		bw.WriteString("0\r\n")
		trailer := http.Header{}
		for _, name := range w.trailers {
			if v, ok := w.header[name]; ok {
				trailer[name] = v
			}
		}
		for k, v := range w.header {
			if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
				trailer[http.CanonicalHeaderKey(name)] = v
			}
		}
		trailer.Write(bw) //nolint:errcheck // bufio keeps the error
		bw.WriteString("\r\n")
	}
	if !w.bodyless && w.contentLength >= 0 && w.written < w.contentLength {
		w.closeAfter = true
	}
	w.flush()
}

// Interface guards
var (
	_ http.ResponseWriter = (*response)(nil)
	_ http.Flusher        = (*response)(nil)
	_ http.Hijacker       = (*response)(nil)
	_ io.ReadCloser       = (*requestBody)(nil)
)

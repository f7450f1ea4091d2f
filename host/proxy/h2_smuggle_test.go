package proxy

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2Frames is a hand-driven HTTP/2 client connection inside a CONNECT
// tunnel: it sends what a well-behaved client never would.
type h2Frames struct {
	t   *testing.T
	fr  *http2.Framer
	enc *hpack.Encoder
	buf bytes.Buffer
}

func (e *env) rawH2(t *testing.T, host string) *h2Frames {
	t.Helper()
	tc := tls.Client(e.rawConnect(host+":443", "tok1:main"), &tls.Config{ServerName: host, RootCAs: e.mitmCA.pool, NextProtos: []string{http2.NextProtoTLS}})
	if err := tc.Handshake(); err != nil || tc.ConnectionState().NegotiatedProtocol != http2.NextProtoTLS {
		t.Fatalf("h2 handshake: %v, protocol %q", err, tc.ConnectionState().NegotiatedProtocol)
	}
	tc.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(tc, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	h := &h2Frames{t: t, fr: http2.NewFramer(tc, tc)}
	h.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	h.enc = hpack.NewEncoder(&h.buf)
	if err := h.fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	return h
}

// send writes one request's header block (fields in order, as given) and
// its body, if any, as one DATA frame that ends the stream.
func (h *h2Frames) send(stream uint32, fields [][2]string, body string) {
	h.buf.Reset()
	for _, f := range fields {
		h.enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	if err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: stream, BlockFragment: h.buf.Bytes(), EndHeaders: true, EndStream: body == ""}); err != nil {
		h.t.Fatal(err)
	}
	if body != "" {
		if err := h.fr.WriteData(stream, true, []byte(body)); err != nil {
			h.t.Fatal(err)
		}
	}
}

// outcome reads frames until the stream is answered: "reset" (RST_STREAM),
// "goaway", or "status NNN".
func (h *h2Frames) outcome(stream uint32) string {
	for {
		f, err := h.fr.ReadFrame()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return "closed"
			}
			h.t.Fatalf("reading frames: %v", err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				h.fr.WriteSettingsAck()
			}
		case *http2.RSTStreamFrame:
			if f.StreamID == stream {
				return "reset"
			}
		case *http2.GoAwayFrame:
			return "goaway"
		case *http2.MetaHeadersFrame:
			if f.StreamID == stream {
				return "status " + f.PseudoValue("status")
			}
		}
	}
}

// TestH2SmugglingRefused sends HTTP/2 requests that a translation to
// HTTP/1.1 could turn into something else: each is refused by a stream
// reset, a GOAWAY or a 400, and the HTTP/1.1 upstream never receives a
// whole request from it. A clean request afterwards is served as one.
func TestH2SmugglingRefused(t *testing.T) {
	e := newH2Env(t)
	var mu sync.Mutex
	var complete []string // requests the upstream read in full
	e.mux.HandleFunc("/smuggle", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err == nil {
			mu.Lock()
			complete = append(complete, r.Method+" "+r.RequestURI+" "+string(b))
			mu.Unlock()
		}
	})
	base := func(extra ...[2]string) [][2]string {
		return append([][2]string{{":method", "POST"}, {":scheme", "https"}, {":authority", "api.test"}, {":path", "/smuggle"}}, extra...)
	}
	tests := []struct {
		name   string
		fields [][2]string
		body   string
	}{
		{"connection-header", base([2]string{"connection", "keep-alive"}), "x"},
		{"keep-alive-header", base([2]string{"keep-alive", "timeout=5"}), "x"},
		{"proxy-connection-header", base([2]string{"proxy-connection", "keep-alive"}), "x"},
		{"transfer-encoding-chunked", base([2]string{"transfer-encoding", "chunked"}), "0\r\n\r\nGET /smuggle HTTP/1.1\r\nHost: api.test\r\n\r\n"},
		{"upgrade-header", base([2]string{"upgrade", "websocket"}), "x"},
		{"te-not-trailers", base([2]string{"te", "gzip"}), "x"},
		{"content-length-short-of-body", base([2]string{"content-length", "3"}), "abcGET /smuggle HTTP/1.1\r\nHost: api.test\r\n\r\n"},
		{"content-length-beyond-body", base([2]string{"content-length", "100"}), "abc"},
		{"two-content-lengths", base([2]string{"content-length", "3"}, [2]string{"content-length", "40"}), "abc"},
		{"upper-case-name", base([2]string{"X-Upper", "1"}), "x"},
		{"crlf-in-value", base([2]string{"x-a", "1\r\nContent-Length: 0"}), "x"},
		{"crlf-in-path", [][2]string{{":method", "POST"}, {":scheme", "https"}, {":authority", "api.test"}, {":path", "/smuggle HTTP/1.1\r\nHost: x\r\n\r\nGET /smuggle"}}, "x"},
		{"space-in-method", [][2]string{{":method", "GET /smuggle HTTP/1.1\r\n"}, {":scheme", "https"}, {":authority", "api.test"}, {":path", "/smuggle"}}, ""},
		{"pseudo-after-regular", [][2]string{{":method", "POST"}, {":scheme", "https"}, {"x-a", "1"}, {":authority", "api.test"}, {":path", "/smuggle"}}, "x"},
		{"duplicate-path", base([2]string{":path", "/other"}), "x"},
		{"unknown-pseudo", base([2]string{":smuggle", "1"}), "x"},
		{"response-pseudo-in-request", base([2]string{":status", "200"}), "x"},
		{"missing-path", [][2]string{{":method", "POST"}, {":scheme", "https"}, {":authority", "api.test"}}, "x"},
		{"empty-path", [][2]string{{":method", "POST"}, {":scheme", "https"}, {":authority", "api.test"}, {":path", ""}}, "x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := e.rawH2(t, "api.test")
			h.send(1, tc.fields, tc.body)
			got := h.outcome(1)
			if got != "reset" && got != "goaway" && got != "status 400" {
				t.Fatalf("answered %q, want a refusal", got)
			}
		})
	}
	mu.Lock()
	if len(complete) != 0 {
		t.Fatalf("the upstream read %q from refused requests", complete)
	}
	mu.Unlock()

	// A clean request on a fresh connection is served, as exactly one.
	h := e.rawH2(t, "api.test")
	h.send(1, base([2]string{"content-length", "3"}), "abc")
	if got := h.outcome(1); got != "status 200" {
		t.Fatalf("clean request: %s", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(complete, "|") != "POST /smuggle abc" {
		t.Fatalf("upstream read %q", complete)
	}
}

// TestH2TargetPinned: :authority, a Host header and an absolute :path
// name other hosts; the request still goes to the CONNECT target.
func TestH2TargetPinned(t *testing.T) {
	e := newH2Env(t)
	tests := []struct {
		name   string
		fields [][2]string
	}{
		{"authority", [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "other.test"}, {":path", "/pin"}}},
		{"host-header", [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "api.test"}, {":path", "/pin"}, {"host", "other.test"}}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := e.rawH2(t, "api.test")
			h.send(1, tc.fields, "")
			if got := h.outcome(1); got != "status 200" && got != "reset" {
				t.Fatalf("answered %q", got)
			}
			for _, ev := range e.log.all()[i:] {
				if ev.Host != "api.test" {
					t.Fatalf("request went to %q", ev.Host)
				}
			}
		})
	}
	for _, addr := range e.dial.dialedAddrs() {
		if strings.HasPrefix(addr, "other.test") {
			t.Fatalf("the proxy dialled %s", addr)
		}
	}
}

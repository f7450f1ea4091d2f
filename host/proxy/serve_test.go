package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/textproto"
	"strings"
	"testing"
	"time"
)

// serveLoop runs the connection loop with handler on a loopback listener
// and returns its address and the log it writes.
func serveLoop(t *testing.T, handler http.HandlerFunc) (string, *lockedBuffer) {
	t.Helper()
	logs := &lockedBuffer{}
	s := newConnServer(time.Second, time.Second, slog.New(slog.NewTextHandler(logs, nil)))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.serve(l, handler) //nolint:errcheck
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return l.Addr().String(), logs
}

// roundTrip writes raw on a new connection and reads one response. It
// returns the response with its body read (err holds a body error) and
// whether the connection stayed open afterwards. Informational responses
// before it are skipped, and must carry a Link header.
func roundTrip(t *testing.T, addr, raw, method string) (resp *http.Response, body string, bodyErr error, open bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second)) //nolint:errcheck
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	for resp == nil || resp.StatusCode < 200 {
		if resp != nil && resp.Header.Get("Link") == "" {
			t.Errorf("a %d without its Link header", resp.StatusCode)
		}
		if resp, err = http.ReadResponse(br, &http.Request{Method: method}); err != nil {
			t.Fatalf("reading the response: %v", err)
		}
	}
	b, bodyErr := io.ReadAll(resp.Body)
	// An open connection answers a second request; a closed one reads EOF.
	if _, err := io.WriteString(c, "GET /again HTTP/1.1\r\nHost: x\r\n\r\n"); err == nil {
		_, err = http.ReadResponse(br, nil)
		open = err == nil
	}
	return resp, string(b), bodyErr, open
}

// TestResponseFraming is the ResponseWriter's framing of what handlers
// write: the declared length or chunked, no body where none may follow,
// and a closed connection wherever the framing could not be kept.
func TestResponseFraming(t *testing.T) {
	get := "GET /x HTTP/1.1\r\nHost: x\r\n\r\n"
	tests := []struct {
		name     string
		raw      string
		method   string
		handler  http.HandlerFunc
		status   int
		body     string
		chunked  bool
		bodyErr  bool // the client must see the body fail
		open     bool
		trailers map[string]string
	}{
		{name: "declared length", raw: get, handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "5")
			io.WriteString(w, "hello")
		}, status: 200, body: "hello", open: true},
		{name: "unknown length is chunked", raw: get, handler: func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "hel")
			w.(http.Flusher).Flush()
			io.WriteString(w, "lo")
		}, status: 200, body: "hello", chunked: true, open: true},
		{name: "nothing written is an empty 200", raw: get, handler: func(http.ResponseWriter, *http.Request) {},
			status: 200, open: true},
		{name: "HEAD keeps the length, sends no body", raw: "HEAD /x HTTP/1.1\r\nHost: x\r\n\r\n", method: "HEAD",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "5")
				io.WriteString(w, "hello")
			}, status: 200, open: true},
		{name: "204 has no body", raw: get, handler: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(204)
			if _, err := io.WriteString(w, "x"); !errors.Is(err, http.ErrBodyNotAllowed) {
				panic("a 204 body was accepted")
			}
		}, status: 204, open: true},
		{name: "short body closes", raw: get, handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "10")
			io.WriteString(w, "hello")
		}, status: 200, body: "hello", bodyErr: true},
		{name: "long body is cut and closes", raw: get, handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "2")
			if _, err := io.WriteString(w, "hello"); !errors.Is(err, http.ErrContentLength) {
				panic("an overlong write was accepted")
			}
		}, status: 200, body: "he"},
		{name: "trailers follow a chunked body", raw: get, handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Trailer", "X-Sum")
			io.WriteString(w, "hello")
			w.Header().Set("X-Sum", "5")
			w.Header().Set(http.TrailerPrefix+"X-Late", "yes")
		}, status: 200, body: "hello", chunked: true, open: true, trailers: map[string]string{"X-Sum": "5", "X-Late": "yes"}},
		{name: "a panic aborts the body", raw: get, handler: func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}, status: 200, body: "partial", chunked: true, bodyErr: true},
		{name: "client asks to close", raw: "GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			handler: func(w http.ResponseWriter, r *http.Request) {}, status: 200},
		{name: "HTTP/1.0 closes", raw: "GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
			handler: func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "old") }, status: 200, body: "old"},
		{name: "informational before final", raw: get, handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</a.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Del("Link")
			w.Header().Set("Content-Length", "2")
			io.WriteString(w, "ok")
		}, status: 200, body: "ok", open: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, _ := serveLoop(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/again" {
					w.Header().Set("Content-Length", "0")
					return
				}
				tt.handler(w, r)
			})
			method := tt.method
			if method == "" {
				method = "GET"
			}
			resp, body, bodyErr, open := roundTrip(t, addr, tt.raw, method)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if body != tt.body {
				t.Errorf("body %q, want %q", body, tt.body)
			}
			if chunked := len(resp.TransferEncoding) > 0; chunked != tt.chunked {
				t.Errorf("chunked %v, want %v", chunked, tt.chunked)
			}
			if (bodyErr != nil) != tt.bodyErr {
				t.Errorf("body error %v, want one: %v", bodyErr, tt.bodyErr)
			}
			if open != tt.open {
				t.Errorf("connection open afterwards %v, want %v", open, tt.open)
			}
			if resp.Header.Get("Date") == "" {
				t.Error("no Date header")
			}
			for k, v := range tt.trailers {
				if got := resp.Trailer.Get(k); got != v {
					t.Errorf("trailer %s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

// TestPanicLogged: a handler's panic ends its connection and is logged
// with a stack; the listener goes on serving.
func TestPanicLogged(t *testing.T) {
	addr, logs := serveLoop(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/boom" {
			panic("boom")
		}
		w.Header().Set("Content-Length", "0")
	})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second)) //nolint:errcheck
	io.WriteString(c, "GET /boom HTTP/1.1\r\nHost: x\r\n\r\n")
	if b, err := io.ReadAll(c); err != nil || len(b) != 0 {
		t.Fatalf("after a panic the client read %q, %v; want a bare close", b, err)
	}
	if !strings.Contains(logs.String(), "panic serving a proxy request") {
		t.Fatalf("the panic was not logged: %s", logs)
	}
	resp, _, _, _ := roundTrip(t, addr, "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n", "GET")
	if resp.StatusCode != 200 {
		t.Fatalf("the next connection got %d", resp.StatusCode)
	}
}

// TestHangUpCancelsSlowRequest: a request still waiting after
// slowRequestAfter is watched, and the client's hang-up cancels it.
// A client that stays gets its answer, and the watch's read leaves the
// connection in step for the next request.
func TestHangUpCancelsSlowRequest(t *testing.T) {
	cancelled := make(chan struct{})
	addr, _ := serveLoop(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/hang":
			select {
			case <-r.Context().Done():
				close(cancelled)
			case <-time.After(10 * time.Second):
			}
		case "/slow":
			time.Sleep(2 * slowRequestAfter)
			w.Header().Set("Content-Length", "4")
			io.WriteString(w, "slow")
		}
	})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET /hang HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(slowRequestAfter / 2) // the request is in flight
	c.Close()
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the request was not cancelled after its client hung up")
	}

	// A slow request whose client pipelines the next one while waiting:
	// the watcher's byte is the next request's first.
	c, err = net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second)) //nolint:errcheck
	io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(slowRequestAfter + slowRequestAfter/2) // the watcher reads
	io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(c)
	for i := range 2 {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d: %v", i+1, err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(b) != "slow" {
			t.Fatalf("response %d: %d %q", i+1, resp.StatusCode, b)
		}
	}
}

func TestHostLines(t *testing.T) {
	tests := []struct {
		raw  string
		want int
	}{
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 1},
		{"GET / HTTP/1.1\r\nhOsT: a\r\nX: 1\r\n\r\nHost: body\r\n", 1},
		{"GET / HTTP/1.1\r\nX: 1\r\n\r\n", 0},
		{"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 2},
		{"GET / HTTP/1.1\nHost: a\nHost: b\n\n", 2},
		{"GET / HTTP/1.1\r\nX-Host: a\r\nHostname: b\r\n\r\n", 0},
		{"GET / HTTP/1.1\r\nX: 1\r\n Host: folded\r\n\r\n", 0},
		{"GET http://Host:80/ HTTP/1.1\r\n\r\n", 0}, // the request line is not a field
	}
	for _, tt := range tests {
		if got := hostLines([]byte(tt.raw)); got != tt.want {
			t.Errorf("hostLines(%q) = %d, want %d", tt.raw, got, tt.want)
		}
	}
}

// FuzzHostLines holds hostLines to net/textproto, which http.ReadRequest
// parses headers with: wherever textproto accepts a header block, both
// count the same Host lines.
func FuzzHostLines(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n",
		"GET / HTTP/1.1\nX: 1\n Host: c\n\n",
		"GET / HTTP/1.1\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		r := textproto.NewReader(bufio.NewReader(bytes.NewReader(raw)))
		if _, err := r.ReadLine(); err != nil {
			return
		}
		h, err := r.ReadMIMEHeader()
		if err != nil {
			return
		}
		if got, want := hostLines(raw), len(h["Host"]); got != want {
			t.Fatalf("hostLines = %d, textproto found %d Host values in %q", got, want, raw)
		}
	})
}

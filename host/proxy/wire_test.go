package proxy

// Wire-level conformance of the proxy listener: raw bytes in, raw responses
// out, on the outer port (absolute-form) and inside CONNECT tunnels (plain
// and TLS-intercepted). These tests pin what any correct HTTP/1.1 server
// must do, not what net/http happens to print, so that the listener's
// connection loop can be replaced and checked against them: framing,
// keep-alive, smuggling defences, timeouts, client disconnects and
// shutdown.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/host/domain"
)

// wireTimeout bounds every read and write here, so a proxy that hangs fails
// the test instead of stalling the suite. A passing run never waits for it.
const wireTimeout = 5 * time.Second

// wireAuth authenticates an absolute-form request as tok1 on vault main.
var wireAuth = "Proxy-Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("tok1:main")) + "\r\n"

// wireEnv is an env whose upstreams count what reaches them under /hits/,
// plus routes that exercise response framing.
type wireEnv struct {
	*env
	mu   sync.Mutex
	hits map[string]int
}

func newWireEnv(t *testing.T, opts ...envOption) *wireEnv {
	t.Helper()
	w := &wireEnv{env: newEnv(t, testServices(), opts...), hits: map[string]int{}}
	w.mux.HandleFunc("/hits/", func(rw http.ResponseWriter, r *http.Request) {
		w.mu.Lock()
		w.hits[r.URL.Path]++
		w.mu.Unlock()
		// The echo is buffered and sent with its length, however large:
		// an answer of unknown length meets the flush race that
		// TestWireUnknownLengthFlushRace isolates.
		rec := httptest.NewRecorder()
		echoHandler("api")(rec, r)
		maps.Copy(rw.Header(), rec.Header())
		rw.Header().Set("Content-Length", strconv.Itoa(rec.Body.Len()))
		rw.WriteHeader(rec.Code)
		rw.Write(rec.Body.Bytes())
	})
	// No Content-Length and a flush in between: the length is unknown when
	// the headers leave, so the proxy has to stream it.
	w.mux.HandleFunc("/stream", func(rw http.ResponseWriter, r *http.Request) {
		io.WriteString(rw, "part-1\n")
		rw.(http.Flusher).Flush()
		io.WriteString(rw, "part-2\n")
	})
	w.mux.HandleFunc("/head", func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Length", "13")
		rw.Header().Set("X-Head", "yes")
		if r.Method != http.MethodHead {
			io.WriteString(rw, "thirteen-byte")
		}
	})
	w.mux.HandleFunc("/status/{code}", func(rw http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.PathValue("code"))
		rw.Header().Set("X-Status", "set")
		rw.Header().Set("ETag", `"v1"`)
		rw.WriteHeader(code)
	})
	w.mux.HandleFunc("/trailers", func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Trailer", "X-Checksum")
		io.WriteString(rw, "body")
		rw.(http.Flusher).Flush()
		rw.Header().Set("X-Checksum", "c0ffee")
	})
	return w
}

func (w *wireEnv) hit(path string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.hits[path]
}

// wireMode is one way of talking HTTP to the proxy.
type wireMode struct {
	name     string
	target   string // request-target prefix: absolute-form outside, origin-form in tunnels
	auth     string // per-request auth line; a tunnel was authenticated by its CONNECT
	open     func(t *testing.T, e *wireEnv) *wireConn
	smuggled string // path of the smuggled request, one per subtest (see in)
}

// in gives the mode a smuggled-request path of t's own and checks, when t
// ends, that no request for it reached an upstream (a test that skips for a
// known bug has already reported it).
func (m wireMode) in(t *testing.T, e *wireEnv) wireMode {
	m.smuggled = "/hits/smuggled/" + t.Name()
	t.Cleanup(func() {
		if n := e.hit(m.smuggled); n != 0 && !t.Skipped() {
			t.Errorf("a smuggled request reached the upstream %d times", n)
		}
	})
	return m
}

func wireModes() []wireMode {
	return []wireMode{
		{name: "absolute", target: "http://api.test", auth: wireAuth,
			open: func(t *testing.T, e *wireEnv) *wireConn { return dialWire(t, e) }},
		{name: "tunnel-http",
			open: func(t *testing.T, e *wireEnv) *wireConn { return connectWire(t, e, "api.test:80", false) }},
		{name: "tunnel-tls",
			open: func(t *testing.T, e *wireEnv) *wireConn { return connectWire(t, e, "api.test:443", true) }},
	}
}

// fill expands {T} (the target prefix) and {A} (the auth line) in a raw
// request template.
func (m wireMode) fill(s string) string {
	return strings.NewReplacer("{T}", m.target, "{A}", m.auth).Replace(s)
}

// get is a complete bodyless request for path.
func (m wireMode) get(path string) string {
	return m.fill("GET {T}" + path + " HTTP/1.1\r\nHost: api.test\r\n{A}\r\n")
}

// smuggle is a complete, authenticated request for m.smuggled. Tests hide
// it in bodies and malformed messages: if the proxy ever parses it as a
// request, it reaches the upstream and the counter shows it.
func (m wireMode) smuggle() string {
	if m.smuggled == "" {
		panic("wireMode.smuggle outside wireMode.in")
	}
	return m.get(m.smuggled)
}

// chunk frames s as a single chunk followed by the last chunk.
func chunk(s string) string { return fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(s), s) }

// wireConn is a client connection read through one bufio.Reader, so
// pipelined responses are read in order.
type wireConn struct {
	t *testing.T
	net.Conn
	br *bufio.Reader
}

func dialWire(t *testing.T, e *wireEnv) *wireConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", e.addr, wireTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &wireConn{t: t, Conn: c, br: bufio.NewReader(c)}
}

// connectWire opens a tunnel to target and, with useTLS, completes the
// intercepting TLS handshake.
func connectWire(t *testing.T, e *wireEnv, target string, useTLS bool) *wireConn {
	t.Helper()
	c := dialWire(t, e)
	c.write("CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n" + wireAuth + "\r\n")
	if resp := c.readConnect(); resp.StatusCode != 200 {
		t.Fatalf("CONNECT %s: status %d", target, resp.StatusCode)
	}
	if c.br.Buffered() > 0 {
		t.Fatal("bytes after the CONNECT response")
	}
	if !useTLS {
		return c
	}
	return c.startTLS(e)
}

// startTLS runs the client side of the intercepting handshake on c.
func (c *wireConn) startTLS(e *wireEnv) *wireConn {
	c.t.Helper()
	tc := tls.Client(c.Conn, &tls.Config{ServerName: "api.test", RootCAs: e.mitmCA.pool})
	ctx, cancel := context.WithTimeout(context.Background(), wireTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		c.t.Fatalf("TLS handshake in the tunnel: %v", err)
	}
	return &wireConn{t: c.t, Conn: tc, br: bufio.NewReader(tc)}
}

func (c *wireConn) write(s string) {
	c.t.Helper()
	c.SetWriteDeadline(time.Now().Add(wireTimeout))
	if _, err := io.WriteString(c.Conn, s); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// writeAsync writes s from another goroutine: a proxy may answer and stop
// reading before a large payload is through, and the write must then
// neither block the test nor fail it. The returned function waits for the
// writer after closing the connection.
func (c *wireConn) writeAsync(s string) (wait func()) {
	done := make(chan struct{})
	c.SetWriteDeadline(time.Now().Add(wireTimeout))
	go func() {
		defer close(done)
		io.WriteString(c.Conn, s) //nolint:errcheck // the proxy may have closed
	}()
	return func() { c.Close(); <-done }
}

// readConnect reads the answer to a CONNECT; a 200's "body" is the tunnel,
// so it is left alone.
func (c *wireConn) readConnect() *http.Response {
	c.t.Helper()
	c.SetReadDeadline(time.Now().Add(wireTimeout))
	resp, err := http.ReadResponse(c.br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		c.t.Fatalf("reading the CONNECT response: %v", err)
	}
	return resp
}

// read reads one response to a request with the given method, body
// included.
func (c *wireConn) read(method string) (*http.Response, string) {
	c.t.Helper()
	c.SetReadDeadline(time.Now().Add(wireTimeout))
	resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		c.t.Fatalf("reading a response: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("reading the body of a %d response: %v", resp.StatusCode, err)
	}
	return resp, string(b)
}

// closed asserts the proxy closes the connection without sending anything
// more.
func (c *wireConn) closed() {
	c.t.Helper()
	c.SetReadDeadline(time.Now().Add(wireTimeout))
	b, err := io.ReadAll(c.br)
	if isTimeout(err) {
		c.t.Fatalf("the connection is still open after %v", wireTimeout)
	}
	if len(b) > 0 {
		c.t.Fatalf("%d unexpected bytes instead of a close, starting %q", len(b), firstLine(b))
	}
}

// closedOrFollowUp reads what follows a refused request whose body carried
// a smuggled request and which was followed by a request for path: either
// the proxy closes the connection with nothing more, or the next response
// answers the follow-up. It reports whether the connection was kept.
func (c *wireConn) closedOrFollowUp(path string) (kept bool) {
	c.t.Helper()
	c.SetReadDeadline(time.Now().Add(wireTimeout))
	if _, err := c.br.Peek(1); err != nil {
		if isTimeout(err) {
			c.t.Fatal("the connection neither closed nor answered the follow-up request")
		}
		return false
	}
	resp, body := c.read("GET")
	if got := wireEcho(c.t, resp, body); got.Path != path {
		c.t.Fatalf("the next response answers %q, want the follow-up %q", got.Path, path)
	}
	return true
}

// rejected reads an error response whose status is one of statuses and
// asserts the connection is closed after it. silentOK accepts a close
// without any answer. It returns the status (0: closed silently).
func (c *wireConn) rejected(statuses []int, silentOK bool) int {
	c.t.Helper()
	c.SetReadDeadline(time.Now().Add(wireTimeout))
	if _, err := c.br.Peek(1); err != nil {
		if isTimeout(err) {
			c.t.Fatal("the proxy neither answered nor closed the connection")
		}
		if silentOK {
			return 0
		}
		c.t.Fatalf("closed without an answer: %v", err)
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		c.t.Fatalf("reading the rejection: %v", err)
	}
	// The body of an error sent before closing may be close-delimited; a
	// reset after it is a close too.
	if _, err := io.Copy(io.Discard, resp.Body); isTimeout(err) {
		c.t.Fatalf("the body of the %d response never ended", resp.StatusCode)
	}
	if !slices.Contains(statuses, resp.StatusCode) {
		c.t.Fatalf("status %d, want one of %v", resp.StatusCode, statuses)
	}
	c.closed()
	return resp.StatusCode
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// firstLine is what an assertion message shows of unexpected bytes: a
// status line, never an echoed body that may hold injected values.
func firstLine(b []byte) []byte {
	if i := bytes.IndexAny(b, "\r\n"); i >= 0 {
		b = b[:i]
	}
	return b[:min(len(b), 80)]
}

// describe names a response for an assertion message: its status and, for
// an answer the proxy wrote itself, the error code (never a value).
func describe(resp *http.Response, body string) string {
	s := "status " + strconv.Itoa(resp.StatusCode)
	if resp.Header.Get(HeaderProxyError) == "true" {
		var eb errorBody
		if json.Unmarshal([]byte(body), &eb) == nil {
			s += " " + eb.Error
		}
	}
	return s
}

// wireEcho decodes an echo upstream's 200 answer.
func wireEcho(t *testing.T, resp *http.Response, body string) echo {
	t.Helper()
	if resp.StatusCode != 200 {
		t.Fatalf("%s, want 200 from the upstream", describe(resp, body))
	}
	var got echo
	js, err := unwrapEcho([]byte(body))
	if err == nil {
		err = json.Unmarshal(js, &got)
	}
	if err != nil {
		t.Fatalf("the %d-byte body is not an echo: %v", len(body), err)
	}
	return got
}

// TestWireKeepAlive: several requests on one connection, one after the
// other or all in one write, each get their own response, in order, with
// the credential injected every time.
func TestWireKeepAlive(t *testing.T) {
	e := newWireEnv(t)
	for _, m := range wireModes() {
		t.Run(m.name+"/sequential", func(t *testing.T) {
			c := m.open(t, e)
			for i := range 3 {
				path := fmt.Sprintf("/seq/%s/%d", m.name, i)
				c.write(m.get(path))
				resp, body := c.read("GET")
				got := wireEcho(t, resp, body)
				if got.Path != path || got.Header.Get("Authorization") != "Bearer "+secrets["v1/TOKEN"] {
					t.Fatalf("request %d: upstream saw path %q, credential injected: %v", i, got.Path, got.Header.Get("Authorization") != "")
				}
				if resp.Close {
					t.Fatalf("request %d: the proxy announced a close on a keep-alive connection", i)
				}
			}
		})
		t.Run(m.name+"/pipelined", func(t *testing.T) {
			c := m.open(t, e)
			// A POST with a body in the middle: its body must be consumed
			// exactly, or the next request is misparsed.
			body := "line-1\r\nGET /not-a-request HTTP/1.1\r\n\r\n"
			var all strings.Builder
			var paths []string
			for i := range 5 {
				path := fmt.Sprintf("/pipe/%s/%d", m.name, i)
				paths = append(paths, path)
				if i == 2 {
					all.WriteString(m.fill(fmt.Sprintf("POST {T}%s HTTP/1.1\r\nHost: api.test\r\n{A}Content-Length: %d\r\n\r\n%s", path, len(body), body)))
				} else {
					all.WriteString(m.get(path))
				}
			}
			c.write(all.String())
			for i, path := range paths {
				resp, b := c.read("GET")
				got := wireEcho(t, resp, b)
				if got.Path != path {
					t.Fatalf("response %d answers %q, want %q", i, got.Path, path)
				}
				if i == 2 && (got.Method != "POST" || got.Body != body) {
					t.Fatalf("response %d: upstream saw %s with a %d-byte body, want POST with the %d-byte body", i, got.Method, len(got.Body), len(body))
				}
			}
		})
	}
}

// TestWireAuthPerRequest: Proxy-Authorization is checked on every request,
// not once per connection: a pooled client connection may carry requests
// of different tokens, and none may borrow another's vault.
func TestWireAuthPerRequest(t *testing.T) {
	e := newWireEnv(t)
	c := dialWire(t, e)
	locked := "Proxy-Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("tok2:locked")) + "\r\n"
	c.write("GET http://api.test/auth/1 HTTP/1.1\r\nHost: api.test\r\n" + wireAuth + "\r\n" +
		"GET http://api.test/auth/2 HTTP/1.1\r\nHost: api.test\r\n\r\n" +
		"GET http://api.test/auth/3 HTTP/1.1\r\nHost: api.test\r\n" + locked + "\r\n" +
		"GET http://api.test/auth/4 HTTP/1.1\r\nHost: api.test\r\n" + wireAuth + "\r\n")
	want := []struct {
		status int
		code   string
	}{{200, ""}, {407, CodeProxyAuthRequired}, {403, domain.CodeHostNotAllowed}, {200, ""}}
	for i, w := range want {
		resp, body := c.read("GET")
		if resp.StatusCode != w.status {
			t.Fatalf("request %d: %s, want %d", i+1, describe(resp, body), w.status)
		}
		if w.status == 200 {
			if got := wireEcho(t, resp, body); got.Path != fmt.Sprintf("/auth/%d", i+1) {
				t.Fatalf("request %d answered by %q", i+1, got.Path)
			}
			continue
		}
		if d := describe(resp, body); !strings.HasSuffix(d, " "+w.code) {
			t.Fatalf("request %d: %s, want error %s", i+1, d, w.code)
		}
	}
}

// TestWireSmugglingRejected sends malformed or ambiguous messages that an
// HTTP/1.1 server must refuse (RFC 9112): each is answered with an error
// status and the connection closed, since where the next message would
// start is unknown. Each payload hides a complete request (wireMode.smuggle)
// where a lax parser would find it; the upstream must never see it.
func TestWireSmugglingRejected(t *testing.T) {
	e := newWireEnv(t)
	big := func(n int) string { return strings.Repeat("a", n) }
	cases := []struct {
		name      string
		payload   func(m wireMode) string
		statuses  []int
		silentOK  bool // a close without an answer is also correct
		outerOnly bool // the limit is the same inside tunnels; spare the suite the time
	}{
		{"content-length-twice-different", func(m wireMode) string {
			s := m.smuggle()
			return m.fill(fmt.Sprintf("POST {T}/hits/x HTTP/1.1\r\nHost: api.test\r\n{A}Content-Length: 0\r\nContent-Length: %d\r\n\r\n", len(s))) + s
		}, []int{400}, false, false},
		{"content-length-list-different", func(m wireMode) string {
			s := m.smuggle()
			return m.fill(fmt.Sprintf("POST {T}/hits/x HTTP/1.1\r\nHost: api.test\r\n{A}Content-Length: 0, %d\r\n\r\n", len(s))) + s
		}, []int{400}, false, false},
		{"content-length-plus-sign", func(m wireMode) string {
			s := m.smuggle()
			return m.fill(fmt.Sprintf("POST {T}/hits/x HTTP/1.1\r\nHost: api.test\r\n{A}Content-Length: +%d\r\n\r\n", len(s))) + s
		}, []int{400}, false, false},
		{"content-length-negative", func(m wireMode) string {
			return m.fill("POST {T}/hits/x HTTP/1.1\r\nHost: api.test\r\n{A}Content-Length: -1\r\n\r\n") + m.smuggle()
		}, []int{400}, false, false},
		{"content-length-hex", func(m wireMode) string {
			return m.fill("POST {T}/hits/x HTTP/1.1\r\nHost: api.test\r\n{A}Content-Length: 0x0\r\n\r\n") + m.smuggle()
		}, []int{400}, false, false},
		{"content-length-space-before-colon", func(m wireMode) string {
			s := m.smuggle()
			return m.fill(fmt.Sprintf("POST {T}/hits/x HTTP/1.1\r\nHost: api.test\r\n{A}Content-Length : %d\r\n\r\n", len(s))) + s
		}, []int{400}, false, false},
		// TE.CL: a parser that prefers the length finds the smuggled
		// request right after a 4-byte body.
		{"transfer-encoding-space-before-colon", func(m wireMode) string {
			return m.fill("POST {T}/hits/x HTTP/1.1\r\nHost: api.test\r\n{A}Transfer-Encoding : chunked\r\nContent-Length: 4\r\n\r\n") + chunk(m.smuggle())
		}, []int{400}, false, false},
		{"transfer-encoding-unknown", func(m wireMode) string {
			return m.fill("POST {T}/hits/x HTTP/1.1\r\nHost: api.test\r\n{A}Transfer-Encoding: xchunked\r\nContent-Length: 4\r\n\r\n") + chunk(m.smuggle())
		}, []int{400, 501}, false, false},
		{"transfer-encoding-chunked-not-last", func(m wireMode) string {
			return m.fill("POST {T}/hits/x HTTP/1.1\r\nHost: api.test\r\n{A}Transfer-Encoding: chunked, identity\r\nContent-Length: 4\r\n\r\n") + chunk(m.smuggle())
		}, []int{400, 501}, false, false},
		{"transfer-encoding-twice", func(m wireMode) string {
			return m.fill("POST {T}/hits/x HTTP/1.1\r\nHost: api.test\r\n{A}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n") + chunk(m.smuggle())
		}, []int{400, 501}, false, false},
		{"nul-in-header-value", func(m wireMode) string {
			return m.fill("GET {T}/hits/x HTTP/1.1\r\nHost: api.test\r\n{A}X-A: a\x00b\r\n\r\n") + m.smuggle()
		}, []int{400}, false, false},
		{"cr-in-header-value", func(m wireMode) string {
			return m.fill("GET {T}/hits/x HTTP/1.1\r\nHost: api.test\r\n{A}X-A: a\rContent-Length: 5\r\n\r\n") + m.smuggle()
		}, []int{400}, false, false},
		{"header-name-not-a-token", func(m wireMode) string {
			return m.fill("GET {T}/hits/x HTTP/1.1\r\nHost: api.test\r\n{A}X(A): b\r\n\r\n") + m.smuggle()
		}, []int{400}, false, false},
		{"bare-cr-in-request-line", func(m wireMode) string {
			return m.fill("GET {T}/hits/x HTTP/1.1\rHost: api.test\r\n{A}\r\n") + m.smuggle()
		}, []int{400}, false, false},
		{"http-2.0-request-line", func(m wireMode) string {
			return m.fill("GET {T}/hits/x HTTP/2.0\r\nHost: api.test\r\n{A}\r\n") + m.smuggle()
		}, []int{400, 505}, false, false},
		{"http-1.10-request-line", func(m wireMode) string {
			return m.fill("GET {T}/hits/x HTTP/1.10\r\nHost: api.test\r\n{A}\r\n") + m.smuggle()
		}, []int{400, 505}, false, false},
		{"lowercase-http-version", func(m wireMode) string {
			return m.fill("GET {T}/hits/x http/1.1\r\nHost: api.test\r\n{A}\r\n") + m.smuggle()
		}, []int{400, 505}, false, false},
		// HTTP/0.9 has no headers and no keep-alive: whatever follows the
		// line must not be read as a request.
		{"http-0.9-request-line", func(m wireMode) string {
			return m.fill("GET {T}/hits/x\r\n") + m.smuggle()
		}, []int{400, 505}, true, false},
		{"header-block-over-1MiB", func(m wireMode) string {
			var b strings.Builder
			b.WriteString(m.fill("GET {T}/hits/x HTTP/1.1\r\nHost: api.test\r\n{A}"))
			for i := 0; b.Len() < 1<<20+64<<10; i++ {
				fmt.Fprintf(&b, "X-Pad-%d: %s\r\n", i, big(1000))
			}
			return b.String() + "\r\n" + m.smuggle()
		}, []int{400, 431}, false, false},
		{"request-target-over-1MiB", func(m wireMode) string {
			return m.fill("GET {T}/hits/"+big(1<<20+64<<10)+" HTTP/1.1\r\nHost: api.test\r\n{A}\r\n") + m.smuggle()
		}, []int{400, 414, 431}, false, true},
	}
	for _, m := range wireModes() {
		for _, tc := range cases {
			if tc.outerOnly && m.name != "absolute" {
				continue
			}
			t.Run(m.name+"/"+tc.name, func(t *testing.T) {
				if strings.Contains(tc.name, "over-1MiB") {
					// net/http lingers half a second before closing after
					// a 431; let those waits overlap.
					t.Parallel()
				}
				m := m.in(t, e)
				c := m.open(t, e)
				wait := c.writeAsync(tc.payload(m))
				defer wait()
				c.rejected(tc.statuses, tc.silentOK)
				if n := e.hit("/hits/x"); n != 0 {
					t.Fatalf("the malformed request reached the upstream %d times", n)
				}
			})
		}
	}
}

// TestWireLenientOrRejected covers messages RFC 9112 lets a server either
// refuse (an error status and close) or interpret in one defined way.
// Either is accepted; an interpretation is checked against what the
// upstream receives, and a smuggled request must never come out of it. A
// follow-up request is written after each message: when the connection is
// kept, it must be the next request answered.
func TestWireLenientOrRejected(t *testing.T) {
	e := newWireEnv(t)
	cases := []struct {
		name    string
		payload func(m wireMode, path string) string
		check   func(t *testing.T, m wireMode, got echo) // nil: no interpretation is defined beyond framing
		// mustClose: the connection must close after the response (RFC
		// 9112 §6.1 for faulty framing).
		mustClose bool
		// bugKeptOpen and bugSmuggled explain a known deviation of the
		// current listener: the test skips when it shows, after its other
		// assertions.
		bugKeptOpen, bugSmuggled string
	}{
		// A bare LF may be taken as a line terminator (§2.2); the
		// headers it separates must then reach the upstream as separate
		// fields.
		{name: "bare-lf-line-endings", payload: func(m wireMode, path string) string {
			req := m.fill("GET {T}" + path + " HTTP/1.1\r\nHost: api.test\r\nX-A: 1\r\nX-B: 2\r\n{A}\r\n")
			return strings.ReplaceAll(req, "\r\n", "\n")
		}, check: func(t *testing.T, m wireMode, got echo) {
			if a, b := got.Header.Values("X-A"), got.Header.Values("X-B"); !slices.Equal(a, []string{"1"}) || !slices.Equal(b, []string{"2"}) {
				t.Fatalf("upstream saw X-A %q and X-B %q, want 1 and 2", a, b)
			}
		}},
		// obs-fold may be replaced by spaces (§5.2): the folded line is
		// part of X-A's value, not a Transfer-Encoding header, so the body
		// is framed by its Content-Length and reaches the upstream whole.
		{name: "obs-fold", payload: func(m wireMode, path string) string {
			s := m.smuggle()
			return m.fill(fmt.Sprintf("POST {T}%s HTTP/1.1\r\nHost: api.test\r\n{A}X-A: 1\r\n Transfer-Encoding: chunked\r\nContent-Length: %d\r\n\r\n%s", path, len(s), s))
		}, check: func(t *testing.T, m wireMode, got echo) {
			v := got.Header.Get("X-A")
			if strings.ContainsAny(v, "\r\n") || strings.Join(strings.Fields(v), " ") != "1 Transfer-Encoding: chunked" {
				t.Fatalf("upstream saw X-A %q, want the folded line joined with spaces", v)
			}
			if got.Body != m.smuggle() {
				t.Fatalf("upstream saw a %d-byte body, want the %d bytes framed by Content-Length", len(got.Body), len(m.smuggle()))
			}
		}},
		// Whitespace before the first header line: reject, or ignore the
		// line (§2.2). It must not become a header.
		{name: "whitespace-before-first-header", payload: func(m wireMode, path string) string {
			return m.fill("GET {T}" + path + " HTTP/1.1\r\n X-Lead: 1\r\nHost: api.test\r\n{A}\r\n")
		}, check: func(t *testing.T, m wireMode, got echo) {
			if v := got.Header.Get("X-Lead"); v != "" {
				t.Fatalf("upstream saw X-Lead %q from a whitespace-preceded line", v)
			}
		}},
		// Content-Length and Transfer-Encoding together (§6.1): reject, or
		// frame by the chunked coding alone, and close after responding
		// either way. The chunk holds the smuggled request as data: a
		// length-first parser would read 4 bytes and find it as the next
		// request.
		{name: "content-length-and-chunked", payload: func(m wireMode, path string) string {
			return m.fill("POST {T}"+path+" HTTP/1.1\r\nHost: api.test\r\n{A}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n") + chunk(m.smuggle())
		}, check: func(t *testing.T, m wireMode, got echo) {
			if got.Body != m.smuggle() || got.Header.Get("Content-Length") == "4" {
				t.Fatalf("upstream saw a %d-byte body with Content-Length %q, want the %d-byte chunk and no stale length",
					len(got.Body), got.Header.Get("Content-Length"), len(m.smuggle()))
			}
		}, mustClose: true,
			bugKeptOpen: "net/http frames a request with both Content-Length and Transfer-Encoding by the chunked coding, " +
				"but keeps the connection open where RFC 9112 §6.1 says the server MUST close it after responding"},
		// Transfer-Encoding in an HTTP/1.0 request (§6.1): the framing is
		// faulty whatever Content-Length says, and the server MUST close
		// after processing it. Keep-alive is asked for, so a server that
		// trusts the length and keeps the connection reads the rest of the
		// chunk as the next request.
		{name: "http-1.0-transfer-encoding", payload: func(m wireMode, path string) string {
			return m.fill("POST {T}"+path+" HTTP/1.0\r\nHost: api.test\r\n{A}Connection: keep-alive\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n") + chunk(m.smuggle())
		}, mustClose: true,
			bugSmuggled: "net/http ignores Transfer-Encoding on an HTTP/1.0 request, frames it by Content-Length and honours keep-alive, " +
				"so the rest of the chunk is parsed as the next request; RFC 9112 §6.1 says to treat the framing as faulty and close"},
	}
	for _, m := range wireModes() {
		for _, tc := range cases {
			t.Run(m.name+"/"+tc.name, func(t *testing.T) {
				m := m.in(t, e)
				path := "/hits/lenient/" + m.name + "/" + tc.name
				follow := "/hits/follow/" + m.name + "/" + tc.name
				c := m.open(t, e)
				c.write(tc.payload(m, path) + m.get(follow))
				c.SetReadDeadline(time.Now().Add(wireTimeout))
				resp, err := http.ReadResponse(c.br, nil)
				if err != nil {
					t.Fatalf("reading the response: %v", err)
				}
				body, err := io.ReadAll(resp.Body)
				if resp.StatusCode == 400 || resp.StatusCode == 501 {
					if isTimeout(err) {
						t.Fatal("the rejection's body never ended")
					}
					c.closed()
					if e.hit(path) != 0 || e.hit(follow) != 0 {
						t.Fatal("a rejected message, or what followed it, reached the upstream")
					}
					t.Logf("rejected with %d", resp.StatusCode)
					return
				}
				if err != nil {
					t.Fatalf("reading the body: %v", err)
				}
				got := wireEcho(t, resp, string(body))
				if got.Path != path {
					t.Fatalf("the response answers %q, want %q", got.Path, path)
				}
				if tc.check != nil {
					tc.check(t, m, got)
				}
				// What follows: a close, or the follow-up's answer.
				kept := false
				c.SetReadDeadline(time.Now().Add(wireTimeout))
				if _, err := c.br.Peek(1); err == nil {
					kept = true
					resp, body := c.read("GET")
					if got := wireEcho(t, resp, body); got.Path != follow {
						if got.Path == m.smuggled && tc.bugSmuggled != "" {
							t.Skip("BUG: " + tc.bugSmuggled)
						}
						t.Fatalf("the next response answers %q, want the follow-up %q", got.Path, follow)
					}
				} else if isTimeout(err) {
					t.Fatal("the connection neither closed nor answered the follow-up")
				}
				if n := e.hit(m.smuggled); n != 0 {
					t.Fatalf("the smuggled request reached the upstream %d times", n)
				}
				t.Logf("interpreted; connection kept: %v", kept)
				if kept && tc.mustClose {
					if tc.bugKeptOpen != "" {
						t.Skip("BUG: " + tc.bugKeptOpen)
					}
					t.Fatal("the connection stayed open after a message with faulty framing (RFC 9112 §6.1: close after responding)")
				}
			})
		}
	}
}

// TestWireHost: an HTTP/1.1 request without Host, or with more than one, is
// answered 400 (RFC 9112 §3.2), in absolute form too, where the target
// names the host anyway; an HTTP/1.0 request needs none; and the target,
// not the Host header, chooses the upstream.
func TestWireHost(t *testing.T) {
	e := newWireEnv(t)
	for _, m := range wireModes() {
		for _, tc := range []struct{ name, headers string }{
			{"missing", ""},
			{"twice-same", "Host: api.test\r\nHost: api.test\r\n"},
			{"twice-different", "Host: api.test\r\nHost: other.test\r\n"},
		} {
			t.Run(m.name+"/"+tc.name, func(t *testing.T) {
				path := "/hits/host/" + m.name + "/" + tc.name
				follow := path + "/follow"
				c := m.open(t, e)
				c.write(m.fill("GET {T}"+path+" HTTP/1.1\r\n"+tc.headers+"{A}\r\n") + m.get(follow))
				resp, body := c.read("GET")
				if tc.name == "missing" && resp.StatusCode == 200 {
					// Served anyway: then at least as a request for the
					// target, whatever Host it lacked.
					if got := wireEcho(t, resp, body); got.Path != path || got.Host != "api.test" || got.Name != "api" {
						t.Fatalf("upstream %q saw host %q path %q", got.Name, got.Host, got.Path)
					}
					if !c.closedOrFollowUp(follow) {
						t.Fatal("the connection closed after a served request")
					}
					t.Skip("BUG: an HTTP/1.1 request without Host is served; RFC 9112 §3.2 says a server MUST answer it 400 " +
						"(net/http did). Nothing is misrouted, the target comes from the request or CONNECT line, but a strict hop " +
						"in front of the proxy and the proxy disagree on whether it is a request at all.")
				}
				if resp.StatusCode != 400 {
					t.Fatalf("%s, want 400", describe(resp, body))
				}
				// The message's framing is known (no body), so keeping the
				// connection for the next request is as correct as closing.
				kept := c.closedOrFollowUp(follow)
				if e.hit(path) != 0 {
					t.Fatal("the request reached the upstream")
				}
				t.Logf("connection kept: %v", kept)
			})
		}
		t.Run(m.name+"/http-1.0-without-host", func(t *testing.T) {
			c := m.open(t, e)
			c.write(m.fill("GET {T}/host/10 HTTP/1.0\r\n{A}\r\n"))
			resp, body := c.read("GET")
			if got := wireEcho(t, resp, body); got.Name != "api" || got.Host != "api.test" || got.Path != "/host/10" {
				t.Fatalf("upstream %q saw host %q path %q", got.Name, got.Host, got.Path)
			}
		})
		t.Run(m.name+"/host-differs-from-target", func(t *testing.T) {
			c := m.open(t, e)
			c.write(m.fill("GET {T}/host/other HTTP/1.1\r\nHost: other.test\r\n{A}\r\n"))
			resp, body := c.read("GET")
			if got := wireEcho(t, resp, body); got.Name != "api" || got.Host != "api.test" {
				t.Fatalf("upstream %q saw host %q, want api.test from the target", got.Name, got.Host)
			}
		})
	}
}

// TestWireRequestBodies: bodies framed by Content-Length or the chunked
// coding reach the upstream byte for byte, however much they look like
// HTTP, and the next request on the connection is found right after them.
// A chunked body whose framing breaks is refused with the connection
// closed: nothing after the break may be read as a request.
func TestWireRequestBodies(t *testing.T) {
	e := newWireEnv(t)
	// Over 4 KiB, so it spans reads; it holds a last-chunk and a request.
	data := "0\r\n\r\nGET /not-a-request HTTP/1.1\r\nHost: api.test\r\n\r\n" + strings.Repeat("body-bytes;", 500)
	good := []struct {
		name, headers, wire, want string
	}{
		{"content-length", fmt.Sprintf("Content-Length: %d\r\n", len(data)), data, data},
		{"content-length-zero", "Content-Length: 0\r\n", "", ""},
		{"chunked", "Transfer-Encoding: chunked\r\n",
			"5;ext=\"v\"\r\nhello\r\n" + fmt.Sprintf("%X\r\n%s\r\n", len(data), data) + "0\r\n\r\n", "hello" + data},
		{"chunked-with-trailer", "Transfer-Encoding: chunked\r\n", "5\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n", "hello"},
		{"chunked-empty", "Transfer-Encoding: chunked\r\n", "0\r\n\r\n", ""},
	}
	for _, m := range wireModes() {
		for _, tc := range good {
			t.Run(m.name+"/"+tc.name, func(t *testing.T) {
				path := "/hits/body/" + m.name + "/" + tc.name
				follow := path + "/follow"
				c := m.open(t, e)
				c.write(m.fill("POST {T}"+path+" HTTP/1.1\r\nHost: api.test\r\n{A}"+tc.headers+"\r\n") + tc.wire + m.get(follow))
				resp, body := c.read("POST")
				if got := wireEcho(t, resp, body); got.Path != path || got.Body != tc.want {
					t.Fatalf("upstream saw %q with a %d-byte body, want %q with %d bytes", got.Path, len(got.Body), path, len(tc.want))
				}
				// A server may end the connection after a chunked request
				// rather than trust its framing to every other hop (RFC
				// 9112 §6.1); after a Content-Length body it has no reason
				// to.
				kept := c.closedOrFollowUp(follow)
				if !kept && !strings.HasPrefix(tc.name, "chunked") {
					t.Fatal("the connection closed after a body framed by Content-Length")
				}
				if !kept && !resp.Close {
					t.Fatal("the connection closed after a response that did not announce Connection: close")
				}
				t.Logf("connection kept: %v (close announced: %v)", kept, resp.Close)
			})
		}
	}
	bad := []struct{ name, wire string }{
		{"chunk-size-not-hex", "zz\r\n"},
		{"chunk-size-overflow", "10000000000000000\r\nabc\r\n"},
		{"chunk-data-longer-than-size", "5\r\nhelloXX\r\n0\r\n\r\n"},
	}
	for _, m := range wireModes() {
		for _, tc := range bad {
			t.Run(m.name+"/"+tc.name, func(t *testing.T) {
				m := m.in(t, e)
				c := m.open(t, e)
				c.write(m.fill("POST {T}/malformed-chunk HTTP/1.1\r\nHost: api.test\r\n{A}Transfer-Encoding: chunked\r\n\r\n") + tc.wire + m.smuggle())
				status := c.rejected([]int{400, 502}, false)
				if status != 400 {
					t.Skipf("BUG: a broken chunked request body is answered %d (as if the upstream failed), want 400: the client's framing is at fault", status)
				}
			})
		}
	}
}

// TestWireRefusedBody: a request the proxy refuses before reading its body
// (407, or 403 for a disabled service) leaves the body on the wire. The
// proxy must either read past it and serve the next request, or close the
// connection; it must never parse the body, which here begins with a
// complete request, as a request.
func TestWireRefusedBody(t *testing.T) {
	e := newWireEnv(t)
	cases := []struct {
		name      string
		outerOnly bool // 407 is the outer port's: tunnels were authenticated by CONNECT
		status    int
		path      string
		auth      bool
		size      int // body bytes
		chunked   bool
	}{
		// First: a body too large to drain may close with a lingering
		// close, which then overlaps the other cases.
		{"407-content-length-1MiB", true, 407, "/hits/refused", false, 1 << 20, false},
		{"407-content-length-100KiB", true, 407, "/hits/refused", false, 100 << 10, false},
		{"407-chunked-100KiB", true, 407, "/hits/refused", false, 100 << 10, true},
		{"403-content-length-100KiB", false, 403, "/disabled/refused", true, 100 << 10, false},
		{"403-chunked-100KiB", false, 403, "/disabled/refused", true, 100 << 10, true},
	}
	for _, m := range wireModes() {
		for _, tc := range cases {
			if tc.outerOnly && m.name != "absolute" {
				continue
			}
			t.Run(m.name+"/"+tc.name, func(t *testing.T) {
				m := m.in(t, e)
				s := m.smuggle()
				body := s + strings.Repeat("x", tc.size-len(s))
				head := "POST {T}" + tc.path + " HTTP/1.1\r\nHost: api.test\r\n"
				if tc.auth {
					head += "{A}"
				}
				if tc.chunked {
					head += "Transfer-Encoding: chunked\r\n\r\n"
					body = chunk(body)
				} else {
					head += fmt.Sprintf("Content-Length: %d\r\n\r\n", len(body))
				}
				follow := "/hits/refused-follow/" + m.name + "/" + tc.name
				c := m.open(t, e)
				wait := c.writeAsync(m.fill(head) + body + m.get(follow))
				defer wait()
				resp, rb := c.read("POST")
				if resp.StatusCode != tc.status {
					t.Fatalf("%s, want %d", describe(resp, rb), tc.status)
				}
				kept := c.closedOrFollowUp(follow)
				if e.hit(m.smuggled) != 0 {
					t.Fatal("the refused request's body was parsed as a request")
				}
				t.Logf("connection kept: %v", kept)
			})
		}
	}
}

// TestWireBodyLimit: a body over MaxRequestBody is refused with 413,
// declared or found while streaming, and the rest of it, which holds a
// complete request past the limit, is never read as a request.
func TestWireBodyLimit(t *testing.T) {
	e := newWireEnv(t, func(c *Config) { c.MaxRequestBody = 1 << 10 })
	for _, m := range wireModes() {
		for _, chunked := range []bool{false, true} {
			name := map[bool]string{false: "content-length", true: "chunked"}[chunked]
			t.Run(m.name+"/"+name, func(t *testing.T) {
				m := m.in(t, e)
				body := strings.Repeat("x", 2<<10) + m.smuggle() + strings.Repeat("y", 2<<10)
				head := "POST {T}/pass/limit HTTP/1.1\r\nHost: api.test\r\n{A}"
				if chunked {
					// Small chunks: the limit is crossed while streaming.
					var b strings.Builder
					for rest := body; rest != ""; {
						n := min(len(rest), 512)
						fmt.Fprintf(&b, "%x\r\n%s\r\n", n, rest[:n])
						rest = rest[n:]
					}
					head, body = head+"Transfer-Encoding: chunked\r\n\r\n", b.String()+"0\r\n\r\n"
				} else {
					head += fmt.Sprintf("Content-Length: %d\r\n\r\n", len(body))
				}
				follow := "/hits/limit-follow/" + m.name + "/" + name
				c := m.open(t, e)
				wait := c.writeAsync(m.fill(head) + body + m.get(follow))
				defer wait()
				resp, rb := c.read("POST")
				if resp.StatusCode != 413 {
					t.Fatalf("%s, want 413", describe(resp, rb))
				}
				kept := c.closedOrFollowUp(follow)
				if e.hit(m.smuggled) != 0 {
					t.Fatal("the rest of an oversized body was parsed as a request")
				}
				t.Logf("connection kept: %v", kept)
			})
		}
	}
}

// readFinal reads past any 1xx responses to the final one; a client must
// accept any number of them (RFC 9110 §15.2).
func (c *wireConn) readFinal(method string) (*http.Response, string) {
	c.t.Helper()
	for range 5 {
		resp, body := c.read(method)
		if resp.StatusCode >= 200 {
			return resp, body
		}
	}
	c.t.Fatal("more than four 1xx responses")
	return nil, ""
}

// TestWireExpectContinue: a client that sends Expect: 100-continue gets
// 100 Continue before it sends the body, whether the proxy reads the body
// itself (a substitution buffers it) or streams it upstream; an
// expectation the proxy does not know is refused with 417; and a request
// refused before its body leaves a connection that closes or reads past
// the body when the client sends it anyway.
func TestWireExpectContinue(t *testing.T) {
	e := newWireEnv(t)
	body := "expected body\r\nGET /not-a-request HTTP/1.1\r\n\r\n"
	for _, m := range wireModes() {
		for _, tc := range []struct{ name, path, headers string }{
			// A text body is buffered by the substitution of the bearer
			// service; without a Content-Type the passthrough service
			// streams it to the upstream, which sends its own 100.
			{"proxy-reads-body", "/hits/expect/" + m.name, "Content-Type: text/plain\r\n"},
			{"streamed-upstream", "/pass/expect/" + m.name, ""},
		} {
			t.Run(m.name+"/"+tc.name, func(t *testing.T) {
				c := m.open(t, e)
				c.write(m.fill(fmt.Sprintf("POST {T}%s HTTP/1.1\r\nHost: api.test\r\n{A}%sExpect: 100-continue\r\nContent-Length: %d\r\n\r\n", tc.path, tc.headers, len(body))))
				if resp, _ := c.read("POST"); resp.StatusCode != 100 {
					t.Fatalf("status %d before the body was sent, want 100", resp.StatusCode)
				}
				c.write(body)
				resp, rb := c.readFinal("POST")
				if got := wireEcho(t, resp, rb); got.Path != tc.path || got.Body != body {
					t.Fatalf("upstream saw %q with a %d-byte body, want %q with %d bytes", got.Path, len(got.Body), tc.path, len(body))
				}
			})
		}
		t.Run(m.name+"/unknown-expectation", func(t *testing.T) {
			m := m.in(t, e)
			path := "/hits/expect-unknown/" + m.name
			follow := path + "/follow"
			s := m.smuggle()
			c := m.open(t, e)
			c.write(m.fill(fmt.Sprintf("POST {T}%s HTTP/1.1\r\nHost: api.test\r\n{A}Expect: something\r\nContent-Length: %d\r\n\r\n", path, len(s))) + s + m.get(follow))
			resp, rb := c.read("POST")
			if resp.StatusCode != 417 {
				t.Fatalf("%s, want 417", describe(resp, rb))
			}
			kept := c.closedOrFollowUp(follow)
			if e.hit(path) != 0 {
				t.Fatal("a request with an unmet expectation reached the upstream")
			}
			t.Logf("connection kept: %v", kept)
		})
		for _, tc := range []struct {
			name, path string
			auth       bool
			status     int
		}{
			{"refused-407", "/hits/expect-refused", false, 407},
			{"refused-403", "/disabled/expect-refused", true, 403},
		} {
			if tc.status == 407 && m.name != "absolute" {
				continue
			}
			t.Run(m.name+"/"+tc.name, func(t *testing.T) {
				m := m.in(t, e)
				s := m.smuggle()
				head := "POST {T}" + tc.path + " HTTP/1.1\r\nHost: api.test\r\nExpect: 100-continue\r\n"
				if tc.auth {
					head += "{A}"
				}
				follow := "/hits/expect-follow/" + m.name + "/" + tc.name
				c := m.open(t, e)
				c.write(m.fill(head + fmt.Sprintf("Content-Length: %d\r\n\r\n", len(s))))
				// The answer must come without the body. If it has not
				// come after a moment, the body is sent: an answer that
				// then arrives was waiting for it. (The window only sorts
				// a known bug from a failure; a correct proxy answers at
				// once and never meets it.)
				c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
				if _, err := c.br.Peek(1); isTimeout(err) {
					wait := c.writeAsync(s + m.get(follow))
					defer wait()
					if resp, _ := c.readFinal("POST"); resp.StatusCode == tc.status {
						t.Skipf("BUG: a request with Expect: 100-continue that the proxy refuses (%d) after forward has wrapped r.Body in "+
							"http.MaxBytesReader gets no answer until the client sends the body anyway: net/http recognises an unread "+
							"expect-continue body by its type, so with the wrapper it drains the body before writing the response", tc.status)
					}
					t.Fatal("no answer without the body")
				}
				resp, rb := c.readFinal("POST")
				if resp.StatusCode != tc.status {
					t.Fatalf("%s, want %d", describe(resp, rb), tc.status)
				}
				// The client may send the body anyway; then the next
				// request.
				wait := c.writeAsync(s + m.get(follow))
				defer wait()
				kept := c.closedOrFollowUp(follow)
				if e.hit(m.smuggled) != 0 {
					t.Fatal("the body of a refused request was parsed as a request")
				}
				t.Logf("connection kept: %v", kept)
			})
		}
	}
}

// TestWireResponseFraming: what the proxy sends back is framed for the
// client: a body of unknown length is chunked for HTTP/1.1 and
// close-delimited for HTTP/1.0; HEAD, 204 and 304 carry no body; upstream
// trailers follow a chunked body. A follow-up request written with each
// one checks that the response ended exactly where its framing says.
func TestWireResponseFraming(t *testing.T) {
	e := newWireEnv(t)
	for _, m := range wireModes() {
		follow := func(t *testing.T, c *wireConn, path string) {
			t.Helper()
			if !c.closedOrFollowUp(path) {
				t.Fatal("the connection closed instead of answering the follow-up")
			}
		}
		t.Run(m.name+"/unknown-length-http/1.1", func(t *testing.T) {
			next := "/hits/frame/" + m.name + "/chunked"
			c := m.open(t, e)
			c.write(m.get("/stream") + m.get(next))
			resp, body := c.read("GET")
			if resp.StatusCode != 200 || body != "part-1\npart-2\n" || !slices.Equal(resp.TransferEncoding, []string{"chunked"}) {
				t.Fatalf("status %d, transfer-encoding %q, body %q; want 200, chunked, both parts", resp.StatusCode, resp.TransferEncoding, body)
			}
			follow(t, c, next)
		})
		t.Run(m.name+"/unknown-length-http/1.0", func(t *testing.T) {
			next := "/hits/frame/" + m.name + "/after-1.0"
			c := m.open(t, e)
			c.write(m.fill("GET {T}/stream HTTP/1.0\r\nHost: api.test\r\n{A}\r\n") + m.get(next))
			c.SetReadDeadline(time.Now().Add(wireTimeout))
			resp, err := http.ReadResponse(c.br, &http.Request{Method: "GET"})
			if err != nil {
				t.Fatal(err)
			}
			// An HTTP/1.0 client knows no chunked coding: the body ends
			// with the connection.
			if len(resp.TransferEncoding) != 0 || resp.Header.Get("Transfer-Encoding") != "" {
				t.Fatalf("transfer-encoding %q sent to an HTTP/1.0 client", resp.TransferEncoding)
			}
			b, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != 200 || string(b) != "part-1\npart-2\n" {
				t.Fatalf("status %d, body %q, %v", resp.StatusCode, b, err)
			}
			c.closed()
			if e.hit(next) != 0 {
				t.Fatal("a request after an HTTP/1.0 request without keep-alive was served")
			}
		})
		t.Run(m.name+"/head", func(t *testing.T) {
			c := m.open(t, e)
			c.write(m.fill("HEAD {T}/head HTTP/1.1\r\nHost: api.test\r\n{A}\r\n") + m.get("/head"))
			resp, body := c.read("HEAD")
			if resp.StatusCode != 200 || resp.Header.Get("X-Head") != "yes" || resp.ContentLength != 13 || body != "" {
				t.Fatalf("HEAD: status %d, X-Head %q, length %d, body %q", resp.StatusCode, resp.Header.Get("X-Head"), resp.ContentLength, body)
			}
			resp, body = c.read("GET")
			if resp.StatusCode != 200 || body != "thirteen-byte" {
				t.Fatalf("GET after HEAD: status %d, body %q", resp.StatusCode, body)
			}
		})
		for _, code := range []int{204, 304} {
			t.Run(fmt.Sprintf("%s/%d", m.name, code), func(t *testing.T) {
				next := fmt.Sprintf("/hits/frame/%s/after-%d", m.name, code)
				c := m.open(t, e)
				c.write(m.get(fmt.Sprintf("/status/%d", code)) + m.get(next))
				resp, body := c.read("GET")
				if resp.StatusCode != code || resp.Header.Get("X-Status") != "set" || body != "" || len(resp.TransferEncoding) != 0 {
					t.Fatalf("status %d, X-Status %q, transfer-encoding %q, body %q", resp.StatusCode, resp.Header.Get("X-Status"), resp.TransferEncoding, body)
				}
				if code == 204 && resp.Header.Get("Content-Length") != "" {
					t.Fatalf("Content-Length %q on a 204 (RFC 9110 §8.6)", resp.Header.Get("Content-Length"))
				}
				follow(t, c, next)
			})
		}
		t.Run(m.name+"/trailers", func(t *testing.T) {
			next := "/hits/frame/" + m.name + "/after-trailers"
			c := m.open(t, e)
			c.write(m.get("/trailers") + m.get(next))
			resp, body := c.read("GET")
			if resp.StatusCode != 200 || body != "body" || !slices.Equal(resp.TransferEncoding, []string{"chunked"}) {
				t.Fatalf("status %d, transfer-encoding %q, body %q", resp.StatusCode, resp.TransferEncoding, body)
			}
			if got := resp.Trailer.Get("X-Checksum"); got != "c0ffee" {
				t.Fatalf("trailer X-Checksum %q, want c0ffee", got)
			}
			follow(t, c, next)
		})
	}
}

// TestWireUnknownLengthFlushRace: an upstream answer of unknown length,
// to a GET (the proxy's own upstream client) and to a chunked upload
// (http.Transport), streams to the client intact, and under -race shows
// that only one goroutine flushes the client's response.
func TestWireUnknownLengthFlushRace(t *testing.T) {
	e := newWireEnv(t)
	for _, m := range wireModes() {
		t.Run(m.name, func(t *testing.T) {
			// Separate connections: the proxy closes one after a chunked
			// upload (see closeAfter in serve.go).
			for i, req := range []string{
				m.fill("POST {T}/stream HTTP/1.1\r\nHost: api.test\r\n{A}Transfer-Encoding: chunked\r\n\r\n") + chunk("upload"),
				m.get("/stream"),
			} {
				c := m.open(t, e)
				c.write(req)
				if resp, body := c.read("GET"); resp.StatusCode != 200 || body != "part-1\npart-2\n" {
					t.Fatalf("response %d: status %d, body %q", i, resp.StatusCode, body)
				}
			}
		})
	}
}

// TestWireConnectionClose: a request with Connection: close, or an
// HTTP/1.0 request without keep-alive, is the connection's last: the
// response says so (for the former) and the proxy closes the connection;
// a request pipelined after it is never served (RFC 9112 §9.6).
func TestWireConnectionClose(t *testing.T) {
	e := newWireEnv(t)
	for _, m := range wireModes() {
		for _, tc := range []struct{ name, proto, headers string }{
			{"connection-close", "HTTP/1.1", "Connection: close\r\n"},
			{"http-1.0", "HTTP/1.0", ""},
		} {
			t.Run(m.name+"/"+tc.name, func(t *testing.T) {
				path := "/hits/close/" + m.name + "/" + tc.name
				next := path + "/next"
				c := m.open(t, e)
				c.write(m.fill("GET {T}"+path+" "+tc.proto+"\r\nHost: api.test\r\n{A}"+tc.headers+"\r\n") + m.get(next))
				resp, body := c.read("GET")
				if got := wireEcho(t, resp, body); got.Path != path {
					t.Fatalf("the response answers %q", got.Path)
				}
				// ReadResponse turns Connection: close into resp.Close (the
				// body is length-delimited or chunked, so nothing else sets
				// it; the scrubbed echo is chunked).
				if tc.headers != "" && (!resp.Close || resp.ContentLength < 0 && len(resp.TransferEncoding) == 0) {
					t.Fatalf("close announced: %v (length %d), want Connection: close on a length- or chunk-delimited response", resp.Close, resp.ContentLength)
				}
				c.closed()
				if e.hit(next) != 0 {
					t.Fatal("a request after the connection's last one was served")
				}
			})
		}
	}
}

// wireShortTimeouts makes the proxy's header and idle timeouts short
// enough to be hit by a test, long enough for a loaded machine to finish
// a handshake and write a request within them.
func wireShortTimeouts(c *Config) {
	c.ReadHeaderTimeout = 300 * time.Millisecond
	c.IdleTimeout = 300 * time.Millisecond
}

// closedAfterStall waits for the proxy to give up on a stalled client.
// The proxy may say why first (408, or 400): anything it sends must then
// be such a response. rawOK accepts any bytes (a TLS alert).
func (c *wireConn) closedAfterStall(rawOK bool) {
	c.t.Helper()
	c.SetReadDeadline(time.Now().Add(wireTimeout))
	b, err := io.ReadAll(c.br)
	if isTimeout(err) {
		c.t.Fatalf("the stalled connection is still open after %v", wireTimeout)
	}
	if len(b) == 0 || rawOK {
		return
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(b)), nil)
	if err != nil || resp.StatusCode != 408 && resp.StatusCode != 400 {
		c.t.Fatalf("sent %q before closing; want nothing, 408 or 400", firstLine(b))
	}
}

// TestWireTimeouts: a client that stalls before completing its request's
// headers, or leaves a keep-alive connection idle, is disconnected after
// ReadHeaderTimeout or IdleTimeout, on the outer port, while a CONNECT
// waits for its first byte or its handshake, and inside tunnels. All the
// connections are set up first and then checked, so the suite waits for
// the timeouts once, not once per case.
func TestWireTimeouts(t *testing.T) {
	e := newWireEnv(t, wireShortTimeouts)
	type stalled struct {
		name  string
		c     *wireConn
		rawOK bool // any bytes may come before the close (a TLS alert)
	}
	var all []stalled
	for _, m := range wireModes() {
		c := m.open(t, e)
		c.write(m.fill("GET {T}/hits/stall HT"))
		all = append(all, stalled{m.name + "/stalled-request-line", c, false})

		c = m.open(t, e)
		c.write(m.fill("GET {T}/hits/stall HTTP/1.1\r\nHost: api.test\r\n{A}X-Partial: 1"))
		all = append(all, stalled{m.name + "/stalled-headers", c, false})

		c = m.open(t, e)
		c.write(m.get("/hits/idle/" + m.name))
		resp, body := c.read("GET")
		if got := wireEcho(t, resp, body); got.Path != "/hits/idle/"+m.name {
			t.Fatalf("%s: the response answers %q", m.name, got.Path)
		}
		all = append(all, stalled{m.name + "/idle-after-response", c, false})
	}
	all = append(all, stalled{"silent-connection", dialWire(t, e), false})
	c := dialWire(t, e)
	c.write("CONNECT api.te")
	all = append(all, stalled{"half-connect-line", c, false})
	all = append(all, stalled{"stalled-after-connect", connectWire(t, e, "api.test:443", false), true})
	c = connectWire(t, e, "api.test:443", false)
	c.write("\x16\x03\x01\x00")
	all = append(all, stalled{"stalled-tls-handshake", c, true})
	for _, s := range all {
		t.Run(s.name, func(t *testing.T) {
			s.c.t = t
			s.c.closedAfterStall(s.rawOK)
		})
	}
	if n := e.hit("/hits/stall"); n != 0 {
		t.Fatalf("a stalled request reached the upstream %d times", n)
	}
}

// event waits for the request event of path.
func (e *wireEnv) event(t *testing.T, path string) Event {
	t.Helper()
	for i := 0; ; i++ {
		if ev := e.log.next(t, i); ev.Path == path {
			return ev
		}
	}
}

// TestWireClientGone: a client that disconnects while its request waits
// on the upstream gets that request cancelled upstream, and the event
// records status 499 with error client_closed.
func TestWireClientGone(t *testing.T) {
	e := newWireEnv(t)
	for _, m := range wireModes() {
		t.Run(m.name, func(t *testing.T) {
			path := "/slow/" + m.name
			started, cancelled := make(chan struct{}, 1), make(chan struct{}, 1)
			// Sends never block: a handler stuck on one would hold up the
			// upstream's Close at cleanup.
			e.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
				select {
				case started <- struct{}{}:
				default:
				}
				select {
				case <-r.Context().Done():
					select {
					case cancelled <- struct{}{}:
					default:
					}
				case <-time.After(10 * time.Second):
				}
			})
			c := m.open(t, e)
			c.write(m.get(path))
			select {
			case <-started:
			case <-time.After(wireTimeout):
				t.Fatal("the request never reached the upstream")
			}
			c.Close()
			select {
			case <-cancelled:
			case <-time.After(wireTimeout):
				t.Fatalf("the upstream request was not cancelled within %v of the client leaving", wireTimeout)
			}
			ev := e.event(t, path)
			if m.name == "tunnel-tls" && ev.Status == 200 {
				// Intermittent: how often depends on scheduling.
				t.Skip("BUG: the event of a request whose client left can record the upstream's 200 instead of 499. " +
					"exchange (upstream.go) breaks off a cancelled request with pc.conn.Close(); for a TLS upstream that " +
					"sends close_notify before closing the socket, the upstream may answer in between (its own request " +
					"context ends on the alert), the pending ReadResponse returns that answer without an error, and it is " +
					"relayed to the departed client as a success. Closing pc.raw, or checking ctx.Err() after " +
					"ReadResponse, ends it.")
			}
			if ev.Status != 499 || ev.Error != "client_closed" {
				t.Fatalf("event status %d error %q, want 499 client_closed", ev.Status, ev.Error)
			}
		})
	}
}

// TestWireShutdown: Shutdown closes idle client connections and returns
// without waiting for them, but lets an in-flight request finish (its
// response arrives whole) before it returns; either way new connections
// are refused afterwards.
func TestWireShutdown(t *testing.T) {
	shutdown := func(e *wireEnv) chan error {
		done := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), wireTimeout)
			defer cancel()
			done <- e.proxy.Shutdown(ctx)
		}()
		return done
	}
	returned := func(t *testing.T, done chan error) {
		t.Helper()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
		case <-time.After(wireTimeout + time.Second):
			t.Fatal("Shutdown did not return")
		}
	}
	refused := func(t *testing.T, e *wireEnv) {
		t.Helper()
		if c, err := net.DialTimeout("tcp", e.addr, wireTimeout); err == nil {
			c.Close()
			t.Fatal("the listener still accepts after Shutdown")
		}
	}
	idle := func(t *testing.T, e *wireEnv, m wireMode) *wireConn {
		c := m.open(t, e)
		c.write(m.get("/hits/shutdown/idle"))
		resp, body := c.read("GET")
		wireEcho(t, resp, body)
		return c
	}
	for _, m := range wireModes() {
		t.Run(m.name+"/idle", func(t *testing.T) {
			e := newWireEnv(t)
			c := idle(t, e, m)
			done := shutdown(e)
			c.closed()
			returned(t, done)
			refused(t, e)
		})
		t.Run(m.name+"/in-flight", func(t *testing.T) {
			e := newWireEnv(t)
			started, release := make(chan struct{}, 1), make(chan struct{})
			// Registered after the env's, so it runs first: a failing test
			// must not leave the handler holding up the upstream's Close.
			unblock := sync.OnceFunc(func() { close(release) })
			t.Cleanup(unblock)
			e.mux.HandleFunc("/hold", func(w http.ResponseWriter, r *http.Request) {
				select {
				case started <- struct{}{}:
				default:
				}
				<-release
				io.WriteString(w, "held to the end")
			})
			c := m.open(t, e)
			c.write(m.get("/hold"))
			select {
			case <-started:
			case <-time.After(wireTimeout):
				t.Fatal("the request never reached the upstream")
			}
			other := idle(t, e, m)
			done := shutdown(e)
			// The idle connection closing shows Shutdown is under way; it
			// must not return while the held request is unanswered. (The
			// short window only gives an early return a chance to show; a
			// correct Shutdown never ends it.)
			other.closed()
			select {
			case err := <-done:
				t.Fatalf("Shutdown returned (%v) while a request was in flight", err)
			case <-time.After(50 * time.Millisecond):
			}
			unblock()
			resp, body := c.read("GET")
			if resp.StatusCode != 200 || body != "held to the end" {
				t.Fatalf("the in-flight request got status %d, body %q", resp.StatusCode, body)
			}
			returned(t, done)
			c.closed()
			refused(t, e)
		})
	}
}

// TestWireConnectAfterRequest: CONNECT may follow other requests on a
// keep-alive connection, and the tunnel's first bytes may arrive in the
// same write as the CONNECT: whatever the listener has read ahead belongs
// to the tunnel.
func TestWireConnectAfterRequest(t *testing.T) {
	e := newWireEnv(t)
	t.Run("plain", func(t *testing.T) {
		c := dialWire(t, e)
		c.write("GET http://api.test/hits/before-connect HTTP/1.1\r\nHost: api.test\r\n" + wireAuth + "\r\n" +
			"CONNECT api.test:80 HTTP/1.1\r\nHost: api.test:80\r\n" + wireAuth + "\r\n" +
			"GET /hits/in-tunnel HTTP/1.1\r\nHost: api.test\r\n\r\n")
		resp, body := c.read("GET")
		if got := wireEcho(t, resp, body); got.Path != "/hits/before-connect" {
			t.Fatalf("first response answers %q", got.Path)
		}
		if resp := c.readConnect(); resp.StatusCode != 200 {
			t.Fatalf("CONNECT: status %d", resp.StatusCode)
		}
		resp, body = c.read("GET")
		if got := wireEcho(t, resp, body); got.Path != "/hits/in-tunnel" || got.TLS {
			t.Fatalf("in the tunnel: upstream saw %q (tls %v)", got.Path, got.TLS)
		}
	})
	t.Run("tls", func(t *testing.T) {
		c := dialWire(t, e)
		c.write("GET http://api.test/hits/before-connect-tls HTTP/1.1\r\nHost: api.test\r\n" + wireAuth + "\r\n" +
			"CONNECT api.test:443 HTTP/1.1\r\nHost: api.test:443\r\n" + wireAuth + "\r\n")
		resp, body := c.read("GET")
		if got := wireEcho(t, resp, body); got.Path != "/hits/before-connect-tls" {
			t.Fatalf("first response answers %q", got.Path)
		}
		if resp := c.readConnect(); resp.StatusCode != 200 || c.br.Buffered() != 0 {
			t.Fatalf("CONNECT: status %d, %d bytes after it", resp.StatusCode, c.br.Buffered())
		}
		tc := c.startTLS(e)
		tc.write("GET /hits/in-tls-tunnel HTTP/1.1\r\nHost: api.test\r\n\r\n")
		resp, body = tc.read("GET")
		if got := wireEcho(t, resp, body); got.Path != "/hits/in-tls-tunnel" || !got.TLS {
			t.Fatalf("in the tunnel: upstream saw %q (tls %v)", got.Path, got.TLS)
		}
	})
}

// FuzzProxyWire writes arbitrary bytes to the listener on a fresh
// connection, half-closes it and reads until the proxy closes. Whatever
// the input, the proxy must finish within the deadline and, if it answers
// at all, begin with a well-formed response.
func FuzzProxyWire(f *testing.F) {
	// Only the test upstreams may be dialled: a fuzzed host must not make
	// the proxy resolve and connect to the internet.
	e := newEnv(f, testServices(), func(c *Config) {
		dial := c.DialContext
		c.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			if addr != "api.test:80" && addr != "api.test:443" {
				return nil, domain.Errorf("destination_blocked", "only the test upstreams are reachable")
			}
			return dial(ctx, network, addr)
		}
		c.ReadHeaderTimeout, c.IdleTimeout, c.ResponseHeaderTimeout = time.Second, time.Second, 2*time.Second
	})
	auth := wireAuth
	for _, s := range []string{
		"",
		"GET http://api.test/x HTTP/1.1\r\nHost: api.test\r\n" + auth + "\r\n",
		"GET http://api.test/a HTTP/1.1\r\nHost: api.test\r\n" + auth + "\r\nGET http://api.test/b HTTP/1.1\r\nHost: api.test\r\n" + auth + "\r\n",
		"POST http://api.test/x HTTP/1.1\r\nHost: api.test\r\n" + auth + "Content-Length: 5\r\n\r\nhello",
		"POST http://api.test/x HTTP/1.1\r\nHost: api.test\r\n" + auth + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"POST http://api.test/x HTTP/1.1\r\nHost: api.test\r\n" + auth + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n5c\r\nGET http://api.test/s HTTP/1.1\r\n\r\n0\r\n\r\n",
		"POST http://api.test/x HTTP/1.1\r\nHost: api.test\r\n" + auth + "Content-Length: 0\r\nContent-Length: 5\r\n\r\nhello",
		"POST http://api.test/x HTTP/1.1\r\nHost: api.test\r\n" + auth + "Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n",
		"POST http://api.test/x HTTP/1.0\r\nConnection: keep-alive\r\n" + auth + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n",
		"POST http://api.test/x HTTP/1.1\r\nHost: api.test\r\n" + auth + "Expect: 100-continue\r\nContent-Length: 5\r\n\r\nhello",
		"GET http://api.test/x HTTP/1.1\nHost: api.test\nX-A: 1\n\n",
		"GET http://api.test/x HTTP/1.1\r\nHost: api.test\r\nX-A: 1\r\n folded\r\n\r\n",
		"GET http://api.test/x HTTP/1.1\r\nHost: api.test\r\nX-A: a\x00b\r\n\r\n",
		"GET http://api.test/x HTTP/1.1\r\nHost : api.test\r\n\r\n",
		"GET http://api.test/x HTTP/2.0\r\nHost: api.test\r\n\r\n",
		"GET /x\r\n",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"HEAD http://api.test/x HTTP/1.1\r\nHost: api.test\r\n" + auth + "\r\n",
		"GET http://api.test/ws HTTP/1.1\r\nHost: api.test\r\n" + auth + "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
		"GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n" + auth + "\r\n",
		"CONNECT api.test:80 HTTP/1.1\r\nHost: api.test:80\r\n" + auth + "\r\nGET /x HTTP/1.1\r\nHost: api.test\r\n\r\n",
		"CONNECT api.test:443 HTTP/1.1\r\nHost: api.test:443\r\n" + auth + "\r\n\x16\x03\x01\x00\x05hello",
		"CONNECT api.test:443 HTTP/1.1\r\nHost: api.test:443\r\n\r\n",
		"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
		"\x00\xff\xfe\r\n\r\n\r\n",
		"GET http://api.test/" + strings.Repeat("a", 70<<10) + " HTTP/1.1\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := net.DialTimeout("tcp", e.addr, wireTimeout)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(wireTimeout))
		// Write while reading: the proxy may answer, and stop reading,
		// before the input is through.
		wrote := make(chan struct{})
		go func() {
			defer close(wrote)
			c.Write(data)                 //nolint:errcheck // the proxy may have closed
			c.(*net.TCPConn).CloseWrite() //nolint:errcheck
		}()
		out, err := io.ReadAll(c)
		<-wrote
		if isTimeout(err) {
			t.Fatalf("the proxy neither finished nor closed within %v (%d bytes sent, %d received)", wireTimeout, len(data), len(out))
		}
		if len(out) == 0 {
			return
		}
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(out)), nil)
		if err != nil {
			t.Fatalf("the first response does not parse (%v); it begins %q", err, firstLine(out))
		}
		if resp.StatusCode < 100 || resp.StatusCode > 599 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
}

package proxy

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countDials reports how many times the proxy dialed addr.
func (d *dialer) countDials(addr string) int {
	n := 0
	for _, a := range d.dialedAddrs() {
		if a == addr {
			n++
		}
	}
	return n
}

// TestUpstreamPoolsConnections: sequential requests, with and without a
// small body, over plain HTTP and through CONNECT/MITM, share one upstream
// connection per scheme, and each body arrives intact.
func TestUpstreamPoolsConnections(t *testing.T) {
	e := newEnv(t, testServices())
	c := e.client("tok1:main")
	for _, scheme := range []string{"http", "https"} {
		for i := range 10 {
			var resp *http.Response
			var err error
			if i%2 == 0 {
				resp, err = c.Get(scheme + "://api.test/v1/pool")
			} else {
				resp, err = c.Post(scheme+"://api.test/v1/pool", "text/plain", strings.NewReader("body-"+scheme))
			}
			if err != nil {
				t.Fatal(err)
			}
			got := decodeEcho(t, resp)
			if i%2 == 1 && got.Body != "body-"+scheme {
				t.Fatalf("%s: upstream saw body %q", scheme, got.Body)
			}
			if got.Header.Get("Authorization") != "Bearer sk_live_TOKENVALUE" {
				t.Fatalf("%s: credential not injected", scheme)
			}
		}
	}
	if n, m := e.dial.countDials("api.test:80"), e.dial.countDials("api.test:443"); n != 1 || m != 1 {
		t.Fatalf("dialed api.test:80 %d and :443 %d times, want once each", n, m)
	}
}

// closingUpstream answers each request with "ok" and then closes the
// connection without announcing it, as an upstream whose keep-alive timer
// fires just after a response does.
func closingUpstream(t *testing.T) (addr string, accepted *atomic.Int32) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	accepted = &atomic.Int32{}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			go func() {
				defer c.Close()
				if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
					return
				}
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok")
			}()
		}
	}()
	return l.Addr().String(), accepted
}

// TestUpstreamClosedIdleConnection: a pooled connection the upstream has
// closed is never used for a request that then fails. Right after the
// close, a GET finds it dead and is retried once on a new connection;
// later, the pool's peek finds it dead before use. A POST, which may not
// be sent twice, is not retried but is never sent on a connection known
// to be dead either.
func TestUpstreamClosedIdleConnection(t *testing.T) {
	e := newEnv(t, testServices())
	addr, accepted := closingUpstream(t)
	e.dial.mu.Lock()
	e.dial.routes["closing.test:80"] = addr
	e.dial.mu.Unlock()
	c := e.client("tok1:main")
	get := func(method string) {
		t.Helper()
		req, _ := http.NewRequest(method, "http://closing.test/x", nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "ok" {
			t.Fatalf("%s: status %d %q", method, resp.StatusCode, b)
		}
	}
	get("GET")
	get("GET") // at once: the reused connection is dead, the request is retried
	time.Sleep(3 * idleCheckAfter)
	get("POST") // later: the peek finds the connection dead before use
	if n := accepted.Load(); n != 3 {
		t.Fatalf("upstream accepted %d connections, want 3", n)
	}
}

// TestUpstreamAbandonedBody: when the client goes away in the middle of a
// response, the upstream connection is closed (the upstream sees its
// request end), not left streaming or put back in the pool.
func TestUpstreamAbandonedBody(t *testing.T) {
	e := newEnv(t, testServices())
	gone := make(chan struct{})
	e.mux.HandleFunc("/long", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		io.WriteString(w, "part-1\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		close(gone)
	})
	resp, err := e.client("tok1:main").Get("http://api.test/long")
	if err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil || line != "part-1\n" {
		t.Fatalf("first part %q %v", line, err)
	}
	resp.Body.Close() // the client's transport closes its connection
	select {
	case <-gone:
	case <-time.After(10 * time.Second):
		t.Fatal("the upstream request never ended")
	}
}

// TestUpstreamHeaderTimeout: an upstream that does not answer within
// ResponseHeaderTimeout gets 504 upstream_timeout.
func TestUpstreamHeaderTimeout(t *testing.T) {
	e := newEnv(t, testServices(), func(c *Config) { c.ResponseHeaderTimeout = 200 * time.Millisecond })
	release := make(chan struct{})
	defer close(release)
	e.mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	resp, err := e.client("tok1:main").Get("http://api.test/slow")
	if err != nil {
		t.Fatal(err)
	}
	if b := errorOf(t, resp); resp.StatusCode != http.StatusGatewayTimeout || b.Error != CodeUpstreamTimeout {
		t.Fatalf("status %d %+v", resp.StatusCode, b)
	}
}

// TestUpstreamInformational: a 1xx response before the final one reaches
// the client, and the final answer follows.
func TestUpstreamInformational(t *testing.T) {
	e := newEnv(t, testServices())
	e.mux.HandleFunc("/hints", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		io.WriteString(w, "final")
	})
	for _, scheme := range []string{"http", "https"} {
		var got []int
		trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			got = append(got, code)
			return nil
		}}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", scheme+"://api.test/hints", nil)
		resp, err := e.client("tok1:main").Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "final" || len(got) != 1 || got[0] != http.StatusEarlyHints {
			t.Fatalf("%s: status %d %q, 1xx %v", scheme, resp.StatusCode, b, got)
		}
	}
}

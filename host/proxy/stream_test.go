package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestSSEStreamsPromptly: the upstream sends the next event only after the
// client has read the previous one, so any buffering in the proxy would
// hang the test instead of passing slowly.
func TestSSEStreamsPromptly(t *testing.T) {
	e := newEnv(t, testServices())
	step := make(chan struct{})
	e.mux.HandleFunc("/events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := 1; i <= 3; i++ {
			fmt.Fprintf(w, "data: %d\n\n", i)
			w.(http.Flusher).Flush()
			select {
			case <-step:
			case <-r.Context().Done():
				return
			}
		}
	})
	for _, scheme := range []string{"http", "https"} {
		t.Run(scheme, func(t *testing.T) {
			resp, err := e.client("tok1:main").Get(scheme + "://api.test/events")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			br := bufio.NewReader(resp.Body)
			for i := 1; i <= 3; i++ {
				line, err := br.ReadString('\n')
				if err != nil || line != fmt.Sprintf("data: %d\n", i) {
					t.Fatalf("event %d: %q %v", i, line, err)
				}
				br.ReadString('\n')
				step <- struct{}{}
			}
		})
	}
}

// TestStreamsPromptly: each kind of streamed answer reaches the client
// part by part. The upstream sends its second part only after the client
// has read the first, so a proxy holding the first part back would hang
// the test. SSE and chunked bodies are flushed at every write; a
// fixed-length body that trickles is flushed within fixedLengthFlush.
func TestStreamsPromptly(t *testing.T) {
	e := newEnv(t, testServices())
	tests := []struct {
		name        string
		contentType string
		length      bool // send Content-Length
	}{
		{"sse", "text/event-stream", false},
		{"chunked-ndjson", "application/x-ndjson", false},
		{"fixed-length-trickle", "application/json", true},
		{"fixed-length-sse", "text/event-stream", true},
	}
	for _, tc := range tests {
		step := make(chan struct{})
		e.mux.HandleFunc("/stream/"+tc.name, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", tc.contentType)
			if tc.length {
				w.Header().Set("Content-Length", "12")
			}
			io.WriteString(w, "part-1\n")
			w.(http.Flusher).Flush()
			select {
			case <-step:
			case <-r.Context().Done():
				return
			}
			io.WriteString(w, "end!\n")
		})
		for _, scheme := range []string{"http", "https"} {
			t.Run(tc.name+"/"+scheme, func(t *testing.T) {
				resp, err := e.client("tok1:main").Get(scheme + "://api.test/stream/" + tc.name)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				// The response is scrubbed, which re-frames a fixed
				// length (a replaced value changes it): chunked either way.
				if resp.ContentLength != -1 {
					t.Fatalf("Content-Length %d, want -1 (re-framed)", resp.ContentLength)
				}
				br := bufio.NewReader(resp.Body)
				if line, err := br.ReadString('\n'); err != nil || line != "part-1\n" {
					t.Fatalf("first part: %q %v", line, err)
				}
				step <- struct{}{}
				if rest, err := io.ReadAll(br); err != nil || string(rest) != "end!\n" {
					t.Fatalf("rest: %q %v", rest, err)
				}
			})
		}
	}
}

// TestWebSocketUpgrade: an upgrade request gets the same injection and the
// connection carries messages both ways after 101.
func TestWebSocketUpgrade(t *testing.T) {
	e := newEnv(t, testServices())
	e.mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Auth-Ok", fmt.Sprint(r.Header.Get("Authorization") == "Bearer sk_live_TOKENVALUE"))
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if c.Write(r.Context(), typ, []byte(strings.ToUpper(string(msg)))) != nil {
				return
			}
		}
	})
	for _, scheme := range []string{"ws", "wss"} {
		t.Run(scheme, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, resp, err := websocket.Dial(ctx, scheme+"://api.test/ws", &websocket.DialOptions{HTTPClient: e.client("tok1:main")})
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow()
			if resp.StatusCode != 101 || resp.Header.Get("X-Auth-Ok") != "true" {
				t.Fatalf("status %d, X-Auth-Ok %q", resp.StatusCode, resp.Header.Get("X-Auth-Ok"))
			}
			for _, msg := range []string{"hello", "again"} {
				if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
					t.Fatal(err)
				}
				if _, got, err := c.Read(ctx); err != nil || string(got) != strings.ToUpper(msg) {
					t.Fatalf("echo %q: %q %v", msg, got, err)
				}
			}
		})
	}
}

// TestBodies streams a chunked upload, refuses oversized bodies with 413
// (declared or discovered while streaming) and streams a large download.
func TestBodies(t *testing.T) {
	e := newEnv(t, testServices(), func(c *Config) { c.MaxRequestBody = 64 << 10 })
	e.mux.HandleFunc("/download", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		io.CopyN(w, zeros{}, 32<<20)
	})
	c := e.client("tok1:main")
	for _, scheme := range []string{"http", "https"} {
		t.Run(scheme+"/chunked-upload", func(t *testing.T) {
			pr, pw := io.Pipe()
			go func() {
				for i := 0; i < 8; i++ {
					fmt.Fprintf(pw, "chunk-%d;", i)
				}
				pw.Close()
			}()
			req, _ := http.NewRequest("POST", scheme+"://api.test/upload", pr)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			if got := decodeEcho(t, resp); got.Body != "chunk-0;chunk-1;chunk-2;chunk-3;chunk-4;chunk-5;chunk-6;chunk-7;" {
				t.Fatalf("upstream body %q", got.Body)
			}
		})
		t.Run(scheme+"/oversized-declared", func(t *testing.T) {
			resp, err := c.Post(scheme+"://api.test/upload", "application/octet-stream", strings.NewReader(strings.Repeat("x", 65<<10)))
			if err != nil {
				t.Fatal(err)
			}
			if b := errorOf(t, resp); resp.StatusCode != 413 || b.Error != CodeBodyTooLarge || b.Message != "request bodies are limited to 65536 bytes" {
				t.Fatalf("got %d %+v", resp.StatusCode, b)
			}
		})
		t.Run(scheme+"/oversized-chunked", func(t *testing.T) {
			req, _ := http.NewRequest("POST", scheme+"://api.test/upload", io.MultiReader(strings.NewReader(strings.Repeat("x", 65<<10))))
			req.ContentLength = -1
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			if b := errorOf(t, resp); resp.StatusCode != 413 || b.Error != CodeBodyTooLarge {
				t.Fatalf("got %d %+v", resp.StatusCode, b)
			}
		})
		t.Run(scheme+"/large-download", func(t *testing.T) {
			resp, err := c.Get(scheme + "://api.test/download")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			n, err := io.Copy(io.Discard, resp.Body)
			if err != nil || n != 32<<20 {
				t.Fatalf("downloaded %d bytes, %v", n, err)
			}
		})
	}
}

func TestResponseCap(t *testing.T) {
	e := newEnv(t, testServices(), func(c *Config) { c.MaxResponseBody = 1 << 10 })
	e.mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("length") == "known" {
			w.Header().Set("Content-Length", "4096")
		}
		io.CopyN(w, zeros{}, 4096)
	})
	c := e.client("tok1:main")
	resp, err := c.Get("http://api.test/big?length=known")
	if err != nil {
		t.Fatal(err)
	}
	if b := errorOf(t, resp); resp.StatusCode != 502 || b.Error != "response_too_large" {
		t.Fatalf("got %d %+v", resp.StatusCode, b)
	}
	resp, err = c.Get("http://api.test/big")
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil || n > 1<<10 {
		t.Fatalf("read %d bytes, err %v; want the stream cut at 1024 with an error", n, err)
	}
}

type zeros struct{}

func (zeros) Read(b []byte) (int, error) {
	clear(b)
	return len(b), nil
}

// An upgraded connection, on the proxy's port or inside a tunnel, ends at
// the tunnel lifetime: it carries no requests that could be authorised
// again.
func TestUpgradeEndsAtTunnelMaxLifetime(t *testing.T) {
	const lifetime = 300 * time.Millisecond
	e := newEnv(t, testServices(), func(c *Config) { c.TunnelMaxLifetime = lifetime })
	e.mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		io.WriteString(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		io.Copy(io.Discard, brw) // until the proxy hangs up
	})
	auth := base64.StdEncoding.EncodeToString([]byte("tok1:main"))
	for _, mode := range []string{"absolute-form", "connect-tls"} {
		t.Run(mode, func(t *testing.T) {
			start := time.Now()
			var conn net.Conn
			target := "/ws"
			if mode == "absolute-form" {
				conn, target = dialProxy(t, e), "http://api.test/ws"
			} else {
				conn = tls.Client(e.rawConnect("api.test:443", "tok1:main"), &tls.Config{ServerName: "api.test", RootCAs: e.mitmCA.pool})
			}
			fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: api.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nProxy-Authorization: Basic %s\r\n\r\n", target, auth)
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			if err != nil || resp.StatusCode != 101 {
				t.Fatalf("upgrade: %v %v", resp, err)
			}
			conn.SetReadDeadline(time.Now().Add(20 * time.Second))
			_, err = br.ReadByte()
			if ne, ok := err.(net.Error); err == nil || ok && ne.Timeout() {
				t.Fatalf("the upgraded connection is still open: %v", err)
			}
			if lived := time.Since(start); lived < lifetime {
				t.Fatalf("closed after %v, before the lifetime", lived)
			}
		})
	}
}

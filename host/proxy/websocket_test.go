package proxy

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/coder/websocket"
)

// These tests run real websocket clients and upstreams (coder/websocket)
// through the real proxy, on its port (ws://) and through CONNECT with
// TLS interception (wss://).

// wsUpstream is what a websocket upstream saw.
type wsUpstream struct {
	mu         sync.Mutex
	auth       string   // Authorization of the handshake
	extensions string   // Sec-WebSocket-Extensions of the handshake
	received   [][]byte // messages from the agent
}

func (u *wsUpstream) got() [][]byte {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([][]byte(nil), u.received...)
}

// wsEcho serves /ws/echo on the env's upstreams. For every message the
// agent sends, it answers with the injected Authorization in the forms
// the message names, each in its own way of framing:
//
//	raw        a text message "you sent <auth>"
//	base64     a binary message, the base64 of the token
//	base32     a text message, the base32 of the token (not scrubbed:
//	           proves what was injected)
//	split:N    one text message in two frames, cut N bytes into the token
//	canary     a text message carrying the vault's canary
//	close      a close frame whose reason carries the token
//	echo       the message back as it came
func wsEcho(e *env) *wsUpstream {
	u := &wsUpstream{}
	e.mux.HandleFunc("/ws/echo", func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.auth, u.extensions = r.Header.Get("Authorization"), r.Header.Get("Sec-WebSocket-Extensions")
		u.mu.Unlock()
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionContextTakeover})
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(1 << 20)
		ctx := r.Context()
		auth := r.Header.Get("Authorization")
		token := strings.TrimPrefix(auth, "Bearer ")
		for {
			typ, msg, err := c.Read(ctx)
			if err != nil {
				return
			}
			u.mu.Lock()
			u.received = append(u.received, msg)
			u.mu.Unlock()
			cmd, arg, _ := strings.Cut(string(msg), ":")
			n, _ := strconv.Atoi(arg)
			switch cmd {
			case "raw":
				err = c.Write(ctx, websocket.MessageText, []byte("you sent "+auth))
			case "base64":
				err = c.Write(ctx, websocket.MessageBinary, []byte(base64.StdEncoding.EncodeToString([]byte(token))))
			case "base32":
				err = c.Write(ctx, websocket.MessageText, []byte(base32.StdEncoding.EncodeToString([]byte(auth))))
			case "split":
				payload := `{"token":"` + token + `"}`
				cut := len(`{"token":"`) + n
				mw, werr := c.Writer(ctx, websocket.MessageText)
				if werr != nil {
					return
				}
				mw.Write([]byte(payload[:cut]))
				mw.Write([]byte(payload[cut:]))
				err = mw.Close()
			case "canary":
				err = c.Write(ctx, websocket.MessageText, []byte("here: "+canaryValue))
			case "close":
				c.Close(websocket.StatusNormalClosure, "bye "+token)
				return
			default:
				err = c.Write(ctx, typ, msg)
			}
			if err != nil {
				return
			}
		}
	})
	return u
}

// wsDial opens a websocket to path through the proxy with the given
// proxy credentials: ws:// on the proxy's port, wss:// through CONNECT.
func wsDial(t *testing.T, e *scrubEnv, userinfo, scheme, path string, opts *websocket.DialOptions) (*websocket.Conn, *http.Response) {
	t.Helper()
	if opts == nil {
		opts = &websocket.DialOptions{}
	}
	opts.HTTPClient = e.client(userinfo)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, scheme+"://api.test"+path, opts)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.CloseNow() })
	c.SetReadLimit(1 << 20)
	return c, resp
}

// ask sends cmd and returns the next message.
func ask(t *testing.T, c *websocket.Conn, cmd string) (websocket.MessageType, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte(cmd)); err != nil {
		t.Fatalf("write %q: %v", cmd, err)
	}
	typ, msg, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read after %q: %v", cmd, err)
	}
	return typ, msg
}

// closeOf reads until the connection ends and returns the close frame's
// status and reason.
func closeOf(t *testing.T, c *websocket.Conn) (websocket.StatusCode, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		_, msg, err := c.Read(ctx)
		if err == nil {
			assertClean(t, "message before the close", msg)
			continue
		}
		var ce websocket.CloseError
		if !errors.As(err, &ce) {
			t.Fatalf("the connection ended without a close frame: %v", err)
		}
		return ce.Code, ce.Reason
	}
}

const tokenMarker = "[agent-vault:redacted:TOKEN]"

func TestWebSocketScrubsUpstreamFrames(t *testing.T) {
	e := newScrubEnv(t, testServices())
	up := wsEcho(e.env)
	token := secrets["v1/TOKEN"]
	n := 0
	for _, scheme := range []string{"ws", "wss"} {
		t.Run(scheme, func(t *testing.T) {
			// The agent offers permessage-deflate; the proxy takes the
			// offer out, so frames stay readable.
			c, resp := wsDial(t, e, "tok1:main", scheme, "/ws/echo", &websocket.DialOptions{CompressionMode: websocket.CompressionContextTakeover})
			if ext := resp.Header.Get("Sec-WebSocket-Extensions"); ext != "" {
				t.Fatalf("an extension was negotiated: %q", ext)
			}
			up.mu.Lock()
			offered := up.extensions
			up.mu.Unlock()
			if offered != "" {
				t.Fatalf("the upstream saw the extension offer %q", offered)
			}
			// The injection happened: the upstream's base32 shows the value.
			_, b32 := ask(t, c, "base32")
			if got, _ := base32.StdEncoding.DecodeString(string(b32)); string(got) != "Bearer "+token {
				t.Fatalf("injected %q", got)
			}
			tests := []struct {
				cmd      string
				wantType websocket.MessageType
				want     string
			}{
				{"raw", websocket.MessageText, "you sent Bearer " + tokenMarker},
				{"base64", websocket.MessageBinary, tokenMarker},
				{"echo", websocket.MessageText, "echo"}, // what carries no value is untouched
			}
			for cut := 0; cut <= len(token); cut++ {
				tests = append(tests, struct {
					cmd      string
					wantType websocket.MessageType
					want     string
				}{"split:" + strconv.Itoa(cut), websocket.MessageText, `{"token":"` + tokenMarker + `"}`})
			}
			for _, tc := range tests {
				typ, msg := ask(t, c, tc.cmd)
				assertClean(t, tc.cmd, msg)
				if typ != tc.wantType || string(msg) != tc.want {
					t.Fatalf("%s: got %v %q, want %v %q", tc.cmd, typ, msg, tc.wantType, tc.want)
				}
			}
			// A close frame's reason is scrubbed too.
			if err := c.Write(context.Background(), websocket.MessageText, []byte("close")); err != nil {
				t.Fatal(err)
			}
			status, reason := closeOf(t, c)
			if status != websocket.StatusNormalClosure || reason != "bye "+tokenMarker {
				t.Fatalf("close %v %q", status, reason)
			}
			ev := e.log.next(t, n)
			n++
			if ev.Scrubbed["TOKEN"] < len(tests) || ev.Status != http.StatusSwitchingProtocols {
				t.Fatalf("request log: status %d, scrubbed %v", ev.Status, ev.Scrubbed)
			}
		})
	}
}

func TestWebSocketEgressBlocked(t *testing.T) {
	e := newScrubEnv(t, testServices())
	up := wsEcho(e.env)
	token := secrets["v1/TOKEN"]
	tests := []struct {
		name     string
		user     string
		parts    []string // the frames of one message
		wantKey  string
		revoked  bool
		canFirst bool // the first frame may reach the upstream (the value is completed later)
	}{
		{name: "other-vault", user: "tok1:main", parts: []string{"x=" + otherVault}, wantKey: "ELSEWHERE"},
		{name: "other-vault-base64", user: "tok1:main", parts: []string{base64.StdEncoding.EncodeToString([]byte("k: " + otherVault))}, wantKey: "ELSEWHERE"},
		{name: "split-over-frames", user: "tok1:main", parts: []string{"x=" + otherVault[:7], otherVault[7:]}, wantKey: "ELSEWHERE", canFirst: true},
		{name: "wrong-service", user: "tok1:main", parts: []string{"k=" + secrets["v1/KEY"]}, wantKey: "KEY"},
		{name: "canary", user: "tok3:main", parts: []string{"AWS_SECRET_ACCESS_KEY=" + canaryValue}, wantKey: "canary:AWS_SECRET_ACCESS_KEY", revoked: true},
	}
	n := 0
	for _, scheme := range []string{"ws", "wss"} {
		for _, tc := range tests {
			t.Run(scheme+"/"+tc.name, func(t *testing.T) {
				c, _ := wsDial(t, e, tc.user, scheme, "/ws/echo", nil)
				// The service's own value goes to it: it is the injected one.
				if _, msg := ask(t, c, "own "+token); string(msg) != "own "+tokenMarker {
					t.Fatalf("own value: %q", msg)
				}
				before := len(up.got())
				mw, err := c.Writer(context.Background(), websocket.MessageText)
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range tc.parts {
					mw.Write([]byte(p))
				}
				mw.Close()
				status, reason := closeOf(t, c)
				if status != websocket.StatusPolicyViolation || !strings.HasPrefix(reason, domain.CodeSecretEgressBlocked+": ") ||
					!strings.Contains(reason, strings.TrimPrefix(tc.wantKey, "canary:")) {
					t.Fatalf("close %v %q", status, reason)
				}
				for _, m := range up.got()[before:] {
					if bytes.Contains(m, []byte(otherVault)) || bytes.Contains(m, []byte(canaryValue)) || bytes.Contains(m, []byte(secrets["v1/KEY"])) {
						t.Fatalf("the upstream received the value: %q", m)
					}
				}
				ev := e.log.next(t, n)
				n++
				if ev.Blocked != tc.wantKey || ev.Error != domain.CodeSecretEgressBlocked {
					t.Fatalf("request log: blocked %q, error %q", ev.Blocked, ev.Error)
				}
				if tc.revoked {
					select {
					case got := <-e.revoked:
						if got != "v1/session-3" {
							t.Fatalf("revoked %q", got)
						}
					case <-time.After(10 * time.Second):
						t.Fatal("the session was not revoked")
					}
				}
			})
		}
	}
}

func TestWebSocketCanaryFromUpstream(t *testing.T) {
	e := newScrubEnv(t, testServices())
	wsEcho(e.env)
	c, _ := wsDial(t, e, "tok3:main", "wss", "/ws/echo", nil)
	if err := c.Write(context.Background(), websocket.MessageText, []byte("canary")); err != nil {
		t.Fatal(err)
	}
	status, reason := closeOf(t, c)
	if status != websocket.StatusPolicyViolation || !strings.HasPrefix(reason, domain.CodeResponseBlocked) {
		t.Fatalf("close %v %q", status, reason)
	}
	if ev := e.log.next(t, 0); ev.Blocked != "canary:AWS_SECRET_ACCESS_KEY" || ev.Error != domain.CodeResponseBlocked {
		t.Fatalf("request log: blocked %q, error %q", ev.Blocked, ev.Error)
	}
	if got := <-e.revoked; got != "v1/session-3" {
		t.Fatalf("revoked %q", got)
	}
}

// A service that opts out of scrubbing gets its frames as the upstream
// sent them; the agent's frames are still checked.
func TestWebSocketOptOut(t *testing.T) {
	svcs := append([]domain.Service{{Name: "raw", Host: "api.test/ws/*", ScrubResponses: off(),
		Auth: domain.Auth{Type: domain.AuthBearer, Token: "TOKEN"}}}, testServices()...)
	e := newScrubEnv(t, svcs)
	wsEcho(e.env)
	c, _ := wsDial(t, e, "tok1:main", "wss", "/ws/echo", nil)
	if _, msg := ask(t, c, "raw"); string(msg) != "you sent Bearer "+secrets["v1/TOKEN"] {
		t.Fatalf("an opted-out service's frame was changed: %q", msg)
	}
	if err := c.Write(context.Background(), websocket.MessageText, []byte(otherVault)); err != nil {
		t.Fatal(err)
	}
	if status, _ := closeOf(t, c); status != websocket.StatusPolicyViolation {
		t.Fatalf("close %v", status)
	}
}

// An upstream that negotiates an extension it was not offered sends
// frames the relay cannot read: the upgrade is refused.
func TestWebSocketUnofferedExtensionRefused(t *testing.T) {
	e := newScrubEnv(t, testServices())
	e.mux.HandleFunc("/ws/deflate", func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		io.WriteString(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Accept: "+acceptKey(r.Header.Get("Sec-WebSocket-Key"))+"\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n")
		brw.Flush()
		io.Copy(io.Discard, brw)
	})
	opts := &websocket.DialOptions{HTTPClient: e.client("tok1:main")}
	_, resp, err := websocket.Dial(context.Background(), "wss://api.test/ws/deflate", opts)
	if err == nil || resp == nil || resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("dial: %v, %+v", err, resp)
	}
}

// acceptKey is the Sec-WebSocket-Accept for a key (RFC 6455 §4.2.2).
func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// rawFrame is an unmasked frame as a server sends it, built by hand.
func rawFrame(fin bool, op byte, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	var h []byte
	switch n := len(payload); {
	case n < 126:
		h = []byte{b0, byte(n)}
	case n < 1<<16:
		h = []byte{b0, 126, byte(n >> 8), byte(n)}
	default:
		h = []byte{b0, 127, 0, 0, 0, 0, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
	}
	return append(h, payload...)
}

// TestWebSocketFragmentsAndControlFrames: an upstream writes frames by
// hand, each in its own write: a message whose value is cut over two
// frames at every offset with a ping between them (the ping's payload
// carries the value too), then a 100 KiB binary frame (64-bit length)
// with the value inside. The agent's client gets whole, valid messages
// with markers, and answers the scrubbed ping.
func TestWebSocketFragmentsAndControlFrames(t *testing.T) {
	e := newScrubEnv(t, testServices())
	token := secrets["v1/TOKEN"]
	big := bytes.Repeat([]byte("0123456789abcdef"), 100<<6)
	copy(big[50000:], token)
	e.mux.HandleFunc("/ws/raw", func(w http.ResponseWriter, r *http.Request) {
		cut, _ := strconv.Atoi(r.URL.Query().Get("cut"))
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		io.WriteString(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Accept: "+acceptKey(r.Header.Get("Sec-WebSocket-Key"))+"\r\n\r\n")
		brw.Flush()
		auth := r.Header.Get("Authorization")
		tok := strings.TrimPrefix(auth, "Bearer ")
		for _, f := range [][]byte{
			rawFrame(false, wsText, []byte(`{"token":"`+tok[:cut])),
			rawFrame(true, wsPing, []byte("p "+tok)),
			rawFrame(true, wsContinuation, []byte(tok[cut:]+`"}`)),
			rawFrame(true, wsBinary, bytes.Replace(big, []byte(token), []byte(tok), 1)),
		} {
			conn.Write(f)
		}
		io.Copy(io.Discard, brw) // until the agent hangs up
	})
	for cut := 0; cut <= len(token); cut++ {
		scheme := []string{"ws", "wss"}[cut%2]
		t.Run(strconv.Itoa(cut)+"/"+scheme, func(t *testing.T) {
			c, _ := wsDial(t, e, "tok1:main", scheme, "/ws/raw?cut="+strconv.Itoa(cut), nil)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			typ, msg, err := c.Read(ctx)
			if err != nil || typ != websocket.MessageText || string(msg) != `{"token":"`+tokenMarker+`"}` {
				t.Fatalf("got %v %q %v", typ, msg, err)
			}
			typ, msg, err = c.Read(ctx)
			want := bytes.Replace(big, []byte(token), []byte(tokenMarker), 1)
			if err != nil || typ != websocket.MessageBinary || !bytes.Equal(msg, want) {
				t.Fatalf("big frame: %v, %d bytes, %v", typ, len(msg), err)
			}
		})
	}
}

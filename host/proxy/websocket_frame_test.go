package proxy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/agent-vault/agent-vault/host/scrub"
)

// testFrame is a frame as the tests read it back.
type testFrame struct {
	fin     bool
	op      byte
	payload []byte
}

// readFrames parses unmasked frames whole: an implementation of its own,
// to check the relay's output against.
func readFrames(b []byte) ([]testFrame, error) {
	var out []testFrame
	for len(b) > 0 {
		if len(b) < 2 {
			return out, errors.New("short header")
		}
		f := testFrame{fin: b[0]&0x80 != 0, op: b[0] & 0x0f}
		if b[0]&0x70 != 0 || b[1]&0x80 != 0 {
			return out, errors.New("reserved bits or a mask in a server frame")
		}
		n, h := uint64(b[1]&0x7f), 2
		switch n {
		case 126:
			if len(b) < 4 {
				return out, errors.New("short header")
			}
			n, h = uint64(binary.BigEndian.Uint16(b[2:])), 4
		case 127:
			if len(b) < 10 {
				return out, errors.New("short header")
			}
			n, h = binary.BigEndian.Uint64(b[2:]), 10
		}
		if uint64(len(b)-h) < n {
			return out, errors.New("short payload")
		}
		f.payload = b[h : h+int(n)]
		out = append(out, f)
		b = b[h+int(n):]
	}
	return out, nil
}

// messages reassembles data messages and lists control frames, failing
// on fragmentation errors.
func messages(frames []testFrame) (msgs []testFrame, controls []testFrame, err error) {
	var cur *testFrame
	for _, f := range frames {
		switch {
		case f.op >= 8:
			if !f.fin || len(f.payload) > 125 {
				return nil, nil, errors.New("bad control frame")
			}
			controls = append(controls, f)
		case f.op == 0:
			if cur == nil {
				return nil, nil, errors.New("continuation outside a message")
			}
			cur.payload = append(cur.payload, f.payload...)
		default:
			if cur != nil {
				return nil, nil, errors.New("message inside a message")
			}
			cur = &testFrame{op: f.op, payload: append([]byte(nil), f.payload...)}
		}
		if f.op < 8 && f.fin {
			msgs = append(msgs, *cur)
			cur = nil
		}
	}
	if cur != nil {
		return nil, nil, errors.New("unfinished message")
	}
	return msgs, controls, nil
}

// maskedFrame is a client frame.
func maskedFrame(fin bool, op byte, key [4]byte, payload []byte) []byte {
	f := rawFrame(fin, op, payload)
	out := bytes.Clone(f[:len(f)-len(payload)])
	out[1] |= 0x80
	out = append(out, key[:]...)
	for i, c := range payload {
		out = append(out, c^key[i&3])
	}
	return out
}

// fakeUpstream hands out its parts one per Read and records writes.
type fakeUpstream struct {
	mu     sync.Mutex
	parts  [][]byte
	wrote  bytes.Buffer
	closed bool
}

func (f *fakeUpstream) Read(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, net.ErrClosed
	}
	if len(f.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(p, f.parts[0])
	if f.parts[0] = f.parts[0][n:]; len(f.parts[0]) == 0 {
		f.parts = f.parts[1:]
	}
	return n, nil
}

func (f *fakeUpstream) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.wrote.Write(p)
}

func (f *fakeUpstream) Close() error {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	return nil
}

const wsToken = "sk_live_TOKENVALUE"

// newTestWSConn relays from an upstream that sends parts, scrubbing
// wsToken (TOKEN) and blocking the canary and otherVault in either
// direction.
func newTestWSConn(t testing.TB, parts [][]byte) (*wsConn, *fakeUpstream) {
	t.Helper()
	p := &Proxy{cfg: Config{Logger: slog.New(slog.DiscardHandler)}}
	set := scrub.NewSet([]scrub.Value{
		{Owner: scrub.Owner{Vault: "v1", Key: "TOKEN"}, Value: wsToken},
		{Owner: scrub.Owner{Vault: "v1", Key: "AWS_SECRET_ACCESS_KEY", Canary: true}, Value: canaryValue},
	})
	egress := scrub.NewSet([]scrub.Value{
		{Owner: scrub.Owner{Vault: "v1", Key: "TOKEN"}, Value: wsToken},
		{Owner: scrub.Owner{Vault: "v9", Key: "ELSEWHERE"}, Value: otherVault},
	})
	st := &reqState{}
	st.scrub = scrubState{pr: &Principal{VaultID: "v1"}, host: "api.test", vault: "v1", set: set, egress: egress, webSocket: true,
		decideEgress: func(o int) scrub.Action {
			if egress.Owner(o).Key == "TOKEN" {
				return scrub.Keep
			}
			return scrub.Block
		}}
	up := &fakeUpstream{parts: parts}
	r := &http.Response{StatusCode: http.StatusSwitchingProtocols, Header: http.Header{"Upgrade": {"websocket"}}, Body: up}
	if err := p.scrubWebSocket(r, st); err != nil {
		t.Fatal(err)
	}
	return r.Body.(*wsConn), up
}

// relayAll reads everything the relay gives the client.
func relayAll(t testing.TB, c *wsConn, readSize int) []byte {
	t.Helper()
	var out []byte
	buf := make([]byte, readSize)
	for i := 0; ; i++ {
		n, err := c.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			return out
		}
		if i > 1<<20 {
			t.Fatal("no progress")
		}
	}
}

// TestWSRelaySplitAtEveryRead: a frame carrying the value, cut into two
// reads at every offset (the header included), and a message of three
// fragments with control frames between them.
func TestWSRelaySplitAtEveryRead(t *testing.T) {
	stream := bytes.Join([][]byte{
		rawFrame(true, wsText, []byte(`{"token":"`+wsToken+`"}`)),
		rawFrame(false, wsBinary, []byte("a sk_live_TO")),
		rawFrame(true, wsPing, []byte("ping "+wsToken)),
		rawFrame(false, wsContinuation, []byte("KENVA")),
		rawFrame(true, wsPong, nil),
		rawFrame(true, wsContinuation, []byte("LUE b")),
		rawFrame(true, wsClose, append([]byte{0x03, 0xe8}, "bye "+wsToken+strings.Repeat("!", 100)...)),
	}, nil)
	wantMsgs := []string{`{"token":"` + tokenMarker + `"}`, "a " + tokenMarker + " b"}
	wantCtl := []string{"ping " + tokenMarker, "", "\x03\xe8bye " + tokenMarker + strings.Repeat("!", 125-2-len("bye "+tokenMarker))}
	for cut := 0; cut <= len(stream); cut++ {
		for _, readSize := range []int{1 << 15, 3} {
			c, _ := newTestWSConn(t, [][]byte{bytes.Clone(stream[:cut]), bytes.Clone(stream[cut:])})
			out := relayAll(t, c, readSize)
			frames, err := readFrames(out)
			if err != nil {
				t.Fatalf("cut %d: %v in %q", cut, err, out)
			}
			msgs, ctl, err := messages(frames)
			if err != nil {
				t.Fatalf("cut %d: %v", cut, err)
			}
			if len(msgs) != 2 || string(msgs[0].payload) != wantMsgs[0] || string(msgs[1].payload) != wantMsgs[1] ||
				msgs[0].op != wsText || msgs[1].op != wsBinary {
				t.Fatalf("cut %d: messages %+v", cut, msgs)
			}
			if len(ctl) != 3 || ctl[0].op != wsPing || ctl[1].op != wsPong || ctl[2].op != wsClose {
				t.Fatalf("cut %d: control frames %+v", cut, ctl)
			}
			for i, f := range ctl {
				if string(f.payload) != wantCtl[i] {
					t.Fatalf("cut %d: control %d = %q, want %q", cut, i, f.payload, wantCtl[i])
				}
			}
			if bytes.Contains(out, []byte(wsToken)) {
				t.Fatalf("cut %d: the value came through", cut)
			}
		}
	}
}

// TestWSRelayHoldsBackOnlyAPrefix: a large frame arriving in reads goes
// out read by read, holding back only a possible partial match.
func TestWSRelayHoldsBackOnlyAPrefix(t *testing.T) {
	payload := bytes.Repeat([]byte("x"), 300<<10)
	copy(payload[len(payload)-100:], "sk_live_TOK")
	f := rawFrame(true, wsBinary, payload)
	var parts [][]byte
	for rest := f; len(rest) > 0; {
		n := min(len(rest), 10<<10)
		parts = append(parts, bytes.Clone(rest[:n]))
		rest = rest[n:]
	}
	c, _ := newTestWSConn(t, parts)
	buf := make([]byte, 64<<10)
	n, err := c.Read(buf)
	if err != nil || n == 0 {
		t.Fatalf("first read: %d %v", n, err)
	}
	first, err := readFrames(buf[:n])
	if err != nil || len(first) != 1 || first[0].fin || len(first[0].payload) != 10<<10-10 {
		t.Fatalf("the first read gave %d frames (%v); want one fragment of what arrived", len(first), err)
	}
	rest := relayAll(t, c, 64<<10)
	frames, err := readFrames(append(buf[:n:n], rest...))
	if err != nil {
		t.Fatal(err)
	}
	msgs, _, err := messages(frames)
	if err != nil || len(msgs) != 1 || !bytes.Equal(msgs[0].payload, payload) {
		t.Fatalf("reassembled %d messages, %v", len(msgs), err)
	}
	if cap(c.down.stream.Flush(nil)) > scrub.MaxPatternLen {
		t.Fatal("held back more than the longest pattern")
	}
}

func TestWSRelayRefusesBadFrames(t *testing.T) {
	tests := []struct {
		name   string
		frames [][]byte
	}{
		{"reserved-bits", [][]byte{{0xc1, 0x01, 'x'}}}, // RSV1: compressed without a negotiated extension
		{"continuation-first", [][]byte{rawFrame(true, wsContinuation, []byte("x"))}},
		{"message-in-message", [][]byte{rawFrame(false, wsText, []byte("a")), rawFrame(true, wsText, []byte("b"))}},
		{"fragmented-ping", [][]byte{rawFrame(false, wsPing, nil)}},
		{"oversized-close", [][]byte{rawFrame(true, wsClose, make([]byte, 126))}},
		{"unknown-opcode", [][]byte{rawFrame(true, 0x3, nil)}},
		{"length-msb", [][]byte{{0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 1}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, up := newTestWSConn(t, tc.frames)
			frames, err := readFrames(relayAll(t, c, 4096))
			if err != nil || len(frames) == 0 {
				t.Fatalf("%v, %d frames", err, len(frames))
			}
			last := frames[len(frames)-1]
			if last.op != wsClose || binary.BigEndian.Uint16(last.payload) != wsStatusProtocolError || !up.closed {
				t.Fatalf("last frame %v %q, upstream closed %v", last.op, last.payload, up.closed)
			}
			var ev Event
			c.finish(&ev)
			if ev.Error != CodeWebSocketProtocol {
				t.Fatalf("event error %q", ev.Error)
			}
		})
	}
}

// TestWSRelayChecksClientFrames: the agent's frames reach the upstream as
// sent until one completes a value bound elsewhere; that write is held,
// the upstream is closed and the client gets a 1008 close frame.
func TestWSRelayChecksClientFrames(t *testing.T) {
	key := [4]byte{1, 2, 3, 4}
	ok := maskedFrame(true, wsText, key, []byte("own "+wsToken))
	half := maskedFrame(false, wsText, key, []byte("x="+otherVault[:9]))
	ping := maskedFrame(true, wsPing, key, []byte("p"))
	rest := maskedFrame(true, wsContinuation, key, []byte(otherVault[9:]))
	for cut := 0; cut <= len(rest); cut++ {
		c, up := newTestWSConn(t, nil)
		up.parts = [][]byte{} // the upstream sends nothing; it ends when closed
		for _, w := range [][]byte{ok, half, ping, rest[:cut], rest[cut:]} {
			if n, err := c.Write(w); n != len(w) || err != nil {
				t.Fatalf("write: %d %v", n, err)
			}
		}
		sent := up.wrote.Bytes()
		if !bytes.HasPrefix(sent, append(append(bytes.Clone(ok), half...), ping...)) || bytes.Contains(sent, rest[cut:]) && len(rest[cut:]) > 0 {
			t.Fatalf("cut %d: the upstream got %q", cut, sent)
		}
		if !up.closed {
			t.Fatalf("cut %d: the upstream is still open", cut)
		}
		frames, err := readFrames(relayAll(t, c, 4096))
		if err != nil || len(frames) != 1 || frames[0].op != wsClose || binary.BigEndian.Uint16(frames[0].payload) != wsStatusPolicyViolation ||
			!strings.Contains(string(frames[0].payload), `secret_egress_blocked: the value of "ELSEWHERE" is not bound to api.test`) {
			t.Fatalf("cut %d: to the client %+v %v", cut, frames, err)
		}
		var ev Event
		c.finish(&ev)
		if ev.Blocked != "ELSEWHERE" || ev.Error != "secret_egress_blocked" {
			t.Fatalf("event %+v", ev)
		}
	}
}

// FuzzWSRelay builds messages from the fuzzer's bytes with the value put
// in, cuts them into fragments with control frames between, and feeds the
// stream in reads of random sizes: the client gets valid frames whose
// messages are the input messages scrubbed as a whole, and never the value.
func FuzzWSRelay(f *testing.F) {
	f.Add([]byte("hello world"), uint64(1))
	f.Add([]byte{}, uint64(2))
	f.Add([]byte(strings.Repeat("sk_live_", 40)), uint64(3))
	set := scrub.NewSet([]scrub.Value{{Owner: scrub.Owner{Vault: "v1", Key: "TOKEN"}, Value: wsToken}})
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b9))
		var stream []byte
		var want [][]byte
		for m := 0; m < 1+rng.IntN(3); m++ {
			msg := bytes.Clone(data)
			at := rng.IntN(len(msg) + 1)
			msg = append(msg[:at:at], append([]byte(wsToken), data[at:]...)...)
			w, _ := set.Apply(msg, scrub.ReplaceAll)
			want = append(want, w)
			op := byte(wsText + rng.IntN(2))
			for rest := msg; ; {
				n := rng.IntN(len(rest) + 1)
				fin := n == len(rest)
				stream = append(stream, rawFrame(fin, op, rest[:n])...)
				op, rest = wsContinuation, rest[n:]
				if rng.IntN(3) == 0 {
					stream = append(stream, rawFrame(true, wsPing, []byte("p"))...)
				}
				if fin {
					break
				}
			}
		}
		var parts [][]byte
		for rest := stream; len(rest) > 0; {
			n := 1 + rng.IntN(min(len(rest), 40))
			parts = append(parts, bytes.Clone(rest[:n]))
			rest = rest[n:]
		}
		c, _ := newTestWSConn(t, parts)
		out := relayAll(t, c, 1+rng.IntN(64))
		frames, err := readFrames(out)
		if err != nil {
			t.Fatal(err)
		}
		msgs, _, err := messages(frames)
		if err != nil || len(msgs) != len(want) {
			t.Fatalf("%d messages (%v), want %d", len(msgs), err, len(want))
		}
		for i := range msgs {
			if !bytes.Equal(msgs[i].payload, want[i]) {
				t.Fatalf("message %d: %q, want %q", i, msgs[i].payload, want[i])
			}
		}
		if bytes.Contains(out, []byte(wsToken)) {
			t.Fatal("the value came through")
		}
	})
}

// recordEvents lists what a parser reports, payload pieces joined per frame.
type recordEvents struct{ got []string }

func (r *recordEvents) header(h *wsHeader) error {
	r.got = append(r.got, string(rune('A'+h.opcode))+map[bool]string{true: "F", false: "-"}[h.fin])
	return nil
}

func (r *recordEvents) payload(_ *wsHeader, p []byte, last bool) error {
	r.got[len(r.got)-1] += string(p)
	if last {
		r.got[len(r.got)-1] += "|"
	}
	return nil
}

// FuzzWSParser feeds arbitrary bytes whole and in random pieces: the
// parser never panics, and reports the same frames either way.
func FuzzWSParser(f *testing.F) {
	f.Add(rawFrame(true, wsText, []byte("hi")), uint64(1))
	f.Add(maskedFrame(false, wsBinary, [4]byte{9, 8, 7, 6}, bytes.Repeat([]byte("z"), 300)), uint64(2))
	f.Add([]byte{0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0}, uint64(3))
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		var whole, pieces recordEvents
		var pw, pp wsParser
		errWhole := pw.feed(data, &whole)
		rng := rand.New(rand.NewPCG(seed, seed))
		var errPieces error
		for rest := data; len(rest) > 0 && errPieces == nil; {
			n := 1 + rng.IntN(len(rest))
			errPieces = pp.feed(rest[:n], &pieces)
			rest = rest[n:]
		}
		if (errWhole == nil) != (errPieces == nil) || strings.Join(whole.got, "\n") != strings.Join(pieces.got, "\n") {
			t.Fatalf("whole %q (%v) != pieces %q (%v)", whole.got, errWhole, pieces.got, errPieces)
		}
		if pw.hlen > len(pw.hbuf) {
			t.Fatal("header buffer overrun")
		}
	})
}

// TestWSRelayRefusesBadClientFrames: a frame from the agent the relay
// cannot check (compressed without a negotiated extension, an unknown
// opcode) is not sent; the agent gets status 1002.
func TestWSRelayRefusesBadClientFrames(t *testing.T) {
	key := [4]byte{5, 6, 7, 8}
	compressed := maskedFrame(true, wsText, key, []byte("x"))
	compressed[0] |= 0x40 // RSV1
	for name, f := range map[string][]byte{"reserved-bits": compressed, "unknown-opcode": maskedFrame(true, 0xb, key, nil)} {
		t.Run(name, func(t *testing.T) {
			c, up := newTestWSConn(t, [][]byte{})
			if n, err := c.Write(f); n != len(f) || err != nil {
				t.Fatalf("write: %d %v", n, err)
			}
			if up.wrote.Len() != 0 || !up.closed {
				t.Fatalf("the upstream got %q, closed %v", up.wrote.Bytes(), up.closed)
			}
			frames, err := readFrames(relayAll(t, c, 4096))
			if err != nil || len(frames) != 1 || frames[0].op != wsClose || binary.BigEndian.Uint16(frames[0].payload) != wsStatusProtocolError {
				t.Fatalf("to the client %+v %v", frames, err)
			}
		})
	}
}

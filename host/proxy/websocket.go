package proxy

import (
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/scrub"
	"golang.org/x/net/http/httpguts"
)

// This file carries the two leak defences into upgraded websocket
// connections (RFC 6455). The relay parses the frames in both directions:
// frames from the upstream have their payloads scrubbed like response
// bodies (the injected values become markers, a canary ends the
// connection); frames from the agent are checked like request bodies (a
// known value not bound to this service, or a canary, ends the
// connection before the frame that completes it is sent).
//
// Scrubbing changes payload lengths, and a frame's length comes before
// its payload, so a frame that arrives in several reads leaves as several
// fragments of the same message, each as long as what the scrubber let
// through; only a possible partial match (at most the longest pattern) is
// held back, never a whole frame. RFC 6455 §5.4 lets an intermediary
// re-fragment when no extension is in use, which is why the agent's
// extension offer (permessage-deflate) is removed from the handshake.

// CodeWebSocketProtocol: a websocket frame the relay cannot parse; the
// connection is closed with status 1002.
const CodeWebSocketProtocol = "websocket_protocol_error"

// Frame opcodes.
const (
	wsContinuation = 0x0
	wsText         = 0x1
	wsBinary       = 0x2
	wsClose        = 0x8
	wsPing         = 0x9
	wsPong         = 0xa
)

// Close status codes the relay sends (RFC 6455 §7.4.1).
const (
	wsStatusProtocolError   = 1002
	wsStatusPolicyViolation = 1008
)

// maxControlPayload is the longest payload of a control frame.
const maxControlPayload = 125

// errWSProtocol is a frame the relay refuses to pass on.
type errWSProtocol string

func (e errWSProtocol) Error() string { return "websocket protocol error: " + string(e) }

// wsHeader is one frame's header (RFC 6455 §5.2).
type wsHeader struct {
	fin    bool
	rsv    byte // RSV1-3 as in the first byte (0x70)
	opcode byte
	masked bool
	key    [4]byte
	length uint64
}

func (h *wsHeader) control() bool { return h.opcode&0x8 != 0 }

// wsEvents receives what a wsParser finds in a stream.
type wsEvents interface {
	// header is called once a frame's header is complete.
	header(h *wsHeader) error
	// payload gets the next piece of the current frame's payload,
	// unmasked; last is set on the piece that ends the frame (an empty
	// frame gets one empty piece). The piece is only valid during the call.
	payload(h *wsHeader, p []byte, last bool) error
}

// wsParser splits a stream of frames, handed over in pieces of any size,
// into headers and payload pieces. It keeps at most one partial header
// (14 bytes) between pieces and never buffers a payload.
type wsParser struct {
	hbuf    [14]byte
	hlen    int // bytes of the next header seen so far
	cur     wsHeader
	left    uint64 // payload bytes of cur still to come
	inFrame bool
	maskPos uint64
	scratch []byte // unmasked payload
}

// headerLen is the length of a header that starts with b0, b1.
func headerLen(b1 byte) int {
	n := 2
	switch b1 & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b1&0x80 != 0 {
		n += 4
	}
	return n
}

// feed parses b, calling ev for every header and payload piece in it.
func (ps *wsParser) feed(b []byte, ev wsEvents) error {
	for len(b) > 0 {
		if !ps.inFrame {
			need := 2
			if ps.hlen >= 2 {
				need = headerLen(ps.hbuf[1])
			}
			n := copy(ps.hbuf[ps.hlen:need], b)
			ps.hlen += n
			b = b[n:]
			if ps.hlen == 2 {
				need = headerLen(ps.hbuf[1])
			}
			if ps.hlen < need {
				continue
			}
			if err := ps.parseHeader(); err != nil {
				return err
			}
			if err := ev.header(&ps.cur); err != nil {
				return err
			}
			if ps.left == 0 {
				ps.inFrame = false
				if err := ev.payload(&ps.cur, nil, true); err != nil {
					return err
				}
			}
			continue
		}
		n := uint64(len(b))
		if n > ps.left {
			n = ps.left
		}
		piece := b[:n]
		b = b[n:]
		ps.left -= n
		if ps.cur.masked {
			ps.scratch = append(ps.scratch[:0], piece...)
			for i := range ps.scratch {
				ps.scratch[i] ^= ps.cur.key[(ps.maskPos+uint64(i))&3]
			}
			ps.maskPos += n
			piece = ps.scratch
		}
		last := ps.left == 0
		if last {
			ps.inFrame = false
		}
		if err := ev.payload(&ps.cur, piece, last); err != nil {
			return err
		}
	}
	return nil
}

func (ps *wsParser) parseHeader() error {
	b := ps.hbuf[:ps.hlen]
	h := wsHeader{fin: b[0]&0x80 != 0, rsv: b[0] & 0x70, opcode: b[0] & 0x0f, masked: b[1]&0x80 != 0}
	rest := b[2:]
	switch l := b[1] & 0x7f; l {
	case 126:
		h.length = uint64(binary.BigEndian.Uint16(rest))
		rest = rest[2:]
	case 127:
		h.length = binary.BigEndian.Uint64(rest)
		rest = rest[8:]
		if h.length>>63 != 0 {
			return errWSProtocol("a frame length with its most significant bit set")
		}
	default:
		h.length = uint64(l)
	}
	if h.masked {
		copy(h.key[:], rest)
	}
	ps.cur, ps.left, ps.inFrame, ps.hlen, ps.maskPos = h, h.length, true, 0, 0
	return nil
}

// checkFrame applies the rules every frame must meet: no reserved bits
// (no extension is negotiated), a known opcode, control frames short and
// unfragmented, continuations only inside a message. inMessage is
// whether a fragmented message is under way.
func checkFrame(h *wsHeader, inMessage bool) error {
	if h.rsv != 0 {
		return errWSProtocol("reserved bits set without a negotiated extension")
	}
	switch h.opcode {
	case wsText, wsBinary:
		if inMessage {
			return errWSProtocol("a new message began before the last one ended")
		}
	case wsContinuation:
		if !inMessage {
			return errWSProtocol("a continuation frame outside a message")
		}
	case wsClose, wsPing, wsPong:
		if !h.fin || h.length > maxControlPayload {
			return errWSProtocol("a fragmented or oversized control frame")
		}
	default:
		return errWSProtocol(fmt.Sprintf("unknown opcode %#x", h.opcode))
	}
	return nil
}

// appendFrame appends an unmasked frame (server to client).
func appendFrame(dst []byte, fin bool, opcode byte, payload []byte) []byte {
	b0 := opcode
	if fin {
		b0 |= 0x80
	}
	switch n := len(payload); {
	case n < 126:
		dst = append(dst, b0, byte(n))
	case n <= 0xffff:
		dst = append(dst, b0, 126, byte(n>>8), byte(n))
	default:
		dst = append(dst, b0, 127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	return append(dst, payload...)
}

// closePayload is a close frame's payload: the status and a reason cut
// to fit a control frame at a UTF-8 boundary.
func closePayload(status uint16, reason string) []byte {
	b := binary.BigEndian.AppendUint16(nil, status)
	return append(b, truncateUTF8(reason, maxControlPayload-2)...)
}

func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// wsDown scrubs the frames from the upstream: data payloads through a
// per-message stream, control payloads whole.
type wsDown struct {
	set     *scrub.Set
	stream  *scrub.Stream
	decide  scrub.Decide
	msgOp   byte // opcode of the message under way; 0: none
	emitted bool // a fragment of it has gone out
	ctrl    []byte
	tmp     []byte
	out     []byte // frames ready for the client
}

func (d *wsDown) header(h *wsHeader) error {
	if err := checkFrame(h, d.msgOp != 0); err != nil {
		return err
	}
	switch {
	case h.control():
		d.ctrl = d.ctrl[:0]
	case h.opcode != wsContinuation:
		d.msgOp, d.emitted = h.opcode, false
		d.stream.Reset()
	}
	return nil
}

func (d *wsDown) payload(h *wsHeader, p []byte, last bool) error {
	if h.control() {
		d.ctrl = append(d.ctrl, p...)
		if !last {
			return nil
		}
		out, err := d.set.Apply(d.ctrl, d.decide)
		if err != nil {
			return err
		}
		if len(out) > maxControlPayload {
			if h.opcode == wsClose && len(out) >= 2 {
				out = append(out[:2:2], truncateUTF8(string(out[2:]), maxControlPayload-2)...)
			} else {
				out = out[:maxControlPayload]
			}
		}
		d.out = appendFrame(d.out, true, h.opcode, out)
		return nil
	}
	var err error
	if d.tmp, err = d.stream.Append(d.tmp[:0], p); err != nil {
		return err
	}
	end := last && h.fin
	if end {
		d.tmp = d.stream.Flush(d.tmp)
	}
	if len(d.tmp) > 0 || end {
		op := d.msgOp
		if d.emitted {
			op = wsContinuation
		}
		d.out = appendFrame(d.out, end, op, d.tmp)
		d.emitted = true
	}
	if end {
		d.msgOp = 0
	}
	return nil
}

// wsUp checks the frames from the agent. Data payloads are one stream
// across frames and messages, so a value cut over two frames is still
// found; each control payload is checked on its own.
type wsUp struct {
	data, ctrl *scrub.Stream
	inMessage  bool
}

func (u *wsUp) header(h *wsHeader) error {
	if err := checkFrame(h, u.inMessage); err != nil {
		return err
	}
	if h.control() {
		u.ctrl.Reset()
	} else {
		u.inMessage = !h.fin
	}
	return nil
}

func (u *wsUp) payload(h *wsHeader, p []byte, _ bool) error {
	if h.control() {
		return u.ctrl.Check(p)
	}
	return u.data.Check(p)
}

// wsConn is the upstream side of an upgraded websocket, as the
// ReverseProxy copies it: Read gives the client the scrubbed frames, Write
// checks the client's frames before they are sent on as they are.
type wsConn struct {
	io.ReadWriteCloser
	p  *Proxy
	st *reqState

	// Read side.
	dparse wsParser
	down   wsDown
	rbuf   []byte
	pos    int   // of down.out already returned
	rerr   error // returned once down.out is drained

	// Write side.
	uparse wsParser
	up     wsUp

	stop     atomic.Bool               // the agent's side ended the connection
	stopped  atomic.Pointer[wsStopped] // why, for the close frame
	mu       sync.Mutex                // guards what the request log gets
	scrubbed map[string]int
	blocked  string
	code     string
}

// wsStopped is why the connection was ended from the agent's side.
type wsStopped struct {
	status uint16
	reason string
}

// scrubWebSocket wraps a 101 answer to a websocket upgrade whose
// connection either defence covers.
func (p *Proxy) scrubWebSocket(resp *http.Response, st *reqState) error {
	sc := &st.scrub
	if !sc.webSocket || !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") {
		return nil
	}
	rwc, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		return nil // the ReverseProxy refuses such an answer itself
	}
	if len(resp.Header["Sec-Websocket-Extensions"]) > 0 {
		// The offer was removed: an upstream that negotiates an extension
		// anyway sends frames the relay cannot read.
		if sc.unknownPass {
			return nil
		}
		return errUnknownEncoding
	}
	c := &wsConn{ReadWriteCloser: rwc, p: p, st: st, rbuf: make([]byte, 32<<10)}
	c.down = wsDown{set: sc.set, decide: c.decideDown}
	c.down.stream = scrub.NewStream(sc.set, c.decideDown)
	c.up = wsUp{data: scrub.NewStream(sc.egress, sc.decideEgress), ctrl: scrub.NewStream(sc.egress, sc.decideEgress)}
	resp.Body = c
	sc.ws = c
	return nil
}

// decideDown replaces injected values and blocks canaries, counting
// what it replaced for the request log.
func (c *wsConn) decideDown(o int) scrub.Action {
	ow := c.st.scrub.set.Owner(o)
	if ow.Canary {
		return scrub.Block
	}
	c.mu.Lock()
	if c.scrubbed == nil {
		c.scrubbed = map[string]int{}
	}
	c.scrubbed[ow.Key]++
	c.mu.Unlock()
	return scrub.Replace
}

func (c *wsConn) Read(p []byte) (int, error) {
	for c.pos == len(c.down.out) {
		c.down.out, c.pos = c.down.out[:0], 0
		if c.rerr != nil {
			return 0, c.rerr
		}
		n, err := c.ReadWriteCloser.Read(c.rbuf)
		if n > 0 {
			if perr := c.dparse.feed(c.rbuf[:n], &c.down); perr != nil {
				c.endDown(perr)
				continue
			}
		}
		if err != nil {
			c.rerr = err
			if s := c.stopped.Load(); s != nil {
				// The agent's side was refused: the client learns why
				// before the connection ends.
				c.down.out = appendFrame(c.down.out, true, wsClose, closePayload(s.status, s.reason))
				c.rerr = io.EOF
			}
		}
	}
	n := copy(p, c.down.out[c.pos:])
	c.pos += n
	return n, nil
}

// endDown ends the connection over a frame from the upstream: a canary
// (1008) or a frame it cannot parse (1002). The frames already complete
// go out, then the close frame.
func (c *wsConn) endDown(err error) {
	status, reason, code := uint16(wsStatusProtocolError), "the upstream sent a malformed frame", CodeWebSocketProtocol
	if be := scrub.AsBlocked(err); be != nil {
		status, reason, code = wsStatusPolicyViolation, domain.CodeResponseBlocked+": the upstream sent a value that must not reach the agent", domain.CodeResponseBlocked
		c.p.tripped(c.st, be.Owner, "websocket from upstream")
		c.record(be.Owner.String(), code)
	} else {
		c.record("", code)
	}
	c.down.out = appendFrame(c.down.out, true, wsClose, closePayload(status, reason))
	c.rerr = io.EOF
	c.ReadWriteCloser.Close()
}

func (c *wsConn) Write(p []byte) (int, error) {
	if c.stop.Load() {
		return len(p), nil // refused: nothing more reaches the upstream
	}
	if err := c.uparse.feed(p, &c.up); err != nil {
		s := &wsStopped{status: wsStatusProtocolError, reason: "the client sent a malformed frame"}
		if be := scrub.AsBlocked(err); be != nil {
			host := c.st.scrub.host
			s = &wsStopped{status: wsStatusPolicyViolation,
				reason: fmt.Sprintf("%s: the value of %q is not bound to %s", domain.CodeSecretEgressBlocked, be.Owner.Key, host)}
			c.p.tripped(c.st, be.Owner, "websocket to upstream")
			c.record(be.Owner.String(), domain.CodeSecretEgressBlocked)
		} else {
			c.record("", CodeWebSocketProtocol)
		}
		c.stopped.Store(s)
		c.stop.Store(true)
		// The read side sees the upstream end, sends the client the
		// close frame and ends the relay.
		c.ReadWriteCloser.Close()
		return len(p), nil
	}
	return c.ReadWriteCloser.Write(p)
}

func (c *wsConn) record(blocked, code string) {
	c.mu.Lock()
	if c.code == "" {
		c.blocked, c.code = blocked, code
	}
	c.mu.Unlock()
}

// finish copies what the connection did into the request's log event,
// once the relay has ended.
func (c *wsConn) finish(ev *Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, n := range c.scrubbed {
		if ev.Scrubbed == nil {
			ev.Scrubbed = map[string]int{}
		}
		ev.Scrubbed[k] += n
	}
	if c.code != "" {
		ev.Blocked, ev.Error = c.blocked, c.code
	}
}

// webSocketUpgrade reports whether a request asks for a websocket.
func webSocketUpgrade(h http.Header) bool {
	return httpguts.HeaderValuesContainsToken(h["Connection"], "upgrade") && httpguts.HeaderValuesContainsToken(h["Upgrade"], "websocket")
}

// endWebSocket records a relayed websocket's scrubs and blocks.
func (sc *scrubState) endWebSocket(ev *Event) {
	if sc.ws != nil {
		sc.ws.finish(ev)
	}
}

// Interface guards
var (
	_ io.ReadWriteCloser = (*wsConn)(nil)
	_ wsEvents           = (*wsDown)(nil)
	_ wsEvents           = (*wsUp)(nil)
)

package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
)

// HTTP/2 towards upstreams. The first request to an https upstream dials
// with ALPN offering h2 and http/1.1; the answer is remembered per
// upstream (scheme and host:port). An upstream that chose h2 gets every
// request except upgrades (a websocket needs HTTP/1.1) on pooled HTTP/2
// connections, many streams at once on each, whatever protocol the client
// spoke; one that chose http/1.1 gets the HTTP/1.1 client and its
// fallback, as before. gRPC (streamed bodies, trailers) needs the former.

// maxKnownProtos bounds the per-upstream protocol memory; beyond it the
// memory starts afresh (an unknown upstream is simply asked again).
const maxKnownProtos = 4096

// upstreamProto is what an upstream chose by ALPN.
type upstreamProto uint8

const (
	protoUnknown upstreamProto = iota
	protoH1
	protoH2
)

// h2Pool holds the HTTP/2 connections of the upstreams that chose h2.
type h2Pool struct {
	t       *http2.Transport
	conns   map[connKey][]*http2.ClientConn // guarded by upstream.mu
	dialing map[connKey]chan struct{}       // a dial in flight per upstream
	protos  map[connKey]upstreamProto
}

func newH2Pool(idleTimeout time.Duration) *h2Pool {
	return &h2Pool{
		t: &http2.Transport{
			// Bodies pass through as sent, as on HTTP/1.1.
			DisableCompression: true,
			IdleConnTimeout:    idleTimeout,
			// A connection silent this long is pinged; one that does not
			// answer is closed, so a dead upstream does not hold streams.
			ReadIdleTimeout: 30 * time.Second,
			PingTimeout:     15 * time.Second,
		},
		conns:   map[connKey][]*http2.ClientConn{},
		dialing: map[connKey]chan struct{}{},
		protos:  map[connKey]upstreamProto{},
	}
}

// roundTripH2 sends req over HTTP/2 when its upstream speaks it. handled
// is false when the request is for the HTTP/1.1 clients instead.
func (u *upstream) roundTripH2(req *http.Request) (resp *http.Response, err error, handled bool) {
	ctx := req.Context()
	key := connKey{"https", req.URL.Host}
	for retried := false; ; retried = true {
		cc, proto, wait := u.takeH2(key)
		switch {
		case proto == protoH1:
			return nil, nil, false
		case wait != nil:
			// Another request is dialling this upstream: share its connection.
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, ctx.Err(), true
			}
		case cc == nil:
			pc, ncc, err := u.dialALPN(ctx, key, req.URL.Hostname())
			if err != nil {
				return nil, err, true
			}
			if ncc == nil {
				u.put(pc) // a new, clean connection for the HTTP/1.1 client
				return nil, nil, false
			}
			cc = ncc
			retried = true // a fresh connection is not retried
		}
		resp, err := u.exchangeH2(cc, req)
		if err == nil {
			return resp, nil, true
		}
		// A pooled connection may have been closed by the upstream
		// (GOAWAY, idle close) as the request started: retry once on
		// another when the request can be sent again.
		var te interface{ Timeout() bool }
		timeout := errors.As(err, &te) && te.Timeout()
		if !retried && !timeout && replayable(req) && ctx.Err() == nil {
			continue
		}
		return nil, err, true
	}
}

// takeH2 returns a pooled connection with room for one more stream
// (reserved), or what the upstream is known to speak, or a channel to wait
// on while another request dials it. With none of these the caller dials;
// takeH2 has then marked the dial as in flight.
func (u *upstream) takeH2(key connKey) (cc *http2.ClientConn, proto upstreamProto, wait chan struct{}) {
	u.mu.Lock()
	defer u.mu.Unlock()
	p := u.h2.protos[key]
	if p == protoH1 {
		return nil, protoH1, nil
	}
	list := u.h2.conns[key]
	keep := list[:0]
	for _, c := range list {
		st := c.State()
		if st.Closed || st.Closing {
			continue
		}
		keep = append(keep, c)
		if cc == nil && c.ReserveNewRequest() {
			cc = c
		}
	}
	clear(list[len(keep):])
	u.h2.conns[key] = keep
	if cc != nil {
		return cc, protoH2, nil
	}
	if ch := u.h2.dialing[key]; ch != nil {
		return nil, p, ch
	}
	u.h2.dialing[key] = make(chan struct{})
	return nil, p, nil
}

// dialALPN dials an https upstream offering h2 and http/1.1 and records
// its choice: an HTTP/2 connection (pooled, one stream reserved for the
// caller) or an HTTP/1.1 one.
func (u *upstream) dialALPN(ctx context.Context, key connKey, host string) (pc *upConn, cc *http2.ClientConn, err error) {
	defer func() {
		u.mu.Lock()
		if ch := u.h2.dialing[key]; ch != nil {
			close(ch)
			delete(u.h2.dialing, key)
		}
		if err == nil {
			if len(u.h2.protos) >= maxKnownProtos {
				clear(u.h2.protos)
			}
			if cc != nil {
				u.h2.protos[key] = protoH2
				u.h2.conns[key] = append(u.h2.conns[key], cc)
			} else {
				u.h2.protos[key] = protoH1
			}
		}
		u.mu.Unlock()
	}()
	raw, err := u.dial(ctx, "tcp", key.addr)
	if err != nil {
		return nil, nil, err
	}
	cfg := u.tls.Clone()
	cfg.ServerName = host
	cfg.NextProtos = []string{http2.NextProtoTLS, "http/1.1"}
	tc := tls.Client(raw, cfg)
	hctx, hcancel := context.WithTimeout(ctx, u.handshake)
	err = tc.HandshakeContext(hctx)
	hcancel()
	if err != nil {
		raw.Close()
		return nil, nil, err
	}
	if tc.ConnectionState().NegotiatedProtocol != http2.NextProtoTLS {
		return &upConn{key: key, conn: tc, raw: raw, br: bufio.NewReader(tc), bw: bufio.NewWriter(tc)}, nil, nil
	}
	cc, err = u.h2.t.NewClientConn(tc)
	if err != nil {
		tc.Close()
		return nil, nil, err
	}
	if !cc.ReserveNewRequest() {
		// The upstream allows no stream at all.
		cc.Close()
		return nil, nil, errUpstreamNoStreams
	}
	return nil, cc, nil
}

// exchangeH2 sends req on a stream of cc reserved for it. The wait for
// the response headers is bounded like on HTTP/1.1; the body then streams
// for as long as both sides keep it open.
func (u *upstream) exchangeH2(cc *http2.ClientConn, req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancel(req.Context())
	var timedOut atomic.Bool
	var timer *time.Timer
	if u.headerTimeout > 0 {
		timer = time.AfterFunc(u.headerTimeout, func() { timedOut.Store(true); cancel() })
	}
	resp, err := cc.RoundTrip(req.WithContext(ctx))
	if timer != nil && !timer.Stop() && timedOut.Load() {
		if err == nil {
			resp.Body.Close()
		}
		cancel()
		return nil, errUpstreamHeaderTimeout
	}
	if err != nil {
		cancel()
		return nil, err
	}
	if resp.Body == nil || resp.Body == http.NoBody {
		cancel()
		return resp, nil
	}
	resp.Body = &h2Body{ReadCloser: resp.Body, cancel: cancel}
	// Like the fallback's bodies: one of known length is flushed to the
	// client before each read, which may wait; the others the relay and
	// the ReverseProxy flush after each write.
	// An empty body is not flushed ahead: a gRPC error comes as headers
	// that end the stream ("trailers-only"), and must reach the client
	// that way, not as headers followed by an empty end.
	if resp.ContentLength > 0 && !eventStream(resp.Header) {
		if f := flusher(req.Context()); f != nil {
			resp.Body = &flushingBody{ReadCloser: resp.Body, flush: f}
		}
	}
	return resp, nil
}

// h2Body ends the stream's context when the body is closed.
type h2Body struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *h2Body) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// closeIdleH2 closes the HTTP/2 connections that carry no stream.
func (u *upstream) closeIdleH2() {
	u.mu.Lock()
	var idle []*http2.ClientConn
	for k, list := range u.h2.conns {
		keep := list[:0]
		for _, cc := range list {
			if st := cc.State(); st.StreamsActive == 0 && st.StreamsReserved == 0 {
				idle = append(idle, cc)
			} else {
				keep = append(keep, cc)
			}
		}
		clear(list[len(keep):])
		u.h2.conns[k] = keep
	}
	u.mu.Unlock()
	for _, cc := range idle {
		cc.Close()
	}
}

// timeoutError is a net.Error that timed out: the upstream sent no headers
// in time (504 upstream_timeout).
type timeoutError string

func (e timeoutError) Error() string   { return string(e) }
func (e timeoutError) Timeout() bool   { return true }
func (e timeoutError) Temporary() bool { return true }

var (
	errUpstreamHeaderTimeout error = timeoutError("timeout awaiting response headers")
	errUpstreamNoStreams           = errors.New("the upstream allows no HTTP/2 stream")
)

// Interface guards
var _ io.ReadCloser = (*h2Body)(nil)

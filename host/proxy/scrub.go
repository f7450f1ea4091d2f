package proxy

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/scrub"
	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
)

// This file holds the proxy's two defences against a credential leaving
// where it should not: the egress check of every request (no known secret
// value, nor a canary, goes to a host its credential is not bound to) and
// the scrubbing of every response (the values the proxy injected, in any
// of their encodings, never reach the agent). The matching itself is
// host/scrub's; these are the hooks in the request and response paths.

var (
	errEgressBlocked    = errors.New("the request carries a secret bound elsewhere")
	errResponseBlocked  = errors.New("the response carries a canary")
	errUnknownEncoding  = errors.New("the response's encoding cannot be scrubbed")
	canaryRevokeTimeout = 5 * time.Second
)

// scrubState is a request's share of both defences.
type scrubState struct {
	pr      *Principal
	host    string
	vault   string   // the vault the request uses
	allowed []string // keys the matched service injects: their values may go to it
	revoke  bool     // the vault revokes sessions on any egress block

	egressBlock  atomic.Pointer[scrub.Owner] // set by the body reader's goroutine
	reported     bool
	egress       *scrub.Set // the egress set the request was checked with; nil: none
	decideEgress scrub.Decide

	set         *scrub.Set // response set; nil: responses pass untouched
	canaryOnly  bool       // set holds only canaries: look, never rewrite
	unknownPass bool       // the service passes bodies it cannot decode
	decideResp  scrub.Decide

	webSocket bool    // a websocket upgrade either defence covers (websocket.go)
	ws        *wsConn // its relayed connection, once upgraded
}

func (sc *scrubState) blocked() *scrub.Owner { return sc.egressBlock.Load() }

// checkEgress looks for known secret values in the request's target,
// headers and (as it streams) body. A value passes only to the service
// that injects it; anything else, and any canary, is refused. It answers
// the client itself and returns false when the request is refused.
func (p *Proxy) checkEgress(w *recorder, r *http.Request, vc *VaultConfig, i int, pr *Principal, host string, st *reqState) bool {
	sc := &st.scrub
	sc.pr, sc.host, sc.vault, sc.revoke = pr, host, pr.VaultID, vc.RevokeOnEgressBlock
	set := vc.Egress
	if set == nil {
		return true
	}
	if i >= 0 {
		sc.allowed = vc.Services[i].Keys()
	}
	decide := func(o int) scrub.Action {
		ow := set.Owner(o)
		if !ow.Canary && ow.Vault == sc.vault && slices.Contains(sc.allowed, ow.Key) {
			return scrub.Keep
		}
		return scrub.Block
	}
	sc.egress, sc.decideEgress = set, decide
	check := func(v string) bool {
		if err := set.CheckString(v, decide); err != nil {
			o := scrub.AsBlocked(err).Owner
			sc.egressBlock.Store(&o)
			p.egressRefused(w, st)
			return false
		}
		return true
	}
	if !check(host) || !check(r.URL.EscapedPath()) || !check(r.URL.RawQuery) {
		return false
	}
	for k, vs := range r.Header {
		if !check(k) {
			return false
		}
		for _, v := range vs {
			if !check(v) {
				return false
			}
		}
	}
	if r.Body == nil || r.Body == http.NoBody {
		return true
	}
	if r.ContentLength > 0 && r.ContentLength <= maxInlineBody && len(r.Header["Expect"]) == 0 {
		// A small body is read and checked before anything is sent, so
		// a refused request never reaches the upstream at all.
		buf := make([]byte, r.ContentLength)
		if _, err := io.ReadFull(r.Body, buf); err != nil {
			r.Body = &wholeBody{Reader: bytes.NewReader(nil), src: r.Body, err: err}
			return true // the upstream call reports the broken body
		}
		if _, err := set.Apply(buf, decide); err != nil {
			o := scrub.AsBlocked(err).Owner
			sc.egressBlock.Store(&o)
			p.egressRefused(w, st)
			return false
		}
		r.Body = &wholeBody{Reader: bytes.NewReader(buf), src: r.Body}
		return true
	}
	// A larger or streamed body is checked as it is sent, holding back
	// only a possible partial match: the headers and the body before the
	// value may leave, the value's last byte never does.
	r.Body = &egressBody{Reader: scrub.NewReader(r.Body, set, decide), src: r.Body, sc: sc}
	return true
}

// egressBody streams a request body through the egress check, holding
// back only a possible partial match, so a value's last byte never leaves.
type egressBody struct {
	*scrub.Reader
	src io.Closer
	sc  *scrubState
}

func (b *egressBody) Read(p []byte) (int, error) {
	n, err := b.Reader.Read(p)
	if be := scrub.AsBlocked(err); be != nil {
		o := be.Owner
		b.sc.egressBlock.Store(&o)
	}
	return n, err
}

func (b *egressBody) Close() error { return b.src.Close() }

// egressRefused answers 403 secret_egress_blocked once a request has been
// found carrying a value bound elsewhere, records it, revokes the session
// when the value is a canary or the vault asks for it, and reports whether
// it answered.
func (p *Proxy) egressRefused(w http.ResponseWriter, st *reqState) bool {
	sc := &st.scrub
	o := sc.blocked()
	if o == nil {
		return false
	}
	if sc.reported {
		return true
	}
	sc.reported = true
	st.ev.Blocked = o.String()
	st.ev.Error = domain.CodeSecretEgressBlocked
	p.tripped(st, *o, "request")
	writeError(w, http.StatusForbidden, errorBody{Error: domain.CodeSecretEgressBlocked,
		Message: fmt.Sprintf("the request carries the value of %q, which is not bound to %s; nothing was sent", o.Key, sc.host),
		Host:    sc.host})
	return true
}

// tripped logs a block (an alert for a canary) and revokes the session
// when a canary was carried or the vault revokes on any block.
func (p *Proxy) tripped(st *reqState, o scrub.Owner, where string) {
	sc := &st.scrub
	pr := sc.pr
	if o.Canary {
		p.cfg.Logger.Error("ALERT canary credential tripped", "alert", true, "canary", o.Key, "vault", pr.VaultName,
			"actor_kind", string(pr.ActorKind), "actor", pr.ActorID, "host", sc.host, "in", where)
	} else {
		p.cfg.Logger.Warn("secret egress blocked", "key", o.Key, "vault", pr.VaultName,
			"actor_kind", string(pr.ActorKind), "actor", pr.ActorID, "host", sc.host, "in", where)
	}
	if (o.Canary || sc.revoke) && pr.ActorKind == ActorSession && p.cfg.Sessions != nil {
		ctx, cancel := context.WithTimeout(context.Background(), canaryRevokeTimeout)
		defer cancel()
		if err := p.cfg.Sessions.RevokeSession(ctx, pr.VaultID, pr.ActorID); err != nil {
			p.cfg.Logger.Error("revoking the session that tripped a block", "session", pr.ActorID, "code", domain.CodeOf(err))
		}
	}
}

// prepareScrub chooses the response set and readies a websocket upgrade
// for the relay's frame parser: the agent's extension offer
// (permessage-deflate) is removed, since compressed frames could be
// neither scrubbed nor checked.
func (p *Proxy) prepareScrub(r *http.Request, vc *VaultConfig, i int, st *reqState) {
	p.chooseResponseSet(r, vc, i, st)
	if sc := &st.scrub; (sc.set != nil || sc.egress != nil) && webSocketUpgrade(r.Header) {
		sc.webSocket = true
		r.Header.Del("Sec-Websocket-Extensions")
	}
}

// chooseResponseSet chooses the response set: the values injected into
// this request (and the vault's canaries) when the service scrubs, else
// the canaries alone.
func (p *Proxy) chooseResponseSet(r *http.Request, vc *VaultConfig, i int, st *reqState) {
	sc := &st.scrub
	var set *scrub.Set
	if i >= 0 && len(st.ev.Keys) > 0 && vc.Services[i].ScrubsResponses() {
		svc := &vc.Services[i]
		if i < len(vc.Scrub) && vc.Scrub[i] != nil && sameValues(vc.Scrub[i].Values, st.ev.Keys, st.vals) {
			set = vc.Scrub[i].Set
		} else {
			set = ResponseSet(sc.vault, svc, st.ev.Keys, st.vals, vc.Canaries)
		}
		sc.unknownPass = svc.UnknownEncoding == domain.EncodingPass
	}
	if set == nil {
		set, sc.canaryOnly = vc.CanarySet, true
	}
	if set == nil {
		return
	}
	sc.set = set
	sc.decideResp = func(o int) scrub.Action {
		ow := set.Owner(o)
		if ow.Canary {
			return scrub.Block
		}
		if st.ev.Scrubbed == nil {
			st.ev.Scrubbed = map[string]int{}
		}
		st.ev.Scrubbed[ow.Key]++
		return scrub.Replace
	}
	if !sc.canaryOnly {
		limitAcceptEncoding(r.Header)
	}
}

// ResponseSet builds the set a service's responses are scrubbed with:
// the values of keys (resolved for a request, or all of the service's
// keys when precomputed), basic auth's user:password, and the canaries.
func ResponseSet(vaultID string, svc *domain.Service, keys, vals []string, canaries []scrub.Value) *scrub.Set {
	list := make([]scrub.Value, 0, len(keys)+1+len(canaries))
	for j, k := range keys {
		list = append(list, scrub.Value{Owner: scrub.Owner{Vault: vaultID, Key: k}, Value: vals[j]})
	}
	if svc.Auth.Type == domain.AuthBasic {
		user, pass := "", ""
		for j, k := range keys {
			switch k {
			case svc.Auth.Username:
				user = vals[j]
			case svc.Auth.Password:
				pass = vals[j]
			}
		}
		key := svc.Auth.Password
		if key == "" {
			key = svc.Auth.Username
		}
		list = append(list, scrub.Value{Owner: scrub.Owner{Vault: vaultID, Key: key}, Value: scrub.BasicAuth(user, pass)})
	}
	list = append(list, canaries...)
	return scrub.NewSet(list)
}

// sameValues reports whether every resolved key has the value the
// precomputed set was built from (a request may use only some of the
// service's keys; the set scrubs all of them).
func sameValues(pre map[string]string, keys, vals []string) bool {
	for j, k := range keys {
		if v, ok := pre[k]; !ok || v != vals[j] {
			return false
		}
	}
	return true
}

// decodable are the content codings the proxy can undo to scrub a body.
var decodable = map[string]bool{"gzip": true, "x-gzip": true, "deflate": true, "br": true, "zstd": true, "identity": true}

// limitAcceptEncoding keeps only codings the proxy can decode, so an
// upstream that honours the header never answers in one it cannot scrub.
func limitAcceptEncoding(h http.Header) {
	vs, ok := h["Accept-Encoding"]
	if !ok {
		return
	}
	var keep []string
	for _, v := range vs {
		for tok := range strings.SplitSeq(v, ",") {
			tok = strings.TrimSpace(tok)
			name, _, _ := strings.Cut(tok, ";")
			if name = strings.ToLower(strings.TrimSpace(name)); decodable[name] {
				keep = append(keep, tok)
			}
		}
	}
	if len(keep) == 0 {
		h["Accept-Encoding"] = []string{"identity"}
		return
	}
	h["Accept-Encoding"] = []string{strings.Join(keep, ", ")}
}

// scrubResponse rewrites the response's headers and wraps its body. A
// canary in a header answers 502 at once (errResponseBlocked); a body in
// an encoding that cannot be decoded answers 502 unless the service
// passes such bodies.
func (p *Proxy) scrubResponse(resp *http.Response, st *reqState) error {
	sc := &st.scrub
	set := sc.set
	if set == nil {
		if resp.StatusCode == http.StatusSwitchingProtocols {
			return p.scrubWebSocket(resp, st)
		}
		return nil
	}
	for k, vs := range resp.Header {
		for j, v := range vs {
			nv, err := set.ReplaceString(v, sc.decideResp)
			if be := scrub.AsBlocked(err); be != nil {
				p.responseTripped(st, be.Owner)
				return errResponseBlocked
			}
			if nv != v {
				resp.Header[k][j] = nv
			}
		}
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		return p.scrubWebSocket(resp, st)
	}
	if resp.Body == nil || resp.Body == http.NoBody ||
		resp.Request.Method == http.MethodHead || resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusNotModified {
		return nil
	}
	codings := contentCodings(resp.Header)
	if len(codings) == 0 {
		if sc.canaryOnly {
			// Looking only: the bytes and their length stay as they are.
			resp.Body = &scrubBody{r: scrub.NewReader(resp.Body, set, sc.decideResp), src: resp.Body, st: st, p: p, resp: resp}
			return nil
		}
		p.scrubStream(resp, resp.Body, st)
		return nil
	}
	if sc.canaryOnly {
		// A compressed body of a service that is not scrubbed passes as
		// it is; its trailers are still looked at.
		resp.Body = &scrubBody{r: resp.Body, src: resp.Body, st: st, p: p, resp: resp}
		return nil
	}
	for _, c := range codings {
		if !decodable[c] {
			if sc.unknownPass {
				resp.Body = &scrubBody{r: resp.Body, src: resp.Body, st: st, p: p, resp: resp}
				return nil
			}
			return errUnknownEncoding
		}
	}
	// Decoders may read again after their source's EOF (zstd looks for
	// another frame), which the upstream body answers with an error.
	var body io.Reader = &stickyEOF{r: resp.Body}
	for j := len(codings) - 1; j >= 0; j-- { // the last coding applied is undone first
		body = &lazyDecoder{src: body, coding: codings[j]}
	}
	resp.Header.Del("Content-Encoding")
	p.scrubStream(resp, body, st)
	return nil
}

// contentCodings lists the response's content codings in the order they
// were applied, lower-cased, without identity.
func contentCodings(h http.Header) []string {
	vs := h["Content-Encoding"]
	if len(vs) == 0 {
		return nil
	}
	var out []string
	for _, v := range vs {
		for tok := range strings.SplitSeq(v, ",") {
			if tok = strings.ToLower(strings.TrimSpace(tok)); tok != "" && tok != "identity" {
				out = append(out, tok)
			}
		}
	}
	return out
}

type wholeBody struct {
	*bytes.Reader
	src io.Closer
	err error // a read error to report instead of EOF
}

func (b *wholeBody) Read(p []byte) (int, error) {
	n, err := b.Reader.Read(p)
	if err == io.EOF && b.err != nil {
		err = b.err
	}
	return n, err
}

func (b *wholeBody) Close() error { return b.src.Close() }

// scrubStream replaces the body with a scrubbing stream of body (the
// decoded body when it was compressed). A replacement changes the length,
// so the client's response is re-framed (chunked). The body is not
// buffered whole even when it is short: a fixed-length answer may
// trickle, and each part must reach the agent as it comes.
//
// resp.ContentLength keeps the upstream's value: the relay and the
// ReverseProxy choose how to flush by it, and for a body of known length
// the flushes come from the upstream body (before a read that would
// wait), which must not race the ReverseProxy's own flushing of bodies
// of unknown length. The client's framing follows the header map alone.
func (p *Proxy) scrubStream(resp *http.Response, body io.Reader, st *reqState) {
	resp.Header.Del("Content-Length")
	resp.Body = &scrubBody{r: scrub.NewReader(body, st.scrub.set, st.scrub.decideResp), src: resp.Body, st: st, p: p, resp: resp}
}

// scrubBody is a scrubbed response body, and the scrubber of the
// response's trailers, which arrive once the body has been read to its
// end (before the relay or the ReverseProxy copies them to the client).
// A failure (a canary in the body or a trailer, a corrupt compressed
// stream) marks the response failed, so the client's connection is cut
// rather than the body framed as complete.
type scrubBody struct {
	r    io.Reader // the scrubbing reader; the body itself when only trailers are scrubbed
	src  io.Closer
	st   *reqState
	p    *Proxy
	resp *http.Response
}

func (b *scrubBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		err = b.scrubTrailers()
	}
	if err != nil && err != io.EOF {
		b.st.body.failed = true
		if be := scrub.AsBlocked(err); be != nil {
			b.p.responseTripped(b.st, be.Owner)
		}
	}
	return n, err
}

// Close closes the body and scrubs the trailers again: closing may read
// the rest of an abandoned body, and its trailers with it.
func (b *scrubBody) Close() error {
	err := b.src.Close()
	b.scrubTrailers() //nolint:errcheck // a canary here is dropped below; the response has failed already
	return err
}

// scrubTrailers replaces injected values in the trailers' values, in
// place; a trailer carrying a canary is dropped and reported, as
// io.EOF's replacement.
func (b *scrubBody) scrubTrailers() error {
	sc := &b.st.scrub
	var blocked error
	for k, vs := range b.resp.Trailer {
		for j, v := range vs {
			nv, err := sc.set.ReplaceString(v, sc.decideResp)
			if err != nil {
				delete(b.resp.Trailer, k)
				blocked = err
				break
			}
			vs[j] = nv
		}
	}
	if blocked != nil {
		return blocked
	}
	return io.EOF
}

// responseTripped records a canary found in a response.
func (p *Proxy) responseTripped(st *reqState, o scrub.Owner) {
	if st.ev.Blocked != "" {
		return
	}
	st.ev.Blocked = o.String()
	st.ev.Error = domain.CodeResponseBlocked
	p.tripped(st, o, "response")
}

// responseRefused answers for a response the scrubber refused before its
// headers went out.
func (p *Proxy) responseRefused(w http.ResponseWriter, st *reqState, err error) bool {
	switch {
	case errors.Is(err, errResponseBlocked):
		st.ev.Error = domain.CodeResponseBlocked
		writeError(w, http.StatusBadGateway, errorBody{Error: domain.CodeResponseBlocked,
			Message: fmt.Sprintf("the response from %s carried a value that must not reach the agent; it was withheld", st.scrub.host)})
		return true
	case errors.Is(err, errUnknownEncoding):
		st.ev.Error = domain.CodeResponseEncodingUnsupported
		writeError(w, http.StatusBadGateway, errorBody{Error: domain.CodeResponseEncodingUnsupported,
			Message: fmt.Sprintf("the response from %s is compressed in an encoding the proxy cannot scrub; "+
				"the service can set unknown_encoding: pass to let such bodies through unscrubbed", st.scrub.host)})
		return true
	}
	return false
}

// stickyEOF answers io.EOF again once its source has.
type stickyEOF struct {
	r   io.Reader
	eof bool
}

func (s *stickyEOF) Read(p []byte) (int, error) {
	if s.eof {
		return 0, io.EOF
	}
	n, err := s.r.Read(p)
	s.eof = err == io.EOF
	return n, err
}

// lazyDecoder undoes one content coding, starting on the first read so
// that a streamed answer's headers are not held up.
type lazyDecoder struct {
	src    io.Reader
	coding string
	r      io.Reader
	close  func()
}

func (d *lazyDecoder) Read(p []byte) (int, error) {
	if d.r == nil {
		if err := d.open(); err != nil {
			return 0, err
		}
	}
	n, err := d.r.Read(p)
	if err == io.EOF && d.close != nil {
		d.close()
		d.close = nil
	}
	return n, err
}

func (d *lazyDecoder) open() error {
	switch d.coding {
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(d.src)
		if err != nil {
			return err
		}
		d.r = zr
	case "deflate":
		// RFC 9110's deflate is zlib-wrapped; some servers send raw
		// deflate. The zlib header tells them apart.
		br := bufio.NewReader(d.src)
		head, _ := br.Peek(2)
		if len(head) == 2 && head[0]&0x0f == 8 && (uint16(head[0])<<8|uint16(head[1]))%31 == 0 {
			zr, err := zlib.NewReader(br)
			if err != nil {
				return err
			}
			d.r = zr
		} else {
			d.r = flate.NewReader(br)
		}
	case "br":
		d.r = brotli.NewReader(d.src)
	case "zstd":
		zr, err := zstd.NewReader(d.src, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(8<<20))
		if err != nil {
			return err
		}
		d.r, d.close = zr, zr.Close
	default:
		return errUnknownEncoding
	}
	return nil
}

package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/agent-vault/agent-vault/host/broker"
	"github.com/agent-vault/agent-vault/host/domain"
	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"
)

// serveOuter handles requests on the listening port: CONNECT or
// absolute-form http:// requests.
func (p *Proxy) serveOuter(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodConnect {
		p.connect(w, r)
		return
	}
	if !r.URL.IsAbs() {
		writeError(w, http.StatusBadRequest, errorBody{Error: CodeBadProxyRequest,
			Message: "this is the Agent Vault proxy: send absolute-form requests (GET http://host/path) or CONNECT host:port"})
		return
	}
	if !strings.EqualFold(r.URL.Scheme, "http") {
		// Forwarding https:// in absolute form would mean the agent sent
		// the request in clear text to us; refuse rather than silently
		// downgrade the agent's intent.
		writeError(w, http.StatusBadRequest, errorBody{Error: CodeHTTPSAbsoluteForm,
			Message: fmt.Sprintf("absolute-form %s:// requests are refused; use CONNECT (set HTTPS_PROXY) for https", strings.ToLower(r.URL.Scheme))})
		return
	}
	if r.URL.User != nil {
		// http://user:pass@host/ in the request line: the userinfo would be
		// dropped on the way, and a target that carries credentials of its
		// own is not what the agent should be sending through a broker.
		writeError(w, http.StatusBadRequest, errorBody{Error: CodeBadProxyRequest, Message: "the request target must not contain userinfo (user:password@)"})
		return
	}
	host, port, err := broker.SplitTarget(r.URL.Host, "80")
	if err != nil {
		writeError(w, http.StatusBadRequest, errorBody{Error: CodeBadProxyRequest, Message: "the request target has no usable host"})
		return
	}
	pr, _, ok := p.authenticate(w, r, host)
	if !ok {
		return
	}
	if lt := p.cfg.TunnelMaxLifetime; lt > 0 && httpguts.HeaderValuesContainsToken(r.Header["Connection"], "upgrade") {
		// An upgraded connection carries no more requests to authorise:
		// it is a tunnel, and ends at a tunnel's lifetime (the relay
		// closes both sides when the request's context ends).
		ctx, cancel := context.WithTimeout(r.Context(), lt)
		defer cancel()
		r = r.WithContext(ctx)
	}
	p.forward(w, r, &pr, "http", host, port)
}

// authenticate checks Proxy-Authorization and answers 407, 403 or 500 itself
// when it fails.
func (p *Proxy) authenticate(w http.ResponseWriter, r *http.Request, host string) (Principal, tunnelAuth, bool) {
	token, vault, ok := parseProxyAuthorization(r.Header.Get("Proxy-Authorization"))
	if !ok {
		p.failAuth(w, r, host, http.StatusProxyAuthRequired, CodeProxyAuthRequired,
			"proxy authentication required: use http://<token>:<vault>@<proxy> or Proxy-Authorization: Bearer <token>")
		return Principal{}, tunnelAuth{}, false
	}
	pr, err := p.cfg.Auth.AuthenticateProxy(r.Context(), token, vault)
	if err != nil {
		p.authFailed(w, r, host, err)
		return Principal{}, tunnelAuth{}, false
	}
	return pr, tunnelAuth{token: token, vault: vault}, true
}

// authFailed answers an Authenticator's error: 407, 403 or 500.
func (p *Proxy) authFailed(w http.ResponseWriter, r *http.Request, host string, err error) {
	var de *domain.Error
	switch code := domain.CodeOf(err); {
	case code == domain.CodeUnauthorized || code == domain.CodeInvalidCredentials:
		p.failAuth(w, r, host, http.StatusProxyAuthRequired, code, "the proxy token is invalid or expired")
	case errors.As(err, &de) && code != domain.CodeInternal:
		p.failAuth(w, r, host, http.StatusForbidden, code, de.Message)
	default:
		p.cfg.Logger.Error("proxy authentication failed", "code", code)
		p.failAuth(w, r, host, http.StatusInternalServerError, domain.CodeInternal, "internal error while checking the proxy token")
	}
}

func (p *Proxy) failAuth(w http.ResponseWriter, r *http.Request, host string, status int, code, msg string) {
	if status == http.StatusProxyAuthRequired {
		w.Header().Set("Proxy-Authenticate", `Basic realm="agent-vault"`)
	}
	writeError(w, status, errorBody{Error: code, Message: msg})
	ev := Event{Time: time.Now(), Method: r.Method, Host: host, Status: status, Error: code}
	if m := p.cfg.Metrics; m != nil {
		m.Request(&ev, 0)
	}
	p.cfg.Log.Emit(ev)
}

// connect answers CONNECT: it authenticates, acknowledges, then sniffs the
// first byte the client sends. A TLS ClientHello (0x16) is intercepted with
// a leaf certificate for the CONNECT host; anything else is served as plain
// HTTP (Node's undici tunnels http:// this way). Either way the connection
// is served as a keep-alive HTTP/1.1 connection of its own, on this
// goroutine, with the target pinned to the CONNECT line.
func (p *Proxy) connect(w http.ResponseWriter, r *http.Request) {
	host, port, err := broker.SplitTarget(r.Host, "")
	if err != nil {
		writeError(w, http.StatusBadRequest, errorBody{Error: CodeBadProxyRequest, Message: "CONNECT needs a host:port target"})
		return
	}
	pr, auth, ok := p.authenticate(w, r, host)
	if !ok {
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		writeError(w, http.StatusInternalServerError, errorBody{Error: domain.CodeInternal, Message: "cannot take over the connection"})
		return
	}
	if brw.Writer.Buffered() > 0 {
		brw.Writer.Flush() //nolint:errcheck // a failure shows up on the next write
	}
	deadline := time.Now().Add(p.cfg.ReadHeaderTimeout)
	conn.SetDeadline(deadline) //nolint:errcheck
	if _, err := io.WriteString(conn, "HTTP/1.1 200 Connection Established\r\n\r\n"); err != nil {
		conn.Close()
		return
	}
	first, err := brw.Reader.Peek(1)
	if err != nil {
		conn.Close()
		return
	}
	opened := time.Now()
	var end *time.Timer
	if p.cfg.TunnelMaxLifetime > 0 {
		// Counted from the CONNECT: the hand-shake is part of the tunnel's life.
		end = time.AfterFunc(p.cfg.TunnelMaxLifetime, func() { conn.Close() })
		defer end.Stop()
	}
	tc := &tunnelConn{Conn: &readerConn{Conn: conn, r: brw.Reader}, principal: pr, auth: auth, host: host, port: port, scheme: "http"}
	if first[0] == 0x16 {
		tlsConn := tls.Server(tc.Conn, &tls.Config{
			GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return p.cfg.Certificates(host) },
			NextProtos:     []string{http2.NextProtoTLS, "http/1.1"},
			MinVersion:     tls.VersionTLS12,
		})
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		err := tlsConn.HandshakeContext(ctx)
		cancel()
		if err != nil {
			p.cfg.Logger.Debug("tunnel TLS handshake failed", "host", host)
			conn.Close()
			return
		}
		tc.Conn, tc.scheme = tlsConn, "https"
		if tlsConn.ConnectionState().NegotiatedProtocol == http2.NextProtoTLS {
			conn.SetDeadline(time.Time{}) //nolint:errcheck
			if end == nil || end.Stop() {
				p.serveH2(tlsConn, tc, opened) // which ends the tunnel's life gracefully
			}
			return
		}
	}
	conn.SetDeadline(time.Time{}) //nolint:errcheck
	p.counts.tunnels.Add(1)
	defer p.counts.tunnels.Add(-1)
	p.srv.serveConn(tc, func(w http.ResponseWriter, r *http.Request) { p.serveTunnel(w, r, tc) })
}

// serveTunnel handles a request read from inside a CONNECT tunnel. The
// tunnel's token is authorised again first (it may have been revoked or
// expired since the CONNECT). The target is the CONNECT line's, whatever
// the Host header or an absolute-form URL inside the tunnel says.
func (p *Proxy) serveTunnel(w http.ResponseWriter, r *http.Request, tc *tunnelConn) {
	if r.Method == http.MethodConnect {
		writeError(w, http.StatusBadRequest, errorBody{Error: CodeBadProxyRequest, Message: "CONNECT inside a tunnel is not supported"})
		return
	}
	if !p.reauthorize(w, r, tc) {
		return
	}
	r.URL.Scheme, r.URL.Host = "", ""
	p.forward(w, r, &tc.principal, tc.scheme, tc.host, tc.port)
}

type stateKey struct{}

// reqState travels with the outbound request so the response hooks know the
// matched service and can fill the log event.
type reqState struct {
	rec            recorder // the client's response, flushed by a waiting body
	ev             Event
	allowSetCookie bool
	upstreamStatus int
	body           upstreamBody // the response body on its way to the client
	clientBody     failedBody   // the request's body as the client sends it; nil when none
	vals           []string     // values of ev.Keys, in order
	scrub          scrubState   // egress check and response scrubbing (scrub.go)
	sent           time.Time    // when the request went to the upstream (set only for Metrics)
	upgraded       bool         // the upstream switched protocols (a websocket is open)
}

// forward runs the per-request pipeline: strip hop-by-hop headers, match,
// inject, send upstream, stream the answer back, emit the log event.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, pr *Principal, scheme, host, port string) {
	start := time.Now()
	// The connection loop allocates the state with the response; a
	// request from elsewhere (tests) gets its own.
	st, _ := r.Context().Value(stateKey{}).(*reqState)
	if st == nil {
		st = new(reqState)
		r = r.WithContext(context.WithValue(r.Context(), stateKey{}, st))
	}
	*st = reqState{rec: recorder{ResponseWriter: w}, ev: Event{
		Time: start, VaultID: pr.VaultID, VaultName: pr.VaultName, ActorID: pr.ActorID, ActorKind: pr.ActorKind,
		// The logged host keeps a port that is not the scheme's default, so
		// api.test:8443 and api.test read apart. The path is the one before
		// substitution: it never holds a value.
		Method: r.Method, Host: hostHeader(scheme, host, port), Path: r.URL.Path,
	}}
	rec := &st.rec
	st.clientBody, _ = r.Body.(failedBody)
	defer func() {
		st.ev.Status = rec.status
		if st.ev.Status == 0 {
			st.ev.Status = st.upstreamStatus
		}
		st.ev.Latency = time.Since(start)
		if m := p.cfg.Metrics; m != nil {
			var added time.Duration
			if !st.sent.IsZero() {
				added = st.sent.Sub(start)
			}
			m.Request(&st.ev, added)
		}
		p.cfg.Log.Emit(st.ev)
	}()
	fail := func(status int, body errorBody) {
		st.ev.Error = body.Error
		writeError(rec, status, body)
	}
	if p.refuseOverRate(rec, pr, fail) {
		return
	}

	if max := p.cfg.MaxRequestBody; max > 0 {
		if r.ContentLength > max {
			fail(http.StatusRequestEntityTooLarge, errorBody{Error: CodeBodyTooLarge, Message: fmt.Sprintf("request bodies are limited to %d bytes", max)})
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(rec, r.Body, max)
		}
	}
	// gRPC and other HTTP/2 clients send "TE: trailers", which says they
	// accept trailers, and some upstreams require it; it is the one TE
	// value HTTP/2 allows, and stays on an HTTP/2 request.
	teTrailers := r.ProtoMajor == 2 && httpguts.HeaderValuesContainsToken(r.Header["Te"], "trailers")
	stripHopHeaders(r.Header)
	if teTrailers {
		r.Header["Te"] = []string{"trailers"}
	}

	vc, err := p.cfg.Vaults.ProxyConfig(r.Context(), pr.VaultID)
	if err != nil {
		p.cfg.Logger.Error("loading vault services", "vault", pr.VaultName, "code", domain.CodeOf(err))
		fail(http.StatusInternalServerError, errorBody{Error: domain.CodeInternal, Message: "cannot load the vault's services"})
		return
	}
	m := vc.Matcher
	if m == nil {
		m = broker.NewMatcher(vc.Services)
	}
	i, canon, err := m.Match(host, port, r.URL.EscapedPath())
	if de := (*domain.Error)(nil); errors.As(err, &de) {
		fail(http.StatusBadRequest, errorBody{Error: de.Code, Message: de.Message})
		return
	}
	if !p.checkEgress(rec, r, &vc, i, pr, host, st) {
		return
	}
	if i >= 0 {
		if canon != r.URL.EscapedPath() {
			// Forward the form that was matched, not the one the client sent.
			r.URL.RawPath = canon
			r.URL.Path, _ = url.PathUnescape(canon) // canonical escapes are well formed
		}
		svc := &vc.Services[i]
		st.ev.Service = svc.Name
		if !svc.IsEnabled() {
			fail(http.StatusForbidden, errorBody{Error: domain.CodeServiceDisabled,
				Message: fmt.Sprintf("service %q of vault %q is disabled", svc.Name, pr.VaultName)})
			return
		}
		st.allowSetCookie = svc.AllowSetCookie
		if scheme == "http" && injects(svc) && !svc.AllowPlainHTTP && !loopbackHost(host) {
			fail(http.StatusForbidden, errorBody{Error: CodePlaintextRefused,
				Message: fmt.Sprintf("service %q attaches credentials, which are never sent in clear text to %s: call https://%s (through CONNECT, e.g. HTTPS_PROXY) instead", svc.Name, host, host)})
			return
		}
		if err := broker.Inject(r, svc, p.lookup(r.Context(), pr, st), p.cfg.MaxSubstitutionBody); err != nil {
			if p.egressRefused(rec, st) {
				return
			}
			p.injectError(fail, err, pr)
			return
		}
	} else if vc.UnmatchedHostPolicy == domain.PolicyDeny {
		fail(http.StatusForbidden, errorBody{Error: domain.CodeHostNotAllowed,
			Message: fmt.Sprintf("vault %q has no service for %s and refuses other hosts", pr.VaultName, host),
			ProposalHint: fmt.Sprintf("Propose a service for host %q (and the credential it needs): POST /v1/proposals (see GET /v1/skills/cli), "+
				"give your user the approval_url, then poll GET /v1/proposals/{id}. Do not retry until it is approved.", host),
			Host: host, Vault: pr.VaultName})
		return
	}

	p.prepareScrub(r, &vc, i, st)
	r.URL.Scheme = scheme
	r.URL.Host = joinHostPort(host, port)
	r.Host = hostHeader(scheme, host, port)
	r.RequestURI = ""
	if p.cfg.Metrics != nil {
		st.sent = time.Now()
	}
	p.relay(rec, r, st)
	if st.upgraded {
		p.counts.websockets.Add(-1) // the relay returns when the upgraded connection ends
	}
	if st.body.failed {
		// The client has part of a response: end its connection so it
		// cannot mistake that part for the whole.
		panic(http.ErrAbortHandler)
	}
}

// injects reports whether a service attaches anything secret.
func injects(svc *domain.Service) bool {
	return svc.Auth.Type != domain.AuthPassthrough || len(svc.Substitutions) > 0
}

// loopbackHost reports whether host is this machine, where plain http does
// not cross a network. A private address does cross one (a LAN, a cloud
// VPC), so it needs allow_plain_http like any other host.
func loopbackHost(host string) bool {
	if h := strings.ToLower(host); h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && ip.Unmap().IsLoopback()
}

// lookup resolves credential keys for one request, remembering each key's
// name for the log event and its value for repeated references.
func (p *Proxy) lookup(ctx context.Context, pr *Principal, st *reqState) broker.Lookup {
	return func(key string) (string, error) {
		for i, k := range st.ev.Keys {
			if k == key {
				return st.vals[i], nil
			}
		}
		v, found, err := p.cfg.Credentials.Resolve(ctx, pr.VaultID, key)
		if err != nil {
			return "", err
		}
		if !found {
			return "", domain.Errorf(domain.CodeCredentialNotFound, "credential %q is not in vault %q", key, pr.VaultName)
		}
		st.ev.Keys = append(st.ev.Keys, key)
		st.vals = append(st.vals, v)
		return v, nil
	}
}

func (p *Proxy) injectError(fail func(int, errorBody), err error, pr *Principal) {
	var de *domain.Error
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		fail(http.StatusRequestEntityTooLarge, errorBody{Error: CodeBodyTooLarge, Message: fmt.Sprintf("request bodies are limited to %d bytes", mbe.Limit)})
	case errors.As(err, &de) && de.Code == broker.CodeBodyTooLarge:
		fail(http.StatusRequestEntityTooLarge, errorBody{Error: de.Code, Message: de.Message})
	case errors.As(err, &de) && de.Code == domain.CodeInvalidInput:
		fail(http.StatusBadRequest, errorBody{Error: de.Code, Message: de.Message})
	case errors.As(err, &de) && de.Code != domain.CodeInternal:
		// credential_not_found, credential_unusable, external store codes.
		fail(http.StatusBadGateway, errorBody{Error: de.Code, Message: de.Message})
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, context.Canceled):
		fail(http.StatusBadRequest, errorBody{Error: CodeBadProxyRequest, Message: "the request body ended early"})
	default:
		p.cfg.Logger.Error("resolving credentials", "vault", pr.VaultName, "code", domain.CodeOf(err))
		fail(http.StatusBadGateway, errorBody{Error: domain.CodeInternal, Message: "cannot resolve the service's credentials"})
	}
}

// modifyResponse strips Set-Cookie unless the service allows it and applies
// the response cap. Hop-by-hop headers are removed by the relay or the
// ReverseProxy.
func (p *Proxy) modifyResponse(resp *http.Response) error {
	st, _ := resp.Request.Context().Value(stateKey{}).(*reqState)
	max := p.cfg.MaxResponseBody
	if max > 0 && resp.ContentLength > max {
		return errResponseTooLarge
	}
	if st == nil {
		return nil
	}
	if st.scrub.blocked() != nil {
		// The request body was refused while the upstream answered.
		return errEgressBlocked
	}
	st.upstreamStatus = resp.StatusCode
	if resp.StatusCode == http.StatusSwitchingProtocols && !st.upgraded {
		st.upgraded = true
		p.counts.websockets.Add(1)
	}
	if !st.allowSetCookie {
		resp.Header.Del("Set-Cookie")
	}
	// A switched protocol's body is the upgraded connection, which the
	// ReverseProxy needs as it is.
	if resp.Body != nil && resp.StatusCode != http.StatusSwitchingProtocols {
		st.body = upstreamBody{ReadCloser: resp.Body, left: max}
		resp.Body = &st.body
	}
	return p.scrubResponse(resp, st)
}

var errResponseTooLarge = errors.New("upstream response larger than the configured cap")

// upstreamError answers when the upstream could not be reached or failed
// before sending a response. Transport errors are classified, never echoed:
// the client learns the host, not internals.
func (p *Proxy) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	st, _ := r.Context().Value(stateKey{}).(*reqState)
	if st != nil && p.egressRefused(w, st) {
		return
	}
	if st != nil && p.responseRefused(w, st, err) {
		return
	}
	fail := func(status int, body errorBody) {
		if st != nil {
			st.ev.Error = body.Error
		}
		writeError(w, status, body)
	}
	host := r.URL.Hostname()
	var de *domain.Error
	var mbe *http.MaxBytesError
	var ne net.Error
	switch {
	case errors.As(err, &mbe):
		fail(http.StatusRequestEntityTooLarge, errorBody{Error: CodeBodyTooLarge, Message: fmt.Sprintf("request bodies are limited to %d bytes", mbe.Limit)})
	case st != nil && st.clientBody != nil && st.clientBody.failed():
		// The upstream call failed because the client's body did:
		// malformed chunked framing, or a body that stopped short.
		fail(http.StatusBadRequest, errorBody{Error: CodeBadProxyRequest, Message: "the request body is malformed or ended early"})
	case r.Context().Err() != nil:
		// The client went away; nobody reads an answer.
		if st != nil {
			st.ev.Error, st.upstreamStatus = "client_closed", 499
		}
	case errors.As(err, &de) && de.Code == domain.CodeInvalidHost:
		fail(http.StatusBadRequest, errorBody{Error: de.Code, Message: de.Message, Host: host})
	case errors.As(err, &de):
		// The guarded dialer refused the destination (destination_blocked).
		fail(http.StatusForbidden, errorBody{Error: de.Code, Message: de.Message, Host: host})
	case errors.Is(err, errResponseTooLarge):
		fail(http.StatusBadGateway, errorBody{Error: "response_too_large", Message: fmt.Sprintf("the response from %s exceeds the proxy's %d-byte cap", host, p.cfg.MaxResponseBody)})
	case errors.As(err, &ne) && ne.Timeout():
		fail(http.StatusGatewayTimeout, errorBody{Error: CodeUpstreamTimeout, Message: fmt.Sprintf("%s did not answer in time", host)})
	default:
		msg := fmt.Sprintf("cannot reach %s", host)
		var certErr *tls.CertificateVerificationError
		if errors.As(err, &certErr) {
			msg = fmt.Sprintf("the TLS certificate of %s did not verify", host)
		}
		fail(http.StatusBadGateway, errorBody{Error: CodeUpstream, Message: msg, Host: host})
	}
}

// hopHeaders are never forwarded in either direction (RFC 9110 §7.6.1),
// together with every header the Connection header names.
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// stripHopHeaders removes hop-by-hop headers from a request before
// injection, so a client cannot name an injected header in Connection and
// have it stripped later. An upgrade (websocket) survives as
// "Connection: Upgrade" plus its Upgrade header.
func stripHopHeaders(h http.Header) { removeHopHeaders(h, true) }

// removeHopHeaders removes the hop-by-hop headers and those the Connection
// header names (RFC 9110 §7.6.1), from a request before injection and from
// a response the relay passes on. With keepUpgrade an upgrade survives as
// "Connection: Upgrade" plus its Upgrade header.
func removeHopHeaders(h http.Header, keepUpgrade bool) {
	upgrade := ""
	for _, v := range h["Connection"] {
		for tok := range strings.SplitSeq(v, ",") {
			tok = strings.TrimSpace(tok)
			if keepUpgrade && strings.EqualFold(tok, "upgrade") {
				upgrade = h.Get("Upgrade")
				continue
			}
			if tok != "" {
				h.Del(tok)
			}
		}
	}
	for _, name := range hopHeaders {
		delete(h, name)
	}
	if upgrade != "" {
		h["Connection"] = []string{"Upgrade"}
		h["Upgrade"] = []string{upgrade}
	}
}

func joinHostPort(host, port string) string {
	if strings.IndexByte(host, ':') >= 0 {
		return "[" + host + "]:" + port
	}
	return host + ":" + port
}

// hostHeader is the Host the upstream sees: the pinned target, with the port
// only when it is not the scheme's default.
func hostHeader(scheme, host, port string) string {
	if scheme == "http" && port == "80" || scheme == "https" && port == "443" {
		if strings.IndexByte(host, ':') >= 0 {
			return "[" + host + "]"
		}
		return host
	}
	return joinHostPort(host, port)
}

// recorder remembers the status written to the client.
type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach Hijack (websocket upgrades).
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// upstreamBody carries an upstream response body to the client. It ends
// the body with an error once the response cap is reached, and remembers
// any read failure so that forward aborts the client's response: a
// truncated body must not be framed as complete.
type upstreamBody struct {
	io.ReadCloser
	left   int64 // bytes still allowed; 0 or less: no cap
	capped bool  // the cap was reached
	failed bool
}

func (u *upstreamBody) Read(b []byte) (int, error) {
	if u.left > 0 && int64(len(b)) > u.left {
		b = b[:u.left]
	} else if u.capped {
		// A body of exactly the cap is whole; one byte more is not.
		var one [1]byte
		for {
			n, err := u.ReadCloser.Read(one[:])
			if n == 0 && err == io.EOF {
				return 0, io.EOF
			}
			if n > 0 || err != nil {
				u.failed = true
				return 0, errResponseTooLarge
			}
		}
	}
	n, err := u.ReadCloser.Read(b)
	if u.left > 0 {
		u.left -= int64(n)
		u.capped = u.left == 0
	}
	if err != nil && err != io.EOF {
		u.failed = true
	}
	return n, err
}

// Interface guards
var (
	_ http.Flusher        = (*recorder)(nil)
	_ http.ResponseWriter = (*recorder)(nil)
)

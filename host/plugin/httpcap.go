package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/agent-vault/agent-vault/sdk/abi"
)

// httpCapability is one plugin's scoped outbound HTTP: deny by default, only
// granted origins, checked on the first request and on every redirect, with
// the private-range guard applied to the address actually dialled.
type httpCapability struct {
	// granted maps canonical origin → true when the operator configured it
	// (exempt from the private-range guard), false when it came from the
	// manifest (guarded).
	granted map[string]bool
	// exemptAddrs are the host:port dial addresses of operator origins.
	exemptAddrs map[string]bool
	client      *http.Client
}

// dialFunc is the type of Config.DialContext.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

type deniedError struct{ code, msg string }

func (e *deniedError) Error() string { return e.msg }

func newHTTPCapability(manifestOrigins, operatorOrigins []string, dial dialFunc) *httpCapability {
	c := &httpCapability{granted: map[string]bool{}, exemptAddrs: map[string]bool{}}
	for _, o := range manifestOrigins {
		if canon, err := abi.ParseOrigin(o); err == nil {
			if _, dup := c.granted[canon]; !dup {
				c.granted[canon] = false
			}
		}
	}
	for _, o := range operatorOrigins {
		if canon, err := abi.ParseOrigin(o); err == nil {
			c.granted[canon] = true
			// canon is scheme://host:port; the dial address is host:port.
			c.exemptAddrs[canon[strings.Index(canon, "://")+3:]] = true
		}
	}
	transport := &http.Transport{
		Proxy:                 nil, // never the process's proxy environment
		DialContext:           c.guardedDial(dial),
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          16,
		IdleConnTimeout:       60 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	c.client = &http.Client{
		Transport: transport,
		Timeout:   60 * time.Second, // the call deadline usually ends it sooner
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= abi.MaxHTTPRedirects {
				return &deniedError{abi.CodeHTTPFailed, fmt.Sprintf("stopped after %d redirects", abi.MaxHTTPRedirects)}
			}
			origin, err := abi.OriginOf(req.URL)
			if err != nil {
				return &deniedError{abi.CodeHTTPOriginDenied, "redirect: " + err.Error()}
			}
			if _, ok := c.granted[origin]; !ok {
				return &deniedError{abi.CodeHTTPOriginDenied, fmt.Sprintf("redirect to origin %s is not granted to this plugin", origin)}
			}
			return nil
		},
	}
	return c
}

// guardedDial dials, then refuses a connection whose remote address is in a
// private, loopback, link-local or otherwise internal range, unless the dial
// address belongs to an origin the operator configured. Checking the
// connected address (after DNS) defeats DNS names that resolve inside.
func (c *httpCapability) guardedDial(dial dialFunc) dialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if c.exemptAddrs[strings.ToLower(addr)] {
			return conn, nil
		}
		ap, perr := netip.ParseAddrPort(conn.RemoteAddr().String())
		if perr != nil || isInternal(ap.Addr()) {
			conn.Close()
			return nil, &deniedError{abi.CodeHTTPPrivateAddress, fmt.Sprintf("%s resolves to an internal address; only operator-configured origins may", addr)}
		}
		return conn, nil
	}
}

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// isInternal reports whether ip must not be reached by a plugin on its own.
func isInternal(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() ||
		ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() ||
		ip.IsMulticast() || ip.IsUnspecified() || cgnat.Contains(ip)
}

// do performs one guest request.
func (c *httpCapability) do(ctx context.Context, r *abi.HTTPRequest, origin string) (*abi.HTTPResponse, *abi.Error) {
	if _, ok := c.granted[origin]; !ok {
		return nil, &abi.Error{Code: abi.CodeHTTPOriginDenied, Message: fmt.Sprintf("origin %s is not granted to this plugin", origin)}
	}
	var body io.Reader
	if len(r.Body) > 0 {
		body = strings.NewReader(string(r.Body))
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, body)
	if err != nil {
		return nil, &abi.Error{Code: abi.CodeHTTPBadRequest, Message: err.Error()}
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, classifyHTTPError(ctx, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, abi.MaxHTTPResponseBody+1))
	if err != nil {
		return nil, classifyHTTPError(ctx, err)
	}
	if len(data) > abi.MaxHTTPResponseBody {
		return nil, &abi.Error{Code: abi.CodeHTTPTooLarge, Message: fmt.Sprintf("response body exceeds %d bytes", abi.MaxHTTPResponseBody)}
	}
	return &abi.HTTPResponse{Status: resp.StatusCode, Header: resp.Header, Body: data}, nil
}

// classifyHTTPError turns a client error into a guest-facing code. Messages
// name the origin and the cause, never request headers or bodies.
func classifyHTTPError(ctx context.Context, err error) *abi.Error {
	var d *deniedError
	if errors.As(err, &d) {
		return &abi.Error{Code: d.code, Message: d.msg}
	}
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
		return &abi.Error{Code: abi.CodeHTTPTimeout, Message: "request did not complete before the call deadline"}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &abi.Error{Code: abi.CodeHTTPTimeout, Message: "request timed out"}
	}
	// Drop the URL from *url.Error: a query string may carry a token.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return &abi.Error{Code: abi.CodeHTTPFailed, Message: err.Error()}
}

// pluginServices is the production hostServices of one plugin.
type pluginServices struct {
	http   *httpCapability
	logger *slog.Logger
}

func (s *pluginServices) HTTP(ctx context.Context, req *abi.HTTPRequest, origin string) (*abi.HTTPResponse, *abi.Error) {
	return s.http.do(ctx, req, origin)
}

func (s *pluginServices) Log(ctx context.Context, level slog.Level, msg string) {
	st := stateOf(ctx)
	s.logger.Log(ctx, level, msg, "source", "plugin", "export", st.export)
}

func (s *pluginServices) Now() time.Time { return time.Now() }

// Interface guards
var (
	_ hostServices = (*pluginServices)(nil)
	_ hostServices = unimplementedHostServices{}
)

package plugin

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/netguard"
	"github.com/agent-vault/agent-vault/sdk/abi"
)

// httpCapability is one plugin's scoped outbound HTTP: deny by default, only
// granted origins, checked on the first request and on every redirect. Every
// connection goes through host/netguard, the same guard the proxy dials
// with: it resolves once, checks every address (cloud metadata always
// refused; private and special-purpose ranges refused unless the operator
// named the origin) and dials only the checked addresses.
type httpCapability struct {
	granted map[string]bool // canonical origins
	client  *http.Client
}

type deniedError struct{ code, msg string }

func (e *deniedError) Error() string { return e.msg }

// newHTTPCapability grants origins (canonical, from resolveGrant) and dials
// through guard, which already carries the exceptions for the origins the
// operator named.
//
// roots verify upstream TLS (nil: the system roots).
func newHTTPCapability(origins []string, guard *netguard.Guard, roots *x509.CertPool) *httpCapability {
	c := &httpCapability{granted: map[string]bool{}}
	for _, o := range origins {
		c.granted[o] = true
	}
	transport := &http.Transport{
		Proxy:                 nil, // never the process's proxy environment
		DialContext:           guardedDial(guard),
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          16,
		IdleConnTimeout:       60 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		ExpectContinueTimeout: time.Second,
		TLSClientConfig:       &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
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
			if !c.granted[origin] {
				return &deniedError{abi.CodeHTTPOriginDenied, fmt.Sprintf("redirect to origin %s is not granted to this plugin", origin)}
			}
			return nil
		},
	}
	return c
}

// guardedDial is guard.DialContext with its refusals turned into the
// guest-facing code. The message names the dialled address only: what an
// internal name resolves to is none of the plugin's business.
func guardedDial(guard *netguard.Guard) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := guard.DialContext(ctx, network, addr)
		if err != nil && (domain.CodeOf(err) == domain.CodeDestinationBlocked || domain.CodeOf(err) == domain.CodeInvalidHost) {
			return nil, &deniedError{abi.CodeHTTPPrivateAddress, fmt.Sprintf("%s is a private, special-purpose or metadata address; a plugin reaches one only through an origin the operator granted", addr)}
		}
		return conn, err
	}
}

// do performs one guest request.
func (c *httpCapability) do(ctx context.Context, r *abi.HTTPRequest, origin string) (*abi.HTTPResponse, *abi.Error) {
	if !c.granted[origin] {
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
	s.logger.Log(ctx, level, scrubGiven(ctx, msg), "source", "plugin", "export", st.export)
}

func (s *pluginServices) Now() time.Time { return time.Now() }

// Interface guards
var (
	_ hostServices = (*pluginServices)(nil)
	_ hostServices = unimplementedHostServices{}
)

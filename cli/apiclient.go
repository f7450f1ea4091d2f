package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	client "github.com/agent-vault/agent-vault/openapi/client/go"
	"github.com/alecthomas/kong"
)

// defaultAddr is where `agent-vault server` listens by default.
const defaultAddr = "http://127.0.0.1:14321"

// tokenEnv carries an API token (user session, agent or scoped session).
const tokenEnv = "AGENT_VAULT_TOKEN"

// authFlag is embedded by every command that calls the API, so --token sits
// on the leaf command (see globals for why it is not global).
type authFlag struct {
	Token string `name:"token" env:"AGENT_VAULT_TOKEN" placeholder:"TOKEN" help:"API token (default: the session of 'agent-vault login')."`
}

func (a authFlag) apiToken() string { return a.Token }

// tokenSource is implemented by commands that embed authFlag.
type tokenSource interface{ apiToken() string }

// apiClient is the generated client bound to one server and token, plus
// the session it came from.
type apiClient struct {
	api     *client.Client
	ctx     context.Context
	addr    string
	token   string
	session *session
}

// newAPIClient resolves the address and token: flag or environment first,
// then the saved session, then the default address.
func newAPIClient(e *env, g *globals, kctx *kong.Context) (*apiClient, error) {
	s, err := loadSession()
	if err != nil {
		return nil, err
	}
	c := &apiClient{ctx: e.Ctx, session: s, addr: g.Addr}
	if src, ok := kctx.Selected().Target.Addr().Interface().(tokenSource); ok {
		c.token = src.apiToken()
	} else {
		c.token = os.Getenv(tokenEnv)
	}
	if c.addr == "" && s != nil {
		c.addr = s.Addr
	}
	if c.addr == "" {
		c.addr = defaultAddr
	}
	if u, err := url.Parse(c.addr); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usageErrorf("--addr %q is not an http(s) URL", c.addr)
	}
	c.addr = strings.TrimRight(c.addr, "/")
	// The saved token only goes to the server it came from.
	if c.token == "" && s != nil && s.Addr == c.addr {
		c.token = s.Token
	}
	c.api, err = client.NewClient(c.addr,
		client.WithHTTPClient(&http.Client{Timeout: 5 * time.Minute}),
		client.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
			r.Header.Set("User-Agent", "agent-vault-cli/"+Version)
			if c.token != "" {
				r.Header.Set("Authorization", "Bearer "+c.token)
			}
			return nil
		}))
	return c, err
}

// decode turns a generated-client call into its typed 2xx body, or an
// error carrying the problem's code and the exit code for its status.
// T is struct{} for operations that answer without a body.
func decode[T any](res *http.Response, err error) (*T, error) {
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			return nil, fmt.Errorf("cannot reach the server at %s (%v); is 'agent-vault server' running?", origin(ue.URL), ue.Err)
		}
		return nil, err
	}
	defer res.Body.Close()
	addr := origin(res.Request.URL.String())
	body, err := io.ReadAll(io.LimitReader(res.Body, 32<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the answer of %s: %w", addr, err)
	}
	if res.StatusCode >= 300 {
		return nil, problemError(res, body)
	}
	out := new(T)
	if len(body) > 0 && res.StatusCode != http.StatusNoContent {
		if err := json.Unmarshal(body, out); err != nil {
			return nil, fmt.Errorf("unexpected answer from %s: %w", addr, err)
		}
	}
	return out, nil
}

// origin is scheme://host of a request URL, for messages.
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Scheme + "://" + u.Host
}

// apiError is an RFC 9457 problem from the server.
type apiError struct {
	status int
	p      client.Problem
}

func problemError(res *http.Response, body []byte) error {
	e := &apiError{status: res.StatusCode}
	if err := json.Unmarshal(body, &e.p); err != nil || e.p.Code == "" {
		e.p = client.Problem{Code: "http_" + fmt.Sprint(res.StatusCode), Title: http.StatusText(res.StatusCode)}
	}
	return e
}

// Error reads "code: detail", then one line per invalid field. Problem
// bodies never carry credential values (the server strips them).
func (e *apiError) Error() string {
	msg := e.p.Title
	if e.p.Detail != nil && *e.p.Detail != "" {
		msg = *e.p.Detail
	}
	var b strings.Builder
	// Details can quote what an agent or an upstream wrote: made safe here,
	// so the lines below stay the only line breaks.
	b.WriteString(safeText(e.p.Code) + ": " + safeText(msg))
	if e.p.Errors != nil {
		for _, d := range *e.p.Errors {
			if d.Message != nil && *d.Message == msg {
				continue // the detail already said it
			}
			b.WriteString("\n  ")
			if d.Location != nil && *d.Location != "" {
				b.WriteString(safeText(*d.Location) + ": ")
			}
			if d.Message != nil {
				b.WriteString(safeText(*d.Message))
			}
		}
	}
	if e.status == http.StatusUnauthorized && e.p.Code == "unauthorized" {
		b.WriteString("\n  sign in with 'agent-vault login' or pass --token")
	}
	return b.String()
}

// cliError is a failure found before or without the server, with its exit
// code and, when it has one, a stable error code.
type cliError struct {
	exit int
	code string
	msg  string
}

func (e *cliError) Error() string {
	if e.code == "" {
		return e.msg
	}
	return e.code + ": " + e.msg
}

func usageErrorf(format string, args ...any) error {
	return &cliError{exit: exitUsage, msg: fmt.Sprintf(format, args...)}
}

func codedErrorf(exit int, code, format string, args ...any) error {
	return &cliError{exit: exit, code: code, msg: fmt.Sprintf(format, args...)}
}

// Codes of failures the CLI finds itself, for --json errors.
const (
	codeUsage  = "invalid_usage"
	codeFailed = "command_failed"
)

// errorParts splits err into the stable code and the message that --json
// prints: the server's code for an API error, the CLI's own otherwise.
func errorParts(err error) (code, msg string) {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.p.Code, strings.TrimPrefix(ae.Error(), ae.p.Code+": ")
	}
	var ce *cliError
	if errors.As(err, &ce) {
		switch {
		case ce.code != "":
			return ce.code, ce.msg
		case ce.exit == exitUsage:
			return codeUsage, ce.msg
		}
		return codeFailed, ce.msg
	}
	return codeFailed, err.Error()
}

// exitCodeOf maps an error to the documented exit codes.
func exitCodeOf(err error) int {
	var ae *apiError
	if errors.As(err, &ae) {
		switch ae.status {
		case http.StatusNotFound:
			return exitNotFound
		case http.StatusConflict:
			return exitConflict
		case http.StatusForbidden:
			return exitForbidden
		case http.StatusUnauthorized:
			return exitUnauthorized
		}
		return exitFailure
	}
	var ce *cliError
	if errors.As(err, &ce) {
		return ce.exit
	}
	return exitFailure
}

// Interface guards
var (
	_ error       = (*apiError)(nil)
	_ error       = (*cliError)(nil)
	_ tokenSource = authFlag{}
)

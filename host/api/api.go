// Package api is the HTTP API under /v1, built with huma so that every
// operation is typed and the OpenAPI 3.1 document is generated from the code.
// Each resource has one file with a register<Resource> function. Every
// handler starts by calling access, which resolves the caller and asks
// authz.Decide; errors leave as RFC 9457 problems with a stable code.
package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/agent-vault/agent-vault/host/audit"
	"github.com/agent-vault/agent-vault/host/authn"
	"github.com/agent-vault/agent-vault/host/authz"
	"github.com/agent-vault/agent-vault/host/credstore"
	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/loginguard"
	"github.com/agent-vault/agent-vault/host/notify"
	"github.com/agent-vault/agent-vault/host/plugin"
	"github.com/agent-vault/agent-vault/host/seal"
	"github.com/agent-vault/agent-vault/host/store"
	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
)

// Version is the API version published in the OpenAPI document.
const Version = "0.1.0"

// Deps is everything the API needs from the rest of the host.
type Deps struct {
	Store   *store.Store
	Keyring *seal.Keyring
	// Stores runs the credential-store lifecycle (required).
	Stores *credstore.Manager
	Logger *slog.Logger
	// PublicURL is the externally reachable base URL, used in invite links.
	PublicURL string
	// CACertPEM is the proxy's interception root and MITMPort the proxy's
	// port, published at /v1/mitm/ca.pem; empty when the proxy is off.
	CACertPEM []byte
	MITMPort  int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// AllowPrivateRanges lets services name IP literals and localhost
	// (AGENT_VAULT_ALLOW_PRIVATE_RANGES), for loopback upstreams.
	AllowPrivateRanges bool
	// Changed is told after a vault's services, settings or credentials
	// change, so in-memory snapshots (the proxy's) can refresh; an empty
	// vault id means tokens, grants or names changed. May be nil.
	Changed func(vaultID string)
	// StoreInfo tells the agent loop (discovery, proposals, explain) which
	// vaults use an external store and which dynamic keys they offer. May
	// be nil: every vault is then built-in without dynamic secrets.
	StoreInfo StoreInfo
	// RequestLogDropped reports how many request-log events were dropped
	// since start (shown with the log so gaps are visible). May be nil.
	RequestLogDropped func() uint64
	// CachesCurrent reports whether this replica's caches see every change
	// committed through other replicas (the database's change
	// notifications are being received); nil means a single process,
	// always current. GET /ready answers 503 while it is false.
	CachesCurrent func() bool
	// RequestLogFollow is the request-log writer's Follow: a reader that
	// waits for new rows (list-request-logs with wait) gets them written
	// promptly and is told after each write. May be nil: waits then poll.
	RequestLogFollow func() (written <-chan struct{}, release func())
	// Passwords runs password hashes, a few at a time; nil means a pool
	// with loginguard's defaults.
	Passwords *loginguard.Pool
	// Logins throttles failed sign-ins; nil means loginguard's defaults.
	Logins *loginguard.Throttle
	// Audit records administrative actions; nil means a recorder on
	// Store without a sink.
	Audit *audit.Recorder
	// SendMail sends a plain-text message (password-reset and invite
	// links). May be nil: links are then only returned to the caller, who
	// passes them on.
	SendMail func(ctx context.Context, to, subject, body string) error
	// Metrics writes the Prometheus exposition (GET /metrics); nil: metrics
	// are off and the operation answers 404 metrics_disabled.
	Metrics interface{ WriteText(io.Writer) error }
	// Notifier tells a vault's admins about new proposals (email,
	// webhook); nil sends nothing.
	Notifier *notify.Notifier
}

type server struct {
	Deps
	macMu  sync.Mutex
	macKey []byte // see auditMACKey
}

// New returns the API handler (routes under /v1 plus /health and
// /openapi.json) and the huma API, whose OpenAPI() is the published document.
func New(d Deps) (http.Handler, huma.API) {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Passwords == nil {
		d.Passwords = loginguard.NewPool(loginguard.PoolConfig{})
	}
	if d.Logins == nil {
		d.Logins = loginguard.NewThrottle(loginguard.ThrottleConfig{Now: d.Now})
	}
	if d.Audit == nil && d.Store != nil {
		d.Audit = audit.NewRecorder(d.Store, nil, d.Logger)
	}
	s := &server{Deps: d}
	mux := http.NewServeMux()
	api := humago.New(mux, config())
	api.UseMiddleware(s.authenticate, s.auditTrail)
	s.register(api)
	// Unknown API paths get a problem too, not the mux's plain text.
	mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, &Problem{Status: http.StatusNotFound, Title: "Not Found", Code: domain.CodeNotFound,
			Detail: "no API operation at " + r.Method + " " + r.URL.Path})
	})
	return securityHeaders(s.shedSignIns(mux)), api
}

// register adds every operation. The OpenAPI document lists them in this order.
func (s *server) register(api huma.API) {
	s.registerSystem(api)
	s.registerAuth(api)
	s.registerUsers(api)
	s.registerAccounts(api)
	s.registerAgents(api)
	s.registerVaults(api)
	s.registerGrants(api)
	s.registerSessions(api)
	s.registerCredentials(api)
	s.registerServices(api)
	s.registerCatalog(api)
	s.registerMITM(api)
	s.registerAgentLoop(api)
	s.registerCredentialStores(api)
	s.registerAudit(api)
	s.registerMetrics(api)
	s.registerOverview(api)
}

func config() huma.Config {
	c := huma.DefaultConfig("Agent Vault API", Version)
	c.Info.Description = "Agent Vault brokers credentials for AI agents: agents send HTTP(S) traffic through its proxy, " +
		"which attaches the real credential from the agent's vault. This API manages vaults, credentials, services, " +
		"people, agents and their roles. No response ever contains a credential value."
	c.OpenAPIPath = "/openapi"
	c.DocsPath = ""
	c.SchemasPath = ""
	c.CreateHooks = nil // no $schema links in responses
	c.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", Description: "A user session (av_sess_), agent (av_agt_) or scoped session (av_scp_) token."},
	}
	return c
}

// securityHeaders sets conservative headers on every API response.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		next.ServeHTTP(w, r)
	})
}

// op fills the parts every operation shares: tags, errors, security.
func op(id, method, path, summary string, tag string, errs ...int) huma.Operation {
	o := huma.Operation{
		OperationID:   id,
		Method:        method,
		Path:          path,
		Summary:       summary,
		Tags:          []string{tag},
		MaxBodyBytes:  maxBodyBytes,
		DefaultStatus: http.StatusOK,
	}
	if rule := authz.Policy[id]; !rule.Public {
		o.Security = []map[string][]string{{"bearer": {}}}
		errs = append(errs, http.StatusUnauthorized, http.StatusForbidden)
	}
	o.Errors = append(errs, http.StatusUnprocessableEntity)
	return o
}

// created marks an operation that answers 201 Created.
func created(o huma.Operation) huma.Operation {
	o.DefaultStatus = http.StatusCreated
	return o
}

// maxBodyBytes caps every request body: a credential write of many large
// values fits, anything bigger is refused with 413 before it is read.
const maxBodyBytes = 4 << 20

type ctxKey int

const (
	actorKey ctxKey = iota
	opKey
)

func actorFrom(ctx context.Context) authz.Actor {
	a, _ := ctx.Value(actorKey).(authz.Actor)
	if a.Kind == "" {
		a.Kind = authz.Anonymous
	}
	return a
}

// call is what access learned about a request.
type call struct {
	Actor authz.Actor
	Vault store.Vault
	Role  domain.VaultRole
}

// access resolves the caller and the target vault (when vaultName is set)
// and asks the policy table. Every handler calls it first.
func (s *server) access(ctx context.Context, vaultName string) (call, error) {
	opID, _ := ctx.Value(opKey).(string)
	c := call{Actor: actorFrom(ctx)}
	if rule := authz.Policy[opID]; !rule.Public && c.Actor.Kind == authz.Anonymous {
		return c, s.problem(ctx, authz.Decide(opID, c.Actor, ""))
	}
	if vaultName != "" {
		v, err := s.Store.VaultByName(ctx, vaultName)
		if err != nil {
			return c, s.problem(ctx, err)
		}
		c.Vault = v
		if n := noteFrom(ctx); n != nil {
			n.vault = v.Name
		}
		if c.Role, err = s.roleIn(ctx, c.Actor, v.ID); err != nil {
			return c, s.problem(ctx, err)
		}
	}
	if err := authz.Decide(opID, c.Actor, c.Role); err != nil {
		return c, s.problem(ctx, err)
	}
	return c, nil
}

func (s *server) roleIn(ctx context.Context, a authz.Actor, vaultID string) (domain.VaultRole, error) {
	return authn.VaultRole(ctx, s.Store, a, vaultID)
}

// changed tells the snapshot owner that a vault's configuration moved.
func (s *server) changed(vaultID string) {
	if s.Changed != nil {
		s.Changed(vaultID)
	}
}

// identitiesChanged reports err, or, when the change succeeded, tells the
// snapshot owner that tokens or grants moved (cached principals are stale).
func (s *server) identitiesChanged(ctx context.Context, err error) error {
	if err != nil {
		return s.problem(ctx, err)
	}
	s.changed("")
	return nil
}

func newErrorID() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// problem turns any error into the problem the caller sees. Domain errors
// keep their code; anything else is logged with an error id and becomes an
// opaque 500 carrying the same id.
func (s *server) problem(ctx context.Context, err error) error {
	err = s.problemOf(ctx, err)
	var p *Problem
	if errors.As(err, &p) {
		if n := noteFrom(ctx); n != nil && n.code == "" {
			n.code = p.Code
		}
	}
	return err
}

func (s *server) problemOf(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	var se huma.StatusError
	if errors.As(err, &se) {
		return err
	}
	var pe *plugin.Error
	if errors.As(err, &pe) {
		status := statusOf(pe.Code)
		return &Problem{Status: status, Title: http.StatusText(status), Detail: pe.Display(), Code: pe.Code}
	}
	var de *domain.Error
	if errors.As(err, &de) {
		p := &Problem{Status: statusOf(de.Code), Title: http.StatusText(statusOf(de.Code)), Detail: de.Message, Code: de.Code}
		if de.Field != "" {
			p.Errors = []*huma.ErrorDetail{{Message: de.Message, Location: "body." + de.Field}}
		}
		return p
	}
	id := newErrorID()
	s.Logger.ErrorContext(ctx, "internal error", "error_id", id, "error", err)
	return &Problem{Status: 500, Title: "Internal Server Error", Detail: "internal error; see the server log for error_id " + id,
		Code: domain.CodeInternal, ErrorID: id}
}

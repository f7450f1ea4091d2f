package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/agent-vault/agent-vault/host/broker"
	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/store"
	"github.com/danielgtaylor/huma/v2"
)

// Explain decisions.
const (
	decisionInject  = "inject"  // a service matches and every key resolves
	decisionForward = "forward" // no service; the vault passes other hosts through untouched
	decisionRefuse  = "refuse"  // the proxy would answer with an error
)

// ExplainedKey is one credential key a service needs and where it would
// come from. Never a value.
type ExplainedKey struct {
	Key    string `json:"key"`
	Source string `json:"source" enum:"static,dynamic,missing" doc:"static: stored; dynamic: leased on use; missing: the request would fail"`
}

// ExplainedService is the service a request matches.
type ExplainedService struct {
	Name     string `json:"name"`
	Host     string `json:"host"`
	Enabled  bool   `json:"enabled"`
	AuthType string `json:"auth_type"`
}

type ExplainInput struct {
	Name   string `path:"name" maxLength:"64"`
	Method string `query:"method" default:"GET" pattern:"^[A-Z]{1,16}$" doc:"The request method (services match any method)"`
	URL    string `query:"url" required:"true" maxLength:"4096" doc:"The absolute http:// or https:// URL the agent would request"`
}

type ExplainOutput struct {
	Body struct {
		Method              string            `json:"method"`
		Host                string            `json:"host"`
		Port                string            `json:"port"`
		Path                string            `json:"path"`
		Decision            string            `json:"decision" enum:"inject,forward,refuse"`
		Code                string            `json:"code,omitempty" doc:"The error code the proxy would answer with, when it refuses"`
		Reason              string            `json:"reason"`
		Service             *ExplainedService `json:"service,omitempty"`
		Credentials         []ExplainedKey    `json:"credentials"`
		UnmatchedHostPolicy string            `json:"unmatched_host_policy" enum:"passthrough,deny"`
		ResponseScrubbing   string            `json:"response_scrubbing" doc:"What the proxy removes from this request's responses"`
		EgressCheck         string            `json:"egress_check" doc:"What the proxy refuses to let this request carry"`
		Recent              []ExplainedEvent  `json:"recent" doc:"The latest scrubs and blocks the request log holds for this host (newest first, at most 5)"`
	}
}

// ExplainedEvent is a scrub or block from the request log. Never a value.
type ExplainedEvent struct {
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind" enum:"scrubbed,blocked"`
	Keys    string    `json:"keys" doc:"scrubbed: KEY:count pairs; blocked: the key (canary:NAME for a canary)"`
	Error   string    `json:"error,omitempty"`
	Service string    `json:"service,omitempty"`
}

func (s *server) registerExplain(api huma.API) {
	huma.Register(api, op("explain-request", http.MethodGet, "/v1/vaults/{name}/explain", "Why a request would or would not get credentials injected", "logs",
		http.StatusBadRequest, http.StatusNotFound),
		func(ctx context.Context, in *ExplainInput) (*ExplainOutput, error) {
			c, err := s.access(ctx, in.Name)
			if err != nil {
				return nil, err
			}
			host, port, path, err := explainTarget(in.URL)
			if err != nil {
				return nil, s.problem(ctx, err)
			}
			svcs, err := s.services(ctx, c.Vault.ID)
			if err != nil {
				return nil, s.problem(ctx, err)
			}
			out := &ExplainOutput{}
			b := &out.Body
			b.Method, b.Host, b.Port, b.Path = in.Method, host, port, path
			b.UnmatchedHostPolicy, b.Credentials = c.Vault.UnmatchedHostPolicy, []ExplainedKey{}
			var matched *domain.Service
			defer func() { s.explainLeaks(ctx, c.Vault.ID, host, matched, out) }()
			i, _, err := broker.Match(svcs, host, port, path)
			if de := (*domain.Error)(nil); errors.As(err, &de) {
				b.Decision, b.Code, b.Reason = decisionRefuse, de.Code, de.Message+" (400)"
				return out, nil
			}
			if i < 0 {
				if c.Vault.UnmatchedHostPolicy == domain.PolicyDeny {
					b.Decision, b.Code = decisionRefuse, domain.CodeHostNotAllowed
					b.Reason = fmt.Sprintf("no service of vault %q matches %s:%s%s and the vault refuses other hosts (403; the agent gets a proposal_hint)", c.Vault.Name, host, port, path)
				} else {
					b.Decision = decisionForward
					b.Reason = fmt.Sprintf("no service of vault %q matches %s:%s%s; the vault passes other hosts through without credentials", c.Vault.Name, host, port, path)
				}
				return out, nil
			}
			svc := svcs[i]
			matched = &svc
			b.Service = &ExplainedService{Name: svc.Name, Host: svc.Host, Enabled: svc.IsEnabled(), AuthType: string(svc.Auth.Type)}
			static, err := s.staticKeys(ctx, c.Vault.ID)
			if err != nil {
				return nil, s.problem(ctx, err)
			}
			dynamic, err := s.dynamicKeys(ctx, c.Vault.ID)
			if err != nil {
				return nil, s.problem(ctx, err)
			}
			isDynamic := map[string]bool{}
			for _, k := range dynamic {
				isDynamic[k] = true
			}
			var missing []string
			for _, k := range svc.Keys() {
				src := "missing"
				switch {
				case static[k]: // the proxy prefers a stored row
					src = "static"
				case isDynamic[k]:
					src = "dynamic"
				default:
					missing = append(missing, k)
				}
				b.Credentials = append(b.Credentials, ExplainedKey{Key: k, Source: src})
			}
			switch {
			case !svc.IsEnabled():
				b.Decision, b.Code = decisionRefuse, domain.CodeServiceDisabled
				b.Reason = fmt.Sprintf("service %q matches but is disabled (403)", svc.Name)
			case len(missing) > 0:
				b.Decision, b.Code = decisionRefuse, domain.CodeCredentialNotFound
				b.Reason = fmt.Sprintf("service %q matches but the vault holds no credential %q (502)", svc.Name, missing[0])
			default:
				b.Decision = decisionInject
				b.Reason = fmt.Sprintf("service %q matches; its %s auth is injected", svc.Name, svc.Auth.Type)
			}
			return out, nil
		})
}

// explainLeaks says what the proxy's leak defences do to this request and
// lists the latest scrubs and blocks of its host.
func (s *server) explainLeaks(ctx context.Context, vaultID, host string, svc *domain.Service, out *ExplainOutput) {
	b := &out.Body
	b.EgressCheck = "a known secret value of any vault (or an encoding of one) bound to another host, and any canary, " +
		"is refused before it leaves (403 secret_egress_blocked)"
	switch {
	case svc == nil || len(svc.Keys()) == 0:
		b.ResponseScrubbing = "nothing is injected, so nothing is scrubbed; a canary in a response is withheld (502 response_blocked)"
	case !svc.ScrubsResponses():
		b.ResponseScrubbing = fmt.Sprintf("off for service %q (scrub_responses: false): injected values reach the agent if the upstream echoes them", svc.Name)
	default:
		policy := svc.UnknownEncoding
		if policy == "" {
			policy = domain.EncodingBlock
		}
		b.ResponseScrubbing = fmt.Sprintf("the values of %s and their encodings are replaced in response headers and bodies by [agent-vault:redacted:KEY]; "+
			"bodies in an encoding the proxy cannot decode: %s", strings.Join(svc.Keys(), ", "), policy)
	}
	b.Recent = []ExplainedEvent{}
	rows, _, err := s.Store.RequestLogs(ctx, store.RequestLogQuery{VaultID: vaultID, Limit: 500})
	if err != nil {
		return // the explanation stands without its history
	}
	for _, r := range rows {
		if r.Host != host || len(b.Recent) >= 5 {
			continue
		}
		switch {
		case r.Blocked != "":
			b.Recent = append(b.Recent, ExplainedEvent{Time: r.At, Kind: "blocked", Keys: r.Blocked, Error: r.Error, Service: r.Service})
		case r.Scrubbed != "":
			b.Recent = append(b.Recent, ExplainedEvent{Time: r.At, Kind: "scrubbed", Keys: r.Scrubbed, Service: r.Service})
		}
	}
}

// explainTarget splits an absolute http(s) URL the way the proxy does.
func explainTarget(raw string) (host, port, path string, err error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", "", "", domain.FieldError(domain.CodeInvalidInput, "url", "url must be an absolute http:// or https:// URL")
	}
	def := "80"
	if u.Scheme == "https" {
		def = "443"
	}
	host, port, err = broker.SplitTarget(u.Host, def)
	if err != nil {
		return "", "", "", domain.FieldError(domain.CodeInvalidInput, "url", "url has no usable host: %v", err)
	}
	path = u.EscapedPath() // the proxy matches the path as sent
	if path == "" {
		path = "/"
	}
	return host, port, path, nil
}

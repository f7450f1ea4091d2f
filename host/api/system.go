package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/version"
)

type HealthOutput struct {
	Body struct {
		Status string `json:"status" example:"ok"`
	}
}

type ReadyOutput struct {
	Body struct {
		Status   string `json:"status" example:"ready"`
		Database string `json:"database" example:"ok" doc:"The database answered"`
		Caches   string `json:"caches" example:"current" doc:"current: this replica receives the database's change notifications (or is the only process)"`
	}
}

type StatusOutput struct {
	Body struct {
		Initialized    bool   `json:"initialized" doc:"The instance has an owner"`
		NeedsFirstUser bool   `json:"needs_first_user" doc:"Nobody has registered yet: POST /v1/auth/register"`
		Version        string `json:"version" doc:"The server build's version (the CLI's agent-vault version prints the same for the same build)"`
	}
}

func (s *server) registerSystem(api huma.API) {
	huma.Register(api, op("get-health", http.MethodGet, "/health", "Liveness check", "system"),
		func(ctx context.Context, in *struct{}) (*HealthOutput, error) {
			out := &HealthOutput{}
			out.Body.Status = "ok"
			return out, nil
		})

	huma.Register(api, op("get-ready", http.MethodGet, "/ready", "Readiness check: the database answers and this replica's caches are current", "system", http.StatusServiceUnavailable),
		func(ctx context.Context, in *struct{}) (*ReadyOutput, error) {
			pingCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			if err := s.Store.Ping(pingCtx); err != nil {
				s.Logger.Warn("readiness: the database does not answer", "err", err)
				return nil, s.problem(ctx, domain.Errorf(domain.CodeNotReady, "the database does not answer"))
			}
			if s.CachesCurrent != nil && !s.CachesCurrent() {
				return nil, s.problem(ctx, domain.Errorf(domain.CodeNotReady, "this replica is not receiving the database's change notifications; its caches may be stale"))
			}
			out := &ReadyOutput{}
			out.Body.Status, out.Body.Database, out.Body.Caches = "ready", "ok", "current"
			return out, nil
		})

	huma.Register(api, op("get-status", http.MethodGet, "/v1/status", "Whether the instance is set up", "system"),
		func(ctx context.Context, in *struct{}) (*StatusOutput, error) {
			n, err := s.Store.CountUsers(ctx)
			if err != nil {
				return nil, s.problem(ctx, err)
			}
			out := &StatusOutput{}
			out.Body.Initialized, out.Body.NeedsFirstUser, out.Body.Version = n > 0, n == 0, version.Version
			return out, nil
		})
}

package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/agent-vault/agent-vault/host/version"
)

type HealthOutput struct {
	Body struct {
		Status string `json:"status" example:"ok"`
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

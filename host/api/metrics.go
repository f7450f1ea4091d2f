package api

import (
	"bytes"
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/agent-vault/agent-vault/host/domain"
)

// MetricsOutput is the Prometheus text exposition.
type MetricsOutput struct {
	ContentType string `header:"Content-Type"`
	Body        []byte
}

// metricsContentType is the text exposition format's media type.
const metricsContentType = "text/plain; version=0.0.4; charset=utf-8"

func (s *server) registerMetrics(api huma.API) {
	o := op("get-metrics", http.MethodGet, "/metrics",
		"Prometheus metrics (text exposition format) for instance owners; --metrics-addr serves the same without authentication", "system",
		http.StatusNotFound)
	o.Responses = map[string]*huma.Response{"200": {Description: "The text exposition format",
		Content: map[string]*huma.MediaType{metricsContentType: {Schema: &huma.Schema{Type: "string"}}}}}
	huma.Register(api, o, func(ctx context.Context, in *struct{}) (*MetricsOutput, error) {
		if _, err := s.access(ctx, ""); err != nil {
			return nil, err
		}
		if s.Metrics == nil {
			return nil, s.problem(ctx, domain.Errorf(domain.CodeMetricsDisabled, "metrics are off on this server (started with --no-metrics)"))
		}
		var buf bytes.Buffer
		if err := s.Metrics.WriteText(&buf); err != nil {
			return nil, s.problem(ctx, err)
		}
		return &MetricsOutput{ContentType: metricsContentType, Body: buf.Bytes()}, nil
	})
}

package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/danielgtaylor/huma/v2"
)

type CACertOutput struct {
	ContentType string `header:"Content-Type"`
	MITMPort    string `header:"X-MITM-Port" doc:"The proxy's port"`
	Body        []byte
}

func (s *server) registerMITM(api huma.API) {
	o := op("get-mitm-ca", http.MethodGet, "/v1/mitm/ca.pem", "The root certificate agents trust for TLS interception", "proxy", http.StatusNotFound)
	o.Responses = map[string]*huma.Response{"200": {Description: "PEM-encoded root certificate",
		Content: map[string]*huma.MediaType{"application/x-pem-file": {Schema: &huma.Schema{Type: "string"}}}}}
	huma.Register(api, o, func(ctx context.Context, in *struct{}) (*CACertOutput, error) {
		if len(s.CACertPEM) == 0 {
			return nil, s.problem(ctx, domain.Errorf(domain.CodeNotFound, "the proxy is disabled on this server (--mitm-port 0)"))
		}
		return &CACertOutput{ContentType: "application/x-pem-file", MITMPort: strconv.Itoa(s.MITMPort), Body: s.CACertPEM}, nil
	})
}

package api

import (
	"context"
	_ "embed"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
)

// skillCLI is the guide agents read to use Agent Vault.
//
//go:embed skill_cli.md
var skillCLI []byte

type SkillOutput struct {
	ContentType string `header:"Content-Type"`
	Body        []byte
}

func (s *server) registerSkills(api huma.API) {
	o := op("get-cli-skill", http.MethodGet, "/v1/skills/cli", "A concise guide for agents: the proxy, errors, proposals", "agents")
	o.Responses = map[string]*huma.Response{"200": {Description: "The guide, in Markdown",
		Content: map[string]*huma.MediaType{"text/markdown": {Schema: &huma.Schema{Type: "string"}}}}}
	huma.Register(api, o, func(ctx context.Context, in *struct{}) (*SkillOutput, error) {
		if _, err := s.access(ctx, ""); err != nil {
			return nil, err
		}
		return &SkillOutput{ContentType: "text/markdown; charset=utf-8", Body: skillCLI}, nil
	})
}

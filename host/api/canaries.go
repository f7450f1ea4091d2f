package api

import (
	"context"
	"crypto/rand"
	"net/http"
	"strings"
	"time"

	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/seal"
	"github.com/agent-vault/agent-vault/host/store"
	"github.com/danielgtaylor/huma/v2"
)

// Canary is a bait value a vault holds: never injected anywhere; a request
// or response that carries it is refused and its session revoked.
type Canary struct {
	ID        string    `json:"id"`
	Name      string    `json:"name" doc:"The environment variable it is handed out as"`
	CreatedAt time.Time `json:"created_at"`
}

type CreateCanaryInput struct {
	Name string `path:"name" maxLength:"64"`
	Body struct {
		Name string `json:"name" pattern:"^[A-Z][A-Z0-9_]*$" maxLength:"128" doc:"The environment variable the canary will be put in, e.g. OPENAI_API_KEY"`
	}
}

type CreateCanaryOutput struct {
	Body struct {
		Canary
		// Value is returned once, here: a canary is bait, not a
		// credential, and exists to be handed to an agent.
		Value string `json:"value" doc:"The canary's value (bait, not a credential): put it where an agent can find it"`
	}
}

type ListCanariesOutput struct {
	Body struct {
		Canaries []Canary `json:"canaries"`
	}
}

func (s *server) registerCanaries(api huma.API) {
	huma.Register(api, created(op("create-canary", http.MethodPost, "/v1/vaults/{name}/canaries", "Mint a canary credential", "vaults",
		http.StatusBadRequest, http.StatusNotFound)),
		func(ctx context.Context, in *CreateCanaryInput) (*CreateCanaryOutput, error) {
			c, err := s.access(ctx, in.Name)
			if err != nil {
				return nil, err
			}
			if err := domain.CheckKey(in.Body.Name); err != nil {
				return nil, s.problem(ctx, err)
			}
			value := canaryValue(in.Body.Name)
			id := store.NewID()
			sealed, err := s.Keyring.Seal([]byte(value), seal.CanaryAAD(c.Vault.ID, id))
			if err != nil {
				return nil, s.problem(ctx, err)
			}
			cn, err := s.Store.CreateCanary(ctx, store.Canary{ID: id, VaultID: c.Vault.ID, Name: in.Body.Name, Sealed: sealed})
			if err != nil {
				return nil, s.problem(ctx, err)
			}
			s.changed(c.Vault.ID)
			noteChange(ctx, "canary", nil, cn.Name)
			out := &CreateCanaryOutput{}
			out.Body.Canary = Canary{ID: cn.ID, Name: cn.Name, CreatedAt: cn.CreatedAt}
			out.Body.Value = value
			return out, nil
		})

	huma.Register(api, op("list-canaries", http.MethodGet, "/v1/vaults/{name}/canaries", "List a vault's canaries (never their values)", "vaults",
		http.StatusNotFound),
		func(ctx context.Context, in *VaultNameInput) (*ListCanariesOutput, error) {
			c, err := s.access(ctx, in.Name)
			if err != nil {
				return nil, err
			}
			list, err := s.Store.Canaries(ctx, c.Vault.ID)
			if err != nil {
				return nil, s.problem(ctx, err)
			}
			out := &ListCanariesOutput{}
			out.Body.Canaries = make([]Canary, 0, len(list))
			for _, cn := range list {
				out.Body.Canaries = append(out.Body.Canaries, Canary{ID: cn.ID, Name: cn.Name, CreatedAt: cn.CreatedAt})
			}
			return out, nil
		})
}

// canaryValue makes a random value shaped like a real credential of the
// kind its name suggests, so an exfiltrating agent takes it for one.
func canaryValue(name string) string {
	const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	const upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0234567"
	random := func(alphabet string, n int) string {
		b := make([]byte, n)
		rand.Read(b) //nolint:errcheck // crypto/rand never fails
		for i := range b {
			b[i] = alphabet[int(b[i])%len(alphabet)]
		}
		return string(b)
	}
	n := strings.ToUpper(name)
	switch {
	case strings.Contains(n, "AWS") && strings.Contains(n, "SECRET"):
		return random(alnum+"+/", 40)
	case strings.Contains(n, "AWS"):
		return "AKIA" + random(upper, 16)
	case strings.Contains(n, "GITHUB") || strings.Contains(n, "GH_"):
		return "ghp_" + random(alnum, 36)
	case strings.Contains(n, "OPENAI"):
		return "sk-proj-" + random(alnum, 48)
	case strings.Contains(n, "ANTHROPIC"):
		return "sk-ant-api03-" + random(alnum, 64)
	case strings.Contains(n, "STRIPE"):
		return "sk_live_" + random(alnum, 24)
	case strings.Contains(n, "SLACK"):
		return "xoxb-" + random("0123456789", 12) + "-" + random(alnum, 24)
	}
	return random(alnum, 40)
}

package broker

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/agent-vault/agent-vault/host/domain"
)

// BenchmarkMatchInject is the broker's share of the proxy hot path: match
// against 50 services, then inject a bearer token.
func BenchmarkMatchInject(b *testing.B) {
	var list []domain.Service
	for i := range 49 {
		list = append(list, domain.Service{Name: fmt.Sprintf("s%d", i), Host: fmt.Sprintf("api%d.example.com/v1/*", i),
			Auth: domain.Auth{Type: domain.AuthBearer, Token: "TOKEN"}})
	}
	list = append(list, domain.Service{Name: "target", Host: "api.stripe.com", Auth: domain.Auth{Type: domain.AuthBearer, Token: "TOKEN"}})
	r, _ := http.NewRequest("GET", "https://api.stripe.com/v1/charges?limit=3", nil)
	lookup := func(string) (string, error) { return "sk_live_x", nil }
	b.ReportAllocs()
	for b.Loop() {
		i, _, err := Match(list, "api.stripe.com", "443", "/v1/charges")
		if i != 49 || err != nil {
			b.Fatal(i, err)
		}
		if err := Inject(r, &list[i], lookup, 0); err != nil {
			b.Fatal(err)
		}
	}
}

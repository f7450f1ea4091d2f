package infisicaltest_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/agent-vault/agent-vault/plugins/infisical/infisicaltest"
)

// A test sets up an identity, a project with secrets and a dynamic secret,
// points the code under test at URL(), then asserts on counters.
func Example() {
	e := infisicaltest.NewUnstarted(infisicaltest.WithFrozenClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)))
	url, err := e.Start() // in a test: e := infisicaltest.New(t)
	if err != nil {
		panic(err)
	}
	defer e.Close()

	e.AddIdentity(infisicaltest.Identity{ID: "id-1", Universal: &infisicaltest.UniversalAuth{ClientID: "cid", ClientSecret: "csecret"}})
	e.AddProject(infisicaltest.Project{ID: "proj-1", Slug: "my-proj", Environments: []string{"dev"}})
	e.SetSecrets("proj-1", "dev", "/", map[string]string{"STRIPE_KEY": "sk_test_1"})
	e.AddDynamicSecret("proj-1", "dev", "/", infisicaltest.DynamicSecret{Name: "db-postgres"})

	// Make the next list answer 503, once.
	e.Inject(infisicaltest.RouteListSecrets, infisicaltest.Status(503).Times(1))

	res, _ := http.Post(url+"/api/v1/auth/universal-auth/login", "application/json",
		strings.NewReader(`{"clientId":"cid","clientSecret":"csecret"}`))
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	fmt.Println(res.StatusCode, strings.Contains(string(body), `"expiresIn":2592000`))
	fmt.Println(e.Counts().Logins[infisicaltest.AuthUniversal], e.Counts().LeasesMinted)
	// Output:
	// 200 true
	// 1 0
}

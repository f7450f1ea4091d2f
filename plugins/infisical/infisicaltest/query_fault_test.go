package infisicaltest_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/plugins/infisical/infisicaltest"
)

// TestFault_onQuery: a fault narrowed to one query value leaves other
// calls on the route alone, and they do not count towards Times.
func TestFault_onQuery(t *testing.T) {
	e := infisicaltest.New(t)
	e.AddIdentity(infisicaltest.Identity{ID: "id-q", Universal: &infisicaltest.UniversalAuth{ClientID: "cq", ClientSecret: "sq"}})
	e.SetSecrets("p-q", "dev", "/ok", map[string]string{"A": "1"})
	e.SetSecrets("p-q", "dev", "/bad", map[string]string{"A": "1"})
	e.Inject(infisicaltest.RouteListSecrets, infisicaltest.Status(500).OnQuery("secretPath", "/bad").Times(1))
	tok, err := e.IssueToken("id-q")
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) int {
		req, _ := http.NewRequest(http.MethodGet, e.URL()+"/api/v3/secrets/raw?workspaceId=p-q&environment=dev&secretPath="+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	got := []int{get("/ok"), get("/bad"), get("/ok"), get("/bad")}
	if want := []int{200, 500, 200, 200}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("statuses %v, want %v", got, want)
	}
}

// TestReleaseHangs_delay: a delay cut short by ReleaseHangs still answers
// normally.
func TestReleaseHangs_delay(t *testing.T) {
	e := infisicaltest.New(t)
	e.AddIdentity(infisicaltest.Identity{ID: "id-d", Universal: &infisicaltest.UniversalAuth{ClientID: "cd", ClientSecret: "sd"}})
	e.SetSecrets("p-d", "dev", "/", map[string]string{"A": "1"})
	tok, err := e.IssueToken("id-d")
	if err != nil {
		t.Fatal(err)
	}
	arrived := make(chan struct{}, 1)
	e.Inject(infisicaltest.RouteListSecrets, infisicaltest.Delay(time.Hour))
	done := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, e.URL()+"/api/v3/secrets/raw?workspaceId=p-d&environment=dev&secretPath=/", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		arrived <- struct{}{}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	<-arrived
	// Release until the request, once held, has been let go.
	for {
		e.ReleaseHangs()
		select {
		case got := <-done:
			if got != 200 {
				t.Fatalf("status %d, want 200", got)
			}
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

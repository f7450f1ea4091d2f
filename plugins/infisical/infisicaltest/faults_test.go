package infisicaltest_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/plugins/infisical/infisicaltest"
)

func TestFaults(t *testing.T) {
	tests := []struct {
		name            string
		fault           infisicaltest.Fault
		wantStatus      int
		wantContentType string
		wantBody        string // "" skips the check
		wantTransport   bool   // the request fails below HTTP
	}{
		{name: "status-503", fault: infisicaltest.Status(503), wantStatus: 503, wantContentType: "application/json; charset=utf-8",
			wantBody: `{"reqId":"req-emu00000003","statusCode":503,"message":"Something went wrong","error":"ServiceUnavailable"}`},
		{name: "status-429", fault: infisicaltest.Status(429), wantStatus: 429, wantContentType: "application/json; charset=utf-8",
			wantBody: `{"reqId":"req-emu00000003","statusCode":429,"message":"Rate limit exceeded. Please try again in 1 minute","error":"RateLimitExceeded"}`},
		{name: "error-422-array", fault: infisicaltest.Error(422, "ValidationFailure", "bad"), wantStatus: 422, wantContentType: "application/json; charset=utf-8",
			wantBody: `{"reqId":"req-emu00000003","statusCode":422,"message":[{"code":"custom","path":[],"message":"bad"}],"error":"ValidationFailure"}`},
		{name: "token-expired", fault: infisicaltest.TokenExpired(), wantStatus: 403, wantContentType: "application/json; charset=utf-8",
			wantBody: `{"reqId":"req-emu00000003","statusCode":403,"message":"Your token has expired. Please re-authenticate.","error":"TokenError"}`},
		{name: "html-502", fault: infisicaltest.HTMLError(502), wantStatus: 502, wantContentType: "text/html",
			wantBody: "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>\n"},
		{name: "no-content", fault: infisicaltest.NoContent(), wantStatus: 204, wantBody: ""},
		{name: "raw", fault: infisicaltest.Raw(200, "application/json", `{"accessToken":`), wantStatus: 200, wantContentType: "application/json", wantBody: `{"accessToken":`},
		{name: "non-json", fault: infisicaltest.NonJSON(), wantStatus: 200, wantContentType: "text/plain; charset=utf-8"},
		{name: "malformed-json", fault: infisicaltest.MalformedJSON(), wantStatus: 200, wantContentType: "application/json; charset=utf-8"},
		{name: "slow-body", fault: infisicaltest.SlowBody(time.Millisecond), wantStatus: 200, wantContentType: "application/json; charset=utf-8"},
		{name: "delay", fault: infisicaltest.Delay(time.Millisecond), wantStatus: 200, wantContentType: "application/json; charset=utf-8"},
		{name: "close", fault: infisicaltest.CloseConnection(), wantTransport: true},
		{name: "reset", fault: infisicaltest.ResetConnection(), wantTransport: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := frozenFixture(t)
			tok := login(t, e)
			healthy := do(t, e, "GET", "/api/v1/workspace/"+projectID, tok, "")
			e.ResetCounts()
			e.Inject(infisicaltest.RouteGetWorkspace, tc.fault.Times(1))
			req, _ := http.NewRequest("GET", e.URL()+"/api/v1/workspace/"+projectID, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			tr := &http.Transport{DisableKeepAlives: true}
			defer tr.CloseIdleConnections()
			res, err := (&http.Client{Transport: tr}).Do(req)
			if tc.wantTransport {
				if err == nil {
					res.Body.Close()
					t.Fatalf("got %d, want a transport error", res.StatusCode)
				}
				if tc.name == "reset" && !errors.Is(err, syscall.ECONNRESET) {
					t.Fatalf("err = %v, want connection reset", err)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != tc.wantStatus || res.Header.Get("Content-Type") != tc.wantContentType {
					t.Fatalf("got %d %q %s", res.StatusCode, res.Header.Get("Content-Type"), body)
				}
				switch tc.name {
				case "non-json", "slow-body", "delay":
					tc.wantBody = string(healthy.body)
				case "malformed-json":
					tc.wantBody = string(healthy.body[:len(healthy.body)/2])
				}
				if string(body) != tc.wantBody {
					t.Fatalf("body = %s\nwant   %s", body, tc.wantBody)
				}
			}
			// Times(1): the next call is healthy again, and both were hits.
			if a := do(t, e, "GET", "/api/v1/workspace/"+projectID, tok, ""); a.status != 200 {
				t.Fatalf("after the fault: %d %s", a.status, a.body)
			}
			if n := e.Hits(infisicaltest.RouteGetWorkspace); n != 2 {
				t.Fatalf("hits = %d, want 2", n)
			}
		})
	}
}

func TestFaults_afterTimesAndAllRoutes(t *testing.T) {
	e := frozenFixture(t)
	tok := login(t, e)
	e.Inject(infisicaltest.RouteGetWorkspace, infisicaltest.Status(500).After(1).Times(2))
	var got []int
	for i := 0; i < 4; i++ {
		got = append(got, do(t, e, "GET", "/api/v1/workspace/"+projectID, tok, "").status)
	}
	if want := []int{200, 500, 500, 200}; !equalInts(got, want) {
		t.Fatalf("statuses = %v, want %v", got, want)
	}

	e.Inject(infisicaltest.AllRoutes, infisicaltest.Status(503))
	if a := do(t, e, "GET", listPath("/", false, false), tok, ""); a.status != 503 {
		t.Fatalf("list under AllRoutes: %d", a.status)
	}
	if a := do(t, e, "POST", "/api/v1/auth/universal-auth/login", "", `{}`); a.status != 503 {
		t.Fatalf("login under AllRoutes: %d", a.status)
	}
	e.ClearFaults()
	if a := do(t, e, "GET", listPath("/", false, false), tok, ""); a.status != 200 {
		t.Fatalf("after ClearFaults: %d", a.status)
	}
	// Logged with their answers, faulted or not.
	rs := e.RequestsTo(infisicaltest.RouteListSecrets)
	if len(rs) != 2 || rs[0].Status != 503 || rs[1].Status != 200 || rs[1].Token != tok || rs[1].Query.Get("workspaceId") != projectID {
		t.Fatalf("request log = %+v", rs)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestFaults_hang(t *testing.T) {
	arrived := make(chan infisicaltest.Request, 4)
	e := frozenFixture(t, infisicaltest.WithOnRequest(func(r infisicaltest.Request) { arrived <- r }))
	tok := login(t, e)
	<-arrived
	e.Inject(infisicaltest.RouteListSecrets, infisicaltest.Hang())

	t.Run("released", func(t *testing.T) {
		var wg sync.WaitGroup
		var status int
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := do(t, e, "GET", listPath("/", false, false), tok, "")
			status = a.status
		}()
		<-arrived       // the request is held now
		e.ResetCounts() // clearing the log under a held request is safe
		e.ReleaseHangs()
		wg.Wait()
		if status != 504 {
			t.Fatalf("released hang answered %d, want 504", status)
		}
	})
	t.Run("client-gives-up", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() {
			req, _ := http.NewRequestWithContext(ctx, "GET", e.URL()+listPath("/", false, false), nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			_, err := http.DefaultClient.Do(req)
			errc <- err
		}()
		<-arrived
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
}

func TestStopStart(t *testing.T) {
	e := frozenFixture(t)
	tok := login(t, e)
	url := e.URL()
	e.Stop()
	if _, err := http.Get(url + "/api/v1/workspace/" + projectID); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("stopped emulator: err = %v, want connection refused", err)
	}
	if u, err := e.Start(); err != nil || u != url {
		t.Fatalf("restart = %q, %v; want %q", u, err, url)
	}
	// State survived: the old token still works.
	if a := do(t, e, "GET", "/api/v1/workspace/"+projectID, tok, ""); a.status != 200 {
		t.Fatalf("after restart: %d %s", a.status, a.body)
	}
	e.Close()
	if _, err := e.Start(); err == nil || err.Error() != "emulator is closed" {
		t.Fatalf("Start after Close: %v", err)
	}
}

func TestHammer(t *testing.T) {
	p := 8
	if testing.Short() {
		p = 4
	}
	const n = 25
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(max(p/2, 1)))
	e := infisicaltest.New(t)
	populate(e)
	tok := login(t, e)
	var wg sync.WaitGroup
	errs := make(chan error, p)
	start := make(chan struct{})
	for g := 0; g < p; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := 0; i < n; i++ {
				a := do(t, e, "POST", "/api/v1/dynamic-secrets/leases", tok, leaseBody("db-postgres", ""))
				if a.status != 200 {
					errs <- errors.New(string(a.body))
					return
				}
				var l createdLease
				a.decode(t, &l)
				if a := do(t, e, "DELETE", "/api/v1/dynamic-secrets/leases/"+l.Lease.ID, tok, leaseOpBody(l.Lease.ID, "/")); a.status != 200 {
					errs <- errors.New(string(a.body))
					return
				}
				e.SetSecret(projectID, "dev", "/", "API_KEY", "v")
				if a := do(t, e, "GET", listPath("/", false, false), tok, ""); a.status != 200 {
					errs <- errors.New(string(a.body))
					return
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	c := e.Counts()
	if c.LeasesMinted != p*n || c.LeasesRevoked != p*n || c.SecretLists != p*n || len(e.Leases()) != 0 {
		t.Fatalf("counts = %+v, leases left %d", c, len(e.Leases()))
	}
}
